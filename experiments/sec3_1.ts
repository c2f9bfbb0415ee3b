// Section 3.1 / Figure 2: disentangling robust and non-robust features by representation matching.
//
// A standard and an adversarially trained (L2 PGD) source model; D_R (from the robust model) and D_NR (from the
// standard model) by minimizing ||g(x_r) - g(x)||_2 (eq. 5) from a start x0 (another training image, or noise);
// fresh standard models trained on D_R and D_NR, and a control trained on a random subset of D of the same
// size with the same recipe; standard and robust test accuracy of all of them.
import { join } from "node:path";
import type { DeepPartial } from "../lib/run/config.ts";
import { firstN, imageSize, subset } from "../lib/data/batch.ts";
import { l2Norm } from "../lib/data/plant.ts";
import type { Split } from "../lib/data/registry.ts";
import { MATCH_TARGETS } from "../lib/core/attacks.ts";
import { exportDataset } from "../lib/run/export.ts";
import { buildEach } from "../lib/run/shard.ts";
import {
  cli,
  COMMON_DEFAULTS,
  type CommonConfig,
  defineExperiment,
  type Run,
  runExperiment,
  type RunOptions,
} from "../lib/run/experiment.ts";
import { ARCHITECTURES, type ZooModel } from "../lib/core/models.ts";
import { writeFileAtomic } from "../lib/run/output.ts";
import { FIG2B } from "../lib/run/paper.ts";
import {
  buildMatched,
  type DataRef,
  derivedRef,
  type MatchConfig,
  type MatchedSet,
  startingPoints,
  trainRecipe,
  trainSourceModel,
} from "../lib/run/pipeline.ts";
import { type PatternReliance, patternReliance, setEnergies } from "../lib/core/control.ts";
import { phase } from "../lib/util/progress.ts";
import {
  PAPER_RECIPE,
  RIMAGENET,
  ROBUST_QUICK,
  type RobustConfig,
  SMOKE,
  SOURCE_QUICK,
  TRAIN_DEFAULTS,
  TRAIN_SIZE_QUICK,
  type TrainConfig,
  trainKeys,
} from "../lib/run/recipes.ts";
import { saveChart } from "../lib/report/charts.ts";
import { colorScale, type Meaning } from "../lib/report/colors.ts";
import { imageGrid } from "../lib/report/grid.ts";
import { createRng, deriveSeed } from "../lib/util/rng.ts";
import { meanInterval95, meanSd } from "../lib/util/stats.ts";
import { type Claim, oursVsPaperBars, pct, type SectionSummary, type Verdict } from "../lib/run/summary.ts";
import { evaluate } from "../lib/core/train.ts";

/** Configuration of the Section 3.1 experiment. */
export interface Config extends CommonConfig {
  trainSize: number;
  testSize: number;
  /** Standard source model (same recipe as sec3_2's, so the cached model is shared). */
  standard: TrainConfig;
  /** Adversarially trained source model: the recipe plus L2 PGD inside the loop. */
  robust: RobustConfig;
  /** Representation matching (eq. 5). */
  match: MatchConfig;
  /** Fresh standard models trained on D_R, D_NR and the size-matched control. */
  fresh: TrainConfig;
  /** More architectures trained the same way on D_R, D_NR and the control (the paper: the same results hold). */
  freshArchs: string[];
  /** Seeds of the fresh models (each: initial weights, data order, evaluation starts); the mean and spread are
   * reported. */
  freshSeeds: number;
  /** Robust evaluation: untargeted L2 PGD at each eps of `curve`, then Auto-PGD (cross-entropy and DLR loss,
   * `strongSteps` steps x `restarts`) on what PGD left (strongSteps 0 = PGD alone); the headline eps is chosen by
   * `headlineMax`. */
  evalAttack: { steps: number; curve: number[]; headlineMax: number; strongSteps: number; restarts: number };
}

/** Defaults = quick preset (Fashion-MNIST). */
export const DEFAULTS: Config = {
  ...COMMON_DEFAULTS,
  trainSize: TRAIN_SIZE_QUICK,
  testSize: 1000,
  standard: SOURCE_QUICK,
  robust: ROBUST_QUICK,
  // 50 steps cosine-decayed from 2 reach the distance of 200 constant steps of 0.2 (D_R 0.014 vs 0.015, D_NR
  // 0.049 vs 0.071; 50 constant steps of 0.2 stay 32% away), so D_R grows to 10,000 images (docs/exploration.md)
  match: {
    size: 10000,
    steps: 50,
    stepSize: 2,
    schedule: "cosine",
    start: "image",
    batchSize: 250,
    target: "relu",
  },
  fresh: { ...TRAIN_DEFAULTS, epochs: 10 },
  freshArchs: [],
  freshSeeds: 3,
  evalAttack: { steps: 20, curve: [0.5, 1, 2, 3], headlineMax: 0.05, strongSteps: 50, restarts: 1 },
};

