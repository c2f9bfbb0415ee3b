// Section 3.1 / Figure 2: disentangling robust and non-robust features by representation matching.
//
// A standard and an adversarially trained (L2 PGD) source model; D_R (from the robust model) and D_NR (from the
// standard model) by minimizing ||g(x_r) - g(x)||_2 (eq. 5) from a start x0 (another training image, or noise);
// fresh standard models trained on D_R and D_NR, and a control trained on a random subset of D of the same
// size with the same recipe; standard and robust test accuracy of all of them.
import { firstN, subset } from "../lib/data/batch.ts";
import { plantMeasures } from "../lib/core/control.ts";
import { ARCHITECTURES } from "../lib/core/models.ts";
import { cli, defineExperiment, type ExperimentConfig } from "../lib/run/experiment.ts";
import { type Run, runExperiment, type RunOptions } from "../lib/run/experiment.ts";
import { buildMatched, type DataRef, derivedRef } from "../lib/run/pipeline.ts";
import { type SourceModel, startingPoints, trainRecipe, trainSourcePair } from "../lib/run/pipeline.ts";
import { checkArchList, EVAL_ATTACK_KEYS, MATCH_KEYS, PAPER_RECIPE, RIMAGENET } from "../lib/run/recipes.ts";
import { SMOKE, SOURCE_PAIR, TRAIN_DEFAULTS, TRAIN_SIZE_QUICK, trainKeys } from "../lib/run/recipes.ts";
import { key } from "../lib/run/schema.ts";
import { accuracyAt, freshSeed, headlineEps, meanOverSeeds } from "../lib/run/robustness.ts";
import { type CurvePoint, type HashedModel, robustnessCurve, seedMargin } from "../lib/run/robustness.ts";
import { buildEach } from "../lib/run/shard.ts";
import { saveChart } from "../lib/report/charts.ts";
import { energySets, fig2aGrid, fig2bSpec, type ModelName, modelNames } from "../lib/report/sec3_1.ts";
import { type Results, robustCurveSpec, summarize } from "../lib/report/sec3_1.ts";
import { phase } from "../lib/util/progress.ts";
import { createRng, deriveSeed } from "../lib/util/rng.ts";

export { MODELS, type Results, summarize } from "../lib/report/sec3_1.ts";

/** The experiment's keys after the common ones, each declared once (lib/run/schema.ts); defaults = the quick
 * preset (Fashion-MNIST). */
const SCHEMA = {
  trainSize: key(TRAIN_SIZE_QUICK, {
    help: "training examples used for the source models (0 = all)",
    integer: true,
    min: 0,
  }),
  testSize: key(1000, { help: "test examples evaluated (0 = all)", integer: true, min: 0 }),
  // `standard`: the standard source model (sec3_2's source recipe, so the cached model is shared); `robust`: the
  // adversarially trained one, the recipe plus L2 PGD inside the loop (sec2's too; lib/run/recipes.ts)
  ...SOURCE_PAIR.keys,
  /** Representation matching (eq. 5), with the quick values of lib/run/recipes.ts MATCH_KEYS. */
  match: MATCH_KEYS,
  /** Fresh standard models trained on D_R, D_NR and the size-matched control. */
  fresh: trainKeys("fresh models trained on D_R, D_NR and the control", { ...TRAIN_DEFAULTS, epochs: 10 }),
  /** More architectures trained the same way on D_R, D_NR and the control (the paper: the same results hold). */
  freshArchs: key([] as string[], {
    help: "more architectures trained like fresh.arch on D_R, D_NR and the control (comma-separated)",
    choices: ARCHITECTURES,
  }),
  /** Seeds of the fresh models (each: initial weights, data order, evaluation starts); the mean and spread are
   * reported. */
  freshSeeds: key(3, {
    help: "seeds of the fresh models (initial weights, data order, evaluation starts); mean and sd reported",
    integer: true,
    min: 1,
  }),
  /** Robust evaluation: L2 PGD over eps, then Auto-PGD; the headline eps (lib/run/recipes.ts EVAL_ATTACK_KEYS). */
  evalAttack: EVAL_ATTACK_KEYS,
};

/** Configuration of the Section 3.1 experiment. */
export type Config = ExperimentConfig<typeof SCHEMA>;

/** CLI description; the experiment id is this file's name. */
export const SPEC = defineExperiment(import.meta.url, {
  section: { of: "sec3_1", label: "Section 3.1 / Figure 2", order: 31 },
  description:
    "Section 3.1 / Figure 2: robust (D_R) and non-robust (D_NR) datasets by representation matching",
  schema: SCHEMA,
  // smoke (tests), quick (default), full, paper (CIFAR-10, ResNet-50, the paper's protocol)
  presets: {
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
      ...SOURCE_PAIR.paper,
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
  },
});
/** Defaults (the quick preset) and the named presets, derived from the schema. */
export const { defaults: DEFAULTS, presets: PRESETS } = SPEC;

