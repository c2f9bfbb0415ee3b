// Tests for lib/run/robustness.ts: the robust accuracy curve of each model (cached and sharded), its mean over
// seeds, each model's accuracies at the headline eps, a margin per seed with its interval, the headline eps and
// the fresh seeds.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import { createModel } from "../../../lib/core/models.ts";
import { evaluate } from "../../../lib/core/train.ts";
import {
  accuracyAt,
  type CurvePoint,
  freshSeed,
  headlineEps,
  meanOverSeeds,
  robustnessCurve,
  type SeedCurvePoint,
  seedMargin,
} from "../../../lib/run/robustness.ts";
import { ShardStop } from "../../../lib/run/shard.ts";
import { createRng, deriveSeed } from "../../../lib/util/rng.ts";
import { ls } from "./fixtures/fs_faults.ts";

await initBackend("cpu", { quiet: true });

/** n random 4x4 grey images with `classes` classes. */
function toy(n: number, seed: number, classes = 2) {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: n * 16 }, () => rng.next());
  return {
    x,
    y: Uint8Array.from({ length: n }, () => rng.int(classes)),
    n,
    shape: [4, 4, 1] as [number, number, number],
  };
}

/** A toy split as the DataRef an experiment passes (its identity names the split). */
const ref = (split: ReturnType<typeof toy>, name: string) => ({
  split,
  id: { data: "toy", name, n: split.n },
});

/** Two small mlps under the hashes "b" and "a" (in that order). */
const twoModels = (seeds = [1, 2], numClasses = 2) => ({
  b: { model: createModel("mlp", { inputShape: [4, 4, 1], numClasses, seed: seeds[0] }), hash: "b" },
  a: { model: createModel("mlp", { inputShape: [4, 4, 1], numClasses, seed: seeds[1] }), hash: "a" },
});

Deno.test("robustnessCurve(): every model in the record's order, eps 0 = standard accuracy, then each eps; never above it", async () => {
  const test = ref(toy(40, 1), "test[:40]");
  const models = twoModels();
  const before = tf.memory().numTensors;
  const attack = { steps: 3, curve: [0.5, 2], strongSteps: 0, restarts: 1 };
  const curve = await robustnessCurve(models, test, { attack, seed: 3, cache: false });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(curve.map((p) => `${p.model}@${p.eps}`), ["b@0", "b@0.5", "b@2", "a@0", "a@0.5", "a@2"]);
  for (const n of ["a", "b"] as const) {
    const clean = curve.find((p) => p.model === n && p.eps === 0)!;
    assert.equal(clean.robustAcc, (await evaluate(models[n].model, test.split)).acc);
    for (const p of curve.filter((p) => p.model === n && p.eps > 0)) {
      assert.ok(p.robustAcc <= clean.robustAcc, `${n} at eps ${p.eps}: ${p.robustAcc} > ${clean.robustAcc}`);
      assert.equal(p.pgdRobustAcc, p.robustAcc); // no Auto-PGD after PGD: the two are one
    }
  }
  // the attack's random starts come from the seed: the same seed gives the same curve
  assert.deepEqual(await robustnessCurve(models, test, { attack, seed: 3, cache: false }), curve);
  Object.values(models).forEach((m) => m.model.model.dispose());
});

Deno.test("robustnessCurve() with the cache: 2 shards' parts assemble to the one-process curve, and the evaluations are then cache hits", async () => {
  const root = await Deno.makeTempDir();
  // 600 examples: chunks of 250, 250 and 100, so the two shards get 2 chunks and 1
  // three classes: Auto-PGD's DLR loss needs them
  const test = ref(toy(600, 4, 3), "test[:600]"), models = twoModels([1, 2], 3);
  const attack = { steps: 2, curve: [0.5, 1.5], strongSteps: 2, restarts: 1 };
  const oneProcess = await robustnessCurve(models, test, { attack, seed: 5, cache: false });
  for (const index of [1, 0]) {
    const shard = { index, count: 2 };
    const err = await robustnessCurve(models, test, { attack, seed: 5, cache: true, root, shard })
      .then(() => null, (e) => e);
    assert.ok(err instanceof ShardStop, `shard ${index}/2 should stop, got ${err}`);
    assert.equal(err.built.length, 4, "its part of each model at each eps");
    assert.deepEqual(err.built[0].missing, index === 1 ? [0] : []);
  }
  assert.deepEqual(ls(join(root, "eval")).length, 4, "four sets of parts, nothing assembled yet");
  const assembled = await robustnessCurve(models, test, { attack, seed: 5, cache: true, root });
  assert.deepEqual(assembled, oneProcess, "the assembled curve is the one-process curve");
  assert.deepEqual(ls(join(root, "eval")).filter((n) => !n.endsWith(".lock")).length, 4, "parts removed");
  // other weights under the same hashes: the robust points come from the cache, eps 0 is measured again
  const others = twoModels([7, 8], 3);
  const again = await robustnessCurve(others, test, { attack, seed: 5, cache: true, root });
  assert.deepEqual(again.filter((p) => p.eps > 0), oneProcess.filter((p) => p.eps > 0));
  // another seed is another entry
  const seed6 = await robustnessCurve(models, test, { attack, seed: 6, cache: true, root });
  assert.equal(ls(join(root, "eval")).filter((n) => !n.endsWith(".lock")).length, 8);
  assert.notDeepEqual(seed6, oneProcess);
  [...Object.values(models), ...Object.values(others)].forEach((m) => m.model.model.dispose());
  await Deno.remove(root, { recursive: true });
});

