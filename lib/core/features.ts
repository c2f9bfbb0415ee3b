// Section 2's vocabulary measured on a model: representation units standardized on a training set, rho-useful
// (E[y f]), gamma-robustly useful (E[min over the eps-ball of y f], PGD on each feature alone) and the counts.
import * as tf from "@tensorflow/tfjs";
import { type Objective, pgd, type ThreatModel } from "./attacks.ts";
import { imageSize } from "../data/batch.ts";
import type { Split } from "../data/registry.ts";
import type { ZooModel } from "./models.ts";
import { Progress } from "../util/progress.ts";

/**
 * The representation units g(x) of a model as features, with the surface PGD ascends. When the representation
 * ends in a Dense layer with a ReLU, PGD ascends the pre-activation a(x) and g = relu(a): relu is monotone, so
 * the pre-activation has the same maximizers and minimizers over the ball as the unit, but no zero gradient
 * where the unit is off (PGD on relu(a) cannot move an inactive unit). Otherwise a = g.
 */
export interface FeatureMap {
  model: ZooModel;
  /** Number of units k. */
  units: number;
  /** The surface PGD ascends: [batch, h, w, c] -> [batch, k]. */
  ascent(x: tf.Tensor4D): tf.Tensor2D;
  /** g = link(a), elementwise and non-decreasing. */
  link: "relu" | "identity";
  /** How the ascent surface was obtained (for logs and results). */
  describe: string;
}

/** The feature map of a zoo model's representation (see FeatureMap for the ascent surface). */
export function featureMap(model: ZooModel): FeatureMap {
  const last = model.rep.layers[model.rep.layers.length - 1];
  const units = (model.rep.outputs[0].shape as number[])[1];
  const activation = last.getClassName() === "Dense"
    ? String((last.getConfig() as { activation?: string }).activation)
    : null;
  if (activation === "relu" || activation === "linear") {
    const input = tf.model({ inputs: model.rep.inputs, outputs: last.input as tf.SymbolicTensor });
    const [kernel, bias] = last.getWeights();
    return {
      model,
      units,
      ascent: (x) => {
        const h = input.apply(x) as tf.Tensor2D;
        const a = h.matMul(kernel as tf.Tensor2D);
        return (bias ? a.add(bias) : a) as tf.Tensor2D;
      },
      link: activation === "relu" ? "relu" : "identity",
      describe: activation === "relu"
        ? `pre-activation of the representation's Dense layer (${last.name}), g = relu(a)`
        : `the representation's linear Dense layer (${last.name})`,
    };
  }
  return {
    model,
    units,
    ascent: (x) => model.representation(x),
    link: "identity",
    describe: `the representation itself (its last layer, ${last.name}, is a ${last.getClassName()})`,
  };
}

/** g(x) of a feature map: link(ascent(x)) [batch, k]. */
export function unitValue(fm: FeatureMap, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const a = fm.ascent(x);
    return fm.link === "relu" ? a.relu() : a;
  });
}

/** g(x) of every example of a split, row-major [n * k], computed in batches. */
export async function unitValues(
  fm: FeatureMap,
  split: Split,
  opts: { batchSize: number },
): Promise<Float32Array> {
  const d = imageSize(split), k = fm.units, out = new Float32Array(split.n * k);
  for (let s = 0; s < split.n; s += opts.batchSize) {
    const b = Math.min(opts.batchSize, split.n - s);
    const v = tf.tidy(() =>
      unitValue(fm, tf.tensor4d(split.x.subarray(s * d, (s + b) * d), [b, ...split.shape]))
    );
    out.set(await v.data() as Float32Array, s * k);
    v.dispose();
  }
  return out;
}

/** Per-unit mean and standard deviation (population) of g over a set, and the units that vary (std > 0). */
export interface Standardization {
  mean: Float64Array;
  std: Float64Array;
  /** Units with std > `minStd`, in order; the others are constant on the set and are not features. */
  live: Int32Array;
}

