// Section 3.3 / Figure 3: transferability can arise from non-robust features.
//
// From the standard source model and D_det of Section 3.2 (same recipes -> the cached source model and dataset
// are reused), for each architecture: (a) train it on D_det and test on the original test set; (b) train it
// normally on D and measure how often the source model's targeted adversarial test examples (the same rule,
// same attack) transfer to it. The paper finds (a) predicts (b).
import { cli, defineExperiment, type ExperimentConfig, runExperiment } from "../lib/run/experiment.ts";
import type { RunOptions } from "../lib/run/experiment.ts";
import { ARCHITECTURES, SMALL_ARCHITECTURES } from "../lib/core/models.ts";
import { buildRelabelled, type DataRef, trainRecipe, trainSourceModel } from "../lib/run/pipeline.ts";
import {
  attackKeys,
  PAPER_RECIPE,
  RELABEL_ATTACK_FULL,
  RELABEL_ATTACK_PAPER,
  SMOKE,
} from "../lib/run/recipes.ts";
import { SOURCE_RELABEL, TRAIN_DEFAULTS, TRAIN_SIZE_QUICK, trainKeys } from "../lib/run/recipes.ts";
import { key } from "../lib/run/schema.ts";
import { RELABEL_RULES } from "../lib/core/relabel.ts";
import { saveChart } from "../lib/report/charts.ts";
import { pct } from "../lib/run/summary.ts";
import { buildEach } from "../lib/run/shard.ts";
import { type ArchResult, fig3Spec, figure3OverSeeds, point } from "../lib/report/sec3_3.ts";
import { type Results, summarize } from "../lib/report/sec3_3.ts";
import { accuracy, evaluate, predict } from "../lib/core/train.ts";
import { rankCorrelation } from "../lib/util/stats.ts";

export { type ArchResult, type Results, summarize } from "../lib/report/sec3_3.ts";

/** The experiment's keys after the common ones, each declared once (lib/run/schema.ts); defaults = the quick
 * preset: the sec3_2 quick source model and D_det, five 28x28 architectures. */
const SCHEMA = {
  trainSize: key(TRAIN_SIZE_QUICK, { help: "training examples used (0 = all)", integer: true, min: 0 }),
  /** Test examples attacked for the transfer rate and evaluated (0 = all). */
  testSize: key(2000, { help: "test examples attacked and evaluated (0 = all)", integer: true, min: 0 }),
  /** Standard source model (same recipe as sec3_2, so its cache entry is shared). */
  source: trainKeys("standard source model", SOURCE_RELABEL),
  /** Targeted L2 PGD building the relabelled set and the transferred test examples. */
  attack: attackKeys("the targeted attack"),
  /** The relabelling rule (D_det in the paper). */
  rule: key("d_det", {
    help: "relabelling rule of D_det and of the transfer targets",
    check: RELABEL_RULES.check,
  }),
  /** Architectures compared (distinct). densenet_small is left out of quick for time (its train step is the
   * slowest of the zoo, see README); a repeated architecture would count one point twice in the correlation. */
  archs: key(SMALL_ARCHITECTURES.filter((a) => a !== "densenet_small"), {
    help: "architectures compared",
    choices: ARCHITECTURES,
    distinct: true,
    minItems: 2,
  }),
  /** Training recipe of every target architecture (the arch field is ignored); 3 epochs keeps quick at about
   * 10 minutes on 2 cores (README). */
  target: trainKeys("target architectures (arch ignored)", { ...TRAIN_DEFAULTS, epochs: 3 }, {
    adaptArch: false,
  }),
};

/** Configuration of the Section 3.3 experiment. */
export type Config = ExperimentConfig<typeof SCHEMA>;

