// Section 3.3 / Figure 3: transferability can arise from non-robust features.
//
// From the standard source model and D_det of Section 3.2 (same config -> the cached source model and dataset
// are reused), for each architecture: (a) train it on D_det and test on the original test set; (b) train it
// normally on D and measure how often the source model's targeted adversarial test examples (t = (y+1) mod C,
// same eps) transfer to it. The paper finds (a) predicts (b).
import { join } from "node:path";
import type { CliSpec, DeepPartial } from "../lib/config.ts";
import { attackSplit } from "../lib/attacks.ts";
import { firstN } from "../lib/data/batch.ts";
import {
  cli,
  COMMON_KEYS,
  type CommonConfig,
  finishRun,
  startRun,
  type TrainConfig,
  trainKeys,
  trainOptions,
} from "../lib/experiment.ts";
import { ARCHITECTURES, checkArch, SMALL_ARCHITECTURES } from "../lib/models.ts";
import { buildRelabelled, relabelTargets, sourceDataId, trainCached, trainSource } from "../lib/pipeline.ts";
import { phase } from "../lib/progress.ts";
import { saveChart } from "../lib/report/charts.ts";
import { formatPct, markdownTable } from "../lib/report/table.ts";
import { writeFileAtomic } from "../lib/output.ts";
import { deriveSeed } from "../lib/rng.ts";
import { accuracy, evaluate, predict } from "../lib/train.ts";
import { DEFAULTS as SEC32, PRESETS as SEC32_PRESETS } from "./sec3_2.ts";

/** Configuration of the Section 3.3 experiment. */
export interface Config extends CommonConfig {
  trainSize: number;
  /** Test examples attacked for the transfer rate and evaluated (0 = all). */
  testSize: number;
  /** Standard source model (same recipe as sec3_2, so its cache entry is shared). */
  source: TrainConfig;
  /** Targeted L2 PGD building D_det and the transferred test examples. */
  attack: { eps: number; steps: number; stepSize: number; batchSize: number };
  /** Architectures compared. */
  archs: string[];
  /** Training recipe of every target architecture (the arch field is ignored). */
  target: TrainConfig;
}

/** The paper's Figure 3 (CIFAR-10, source ResNet-50): test accuracy on D_det and transfer rate. */
export const PAPER_POINTS = [
  { arch: "ResNet-50", testAccOnDdet: 0.447, transferRate: 1.0 },
  { arch: "DenseNet", testAccOnDdet: 0.417, transferRate: 0.93 },
  { arch: "ResNet-18", testAccOnDdet: 0.409, transferRate: 0.92 },
  { arch: "Inception-v3", testAccOnDdet: 0.394, transferRate: 0.83 },
  { arch: "VGG-16", testAccOnDdet: 0.279, transferRate: 0.655 },
];

/** Defaults = quick preset: the sec3_2 quick source model and D_det, six 28x28 architectures. */
export const DEFAULTS: Config = {
  seed: SEC32.seed,
  out: "",
  backend: "auto",
  dataset: SEC32.dataset,
  dataDir: "",
  cache: true,
  trainSize: SEC32.trainSize,
  testSize: 2000,
  source: { ...SEC32.source },
  attack: { ...SEC32.attack },
  // densenet_small is left out of quick: it trained at under 60 img/s here (2 cores; N = 12 GEMMs, BN, concat)
  archs: SMALL_ARCHITECTURES.filter((a) => a !== "densenet_small"),
  // 3 epochs keeps quick under 25 min on 2 cores (5 epochs: 44 min measured; same rank order, see README)
  target: { ...SEC32.fresh, epochs: 3 },
};

