// Tests for lib/run/experiment.ts: the experiment id follows the entry file, a copied entry gets its own id and title,
// an experiment declared by its schema, SPEC.extend(), runs over several seeds, the near-chance check, and the
// trainSize cap message.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  COMMON_DEFAULTS,
  COMMON_KEYS,
  type CommonConfig,
  configLine,
  defineExperiment,
  experimentId,
  FORK_ORDER,
  outDirOf,
  type Run,
  runExperiment,
  type RunOptions,
  runSeeds,
  type SeededParts,
  takeFirst,
  withIdentity,
} from "../../../lib/run/experiment.ts";
import { encodeNpy } from "../../../lib/data/npy.ts";
import { createModel } from "../../../lib/core/models.ts";
import * as tf from "@tensorflow/tfjs";
import { merge, parseCli } from "../../../lib/run/config.ts";
import { cellText, pctCell, type Verdict } from "../../../lib/run/summary.ts";
import { buildReport } from "../../../lib/report/page.ts";
import { requireUseful } from "../../../lib/run/pipeline.ts";
import { ShardStop } from "../../../lib/run/shard.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { key } from "../../../lib/run/schema.ts";
import { TRAIN_DEFAULTS, trainKeys } from "../../../lib/run/recipes.ts";
import { DATASETS } from "../../../lib/data/registry.ts";

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
    const mod = await import(new URL(`../../../${copy}`, import.meta.url).href);
    assert.equal(mod.SPEC.id, name);
    assert.equal(outDirOf(mod.SPEC, { out: "" }), join("out", name));
    assert.equal(mod.SPEC.name, `deno run -A experiments/${name}.ts`);
    assert.equal(mod.SPEC.title, `${name} (a fork of Section 3.2 / Table 1)`);
    assert.equal(mod.SPEC.order, FORK_ORDER);
    const original = (await import("../../../experiments/sec3_2.ts")).SPEC;
    assert.deepEqual([original.title, original.order], ["Section 3.2 / Table 1", 32]);
    const s = { headline: "h", claim: "c", tables: [], charts: [], figures: [], notes: [] };
    assert.equal(withIdentity(mod.SPEC, s).title, `${name} (a fork of Section 3.2 / Table 1): h`);
    assert.equal(withIdentity(original, s).title, "Section 3.2 / Table 1: h");
    // run as a user would (smoke preset), then the report: the copy's own heading after the paper's sections
    const root = await Deno.makeTempDir({ prefix: "copy_" });
    const config = { ...merge(mod.DEFAULTS, mod.PRESETS.smoke), out: join(root, name) };
    await mod.main(config, { preset: "smoke", quiet: true });
    const { html, sections } = await buildReport(root);
    assert.match(
      html,
      new RegExp(`<h2>${name} \\(a fork of Section 3\\.2 / Table 1\\): non-robust features`),
    );
    assert.equal(html.match(/<h2>Section 3\.2 \/ Table 1/g)?.length, 1, "sec3_2's own slot: not run yet");
    assert.deepEqual(sections.at(-1), { id: name, status: "ok" });
    await Deno.remove(root, { recursive: true });
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

Deno.test("defineExperiment() with a schema: one entry per key gives the defaults, key specs, --dataset keys and CLI", () => {
  const spec = defineExperiment(new URL("file:///r/experiments/schemed.ts"), {
    description: "d",
    schema: {
      size: key(10, { help: "examples (0 = all)", integer: true, min: 0 }),
      source: trainKeys("source model", { ...TRAIN_DEFAULTS, epochs: 4 }),
      attack: { eps: key(2, { help: "radius", above: 0, role: "eps" }) },
    },
    presets: { smoke: { size: 5, source: { epochs: 1 } }, quick: {} },
  });
  // the common keys first, in their order, then the schema's
  const keys = [...Object.keys(COMMON_DEFAULTS), "size", "source", "attack"];
  assert.deepEqual(Object.keys(spec.defaults), keys);
  assert.deepEqual([spec.defaults.size, spec.defaults.source.epochs, spec.defaults.attack.eps], [10, 4, 2]);
  assert.equal(spec.keys["source.lr"].help, "initial learning rate");
  assert.equal(spec.keys.seed, COMMON_KEYS.seed);
  assert.deepEqual(spec.datasetKeys, {
    eps: ["attack.eps"],
    arch: ["source.arch"],
    epochs: ["source.epochs"],
  });
  const smoke = parseCli(["--preset=smoke", "--attack.eps=3"], spec)!.config;
  assert.deepEqual([smoke.size, smoke.source.epochs, smoke.attack.eps], [5, 1, 3]);
  assert.throws(() => parseCli(["--size=-1"], spec), /--size must be >= 0, got -1/);
  const cifar = parseCli(["--dataset=cifar10"], spec)!.config;
  assert.notEqual(cifar.attack.eps, 2, "--dataset scales the schema's radius");
  assert.equal(cifar.source.arch, DATASETS.cifar10.defaults.arch);
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
    () => requireUseful(0.12, { numClasses: 10, key: "source" }),
    /the source model reached only 12\.0% test accuracy \(chance 10\.0%, needed at least 15\.0%\).*--source\.lr/,
  );
  requireUseful(0.16, { numClasses: 10, key: "source" });
});