/** CLI description; the experiment id is this file's name. */
export const SPEC = defineExperiment(import.meta.url, {
  section: { of: "sec3_3", label: "Section 3.3 / Figure 3", order: 33 },
  description:
    "Section 3.3 / Figure 3: accuracy when trained on D_det vs transfer rate, across architectures",
  schema: SCHEMA,
  // smoke (tests), quick (default), full, paper; they mirror sec3_2's for the shared parts (so the cache is shared)
  presets: {
    smoke: { ...SMOKE, testSize: 200, archs: ["mlp", "cnn"], target: { epochs: 2 }, cache: false },
    quick: {},
    // sec3_2's full source model and D_det (all 60,000 images), the whole test set, all six 28x28 architectures
    full: {
      trainSize: 0,
      testSize: 0,
      attack: RELABEL_ATTACK_FULL,
      archs: [...SMALL_ARCHITECTURES],
    },
    paper: {
      dataset: "cifar10",
      trainSize: 0,
      testSize: 0,
      source: PAPER_RECIPE,
      attack: RELABEL_ATTACK_PAPER,
      archs: ["resnet50", "resnet18", "vgg16", "densenet_small", "vgg_small"],
      target: PAPER_RECIPE,
    },
  },
  seeded: figure3OverSeeds,
});
/** Defaults (the quick preset) and the named presets, derived from the schema. */
export const { defaults: DEFAULTS, presets: PRESETS } = SPEC;

/** Runs the experiment and writes out/<id>/. */
export async function main(config: Config, opts: RunOptions = {}): Promise<Results> {
  return await runExperiment(SPEC, config, opts, async (run) => {
    const { common } = run, { train, test, testRef } = run.splits(config), { rule, attack } = config;
    const src = { ...common, recipe: config.source, role: "source" as const, key: "source" };
    const source = run.track(await trainSourceModel(train, test, src));
    // D_det, and the source model's targeted adversarial test examples (same rule and attack), cached like D_det;
    // a --shard run builds its part of both, then stops
    const [ddet, adv] = await buildEach(
      [
        { set: train, opts: { ...common, rule, attack } },
        {
          set: testRef,
          opts: {
            ...common,
            rule,
            attack: { ...attack, failures: "keep" as const }, // every test example, hit or not: transfer is on all
            seedLabels: { targets: "transfer_targets", attack: "transfer" },
            what: `targeted adversarial test examples on the source model (rule ${rule})`,
          },
        },
      ],
      common.shard,
      (b) => buildRelabelled(source, b.set, b.opts),
    );
    const targets = adv.ref.split.y, advSplit = { ...test, x: adv.ref.split.x };
    run.release(source);

    // each architecture once (a shard run that gets here starts on its own one: unitOrder())
    const perArch = await buildEach(config.archs, common.shard, async (arch): Promise<ArchResult> => {
      const recipe = { ...config.target, arch };
      const trainOn = async (set: DataRef, role: string, title: string) =>
        run.track(await trainRecipe(set, { ...common, recipe, role, key: "target", title }));
      const onDdet = await trainOn(ddet.ref, `ddet_${arch}`, `${arch} trained on ${rule}`);
      const testAccOnDdet = (await evaluate(onDdet.model, test)).acc;
      run.release(onDdet);
      const onD = await trainOn(train, `d_${arch}`, `${arch} trained on D (transfer target)`);
      const stdAcc = (await evaluate(onD.model, test)).acc;
      const pred = await predict(onD.model, advSplit);
      run.release(onD);
      const transferRate = accuracy(pred, targets);
      console.error(`${arch}: acc on ${rule} ${pct(testAccOnDdet)}, transfer rate ${pct(transferRate)}`);
      return { testAccOnDdet, transferRate, untargetedErrorRate: 1 - accuracy(pred, test.y), stdAcc };
    });
    const architectures = Object.fromEntries(config.archs.map((a, i) => [a, perArch[i]]));
    const xs = config.archs.map((a) => architectures[a].testAccOnDdet);
    const ys = config.archs.map((a) => architectures[a].transferRate);
    const results: Results = {
      architectures,
      correlation: rankCorrelation(xs, ys),
      sourceTestAcc: source.testAcc,
      sourceAttackSuccessOnTest: adv.attackSuccess,
      ddetAttackSuccess: ddet.attackSuccess,
      eps: config.attack.eps,
    };
    const points = Object.entries(architectures).map(([a, v]) => point(a, v));
    await saveChart(run.outDir, "fig3", fig3Spec(points, `ours: ${results.correlation.note}`, config));
    return { results, summary: summarize(results, config) };
  });
}

if (import.meta.main) cli(SPEC, main);
