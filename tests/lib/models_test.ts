// Tests for lib/models.ts: every architecture builds for both input shapes, seeds fix the weights.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { ARCHITECTURES, createModel, SMALL_ARCHITECTURES } from "../../lib/models.ts";

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
