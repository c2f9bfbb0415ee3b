// Section 2's cached step: one model's features (the (one-vs-rest task, representation unit) pairs) measured by the
// paper's definitions, rho (eq. 1) and gamma at each eps (eq. 2, the inner minimum by L2 PGD), and their counts.
import { join } from "node:path";
import { cached, sourceHash } from "./cache.ts";
import type { Split } from "../data/registry.ts";
import { readNpy, writeNpy } from "../data/npy.ts";
import {
  countFeatures,
  type FeatureCounts,
  featureExtremes,
  featureMap,
  prepareFeatures,
  robustUsefulness,
} from "../core/features.ts";
import type { ZooModel } from "../core/models.ts";
import type { DataRef } from "./pipeline.ts";
import { phase } from "../util/progress.ts";

/** Useful: rho >= rho0; robustly useful: gamma >= gamma0; headline counts at eps = headlineEps. */
export interface FeatureThresholds {
  rho0: number;
  gamma0: number;
  headlineEps: number;
}

/** The features of one model: per (task, live unit) rho and gamma at each eps, and the counts. */
export interface ModelFeatures {
  testAcc: number;
  units: number;
  /** Units that vary on the training set (the others are constant, not features). */
  liveUnits: number[];
  /** What PGD ascended (the pre-activation of a final ReLU layer, or the unit itself). */
  ascent: string;
  /** rho[t][j]: task t (classes[t]), unit liveUnits[j]; rhoSe its Monte-Carlo standard error. */
  rho: number[][];
  rhoSe: number[][];
  /** gamma[e][t][j] at eps[e]; gammaSe likewise. */
  gamma: number[][][];
  gammaSe: number[][][];
  /** Counts at eps 0 (gamma = rho) and at every eps of attack.eps. */
  counts: ({ eps: number } & FeatureCounts)[];
}

/** Parses --classes ("all" or "0,6") against the dataset's number of classes. */
export function parseClasses(s: string, numClasses: number): number[] {
  if (s === "all") return Array.from({ length: numClasses }, (_, c) => c);
  const parts = s.split(",").map((p) => p.trim());
  const bad = parts.find((p) => !/^\d+$/.test(p) || Number(p) >= numClasses);
  if (bad !== undefined) {
    throw new RangeError(
      `--classes: "${bad}" is not a class index of this dataset (0..${numClasses - 1}); ` +
        `give "all" or a comma list such as --classes=0,6`,
    );
  }
  const list = parts.map(Number);
  if (new Set(list).size !== list.length) throw new RangeError(`--classes: "${s}" names a class twice`);
  return list;
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * One model's units standardized on the training set, rho on the test set, gamma by L2 PGD on each feature at
 * every eps (cached per eps by the model, the sets, the classes, the attack and lib/core/features.ts's code).
 */
export async function measureFeatures(
  source: { model: ZooModel; hash: string; testAcc: number },
  ctx: { name: string; train: DataRef; test: Split; testData: string; classes: number[]; eps: number[] },
  opts: { attack: { steps: number; batchSize: number }; thresholds: FeatureThresholds; cache: boolean },
): Promise<ModelFeatures> {
  const { test, classes } = ctx, batchSize = opts.attack.batchSize;
  phase(
    `${ctx.name} model: standardize ${source.model.rep.outputs[0].shape[1]} units on ${ctx.train.split.n} ` +
      `training images, rho on ${test.n} test images`,
  );
  const fm = featureMap(source.model);
  const { stats, orient, rho, jobs } = await prepareFeatures(fm, { train: ctx.train.split, test }, {
    classes,
    batchSize,
  });
  const live = [...stats.live];
  console.error(
    `${ctx.name}: ${live.length} of ${fm.units} units vary on the training set; PGD ascends ${fm.describe}; ` +
      `${jobs.unit.length} (unit, example) problems per eps`,
  );
  const table = (v: Float64Array) => classes.map((_, t) => live.map((u) => round4(v[t * fm.units + u])));
  const code = await sourceHash([new URL("../core/features.ts", import.meta.url)]);
  const gamma: number[][][] = [], gammaSe: number[][][] = [];
  const counts: ModelFeatures["counts"] = [
    { eps: 0, ...countFeatures(rho.values, rho.values, opts.thresholds) },
  ];
  for (const eps of ctx.eps) {
    const steps = opts.attack.steps, stepSize = (2.5 * eps) / steps;
    phase(`${ctx.name} model: gamma at eps ${eps} (L2 PGD on each feature, ${steps} steps of ${stepSize})`);
    const r = await cached("features", {
      kind: "feature_extremes",
      source: source.hash,
      train: ctx.train.id,
      test: { data: ctx.testData, name: `test[:${test.n}]` },
      classes,
      attack: { threat: "l2", eps, steps, stepSize },
    }, {
      enabled: opts.cache,
      code,
      build: () =>
        featureExtremes(fm, test, jobs, { eps, steps, stepSize, batchSize, label: `${ctx.name} eps ${eps}` }),
      save: async (dir, v) => {
        const shape = [test.n, fm.units];
        await writeNpy(join(dir, "lo.npy"), { dtype: "float32", shape, data: v.lo });
        await writeNpy(join(dir, "hi.npy"), { dtype: "float32", shape, data: v.hi });
      },
      load: async (dir) => ({
        lo: (await readNpy(join(dir, "lo.npy"))).data as Float32Array,
        hi: (await readNpy(join(dir, "hi.npy"))).data as Float32Array,
      }),
    });
    const g = robustUsefulness(r.value, { y: test.y, stats, orient });
    gamma.push(table(g.values));
    gammaSe.push(table(g.se));
    counts.push({ eps, ...countFeatures(rho.values, g.values, opts.thresholds) });
  }
  return {
    testAcc: source.testAcc,
    units: fm.units,
    liveUnits: live,
    ascent: fm.describe,
    rho: table(rho.values),
    rhoSe: table(rho.se),
    gamma,
    gammaSe,
    counts,
  };
}

/** The (rho, gamma at eps index e) pairs of a model, flattened over tasks and units. */
export function pairs(m: ModelFeatures, e: number): { rho: number; gamma: number; se: number }[] {
  return m.rho.flatMap((row, t) =>
    row.map((rho, j) => ({ rho, gamma: m.gamma[e][t][j], se: m.gammaSe[e][t][j] }))
  );
}

/** Section 2's kinds of features, in the order the charts list them. */
export const FEATURE_KINDS = [
  "robustly useful",
  "useful, 0 <= gamma < gamma0",
  "useful, non-robust",
  "not useful",
] as const;

/** The kind of a feature at one eps, as Section 2 names it. */
export function kindOf(
  rho: number,
  gamma: number,
  th: { rho0: number; gamma0: number },
): typeof FEATURE_KINDS[number] {
  if (gamma >= th.gamma0) return "robustly useful";
  if (rho >= th.rho0 && gamma < 0) return "useful, non-robust";
  if (rho >= th.rho0) return "useful, 0 <= gamma < gamma0";
  return "not useful";
}

/** Useful features (rho >= rho0) that are also robustly useful (gamma >= gamma0) at eps index e. */
export function usefulAndRobust(m: ModelFeatures, e: number, th: { rho0: number; gamma0: number }): number {
  return pairs(m, e).filter((p) => p.rho >= th.rho0 && p.gamma >= th.gamma0).length;
}
