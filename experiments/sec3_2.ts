// Section 3.2 / Table 1: non-robust features suffice for standard classification (D_rand, D_det).
//
// From a standard source model C, each training image x is pushed by targeted L2 PGD (eq. 6) toward a target
// class t (uniform over the other classes for D_rand, t = (y+1) mod C for D_det) and relabelled as t. A fresh
// model trained on these "mislabelled" images is then tested on the original, unmodified test set.
import { join } from "node:path";
import type { CliSpec, DeepPartial } from "../lib/config.ts";
import { exportDataset } from "../lib/data/export.ts";
import { firstN, imageSize } from "../lib/data/batch.ts";
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
import { stableStringify } from "../lib/cache.ts";
import { checkArch } from "../lib/models.ts";
import {
  buildRelabelled,
  type RelabelledSet,
  sourceDataId,
  trainCached,
  trainSource,
} from "../lib/pipeline.ts";
import { phase } from "../lib/progress.ts";
import { imageGrid } from "../lib/report/grid.ts";
import { formatPct, markdownTable } from "../lib/report/table.ts";
import { writeFileAtomic } from "../lib/output.ts";
import { deriveSeed } from "../lib/rng.ts";
import { evaluate } from "../lib/train.ts";

/** Configuration of the Section 3.2 experiment. */
export interface Config extends CommonConfig {
  /** Training examples used (source model, and the ones perturbed); 0 = all. */
  trainSize: number;
  /** Test examples evaluated; 0 = all. */
  testSize: number;
  /** Standard source model C. */
  source: TrainConfig;
  /** Targeted L2 PGD of eq. 6 (pixel units in [0,1]). */
  attack: { eps: number; steps: number; stepSize: number; batchSize: number };
  /** Fresh models trained on D, D_rand, D_det. */
  fresh: TrainConfig;
  /** Which relabelled datasets to build. */
  variants: string[];
}

/** The paper's Table 1 (test accuracy on the original test set). */
export const PAPER = {
  cifar10: { d: 0.953, d_rand: 0.633, d_det: 0.437 },
  restrictedImagenet: { d: 0.966, d_rand: 0.879, d_det: 0.644 },
};

/** Defaults = the quick preset (Fashion-MNIST, minutes on 2 cores). */
export const DEFAULTS: Config = {
  seed: 0,
  out: "",
  backend: "auto",
  dataset: "fashion-mnist",
  dataDir: "",
  cache: true,
  trainSize: 20000,
  testSize: 0,
  source: { ...TRAIN_DEFAULTS, epochs: 5 },
  attack: { eps: 2.5, steps: 10, stepSize: 0.625, batchSize: 250 },
  fresh: { ...TRAIN_DEFAULTS, epochs: 5 },
  variants: ["d_rand", "d_det"],
};

/** Named presets: smoke (tests), quick (default), paper (CIFAR-10, ResNet-50, the paper's protocol). */
export const PRESETS: Record<string, DeepPartial<Config>> = {
  smoke: {
    trainSize: 300,
    testSize: 300,
    source: { epochs: 2 },
    attack: { eps: 2.0, steps: 3, stepSize: 1.5, batchSize: 150 },
    fresh: { epochs: 2 },
    cache: false,
  },
  quick: {},
  paper: {
    dataset: "cifar10",
    trainSize: 0,
    source: { ...PAPER_RECIPE },
    attack: { eps: 0.5, steps: 100, stepSize: 0.1, batchSize: 128 },
    fresh: { ...PAPER_RECIPE },
  },
};

/** CLI description of the config. */
export const SPEC: CliSpec<Config> = {
  name: "deno task sec3_2",
  description:
    "Section 3.2 / Table 1: train on adversarially relabelled data (D_rand, D_det), test on the original test set",
  defaults: DEFAULTS,
  presets: PRESETS,
  defaultPreset: "quick",
  keys: {
    ...COMMON_KEYS,
    trainSize: { help: "training examples used (0 = all)", integer: true, min: 0 },
    testSize: { help: "test examples evaluated (0 = all)", integer: true, min: 0 },
    ...trainKeys("source", "standard source model"),
    "attack.eps": { help: "L2 radius of the targeted attack (pixels in [0,1])", above: 0 },
    "attack.steps": { help: "PGD steps", integer: true, min: 1 },
    "attack.stepSize": { help: "L2 length of each PGD step", above: 0 },
    "attack.batchSize": { help: "attack batch size", integer: true, min: 1 },
    ...trainKeys("fresh", "fresh models trained on D, D_rand, D_det"),
    variants: { help: "relabelled datasets to build", choices: ["d_rand", "d_det"] },
  },
};

/** What main() returns and writes to results.json (accuracies are fractions). */
export interface Results {
  testAcc: { d: number; d_rand?: number; d_det?: number };
  sourceTestAcc: number;
  attackSuccess: { d_rand?: number; d_det?: number };
  meanDeltaL2: { d_rand?: number; d_det?: number };
  trainAcc: { d_rand?: number; d_det?: number };
  eps: number;
  steps: number;
  stepSize: number;
  nTrain: number;
  nTest: number;
  paper: typeof PAPER;
  table: string;
}

/** Table 1 beside the paper's numbers (markdown). */
export function table1(
  r: Pick<Results, "testAcc" | "attackSuccess" | "meanDeltaL2">,
  dataset: string,
): string {
  const rows = (["d", "d_rand", "d_det"] as const).map((k) => [
    k === "d" ? "D" : k === "d_rand" ? "D_rand" : "D_det",
    formatPct(r.testAcc[k]),
    k === "d" ? "-" : formatPct(r.attackSuccess[k]),
    k === "d" ? "-" : (r.meanDeltaL2[k]?.toFixed(3) ?? "-"),
    formatPct(PAPER.cifar10[k]),
    formatPct(PAPER.restrictedImagenet[k]),
  ]);
  return markdownTable(
    [
      "training set",
      `test acc (ours, ${dataset})`,
      "attack success",
      "mean L2 of delta",
      "paper CIFAR-10",
      "paper Restricted ImageNet",
    ],
    rows,
  );
}

