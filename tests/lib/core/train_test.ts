// Tests for lib/core/train.ts: learning, adversarial training beats standard in robust accuracy, NaN stop, leaks.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import { createModel } from "../../../lib/core/models.ts";
import { evaluate, lrAt, trainModel } from "../../../lib/core/train.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { captureStderr } from "../util/stderr.ts";

await initBackend("fast", { quiet: true });

/** Two classes in 4x4 images: a strong weak-feature pair (class = sign of a large low-variance pixel pattern). */
function toy(n: number, seed: number) {
  const rng = createRng(seed), x = new Float32Array(n * 16), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(2);
    const s = y[i] ? 1 : -1;
    for (let p = 0; p < 16; p++) {
      // pixel 0: robust feature (large margin); pixels 1..15: tiny but perfectly correlated (non-robust)
      const v = p === 0 ? 0.5 + 0.3 * s + 0.1 * rng.normal() : 0.5 + 0.02 * s;
      x[i * 16 + p] = Math.min(1, Math.max(0, v));
    }
  }
  return { x, y, n, shape: [4, 4, 1] as [number, number, number] };
}
const base = {
  epochs: 8,
  batchSize: 50,
  optimizer: "adam",
  lr: 1e-2,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "constant" as const,
  seed: 0,
};

Deno.test("trainModel() learns a separable problem; history has one entry per epoch", async () => {
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
  const h = await trainModel(m, toy(400, 1), { ...base, epochs: 4 });
  assert.equal(h.loss.length, 4);
  assert.ok(h.loss[3] < h.loss[0]);
  assert.ok((await evaluate(m, toy(400, 2))).acc > 0.95);
});

Deno.test("adversarial training gives higher robust accuracy than standard training", async () => {
  const data = toy(600, 3), test = toy(300, 4);
  const attack = { threat: "linf", eps: 0.1, steps: 5, stepSize: 0.04, seed: 0 };
  const std = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 1 });
  await trainModel(std, data, base);
  const adv = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 1 });
  await trainModel(adv, data, {
    ...base,
    adversarial: { threat: "linf", eps: 0.1, steps: 5, stepSize: 0.04 },
  });
  const rs = (await evaluate(std, test, { attack })).robustAcc!,
    ra = (await evaluate(adv, test, { attack })).robustAcc!;
  assert.ok(ra > rs + 0.1 && ra > 0.9, `robust acc adversarial ${ra} vs standard ${rs}`);
});

Deno.test("the bars of trainModel() and evaluate() show accuracy and robust accuracy as percentages, no attack success", async () => {
  const data = toy(200, 5);
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 1 });
  const train = await captureStderr(() => trainModel(m, data, { ...base, epochs: 1, label: "train mlp" }));
  assert.match(train.text, /train mlp .* acc \d+\.\d%/);
  const attack = { threat: "l2", eps: 0.5, steps: 2, stepSize: 0.3, seed: 0 };
  const ev = await captureStderr(() => evaluate(m, data, { attack, label: "robust acc mlp (eps 0.5)" }));
  const robust = /robust acc mlp \(eps 0\.5\) \[#+\] 100% .* robust acc (\d+\.\d)%\n/.exec(ev.text);
  assert.ok(robust, ev.text);
  assert.equal(Number(robust[1]), Math.round(1000 * ev.value.robustAcc!) / 10);
  assert.doesNotMatch(ev.text, /success/);
  m.model.dispose();
});

Deno.test("trainModel() stops on a non-finite loss naming epoch, step, learning rate and the config keys", async () => {
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
  const data = toy(100, 5);
  data.x[0] = NaN;
  await assert.rejects(
    () => trainModel(m, data, { ...base, epochs: 1, batchSize: 100, configKey: "source" }),
    /training of source diverged \(loss NaN\) at epoch 1, step 1, learning rate 0\.01; lower --source\.lr \(now 0\.01\) or try --source\.optimizer=sgd/,
  );
});

Deno.test("trainModel() stops an exploding loss (Adam at lr 1e4) before it finishes", async () => {
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
  await assert.rejects(
    () => trainModel(m, toy(400, 5), { ...base, lr: 1e4, epochs: 20, configKey: "fresh" }),
    /training of fresh (exploded|diverged) .*lower --fresh\.lr \(now 10000\)/,
  );
});

Deno.test("trainModel() rejects bad options and data that does not fit, before any work", async () => {
  const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
  await assert.rejects(() => trainModel(m, toy(10, 1), { ...base, lr: 0 }), /lr must be > 0, got 0/);
  await assert.rejects(
    () => trainModel(m, toy(10, 1), { ...base, optimizer: "adamw" }),
    /unknown optimizer "adamw"; accepted: sgd, adam/,
  );
  const bad = toy(10, 1);
  bad.y[3] = 5;
  await assert.rejects(() => trainModel(m, bad, base), /label 5 at index 3 is out of range for 2 classes/);
  await assert.rejects(
    () => trainModel(m, { ...toy(10, 1), shape: [2, 8, 1] }, base),
    /expects images 4x4x1, the data has 2x8x1/,
  );
});

Deno.test("trainModel() leaks no tensors over many steps (BN model, weight decay, adversarial)", async () => {
  const m = createModel("resnet_small", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
  const data = toy(64, 6);
  await trainModel(m, data, { ...base, epochs: 1, batchSize: 16, weightDecay: 1e-4 });
  const start = tf.memory().numTensors;
  await trainModel(m, data, {
    ...base,
    epochs: 3,
    batchSize: 8,
    weightDecay: 1e-4,
    adversarial: { threat: "l2", eps: 0.1, steps: 2, stepSize: 0.05 },
  });
  await evaluate(m, data, { attack: { threat: "l2", eps: 0.1, steps: 2, stepSize: 0.05, seed: 0 } });
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("lrAt() step schedule divides by 10 at 50% and 75%; cosine ends near 0", () => {
  assert.equal(lrAt({ lr: 1, schedule: "step" }, 0.4), 1);
  assert.equal(lrAt({ lr: 1, schedule: "step" }, 0.6), 0.1);
  assert.ok(Math.abs(lrAt({ lr: 1, schedule: "step" }, 0.8) - 0.01) < 1e-12);
  assert.ok(lrAt({ lr: 1, schedule: "cosine" }, 0.999) < 1e-4);
});

Deno.test("trainModel() with sgd follows the schedule (the step rate reaches the update) and leaks nothing", async () => {
  const data = toy(200, 8);
  const sgd = { ...base, optimizer: "sgd", lr: 0.5, epochs: 4 };
  const weights = async (schedule: "constant" | "step") => {
    const m = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 0 });
    await trainModel(m, data, { ...sgd, schedule });
    const w = m.model.getWeights().map((t) => Array.from(t.dataSync()));
    m.model.dispose();
    return w.flat();
  };
  const start = tf.memory().numTensors;
  const [a, b] = [await weights("constant"), await weights("step")];
  assert.equal(tf.memory().numTensors, start, "no tensor left by the optimizer");
  // the step schedule divides the rate by 10 after half the steps: the weights must differ from a constant rate
  assert.ok(
    a.some((v, i) => Math.abs(v - b[i]) > 1e-4),
    "the schedule changed nothing: the rate never reached SGD",
  );
});
