// Section 3.2 / Table 1: non-robust features suffice for standard classification (D_rand, D_det).
//
// From a standard source model C, each training image x is pushed by targeted L2 PGD (eq. 6) toward a target
// class t = rule(y) (uniform over the other classes for D_rand, t = (y+1) mod C for D_det) and relabelled as t.
// A fresh model trained on these "mislabelled" images is then tested on the original, unmodified test set.
// To try another rule: copy this file, `registerRelabelRule("my_rule", (y, C, rng) => ...)`, --variants=my_rule.
import { table1Claim } from "../lib/run/claims.ts";
import type { DeepPartial } from "../lib/run/config.ts";
import {
  cli,
  COMMON_DEFAULTS,
  type CommonConfig,
  defineExperiment,
  runExperiment,
  type RunOptions,
} from "../lib/run/experiment.ts";
import { TABLE1 } from "../lib/run/paper.ts";
import {
  buildRelabelled,
  type DataRef,
  type RelabelledSet,
  trainRecipe,
  trainSourceModel,
} from "../lib/run/pipeline.ts";
import {
  type AttackConfig,
  attackKeys,
  eotText,
  finishText,
  PAPER_RECIPE,
  RELABEL_ATTACK_FULL,
  RELABEL_ATTACK_PAPER,
  RELABEL_ATTACK_QUICK,
  RIMAGENET,
  SMOKE,
  SOURCE_QUICK,
  TRAIN_DEFAULTS,
  TRAIN_SIZE_QUICK,
  type TrainConfig,
  trainKeys,
} from "../lib/run/recipes.ts";
import { phase } from "../lib/util/progress.ts";
import { RELABEL_RULES } from "../lib/core/relabel.ts";
import { relabelGrid } from "../lib/report/grid.ts";
import { numCell, oursVsPaperBars, pct, pctCell, type SectionSummary } from "../lib/run/summary.ts";
import { stableStringify } from "../lib/run/cache.ts";
import { buildEach } from "../lib/run/shard.ts";
import { evaluate, predict } from "../lib/core/train.ts";
import { nextClassRate, relabelledEnergy } from "../lib/core/control.ts";

/** Configuration of the Section 3.2 experiment. */
export interface Config extends CommonConfig {
  /** Training examples used (source model, and the ones perturbed); 0 = all. */
  trainSize: number;
  /** Test examples evaluated; 0 = all. */
  testSize: number;
  /** Standard source model C. */
  source: TrainConfig;
  /** Targeted L2 PGD of eq. 6. */
  attack: AttackConfig;
  /** Fresh models trained on D and on each relabelled set. */
  fresh: TrainConfig;
  /** Relabelling rules to build (registered names, lib/core/relabel.ts). */
  variants: string[];
}

/** Defaults = the quick preset (Fashion-MNIST, minutes on 2 cores). */
export const DEFAULTS: Config = {
  ...COMMON_DEFAULTS,
  trainSize: TRAIN_SIZE_QUICK,
  testSize: 0,
  source: SOURCE_QUICK,
  attack: RELABEL_ATTACK_QUICK,
  fresh: { ...TRAIN_DEFAULTS, epochs: 5 },
  variants: ["d_rand", "d_det"],
};

