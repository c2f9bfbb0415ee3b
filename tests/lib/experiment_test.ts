// Tests for lib/experiment.ts: the experiment id follows the entry file, a copied entry gets its own id, the
// near-chance check, and the trainSize cap message.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  COMMON_DEFAULTS,
  defineExperiment,
  experimentId,
  FORK_ORDER,
  outDirOf,
  takeFirst,
  withIdentity,
} from "../../lib/experiment.ts";
import { requireUseful } from "../../lib/pipeline.ts";

Deno.test("experimentId() is the entry file's name without extension", () => {
  assert.equal(experimentId("file:///home/u/repo/experiments/my_idea.ts"), "my_idea");
  assert.equal(experimentId(new URL("file:///r/experiments/examples/d_shift2.ts")), "d_shift2");
  assert.equal(experimentId("/r/experiments/sec3_2.ts"), "sec3_2");
});

Deno.test("a copy of experiments/sec3_2.ts under a new name declares its own id, out dir, title and report slot", async () => {
  const name = `zz_copy_${Deno.pid}`;
  const copy = join("experiments", `${name}.ts`);
  await Deno.copyFile(join("experiments", "sec3_2.ts"), copy);
  try {
    const mod = await import(new URL(`../../${copy}`, import.meta.url).href);
    assert.equal(mod.SPEC.id, name);
    assert.equal(outDirOf(mod.SPEC, { out: "" }), join("out", name));
    assert.equal(mod.SPEC.name, `deno run -A experiments/${name}.ts`);
    assert.equal(mod.SPEC.title, `${name} (a fork of Section 3.2 / Table 1)`);
    assert.equal(mod.SPEC.order, FORK_ORDER);
    const original = (await import("../../experiments/sec3_2.ts")).SPEC;
    assert.deepEqual([original.title, original.order], ["Section 3.2 / Table 1", 32]);
    const s = { headline: "h", claim: "c", tables: [], charts: [], figures: [], notes: [] };
    assert.equal(withIdentity(mod.SPEC, s).title, `${name} (a fork of Section 3.2 / Table 1): h`);
    assert.equal(withIdentity(original, s).title, "Section 3.2 / Table 1: h");
  } finally {
    await Deno.remove(copy);
  }
});

Deno.test("defineExperiment() adds the common keys and makes quick the default preset", () => {
  const spec = defineExperiment(new URL("file:///r/experiments/x.ts"), {
    description: "d",
    defaults: COMMON_DEFAULTS,
    presets: { smoke: {}, quick: {} },
    keys: {},
  });
  assert.equal(spec.defaultPreset, "quick");
  for (const k of ["seed", "out", "backend", "dataset", "dataDir", "trainFrom", "imageSize", "cache"]) {
    assert.ok(spec.keys[k], k);
  }
});

Deno.test("SPEC.extend() carries every field of the parent under the new file's id; unknown defaults are errors", () => {
  const parent = defineExperiment(new URL("file:///r/experiments/base.ts"), {
    description: "base",
    defaults: { ...COMMON_DEFAULTS, eps: 1, arch: "mlp" },
    presets: { smoke: { eps: 0.5 }, quick: {} },
    keys: { eps: { help: "radius", above: 0 }, arch: { help: "architecture" } },
    datasetKeys: { eps: ["eps"], arch: ["arch"], epochs: [] },
    section: { of: "base", label: "Section 9", order: 90 },
  });
  const child = parent.extend(new URL("file:///r/experiments/examples/kid.ts"), {
    defaults: { arch: "cnn" },
    presets: { paper: { eps: 2 } },
  });
  assert.equal(child.id, "kid");
  assert.equal(child.name, "deno run -A experiments/examples/kid.ts");
  assert.equal(child.description, "base");
  assert.deepEqual([child.defaults.eps, child.defaults.arch], [1, "cnn"]);
  assert.equal(parent.defaults.arch, "mlp", "the parent is unchanged");
  assert.deepEqual(Object.keys(child.presets), ["smoke", "quick", "paper"]);
  assert.deepEqual(Object.keys(child.keys), Object.keys(parent.keys));
  assert.deepEqual(child.datasetKeys, parent.datasetKeys);
  assert.ok(child.adapt, "the --dataset adaptation carries over");
  assert.deepEqual([child.title, child.order], ["kid (a fork of Section 9)", FORK_ORDER]);
  assert.equal(child.extend(new URL("file:///r/experiments/base.ts"), {}).title, "Section 9");
  assert.throws(
    () => parent.extend("file:///r/k.ts", { defaults: { nope: 1 } as never }),
    /k: SPEC\.extend\(\)'s defaults sets unknown key "nope".*declare the experiment with defineExperiment/,
  );
});

Deno.test("requireUseful() stops a near-chance source model naming the recipe's keys", () => {
  assert.throws(
    () => requireUseful(0.12, 10, "source"),
    /the source model reached only 12\.0% test accuracy \(chance 10\.0%, needed at least 15\.0%\).*--source\.lr/,
  );
  requireUseful(0.16, 10, "source");
});

Deno.test("takeFirst() says when more examples are asked for than there are", () => {
  const split = {
    x: new Float32Array(12),
    y: new Uint8Array(3),
    n: 3,
    shape: [2, 2, 1] as [number, number, number],
  };
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(s);
  try {
    assert.equal(takeFirst(split, 10, "trainSize").n, 3);
    assert.equal(takeFirst(split, 2, "trainSize").n, 2);
  } finally {
    console.error = orig;
  }
  assert.deepEqual(lines, ["note: --trainSize=10 is more than the 3 examples there are; using all 3"]);
});

Deno.test("--dataset=cifar10 on the quick preset adapts eps, architecture and epochs; explicit keys stay", async () => {
  const { SPEC } = await import("../../experiments/sec3_2.ts");
  const { parseCli } = await import("../../lib/config.ts");
  const { DATASETS } = await import("../../lib/data/registry.ts");
  const quick = parseCli([], SPEC)!.config;
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(s);
  let moved;
  try {
    moved = parseCli(["--dataset=cifar10", "--fresh.epochs=2"], SPEC)!.config;
  } finally {
    console.error = orig;
  }
  const r = DATASETS.cifar10.defaults.epsScale / DATASETS["fashion-mnist"].defaults.epsScale;
  assert.ok(Math.abs(moved.attack.eps - quick.attack.eps * r) < 1e-3, `eps ${moved.attack.eps}`);
  assert.equal(moved.source.arch, DATASETS.cifar10.defaults.arch);
  assert.equal(moved.fresh.epochs, 2, "an explicit key is left alone");
  assert.match(lines.join("\n"), /adapted the preset from fashion-mnist to cifar10 defaults: attack\.eps=/);
  // the paper preset names its own dataset: nothing is adapted
  const paper = parseCli(["--preset=paper"], SPEC)!.config;
  assert.equal(paper.attack.eps, 0.5);
});

Deno.test("every preset of every experiment resolves and validates (smoke, quick, paper, paper-rimagenet, full)", async () => {
  const { parseCli } = await import("../../lib/config.ts");
  for (const file of ["sec3_1", "sec3_2", "sec3_3", "examples/d_shift2"]) {
    const { SPEC } = await import(`../../experiments/${file}.ts`);
    for (const preset of Object.keys(SPEC.presets)) {
      const parsed = parseCli([`--preset=${preset}`], SPEC);
      assert.ok(parsed, `${file} --preset=${preset}`);
    }
  }
});