/** Standardization of each unit of `values` [n * k] (mean 0, variance 1 over that set, as Section 2 requires). */
export function standardization(
  values: Float32Array,
  opts: { units: number; minStd?: number },
): Standardization {
  const k = opts.units, n = values.length / k;
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(
      `standardization: needs at least 2 examples of ${k} units, got ${values.length} values`,
    );
  }
  const mean = new Float64Array(k), m2 = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let u = 0; u < k; u++) mean[u] += values[i * k + u];
  for (let u = 0; u < k; u++) mean[u] /= n;
  for (let i = 0; i < n; i++) for (let u = 0; u < k; u++) m2[u] += (values[i * k + u] - mean[u]) ** 2;
  const std = m2.map((v) => Math.sqrt(v / n));
  const minStd = opts.minStd ?? 1e-6;
  const live = Int32Array.from([...std.keys()].filter((u) => std[u] > minStd));
  return { mean, std, live };
}

/** The binary task "class c vs the rest": +1 where y = c, -1 elsewhere. */
export function oneVsRest(y: Uint8Array, c: number): Int8Array {
  return Int8Array.from(y, (v) => (v === c ? 1 : -1));
}

/** A table over (task, unit): value of task t (the t-th class of `classes`), unit u at [t * units + u]. */
export interface TaskUnitTable {
  classes: number[];
  units: number;
  values: Float64Array;
}

/**
 * Orientation s in {-1, +1} per (task, unit): the sign of E[y f] on the set given (the training set), so that
 * s f is the useful direction ("if f is negatively correlated with the label, then -f is useful instead").
 */
export function orientations(
  values: Float32Array,
  opts: { y: Uint8Array; classes: number[]; stats: Standardization },
): TaskUnitTable {
  const corr = meanOver(values, { ...opts, f: (_i, _u, y, z) => y * z });
  return { ...corr, values: corr.values.map((v) => (v < 0 ? -1 : 1)) };
}

/** Mean over examples of f(i, u, y_i^c, standardized g_iu) per (task, unit), and its standard error. */
function meanOver(
  values: Float32Array,
  opts: {
    y: Uint8Array;
    classes: number[];
    stats: Standardization;
    f: (i: number, u: number, y: number, z: number, t: number) => number;
  },
): TaskUnitTable & { se: Float64Array } {
  const k = opts.stats.mean.length, n = opts.y.length;
  if (values.length !== n * k) {
    throw new RangeError(`${values.length} unit values do not match ${n} examples x ${k} units`);
  }
  const T = opts.classes.length, sum = new Float64Array(T * k), sq = new Float64Array(T * k);
  opts.classes.forEach((c, t) => {
    for (let i = 0; i < n; i++) {
      const y = opts.y[i] === c ? 1 : -1;
      for (const u of opts.stats.live) {
        const z = (values[i * k + u] - opts.stats.mean[u]) / opts.stats.std[u];
        const v = opts.f(i, u, y, z, t);
        sum[t * k + u] += v;
        sq[t * k + u] += v * v;
      }
    }
  });
  const live = new Set(opts.stats.live);
  const mean = sum.map((s, j) => (live.has(j % k) ? s / n : NaN));
  const se = sq.map((s, j) => Math.sqrt(Math.max(0, s / n - mean[j] ** 2) / Math.max(1, n - 1)));
  return { classes: opts.classes, units: k, values: mean, se };
}

/**
 * rho(f) = E[y s f(x)] per (task, unit) on the set given (eq. 1), with the orientation s from `orient` and f
 * standardized by `stats` (the training set's). NaN for constant units. `se`: its Monte-Carlo standard error.
 */
export function usefulness(
  values: Float32Array,
  opts: { y: Uint8Array; stats: Standardization; orient: TaskUnitTable },
): TaskUnitTable & { se: Float64Array } {
  const { orient } = opts, k = orient.units;
  return meanOver(values, {
    ...opts,
    classes: orient.classes,
    f: (_i, u, y, z, t) => y * orient.values[t * k + u] * z,
  });
}

/** The (unit, example, direction) problems PGD solves: ascend `sign` x g_unit around example `example`. */
export interface ExtremeJobs {
  unit: Int32Array;
  example: Int32Array;
  /** +1: the unit's maximum over the ball; -1: its minimum. */
  sign: Int8Array;
}

