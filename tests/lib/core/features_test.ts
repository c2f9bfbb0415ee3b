// Tests for lib/core/features.ts: on a synthetic set with a known robust and known non-robust linear features gamma
// matches rho - eps ||w||_2 / sigma within Monte-Carlo error and PGD never beats the exact minimum; independent
// deltas per (unit, example); the ReLU pre-activation surface; standardization, orientation, jobs, counts, leaks.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  countFeatures,
  extremeJobs,
  featureExtremes,
  type FeatureMap,
  featureMap,
  oneVsRest,
  orientations,
  type PreparedFeatures,
  prepareFeatures,
  quantiles,
  robustUsefulness,
  standardization,
  unitValue,
  unitValues,
  usefulness,
} from "../../../lib/core/features.ts";
import { loadModel, saveModel } from "../../../lib/run/checkpoint.ts";
import { createModel, wrap, type ZooModel } from "../../../lib/core/models.ts";
import { createRng } from "../../../lib/util/rng.ts";
import type { Split } from "../../../lib/data/registry.ts";

await initBackend("fast", { quiet: true });

// Synthetic distribution on 4x4 images: label s in {-1,+1} (class 1 = +1), pixel p = 0.5 + a_p s + b_p u,
// u ~ U(-1, 1) independent. Pixel 0: robust (a 0.2, b 0.15); pixels 1..14: non-robust (a 0.01, b 0.01);
// pixel 15: useless noise (a 0, b 0.1). Every pixel stays in [0.15, 0.85]; a step of eps <= 0.1 never leaves
// [0,1], so no clipping: the worst case of a linear feature over the L2 ball is exactly y f(x) - eps ||w|| / sigma.
const A = Array.from({ length: 16 }, (_, p) => (p === 0 ? 0.2 : p === 15 ? 0 : 0.01));
const B = Array.from({ length: 16 }, (_, p) => (p === 0 ? 0.15 : p === 15 ? 0.1 : 0.01));

function synthetic(n: number, seed: number): Split {
  const rng = createRng(seed), x = new Float32Array(n * 16), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(2);
    const s = y[i] ? 1 : -1;
    for (let p = 0; p < 16; p++) x[i * 16 + p] = 0.5 + A[p] * s + B[p] * (2 * rng.next() - 1);
  }
  return { x, y, n, shape: [4, 4, 1] };
}

// The features: linear units f = w . x (a linear Dense representation).
const W: number[][] = [
  Array.from({ length: 16 }, (_, p) => (p === 0 ? 1 : 0)), // robust
  Array.from({ length: 16 }, (_, p) => (p === 1 ? 1 : 0)), // non-robust
  Array.from({ length: 16 }, (_, p) => (p >= 1 && p <= 8 ? 1 : 0)), // non-robust, spread over 8 pixels
  Array.from({ length: 16 }, (_, p) => (p === 15 ? 1 : 0)), // useless
  Array.from({ length: 16 }, (_, p) => (p === 0 ? -2 : p === 1 ? 1 : 0)), // robust, anti-correlated
];
const K = W.length;
const dot = (u: number[], v: number[]) => u.reduce((s, ui, i) => s + ui * v[i], 0);
/** Population rho (oriented, so >= 0) and sigma of w . x under the synthetic distribution. */
function population(w: number[]): { rho: number; sigma: number; wNorm: number } {
  const wa = dot(w, A), sigma = Math.sqrt(wa ** 2 + w.reduce((s, wp, p) => s + (wp * B[p]) ** 2 / 3, 0));
  return { rho: Math.abs(wa) / sigma, sigma, wNorm: Math.sqrt(dot(w, w)) };
}

/** A zoo model whose representation is the linear units W (a 2-class head on top). */
function linearModel(activation: "linear" | "relu" = "linear"): ZooModel {
  const input = tf.input({ shape: [4, 4, 1] });
  const rep = tf.layers.dense({ units: K, activation, name: "features" })
    .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 2, name: "head" }).apply(rep) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  const kernel = new Float32Array(16 * K);
  for (let p = 0; p < 16; p++) for (let u = 0; u < K; u++) kernel[p * K + u] = W[u][p];
  const layer = model.getLayer("features");
  const weights = [tf.tensor2d(kernel, [16, K]), tf.zeros([K])];
  layer.setWeights(weights);
  tf.dispose(weights);
  return wrap("linear_features", model, tf.model({ inputs: input, outputs: rep }));
}

const train = synthetic(20000, 1), test = synthetic(2000, 2);
const classes = [1];