/** Runs the experiment and writes out/<id>/. */
export async function main(config: Config, opts: RunOptions = {}): Promise<Results> {
  checkArchList(config.freshArchs, { key: "freshArchs", beside: ["fresh.arch", config.fresh.arch] });
  return await runExperiment(SPEC, config, opts, async (run) => {
    const { train, test, testRef } = run.splits(config), attack = config.evalAttack;
    // Step 1: the standard and the adversarially trained source models (cached; the standard one is sec3_2's)
    const { standard, robust } = await trainSourcePair(train, test, { ...run.common, recipes: config });
    const sourceModels = { standard: run.track(standard), robust: run.track(robust) };
    const sets = await buildSets(run, { standard, robust }, train), names = modelNames(config);
    // Steps 3 and 4: standard and robust accuracy over eps of the sources, and of the fresh models once per seed
    // (each seed draws their initial weights, data order and the evaluation's random starts; the sources, D_R,
    // D_NR and the control set stay those of --seed). Every evaluation is cached; a --shard run builds its part
    // of each, then stops.
    const evalOpts = { attack, cache: config.cache, shard: run.common.shard };
    let plant: Results["plant"];
    const [curve, ...seedRuns] = await buildEach(
      [null, ...Array.from({ length: config.freshSeeds }, (_, i) => i)],
      run.common.shard,
      async (i): Promise<CurvePoint[]> => {
        if (i === null) {
          return await robustnessCurve(sourceModels, testRef, { ...evalOpts, seed: config.seed });
        }
        const seed = freshSeed(config.seed, i), fresh = await trainFresh(run, sets, seed);
        try {
          const points = await robustnessCurve(fresh, testRef, { ...evalOpts, seed });
          if (i === 0 && run.plant) {
            const measured = { names, sets: energySets(sets), patterns: run.plant.patterns };
            const models = Object.fromEntries(
              Object.entries({ ...sourceModels, ...fresh }).map(([n, m]) => [n, m.model]),
            );
            plant = await plantMeasures(models, test, measured);
          }
          return points;
        } finally {
          for (const m of Object.values(fresh)) run.release(m);
        }
      },
    );
    const seedCurves = seedRuns.flatMap((points, i) =>
      points.map((p) => ({ ...p, seed: freshSeed(config.seed, i) }))
    );
    curve.push(...meanOverSeeds(seedCurves));
    const { eps, rule } = headlineEps(curve, attack);
    const results: Results = {
      models: accuracyAt(curve, { names, eps }),
      curve,
      seedCurves,
      // claim 2's measure: D_R minus the size-matched control in robust accuracy at the headline eps, per seed
      claim2: seedMargin(seedCurves, { model: "d_r", minus: "control", eps }),
      trainEps: config.robust.eps,
      evalEps: eps,
      evalEpsRule: rule,
      representationDistance: { d_r: sets.d_r.rel, d_nr: sets.d_nr.rel },
      setSize: sets.d_r.ref.split.n,
      start: config.match.start,
      ...(plant ? { plant } : {}),
    };
    // Step 5: Fig 2a (targets, starts, D_R, D_NR), Fig 2b bars and the robustness curve
    phase("figures");
    await run.writeFile("fig2a.png", fig2aGrid(sets, run.data.info.classNames));
    await saveChart(run.outDir, "fig2b", fig2bSpec(results, config));
    await saveChart(run.outDir, "robust_curve", robustCurveSpec(results, config.fresh.arch));
    return { results, summary: summarize(results, config) };
  });
}

/** Step 2: D_R (robust model), D_NR (standard model) from the same starts, and the size-matched control set. */
async function buildSets(run: Run<Config>, sources: Record<string, SourceModel>, train: DataRef) {
  const { match } = run.config, { seed, cache, shard } = run.common;
  const targets = firstN(train.split, match.size);
  const targetRef = { split: targets, id: { ...train.id, name: `train[:${targets.n}]`, n: targets.n } };
  const x0 = startingPoints(targets, train.split, { start: match.start, seed: deriveSeed(seed, "x0") });
  const common = { x0, match, seed, cache, shard };
  // both builds first: a --shard run builds its part of each, then stops
  const [d_r, d_nr] = await buildEach(
    [
      { source: sources.robust, name: "d_r", what: "robust model" },
      { source: sources.standard, name: "d_nr", what: "standard model" },
    ],
    shard,
    (b) => buildMatched(b.source, targetRef, { ...common, name: b.name, what: b.what }),
  );
  await run.exportSet("d_r", d_r.ref.split);
  await run.exportSet("d_nr", d_nr.ref.split);
  // the control: a seeded random subset of D as large as D_R, trained with D_R's recipe (exported too, so another
  // framework can train on both sides of the comparison)
  const pick = createRng(deriveSeed(seed, "control")).permutation(train.split.n).slice(0, targets.n);
  const control = derivedRef(train, "random_subset", `${seed}:${targets.n}`, subset(train.split, pick));
  await run.exportSet("control", control.split);
  return { d_r, d_nr, control, x0, targets };
}

/** Step 3: fresh standard models on D_R, D_NR and the control, all with the same recipe, for each architecture. */
async function trainFresh(run: Run<Config>, sets: Awaited<ReturnType<typeof buildSets>>, seed: number) {
  const { config } = run, out: Record<ModelName, HashedModel> = {};
  const from = { d_r: sets.d_r.ref, d_nr: sets.d_nr.ref, control: sets.control };
  for (const arch of [config.fresh.arch, ...config.freshArchs]) {
    const suffix = arch === config.fresh.arch ? "" : `@${arch}`;
    for (const [name, ref] of Object.entries(from)) {
      out[name + suffix] = run.track(
        await trainRecipe(ref, {
          ...run.common,
          seed,
          recipe: { ...config.fresh, arch },
          role: `fresh_${name}`,
          key: "fresh",
          title: `fresh standard ${arch} trained on ${name} (${ref.split.n} images)`,
        }),
      );
    }
  }
  return out;
}

if (import.meta.main) cli(SPEC, main);