Deno.test("configLine(): one line naming preset, dataset, seed and config.json; the full config with --verbose", () => {
  const config = { ...COMMON_DEFAULTS, seed: 3 };
  const line = configLine("sec3_2", config, { preset: "quick" }, "out/sec3_2");
  assert.equal(
    line,
    "sec3_2: preset quick, dataset fashion-mnist, seed 3 (the full config goes to out/sec3_2/config.json; " +
      "--verbose prints it)",
  );
  const full = configLine("sec3_2", config, { preset: "quick", verbose: true }, "out/sec3_2");
  assert.equal(full, `sec3_2: resolved config\n${JSON.stringify(config, null, 2)}`);
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
  const { SPEC } = await import("../../../experiments/sec3_2.ts");
  const { parseCli } = await import("../../../lib/run/config.ts");
  const { DATASETS } = await import("../../../lib/data/registry.ts");
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
  const { parseCli } = await import("../../../lib/run/config.ts");
  for (const file of ["sec3_1", "sec3_2", "sec3_3", "examples/d_shift2"]) {
    const { SPEC } = await import(`../../../experiments/${file}.ts`);
    for (const preset of Object.keys(SPEC.presets)) {
      const parsed = parseCli([`--preset=${preset}`], SPEC);
      assert.ok(parsed, `${file} --preset=${preset}`);
    }
  }
});

/** An npy:DIR dataset under `root`/data: 6 train and 4 test blank 2x2x1 images, labels alternating 0, 1. */
async function tinyNpyDataset(root: string): Promise<string> {
  const data = join(root, "data");
  await Deno.mkdir(data);
  const x = (n: number) => ({ dtype: "uint8" as const, shape: [n, 2, 2, 1], data: new Uint8Array(n * 4) });
  const y = (n: number) => ({
    dtype: "uint8" as const,
    shape: [n],
    data: Uint8Array.from({ length: n }, (_, i) => i % 2),
  });
  for (
    const [name, a] of [["train_x", x(6)], ["train_y", y(6)], ["test_x", x(4)], ["test_y", y(4)]] as const
  ) {
    await Deno.writeFile(join(data, `${name}.npy`), encodeNpy(a));
  }
  return data;
}