/** featureExtremes() on the synthetic test set (step size 2.5 eps / steps) and the gamma it gives. */
async function gammaOnTest(
  fm: FeatureMap,
  p: Pick<PreparedFeatures, "jobs" | "stats" | "orient">,
  opts: { eps: number; steps: number },
) {
  const ext = await featureExtremes(fm, test, p.jobs, {
    ...opts,
    stepSize: 2.5 * opts.eps / opts.steps,
    batchSize: 2048,
  });
  return { ext, g: robustUsefulness(ext, { y: test.y, stats: p.stats, orient: p.orient }) };
}

Deno.test("robustUsefulness() of linear features matches rho - eps ||w||_2 / sigma within Monte-Carlo error; PGD never beats the exact minimum", async () => {
  const before = tf.memory().numTensors;
  const m = linearModel();
  const fm = featureMap(m);
  assert.equal(fm.link, "identity");
  const { trainValues, testValues, stats, orient, rho, jobs } = await prepareFeatures(fm, { train, test }, {
    classes,
    batchSize: 1000,
  });
  assert.deepEqual([...orient.values], [1, 1, 1, orient.values[3], -1]);
  const yb = oneVsRest(test.y, 1);
  for (const eps of [0.02, 0.05, 0.1]) {
    const { ext, g } = await gammaOnTest(fm, { jobs, stats, orient }, { eps, steps: 5 });
    for (let u = 0; u < K; u++) {
      const s = orient.values[u], shift = eps * population(W[u]).wNorm / stats.std[u];
      // per example: the exact minimum of y s f over the ball is y s f(x) - eps ||w|| / sigma_hat
      let maxBelow = -Infinity, maxAbove = -Infinity;
      for (let i = 0; i < test.n; i++) {
        const ys = yb[i] * s;
        const found = ys * ((ys > 0 ? ext.lo : ext.hi)[i * K + u] - stats.mean[u]) / stats.std[u];
        const exact = ys * (testValues[i * K + u] - stats.mean[u]) / stats.std[u] - shift;
        maxBelow = Math.max(maxBelow, exact - found);
        maxAbove = Math.max(maxAbove, found - exact);
      }
      // float32 rounding of w . x is ~1e-7 relative; in standardized units (sigma down to 0.0115) ~1e-5
      assert.ok(maxBelow < 1e-4, `unit ${u}, eps ${eps}: PGD went ${maxBelow} below the exact minimum`);
      assert.ok(maxAbove < 1e-4, `unit ${u}, eps ${eps}: PGD stopped ${maxAbove} above the exact minimum`);
      // the population closed form, within Monte-Carlo error: the test sample's SE of gamma plus the training
      // sample's error in sigma_hat (delta method: Var(sigma_hat) ~ (mu4 - sigma^4) / (4 n sigma^2))
      const pop = population(W[u]);
      const closed = pop.rho - eps * pop.wNorm / pop.sigma;
      let m4 = 0;
      for (let i = 0; i < train.n; i++) m4 += (trainValues[i * K + u] - stats.mean[u]) ** 4;
      m4 /= train.n;
      const sdSigma = Math.sqrt((m4 - stats.std[u] ** 4) / (4 * train.n * stats.std[u] ** 2));
      // gamma_hat = (mean of y s (f_min - mu)) / sigma_hat, so a relative error in sigma_hat scales it
      const seShift = Math.abs(closed) * sdSigma / pop.sigma;
      const se = Math.sqrt(g.se[u] ** 2 + seShift ** 2);
      const got = g.values[u];
      if (u === 3) {
        // useless: rho ~ 0 and gamma ~ -eps ||w|| / sigma, with an orientation that is a coin flip
        assert.ok(Math.abs(rho.values[u]) < 4 * rho.se[u], `useless rho ${rho.values[u]}`);
        assert.ok(Math.abs(got - (rho.values[u] - shift)) < 1e-4);
        continue;
      }
      assert.ok(
        Math.abs(got - closed) < 4 * se,
        `unit ${u}, eps ${eps}: gamma ${got} vs closed form ${closed} (4 SE = ${4 * se})`,
      );
    }
  }
  m.model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("countFeatures() on the synthetic set: the robust features are robustly useful, the non-robust ones useful non-robust", async () => {
  const m = linearModel();
  const fm = featureMap(m);
  const { stats, orient, rho, jobs } = await prepareFeatures(fm, { train, test }, {
    classes,
    batchSize: 1000,
  });
  const eps = 0.05;
  const { g } = await gammaOnTest(fm, { jobs, stats, orient }, { eps, steps: 3 });
  const c = countFeatures(rho.values, g.values, { rho0: 0.2, gamma0: 0.1 });
  assert.deepEqual(c, { features: 5, useful: 4, robustlyUseful: 2, usefulNonRobust: 2 });
  assert.ok(g.values[0] >= 0.1 && g.values[4] >= 0.1, `robust gamma ${g.values[0]}, ${g.values[4]}`);
  assert.ok(g.values[1] < 0 && g.values[2] < 0, `non-robust gamma ${g.values[1]}, ${g.values[2]}`);
  m.model.dispose();
});

Deno.test("featureExtremes() gives every (unit, example) its own delta: results do not depend on the batch", async () => {
  const before = tf.memory().numTensors;
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 3 });
  const fm = featureMap(m), split = synthetic(6, 7);
  const jobs = {
    unit: Int32Array.from({ length: 24 }, (_, j) => (j * 37) % fm.units),
    example: Int32Array.from({ length: 24 }, (_, j) => j % 6),
    sign: Int8Array.from({ length: 24 }, (_, j) => (j % 3 ? 1 : -1)),
  };
  const opts = { eps: 0.5, steps: 4, stepSize: 0.3 };
  const all = await featureExtremes(fm, split, jobs, { ...opts, batchSize: 24 });
  const one = await featureExtremes(fm, split, jobs, { ...opts, batchSize: 1 });
  const odd = await featureExtremes(fm, split, jobs, { ...opts, batchSize: 7 });
  for (let j = 0; j < 24; j++) {
    const idx = jobs.example[j] * fm.units + jobs.unit[j];
    const pick = (r: typeof all) => (jobs.sign[j] > 0 ? r.hi : r.lo)[idx];
    assert.ok(Number.isFinite(pick(all)));
    assert.ok(
      Math.abs(pick(all) - pick(one)) <= 1e-5 * (1 + Math.abs(pick(one))),
      `job ${j}: ${pick(all)} vs ${pick(one)}`,
    );
    assert.ok(Math.abs(pick(odd) - pick(one)) <= 1e-5 * (1 + Math.abs(pick(one))), `job ${j}`);
  }
  // exactly the entries some job asked for are filled, the others stay NaN
  const asked = new Set([...jobs.unit].map((u, j) => `${jobs.sign[j]}:${jobs.example[j] * fm.units + u}`));
  for (let i = 0; i < all.lo.length; i++) {
    assert.equal(Number.isFinite(all.lo[i]), asked.has(`-1:${i}`));
    assert.equal(Number.isFinite(all.hi[i]), asked.has(`1:${i}`));
  }
  m.model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("featureMap() of a ReLU representation: g = relu(pre-activation) equals representation(); PGD turns on inactive units; lo <= g(x) <= hi; same for a loaded checkpoint", async () => {
  const before = tf.memory().numTensors;
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 5 });
  const fm = featureMap(m);
  assert.equal(fm.link, "relu");
  assert.match(fm.describe, /pre-activation/);
  const split = synthetic(20, 9);
  const x = tf.tensor4d(split.x, [20, 4, 4, 1]);
  const a = unitValue(fm, x), b = m.representation(x);
  const err = tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
  assert.ok(err < 1e-5, `unitValue vs representation: max difference ${err}`);
  tf.dispose([x, a, b]);
  const clean = await unitValues(fm, split, { batchSize: 7 });
  // every (unit, example) in both directions
  const n = split.n, k = fm.units;
  const jobs = {
    unit: Int32Array.from({ length: 2 * n * k }, (_, j) => Math.floor(j / 2) % k),
    example: Int32Array.from({ length: 2 * n * k }, (_, j) => Math.floor(j / (2 * k))),
    sign: Int8Array.from({ length: 2 * n * k }, (_, j) => (j % 2 ? 1 : -1)),
  };
  const ext = await featureExtremes(fm, split, jobs, { eps: 1, steps: 5, stepSize: 0.5, batchSize: 1000 });
  let off = 0, turnedOn = 0;
  for (let j = 0; j < n * k; j++) {
    assert.ok(
      ext.lo[j] <= clean[j] + 1e-5 && clean[j] <= ext.hi[j] + 1e-5,
      `lo ${ext.lo[j]} g ${clean[j]} hi ${ext.hi[j]}`,
    );
    assert.ok(ext.lo[j] >= 0, "a ReLU unit's minimum is >= 0");
    if (clean[j] === 0) (off++, turnedOn += ext.hi[j] > 0 ? 1 : 0);
  }
  // PGD on relu(a) could not move these (zero gradient); on a it turns on most of them
  assert.ok(off > 100, `only ${off} inactive (unit, example) pairs`);
  assert.ok(turnedOn > off / 2, `${turnedOn} of ${off} inactive units turned on at eps 1`);
  // a model loaded from a checkpoint (the cache's) has the same ascent surface
  const dir = await Deno.makeTempDir({ prefix: "features_" });
  await saveModel(m, dir);
  const loaded = await loadModel(dir);
  const lf = featureMap(loaded);
  assert.equal(lf.link, "relu");
  assert.equal(lf.units, fm.units);
  const again = await unitValues(lf, split, { batchSize: 20 });
  assert.ok(again.every((v, j) => Math.abs(v - clean[j]) <= 1e-6 * (1 + Math.abs(v))));
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
  m.model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("standardization() gives mean 0, variance 1 and drops constant units; usefulness() is NaN for them", () => {
  const n = 50, k = 3, rng = createRng(4), v = new Float32Array(n * k), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    v[i * k] = 3 + 2 * rng.normal();
    v[i * k + 1] = 7; // constant
    v[i * k + 2] = y[i] ? 1 : -1;
  }
  const stats = standardization(v, { units: k });
  assert.deepEqual([...stats.live], [0, 2]);
  let m = 0, s2 = 0;
  for (let i = 0; i < n; i++) m += (v[i * k] - stats.mean[0]) / stats.std[0];
  for (let i = 0; i < n; i++) s2 += ((v[i * k] - stats.mean[0]) / stats.std[0]) ** 2;
  assert.ok(Math.abs(m / n) < 1e-9 && Math.abs(s2 / n - 1) < 1e-9);
  const orient = orientations(v, { y, classes: [1, 0], stats });
  assert.equal(orient.values[2], 1);
  assert.equal(orient.values[k + 2], -1, "for class 0 the label indicator is flipped");
  const rho = usefulness(v, { y, stats, orient });
  assert.ok(Number.isNaN(rho.values[1]));
  // unit 2 is the label itself: rho = 1 for both tasks after orientation, with no variance
  assert.ok(Math.abs(rho.values[2] - 1) < 1e-12 && Math.abs(rho.values[k + 2] - 1) < 1e-12);
  assert.ok(rho.se[2] < 1e-9);
  assert.throws(() => standardization(new Float32Array(3), { units: 3 }), /at least 2 examples/);
});

Deno.test("extremeJobs() asks one direction per (unit, example) for one task, at most two for many; robustUsefulness() refuses a missing extreme", () => {
  const n = 30, k = 2, y = Uint8Array.from({ length: n }, (_, i) => i % 3);
  const v = Float32Array.from({ length: n * k }, (_, j) => Math.sin(j));
  const stats = standardization(v, { units: k });
  const one = orientations(v, { y, classes: [2], stats });
  const jobs1 = extremeJobs(y, { orient: one, stats });
  assert.equal(jobs1.unit.length, n * k);
  for (let j = 0; j < jobs1.unit.length; j++) {
    const ys = (y[jobs1.example[j]] === 2 ? 1 : -1) * one.values[jobs1.unit[j]];
    assert.equal(jobs1.sign[j], -ys, "the worst case of y s f lowers f where y s = +1");
  }
  const all = orientations(v, { y, classes: [0, 1, 2], stats });
  const jobs3 = extremeJobs(y, { orient: all, stats });
  assert.ok(jobs3.unit.length > n * k && jobs3.unit.length <= 2 * n * k);
  const lo = new Float32Array(n * k).fill(NaN), hi = new Float32Array(n * k).fill(NaN);
  for (let j = 0; j < jobs1.unit.length; j++) {
    (jobs1.sign[j] > 0 ? hi : lo)[jobs1.example[j] * k + jobs1.unit[j]] =
      v[jobs1.example[j] * k + jobs1.unit[j]];
  }
  // with eps 0 extremes (the clean values) gamma is rho
  const g = robustUsefulness({ lo, hi }, { y, stats, orient: one });
  const r = usefulness(v, { y, stats, orient: one });
  assert.ok(Math.abs(g.values[0] - r.values[0]) < 1e-12 && Math.abs(g.values[1] - r.values[1]) < 1e-12);
  assert.throws(
    () => robustUsefulness({ lo, hi }, { y, stats, orient: all }),
    /no (minimum|maximum) of unit/,
  );
});

Deno.test("countFeatures() counts useful, robustly useful and useful non-robust features; quantiles() interpolates", () => {
  const rho = [0.5, 0.5, 0.3, 0.1, 0.05, NaN];
  const gamma = [0.2, -0.1, 0.05, -0.5, 0.1, NaN];
  assert.deepEqual(countFeatures(rho, gamma, { rho0: 0.2, gamma0: 0.1 }), {
    features: 5,
    useful: 3,
    robustlyUseful: 2,
    usefulNonRobust: 1,
  });
  assert.throws(() => countFeatures([1], [1, 2], { rho0: 0.1, gamma0: 0.1 }), /1 rho values but 2 gamma/);
  assert.deepEqual(quantiles([3, 1, 2, NaN, 4], [0, 0.5, 1]), [1, 2.5, 4]);
  assert.ok(Number.isNaN(quantiles([], [0.5])[0]));
});