/** Presets mirror sec3_2's for the shared parts (so the cache is shared). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: {
    trainSize: SEC32_PRESETS.smoke.trainSize,
    testSize: 200,
    source: SEC32_PRESETS.smoke.source,
    attack: SEC32_PRESETS.smoke.attack,
    archs: ["mlp", "cnn"],
    target: { epochs: 2 },
    cache: false,
  },
  quick: {},
  paper: {
    dataset: "cifar10",
    trainSize: 0,
    testSize: 0,
    source: SEC32_PRESETS.paper.source,
    attack: SEC32_PRESETS.paper.attack,
    archs: ["resnet50", "resnet18", "vgg16", "densenet_small", "vgg_small"],
    target: SEC32_PRESETS.paper.fresh,
  },
};

/** CLI description. */
export const SPEC: CliSpec<Config> = {
  name: "deno task sec3_3",
  description:
    "Section 3.3 / Figure 3: accuracy when trained on D_det vs transfer rate, across architectures",
  defaults: DEFAULTS,
  presets: PRESETS,
  defaultPreset: "quick",
  keys: {
    ...COMMON_KEYS,
    trainSize: { help: "training examples used (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples attacked and evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("source", "standard source model"),
    "attack.eps": { help: "L2 radius of the targeted attack (pixels in [0,1])", above: 0 },
    "attack.steps": { help: "PGD steps", integer: true, min: 1 },
    "attack.stepSize": { help: "L2 length of each PGD step", above: 0 },
    "attack.batchSize": { help: "attack batch size", integer: true, min: 1 },
    archs: { help: "architectures compared (comma-separated)", choices: ARCHITECTURES },
    ...trainKeys("target", "target architectures (arch ignored)"),
  },
};

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
  correlation: { spearman: number; pearson: number };
  sourceTestAcc: number;
  sourceAttackSuccessOnTest: number;
  ddetAttackSuccess: number;
  eps: number;
  paper: typeof PAPER_POINTS;
  table: string;
}

