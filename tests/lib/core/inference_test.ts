// Tests for lib/core/inference.ts: the compiled inference pass equals model.apply (logits, representation, input
// gradient) for every zoo architecture with non-trivial batch-norm statistics, and declines unknown layers.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import { compileInference } from "../../../lib/core/inference.ts";
import { ARCHITECTURES, createModel, SMALL_ARCHITECTURES } from "../../../lib/core/models.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { profileKernels } from "../../../bench/profile.ts";

await initBackend("fast", { quiet: true });

/** Max |a - b| / (max |b| + 1e-6). */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0] / (tf.max(tf.abs(b)).dataSync()[0] + 1e-6));
}

/** Random batch-norm statistics and affine weights (as after training), so that folding them is not a no-op. */
function randomizeBatchNorms(m: tf.LayersModel, seed: number): void {
  const rng = createRng(seed);
  for (const l of m.layers) {
    if (l.getClassName() !== "BatchNormalization") continue;
    const names = l.weights.map((w) => w.originalName);
    l.setWeights(
      l.getWeights().map((w, i) => {
        const v = Float32Array.from({ length: w.size }, () => rng.normal());
        // the variance must be positive
        return tf.tensor(names[i].includes("variance") ? v.map((e) => 0.2 + e * e) : v, w.shape);
      }),
    );
  }
}

/** Names of the kernels that one call of `f` runs (its output read back). */
const kernelsOf = (f: () => tf.Tensor) =>
  profileKernels(() => tf.tidy(() => void f().dataSync()), 1).map(([k]) => k);

const cases: [string, [number, number, number]][] = [
  ...SMALL_ARCHITECTURES.map((a): [string, [number, number, number]] => [a, [28, 28, 1]]),
  ["resnet18", [32, 32, 3]],
  ["vgg16", [32, 32, 3]],
];

for (const [arch, shape] of cases) {
  Deno.test(`compileInference(${arch}): logits, representation and input gradient equal model.apply's`, () => {
    const m = createModel(arch, { inputShape: shape, numClasses: 10, seed: 2 });
    randomizeBatchNorms(m.model, 5);
    const logits = compileInference(m.model), rep = compileInference(m.rep);
    assert.ok(logits && rep, `${arch}: every zoo layer is known`);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomUniform([3, ...shape], 0, 1, "float32", 7) as tf.Tensor4D;
      const ref = m.model.apply(x, { training: false }) as tf.Tensor;
      assert.ok(relErr(logits(x), ref) < 1e-4, `${arch} logits: ${relErr(logits(x), ref)}`);
      const refRep = m.rep.apply(x, { training: false }) as tf.Tensor;
      assert.ok(relErr(rep(x), refRep) < 1e-4, `${arch} representation`);
      const y = tf.oneHot(tf.tensor1d([1, 4, 9], "int32"), 10);
      const loss = (f: (x: tf.Tensor4D) => tf.Tensor) => (xx: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(y, f(xx as tf.Tensor4D) as tf.Tensor2D);
      const g = tf.grad(loss(logits))(x);
      const gRef = tf.grad(loss((xx) => m.model.apply(xx, { training: false }) as tf.Tensor))(x);
      assert.ok(relErr(g, gRef) < 1e-4, `${arch} input gradient: ${relErr(g, gRef)}`);
    });
    assert.equal(tf.memory().numTensors, before, `${arch}: no tensor left`);
    m.model.dispose();
  });
}

Deno.test("compileInference(): conv -> batch norm -> relu runs as one fused convolution, no batch norm or relu", () => {
  const m = createModel("resnet_small", { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  const f = compileInference(m.model)!;
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
  const kernels = kernelsOf(() => f(x));
  assert.ok(kernels.includes("FusedConv2D"), kernels.join(", "));
  assert.ok(!kernels.includes("FusedBatchNorm"), kernels.join(", "));
  // the only relus left: after each residual addition (three blocks)
  assert.ok(
    kernelsOf(() => m.model.apply(x) as tf.Tensor).includes("FusedBatchNorm"),
    "model.apply runs them",
  );
  x.dispose();
  m.model.dispose();
});

Deno.test("compileInference(): batch norm -> relu (densenet_small's pre-activation) runs as one FastAffineRelu", () => {
  const m = createModel("densenet_small", { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  const f = compileInference(m.model)!;
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
  const kernels = kernelsOf(() => f(x));
  assert.ok(kernels.includes("FastAffineRelu"), kernels.join(", "));
  assert.ok(!kernels.includes("FusedBatchNorm") && !kernels.includes("Relu"), kernels.join(", "));
  x.dispose();
  m.model.dispose();
});

Deno.test("compileInference() reads the weights at every call: training between calls is seen", () => {
  const m = createModel("cnn", { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  const f = compileInference(m.model)!;
  tf.tidy(() => {
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
    const a = f(x);
    m.model.setWeights(m.model.getWeights().map((w) => w.mul(1.5)));
    const b = f(x), ref = m.model.apply(x) as tf.Tensor;
    assert.ok(relErr(a, ref) > 1e-2 && relErr(b, ref) < 1e-4);
  });
  m.model.dispose();
});

Deno.test("compileInference() returns null for a layer it does not know (the caller uses model.apply)", () => {
  const input = tf.input({ shape: [4, 4, 1] });
  const h = tf.layers.dropout({ rate: 0.5 }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor,
  });
  assert.equal(compileInference(model), null);
  const sigmoid = tf.model({
    inputs: input,
    outputs: tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: "sigmoid" }).apply(
      input,
    ) as tf.SymbolicTensor,
  });
  assert.equal(compileInference(sigmoid), null);
  model.dispose();
  sigmoid.dispose();
});

Deno.test("every zoo architecture compiles (none falls back to model.apply)", () => {
  for (const arch of ARCHITECTURES) {
    const shape: [number, number, number] = SMALL_ARCHITECTURES.includes(arch) ? [28, 28, 1] : [32, 32, 3];
    const m = createModel(arch, { inputShape: shape, numClasses: 10, seed: 0 });
    assert.ok(compileInference(m.model) && compileInference(m.rep), arch);
    m.model.dispose();
  }
});
