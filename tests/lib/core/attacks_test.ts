// Tests for lib/core/attacks.ts: constraints, loss increase, targeted success, analytic direction, objectives as values
// (representation matching, EOT), batched runs over a split, leaks.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  apgd,
  apgdCheckpoints,
  dlr,
  expectationOverTransforms,
  flip,
  gaussianNoise,
  matchObjective,
  matchRepresentationSplit,
  type Objective,
  perturbSplit,
  pgd,
  stepLength,
  targeted,
  THREAT_MODELS,
  translate,
} from "../../../lib/core/attacks.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { createModel, wrap, type ZooModel } from "../../../lib/core/models.ts";
import { evaluate, trainModel } from "../../../lib/core/train.ts";
import { loadDataset } from "../../../lib/data/registry.ts";
import { firstN } from "../../../lib/data/batch.ts";

await initBackend("fast", { quiet: true });
const ds = await loadDataset("fashion-mnist");
const train = firstN(ds.train, 1000);
// the fixture keeps the He-normal init it was written with (the zoo default is now PyTorch's): these tests are
// about the attacks; after 30 Adam steps from the smaller init the targeted attack below reached 84%, not > 90%
const model = createModel("mlp", { inputShape: [28, 28, 1], numClasses: 10, seed: 0, init: "he" });
await trainModel(model, train, {
  epochs: 3,
  batchSize: 100,
  optimizer: "adam",
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "constant",
  seed: 0,
});
const x = tf.tensor4d(train.x.subarray(0, 100 * 784), [100, 28, 28, 1]);
const y = tf.tensor1d(train.y.subarray(0, 100), "int32");

const ce = (m: ZooModel, xx: tf.Tensor4D) =>
  tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), m.logits(xx)).dataSync()[0]);

for (const threat of ["l2", "linf"]) {
  Deno.test(`pgd(${threat}) stays inside the eps ball and [0,1], raises the loss, with random start and restarts`, () => {
    const eps = threat === "l2" ? 1.5 : 0.1;
    const r = pgd(model, x, {
      y,
      threat,
      eps,
      steps: 10,
      stepSize: 2.5 * eps / 10,
      randomStart: true,
      restarts: 2,
      seed: 1,
    });
    const norms = THREAT_MODELS.get(threat).norm(r.xAdv.sub(x) as tf.Tensor4D).dataSync();
    const tol = threat === "l2" ? 1e-5 : 1e-6;
    assert.ok(norms.every((n) => n <= eps + tol), `max norm ${Math.max(...norms)} > ${eps}`);
    const v = r.xAdv.dataSync();
    assert.ok(v.every((p) => p >= 0 && p <= 1));
    assert.ok(ce(model, r.xAdv) > ce(model, x), "adversarial loss above clean loss");
    tf.dispose([r.xAdv, r.success, r.value]);
  });
}

Deno.test("pgd() targeted reaches its targets for > 90% of examples at a generous eps", () => {
  const t = tf.tidy(() => y.add(1).mod(10) as tf.Tensor1D);
  const r = pgd(model, x, { y, threat: "l2", eps: 6, steps: 20, stepSize: 0.75, targeted: true, targets: t });
  const rate = r.success.mean().dataSync()[0];
  assert.ok(rate > 0.9, `reached the target on ${rate}`);
  const pred = model.logits(r.xAdv).argMax(1).dataSync(), tt = t.dataSync();
  assert.ok(pred.filter((p, i) => p === tt[i]).length / 100 > 0.9, "success means classified as the target");
  tf.dispose([t, r.xAdv, r.success, r.value]);
});

