// The per-kernel profiler and the interleaved A/B timer behind bench/profile.ts.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { interleaved, profileKernels } from "../../bench/profile.ts";

await initBackend("fast", { quiet: true });

Deno.test("profileKernels(): names the kernels a step runs, sums to the step, and puts the kernels back", () => {
  const before = tf.getKernel("Conv2D", "wasm")!.kernelFunc;
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", 1),
    w = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2);
  const start = tf.memory().numTensors;
  const p = profileKernels(
    () => tf.tidy(() => void tf.relu(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")).dataSync()),
    3,
  );
  const names = p.map(([k]) => k);
  assert.ok(names.includes("Conv2D") && names.includes("Relu"), names.join(","));
  assert.ok(names.includes("(outside kernels)"));
  assert.ok(p.every(([, ms]) => Number.isFinite(ms)));
  assert.ok(p.slice(1).every(([, ms], i) => ms <= p[i][1]), "largest first");
  assert.equal(tf.getKernel("Conv2D", "wasm")!.kernelFunc, before, "the original kernel is registered again");
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, w]);
});

Deno.test("interleaved(): every variant is used for each timed call, in alternating order", () => {
  const order: number[] = [];
  let current = -1;
  const sec = interleaved(() => order.push(current), 2, (i) => (current = i), { warmup: 1, repeats: 3 });
  assert.deepEqual(order, [0, 1, 1, 0, 0, 1, 1, 0]);
  assert.equal(sec.length, 2);
  assert.ok(sec.every((s) => s >= 0));
});