/** Pearson correlation of two equal-length samples. */
export function pearson(a: number[], b: number[]): number {
  const n = a.length, ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    (sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) ** 2, sbb += (b[i] - mb) ** 2);
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Ranks with ties averaged (1-based). */
function ranks(a: number[]): number[] {
  const idx = a.map((v, i) => [v, i]).sort((x, y) => x[0] - y[0]);
  const r = new Array(a.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson on tie-averaged ranks). */
export function spearman(a: number[], b: number[]): number {
  return pearson(ranks(a), ranks(b));
}

/** Runs the experiment and writes out/sec3_3/. */
export async function main(
  config: Config,
  opts: { preset?: string; quiet?: boolean } = {},
): Promise<Results> {
  config.archs.forEach(checkArch);
  checkArch(config.source.arch);
  if (config.archs.length < 2) {
    throw new RangeError(
      `--archs needs at least 2 architectures for a correlation, got ${config.archs.length}`,
    );
  }
  const run = await startRun("sec3_3", config, opts);
  const { info } = run.data;
  const C = info.numClasses;
  const train = firstN(run.data.train, config.trainSize);
  const test = firstN(run.data.test, config.testSize);
  const dataId = sourceDataId(config.dataset, train);
  const source = await trainSource(train, {
    recipe: config.source,
    dataset: config.dataset,
    numClasses: C,
    seed: config.seed,
    cache: config.cache,
  });
  const sourceTestAcc = evaluate(source.model, test).acc;
  const ddet = await buildRelabelled(source, train, {
    mode: "det",
    numClasses: C,
    attack: config.attack,
    seed: config.seed,
    cache: config.cache,
  });

  phase(
    `targeted adversarial test examples on the source model (t = (y+1) mod ${C}, eps ${config.attack.eps})`,
  );
  const targets = relabelTargets(test.y, "det", { numClasses: C, seed: 0 });
  const adv = attackSplit(source.model, test, {
    threat: "l2",
    ...config.attack,
    targets,
    seed: deriveSeed(config.seed, "transfer"),
    label: "attack test set",
  });
  const advSplit = { ...test, x: adv.x };
  const sourceAttackSuccessOnTest = adv.success.reduce((s, v) => s + v, 0) / test.n;

  const architectures: Record<string, ArchResult> = {};
  for (const arch of config.archs) {
    const onDdet = await trainCached(arch, ddet.split, {
      data: { dataset: config.dataset, name: `d_det(${ddet.hash})`, n: train.n },
      numClasses: C,
      train: trainOptions(config.target, deriveSeed(config.seed, `ddet_${arch}`), `train ${arch} on d_det`),
      cache: config.cache,
      title: `${arch} trained on D_det`,
    });
    const testAccOnDdet = evaluate(onDdet.model, test).acc;
    onDdet.model.model.dispose();
    const onD = await trainCached(arch, train, {
      data: dataId,
      numClasses: C,
      train: trainOptions(config.target, deriveSeed(config.seed, `d_${arch}`), `train ${arch} on D`),
      cache: config.cache,
      title: `${arch} trained on D (transfer target)`,
    });
    const stdAcc = evaluate(onD.model, test).acc;
    const pred = predict(onD.model, advSplit);
    onD.model.model.dispose();
    const transferRate = accuracy(pred, targets);
    const untargetedErrorRate = 1 - accuracy(pred, test.y);
    architectures[arch] = { testAccOnDdet, transferRate, untargetedErrorRate, stdAcc };
    console.error(
      `${arch}: acc on D_det ${formatPct(testAccOnDdet)}, transfer rate ${formatPct(transferRate)}, std acc ${
        formatPct(stdAcc)
      }`,
    );
  }
  const xs = config.archs.map((a) => architectures[a].testAccOnDdet),
    ys = config.archs.map((a) => architectures[a].transferRate);
  const correlation = { spearman: spearman(xs, ys), pearson: pearson(xs, ys) };

  phase("figures");
  const ours = config.archs.map((a) => ({
    arch: a,
    acc: 100 * architectures[a].testAccOnDdet,
    transfer: 100 * architectures[a].transferRate,
    panel: `ours (${config.dataset})`,
  }));
  const paper = PAPER_POINTS.map((p) => ({
    arch: p.arch,
    acc: 100 * p.testAccOnDdet,
    transfer: 100 * p.transferRate,
    panel: "paper (CIFAR-10)",
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
  await saveChart(run.outDir, "fig3", {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: "Figure 3: transfer rate vs accuracy on D_det",
      subtitle: `ours: Spearman ${correlation.spearman.toFixed(2)}, Pearson ${
        correlation.pearson.toFixed(2)
      }`,
    },
    hconcat: [
      panel(ours, `ours (${config.dataset}, source ${config.source.arch})`),
      panel(paper, "paper (CIFAR-10, source ResNet-50)"),
    ],
  });
  const table = markdownTable(
    ["architecture", "acc trained on D_det", "transfer rate", "untargeted error", "std acc (trained on D)"],
    config.archs.map((
      a,
    ) => [
      a,
      formatPct(architectures[a].testAccOnDdet),
      formatPct(architectures[a].transferRate),
      formatPct(architectures[a].untargetedErrorRate),
      formatPct(architectures[a].stdAcc),
    ]),
  ) +
    `\n\nSpearman ${correlation.spearman.toFixed(3)}, Pearson ${
      correlation.pearson.toFixed(3)
    } (paper: the order agrees for all 5 architectures: ` +
    PAPER_POINTS.map((p) => `${p.arch} ${formatPct(p.testAccOnDdet)}/${formatPct(p.transferRate)}`).join(
      ", ",
    ) + ")";
  await writeFileAtomic(join(run.outDir, "fig3.md"), table + "\n");
  const results: Results = {
    architectures,
    correlation,
    sourceTestAcc,
    sourceAttackSuccessOnTest,
    ddetAttackSuccess: ddet.attackSuccess,
    eps: config.attack.eps,
    paper: PAPER_POINTS,
    table,
  };
  const full = await finishRun(run, results);
  if (!opts.quiet) {
    console.log(
      `\nFigure 3 (${config.dataset}, preset ${
        opts.preset ?? "-"
      }, ${full.runSeconds} s; source ${config.source.arch} test acc ${
        formatPct(sourceTestAcc)
      }, its attack succeeds on ${formatPct(sourceAttackSuccessOnTest)} of the test set):\n`,
    );
    console.log(table);
    console.log(`\nwrote ${run.outDir}/: config.json results.json fig3.png fig3.svg fig3.md`);
  }
  source.model.model.dispose();
  return full;
}

if (import.meta.main) cli(SPEC, (config, { preset }) => main(config, { preset }));