Deno.test("pgd(l2) on a linear model moves along the analytic worst-case direction (cosine > 0.99)", () => {
  const input = tf.input({ shape: [4, 4, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) });
  const logits = dense.apply(flat) as tf.SymbolicTensor;
  const lin = wrap(
    "linear",
    tf.model({ inputs: input, outputs: logits }),
    tf.model({ inputs: input, outputs: flat }),
  );
  const x0 = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D, y0 = tf.tensor1d([0], "int32");
  const r = pgd(lin, x0, { y: y0, threat: "l2", eps: 0.1, steps: 5, stepSize: 0.05 });
  const w = dense.getWeights()[0].arraySync() as number[][];
  const dir = w.map((row) => row[1] - row[0]); // the CE gradient of class 0 points along w1 - w0
  const delta = r.xAdv.sub(x0).dataSync();
  const cos = dir.reduce((a, v, i) => a + v * delta[i], 0) / (Math.hypot(...dir) * Math.hypot(...delta));
  assert.ok(cos > 0.99, `cosine ${cos}`);
});

const xs20 = train.x.subarray(0, 20 * 784), x0_20 = train.x.subarray(20 * 784, 40 * 784);
const split20 = {
  x: xs20,
  y: train.y.subarray(0, 20),
  n: 20,
  shape: [28, 28, 1] as [number, number, number],
};

Deno.test("matchRepresentationSplit() lowers the representation distance and stays at x from x0 = x", async () => {
  const before = tf.tidy(() => {
    const a = model.representation(tf.tensor4d(x0_20, [20, 28, 28, 1]));
    const b = model.representation(tf.tensor4d(xs20, [20, 28, 28, 1]));
    return a.sub(b).square().sum(1).sqrt().mean().dataSync()[0];
  });
  const r = await matchRepresentationSplit(model, split20, {
    x0: x0_20,
    steps: 20,
    stepSize: 0.3,
    batchSize: 8,
  });
  const mean = r.distance.reduce((s, v) => s + v, 0) / 20;
  assert.ok(mean < 0.7 * before, `distance ${mean} vs ${before} before`);
  assert.ok(r.x.every((v) => v >= 0 && v <= 1));
  // the distance it reports is the one a direct computation gives
  const direct = tf.tidy(() => {
    const a = model.representation(tf.tensor4d(r.x, [20, 28, 28, 1]));
    const b = model.representation(tf.tensor4d(xs20, [20, 28, 28, 1]));
    return a.sub(b).square().sum(1).sqrt().dataSync();
  });
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(direct[i] - r.distance[i]) <= 1e-3 * (1 + direct[i]));
  const same = await matchRepresentationSplit(model, split20, {
    x0: xs20,
    steps: 3,
    stepSize: 0.3,
    batchSize: 20,
  });
  assert.ok(same.x.every((v, i) => Math.abs(v - xs20[i]) < 1e-6));
});

Deno.test("stepLength() is constant, or cosine-decays from stepSize toward 0; an unknown schedule is an error", () => {
  assert.deepEqual([0, 5, 9].map((i) => stepLength(0.4, i, 10)), [0.4, 0.4, 0.4]);
  const cos = Array.from({ length: 10 }, (_, i) => stepLength(0.4, i, 10, "cosine"));
  assert.equal(cos[0], 0.4);
  assert.ok(Math.abs(cos[5] - 0.2) < 1e-12, `half-way ${cos[5]}`);
  for (let i = 1; i < 10; i++) assert.ok(cos[i] < cos[i - 1] && cos[i] > 0, `step ${i}: ${cos[i]}`);
  assert.throws(() => stepLength(0.4, 0, 10, "linear" as never), /unknown step schedule "linear".*cosine/);
});

Deno.test("matchRepresentationSplit() with the cosine schedule ends closer than constant steps of the same start length", async () => {
  const opts = { x0: x0_20, steps: 20, stepSize: 1.5, batchSize: 20 };
  const mean = (d: Float32Array) => d.reduce((s, v) => s + v, 0) / d.length;
  const constant = mean((await matchRepresentationSplit(model, split20, opts)).distance);
  const cosine = mean(
    (await matchRepresentationSplit(model, split20, { ...opts, stepSchedule: "cosine" })).distance,
  );
  assert.ok(cosine < 0.8 * constant, `cosine ${cosine} vs constant ${constant}`);
});