/**
 * The problems gamma needs over the set with labels `y`: for task c and unit u the worst case of y s f is the
 * minimum of f where y s = +1 and its maximum where y s = -1, so each (unit, example) needs at most two
 * problems, shared by all tasks (all classes cost at most twice one class).
 */
export function extremeJobs(
  y: Uint8Array,
  opts: { orient: TaskUnitTable; stats: Standardization },
): ExtremeJobs {
  const { orient } = opts, k = orient.units, unit: number[] = [], example: number[] = [], sign: number[] = [];
  for (const u of opts.stats.live) {
    for (let i = 0; i < y.length; i++) {
      let needMin = false, needMax = false;
      orient.classes.forEach((c, t) => {
        if ((y[i] === c ? 1 : -1) * orient.values[t * k + u] > 0) needMin = true;
        else needMax = true;
      });
      if (needMin) (unit.push(u), example.push(i), sign.push(-1));
      if (needMax) (unit.push(u), example.push(i), sign.push(1));
    }
  }
  return { unit: Int32Array.from(unit), example: Int32Array.from(example), sign: Int8Array.from(sign) };
}

/** Everything before the attacks: the units on both sets, the standardization, orientations, rho and jobs. */
export interface PreparedFeatures {
  /** g on the training set [n_train * k] and on the test set [n_test * k]. */
  trainValues: Float32Array;
  testValues: Float32Array;
  stats: Standardization;
  orient: TaskUnitTable;
  /** rho on the test set, with its standard error. */
  rho: TaskUnitTable & { se: Float64Array };
  /** The PGD problems gamma needs on the test set. */
  jobs: ExtremeJobs;
}

/**
 * Standardizes the units and orients each (task, unit) feature on `train`, then measures rho and lists the PGD
 * problems on `test`; tasks are one-vs-rest for each of `classes`.
 */
export async function prepareFeatures(
  fm: FeatureMap,
  sets: { train: Split; test: Split },
  opts: { classes: number[]; batchSize: number },
): Promise<PreparedFeatures> {
  const { train, test } = sets;
  const trainValues = await unitValues(fm, train, opts);
  const stats = standardization(trainValues, { units: fm.units });
  const orient = orientations(trainValues, { y: train.y, classes: opts.classes, stats });
  const testValues = await unitValues(fm, test, opts);
  const rho = usefulness(testValues, { y: test.y, stats, orient });
  return { trainValues, testValues, stats, orient, rho, jobs: extremeJobs(test.y, { orient, stats }) };
}

/** Options of featureExtremes(). */
export interface ExtremeOptions {
  /** Threat model (default "l2"). */
  threat?: string | ThreatModel;
  eps: number;
  steps: number;
  stepSize: number;
  /** Problems per PGD batch (each is one image with its own delta). */
  batchSize: number;
  /** Progress label; no bar when undefined. */
  label?: string;
}

/**
 * Worst cases of single features: for each job, the extreme of g_unit over the eps-ball around its example (and
 * [0,1]), by PGD on that unit alone. The batch holds one row per job, so every (unit, example) pair gets its own
 * delta (a summed objective over units with one shared delta would not be each feature's worst case). The clean
 * point is a candidate too, so a minimum never exceeds g(x) and a maximum is never below it.
 * Returns {lo, hi} [n * k] (row-major by example): the minimum / maximum found, NaN where no job asked for it.
 */