Deno.test("run.splits() with --evalOn=val: the last training images, under an identity that is not the test set's", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_" });
  const data = await tinyNpyDataset(root);
  const defaults = { ...COMMON_DEFAULTS, dataset: `npy:${data}`, out: join(root, "out"), cache: false };
  const spec = defineExperiment(new URL("file:///r/experiments/valsplit.ts"), {
    description: "d",
    defaults,
    presets: { quick: {} },
    keys: {},
  });
  const body = (check: (s: ReturnType<Run<CommonConfig>["splits"]>) => void) => (run: Run<CommonConfig>) => {
    check(run.splits({ trainSize: 4, testSize: 2 }));
    return Promise.resolve({
      results: {},
      summary: { headline: "h", claim: "c", tables: [], charts: [], figures: [], notes: [] },
    });
  };
  await runExperiment(
    spec,
    defaults,
    { quiet: true },
    body(({ train, test, testRef }) => {
      assert.deepEqual([train.id.name, test.n, testRef.id.name], ["train[:4]", 2, "test[:2]"]);
      assert.equal(testRef.split, test);
    }),
  );
  await runExperiment(
    spec,
    { ...defaults, evalOn: "val" },
    { quiet: true },
    body(({ train, test, testRef }) => {
      // the 6 training images: 4 trained on, the last 2 evaluated on, named as what they are
      assert.deepEqual([train.id.name, test.n, testRef.id.name], ["train[:4]", 2, "train[4:6]"]);
      assert.equal(testRef.id.data, train.id.data);
    }),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("runExperiment() hands the body the splits, the common options, exports, and disposes tracked models", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_" });
  const data = await tinyNpyDataset(root);
  const spec = defineExperiment(new URL("file:///r/experiments/handy.ts"), {
    description: "d",
    defaults: { ...COMMON_DEFAULTS, dataset: `npy:${data}`, out: join(root, "out"), seed: 7, cache: false },
    presets: { quick: {} },
    keys: {},
  });
  const zoo = () => ({ model: createModel("mlp", { inputShape: [2, 2, 1], numClasses: 2, seed: 1 }) });
  const tensors0 = tf.memory().numTensors;
  let kept = 0;
  await runExperiment(spec, spec.defaults, { quiet: true }, async (run) => {
    assert.deepEqual(run.common, { numClasses: 2, seed: 7, cache: false, shard: null });
    const { train, test } = run.splits({ trainSize: 4, testSize: 0 });
    assert.deepEqual([train.split.n, train.id.name, test.n], [4, "train[:4]", 4]);
    const a = run.track(zoo()), b = run.track(zoo());
    const both = tf.memory().numTensors;
    run.release(a);
    assert.ok(tf.memory().numTensors < both, "release() disposes at once");
    run.release(a); // a second release is a no-op, not a double dispose
    kept = tf.memory().numTensors - tensors0;
    assert.ok(kept > 0, "b is alive until the run ends");
    assert.ok(b.model.model.layers.length > 0);
    await run.exportSet("d_x", train.split);
    await run.writeFile("f.png", new Uint8Array([1, 2]));
    return {
      results: {},
      summary: { headline: "h", claim: "c", tables: [], charts: [], figures: [], notes: [] },
    };
  });
  assert.equal(tf.memory().numTensors, tensors0, "every tracked model disposed at the end");
  const out = join(root, "out");
  assert.deepEqual([...await Deno.readFile(join(out, "f.png"))], [1, 2]);
  assert.ok((await Deno.stat(join(out, "d_x_x.npy"))).size > 0);
  // a failing body still disposes what it tracked
  await assert.rejects(
    () =>
      runExperiment(spec, spec.defaults, { quiet: true }, (run) => {
        run.track(zoo());
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.equal(tf.memory().numTensors, tensors0);
  await Deno.remove(root, { recursive: true });
});

Deno.test("runSeeds() runs main once per seed into seeds/<seed>/ and writes mean, sd, min, max, n of every number", async () => {
  const root = await Deno.makeTempDir({ prefix: "seeds_" });
  const data = await tinyNpyDataset(root);
  const spec = defineExperiment(new URL("file:///r/experiments/seedy.ts"), {
    description: "a run whose numbers follow the seed",
    defaults: { ...COMMON_DEFAULTS, dataset: `npy:${data}`, out: join(root, "out"), seed: 3 },
    presets: { quick: {} },
    keys: {},
    section: { of: "seedy", label: "Section 9", order: 90 },
  });
  type C = typeof spec.defaults;
  const main = (config: C, opts: RunOptions) =>
    runExperiment(spec, config, opts, async (run) => {
      const acc = 0.5 + 0.1 * (config.seed - 3);
      await Deno.writeFile(join(run.outDir, "fig.png"), new Uint8Array([config.seed]));
      return {
        results: { acc, curve: [config.seed, 7], label: "x" },
        summary: {
          headline: "h",
          claim: "c",
          tables: [{ headers: ["set", "acc", "paper"], rows: [["D", pctCell(acc), "63.3%"]] }],
          charts: [],
          figures: ["fig.png"],
          notes: [`acc ${(100 * acc).toFixed(1)}%`],
        },
      };
    });
  const r = await runSeeds(spec, main, spec.defaults, { seeds: 3, quiet: true });
  const out = join(root, "out");
  const read = async (p: string) => JSON.parse(await Deno.readTextFile(join(out, p)));
  const results = await read("results.json"), config = await read("config.json");
  assert.deepEqual(results.seeds.values, [3, 4, 5]);
  assert.match(results.seeds.varies, /every random choice/);
  assert.deepEqual(config.meta.seeds, results.seeds);
  assert.ok(
    Math.abs(results.aggregate.acc.mean - 0.6) < 1e-12 && Math.abs(results.aggregate.acc.sd - 0.1) < 1e-12,
  );
  assert.deepEqual([
    results.aggregate.acc.n,
    results.aggregate["curve.0"].min,
    results.aggregate["curve.0"].max,
  ], [
    3,
    3,
    5,
  ]);
  assert.deepEqual(results.aggregate["curve.1"], { mean: 7, sd: 0, min: 7, max: 7, n: 3 });
  assert.ok(Math.abs(results.acc - 0.6) < 1e-12, "the top-level numbers are the means");
  assert.equal(results.label, "x");
  assert.deepEqual(r.seeds, results.seeds);
  for (const s of [3, 4, 5]) {
    const one = await read(`seeds/${s}/results.json`);
    assert.ok(Math.abs(one.acc - (0.5 + 0.1 * (s - 3))) < 1e-12);
    assert.equal((await read(`seeds/${s}/config.json`)).config.seed, s);
  }
  const summary = results.summary;
  assert.equal(summary.title, "Section 9: h");
  assert.deepEqual(summary.tables[0].rows[0].map(cellText), ["D", "60.0 ± 10.0% (n=3)", "63.3%"]);
  assert.equal(summary.notes[1], "acc 60.0 ± 10.0% (n=3)");
  assert.deepEqual(summary.figures, ["seeds/3/fig.png"]);
  assert.deepEqual([...await Deno.readFile(join(out, summary.figures[0]))], [3]);
  const { html } = await buildReport(root, { known: [] });
  assert.match(html, /<td>60\.0 ± 10\.0% \(n=3\)<\/td>/);
  assert.match(html, /alt="seeds\/3\/fig\.png"/);
  const listing = [...Deno.readDirSync(join(out, "seeds"))].map((e) => e.name).sort();
  assert.deepEqual(listing, ["3", "4", "5"], "no lock or staging leftovers");
  await Deno.remove(root, { recursive: true });
});

Deno.test("runSeeds(): claims merged (disagreeing verdicts said), or computed from all runs by the spec's `seeded`", async () => {
  const root = await Deno.makeTempDir({ prefix: "seeded_" });
  const data = await tinyNpyDataset(root);
  const def = (seeded?: SeededParts<CommonConfig>) =>
    defineExperiment(new URL("file:///r/experiments/claimy.ts"), {
      description: "a run with a claim",
      defaults: { ...COMMON_DEFAULTS, dataset: `npy:${data}`, out: join(root, "out"), seed: 0 },
      presets: { quick: {} },
      keys: {},
      seeded,
    });
  const mainOf = (spec: ReturnType<typeof def>) => (config: CommonConfig, opts: RunOptions) =>
    runExperiment(spec, config, opts, () => {
      const acc = [0.3, 0.5, 0.7][config.seed];
      return Promise.resolve({
        results: { acc },
        summary: {
          claims: [{
            name: "c",
            paper: "50%",
            ours: `${(100 * acc).toFixed(1)}%`,
            verdict: (acc > 0.4 ? "reproduces" : "does not") as Verdict,
            criterion: "acc > 40%",
          }],
          headline: "h",
          claim: "c",
          tables: [],
          charts: [],
          figures: [],
          notes: [],
        },
      });
    });
  const merged = def();
  const a = await runSeeds(merged, mainOf(merged), merged.defaults, { seeds: 3, quiet: true });
  const c = a.summary.claims![0];
  assert.equal(c.ours, "50.0 ± 20.0% (n=3)");
  assert.equal(c.verdict, "does not");
  assert.match(
    c.criterion,
    /the runs disagree: seed 0 does not, seed 1 reproduces, seed 2 reproduces; shown: seed 0/,
  );
  let seen: unknown[] = [];
  const hooked = def(async (runs, { dir }) => {
    seen = runs;
    await Deno.writeFile(join(dir, "all.png"), new Uint8Array([9]));
    const mean = (runs as { acc: number }[]).reduce((s, r) => s + r.acc, 0) / runs.length;
    return {
      claims: [{ ...c, ours: `mean ${mean}`, verdict: "partly", criterion: "on the mean" }],
      notes: ["from all runs"],
      figures: ["all.png"],
    };
  });
  const b = await runSeeds(hooked, mainOf(hooked), hooked.defaults, { seeds: 3, quiet: true });
  assert.deepEqual(seen, [{ acc: 0.3 }, { acc: 0.5 }, { acc: 0.7 }], "the hook sees every run's results");
  assert.deepEqual([b.summary.claims![0].ours, b.summary.claims![0].verdict], ["mean 0.5", "partly"]);
  assert.equal(b.summary.notes[0], "from all runs");
  assert.match(b.summary.notes[1], /the figures are drawn from all runs/);
  assert.match(a.summary.notes[0], /charts and figures are seed 0's/);
  assert.deepEqual(b.summary.figures, ["all.png"]);
  assert.deepEqual([...await Deno.readFile(join(root, "out", "all.png"))], [9]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a SeedSweep that gives two runs one seed is refused before any run, naming the seeds", async () => {
  const spec = defineExperiment(new URL("file:///r/experiments/same.ts"), {
    description: "d",
    defaults: { ...COMMON_DEFAULTS, out: "/nonexistent/never/written" },
    presets: { quick: {} },
    keys: {},
    seedSweep: { vary: (c) => c, varies: "nothing" },
  });
  let ran = 0;
  const main = () => (ran++, Promise.resolve({}));
  await assert.rejects(
    () => runSeeds(spec, main, spec.defaults, { seeds: 2, quiet: true }),
    /the seed sweep of same gives the runs the seeds 0, 0, one of them twice.*vary\(\) must give each run its own seed/,
  );
  assert.equal(ran, 0);
});

Deno.test("--seeds=N is parsed for every experiment; a bad count names the value and the range", async () => {
  const { SPEC } = await import("../../../experiments/sec3_2.ts");
  assert.equal(parseCli(["--seeds=3", "--preset=smoke"], SPEC)!.seeds, 3);
  assert.equal(parseCli([], SPEC)!.seeds, 1);
  assert.throws(
    () => parseCli(["--seeds=0"], SPEC),
    /--seeds expects a whole number of runs from 1 to 100, got "0"/,
  );
  assert.throws(() => parseCli(["--seeds=2.5"], SPEC), /got "2\.5"/);
});

Deno.test("runExperiment() as a shard run needs the cache, writes no out dir, and says so when it had nothing to shard", async () => {
  const root = await Deno.makeTempDir({ prefix: "shardrun_" });
  const data = await tinyNpyDataset(root), out = join(root, "out");
  const spec = defineExperiment(new URL("file:///r/experiments/sharded.ts"), {
    description: "d",
    defaults: { ...COMMON_DEFAULTS, dataset: `npy:${data}`, out, cache: true as boolean },
    presets: { quick: {} },
    keys: {},
  });
  const shard = { index: 1, count: 3 };
  const summary = { headline: "h", claim: "c", tables: [], charts: [], figures: [], notes: [] };
  await assert.rejects(
    () =>
      runExperiment(spec, { ...spec.defaults, cache: false }, { quiet: true, shard }, () => Promise.reject()),
    (e: Error) =>
      e instanceof UserError && /--shard=1\/3 needs the cache .* add --cache=true/.test(e.message),
  );
  await assert.rejects(
    () =>
      runExperiment(spec, spec.defaults, { quiet: true, shard }, (run) => {
        assert.deepEqual(run.common.shard, shard);
        return Promise.reject(new ShardStop(shard, []));
      }),
    ShardStop,
  );
  // a shard run that reaches its end had nothing left to build: it stops (exit 0 in cli()) without an out dir
  await assert.rejects(
    () =>
      runExperiment(
        spec,
        spec.defaults,
        { quiet: true, shard },
        () => Promise.resolve({ results: {}, summary }),
      ),
    (e: Error) => e instanceof ShardStop && e.built.length === 0 && /nothing left to build/.test(e.message),
  );
  assert.deepEqual(
    [...Deno.readDirSync(root)].map((e) => e.name),
    ["data"],
    "no out dir, lock or staging dir",
  );
  await Deno.remove(root, { recursive: true });
});
