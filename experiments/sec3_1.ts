// Section 3.1 / Figure 2: disentangling robust and non-robust features by representation matching.
//
// A standard and an adversarially trained (L2 PGD) source model; D_R (from the robust model) and D_NR (from the
// standard model) by minimizing ||g(x_r) - g(x)||_2 (eq. 5) from a start x0 (another training image, or noise);
// fresh standard models trained on D_R and D_NR; standard and robust test accuracy of all four models.
import { join } from "node:path";
import type { CliSpec, DeepPartial } from "../lib/config.ts";
import { matchRepresentationSplit } from "../lib/attacks.ts";
import { cached } from "../lib/cache.ts";
import { firstN, imageSize } from "../lib/data/batch.ts";
import { exportDataset } from "../lib/data/export.ts";
import { readNpy, writeNpy } from "../lib/data/npy.ts";
import type { Split } from "../lib/data/registry.ts";
import {
  cli,
  COMMON_KEYS,
  type CommonConfig,
  finishRun,
  PAPER_RECIPE,
  startRun,
  TRAIN_DEFAULTS,
  type TrainConfig,
  trainKeys,
  trainOptions,
} from "../lib/experiment.ts";
import { checkArch, type ZooModel } from "../lib/models.ts";
import { writeFileAtomic } from "../lib/output.ts";
import { sourceDataId, trainCached, trainSource } from "../lib/pipeline.ts";
import { phase } from "../lib/progress.ts";
import { saveChart } from "../lib/report/charts.ts";
import { imageGrid } from "../lib/report/grid.ts";
import { formatPct, markdownTable } from "../lib/report/table.ts";
import { createRng, deriveSeed } from "../lib/rng.ts";
import { evaluate } from "../lib/train.ts";
import { DEFAULTS as SEC32 } from "./sec3_2.ts";

/** Configuration of the Section 3.1 experiment. */
export interface Config extends CommonConfig {
  trainSize: number;
  testSize: number;
  /** Standard source model (same recipe as sec3_2's, so the cached model is shared). */
  standard: TrainConfig;
  /** Adversarially trained source model: the recipe plus L2 PGD inside the loop. */
  robust: TrainConfig & { eps: number; steps: number; stepSize: number };
  /** Representation matching (eq. 5). */
  match: { size: number; steps: number; stepSize: number; start: string; batchSize: number };
  /** Fresh standard models trained on D_R and D_NR. */
  fresh: TrainConfig;
  /** Robust evaluation: untargeted L2 PGD. */
  evalAttack: { eps: number; steps: number; curve: number[] };
}

/** The paper's Figure 2b (CIFAR-10; standard / robust accuracy at L2 eps 0.25, read off the bar chart). */
export const PAPER = {
  standard: { stdAcc: 0.953, robustAcc: 0.045 },
  robust: { stdAcc: 0.9, robustAcc: 0.7 },
  d_nr: { stdAcc: 0.88, robustAcc: 0.0 },
  d_r: { stdAcc: 0.84, robustAcc: 0.48 },
};

/** Defaults = quick preset (Fashion-MNIST). */
export const DEFAULTS: Config = {
  seed: SEC32.seed,
  out: "",
  backend: "auto",
  dataset: SEC32.dataset,
  dataDir: "",
  cache: true,
  trainSize: SEC32.trainSize,
  testSize: 1000,
  standard: { ...SEC32.source },
  robust: { ...TRAIN_DEFAULTS, epochs: 3, eps: 2.5, steps: 5, stepSize: 1.25 },
  // 200 steps: with 50, D_R's representation stayed 31% away and its model was no more robust than the
  // standard one (README, Section 3.1)
  match: { size: 2000, steps: 200, stepSize: 0.2, start: "image", batchSize: 250 },
  fresh: { ...TRAIN_DEFAULTS, epochs: 10 },
  evalAttack: { eps: 2.0, steps: 20, curve: [0.5, 1, 2, 3] },
};