/** Named presets: smoke (tests), quick (default), paper (CIFAR-10, ResNet-50, the paper's protocol). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: { ...SMOKE, testSize: 300, fresh: { epochs: 2 }, cache: false },
  quick: {},
  // all 60,000 training images, the quick attack; shares its source model and D_det with sec3_3's full
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
};

/** CLI description; the experiment id (out dir, report section) is this file's name. */
export const SPEC = defineExperiment<Config>(import.meta.url, {
  section: { of: "sec3_2", label: "Section 3.2 / Table 1", order: 32 },
  description:
    "Section 3.2 / Table 1: train on adversarially relabelled data (D_rand, D_det), test on the original test set",
  defaults: DEFAULTS,
  presets: PRESETS,
  datasetKeys: {
    eps: ["attack.eps", "attack.stepSize"],
    arch: ["source.arch", "fresh.arch"],
    epochs: ["source.epochs", "fresh.epochs"],
  },
  keys: {
    trainSize: { help: "training examples used (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("source", "standard source model"),
    ...attackKeys("attack", "the targeted attack"),
    ...trainKeys("fresh", "fresh models trained on D and each relabelled set"),
    variants: {
      help: "relabelling rules to build (registered in lib/core/relabel.ts or by a fork), each once",
      check: RELABEL_RULES.check,
      // a repeated rule would build and train the same set twice
      distinct: true,
    },
  },
  seeded: (runs) => Promise.resolve({ claims: [table1Claim(...(runs as Results[]))] }),
});

/** Per-set numbers (fractions); `d` is the unmodified training set. */
export interface SetResult {
  testAcc: number;
  trainAcc?: number;
  attackSuccess?: number;
  meanDeltaL2?: number;
  /** Examples trained on (fewer than nTrain when the attack's failures are dropped). */
  kept?: number;
  /** Share of test predictions that are (y + 1) mod C: D_det's rule learned from the features of y. */
  nextClass?: number;
  /** Planted data only: the set's pattern energy under its labels t and under the original labels y. */
  energy?: { target: number; original: number };
}

/** What main() returns and writes to results.json. */
export interface Results {
  sets: Record<string, SetResult>;
  sourceTestAcc: number;
  eps: number;
  steps: number;
  stepSize: number;
  /** The attack's expectation over transformations (samples 1, no transformation: plain PGD). */
  eot: AttackConfig["eot"];
  /** The finishing attack (absent in results from before it existed). */
  finish?: AttackConfig["finish"];
  nTrain: number;
  nTest: number;
  numClasses: number;
}

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
    };
    for (const [name, set] of sets) {
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
      const r: SetResult = { testAcc: (await evaluate(fresh.model, test)).acc };
      if (name !== "d") {
        r.trainAcc = (await evaluate(fresh.model, set.split)).acc;
        r.attackSuccess = built[name].attackSuccess;
        r.meanDeltaL2 = built[name].meanDeltaL2;
        r.kept = built[name].kept;
        r.nextClass = nextClassRate(await predict(fresh.model, test), test.y, common.numClasses);
        if (run.plant) r.energy = relabelledEnergy(set.split, built[name].original, run.plant.patterns);
      }
      results.sets[name] = r;
      console.error(`${name}: test accuracy on the original test set ${pct(r.testAcc)}`);
      if (fresh !== source) run.release(fresh);
    }

    phase("figures");
    const variants = Object.fromEntries(Object.entries(built).map(([k, b]) => [k, b.ref.split]));
    await run.writeFile("fig_relabelled.png", relabelGrid(train.split, variants, info.classNames));
    return { results, summary: summarize(results, config) };
  });
}

/** Table 1 beside the paper's numbers, the bar chart and the relabelled examples. */
export function summarize(r: Results, config: Pick<Config, "dataset">): SectionSummary {
  const paper = TABLE1 as Record<string, Record<string, number>>;
  const label = (k: string) => (k === "d" ? "D" : k === "d_rand" ? "D_rand" : k === "d_det" ? "D_det" : k);
  const rows = Object.entries(r.sets).map(([k, s]) => [
    label(k),
    pctCell(s.testAcc),
    pctCell(s.attackSuccess),
    numCell(s.meanDeltaL2),
    pct(paper.cifar10[k]),
    pct(paper.restrictedImagenet[k]),
  ]);
  const bars = Object.entries(r.sets).flatMap(([k, s]) => [
    { label: label(k), source: "ours" as const, value: 100 * s.testAcc },
    ...(k in paper.cifar10
      ? [{ label: label(k), source: "paper" as const, value: 100 * paper.cifar10[k] }]
      : []),
  ]);
  return {
    claims: [table1Claim(r)],
    headline: "non-robust features suffice for standard classification",
    claim:
      "Models trained on adversarially relabelled data (D_rand, D_det) generalize to the original test set.",
    tables: [{
      caption:
        `Test accuracy on the original test set (${config.dataset}; paper: CIFAR-10 / Restricted ImageNet). ` +
        `Targeted L2 PGD eps ${r.eps}, ${r.steps} steps of ${r.stepSize}${eotText(r.eot)}${
          finishText(r.finish)
        }; ${r.nTrain} training images.`,
      headers: [
        "training set",
        `test acc (ours, ${config.dataset})`,
        "attack success",
        "mean L2 of delta",
        "paper CIFAR-10",
        "paper Restricted ImageNet",
      ],
      rows,
    }],
    charts: [oursVsPaperBars("Table 1: test accuracy on the original test set", bars, "test accuracy (%)")],
    figures: ["fig_relabelled.png"],
    notes: [
      `source model test accuracy ${pct(r.sourceTestAcc)}; chance = ${pct(1 / r.numClasses)}`,
      ...Object.entries(r.sets).filter(([, s]) => s.kept !== undefined && s.kept < r.nTrain)
        .map(([k, s]) =>
          `${label(k)}: the attack's ${r.nTrain - s.kept!} failures dropped (--attack.failures=drop)`
        ),
      ...Object.entries(r.sets).filter(([, s]) => s.nextClass !== undefined).map(([k, s]) =>
        `${label(k)}'s model predicts the next class y + 1 on ${pct(s.nextClass!)} of the test images` +
        (s.energy
          ? `; the set's planted-pattern energy is ${s.energy.target.toFixed(3)} under its labels t and ` +
            `${s.energy.original.toFixed(3)} under the original labels y`
          : "")
      ),
    ],
  };
}

if (import.meta.main) cli(SPEC, main);
