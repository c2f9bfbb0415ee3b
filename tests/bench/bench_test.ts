// deno task bench: FLOP counting, the per-model result fields, and the 1,000-step memory run's bookkeeping.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { benchModel, forwardFlops, memoryRun, pairedTimes, peakRssMiB } from "../../bench/bench.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { createModel } from "../../lib/core/models.ts";
import { findTorch, PEER_RATES } from "../../lib/backend/peer.ts";

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
      "pgdVsInputGrad",
      "trainLoopVsTrain",
      "matchStepImgPerSec",
      "matchVsInputGrad",
    ] as const
  ) assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`);
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("pairedTimes(): calls the two in turn (a b b a ...) after the warm-ups and returns each one's median", async () => {
  const calls: string[] = [];
  const busy = (ms: number) => {
    const s = performance.now();
    while (performance.now() - s < ms) { /* spin */ }
  };
  const [a, b] = await pairedTimes(() => (calls.push("a"), busy(4)), async () => {
    calls.push("b");
    await new Promise((r) => setTimeout(r, 12));
  }, { warmup: 1, repeats: 4 });
  assert.deepEqual(calls.join(""), "ab" + "ab" + "ba" + "ab" + "ba");
  assert.ok(a >= 0.004 && a < b, `a ${a} s, b ${b} s`);
  assert.ok(b >= 0.012, `b ${b} s`);
});

Deno.test("memoryRun(): tensor count stays flat over the run and the peak RSS is read", () => {
  const r = memoryRun(20, 4);
  assert.equal(r.steps, 20);
  assert.equal(r.numTensorsAfter, r.numTensorsBefore);
  assert.ok(r.peakRssMiB > 10 && r.peakRssMiB >= Deno.memoryUsage().rss / 2 ** 20 - 1, `${r.peakRssMiB}`);
  assert.ok(peakRssMiB() >= r.peakRssMiB);
});

Deno.test({
  name:
    "deno task bench --vs=torch --json: per-model ratios for train, input gradient and forward, and each round's",
  ignore: !findTorch(),
  fn: () => {
    const bench = new URL("../../bench/bench.ts", import.meta.url).pathname;
    const args = ["run", "-A", bench, "--vs=torch", "--json", "--models=mlp,cnn", "--batch=4", "--repeats=1"];
    const p = new Deno.Command(Deno.execPath(), {
      args: [...args, "--warmup=0", "--loops=false", "--rounds=2"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    assert.ok(p.success, new TextDecoder().decode(p.stderr).slice(-400));
    const out = JSON.parse(new TextDecoder().decode(p.stdout));
    assert.deepEqual(Object.keys(out.torch.models), ["mlp", "cnn"]);
    for (const [arch, r] of Object.entries(out.torch.models) as [string, Record<string, unknown>][]) {
      const ratio = r.ratio as Record<string, number>, rounds = r.roundRatios as unknown[];
      assert.equal(rounds.length, 2, `${arch}: one ratio set per round`);
      for (const k of PEER_RATES) {
        assert.ok(Number.isFinite(ratio[k]) && ratio[k] > 0, `${arch} ${k}: ${ratio[k]}`);
        const ours = out.models[arch][k], theirs = (r.theirs as Record<string, number>)[k];
        assert.ok(ours > 0 && theirs > 0, `${arch} ${k}: ours ${ours}, theirs ${theirs}`);
      }
    }
  },
});
