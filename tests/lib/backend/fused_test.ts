// Tests for lib/backend/fused.ts: the fused L2 PGD step against the l2 threat model's own ops on tfjs's cpu
// backend (random shapes, projection active or not, eps Infinity, batch 1), its fallback, and pgd() with it;
// relu(x * scale + shift) and its three gradients against tfjs's ops on the cpu backend.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import { affineRelu, l2StepProjectClip } from "../../../lib/backend/fused.ts";
import { pgd, THREAT_MODELS, type ThreatModel } from "../../../lib/core/attacks.ts";
import { createModel } from "../../../lib/core/models.ts";
import { profileKernels } from "../../../bench/profile.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose } from "./assert_close.ts";

await initBackend("fast", { quiet: true });

/** What pgd() computes with the l2 threat model's ops: clip(x + project(delta + step(g)), 0, 1) - x. */
const reference = (x: tf.Tensor4D, delta: tf.Tensor4D, g: tf.Tensor4D, step: number, eps: number) =>
  tf.tidy(() => {
    const l2 = THREAT_MODELS.get("l2");
    const d = l2.project(delta.add(l2.step(g, step)) as tf.Tensor4D, eps);
    return x.add(d).clipByValue(0, 1).sub(x);
  });

const cases: { shape: [number, number, number, number]; step: number; eps: number; what: string }[] = [
  { shape: [5, 7, 6, 1], step: 0.3, eps: 1, what: "inside the ball" },
  { shape: [3, 9, 9, 3], step: 2, eps: 0.5, what: "projected onto the ball" },
  { shape: [1, 28, 28, 1], step: 0.25, eps: 1, what: "batch 1" },
  { shape: [4, 5, 3, 2], step: 1.5, eps: Infinity, what: "eps Infinity" },
];

for (const c of cases) {
  Deno.test(`l2StepProjectClip ${c.what} [${c.shape}]: the l2 threat model's step, projection and clip (cpu), one kernel`, async () => {
    const rng = createRng(5);
    const n = c.shape.reduce((a, b) => a * b, 1);
    const xd = Float32Array.from({ length: n }, () => rng.next());
    const dd = Float32Array.from({ length: n }, () => 0.05 * rng.normal());
    const gd = Float32Array.from({ length: n }, () => rng.normal());
    const run = (f: typeof reference) =>
      tf.tidy(() => {
        const t = (a: Float32Array) => tf.tensor4d(a, c.shape);
        return f(t(xd), t(dd), t(gd), c.step, c.eps).dataSync() as Float32Array;
      });
    await tf.setBackend("cpu");
    const want = run(reference);
    const t = tf.tensor4d(xd, c.shape), onCpu = l2StepProjectClip(t, t, t, c.step, c.eps);
    t.dispose();
    assert.equal(onCpu, null, "the cpu backend has no fused kernel");
    await tf.setBackend("wasm");
    const start = tf.memory().numTensors;
    const fused = (x: tf.Tensor4D, d: tf.Tensor4D, g: tf.Tensor4D, s: number, e: number) =>
      l2StepProjectClip(x, d, g, s, e) as tf.Tensor4D;
    assertClose(want, run(fused), "next delta");
    const kernels = profileKernels(() => run(fused), 1).map(([k]) => k);
    assert.deepEqual(kernels.filter((k) => k !== "(outside kernels)"), ["FastL2Step"]);
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
  });
}

Deno.test("l2StepProjectClip returns null for mismatched shapes or dtypes (the caller's ops run instead)", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([2, 3, 3, 1]), other = tf.zeros([2, 3, 3, 2]), ints = tf.zeros([2, 3, 3, 1], "int32");
  assert.equal(l2StepProjectClip(x, other, x, 1, 1), null);
  assert.equal(l2StepProjectClip(x, x, ints, 1, 1), null);
  tf.dispose([x, other, ints]);
});