Deno.test("pgd() with matchObjective() and eps Infinity moves freely: the matching is the same loop", () => {
  const [a, b] = [x.slice([0, 0, 0, 0], [10, 28, 28, 1]), x.slice([10, 0, 0, 0], [10, 28, 28, 1])];
  const target = tf.tidy(() => model.representation(a));
  const r = pgd(model, b, {
    threat: "l2",
    eps: Infinity,
    steps: 10,
    stepSize: 0.5,
    objective: matchObjective(target),
  });
  const moved = tf.tidy(() => THREAT_MODELS.get("l2").norm(r.xAdv.sub(b) as tf.Tensor4D).max().dataSync()[0]);
  assert.ok(moved > 2, `unconstrained steps of 0.5 move more than 2 in L2, moved ${moved}`);
  const dist = tf.tidy(() => r.value.neg().mean().dataSync()[0]);
  const dist0 = tf.tidy(() => model.representation(b).sub(target).square().sum(1).mean().dataSync()[0]);
  assert.ok(dist < dist0, `squared distance ${dist} below its start ${dist0}`);
  tf.dispose([a, b, target, r.xAdv, r.success, r.value]);
});

Deno.test("translate(), flip and gaussianNoise() keep the shape and do what they say", () => {
  const img = tf.tensor4d(Float32Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
  const rng = createRng(0);
  for (let k = 0; k < 5; k++) {
    const t = translate(1).apply(img, rng);
    assert.deepEqual(t.shape, [1, 4, 4, 1]);
    // a shift of at most one pixel keeps the 2x2 centre's values somewhere in the image
    const v = t.dataSync();
    assert.ok([5, 6, 9, 10].every((c) => v.includes(c)));
    t.dispose();
  }
  const flips = Array.from({ length: 40 }, () => tf.tidy(() => flip.apply(img, rng).dataSync()[0]));
  assert.ok(flips.includes(0) && flips.includes(3), "both the image and its mirror (first pixel 3) appear");
  const n = tf.tidy(() =>
    gaussianNoise(0.1).apply(tf.zeros([50, 8, 8, 1]) as tf.Tensor4D, rng).dataSync()
  ) as Float32Array;
  const std = Math.sqrt(n.reduce((s, v) => s + v * v, 0) / n.length);
  assert.ok(Math.abs(std - 0.1) < 0.01, `noise std ${std}`);
  img.dispose();
});

Deno.test("expectationOverTransforms() averages the objective over its samples; identity gives the base value", () => {
  const t = tf.tidy(() => y.add(1).mod(10) as tf.Tensor1D);
  const base = targeted(t);
  const id: Objective = expectationOverTransforms(base, { samples: 3, transforms: [], seed: 0 });
  const [a, b] = tf.tidy(() => [base.value(model, x).dataSync(), id.value(model, x).dataSync()]);
  for (let i = 0; i < 100; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5 * (1 + Math.abs(a[i])));
  // with noise the samples differ, so the average differs from one draw
  const noisy = expectationOverTransforms(base, { samples: 4, transforms: [gaussianNoise(0.3)], seed: 0 });
  const c = tf.tidy(() => noisy.value(model, x).dataSync());
  assert.ok(c.some((v, i) => Math.abs(v - a[i]) > 1e-3));
  assert.throws(
    () => expectationOverTransforms(base, { samples: 0, transforms: [], seed: 0 }),
    /samples must be/,
  );
  t.dispose();
});

Deno.test("perturbSplit() equals pgd() batch by batch and reports ||delta|| and success", async () => {
  const split = firstN(train, 50);
  const targets = Uint8Array.from(split.y, (v) => (v + 1) % 10);
  const r = await perturbSplit(model, split, {
    threat: "l2",
    eps: 2,
    steps: 5,
    stepSize: 0.5,
    targets,
    batchSize: 20,
    seed: 3,
  });
  assert.ok(r.deltaL2.every((d) => d <= 2 + 1e-4));
  const direct = tf.tidy(() => {
    const xb = tf.tensor4d(split.x.subarray(20 * 784, 40 * 784), [20, 28, 28, 1]);
    const tb = tf.tensor1d(targets.subarray(20, 40), "int32");
    return pgd(model, xb, { threat: "l2", eps: 2, steps: 5, stepSize: 0.5, objective: targeted(tb) }).xAdv
      .dataSync();
  });
  const got = r.x.subarray(20 * 784, 40 * 784);
  assert.ok(direct.every((v, i) => v === got[i]), "the second batch is pgd() on those examples");
  const pred = tf.tidy(() => model.logits(tf.tensor4d(r.x, [50, 28, 28, 1])).argMax(1).dataSync());
  assert.deepEqual(Array.from(r.success), Array.from(pred, (p, i) => (p === targets[i] ? 1 : 0)));
});

Deno.test("pgd() with `init` starts there, projected into the ball: 0 steps of a warm start is its projection", () => {
  tf.tidy(() => {
    const far = x.add(tf.onesLike(x).mul(0.5)).clipByValue(0, 1) as tf.Tensor4D; // ||far - x|| >> 1
    const r = pgd(model, x, { y, threat: "l2", eps: 1, steps: 1, stepSize: 1e-6, init: far });
    const norms = r.xAdv.sub(x).reshape([100, -1]).norm("euclidean", 1).dataSync();
    assert.ok(norms.every((v) => v <= 1 + 1e-4 && v > 0.99), "on the sphere of radius eps toward init");
    const cos = tf.sum(r.xAdv.sub(x).mul(far.sub(x))).div(tf.norm(r.xAdv.sub(x)).mul(tf.norm(far.sub(x))));
    assert.ok(cos.dataSync()[0] > 0.99, "in the direction of init");
  });
});

Deno.test("perturbSplit() `finish` brings failures to their target, keeps hits, stays in the ball; leaks nothing", async () => {
  const split = firstN(train, 60);
  const targets = Uint8Array.from(split.y, (v) => (v + 3) % 10);
  const opts = { threat: "l2", eps: 3, steps: 1, stepSize: 0.3, targets, batchSize: 25, seed: 1 };
  const plain = await perturbSplit(model, split, opts);
  const before = tf.memory().numTensors;
  const done = await perturbSplit(model, split, { ...opts, finish: { steps: 20, stepSize: 0.3 } });
  assert.equal(tf.memory().numTensors, before);
  const hits = (s: Uint8Array) => s.reduce((a, v) => a + v, 0);
  assert.ok(hits(plain.success) < 50, `the one-step attack leaves failures (${hits(plain.success)}/60)`);
  assert.ok(hits(done.success) > hits(plain.success) + 5, `finishing adds hits (${hits(done.success)})`);
  assert.ok(done.deltaL2.every((v) => v <= 3 + 1e-4), "every image stays in the eps ball around x");
  const d = 784;
  for (let i = 0; i < 60; i++) {
    const same = plain.x.subarray(i * d, (i + 1) * d).every((v, j) => v === done.x[i * d + j]);
    if (plain.success[i] || !done.success[i]) assert.ok(same, `example ${i}: only finished hits change`);
    else assert.ok(!same, `example ${i} was finished`);
  }
  const pred = tf.tidy(() => model.logits(tf.tensor4d(done.x, [60, 28, 28, 1])).argMax(1).dataSync());
  assert.deepEqual(Array.from(done.success), Array.from(pred, (p, i) => (p === targets[i] ? 1 : 0)));
  await assert.rejects(
    () => perturbSplit(model, split, { ...opts, start: split.x, finish: { steps: 2, stepSize: 0.3 } }),
    /takes no `start`/,
  );
});

Deno.test("pgd() and perturbSplit() leak no tensors (restarts, best iterate, EOT, matching)", async () => {
  const start = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const r = pgd(model, x, {
      y,
      threat: "l2",
      eps: 1,
      steps: 3,
      stepSize: 0.5,
      randomStart: true,
      restarts: 2,
      bestIterate: true,
    });
    tf.dispose([r.xAdv, r.success, r.value]);
    await perturbSplit(model, split20, {
      threat: "l2",
      eps: 1,
      steps: 2,
      stepSize: 0.5,
      targets: Uint8Array.from(split20.y, (v) => (v + 1) % 10),
      objective: (b) =>
        expectationOverTransforms(targeted(b.targets!), {
          samples: 2,
          transforms: [translate(2), flip, gaussianNoise(0.05)],
          seed: b.seed,
        }),
      batchSize: 8,
      seed: 0,
    });
    await matchRepresentationSplit(model, split20, { x0: x0_20, steps: 2, stepSize: 0.1, batchSize: 8 });
  }
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("pgd() scores xAdv only when success or value is read, once, with the objective's values there", () => {
  const calls = { value: 0, success: 0 };
  const t = tf.tensor1d(Array.from({ length: 100 }, (_, i) => i % 10), "int32"), base = targeted(t);
  const counted: Objective = {
    name: "counted",
    value: (m, xx) => (calls.value++, base.value(m, xx)),
    success: (m, xx) => (calls.success++, base.success!(m, xx)),
  };
  const start = tf.memory().numTensors;
  const onlyX = pgd(model, x, { threat: "l2", eps: 1, steps: 3, stepSize: 0.5, objective: counted });
  assert.deepEqual(calls, { value: 3, success: 0 }, "three gradient steps, no final score");
  onlyX.xAdv.dispose();
  assert.equal(tf.memory().numTensors, start, "nothing computed or left behind for the unread scores");
  const r = pgd(model, x, { threat: "l2", eps: 1, steps: 3, stepSize: 0.5, objective: counted });
  const [v, ok] = [r.value.dataSync(), r.success.dataSync()];
  assert.deepEqual(calls, { value: 7, success: 1 }, "one final score for both reads");
  assert.equal(r.value, r.value, "the same tensor on every read");
  const want = tf.tidy(() => [base.value(model, r.xAdv).dataSync(), base.success!(model, r.xAdv).dataSync()]);
  assert.deepEqual([Array.from(v), Array.from(ok)], want.map((a) => Array.from(a)));
  tf.dispose([r.xAdv, r.value, r.success]);
  assert.equal(tf.memory().numTensors, start);
  t.dispose();
});

Deno.test("pgd() rejects bad hyper-parameters before any work", () => {
  assert.throws(
    () => pgd(model, x, { y, threat: "l3", eps: 1, steps: 1, stepSize: 1 }),
    /unknown threat model "l3"; accepted: l2, linf/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 0, steps: 1, stepSize: 1 }),
    /eps must be > 0, got 0/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 1, steps: 0, stepSize: 1 }),
    /steps must be an integer >= 1, got 0/,
  );
  assert.throws(
    () => pgd(model, x, { y, threat: "l2", eps: 1, steps: 1, stepSize: -1 }),
    /stepSize must be > 0, got -1/,
  );
});

