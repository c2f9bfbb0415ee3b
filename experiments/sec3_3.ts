// Section 3.3 / Figure 3: transferability can arise from non-robust features.
//
// From the standard source model and D_det of Section 3.2 (same recipes -> the cached source model and dataset
// are reused), for each architecture: (a) train it on D_det and test on the original test set; (b) train it
// normally on D and measure how often the source model's targeted adversarial test examples (the same rule,
// same attack) transfer to it. The paper finds (a) predicts (b).
import type { DeepPartial } from "../lib/config.ts";
import { perturbSplit } from "../lib/attacks.ts";
import {
  cli,
  COMMON_DEFAULTS,
  type CommonConfig,
  defineExperiment,
  runExperiment,
  type RunOptions,
  takeFirst,
} from "../lib/experiment.ts";
import { ARCHITECTURES, SMALL_ARCHITECTURES } from "../lib/models.ts";
import { FIG3 } from "../lib/paper.ts";
import {
  buildRelabelled,
  relabelObjective,
  sourceRef,
  trainRecipe,
  trainSourceModel,
} from "../lib/pipeline.ts";
import { phase } from "../lib/progress.ts";
import {
  type AttackConfig,
  attackKeys,
  PAPER_RECIPE,
  RELABEL_ATTACK_FULL,
  RELABEL_ATTACK_PAPER,
  RELABEL_ATTACK_QUICK,
  SMOKE,
  SOURCE_QUICK,
  TRAIN_DEFAULTS,
  TRAIN_SIZE_QUICK,
  type TrainConfig,
  trainKeys,
} from "../lib/recipes.ts";
import { relabel, RELABEL_RULES } from "../lib/relabel.ts";
import { saveChart } from "../lib/report/charts.ts";
import { createRng, deriveSeed } from "../lib/rng.ts";
import { pct, pctCell, type SectionSummary } from "../lib/summary.ts";
import { accuracy, evaluate, predict } from "../lib/train.ts";
import { rankCorrelation } from "../lib/stats.ts";

/** Configuration of the Section 3.3 experiment. */
export interface Config extends CommonConfig {
  trainSize: number;
  /** Test examples attacked for the transfer rate and evaluated (0 = all). */
  testSize: number;
  /** Standard source model (same recipe as sec3_2, so its cache entry is shared). */
  source: TrainConfig;
  /** Targeted L2 PGD building the relabelled set and the transferred test examples. */
  attack: AttackConfig;
  /** The relabelling rule (D_det in the paper). */
  rule: string;
  /** Architectures compared (distinct). */
  archs: string[];
  /** Training recipe of every target architecture (the arch field is ignored). */
  target: TrainConfig;
}

/** Defaults = quick preset: the sec3_2 quick source model and D_det, five 28x28 architectures. */
export const DEFAULTS: Config = {
  ...COMMON_DEFAULTS,
  trainSize: TRAIN_SIZE_QUICK,
  testSize: 2000,
  source: SOURCE_QUICK,
  attack: RELABEL_ATTACK_QUICK,
  rule: "d_det",
  // densenet_small is left out of quick for time (its train step is the slowest of the zoo, see README)
  archs: SMALL_ARCHITECTURES.filter((a) => a !== "densenet_small"),
  // 3 epochs keeps quick at about 10 minutes on 2 cores (README)
  target: { ...TRAIN_DEFAULTS, epochs: 3 },
};

