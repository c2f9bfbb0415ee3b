// Tests for lib/attacks.ts: constraints, loss increase, targeted success, analytic direction, eq. 5, leaks.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { matchRepresentation, pgd, THREAT_MODELS } from "../../lib/attacks.ts";
import { createModel, wrap, type ZooModel } from "../../lib/models.ts";
import { trainModel } from "../../lib/train.ts";
import { loadDataset } from "../../lib/data/registry.ts";
import { firstN } from "../../lib/data/batch.ts";

await initBackend("fast", { quiet: true });
const ds = await loadDataset("fashion-mnist");
const train = firstN(ds.train, 1000);
const model = createModel("mlp", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
trainModel(model, train, {
  epochs: 3,
  batchSize: 100,
  optimizer: "adam",
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "constant",
  seed: 0,
});
const x = tf.tensor4d(train.x.subarray(0, 100 * 784), [100, 28, 28, 1]);
const y = tf.tensor1d(train.y.subarray(0, 100), "int32");

const ce = (m: ZooModel, xx: tf.Tensor4D) =>
  tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), m.logits(xx)).dataSync()[0]);

for (const threat of ["l2", "linf"]) {
  Deno.test(`pgd(${threat}) stays inside the eps ball and [0,1], raises the loss, with random start and restarts`, () => {
    const eps = threat === "l2" ? 1.5 : 0.1;
    const r = pgd(model, x, {
      y,
      threat,
      eps,
      steps: 10,
      stepSize: 2.5 * eps / 10,
      randomStart: true,
      restarts: 2,
      seed: 1,
    });
    const norms = THREAT_MODELS[threat].norm(r.xAdv.sub(x) as tf.Tensor4D).dataSync();
    const tol = threat === "l2" ? 1e-5 : 1e-6;
    assert.ok(norms.every((n) => n <= eps + tol), `max norm ${Math.max(...norms)} > ${eps}`);
    const v = r.xAdv.dataSync();
    assert.ok(v.every((p) => p >= 0 && p <= 1));
    assert.ok(ce(model, r.xAdv) > ce(model, x), "adversarial loss above clean loss");
    tf.dispose([r.xAdv, r.success, r.loss]);
  });
}

Deno.test("pgd() targeted reaches its targets for > 90% of examples at a generous eps", () => {
  const t = tf.tidy(() => y.add(1).mod(10) as tf.Tensor1D);
  const r = pgd(model, x, { y, threat: "l2", eps: 6, steps: 20, stepSize: 0.75, targeted: true, targets: t });
  assert.ok(r.success.mean().dataSync()[0] > 0.9);
  const pred = model.logits(r.xAdv).argMax(1).dataSync(), tt = t.dataSync();
  assert.ok(pred.filter((p, i) => p === tt[i]).length / 100 > 0.9, "success means classified as the target");
  tf.dispose([t, r.xAdv, r.success, r.loss]);
});

Deno.test("pgd(l2) on a linear model moves along the analytic worst-case direction (cosine > 0.99)", () => {
  const input = tf.input({ shape: [4, 4, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) });
  const logits = dense.apply(flat) as tf.SymbolicTensor;
  const lin = wrap(
    "linear",
    tf.model({ inputs: input, outputs: logits }),
    tf.model({ inputs: input, outputs: flat }),
  );
  const x0 = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D, y0 = tf.tensor1d([0], "int32");
  const r = pgd(lin, x0, { y: y0, threat: "l2", eps: 0.1, steps: 5, stepSize: 0.05 });
  const w = dense.getWeights()[0].arraySync() as number[][];
  const dir = w.map((row) => row[1] - row[0]); // the CE gradient of class 0 points along w1 - w0
  const delta = r.xAdv.sub(x0).dataSync();
  const cos = dir.reduce((a, v, i) => a + v * delta[i], 0) / (Math.hypot(...dir) * Math.hypot(...delta));
  assert.ok(cos > 0.99, `cosine ${cos}`);
});

Deno.test("matchRepresentation() lowers the representation distance and stays at x from x0 = x", () => {
  const xs = x.slice([0, 0, 0, 0], [20, 28, 28, 1]);
  const x0 = x.slice([20, 0, 0, 0], [20, 28, 28, 1]);
  const before = tf.tidy(() =>
    model.representation(x0).sub(model.representation(xs)).square().sum(1).sqrt().mean().dataSync()[0]
  );
  const r = matchRepresentation(model, xs, { x0, steps: 20, stepSize: 0.3 });
  assert.ok(r.distance.mean().dataSync()[0] < 0.7 * before);
  assert.ok(r.xr.dataSync().every((v) => v >= 0 && v <= 1));
  const same = matchRepresentation(model, xs, { x0: xs, steps: 3, stepSize: 0.3 });
  assert.ok(tf.max(tf.abs(same.xr.sub(xs))).dataSync()[0] < 1e-6);
  tf.dispose([xs, x0, r.xr, r.distance, r.relDistance, same.xr, same.distance, same.relDistance]);
});

Deno.test("pgd() and matchRepresentation() leak no tensors", () => {
  const start = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const r = pgd(model, x, {
      y,
      threat: "l2",
      eps: 1,
      steps: 3,
      stepSize: 0.5,
      randomStart: true,
      restarts: 2,
      bestIterate: true,
    });
    tf.dispose([r.xAdv, r.success, r.loss]);
    const m = matchRepresentation(model, x, { x0: x, steps: 2, stepSize: 0.1 });
    tf.dispose([m.xr, m.distance, m.relDistance]);
  }
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("pgd() rejects bad hyper-parameters before any work", () => {
  assert.throws(
    () => pgd(model, x, { y, threat: "l3", eps: 1, steps: 1, stepSize: 1 }),
    /unknown threat model "l3"; accepted: l2, linf/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 0, steps: 1, stepSize: 1 }),
    /eps must be > 0, got 0/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 1, steps: 0, stepSize: 1 }),
    /steps must be an integer >= 1, got 0/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 1, steps: 1, stepSize: -1 }),
    /stepSize must be > 0, got -1/,
  );
});
