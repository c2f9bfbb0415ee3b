// deno task bench: FLOP counting, the per-model result fields, and the 1,000-step memory run's bookkeeping.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { benchModel, forwardFlops, memoryRun, peakRssMiB } from "../../../lib/backend/bench.ts";
import { initBackend } from "../../../lib/backend/mod.ts";
import { createModel } from "../../../lib/models.ts";

await initBackend("fast", { quiet: true });

Deno.test("forwardFlops(): the reference CNN costs 2 x its multiply-adds, counted by hand", () => {
  const m = createModel("cnn", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  // conv 28x28 (3x3x1x32), conv 14x14 (3x3x32x64), conv 7x7 (3x3x64x64), dense 3136x128, dense 128x10
  const macs = 784 * 288 + 196 * 18432 + 49 * 36864 + 3136 * 128 + 128 * 10;
  assert.equal(forwardFlops(m), 2 * macs);
  m.model.dispose();
});

Deno.test("benchModel() reports every throughput as a positive finite rate and leaks no tensor", async () => {
  const start = tf.memory().numTensors;
  const r = await benchModel("cnn", { batch: 4, repeats: 1 });
  for (
    const k of [
      "trainImgPerSec",
      "inputGradImgPerSec",
      "forwardImgPerSec",
      "pgdStepImgPerSec",
      "trainLoopImgPerSec",
    ] as const
  ) assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`);
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("memoryRun(): tensor count stays flat over the run and the peak RSS is read", () => {
  const r = memoryRun(20, 4);
  assert.equal(r.steps, 20);
  assert.equal(r.numTensorsAfter, r.numTensorsBefore);
  assert.ok(r.peakRssMiB > 10 && r.peakRssMiB >= Deno.memoryUsage().rss / 2 ** 20 - 1, `${r.peakRssMiB}`);
  assert.ok(peakRssMiB() >= r.peakRssMiB);
});