export async function featureExtremes(
  fm: FeatureMap,
  split: Split,
  jobs: ExtremeJobs,
  opts: ExtremeOptions,
): Promise<{ lo: Float32Array; hi: Float32Array }> {
  const k = fm.units, J = jobs.unit.length;
  const lo = new Float32Array(split.n * k).fill(NaN), hi = new Float32Array(split.n * k).fill(NaN);
  const bar = opts.label ? new Progress(opts.label, J, { unit: "problem" }) : null;
  const xs = tf.tensor4d(split.x, [split.n, ...split.shape]);
  try {
    for (let s = 0; s < J; s += opts.batchSize) {
      const b = Math.min(opts.batchSize, J - s);
      const unit = jobs.unit.subarray(s, s + b), sign = jobs.sign.subarray(s, s + b);
      const example = jobs.example.subarray(s, s + b);
      const best = tf.tidy(() => {
        const x = tf.gather(xs, tf.tensor1d(example, "int32")) as tf.Tensor4D;
        const mask = new Float32Array(b * k);
        for (let r = 0; r < b; r++) mask[r * k + unit[r]] = sign[r];
        const m = tf.tensor2d(mask, [b, k]);
        const objective: Objective = {
          name: "one representation unit",
          value: (_model, xa) => fm.ascent(xa).mul(m).sum(1) as tf.Tensor1D,
        };
        const r = pgd(fm.model, x, {
          threat: opts.threat ?? "l2",
          eps: opts.eps,
          steps: opts.steps,
          stepSize: opts.stepSize,
          objective,
        });
        // sign * a at the better of the clean point and PGD's result, mapped back to a
        return tf.maximum(objective.value(fm.model, x), r.value).mul(tf.tensor1d(Float32Array.from(sign)));
      });
      const a = await best.data() as Float32Array;
      best.dispose();
      for (let r = 0; r < b; r++) {
        const g = fm.link === "relu" ? Math.max(0, a[r]) : a[r];
        (sign[r] > 0 ? hi : lo)[example[r] * k + unit[r]] = g;
      }
      bar?.tick(b);
    }
  } finally {
    xs.dispose();
  }
  bar?.done();
  return { lo, hi };
}

/**
 * gamma(f, eps) = E[min over the ball of y s f(x + delta)] per (task, unit) (eq. 2) from featureExtremes()'s
 * lo/hi (the same examples and labels), f standardized by `stats`: the minimum of f where y s = +1, the maximum
 * where y s = -1. NaN for constant units; throws when an extreme it needs was not computed.
 */
export function robustUsefulness(
  extremes: { lo: Float32Array; hi: Float32Array },
  opts: { y: Uint8Array; stats: Standardization; orient: TaskUnitTable },
): TaskUnitTable & { se: Float64Array } {
  const { orient } = opts, k = orient.units;
  return meanOver(extremes.lo, {
    ...opts,
    classes: orient.classes,
    f: (i, u, y, _z, t) => {
      const ys = y * orient.values[t * k + u];
      const g = (ys > 0 ? extremes.lo : extremes.hi)[i * k + u];
      if (Number.isNaN(g)) {
        throw new RangeError(
          `robustUsefulness: no ${ys > 0 ? "minimum" : "maximum"} of unit ${u} at example ${i}`,
        );
      }
      return ys * (g - opts.stats.mean[u]) / opts.stats.std[u];
    },
  });
}

/** Counts of Section 2's kinds of features among the (task, unit) pairs with a finite rho. */
export interface FeatureCounts {
  features: number;
  /** rho >= rho0 */
  useful: number;
  /** gamma >= gamma0 */
  robustlyUseful: number;
  /** rho >= rho0 and gamma < 0 */
  usefulNonRobust: number;
}

/** Counts useful, robustly useful and useful non-robust features (rho, gamma paired by index). */
export function countFeatures(
  rho: ArrayLike<number>,
  gamma: ArrayLike<number>,
  opts: { rho0: number; gamma0: number },
): FeatureCounts {
  if (rho.length !== gamma.length) {
    throw new RangeError(`${rho.length} rho values but ${gamma.length} gamma values`);
  }
  const c: FeatureCounts = { features: 0, useful: 0, robustlyUseful: 0, usefulNonRobust: 0 };
  for (let j = 0; j < rho.length; j++) {
    if (!Number.isFinite(rho[j])) continue;
    c.features++;
    const useful = rho[j] >= opts.rho0;
    if (useful) c.useful++;
    if (gamma[j] >= opts.gamma0) c.robustlyUseful++;
    if (useful && gamma[j] < 0) c.usefulNonRobust++;
  }
  return c;
}

/** Quantiles (linear interpolation) of the finite values; NaN for an empty sample. */
export function quantiles(values: ArrayLike<number>, qs: number[]): number[] {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  return qs.map((q) => {
    if (v.length === 0) return NaN;
    const p = q * (v.length - 1), lo = Math.floor(p), hi = Math.ceil(p);
    return v[lo] + (v[hi] - v[lo]) * (p - lo);
  });
}