Deno.test("pgd(l2) with the fused step: the unfused loop's result (l2 without stepProjectClip) to float rounding", async () => {
  await tf.setBackend("wasm");
  const m = createModel("cnn", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  const rng = createRng(8);
  const x = tf.tensor4d(Float32Array.from({ length: 6 * 784 }, () => rng.next()), [6, 28, 28, 1]);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5], "int32");
  const start = tf.memory().numTensors;
  const run = (threat: string | ThreatModel) =>
    tf.tidy(() =>
      pgd(m, x, { y, threat, eps: 0.5, steps: 4, stepSize: 0.3, randomStart: true, seed: 2 }).xAdv
        .dataSync() as Float32Array
    );
  // the l2 threat model without its fused update: pgd() composes step and project
  const { stepProjectClip: _fused, ...copy } = THREAT_MODELS.get("l2");
  const kernels = profileKernels(() => run("l2"), 1).map(([k]) => k);
  assert.ok(kernels.includes("FastL2Step"), kernels.join());
  assert.ok(!profileKernels(() => run(copy), 1).some(([k]) => k === "FastL2Step"));
  // a copy with its own projection keeps the fused update only if it kept l2's step and project
  const l2 = THREAT_MODELS.get("l2");
  const own = { ...l2, project: (d: tf.Tensor4D, eps: number) => l2.project(d, eps) };
  assert.ok(!profileKernels(() => run(own), 1).some(([k]) => k === "FastL2Step"), "own project: composed");
  assert.ok(profileKernels(() => run({ ...l2 }), 1).some(([k]) => k === "FastL2Step"), "plain copy: fused");
  assertClose(run(copy), run("l2"), "xAdv");
  assert.equal(tf.memory().numTensors, start, "no tensors left behind");
  tf.dispose([x, y]);
  m.model.dispose();
});

const affineCases: { shape: number[]; what: string }[] = [
  { shape: [2, 5, 4, 6], what: "NHWC" },
  { shape: [1, 3, 3, 1], what: "batch 1, one channel" },
  { shape: [7, 84], what: "rank 2" },
  { shape: [128, 14, 14, 60], what: "large enough for two threads" },
];

for (const c of affineCases) {
  Deno.test(`affineRelu ${c.what} [${c.shape}]: relu(x * scale + shift) and its gradients as tfjs's ops (cpu), one kernel`, async () => {
    const rng = createRng(9);
    const n = c.shape.reduce((a, b) => a * b, 1), ch = c.shape[c.shape.length - 1];
    const xd = Float32Array.from({ length: n }, () => rng.normal());
    if (n > 3) xd[3] = NaN; // stays NaN, as in tfjs's relu
    const sd = Float32Array.from({ length: ch }, () => rng.normal()),
      td = Float32Array.from({ length: ch }, () => rng.normal());
    const wd = Float32Array.from({ length: n }, () => rng.normal()); // a random cotangent
    const run = (f: (x: tf.Tensor, s: tf.Tensor, t: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const [x, s, t, w] = [
          tf.tensor(xd, c.shape),
          tf.tensor1d(sd),
          tf.tensor1d(td),
          tf.tensor(wd, c.shape),
        ];
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => f(a, b, d).mul(w).sum())([
          x.where(x.isNaN().logicalNot(), 0), // no NaN in the gradient check
          s,
          t,
        ]);
        return [f(x, s, t), ...grads].map((r) => r.dataSync() as Float32Array);
      });
    await tf.setBackend("cpu");
    const ops = (x: tf.Tensor, s: tf.Tensor, t: tf.Tensor) => tf.relu(x.mul(s).add(t));
    const want = run(ops);
    assert.equal(affineRelu(tf.zeros([1, ch]), tf.ones([ch]), tf.zeros([ch])), null, "no kernel on cpu");
    await tf.setBackend("wasm");
    const start = tf.memory().numTensors;
    const fused = (x: tf.Tensor, s: tf.Tensor, t: tf.Tensor) => affineRelu(x, s, t)!;
    const got = run(fused);
    if (n > 3) {
      assert.ok(Number.isNaN(want[0][3]) && Number.isNaN(got[0][3]), "NaN stays NaN, as in tfjs's relu");
      want[0][3] = got[0][3] = 0;
    }
    ["value", "d x", "d scale", "d shift"].forEach((w, i) => assertClose(want[i], got[i], w));
    const kernels = profileKernels(() => void run(fused), 1).map(([k]) => k);
    assert.ok(kernels.includes("FastAffineRelu") && !kernels.includes("Relu"), kernels.join(", "));
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
  });
}

Deno.test("affineRelu returns null for a scale or shift that does not fit the last axis, or int32", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([2, 3, 4]),
    four = tf.ones([4]),
    three = tf.ones([3]),
    ints = tf.zeros([2, 3, 4], "int32");
  assert.equal(affineRelu(x, three, four), null);
  assert.equal(affineRelu(x, four, tf.ones([1, 4])), null);
  assert.equal(affineRelu(ints, four, four), null);
  assert.ok(affineRelu(x, four, four) !== null);
  tf.disposeVariables();
});