Deno.test("apgdCheckpoints() follows Auto-PGD's schedule (p1 = 0.22, shrinking gaps of at least 0.06)", () => {
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(10), [3, 5, 6, 7, 8, 9]);
});

Deno.test("dlr() is invariant to the logits' scale and positive exactly on misclassified examples", () => {
  const scaled: ZooModel = {
    ...model,
    logits: (xx) => tf.tidy(() => model.logits(xx).mul(1000)) as tf.Tensor2D,
  };
  const [a, b, wrong] = tf.tidy(() => [
    dlr(y).value(model, x),
    dlr(y).value(scaled, x),
    model.logits(x).argMax(1).notEqual(y),
  ]).map((t) => Array.from(t.dataSync()));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 1e-3 * Math.max(1, Math.abs(a[i])), `example ${i}: ${a[i]} vs ${b[i]}`);
    assert.equal(a[i] > 0, wrong[i] === 1, `example ${i}: DLR ${a[i]}, misclassified ${wrong[i]}`);
  }
});

Deno.test("apgd() stays inside the L2 ball and [0,1], breaks at least what 20-step PGD breaks, leaks nothing", () => {
  const before = tf.memory().numTensors;
  const eps = 1;
  const pgdBroken = tf.tidy(() => {
    const p = pgd(model, x, { y, threat: "l2", eps, steps: 20, stepSize: 2.5 * eps / 20, seed: 0 });
    return p.success.sum().dataSync()[0];
  });
  for (const loss of ["ce", "dlr"] as const) {
    const a = apgd(model, x, { y, loss, eps, steps: 20, restarts: 1, seed: 3 });
    const [norms, lo, hi, broken] = tf.tidy(() => [
      Math.max(...THREAT_MODELS.get("l2").norm(a.xAdv.sub(x) as tf.Tensor4D).dataSync()),
      a.xAdv.min().dataSync()[0],
      a.xAdv.max().dataSync()[0],
      a.broken.sum().dataSync()[0],
    ]);
    assert.ok(norms <= eps + 1e-4, `largest ||delta|| ${norms}`);
    assert.ok(lo >= 0 && hi <= 1, `pixels in [${lo}, ${hi}]`);
    assert.ok(broken >= pgdBroken - 2, `apgd ${loss} broke ${broken}, pgd ${pgdBroken}`);
    tf.dispose([a.broken, a.xAdv]);
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("evaluate() with the strong evaluation is not fooled by a saturated softmax (masked gradients)", async () => {
  // logits x 1e4: the cross-entropy's gradient underflows to 0 on every correctly classified example, so PGD
  // on the cross-entropy cannot move; the scale-invariant DLR loss still finds what the unmasked model gives up
  const masked: ZooModel = {
    ...model,
    logits: (xx) => tf.tidy(() => model.logits(xx).mul(1e4)) as tf.Tensor2D,
  };
  const split = firstN(train, 200);
  const attack = { threat: "l2", eps: 1.5, steps: 20, stepSize: 2.5 * 1.5 / 20, seed: 0 };
  const plain = await evaluate(model, split, { attack });
  const fooled = await evaluate(masked, split, { attack });
  const strong = await evaluate(masked, split, { attack: { ...attack, strong: { steps: 20, restarts: 1 } } });
  assert.ok(
    fooled.robustAcc! > plain.robustAcc! + 0.2,
    `PGD alone: masked ${fooled.robustAcc}, plain ${plain.robustAcc}`,
  );
  assert.equal(strong.pgdRobustAcc, fooled.robustAcc);
  assert.ok(
    strong.robustAcc! <= plain.robustAcc! + 0.03,
    `strong: masked ${strong.robustAcc}, plain ${plain.robustAcc}`,
  );
});

Deno.test("matchRepresentationSplit() with fake-relu and preact targets lowers the distance it matches", async () => {
  const split = firstN(train, 20);
  const x0 = train.x.slice(100 * 784, 120 * 784);
  for (const target of ["fake-relu", "preact"] as const) {
    const few = await matchRepresentationSplit(model, split, {
      x0,
      steps: 1,
      stepSize: 0.5,
      batchSize: 20,
      target,
    });
    const many = await matchRepresentationSplit(model, split, {
      x0,
      steps: 30,
      stepSize: 0.5,
      batchSize: 20,
      target,
    });
    const mean = (v: Float32Array) => v.reduce((s, a) => s + a, 0) / v.length;
    assert.ok(mean(many.relDistance) < 0.7 * mean(few.relDistance), `${target}: ${mean(many.relDistance)}`);
  }
  const cnnless = createModel("resnet_small", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  await assert.rejects(
    () =>
      matchRepresentationSplit(cnnless, split, {
        x0,
        steps: 1,
        stepSize: 0.5,
        batchSize: 20,
        target: "preact",
      }),
    { name: "RangeError", message: /resnet_small has none; use --match.target=relu/ },
  );
  cnnless.model.dispose();
});
