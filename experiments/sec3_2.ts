// Section 3.2 / Table 1: non-robust features suffice for standard classification (D_rand, D_det).
//
// From a standard source model C, each training image x is pushed by targeted L2 PGD (eq. 6) toward a target
// class t = rule(y) (uniform over the other classes for D_rand, t = (y+1) mod C for D_det) and relabelled as t.
// A fresh model trained on these "mislabelled" images is then tested on the original, unmodified test set.
// To try another rule: copy this file, `registerRelabelRule("my_rule", (y, C, rng) => ...)`, --variants=my_rule.
import { table1Claim } from "../lib/run/claims.ts";
import { cli, defineExperiment, type ExperimentConfig, runExperiment } from "../lib/run/experiment.ts";
import type { RunOptions } from "../lib/run/experiment.ts";
import { buildRelabelled, type DataRef, type RelabelledSet } from "../lib/run/pipeline.ts";
import { trainRecipe, trainSourceModel } from "../lib/run/pipeline.ts";
import { attackKeys, PAPER_RECIPE, RELABEL_ATTACK_FULL, RELABEL_ATTACK_PAPER } from "../lib/run/recipes.ts";
import { RIMAGENET, SMOKE, SOURCE_RELABEL, TRAIN_DEFAULTS, TRAIN_SIZE_QUICK } from "../lib/run/recipes.ts";
import { trainKeys } from "../lib/run/recipes.ts";
import { key } from "../lib/run/schema.ts";
import { phase } from "../lib/util/progress.ts";
import { RELABEL_RULES } from "../lib/core/relabel.ts";
import { relabelGrid } from "../lib/report/grid.ts";
import { pct } from "../lib/run/summary.ts";
import { type Results, type SetResult, summarize } from "../lib/report/sec3_2.ts";
import { stableStringify } from "../lib/run/cache.ts";
import { buildEach } from "../lib/run/shard.ts";
import { accuracy, evaluate, predict } from "../lib/core/train.ts";
import { halfwayShift, nextClassRate, patternReliance, relabelledEnergy } from "../lib/core/control.ts";

export { type Results, type SetResult, summarize } from "../lib/report/sec3_2.ts";

/** The experiment's keys after the common ones, each declared once: default (= the quick preset: Fashion-MNIST,
 * minutes on 2 cores), help, bounds and dataset role (lib/run/schema.ts). */
const SCHEMA = {
  /** Training examples used (source model, and the ones perturbed); 0 = all. */
  trainSize: key(TRAIN_SIZE_QUICK, { help: "training examples used (0 = all)", integer: true, min: 0 }),
  /** Test examples evaluated; 0 = all. */
  testSize: key(0, { help: "test examples evaluated (0 = all)", integer: true, min: 0 }),
  /** Standard source model C. */
  source: trainKeys("standard source model", SOURCE_RELABEL),
  /** Targeted L2 PGD of eq. 6. */
  attack: attackKeys("the targeted attack"),
  /** Fresh models trained on D and on each relabelled set. */
  fresh: trainKeys("fresh models trained on D and each relabelled set", { ...TRAIN_DEFAULTS, epochs: 5 }),
  /** Relabelling rules to build (registered names, lib/core/relabel.ts). */
  variants: key(["d_rand", "d_det"], {
    help: "relabelling rules to build (registered in lib/core/relabel.ts or by a fork), each once",
    check: RELABEL_RULES.check,
    // a repeated rule would build and train the same set twice
    distinct: true,
  }),
};

/** Configuration of the Section 3.2 experiment. */
export type Config = ExperimentConfig<typeof SCHEMA>;

/** CLI description; the experiment id (out dir, report section) is this file's name. */
export const SPEC = defineExperiment(import.meta.url, {
  section: { of: "sec3_2", label: "Section 3.2 / Table 1", order: 32 },
  description:
    "Section 3.2 / Table 1: train on adversarially relabelled data (D_rand, D_det), test on the original test set",
  schema: SCHEMA,
  // smoke (tests), quick (default), paper (CIFAR-10, ResNet-50, the paper's protocol)
  presets: {
    smoke: { ...SMOKE, testSize: 300, fresh: { epochs: 2 }, cache: false },
    quick: {},
    // all 60,000 training images, the quick source recipe (SOURCE_RELABEL: 2 epochs) and attack; shares its source
    // model and D_det with sec3_3's full
    full: { trainSize: 0, attack: RELABEL_ATTACK_FULL },
    paper: {
      dataset: "cifar10",
      trainSize: 0,
      source: PAPER_RECIPE,
      attack: RELABEL_ATTACK_PAPER,
      fresh: PAPER_RECIPE,
    },
    "paper-rimagenet": {
      dataset: RIMAGENET.dataset,
      imageSize: RIMAGENET.imageSize,
      trainSize: 0,
      source: RIMAGENET.recipe,
      attack: RIMAGENET.attack,
      fresh: RIMAGENET.recipe,
    },
  },
  seeded: (runs) => Promise.resolve({ claims: [table1Claim(...(runs as Results[]))] }),
});
/** Defaults (the quick preset) and the named presets, derived from the schema. */
export const { defaults: DEFAULTS, presets: PRESETS } = SPEC;

