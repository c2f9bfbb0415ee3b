// FastAdam takes the same steps as tfjs's Adam (tf.train.adam): with its native kernel on the fast backend, as
// tfjs's own optimizer on the cpu backend; one kernel call per weight tensor; no tensors left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import { FastAdam } from "../../../lib/backend/adam.ts";
import { ADAM_STEP } from "../../../lib/backend/kernels.ts";
import { createRng } from "../../../lib/util/rng.ts";

await initBackend("fast", { quiet: true });

const SHAPES = [[3, 3, 2, 4], [4], [70000]]; // the last is big enough for the threaded path
const STEPS = 5;

/** Weights after STEPS steps of `opt` on fixed random gradients (the learning rate changes after step 2). */
function train(opt: tf.Optimizer, tag: string): Float32Array[] {
  const rng = createRng(4);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(rand(size(s)), s), true, `${tag}_w${i}`));
  for (let step = 0; step < STEPS; step++) {
    if (step === 2) (opt as unknown as { learningRate: number }).learningRate = 0.003;
    const grads = Object.fromEntries(
      vars.map((v, i) => [v.name, tf.tensor(rand(size(SHAPES[i])), SHAPES[i])]),
    );
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const out = vars.map((v) => v.dataSync() as Float32Array);
  tf.dispose(vars);
  opt.dispose();
  return out;
}

Deno.test("FastAdam on the fast backend takes tfjs's Adam steps (cpu backend) to float32 rounding", async () => {
  await tf.setBackend("cpu");
  const ref = train(tf.train.adam(0.01), "ref");
  await tf.setBackend("wasm");
  const kernel = tf.getKernel(ADAM_STEP, "wasm");
  assert.ok(kernel, "the fast backend registers the Adam kernel");
  let calls = 0;
  tf.unregisterKernel(ADAM_STEP, "wasm");
  tf.registerKernel({ ...kernel, kernelFunc: (a) => (calls++, kernel.kernelFunc(a)) });
  try {
    const got = train(new FastAdam(0.01), "fast");
    assert.equal(calls, SHAPES.length * STEPS, "one kernel call per weight tensor and step");
    got.forEach((w, i) => {
      let worst = 0;
      w.forEach((
        v,
        j,
      ) => (worst = Math.max(worst, Math.abs(v - ref[i][j]) / Math.max(1e-3, Math.abs(ref[i][j])))));
      assert.ok(worst <= 1e-6, `weight ${i}: relative difference ${worst}`);
    });
  } finally {
    tf.unregisterKernel(ADAM_STEP, "wasm");
    tf.registerKernel(kernel);
  }
});

Deno.test("FastAdam falls back to tfjs's Adam on another backend: identical weights", async () => {
  await tf.setBackend("cpu");
  const a = train(tf.train.adam(0.01), "a");
  const b = train(new FastAdam(0.01), "b");
  a.forEach((w, i) => assert.deepEqual(b[i], w));
});

Deno.test("FastAdam leaves no tensors behind after its moments exist", async () => {
  await tf.setBackend("wasm");
  const w = tf.variable(tf.ones([5, 3]), true, "leak_w");
  const opt = new FastAdam(0.01);
  const step = () => tf.tidy(() => opt.applyGradients([{ name: w.name, tensor: tf.fill([5, 3], 0.5) }]));
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) step();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(w.dataSync()[0] < 1, "the weights moved against the gradient");
  opt.dispose();
  w.dispose();
});