/** Presets: smoke (tests), quick (default), paper (CIFAR-10, ResNet-50, the paper's protocol). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: {
    trainSize: 300,
    testSize: 100,
    standard: { epochs: 2 },
    robust: { epochs: 1, steps: 2, stepSize: 1.5 },
    match: { size: 100, steps: 5, stepSize: 0.5, batchSize: 100 },
    fresh: { epochs: 2 },
    evalAttack: { steps: 3, curve: [1, 2] },
    cache: false,
  },
  quick: {},
  paper: {
    dataset: "cifar10",
    trainSize: 0,
    testSize: 0,
    standard: { ...PAPER_RECIPE },
    robust: { ...PAPER_RECIPE, eps: 0.5, steps: 7, stepSize: 0.1 },
    match: { size: 50000, steps: 1000, stepSize: 0.1, batchSize: 128 },
    fresh: { ...PAPER_RECIPE },
    evalAttack: { eps: 0.25, steps: 20, curve: [0.25, 0.5, 1, 2] },
  },
};

/** CLI description. */
export const SPEC: CliSpec<Config> = {
  name: "deno task sec3_1",
  description:
    "Section 3.1 / Figure 2: robust (D_R) and non-robust (D_NR) datasets by representation matching",
  defaults: DEFAULTS,
  presets: PRESETS,
  defaultPreset: "quick",
  keys: {
    ...COMMON_KEYS,
    trainSize: { help: "training examples used for the source models (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("standard", "standard source model"),
    ...trainKeys("robust", "adversarially trained source model"),
    "robust.eps": { help: "L2 radius of adversarial training", above: 0 },
    "robust.steps": { help: "PGD steps of adversarial training", integer: true, min: 1 },
    "robust.stepSize": { help: "PGD step of adversarial training", above: 0 },
    "match.size": { help: "examples in D_R and D_NR", integer: true, min: 1 },
    "match.steps": { help: "normalized gradient steps of eq. 5", integer: true, min: 1 },
    "match.stepSize": { help: "L2 length of each step (pixels)", above: 0 },
    "match.start": {
      help: "x0: another training image (paper) or uniform noise (App. D.1)",
      choices: ["image", "noise"],
    },
    "match.batchSize": { help: "batch size of the construction", integer: true, min: 1 },
    ...trainKeys("fresh", "fresh models trained on D_R and D_NR"),
    "evalAttack.eps": { help: "L2 radius of the robust-accuracy evaluation", above: 0 },
    "evalAttack.steps": {
      help: "PGD steps of the evaluation (step size 2.5 eps / steps)",
      integer: true,
      min: 1,
    },
    "evalAttack.curve": { help: "eps values of the robust-accuracy curve", above: 0 },
  },
};

type ModelName = "standard" | "robust" | "d_r" | "d_nr";

/** What main() returns (fractions). */
export interface Results {
  models: Record<ModelName, { stdAcc: number; robustAcc: number }>;
  curve: { model: ModelName; eps: number; robustAcc: number }[];
  trainEps: number;
  evalEps: number;
  representationDistance: { d_r: number; d_nr: number };
  start: string;
  paper: typeof PAPER;
  table: string;
}

/** Starting points x0 [n, h, w, c]: a random other training image per example (paper) or uniform noise. */
export function startingPoints(
  split: Split,
  pool: Split,
  opts: { start: string; seed: number },
): Float32Array {
  const rng = createRng(opts.seed), d = imageSize(split);
  const x0 = new Float32Array(split.n * d);
  if (opts.start === "noise") {
    for (let i = 0; i < x0.length; i++) x0[i] = rng.next();
    return x0;
  }
  for (let i = 0; i < split.n; i++) {
    let j = rng.int(pool.n);
    while (pool.n > 1 && j === i) j = rng.int(pool.n);
    x0.set(pool.x.subarray(j * d, (j + 1) * d), i * d);
  }
  return x0;
}

/** Builds D_R or D_NR by eq. 5 (cached by source model hash and construction settings). */
async function buildMatched(
  source: { model: ZooModel; hash: string },
  split: Split,
  x0: Float32Array,
  name: string,
  config: Config,
) {
  phase(
    `build ${name}: match the ${
      name === "d_r" ? "robust" : "standard"
    } model's representation (eq. 5), ${config.match.steps} steps of ${config.match.stepSize}`,
  );
  const r = await cached("dataset", {
    kind: name,
    source: source.hash,
    n: split.n,
    match: config.match,
    seed: config.seed,
  }, {
    enabled: config.cache,
    build: () =>
      matchRepresentationSplit(source.model, split, { x0, ...config.match, label: `match ${name}` }),
    save: async (dir, v) => {
      await writeNpy(join(dir, "x.npy"), { dtype: "float32", shape: [split.n, ...split.shape], data: v.x });
      await writeNpy(join(dir, "rel.npy"), { dtype: "float32", shape: [split.n], data: v.relDistance });
    },
    load: async (dir) => {
      const rel = (await readNpy(join(dir, "rel.npy"))).data as Float32Array;
      return { x: (await readNpy(join(dir, "x.npy"))).data as Float32Array, relDistance: rel, distance: rel };
    },
  });
  const rel = r.value.relDistance.reduce((s, v) => s + v, 0) / split.n;
  console.error(`${name}: mean representation distance ||g(x_r) - g(x)|| / ||g(x)|| = ${rel.toFixed(3)}`);
  return { split: { ...split, x: r.value.x }, rel, hash: r.hash };
}

/** Runs the experiment and writes out/sec3_1/. */
export async function main(
  config: Config,
  opts: { preset?: string; quiet?: boolean } = {},
): Promise<Results> {
  for (const a of [config.standard.arch, config.robust.arch, config.fresh.arch]) checkArch(a);
  const run = await startRun("sec3_1", config, opts);
  const { info } = run.data;
  const C = info.numClasses;
  const train = firstN(run.data.train, config.trainSize);
  const test = firstN(run.data.test, config.testSize);
  const dataId = sourceDataId(config.dataset, train);
  const standard = await trainSource(train, {
    recipe: config.standard,
    dataset: config.dataset,
    numClasses: C,
    seed: config.seed,
    cache: config.cache,
  });
  const { eps, steps, stepSize, ...robustRecipe } = config.robust;
  const robust = await trainCached(config.robust.arch, train, {
    data: dataId,
    numClasses: C,
    train: {
      ...trainOptions(
        robustRecipe,
        deriveSeed(config.seed, "robust"),
        `adversarial training ${config.robust.arch}`,
      ),
      adversarial: { threat: "l2", eps, steps, stepSize },
    },
    cache: config.cache,
    title:
      `robust source model: L2 adversarial training of ${config.robust.arch} (eps ${eps}, ${steps} steps of ${stepSize})`,
  });

  const targets = firstN(train, config.match.size);
  const x0 = startingPoints(targets, train, {
    start: config.match.start,
    seed: deriveSeed(config.seed, "x0"),
  });
  const dR = await buildMatched(robust, targets, x0, "d_r", config);
  const dNR = await buildMatched(standard, targets, x0, "d_nr", config);
  await exportDataset(run.outDir, "d_r", dR.split, { classNames: info.classNames });
  await exportDataset(run.outDir, "d_nr", dNR.split, { classNames: info.classNames });

  const models: Partial<Record<ModelName, ZooModel>> = { standard: standard.model, robust: robust.model };
  for (const [name, set] of [["d_r", dR], ["d_nr", dNR]] as const) {
    models[name] = (await trainCached(config.fresh.arch, set.split, {
      data: { dataset: config.dataset, name: `${name}(${set.hash})`, n: set.split.n },
      numClasses: C,
      train: trainOptions(
        config.fresh,
        deriveSeed(config.seed, `fresh_${name}`),
        `train ${config.fresh.arch} on ${name}`,
      ),
      cache: config.cache,
      title: `fresh standard ${config.fresh.arch} trained on ${name}`,
    })).model;
  }

  phase(`evaluate: standard accuracy and robust accuracy (L2 PGD, ${config.evalAttack.steps} steps)`);
  const attack = (e: number) => ({
    threat: "l2",
    eps: e,
    steps: config.evalAttack.steps,
    stepSize: (2.5 * e) / config.evalAttack.steps,
    seed: deriveSeed(config.seed, "eval"),
  });
  const names: ModelName[] = ["standard", "robust", "d_r", "d_nr"];
  const acc = {} as Results["models"];
  const curve: Results["curve"] = [];
  for (const n of names) {
    const r = evaluate(models[n]!, test, {
      attack: attack(config.evalAttack.eps),
      label: `robust acc ${n} (eps ${config.evalAttack.eps})`,
    });
    acc[n] = { stdAcc: r.acc, robustAcc: r.robustAcc! };
    for (const e of config.evalAttack.curve) {
      curve.push({
        model: n,
        eps: e,
        robustAcc: e === config.evalAttack.eps
          ? r.robustAcc!
          : evaluate(models[n]!, test, { attack: attack(e) }).robustAcc!,
      });
    }
    curve.push({ model: n, eps: 0, robustAcc: r.acc });
  }

  phase("figures");
  const [h, w, c] = train.shape, d = imageSize(train);
  const cell = (x: Float32Array, i: number, caption: string) => ({
    image: x.subarray(i * d, (i + 1) * d),
    h,
    w,
    c: c as 1 | 3,
    caption,
  });
  const rows = Array.from({ length: Math.min(8, targets.n) }, (_, i) => [
    cell(targets.x, i, info.classNames[targets.y[i]]),
    cell(x0, i, "start"),
    cell(dR.split.x, i, `label ${info.classNames[targets.y[i]]}`),
    cell(dNR.split.x, i, `label ${info.classNames[targets.y[i]]}`),
  ]);
  await writeFileAtomic(
    join(run.outDir, "fig2a.png"),
    imageGrid(rows, {
      colLabels: ["target x", "start x0", "D_R (robust)", "D_NR (standard)"],
      title: "Figure 2a: D_R keeps the robust model's features, D_NR the standard one's",
      scale: 3,
    }),
  );
  const label: Record<ModelName, string> = {
    standard: "std training on D",
    robust: "adv training on D",
    d_r: "std training on D_R",
    d_nr: "std training on D_NR",
  };
  const bars = names.flatMap((n) => [
    { model: label[n], metric: "standard accuracy", value: 100 * acc[n].stdAcc, source: "ours" },
    {
      model: label[n],
      metric: `robust accuracy (eps ${config.evalAttack.eps})`,
      value: 100 * acc[n].robustAcc,
      source: "ours",
    },
  ]);
  await saveChart(run.outDir, "fig2b", {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: `Figure 2b (${config.dataset}): standard and robust test accuracy`,
      subtitle: `robust: L2 PGD eps ${config.evalAttack.eps}, ${config.evalAttack.steps} steps`,
    },
    data: { values: bars },
    width: 120,
    height: 240,
    mark: "bar",
    encoding: {
      column: { field: "model", type: "nominal", title: null, sort: names.map((n) => label[n]) },
      x: { field: "metric", type: "nominal", axis: null },
      y: { field: "value", type: "quantitative", title: "test accuracy (%)", scale: { domain: [0, 100] } },
      color: { field: "metric", type: "nominal", title: null, legend: { orient: "bottom" } },
    },
  });
  await saveChart(run.outDir, "robust_curve", {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Robust accuracy vs L2 eps (App. D.2)",
    data: { values: curve.map((p) => ({ ...p, model: label[p.model], robustAcc: 100 * p.robustAcc })) },
    width: 360,
    height: 240,
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "eps", type: "quantitative", title: "L2 eps" },
      y: { field: "robustAcc", type: "quantitative", title: "accuracy (%)", scale: { domain: [0, 100] } },
      color: { field: "model", type: "nominal" },
    },
  });
  const table = markdownTable(
    [
      "model",
      "std acc (ours)",
      `robust acc eps ${config.evalAttack.eps} (ours)`,
      "std acc (paper)",
      "robust acc eps 0.25 (paper)",
    ],
    names.map((
      n,
    ) => [
      label[n],
      formatPct(acc[n].stdAcc),
      formatPct(acc[n].robustAcc),
      formatPct(PAPER[n].stdAcc),
      formatPct(PAPER[n].robustAcc),
    ]),
  );
  await writeFileAtomic(join(run.outDir, "fig2b.md"), table + "\n");
  const results: Results = {
    models: acc,
    curve,
    trainEps: eps,
    evalEps: config.evalAttack.eps,
    representationDistance: { d_r: dR.rel, d_nr: dNR.rel },
    start: config.match.start,
    paper: PAPER,
    table,
  };
  const full = await finishRun(run, results);
  if (!opts.quiet) {
    console.log(`\nFigure 2b (${config.dataset}, preset ${opts.preset ?? "-"}, ${full.runSeconds} s):\n`);
    console.log(table);
    console.log(
      `\nrepresentation distance reached (relative): D_R ${dR.rel.toFixed(3)}, D_NR ${dNR.rel.toFixed(3)}`,
    );
    console.log(
      `wrote ${run.outDir}/: config.json results.json fig2a.png fig2b.png fig2b.svg robust_curve.png d_r_{x,y}.npy d_nr_{x,y}.npy`,
    );
  }
  for (const m of Object.values(models)) m?.model.dispose();
  return full;
}

if (import.meta.main) cli(SPEC, (config, { preset }) => main(config, { preset }));
