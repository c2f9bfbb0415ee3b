// Tests for lib/run/robustness.ts: the robust accuracy curve of each model, its mean over seeds, each model's
// accuracies at the headline eps, a margin per seed with its interval, the headline eps and the fresh seeds.
import assert from "node:assert/strict";
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
import { createRng, deriveSeed } from "../../../lib/util/rng.ts";

await initBackend("cpu", { quiet: true });

/** n random 4x4 grey images with two classes. */
function toy(n: number, seed: number) {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: n * 16 }, () => rng.next());
  return {
    x,
    y: Uint8Array.from({ length: n }, () => rng.int(2)),
    n,
    shape: [4, 4, 1] as [number, number, number],
  };
}

Deno.test("robustnessCurve(): every model in the record's order, eps 0 = standard accuracy, then each eps; never above it", async () => {
  const test = toy(40, 1);
  const models = {
    b: createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 1 }),
    a: createModel("mlp", { inputShape: [4, 4, 1], numClasses: 2, seed: 2 }),
  };
  const before = tf.memory().numTensors;
  const attack = { steps: 3, curve: [0.5, 2], strongSteps: 0, restarts: 1 };
  const curve = await robustnessCurve(models, test, { attack, seed: 3 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(curve.map((p) => `${p.model}@${p.eps}`), ["b@0", "b@0.5", "b@2", "a@0", "a@0.5", "a@2"]);
  for (const n of ["a", "b"] as const) {
    const clean = curve.find((p) => p.model === n && p.eps === 0)!;
    assert.equal(clean.robustAcc, (await evaluate(models[n], test)).acc);
    for (const p of curve.filter((p) => p.model === n && p.eps > 0)) {
      assert.ok(p.robustAcc <= clean.robustAcc, `${n} at eps ${p.eps}: ${p.robustAcc} > ${clean.robustAcc}`);
      assert.equal(p.pgdRobustAcc, p.robustAcc); // no Auto-PGD after PGD: the two are one
    }
  }
  // the attack's random starts come from the seed: the same seed gives the same curve
  assert.deepEqual(await robustnessCurve(models, test, { attack, seed: 3 }), curve);
  Object.values(models).forEach((m) => m.model.dispose());
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
