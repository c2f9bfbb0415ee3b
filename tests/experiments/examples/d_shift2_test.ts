// The worked fork (experiments/examples/d_shift2.ts): its smoke preset runs under its own id, its rule is
// (y + 2) mod C, its cache key differs from D_det's, and `deno task report` renders it with no report code.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS, SPEC } from "../../../experiments/examples/d_shift2.ts";
import { SPEC as SEC32 } from "../../../experiments/sec3_2.ts";
import { outDirOf } from "../../../lib/run/experiment.ts";
import { relabelledHash } from "../../lib/run/fixtures/relabelled.ts";
import { relabel } from "../../../lib/core/relabel.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { buildReport } from "../../../lib/report/page.ts";
import { assertExport, readOutputs } from "../smoke_helpers.ts";
import { merge, parseCli } from "../../../lib/run/config.ts";

Deno.test("d_shift2: id, default out dir and command come from the file name, not from sec3_2", () => {
  assert.equal(SPEC.id, "d_shift2");
  assert.equal(outDirOf(SPEC, { out: "" }), join("out", "d_shift2"));
  assert.equal(outDirOf(SEC32, { out: "" }), join("out", "sec3_2"));
  assert.equal(SPEC.name, "deno run -A experiments/examples/d_shift2.ts");
  const y = Uint8Array.from([0, 1, 8, 9]);
  assert.deepEqual(Array.from(relabel("d_shift2", y, 10, createRng(0))), [2, 3, 0, 1]);
});

Deno.test("d_shift2 adapts to --dataset=cifar10 like sec3_2 (attack.eps scaled), keeping its own variants", () => {
  const orig = console.error;
  console.error = () => {};
  try {
    const fork = parseCli(["--dataset=cifar10"], SPEC)!.config;
    const parent = parseCli(["--dataset=cifar10"], SEC32)!.config;
    assert.notEqual(parent.attack.eps, DEFAULTS.attack.eps, "sec3_2 scales eps on cifar10");
    assert.deepEqual(fork.attack, parent.attack);
    assert.deepEqual([fork.source.arch, fork.fresh.epochs], [parent.source.arch, parent.fresh.epochs]);
    assert.deepEqual(fork.variants, ["d_det", "d_shift2"]);
    assert.deepEqual(Object.keys(PRESETS), Object.keys(SEC32.presets));
  } finally {
    console.error = orig;
  }
});

Deno.test("d_shift2: a new rule gets its own cache key (editing a rule rebuilds its dataset)", async () => {
  assert.notEqual(await relabelledHash("d_shift2"), await relabelledHash("d_det"));
});

Deno.test("d_shift2 smoke preset writes its own out dir, and the report renders its summary", async () => {
  const root = await Deno.makeTempDir({ prefix: "fork_" });
  const out = join(root, "d_shift2");
  const config = { ...merge(DEFAULTS, PRESETS.smoke), out };
  const r = await main(config, { preset: "smoke", quiet: true });
  assert.deepEqual(Object.keys(r.sets), ["d", "d_det", "d_shift2"]);
  const { results } = await readOutputs(out);
  assert.equal(results.experiment, "d_shift2");
  await assertExport(out, "d_shift2", config.trainSize, [28, 28, 1], 10);
  const { html, sections } = await buildReport(root);
  assert.deepEqual(sections.find((s) => s.id === "d_shift2"), { id: "d_shift2", status: "ok" });
  assert.match(html, /d_shift2 \(a fork of Section 3\.2 \/ Table 1\): non-robust features suffice/);
  assert.match(html, /<td>d_shift2<\/td>/);
  await Deno.remove(root, { recursive: true });
});
