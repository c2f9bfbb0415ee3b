// Tests for lib/core/models.ts: every architecture builds for both input shapes, seeds fix the weights.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  ARCHITECTURES,
  createModel,
  fakeRelu,
  representationPreActivation,
  SMALL_ARCHITECTURES,
} from "../../../lib/core/models.ts";

await initBackend("fast", { quiet: true });

Deno.test("createModel() gives logits [b, classes] and a representation from the same weights for every small arch", () => {
  for (const arch of SMALL_ARCHITECTURES) {
    for (const shape of [[28, 28, 1], [32, 32, 3]] as [number, number, number][]) {
      const m = createModel(arch, { inputShape: shape, numClasses: 7, seed: 1 });
      tf.tidy(() => {
        const x = tf.randomUniform([2, ...shape], 0, 1, "float32", 3) as tf.Tensor4D;
        assert.deepEqual(m.logits(x).shape, [2, 7], `${arch} ${shape}`);
        const rep = m.representation(x);
        // logits = last dense layer applied to the representation
        const last = m.model.layers[m.model.layers.length - 1];
        const viaRep = last.apply(rep) as tf.Tensor;
        assert.ok(
          tf.max(tf.abs(viaRep.sub(m.logits(x)))).dataSync()[0] < 1e-4,
          `${arch}: logits = W g(x) + b`,
        );
      });
      m.model.dispose();
    }
  }
});

Deno.test("createModel() is deterministic for a seed and differs across seeds", () => {
  const w = (seed: number) =>
    createModel("cnn", { inputShape: [28, 28, 1], numClasses: 10, seed }).model.getWeights()[0].dataSync();
  assert.deepEqual(w(4), w(4));
  assert.notDeepEqual(w(4), w(5));
});

Deno.test("createModel() rejects unknown architectures (listing the choices) and input shapes that do not fit", () => {
  assert.throws(
    () => createModel("resnet9000", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 }),
    /unknown architecture "resnet9000"; accepted: mlp, lenet, cnn/,
  );
  const m = createModel("mlp", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  assert.throws(
    () => tf.tidy(() => m.logits(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D)),
    /mlp expects images \[batch, 28, 28, 1\], got \[1,32,32,3\]/,
  );
  assert.ok(
    ARCHITECTURES.includes("resnet50") && ARCHITECTURES.includes("vgg16") &&
      ARCHITECTURES.includes("resnet18"),
  );
});

Deno.test("representationPreActivation() gives h with relu(h) = g for dense + ReLU ends, null elsewhere", () => {
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  for (const arch of ["mlp", "cnn", "lenet", "vgg_small"]) {
    const m = createModel(arch, { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
    const pre = representationPreActivation(m)!;
    assert.ok(pre, arch);
    const gap = tf.tidy(() => tf.relu(pre(x)).sub(m.representation(x)).abs().max().dataSync()[0]);
    assert.ok(gap < 1e-4, `${arch}: max |relu(h) - g| = ${gap}`);
    const neg = tf.tidy(() => pre(x).less(0).sum().dataSync()[0]);
    assert.ok(neg > 0, `${arch}: h has negative entries (it is not g)`);
    m.model.dispose();
  }
  for (const arch of ["resnet_small", "densenet_small"]) {
    const m = createModel(arch, { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
    assert.equal(representationPreActivation(m), null, arch);
    m.model.dispose();
  }
  x.dispose();
});

Deno.test("fakeRelu() is a ReLU forward and passes the whole gradient backward", () => {
  const h = tf.tensor2d([[-1, 2], [3, -4]]);
  assert.deepEqual(Array.from(fakeRelu(h).dataSync()), [0, 2, 3, 0]);
  const g = tf.grad((v: tf.Tensor) => fakeRelu(v as tf.Tensor2D).mul(tf.tensor2d([[1, 2], [3, 4]])).sum())(h);
  assert.deepEqual(Array.from(g.dataSync()), [1, 2, 3, 4]);
  const real = tf.grad((v: tf.Tensor) => tf.relu(v).mul(tf.tensor2d([[1, 2], [3, 4]])).sum())(h);
  assert.deepEqual(Array.from(real.dataSync()), [0, 2, 3, 0]);
});
