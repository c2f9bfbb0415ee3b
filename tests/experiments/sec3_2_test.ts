// Smoke run of Section 3.2: results.json has its fields, exports load back with the right dtype and shape.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS } from "../../experiments/sec3_2.ts";
import { parseCli } from "../../lib/config.ts";
import { SPEC } from "../../experiments/sec3_2.ts";
import { assertExport, assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_2 main() smoke preset writes Table 1, results.json fields and the d_rand/d_det exports", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  const r = await main(config, { preset: "smoke", quiet: true });
  const { results, config: saved } = await readOutputs(config.out);
  assertFractions(results, [
    "testAcc.d",
    "testAcc.d_rand",
    "testAcc.d_det",
    "attackSuccess.d_rand",
    "attackSuccess.d_det",
  ]);
  for (const k of ["d_rand", "d_det"]) {
    const m = (results.meanDeltaL2 as Record<string, number>)[k];
    assert.ok(m > 0 && m <= config.attack.eps + 1e-4, `meanDeltaL2.${k} = ${m} within (0, eps]`);
  }
  // smoke's source and fresh recipes match (cache off), so Table 1's D row is the source model itself
  assert.deepEqual(config.fresh, config.source);
  assert.equal(r.testAcc.d, r.sourceTestAcc);
  assert.equal(results.eps, config.attack.eps);
  assert.equal(results.steps, config.attack.steps);
  assert.equal(saved.meta.seed, config.seed);
  assert.deepEqual(saved.config, config);
  assert.match(r.table, /D_rand .*63\.3%/);
  for (const v of ["d_rand", "d_det"]) await assertExport(config.out, v, config.trainSize, [28, 28, 1], 10);
  assert.ok((await Deno.stat(join(config.out, "fig_relabelled.png"))).size > 1000);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_2 config rejects eps <= 0, an unknown architecture and an unknown preset before any work", () => {
  assert.throws(() => parseCli(["--attack.eps=0"], SPEC), /--attack\.eps must be > 0, got 0/);
  assert.throws(
    () => parseCli(["--source.arch=resnet9000"], SPEC),
    /unknown value "resnet9000"; accepted: mlp, lenet/,
  );
  assert.throws(
    () => parseCli(["--preset=fast"], SPEC),
    /unknown preset "fast"; accepted: smoke, quick, paper/,
  );
  assert.throws(() => parseCli(["--dataset=imagenet"], SPEC), /unknown value "imagenet"/);
});