/** Runs the experiment end to end and writes out/sec3_2/. */
export async function main(
  config: Config,
  opts: { preset?: string; quiet?: boolean } = {},
): Promise<Results> {
  checkArch(config.source.arch);
  checkArch(config.fresh.arch);
  const run = await startRun("sec3_2", config, opts);
  const { info } = run.data;
  const train = firstN(run.data.train, config.trainSize);
  const test = firstN(run.data.test, config.testSize);
  const C = info.numClasses;
  const dataId = sourceDataId(config.dataset, train);

  const source = await trainSource(train, {
    recipe: config.source,
    dataset: config.dataset,
    numClasses: C,
    seed: config.seed,
    cache: config.cache,
  });
  const sourceTestAcc = evaluate(source.model, test).acc;
  console.error(`source model test accuracy ${formatPct(sourceTestAcc)}`);

  const built: Record<string, RelabelledSet> = {};
  for (const v of config.variants) {
    built[v] = await buildRelabelled(source, train, {
      mode: v === "d_rand" ? "rand" : "det",
      numClasses: C,
      attack: config.attack,
      seed: config.seed,
      cache: config.cache,
    });
    await exportDataset(run.outDir, v, built[v].split, { classNames: info.classNames });
  }

  const results: Results = {
    testAcc: { d: 0 },
    sourceTestAcc,
    attackSuccess: {},
    meanDeltaL2: {},
    trainAcc: {},
    eps: config.attack.eps,
    steps: config.attack.steps,
    stepSize: config.attack.stepSize,
    nTrain: train.n,
    nTest: test.n,
    paper: PAPER,
    table: "",
  };
  // A fresh model on the unmodified D (the first row of Table 1) and on each relabelled set.
  const sets: [string, typeof train, string][] = [
    ["d", train, dataId.name],
    ...config.variants.map((v) =>
      [v, built[v].split, `${v}(${built[v].hash})`] as [string, typeof train, string]
    ),
  ];
  // With the source recipe, D's row is the source model itself: reuse it (also when the cache is off).
  const dIsSource = stableStringify(config.fresh) === stableStringify(config.source);
  for (const [name, split, id] of sets) {
    const fresh = name === "d" && dIsSource ? source : await trainCached(config.fresh.arch, split, {
      data: { dataset: config.dataset, name: id, n: split.n },
      numClasses: C,
      // D's row (with a recipe other than the source's) trains from the source model's seed
      train: trainOptions(
        config.fresh,
        deriveSeed(config.seed, name === "d" ? "source" : `fresh_${name}`),
        `train ${config.fresh.arch} on ${name}`,
      ),
      cache: config.cache,
      title: `fresh ${config.fresh.arch} trained on ${name}`,
    });
    const acc = evaluate(fresh.model, test).acc;
    const key = name as "d" | "d_rand" | "d_det";
    results.testAcc[key] = acc;
    if (name !== "d") {
      results.trainAcc[key as "d_rand"] = evaluate(fresh.model, split).acc;
      results.attackSuccess[key as "d_rand"] = built[name].attackSuccess;
      results.meanDeltaL2[key as "d_rand"] = built[name].meanDeltaL2;
    }
    console.error(`${name}: test accuracy on the original test set ${formatPct(acc)}`);
    if (fresh !== source) fresh.model.model.dispose();
  }

  phase("figures");
  await writeFileAtomic(join(run.outDir, "fig_relabelled.png"), relabelGrid(train, built, info.classNames));
  results.table = table1(results, config.dataset);
  await writeFileAtomic(join(run.outDir, "table1.md"), results.table + "\n");
  const full = await finishRun(run, results);
  if (!opts.quiet) {
    console.log(
      `\nTable 1 (${config.dataset}, preset ${
        opts.preset ?? "-"
      }, ${full.runSeconds} s, backend ${full.backend}):\n`,
    );
    console.log(results.table);
    console.log(
      `\nwrote ${run.outDir}/: config.json results.json table1.md fig_relabelled.png ${
        config.variants.map((v) => `${v}_{x,y}.npy`).join(" ")
      }`,
    );
  }
  source.model.model.dispose();
  return full;
}

/** Fig 9-style grid: per class one example; columns x, then x_adv with its new label for each variant. */
function relabelGrid(
  train: { x: Float32Array; y: Uint8Array; n: number; shape: [number, number, number] },
  built: Record<string, RelabelledSet>,
  names: string[],
): Uint8Array {
  const [h, w, c] = train.shape, d = imageSize(train);
  const variants = Object.keys(built);
  const rows = [];
  for (let k = 0; k < names.length; k++) {
    const i = Array.from(train.y).findIndex((v) => v === k);
    if (i < 0) continue;
    const cell = (x: Float32Array, caption: string) => ({
      image: x.subarray(i * d, (i + 1) * d),
      h,
      w,
      c: c as 1 | 3,
      caption,
    });
    rows.push([
      cell(train.x, `y=${names[k]}`),
      ...variants.map((v) => cell(built[v].split.x, `t=${names[built[v].split.y[i]]}`)),
    ]);
  }
  return imageGrid(rows, {
    colLabels: ["x (label y)", ...variants.map((v) => `${v} (label t)`)],
    title: "x_adv: the image keeps its class, the new label t looks wrong",
    scale: 3,
  });
}

if (import.meta.main) cli(SPEC, (config, { preset }) => main(config, { preset }));