Deno.test("meanOverSeeds(): one point per (model, eps) with the mean, sample sd and count; pgdRobustAcc only when every seed has it", () => {
  const pts: SeedCurvePoint[] = [
    { model: "d_r", eps: 1, robustAcc: 0.2, pgdRobustAcc: 0.3, seed: 0 },
    { model: "d_r", eps: 1, robustAcc: 0.4, pgdRobustAcc: 0.5, seed: 7 },
    { model: "control", eps: 1, robustAcc: 0.1, seed: 0 },
    { model: "control", eps: 1, robustAcc: 0.1, pgdRobustAcc: 0.2, seed: 7 },
  ];
  const m = meanOverSeeds(pts);
  assert.deepEqual(m.map((p) => p.model), ["d_r", "control"]);
  assert.ok(Math.abs(m[0].robustAcc - 0.3) < 1e-12 && Math.abs(m[0].pgdRobustAcc! - 0.4) < 1e-12);
  assert.ok(Math.abs(m[0].sd! - Math.SQRT2 * 0.1) < 1e-12);
  assert.equal(m[0].n, 2);
  assert.equal(m[1].pgdRobustAcc, undefined);
  assert.equal(m[1].sd, 0);
});

Deno.test("accuracyAt(): standard accuracy from eps 0, robust accuracy at eps, sds 0 where the curve has none", () => {
  const curve: CurvePoint[] = [
    { model: "standard", eps: 0, robustAcc: 0.9 },
    { model: "standard", eps: 1, robustAcc: 0.1 },
    { model: "d_r", eps: 0, robustAcc: 0.8, sd: 0.02, n: 3 },
    { model: "d_r", eps: 1, robustAcc: 0.3, sd: 0.05, n: 3 },
  ];
  assert.deepEqual(accuracyAt(curve, { names: ["standard", "d_r"], eps: 1 }), {
    standard: { stdAcc: 0.9, robustAcc: 0.1, stdAccSd: 0, robustAccSd: 0 },
    d_r: { stdAcc: 0.8, robustAcc: 0.3, stdAccSd: 0.02, robustAccSd: 0.05 },
  });
});

Deno.test("seedMargin(): the per-seed difference at eps (other eps ignored), its mean and 95% interval", () => {
  const p = (model: string, eps: number, robustAcc: number, seed: number) => ({
    model,
    eps,
    robustAcc,
    seed,
  });
  const pts = [
    p("d_r", 1, 0.5, 0),
    p("control", 1, 0.2, 0),
    p("d_r", 2, 0.9, 0),
    p("d_r", 1, 0.4, 9),
    p("control", 1, 0.3, 9),
  ];
  const m = seedMargin(pts, { model: "d_r", minus: "control", eps: 1 });
  assert.equal(m.eps, 1);
  assert.equal(m.n, 2);
  assert.deepEqual(m.diffs.map((d) => Math.round(d * 1e9) / 1e9), [0.3, 0.1]);
  assert.ok(Math.abs(m.mean - 0.2) < 1e-12);
  assert.ok(m.lo < 0.1 && m.hi > 0.3, `interval ${m.lo} .. ${m.hi}`);
});

Deno.test("headlineEps() picks the smallest eps where the standard model is at most headlineMax", () => {
  const curve = [0.5, 1, 2].map((eps, i) => ({
    model: "standard" as const,
    eps,
    robustAcc: [0.4, 0.04, 0.0][i],
  }));
  assert.equal(headlineEps(curve, { curve: [2, 0.5, 1], headlineMax: 0.05 }).eps, 1);
  assert.equal(headlineEps(curve, { curve: [0.5, 1, 2], headlineMax: 0.5 }).eps, 0.5);
  const none = headlineEps(curve, { curve: [0.5, 1], headlineMax: 0.01 });
  assert.equal(none.eps, 1);
  assert.match(none.rule, /none is: the largest eps/);
});

Deno.test("freshSeed(): run 0 is --seed itself, the others derived and distinct", () => {
  assert.equal(freshSeed(5, 0), 5);
  assert.equal(freshSeed(5, 1), deriveSeed(5, "fresh-seed1"));
  assert.equal(new Set([0, 1, 2, 3].map((i) => freshSeed(5, i))).size, 4);
});