/** Presets: smoke (tests), quick (default), paper (CIFAR-10, ResNet-50, the paper's protocol). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: {
    trainSize: SMOKE.trainSize,
    testSize: 100,
    standard: SMOKE.source,
    robust: { epochs: 4, steps: 2, stepSize: 1.5 },
    match: { size: 100, steps: 5, stepSize: 0.5, batchSize: 100 },
    fresh: { epochs: 2 },
    evalAttack: { steps: 3, curve: [1, 2], strongSteps: 5 },
    freshSeeds: 2,
    cache: false,
  },
  quick: {},
  // all 60,000 training images for the sources and D_R / D_NR, quick's step rule (the paper's 1,000 steps for
  // 60,000 images are about 20x this budget); 2,000 test images (the robustness curve on all 10,000 would take
  // about 45 min more: 5 models x 4 eps x 21 passes per image)
  full: { trainSize: 0, testSize: 2000, match: { size: 60000 } },
  paper: {
    dataset: "cifar10",
    trainSize: 0,
    testSize: 0,
    standard: PAPER_RECIPE,
    robust: { ...PAPER_RECIPE, eps: 0.5, steps: 7, stepSize: 0.1 },
    match: { size: 50000, steps: 1000, stepSize: 0.1, schedule: "constant", batchSize: 128 },
    fresh: PAPER_RECIPE,
    evalAttack: { steps: 20, curve: [0.25, 0.5, 1, 2] },
  },
  "paper-rimagenet": {
    dataset: RIMAGENET.dataset,
    imageSize: RIMAGENET.imageSize,
    trainSize: 0,
    testSize: 0,
    standard: RIMAGENET.recipe,
    robust: { ...RIMAGENET.recipe, eps: RIMAGENET.eps, steps: 7, stepSize: RIMAGENET.eps / 5 },
    // the paper's 1,000 steps of 0.1 at CIFAR-10's size, the step scaled to 224x224x3 (x 7, as epsScale does)
    match: { size: 0, steps: 1000, stepSize: 0.7, schedule: "constant", batchSize: 64 },
    fresh: RIMAGENET.recipe,
    evalAttack: { steps: 20, curve: [0.5, 1, 2, 3] },
  },
};

/** CLI description; the experiment id is this file's name. */
export const SPEC = defineExperiment<Config>(import.meta.url, {
  section: { of: "sec3_1", label: "Section 3.1 / Figure 2", order: 31 },
  description:
    "Section 3.1 / Figure 2: robust (D_R) and non-robust (D_NR) datasets by representation matching",
  defaults: DEFAULTS,
  presets: PRESETS,
  datasetKeys: {
    eps: ["robust.eps", "robust.stepSize", "match.stepSize", "evalAttack.curve"],
    arch: ["standard.arch", "robust.arch", "fresh.arch"],
    epochs: ["standard.epochs", "robust.epochs", "fresh.epochs"],
  },
  keys: {
    trainSize: { help: "training examples used for the source models (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("standard", "standard source model"),
    ...trainKeys("robust", "adversarially trained source model"),
    "robust.eps": { help: "L2 radius of adversarial training", above: 0 },
    "robust.steps": { help: "PGD steps of adversarial training", integer: true, min: 1 },
    "robust.stepSize": { help: "PGD step of adversarial training", above: 0 },
    "match.size": {
      help: "examples in D_R and D_NR and the control (0 = every training image)",
      integer: true,
      min: 0,
    },
    "match.steps": { help: "normalized gradient steps of eq. 5", integer: true, min: 1 },
    "match.stepSize": { help: "L2 length of each step (pixels)", above: 0 },
    "match.schedule": {
      help: "step length over the steps: constant, or cosine-decayed from match.stepSize to 0",
      choices: ["constant", "cosine"],
    },
    "match.start": {
      help: "x0: another training image (paper) or uniform noise (App. D.1)",
      choices: ["image", "noise"],
    },
    "match.batchSize": { help: "batch size of the construction", integer: true, min: 1 },
    "match.target": {
      help:
        "what eq. 5 matches: relu (g, true gradient), fake-relu (g, the last ReLU passes its gradient, as " +
        "the authors' code), preact (g's pre-activation)",
      choices: MATCH_TARGETS,
    },
    ...trainKeys("fresh", "fresh models trained on D_R, D_NR and the control"),
    freshSeeds: {
      help:
        "seeds of the fresh models (initial weights, data order, evaluation starts); mean and sd reported",
      integer: true,
      min: 1,
    },
    freshArchs: {
      help: "more architectures trained like fresh.arch on D_R, D_NR and the control (comma-separated)",
      choices: ARCHITECTURES,
    },
    "evalAttack.steps": {
      help: "PGD steps of the evaluation (step size 2.5 eps / steps)",
      integer: true,
      min: 1,
    },
    "evalAttack.curve": { help: "eps values of the robust-accuracy curve", above: 0 },
    "evalAttack.strongSteps": {
      help: "Auto-PGD steps (cross-entropy and DLR loss) on the examples PGD did not break (0 = PGD alone)",
      integer: true,
      min: 0,
    },
    "evalAttack.restarts": { help: "random starts of each Auto-PGD attack", integer: true, min: 1 },
    "evalAttack.headlineMax": {
      help: "headline eps = the smallest eps of the curve where the standard model is at most this accurate",
      min: 0,
      max: 1,
    },
  },
});

/** The models compared, in table order (with more fresh architectures, `d_r@vgg_small` etc. follow). */
export const MODELS = ["standard", "robust", "d_r", "d_nr", "control"] as const;
/** A model of the table: one of MODELS, or a fresh one `<set>@<arch>` for an architecture of freshArchs. */
export type ModelName = string;
const BASE_LABEL: Record<string, string> = {
  standard: "std training on D",
  robust: "adv training on D",
  d_r: "std training on D_R",
  d_nr: "std training on D_NR",
  control: "std training on a random subset of D (size of D_R)",
};
/** The table label of a model name. */
const label = (n: ModelName) => {
  const [set, arch] = n.split("@");
  return arch ? `${BASE_LABEL[set]}, ${arch}` : BASE_LABEL[set];
};
/** The short label of a model name in charts, where rows are narrow (D_R, "D_R, vgg_small"). */
const chartLabel = (n: ModelName) => {
  const [set, arch] = n.split("@");
  const names: Record<string, string> = { standard: "D, std training", robust: "D, adv training" };
  const short = names[set] ?? (set === "control" ? "control (D subset)" : set.toUpperCase());
  return arch ? `${short}, ${arch}` : short;
};
/** Every model of a run: the two sources, then D_R / D_NR / control for fresh.arch and each of freshArchs. */
export function modelNames(config: Pick<Config, "freshArchs">): ModelName[] {
  const fresh = ["d_r", "d_nr", "control"];
  return [...MODELS, ...config.freshArchs.flatMap((a) => fresh.map((f) => `${f}@${a}`))];
}

/** What main() returns (fractions). */
export interface Results {
  /** Accuracy at the headline eps (fresh models: the mean over seeds, with the sample sd). */
  models: Record<ModelName, { stdAcc: number; robustAcc: number; stdAccSd: number; robustAccSd: number }>;
  /** robustAcc: under every attack (PGD, then Auto-PGD CE + DLR); pgdRobustAcc: under PGD alone; fresh
   * models: the mean over freshSeeds seeds (sd, n). eps 0 = standard accuracy. */
  curve: {
    model: ModelName;
    eps: number;
    robustAcc: number;
    pgdRobustAcc?: number;
    sd?: number;
    n?: number;
  }[];
  /** The fresh models' curves, one per seed. */
  seedCurves: { model: ModelName; eps: number; robustAcc: number; pgdRobustAcc?: number; seed: number }[];
  /** Claim 2's measure: D_R minus the control in robust accuracy at the headline eps, per seed, with the mean
   * and its 95% interval (Student's t over the seeds). */
  claim2: { eps: number; diffs: number[]; mean: number; lo: number; hi: number; n: number };
  trainEps: number;
  /** The headline eps and the rule that chose it. */
  evalEps: number;
  evalEpsRule: string;
  representationDistance: { d_r: number; d_nr: number };
  setSize: number;
  start: string;
  /** Only with --plant.norm > 0 (the positive control): whom each model follows when a test image carries
   * class y + 1's pattern, and the pattern energy of each set (about plant.norm when it carries the pattern). */
  plant?: { norm: number; reliance: Record<ModelName, PatternReliance>; energy: Record<string, number> };
}

/** Runs the experiment and writes out/<id>/. */
export async function main(config: Config, opts: RunOptions = {}): Promise<Results> {
  const repeated = config.freshArchs.find((a, i) =>
    a === config.fresh.arch || config.freshArchs.indexOf(a) !== i
  );
  if (repeated) {
    throw new RangeError(
      `--freshArchs lists "${repeated}" twice or beside --fresh.arch=${config.fresh.arch}; give each architecture once`,
    );
  }
  return await runExperiment(SPEC, config, opts, async (run) => {
    const { train, test } = run.splits(config);
    const sources = await trainSources(run, train, test);
    const sets = await buildSets(run, sources, train);
    const names = modelNames(config), freshNames = names.filter((n) => n !== "standard" && n !== "robust");
    const sourceModels = { standard: sources.standard.model, robust: sources.robust.model };
    const curve = await robustnessCurve(sourceModels, ["standard", "robust"], test, config, config.seed);
    // the fresh models once per seed: each seed draws their initial weights, data order and the evaluation
    // attack's random starts; the sources, D_R, D_NR and the control set stay those of --seed
    const seedCurves: Results["seedCurves"] = [];
    let plant: Results["plant"];
    for (let i = 0; i < config.freshSeeds; i++) {
      const seed = freshSeed(config.seed, i);
      const fresh = await trainFresh(run, sets, seed);
      for (const p of await robustnessCurve(fresh, freshNames, test, config, seed)) {
        seedCurves.push({ ...p, seed });
      }
      if (i === 0 && run.plant) {
        plant = await plantControl(run.plant.patterns, { ...sourceModels, ...fresh }, names, test, sets);
      }
      for (const m of Object.values(fresh)) m.model.dispose();
    }
    curve.push(...meanOverSeeds(seedCurves));
    const { eps, rule } = headlineEps(curve, config.evalAttack);
    const point = (n: ModelName, e: number) => curve.find((p) => p.model === n && p.eps === e)!;
    const acc = Object.fromEntries(names.map((n) => [n, {
      stdAcc: point(n, 0).robustAcc,
      robustAcc: point(n, eps).robustAcc,
      stdAccSd: point(n, 0).sd ?? 0,
      robustAccSd: point(n, eps).sd ?? 0,
    }]));
    const perSeed = (n: ModelName) =>
      seedCurves.filter((p) => p.model === n && p.eps === eps).map((p) => p.robustAcc);
    const diffs = perSeed("d_r").map((v, i) => v - perSeed("control")[i]);
    const results: Results = {
      models: acc as Results["models"],
      curve,
      seedCurves,
      claim2: { eps, diffs, ...meanInterval95(diffs) },
      trainEps: config.robust.eps,
      evalEps: eps,
      evalEpsRule: rule,
      representationDistance: { d_r: sets.d_r.rel, d_nr: sets.d_nr.rel },
      setSize: sets.d_r.ref.split.n,
      start: config.match.start,
      ...(plant ? { plant } : {}),
    };
    await figures(run, sets, results);
    for (const m of Object.values(sourceModels)) m.model.dispose();
    return { results, summary: summarize(results, config) };
  });
}

/** The seed of fresh-model run i: --seed itself first (so a one-seed run is the run of before), then derived. */
export function freshSeed(seed: number, i: number): number {
  return i === 0 ? seed : deriveSeed(seed, `fresh-seed${i}`);
}

/** The curve of each fresh model averaged over seeds, with the sample sd and the number of seeds. */
function meanOverSeeds(points: Results["seedCurves"]): Results["curve"] {
  const groups = new Map<string, Results["seedCurves"]>();
  for (const p of points) {
    const k = `${p.model}|${p.eps}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups.values()].map((g) => {
    const r = meanSd(g.map((p) => p.robustAcc));
    const pgd = g.every((p) => p.pgdRobustAcc !== undefined)
      ? meanSd(g.map((p) => p.pgdRobustAcc!)).mean
      : undefined;
    return { model: g[0].model, eps: g[0].eps, robustAcc: r.mean, pgdRobustAcc: pgd, sd: r.sd, n: r.n };
  });
}

/** Step 1: the standard and the adversarially trained source models (cached; the standard one is sec3_2's). */
async function trainSources(run: Run<Config>, train: DataRef, test: Split) {
  const { config } = run;
  const common = { numClasses: run.data.info.numClasses, seed: config.seed, cache: config.cache };
  const standard = await trainSourceModel(train, test, {
    ...common,
    recipe: config.standard,
    role: "source",
    key: "standard",
  });
  const { eps, steps, stepSize, ...recipe } = config.robust;
  const robust = await trainSourceModel(train, test, {
    ...common,
    recipe,
    role: "robust",
    key: "robust",
    adversarial: { eps, steps, stepSize },
  });
  return { standard, robust };
}

/** Step 2: D_R (robust model), D_NR (standard model) from the same starts, and the size-matched control set. */
async function buildSets(
  run: Run<Config>,
  sources: Awaited<ReturnType<typeof trainSources>>,
  train: DataRef,
): Promise<{ d_r: MatchedSet; d_nr: MatchedSet; control: DataRef; x0: Float32Array; targets: Split }> {
  const { config } = run, classNames = run.data.info.classNames;
  const targets = firstN(train.split, config.match.size);
  const targetRef = { split: targets, id: { ...train.id, name: `train[:${targets.n}]`, n: targets.n } };
  const x0 = startingPoints(targets, train.split, {
    start: config.match.start,
    seed: deriveSeed(config.seed, "x0"),
  });
  const common = { x0, match: config.match, seed: config.seed, cache: config.cache, shard: run.common.shard };
  // both builds first: a --shard run builds its part of each, then stops
  const [d_r, d_nr] = await buildEach(
    [
      { source: sources.robust, name: "d_r", what: "robust model" },
      { source: sources.standard, name: "d_nr", what: "standard model" },
    ],
    common.shard,
    (b) => buildMatched(b.source, targetRef, { ...common, name: b.name, what: b.what }),
  );
  await exportDataset(run.outDir, "d_r", d_r.ref.split, { classNames });
  await exportDataset(run.outDir, "d_nr", d_nr.ref.split, { classNames });
  // the control: a seeded random subset of D as large as D_R, trained with D_R's recipe (exported too, so another
  // framework can train on both sides of the comparison)
  const pick = createRng(deriveSeed(config.seed, "control")).permutation(train.split.n).slice(0, targets.n);
  const control = derivedRef(
    train,
    "random_subset",
    `${config.seed}:${targets.n}`,
    subset(train.split, pick),
  );
  await exportDataset(run.outDir, "control", control.split, { classNames });
  return { d_r, d_nr, control, x0, targets };
}

/** Step 3: fresh standard models on D_R, D_NR and the control, all with the same recipe, for each architecture. */
async function trainFresh(run: Run<Config>, sets: Awaited<ReturnType<typeof buildSets>>, seed: number) {
  const { config } = run;
  const out: Record<ModelName, ZooModel> = {};
  for (const arch of [config.fresh.arch, ...config.freshArchs]) {
    const suffix = arch === config.fresh.arch ? "" : `@${arch}`;
    for (
      const [name, ref] of [["d_r", sets.d_r.ref], ["d_nr", sets.d_nr.ref], [
        "control",
        sets.control,
      ]] as const
    ) {
      out[name + suffix] = (await trainRecipe(ref, {
        numClasses: run.data.info.numClasses,
        seed,
        cache: config.cache,
        recipe: { ...config.fresh, arch },
        role: `fresh_${name}`,
        key: "fresh",
        title: `fresh standard ${arch} trained on ${name} (${ref.split.n} images)`,
      })).model;
    }
  }
  return out;
}

/** Step 4: standard accuracy (eps 0) and robust accuracy (untargeted L2 PGD) of every model at every eps. */
async function robustnessCurve(
  models: Record<ModelName, ZooModel>,
  names: ModelName[],
  test: Split,
  config: Config,
  seed: number,
) {
  const { steps, curve: eps, strongSteps, restarts } = config.evalAttack;
  phase(
    `evaluate: standard accuracy and robust accuracy (L2 PGD, ${steps} steps${
      strongSteps ? `, then Auto-PGD CE + DLR, ${strongSteps} steps x ${restarts}` : ""
    }) at eps ${eps.join(", ")}`,
  );
  const curve: Results["curve"] = [];
  for (const n of names) {
    curve.push({ model: n, eps: 0, robustAcc: (await evaluate(models[n], test)).acc });
    for (const e of eps) {
      const attack = {
        threat: "l2",
        eps: e,
        steps,
        stepSize: (2.5 * e) / steps,
        seed: deriveSeed(seed, "eval"),
        strong: strongSteps ? { steps: strongSteps, restarts } : null,
      };
      const r = await evaluate(models[n], test, { attack, label: `robust acc ${n} (eps ${e})` });
      curve.push({ model: n, eps: e, robustAcc: r.robustAcc!, pgdRobustAcc: r.pgdRobustAcc });
    }
  }
  return curve;
}

/** The positive control's measurements (planted data only): pattern reliance of every model, set energies. */
async function plantControl(
  patterns: Float32Array[],
  models: Record<ModelName, ZooModel>,
  names: ModelName[],
  test: Split,
  sets: Awaited<ReturnType<typeof buildSets>>,
): Promise<NonNullable<Results["plant"]>> {
  phase("positive control: whom each model follows when a test image carries another class's pattern");
  const reliance: Record<ModelName, PatternReliance> = {};
  for (const n of names) reliance[n] = await patternReliance(models[n], test, patterns);
  const energy = setEnergies({
    "targets x": sets.targets,
    "D_R": sets.d_r.ref.split,
    "D_NR": sets.d_nr.ref.split,
    "control": sets.control.split,
  }, patterns);
  return { norm: l2Norm(patterns[0]), reliance, energy };
}

/** The headline eps: the smallest eps of the curve where the standard model's robust accuracy <= `headlineMax`
 * (the largest eps when none is). */
export function headlineEps(
  curve: Results["curve"],
  opts: { curve: number[]; headlineMax: number },
): { eps: number; rule: string } {
  const rule = `smallest eps of the curve where the standard model is at most ${pct(opts.headlineMax)}`;
  const sorted = [...opts.curve].sort((a, b) => a - b);
  const std = (e: number) => curve.find((p) => p.model === "standard" && p.eps === e)!.robustAcc;
  const eps = sorted.find((e) => std(e) <= opts.headlineMax);
  return eps === undefined
    ? { eps: sorted[sorted.length - 1], rule: `${rule} (none is: the largest eps)` }
    : { eps, rule };
}

/** Step 5: Fig 2a (targets, starts, D_R, D_NR), Fig 2b bars and the robustness curve. */
async function figures(
  run: Run<Config>,
  sets: Awaited<ReturnType<typeof buildSets>>,
  r: Results,
): Promise<void> {
  phase("figures");
  const { targets, x0 } = sets, classNames = run.data.info.classNames;
  const [h, w, c] = targets.shape, d = imageSize(targets);
  const cell = (x: Float32Array, i: number, caption: string) => ({
    image: x.subarray(i * d, (i + 1) * d),
    h,
    w,
    c: c as 1 | 3,
    caption,
  });
  const rows = Array.from({ length: Math.min(8, targets.n) }, (_, i) => [
    cell(targets.x, i, classNames[targets.y[i]]),
    cell(x0, i, "start"),
    cell(sets.d_r.ref.split.x, i, `label ${classNames[targets.y[i]]}`),
    cell(sets.d_nr.ref.split.x, i, `label ${classNames[targets.y[i]]}`),
  ]);
  await writeFileAtomic(
    join(run.outDir, "fig2a.png"),
    imageGrid(rows, {
      colLabels: ["target x", "start x0", "D_R (robust)", "D_NR (standard)"],
      title: "Figure 2a: D_R keeps the robust model's features, D_NR the standard one's",
      scale: 3,
    }),
  );
  await saveChart(run.outDir, "fig2b", fig2bSpec(r, run.config));
  const names = Object.keys(r.models), kinds = names.map((n) => n.split("@")[0] as Meaning);
  await saveChart(run.outDir, "robust_curve", {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Robust accuracy vs L2 eps (App. D.2)",
    data: {
      values: r.curve.map((p) => ({
        ...p,
        model: chartLabel(p.model),
        arch: p.model.split("@")[1] ?? run.config.fresh.arch,
        robustAcc: 100 * p.robustAcc,
      })),
    },
    width: 300,
    height: 220,
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "eps", type: "quantitative", title: "L2 eps" },
      y: { field: "robustAcc", type: "quantitative", title: "accuracy (%)", scale: { domain: [0, 100] } },
      color: {
        field: "model",
        type: "nominal",
        title: null,
        scale: colorScale(names.map((n, i) => [chartLabel(n), kinds[i]])),
        legend: { orient: "bottom", columns: 1 },
      },
      // a fresh architecture's models share their set's colour, in another dash
      strokeDash: { field: "arch", type: "nominal", legend: null, sort: [run.config.fresh.arch] },
    },
  });
}

/**
 * Figure 2b: standard and robust test accuracy of each model, ours beside the paper's (CIFAR-10), one panel per
 * accuracy; the same chart in the report (the summary's) and in fig2b.png.
 */
export function fig2bSpec(
  r: Pick<Results, "models" | "evalEps">,
  config: Pick<Config, "dataset" | "evalAttack">,
): Record<string, unknown> {
  const paper = FIG2B.models as Record<string, { stdAcc: number; robustAcc: number }>;
  const std = "standard accuracy", rob = `robust accuracy (ours: L2 eps ${r.evalEps}; paper: ${FIG2B.eps})`;
  return oursVsPaperBars(
    {
      text: `Figure 2b: standard and robust test accuracy`,
      subtitle:
        `ours: ${config.dataset}, robust under L2 PGD (${config.evalAttack.steps} steps); paper: CIFAR-10`,
    },
    Object.keys(r.models).flatMap((n) => {
      const ours = r.models[n], theirs = paper[n], row = chartLabel(n);
      return [
        { label: row, source: "ours" as const, value: 100 * ours.stdAcc, panel: std },
        ...(theirs ? [{ label: row, source: "paper" as const, value: 100 * theirs.stdAcc, panel: std }] : []),
        { label: row, source: "ours" as const, value: 100 * ours.robustAcc, panel: rob },
        ...(theirs
          ? [{ label: row, source: "paper" as const, value: 100 * theirs.robustAcc, panel: rob }]
          : []),
      ];
    }),
    "test accuracy (%)",
    { domain: [0, 100] },
  );
}

/** The positive control's tables: pattern reliance per model, pattern energy per set. */
function plantTables(p: NonNullable<Results["plant"]>, names: ModelName[]) {
  return [
    {
      caption:
        `Positive control (planted class patterns of L2 norm ${p.norm.toFixed(2)}): test images carrying ` +
        "class y + 1's pattern instead of their own; a model that learned the pattern follows it",
      headers: ["model", "predicts y + 1 (follows the pattern)", "predicts y (follows the content)"],
      rows: names.map((
        n,
      ) => [label(n), pct(p.reliance[n].followsPattern), pct(p.reliance[n].followsContent)]),
    },
    {
      caption: `Pattern energy of each set (projection on its label's pattern minus the others'; a planted ` +
        `image carries about ${p.norm.toFixed(2)}, one without the pattern about 0)`,
      headers: ["set", "pattern energy"],
      rows: Object.entries(p.energy).map(([k, v]) => [k, v.toFixed(3)]),
    },
  ];
}

/** A fraction as a signed difference in percentage points: +12.3 points. */
const points = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} points`;

/** "mean% +- sd" when there are several seeds, else the percentage. */
const withSd = (v: number | undefined, sd: number, n: number) =>
  n > 1 && v !== undefined ? `${pct(v)} ± ${(100 * sd).toFixed(1)}` : pct(v);

/**
 * Claim 2's verdict at the headline eps, by a criterion fixed before the numbers (issue 29): "reproduces" when D_R
 * beats the size-matched control by >= 20 points on average with the 95% interval above 0, reaches >= 0.6x the
 * adversarially trained model's robust accuracy, and keeps >= 80% standard accuracy; "partly" when D_R beats the
 * control with the interval above 0 (or, with one seed, by >= 5 points); "does not" otherwise.
 */
export function claim2Verdict(r: Pick<Results, "claim2" | "models">): {
  verdict: Verdict;
  criterion: string;
} {
  const criterion =
    "reproduces: D_R - control >= +20 points with the 95% interval above 0, D_R robust >= 0.6x " +
    "the adversarially trained model's, D_R std acc >= 80%; partly: the interval above 0 (one seed: >= +5 points)";
  const c = r.claim2, dr = r.models.d_r, adv = r.models.robust;
  const above = c.n > 1 ? c.lo > 0 : c.mean >= 0.05;
  if (above && c.mean >= 0.2 && dr.robustAcc >= 0.6 * adv.robustAcc && dr.stdAcc >= 0.8) {
    return { verdict: "reproduces", criterion };
  }
  return { verdict: above ? "partly" : "does not", criterion };
}

/**
 * Claim 3's verdict, by a criterion fixed before the numbers: "reproduces" when the D_NR model reaches >= 80%
 * standard accuracy with robust accuracy at the headline eps no higher than the control's; "partly" when it
 * reaches >= 50% with that robustness; "does not" otherwise.
 */
export function claim3Verdict(r: Pick<Results, "models">): { verdict: Verdict; criterion: string } {
  const criterion = "reproduces: D_NR std acc >= 80% and robust acc <= the control's at the headline eps; " +
    "partly: std acc >= 50% and robust <= control's";
  const d = r.models.d_nr, weak = d.robustAcc <= r.models.control.robustAcc;
  return {
    verdict: weak && d.stdAcc >= 0.8 ? "reproduces" : weak && d.stdAcc >= 0.5 ? "partly" : "does not",
    criterion,
  };
}

/** Fig 2b beside the paper's, the robustness curve as a table, and what the control says. */
export function summarize(r: Results, config: Pick<Config, "dataset" | "evalAttack">): SectionSummary {
  const paper = FIG2B.models as Record<string, { stdAcc: number; robustAcc: number }>;
  const epsList = [...config.evalAttack.curve].sort((a, b) => a - b);
  const at = (n: ModelName, e: number) => r.curve.find((p) => p.model === n && p.eps === e)?.robustAcc;
  const names = Object.keys(r.models);
  const seedsOf = (n: ModelName) => r.curve.find((p) => p.model === n && p.eps === 0)?.n ?? 1;
  const verdict = claim2Verdict(r), v3 = claim3Verdict(r);
  const seeds = `${r.claim2.n} seed${r.claim2.n === 1 ? "" : "s"}`;
  const claims: Claim[] = [
    {
      name:
        "claim 2: standard training on D_R gives robustness (beyond a random subset of D of the same size)",
      paper: `D_R ${pct(FIG2B.models.d_r.robustAcc)} vs D ${
        pct(FIG2B.models.standard.robustAcc)
      } at eps ${FIG2B.eps}`,
      ours: `D_R - control ${points(r.claim2.mean)} (95% ${points(r.claim2.lo)} to ${
        points(r.claim2.hi)
      }, ${seeds}) at eps ${r.evalEps}; D_R ${pct(r.models.d_r.robustAcc)}, adversarial ${
        pct(r.models.robust.robustAcc)
      }`,
      ...verdict,
    },
    {
      name: "claim 3: standard training on D_NR gives accuracy without robustness",
      paper: `D_NR ${pct(FIG2B.models.d_nr.stdAcc)} std, ${pct(FIG2B.models.d_nr.robustAcc)} robust`,
      ours: `D_NR ${pct(r.models.d_nr.stdAcc)} std, ${pct(r.models.d_nr.robustAcc)} robust (control ${
        pct(r.models.control.robustAcc)
      }) at eps ${r.evalEps}`,
      ...v3,
    },
  ];
  return {
    claims,
    headline: "robust and non-robust datasets",
    claim:
      "Standard training on D_R gives robustness; standard training on D_NR gives accuracy without robustness.",
    tables: [
      {
        caption:
          `Standard and robust test accuracy (${config.dataset}); headline eps ${r.evalEps}: ${r.evalEpsRule}. ` +
          `D_R, D_NR and the control have ${r.setSize} images each; fresh models: mean +- sd over ` +
          `${r.claim2.n} seed${
            r.claim2.n === 1 ? "" : "s"
          } (initial weights, data order, evaluation starts).`,
        headers: [
          "model",
          "std acc (ours)",
          `robust acc, eps ${r.evalEps} (ours)`,
          "std acc (paper)",
          `robust acc, eps ${FIG2B.eps} (paper)`,
        ],
        rows: names.map((n) => [
          label(n),
          withSd(r.models[n].stdAcc, r.models[n].stdAccSd, seedsOf(n)),
          withSd(r.models[n].robustAcc, r.models[n].robustAccSd, seedsOf(n)),
          pct(paper[n]?.stdAcc),
          pct(paper[n]?.robustAcc),
        ]),
      },
      {
        caption: config.evalAttack.strongSteps
          ? `Robust accuracy over eps: L2 PGD (${config.evalAttack.steps} steps), then Auto-PGD with the ` +
            `cross-entropy and the DLR loss (${config.evalAttack.strongSteps} steps, ${config.evalAttack.restarts} ` +
            "random start each) on what PGD left; in brackets PGD alone"
          : `Robust accuracy over eps (untargeted L2 PGD, ${config.evalAttack.steps} steps)`,
        headers: ["model", ...epsList.map((e) => `eps ${e}`)],
        rows: names.map((n) => [
          label(n),
          ...epsList.map((e) => {
            const c = r.curve.find((c) => c.model === n && c.eps === e);
            const cell = withSd(at(n, e), c?.sd ?? 0, c?.n ?? 1);
            return config.evalAttack.strongSteps && c?.pgdRobustAcc !== undefined
              ? `${cell} (${pct(c.pgdRobustAcc)})`
              : cell;
          }),
        ]),
      },
      ...(r.plant ? plantTables(r.plant, names) : []),
    ],
    charts: [fig2bSpec(r, config)],
    figures: ["fig2a.png", "robust_curve.png"],
    notes: [
      `representation distance reached (relative): D_R ${r.representationDistance.d_r.toFixed(3)}, D_NR ${
        r.representationDistance.d_nr.toFixed(3)
      }`,
      `D_R vs the size-matched control at eps ${r.evalEps}: ${pct(r.models.d_r.robustAcc)} vs ${
        pct(r.models.control.robustAcc)
      } (claim 2 needs D_R above the control, not only above the standard model)`,
      `claim 2 verdict: ${verdict.verdict} (D_R - control ${points(r.claim2.mean)}, 95% interval ${
        points(r.claim2.lo)
      } to ${points(r.claim2.hi)} over ${r.claim2.n} seed${
        r.claim2.n === 1 ? "" : "s"
      }; criterion: ${verdict.criterion})`,
    ],
  };
}

if (import.meta.main) cli(SPEC, main);