/** Presets mirror sec3_2's for the shared parts (so the cache is shared). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: { ...SMOKE, testSize: 200, archs: ["mlp", "cnn"], target: { epochs: 2 }, cache: false },
  quick: {},
  // sec3_2's full source model and D_det (all 60,000 images), the whole test set, all six 28x28 architectures
  full: { trainSize: 0, testSize: 0, attack: RELABEL_ATTACK_FULL, archs: [...SMALL_ARCHITECTURES] },
  paper: {
    dataset: "cifar10",
    trainSize: 0,
    testSize: 0,
    source: PAPER_RECIPE,
    attack: RELABEL_ATTACK_PAPER,
    archs: ["resnet50", "resnet18", "vgg16", "densenet_small", "vgg_small"],
    target: PAPER_RECIPE,
  },
};

/** CLI description; the experiment id is this file's name. */
export const SPEC = defineExperiment<Config>(import.meta.url, {
  section: { of: "sec3_3", label: "Section 3.3 / Figure 3", order: 33 },
  description:
    "Section 3.3 / Figure 3: accuracy when trained on D_det vs transfer rate, across architectures",
  defaults: DEFAULTS,
  presets: PRESETS,
  datasetKeys: {
    eps: ["attack.eps", "attack.stepSize"],
    arch: ["source.arch"],
    epochs: ["source.epochs", "target.epochs"],
  },
  keys: {
    trainSize: { help: "training examples used (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples attacked and evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("source", "standard source model"),
    ...attackKeys("attack", "the targeted attack"),
    rule: {
      help: "relabelling rule of the training set and the transfer targets",
      check: RELABEL_RULES.check,
    },
    archs: { help: "architectures compared (comma-separated, distinct)", choices: ARCHITECTURES },
    ...trainKeys("target", "target architectures (arch ignored)"),
  },
});

/** Per-architecture results (fractions). */
export interface ArchResult {
  testAccOnDdet: number;
  transferRate: number;
  untargetedErrorRate: number;
  stdAcc: number;
}

/** What main() returns and writes to results.json. */
export interface Results {
  architectures: Record<string, ArchResult>;
  /** Rank and linear correlation of (accuracy on D_det, transfer rate); null when not computable. */
  correlation: { spearman: number | null; pearson: number | null; note: string };
  sourceTestAcc: number;
  sourceAttackSuccessOnTest: number;
  ddetAttackSuccess: number;
  eps: number;
}

/** Rejects a list with repeated architectures (they would count one point twice in the correlation). */
export function checkDistinct(archs: string[]): void {
  const seen = new Set<string>();
  for (const a of archs) {
    if (seen.has(a)) throw new RangeError(`--archs lists "${a}" twice (${archs.join(",")}); give each once`);
    seen.add(a);
  }
  if (archs.length < 2) throw new RangeError(`--archs needs at least 2 architectures, got ${archs.length}`);
}

/** Runs the experiment and writes out/<id>/. */
export async function main(config: Config, opts: RunOptions = {}): Promise<Results> {
  checkDistinct(config.archs);
  return await runExperiment(SPEC, config, opts, async (run) => {
    const C = run.data.info.numClasses;
    const train = sourceRef(run.data, takeFirst(run.data.train, config.trainSize, "trainSize"));
    const test = takeFirst(run.data.test, config.testSize, "testSize");
    const common = { numClasses: C, seed: config.seed, cache: config.cache };
    const source = await trainSourceModel(train, test, {
      ...common,
      recipe: config.source,
      role: "source",
      key: "source",
    });
    const sourceTestAcc = source.testAcc;
    const ddet = await buildRelabelled(source, train, {
      ...common,
      rule: config.rule,
      attack: config.attack,
    });

    phase(
      `targeted adversarial test examples on the source model (rule ${config.rule}, eps ${config.attack.eps})`,
    );
    const targets = relabel(config.rule, test.y, C, createRng(deriveSeed(config.seed, "transfer_targets")));
    const adv = await perturbSplit(source.model, test, {
      threat: "l2",
      ...config.attack,
      targets,
      objective: (b) => relabelObjective(b.targets!, config.attack.eot, b.seed),
      seed: deriveSeed(config.seed, "transfer"),
      label: "attack test set",
    });
    const advSplit = { ...test, x: adv.x };
    source.model.model.dispose();

    const architectures: Record<string, ArchResult> = {};
    for (const arch of config.archs) {
      const recipe = { ...config.target, arch };
      const onDdet = await trainRecipe(ddet.ref, {
        ...common,
        recipe,
        role: `ddet_${arch}`,
        key: "target",
        title: `${arch} trained on ${config.rule}`,
      });
      const testAccOnDdet = (await evaluate(onDdet.model, test)).acc;
      onDdet.model.model.dispose();
      const onD = await trainRecipe(train, {
        ...common,
        recipe,
        role: `d_${arch}`,
        key: "target",
        title: `${arch} trained on D (transfer target)`,
      });
      const stdAcc = (await evaluate(onD.model, test)).acc;
      const pred = await predict(onD.model, advSplit);
      onD.model.model.dispose();
      architectures[arch] = {
        testAccOnDdet,
        transferRate: accuracy(pred, targets),
        untargetedErrorRate: 1 - accuracy(pred, test.y),
        stdAcc,
      };
      console.error(
        `${arch}: acc on ${config.rule} ${pct(testAccOnDdet)}, transfer rate ${
          pct(architectures[arch].transferRate)
        }`,
      );
    }
    const xs = config.archs.map((a) => architectures[a].testAccOnDdet);
    const ys = config.archs.map((a) => architectures[a].transferRate);
    const results: Results = {
      architectures,
      correlation: rankCorrelation(xs, ys),
      sourceTestAcc,
      sourceAttackSuccessOnTest: adv.success.reduce((s, v) => s + v, 0) / test.n,
      ddetAttackSuccess: ddet.attackSuccess,
      eps: config.attack.eps,
    };
    await saveChart(run.outDir, "fig3", fig3Spec(results, config));
    return { results, summary: summarize(results, config) };
  });
}

/** Figure 3: ours beside the paper's, accuracy on D_det against transfer rate. */
function fig3Spec(r: Results, config: Config): Record<string, unknown> {
  const ours = Object.entries(r.architectures).map(([arch, v]) => ({
    arch,
    acc: 100 * v.testAccOnDdet,
    transfer: 100 * v.transferRate,
  }));
  const paper = FIG3.map((p) => ({
    arch: p.arch,
    acc: 100 * p.testAccOnDdet,
    transfer: 100 * p.transferRate,
  }));
  const panel = (values: typeof ours, title: string) => ({
    title,
    width: 300,
    height: 260,
    data: { values },
    layer: [
      {
        mark: { type: "point", filled: true, size: 90 },
        encoding: {
          x: { field: "transfer", type: "quantitative", title: "transfer rate (%)", scale: { zero: false } },
          y: {
            field: "acc",
            type: "quantitative",
            title: "test accuracy when trained on D_det (%)",
            scale: { zero: false },
          },
        },
      },
      {
        mark: { type: "text", dy: -10, fontSize: 11 },
        encoding: {
          x: { field: "transfer", type: "quantitative" },
          y: { field: "acc", type: "quantitative" },
          text: { field: "arch" },
        },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Figure 3: transfer rate vs accuracy on D_det", subtitle: `ours: ${r.correlation.note}` },
    hconcat: [
      panel(ours, `ours (${config.dataset}, source ${config.source.arch})`),
      panel(paper, "paper (CIFAR-10, source ResNet-50)"),
    ],
  };
}

/** The Figure 3 table, the correlation and the paper's five points. */
export function summarize(r: Results, config: Pick<Config, "dataset" | "rule">): SectionSummary {
  return {
    headline: "transferability arises from non-robust features",
    claim:
      "Architectures that learn better from D_det are more vulnerable to transfer attacks from the source model.",
    tables: [
      {
        caption:
          `${config.dataset}: test accuracy of each architecture trained on ${config.rule}, and the rate at which ` +
          `the source model's targeted adversarial test examples transfer to it trained on D`,
        headers: [
          "architecture",
          `acc trained on ${config.rule}`,
          "transfer rate",
          "untargeted error",
          "std acc (trained on D)",
        ],
        rows: Object.entries(r.architectures).map(([a, v]) => [
          a,
          pctCell(v.testAccOnDdet),
          pctCell(v.transferRate),
          pctCell(v.untargetedErrorRate),
          pctCell(v.stdAcc),
        ]),
      },
      {
        caption: "The paper (CIFAR-10, source ResNet-50)",
        headers: ["architecture", "acc trained on D_det", "transfer rate"],
        rows: FIG3.map((p) => [p.arch, pct(p.testAccOnDdet), pct(p.transferRate)]),
      },
    ],
    charts: [],
    figures: ["fig3.png"],
    notes: [
      r.correlation.note,
      `source model test accuracy ${pct(r.sourceTestAcc)}; its attack reaches the target on ${
        pct(r.sourceAttackSuccessOnTest)
      } of the test set`,
    ],
  };
}

if (import.meta.main) cli(SPEC, main);