/**
 * Runs the experiment end to end and writes out/<id>/. A fork that only adds a relabelling rule can pass its own
 * `spec` (experiments/examples/d_shift2.ts) instead of copying this file.
 */
export function main(config: Config, opts: RunOptions = {}, spec = SPEC): Promise<Results> {
  return runExperiment(spec, config, opts, async (run) => {
    const { info } = run.data, { common } = run, { train, test } = run.splits(config);
    const src = { ...common, recipe: config.source, role: "source" as const, key: "source" };
    const source = run.track(await trainSourceModel(train, test, src));

    // each variant's set first (a --shard run builds its part of each, then stops), then the exports
    const built: Record<string, RelabelledSet> = {};
    await buildEach(config.variants, common.shard, async (rule) => {
      built[rule] = await buildRelabelled(source, train, { ...common, rule, attack: config.attack });
    });
    for (const rule of config.variants) await run.exportSet(rule, built[rule].ref.split);

    // Table 1's first row trains the fresh recipe on D; with the source recipe that is the source model itself.
    const sets: [string, DataRef][] = [
      ["d", train],
      ...config.variants.map((v) => [v, built[v].ref] as [string, DataRef]),
    ];
    const results: Results = {
      sets: {},
      sourceTestAcc: source.testAcc,
      eps: config.attack.eps,
      steps: config.attack.steps,
      stepSize: config.attack.stepSize,
      eot: config.attack.eot,
      finish: config.attack.finish,
      nTrain: train.split.n,
      nTest: test.n,
      numClasses: common.numClasses,
      // the positive control needs a source that relies on the pattern: say how much it does
      ...(run.plant ? { sourceReliance: await patternReliance(source.model, test, run.plant.patterns) } : {}),
    };
    // each set's fresh model (a shard run that gets here starts on its own set: unitOrder())
    const perSet = await buildEach(sets, common.shard, async ([name, set]): Promise<SetResult> => {
      const reuse = name === "d" && stableStringify(config.fresh) === stableStringify(config.source);
      const fresh = reuse ? source : run.track(
        await trainRecipe(set, {
          ...common,
          recipe: config.fresh,
          role: name === "d" ? "source" : `fresh_${name}`,
          key: "fresh",
          title: `fresh ${config.fresh.arch} trained on ${name}`,
        }),
      );
      const pred = await predict(fresh.model, test);
      const r: SetResult = { testAcc: accuracy(pred, test.y) };
      if (name !== "d") {
        r.trainAcc = (await evaluate(fresh.model, set.split)).acc;
        r.attackSuccess = built[name].attackSuccess;
        r.meanDeltaL2 = built[name].meanDeltaL2;
        r.kept = built[name].kept;
        r.nextClass = nextClassRate(pred, test.y, common.numClasses);
        if (run.plant) {
          r.energy = relabelledEnergy(set.split, built[name].original, run.plant.patterns);
          r.reliance = await patternReliance(
            fresh.model,
            test,
            run.plant.patterns,
            halfwayShift(common.numClasses),
          );
        }
      }
      console.error(`${name}: test accuracy on the original test set ${pct(r.testAcc)}`);
      if (fresh !== source) run.release(fresh);
      return r;
    });
    sets.forEach(([name], i) => results.sets[name] = perSet[i]);

    phase("figures");
    const variants = Object.fromEntries(Object.entries(built).map(([k, b]) => [k, b.ref.split]));
    await run.writeFile("fig_relabelled.png", relabelGrid(train.split, variants, info.classNames));
    return { results, summary: summarize(results, config) };
  });
}

if (import.meta.main) cli(SPEC, main);
