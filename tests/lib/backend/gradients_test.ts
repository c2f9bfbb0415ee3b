// The replacement Sum and Mean gradients give d/dx sum(c * reduce(x, axis)) = c (or c / n) broadcast over the
// reduced axes, on the cpu and the fast backend, and leave no tensors behind; linear fused conv2d/matMul under a
// tape give tfjs's values and gradients, and an input gradient no longer computes the weight gradients; batch
// norm's moments run as one kernel each way with tfjs's values and gradients.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  registerFastGradients,
  tfjsFusedOps,
  tfjsMomentsOp,
  tfjsSoftmaxCEOp,
} from "../../../lib/backend/gradients.ts";
import tfc from "@tensorflow/tfjs-core";
import { profileKernels } from "../../../bench/profile.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose } from "./assert_close.ts";

await initBackend("fast", { quiet: true });
registerFastGradients();

const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { shape: [4, 3, 2, 5], axis: [0, 1, 2], keepDims: false }, // batch-norm moments
  { shape: [4, 3, 2, 5], axis: [0, 1, 2], keepDims: true },
  { shape: [3, 4], axis: -1, keepDims: false },
  { shape: [2, 3, 4], axis: [0, 2], keepDims: true },
  { shape: [6], axis: 0, keepDims: false }, // everything
];

for (const backend of ["cpu", "wasm"]) {
  for (const c of cases) {
    for (const op of ["sum", "mean"] as const) {
      Deno.test(`${op} gradient on ${backend}: shape [${c.shape}] axis ${c.axis} keepDims ${c.keepDims}`, async () => {
        await tf.setBackend(backend);
        const rng = createRng(3);
        const n = c.shape.reduce((a, b) => a * b, 1);
        const xd = Float32Array.from({ length: n }, () => rng.normal());
        const axes = tf.util.parseAxisParam(c.axis, c.shape);
        const outShape = c.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const cd = Float32Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => rng.normal());
        const before = tf.memory().numTensors;
        const g = tf.tidy(() => {
          const x = tf.tensor(xd, c.shape);
          const cw = tf.tensor(cd, c.keepDims ? outShape : c.shape.filter((_, i) => !axes.includes(i)));
          return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf[op](xx, c.axis, c.keepDims), cw)))(x).dataSync();
        });
        assert.equal(tf.memory().numTensors, before, "no tensors left behind");
        const reduced = axes.reduce((a, i) => a * c.shape[i], 1);
        // the expected gradient at x[i] is c at i's position with the reduced axes collapsed
        const strides = c.shape.map((_, i) => c.shape.slice(i + 1).reduce((a, b) => a * b, 1));
        const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((a, b) => a * b, 1));
        for (let i = 0; i < n; i++) {
          let o = 0;
          c.shape.forEach((_, d) => {
            if (!axes.includes(d)) o += Math.floor(i / strides[d]) % c.shape[d] * outStrides[d];
          });
          const want = op === "sum" ? cd[o] : cd[o] / reduced;
          assert.ok(
            Math.abs(g[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)),
            `[${i}]: ${g[i]} vs ${want}`,
          );
        }
      });
    }
  }
}

// The FusedBatchNorm gradient: one native kernel on the fast backend, tfjs's own elsewhere; both must give the
// same five gradients (x, mean, variance, scale, offset), as a batch-norm layer in training mode needs them.
for (const shape of [[4, 5, 3, 6], [32, 14, 14, 24]]) {
  Deno.test(`FusedBatchNorm gradient of x, mean, variance, scale and offset: fast kernel = tfjs's on cpu, [${shape}]`, async () => {
    const c = shape[3], rng = createRng(9);
    const r = (n: number, f = (v: number) => v) => Float32Array.from({ length: n }, () => f(rng.normal()));
    const n = shape.reduce((a, b) => a * b, 1);
    const xd = r(n), md = r(c), vd = r(c, (v) => v * v + 0.2), sd = r(c), od = r(c), wd = r(n);
    const run = () =>
      tf.tidy(() => {
        const w = tf.tensor(wd, shape);
        const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.batchNorm(x, m, v, o, s, 1e-3).mul(w).sum();
        const ins = [
          tf.tensor(xd, shape),
          tf.tensor1d(md),
          tf.tensor1d(vd),
          tf.tensor1d(sd),
          tf.tensor1d(od),
        ];
        return tf.grads(f)(ins).map((g) => g.dataSync() as Float32Array);
      });
    await tf.setBackend("cpu");
    const ref = run();
    await tf.setBackend("wasm");
    const kernel = tf.getKernel("FastBatchNormGrad", "wasm");
    assert.ok(kernel, "the fast backend registers its batch-norm gradient kernel");
    let calls = 0;
    tf.unregisterKernel("FastBatchNormGrad", "wasm");
    tf.registerKernel({ ...kernel, kernelFunc: (a) => (calls++, kernel.kernelFunc(a)) });
    try {
      const before = tf.memory().numTensors;
      const got = run();
      assert.equal(tf.memory().numTensors, before, "no tensors left behind");
      assert.equal(calls, 1, "one kernel call for the whole gradient");
      ["x", "mean", "variance", "scale", "offset"].forEach((name, i) =>
        assertClose(ref[i], got[i], `d_${name}`)
      );
    } finally {
      tf.unregisterKernel("FastBatchNormGrad", "wasm");
      tf.registerKernel(kernel);
    }
  });
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`fused conv2d/matMul (linear) under a tape on ${backend}: tfjs's values and gradients; an input gradient computes no weight gradient`, async () => {
    await tf.setBackend(backend);
    const rng = createRng(8);
    const r = (shape: number[]) =>
      tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
    const x = r([2, 7, 6, 3]) as tf.Tensor4D, w = r([3, 3, 3, 4]) as tf.Tensor4D, b = r([4]);
    const wd = r([4 * 3 * 4, 5]) as tf.Tensor2D, bd = r([5]);
    const start = tf.memory().numTensors;
    const net = (ops: ReturnType<typeof tfjsFusedOps>) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
      const h = ops.conv2d({
        x: xx as tf.Tensor4D,
        filter: ww as tf.Tensor4D,
        strides: 2,
        pad: "same",
        bias: bb,
      });
      const logits = ops.matMul({ a: tf.reshape(h, [2, -1]), b: wd, bias: bd });
      return tf.sum(tf.square(logits));
    };
    const ours = net(tf.fused), theirs = net(tfjsFusedOps());
    assert.notEqual(tf.fused.conv2d, tfjsFusedOps().conv2d, "registerFastGradients() wrapped the fused ops");
    const grads = (f: typeof ours) =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads(f)([x, w, b]);
        return [value, ...grads].map((t) => t.dataSync() as Float32Array);
      });
    const [a, e] = [grads(ours), grads(theirs)];
    ["value", "dx", "dw", "db"].forEach((what, i) => assertClose(e[i], a[i], what));
    const inputGradKernels = (f: typeof ours) =>
      profileKernels(
        () => tf.tidy(() => void tf.grad((xx: tf.Tensor) => f(xx, w, b))(x).dataSync()),
        1,
        backend,
      )
        .map(([k]) => k);
    const oursK = inputGradKernels(ours), theirsK = inputGradKernels(theirs);
    assert.ok(theirsK.includes("Conv2DBackpropFilter"), `tfjs's fused op computes dw: ${theirsK}`);
    assert.ok(oursK.includes("Conv2DBackpropInput"), oursK.join(","));
    assert.ok(!oursK.includes("Conv2DBackpropFilter"), `no weight gradient: ${oursK}`);
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
    tf.dispose([x, w, b, wd, bd]);
  });
}

/** Value and gradients of loss(x, w, b), read back; without b's gradient (b unused) when `bias` is false. */
function readGrads(
  loss: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  [x, w, b]: tf.Tensor[],
  bias: boolean,
): Float32Array[] {
  const { value, grads } = bias
    ? tf.valueAndGrads(loss)([x, w, b])
    : tf.valueAndGrads((xx: tf.Tensor, ww: tf.Tensor) => loss(xx, ww, b))([x, w]);
  return [value, ...grads].map((t) => t.dataSync() as Float32Array);
}

/**
 * run(tfjs's fused ops) on the cpu backend against run(the wrapped ones) on the fast backend, each output close
 * (named by `names`); returns the tensor count before the fast run, for the leak check.
 */
async function compareFused(
  run: (ops: ReturnType<typeof tfjsFusedOps>) => Float32Array[],
  names: string[],
): Promise<number> {
  await tf.setBackend("cpu");
  const want = run(tfjsFusedOps());
  await tf.setBackend("wasm");
  const start = tf.memory().numTensors;
  const got = run(tf.fused);
  names.slice(0, want.length).forEach((what, i) => assertClose(want[i], got[i], what));
  return start;
}

const denseCases: { m: number; k: number; n: number; activation?: "relu" | "linear"; bias: boolean }[] = [
  { m: 9, k: 13, n: 6, activation: "relu", bias: true }, // a hidden dense layer
  { m: 9, k: 13, n: 6, bias: true }, // a logits layer (activation left out: linear)
  { m: 1, k: 5, n: 3, activation: "relu", bias: false }, // batch 1, no bias
  { m: 70, k: 40, n: 33, activation: "linear", bias: true },
];

for (const c of denseCases) {
  Deno.test(`fused matMul under a tape on the fast backend: [${c.m}, ${c.k}] x [${c.k}, ${c.n}] ${c.activation ?? "(linear)"}${c.bias ? " + bias" : ""}: tfjs's values and gradients (cpu), one FastDense kernel, only the gradients asked for`, async () => {
    const rng = createRng(13);
    const d = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const xd = d(c.m * c.k), wd = d(c.k * c.n), bd = d(c.n), cd = d(c.m * c.n);
    const run = (ops: ReturnType<typeof tfjsFusedOps>) =>
      tf.tidy(() => {
        const x = tf.tensor2d(xd, [c.m, c.k]), w = tf.tensor2d(wd, [c.k, c.n]), b = tf.tensor1d(bd);
        const cw = tf.tensor2d(cd, [c.m, c.n]);
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
          const y = ops.matMul({
            a: xx as tf.Tensor2D,
            b: ww as tf.Tensor2D,
            bias: c.bias ? bb : undefined,
            activation: c.activation,
          });
          return tf.sum(tf.mul(y, cw));
        };
        return readGrads(f, [x, w, b], c.bias);
      });
    const start = await compareFused(run, ["value", "dx", "dw", "dbias"]);
    const x = tf.tensor2d(xd, [c.m, c.k]), w = tf.tensor2d(wd, [c.k, c.n]);
    const kernels = profileKernels(
      () =>
        tf.tidy(() =>
          void tf.grad((xx: tf.Tensor) =>
            tf.sum(tf.fused.matMul({ a: xx as tf.Tensor2D, b: w, activation: c.activation }))
          )(x).dataSync()
        ),
      1,
    ).map(([k]) => k);
    assert.ok(kernels.includes("FastDense"), kernels.join());
    // the input gradient: dz w^T only, no x^T dz (one BatchMatMul), and no separate Add, Relu or Step
    assert.equal(kernels.filter((k) => k === "BatchMatMul").length, 1, kernels.join());
    assert.ok(!["Add", "Relu", "Step"].some((k) => kernels.includes(k)), kernels.join());
    tf.dispose([x, w]);
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
  });
}

const convKernelCases: {
  x: number[];
  f: number[];
  s: number;
  pad: "same" | "valid";
  activation?: "relu" | "linear";
  bias: boolean;
}[] = [
  { x: [3, 9, 8, 1], f: [5, 5, 1, 6], s: 1, pad: "same", activation: "relu", bias: true }, // lenet's first layer
  { x: [2, 7, 7, 4], f: [3, 3, 4, 5], s: 2, pad: "same", bias: false }, // a conv before a batch norm
  { x: [1, 10, 9, 6], f: [5, 5, 6, 16], s: 1, pad: "valid", activation: "relu", bias: true }, // batch 1, odd
  { x: [2, 6, 6, 8], f: [1, 1, 8, 3], s: 2, pad: "valid", activation: "linear", bias: true }, // 1x1, stride 2
];

for (const c of convKernelCases) {
  Deno.test(`fused conv2d under a tape on the fast backend: x [${c.x}] f [${c.f}] s${c.s} ${c.pad} ${c.activation ?? "(linear)"}${c.bias ? " + bias" : ""}: tfjs's values and gradients (cpu), one FastConv kernel, only the gradients asked for`, async () => {
    const rng = createRng(14);
    const d = (shape: number[]) =>
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const xd = d(c.x), fd = d(c.f), bd = d([c.f[3]]);
    const args = (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) => ({
      x: xx as tf.Tensor4D,
      filter: ff as tf.Tensor4D,
      strides: c.s,
      pad: c.pad,
      bias: c.bias ? bb : undefined,
      activation: c.activation,
    });
    const run = (ops: ReturnType<typeof tfjsFusedOps>) =>
      tf.tidy(() => {
        const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
        const f = tf.tensor4d(fd, c.f as [number, number, number, number]), b = tf.tensor1d(bd);
        const probe = ops.conv2d(args(x, f, b));
        const r2 = createRng(15); // the same weights on both backends
        const cw = tf.tensor(Float32Array.from({ length: probe.size }, () => r2.normal()), probe.shape);
        const loss = (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(ops.conv2d(args(xx, ff, bb)), cw));
        return readGrads(loss, [x, f, b], c.bias);
      });
    const start = await compareFused(run, ["value", "dx", "dfilter", "dbias"]);
    const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
    const f = tf.tensor4d(fd, c.f as [number, number, number, number]), b = tf.tensor1d(bd);
    const kernels = profileKernels(
      () =>
        tf.tidy(() => void tf.grad((xx: tf.Tensor) => tf.sum(tf.fused.conv2d(args(xx, f, b))))(x).dataSync()),
      1,
    ).map(([k]) => k);
    assert.ok(kernels.includes("FastConv") && kernels.includes("Conv2DBackpropInput"), kernels.join());
    assert.ok(
      !["Conv2DBackpropFilter", "Add", "Relu", "Step"].some((k) => kernels.includes(k)),
      kernels.join(),
    );
    tf.dispose([x, f, b]);
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
  });
}

const momentCases: { shape: number[]; axis: number[]; keepDims: boolean; fused: boolean }[] = [
  { shape: [3, 5, 4, 7], axis: [0, 1, 2], keepDims: false, fused: true }, // a conv layer's batch norm
  { shape: [3, 5, 4, 7], axis: [2, 0, 1], keepDims: true, fused: true },
  { shape: [9, 6], axis: [0], keepDims: false, fused: true }, // after a dense layer
  { shape: [1, 2, 2, 1], axis: [0, 1, 2], keepDims: false, fused: true }, // one channel, four values
  { shape: [3, 4, 5], axis: [1], keepDims: false, fused: false }, // not over the leading axes: tfjs's
];

for (const c of momentCases) {
  Deno.test(`moments on the fast backend: shape [${c.shape}] axis ${c.axis} keepDims ${c.keepDims}: tfjs's values and gradients${c.fused ? ", one kernel each way" : ""}`, async () => {
    await tf.setBackend("wasm");
    const rng = createRng(9);
    const r = (shape: number[]) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 3 + rng.normal()),
        shape,
      );
    const x = r(c.shape);
    const reduced = tfjsMomentsOp()(x, c.axis, c.keepDims);
    const a = r(reduced.mean.shape), b = r(reduced.mean.shape);
    tf.dispose([reduced.mean, reduced.variance]);
    const start = tf.memory().numTensors;
    const loss = (moments: typeof tf.moments) => (xx: tf.Tensor) => {
      const m = moments(xx, c.axis, c.keepDims);
      return tf.add(tf.sum(tf.mul(m.mean, a)), tf.sum(tf.mul(m.variance, b)));
    };
    const ours = loss((tfc as unknown as { moments: typeof tf.moments }).moments),
      theirs = loss(tfjsMomentsOp());
    const run = (f: typeof ours) =>
      tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad(f)(x);
        return [value, grad].map((t) => t.dataSync() as Float32Array);
      });
    const [got, want] = [run(ours), run(theirs)];
    assertClose(want[0], got[0], "value");
    assertClose(want[1], got[1], "gradient");
    const kernels = profileKernels(() => run(ours), 1).map(([k]) => k);
    assert.equal(
      kernels.includes("FastMoments") && kernels.includes("FastMomentsGrad"),
      c.fused,
      kernels.join(),
    );
    if (c.fused) assert.ok(!kernels.includes("Square"), kernels.join());
    assert.equal(tf.memory().numTensors, start, "no tensors left behind");
    tf.dispose([x, a, b]);
  });
}

const ceCases: { n: number; k: number; labels: "onehot" | "int32" | "soft"; scale: number }[] = [
  { n: 37, k: 10, labels: "onehot", scale: 3 },
  { n: 1, k: 3, labels: "int32", scale: 1 }, // batch 1, int32 one-hot labels as tf.oneHot makes them
  { n: 5, k: 1, labels: "soft", scale: 1 }, // one class
  { n: 8, k: 7, labels: "soft", scale: 40 }, // soft labels, logits far apart (log-sum-exp stability)
];
const reductions = [tf.Reduction.NONE, tf.Reduction.SUM_BY_NONZERO_WEIGHTS, tf.Reduction.MEAN];

for (const c of ceCases) {
  for (const reduction of reductions) {
    Deno.test(`softmaxCrossEntropy on the fast backend: [${c.n}, ${c.k}] ${c.labels} labels, reduction ${tf.Reduction[reduction]}: tfjs's values and gradients (cpu), one kernel each way`, async () => {
      const rng = createRng(11);
      const xd = Float32Array.from({ length: c.n * c.k }, () => c.scale * rng.normal());
      const pd = new Float32Array(c.n * c.k);
      for (let i = 0; i < c.n; i++) {
        if (c.labels === "soft") {
          const row = Array.from({ length: c.k }, () => rng.next());
          const s = row.reduce((a, b) => a + b, 0);
          row.forEach((v, j) => (pd[i * c.k + j] = v / s));
        } else pd[i * c.k + rng.int(c.k)] = 1;
      }
      const wd = Float32Array.from({ length: reduction === tf.Reduction.NONE ? c.n : 1 }, () => rng.normal());
      const run = (ce: typeof tf.losses.softmaxCrossEntropy) =>
        tf.tidy(() => {
          const x = tf.tensor2d(xd, [c.n, c.k]), w = tf.tensor(wd);
          const p = c.labels === "int32" ? tf.tensor2d(pd, [c.n, c.k], "int32") : tf.tensor2d(pd, [c.n, c.k]);
          const f = (pp: tf.Tensor, xx: tf.Tensor) =>
            tf.sum(tf.mul(ce(pp, xx, undefined, undefined, reduction) as tf.Tensor, w));
          const value = ce(p, x, undefined, undefined, reduction) as tf.Tensor;
          // tfjs's op takes no gradient through int32 labels
          const g = c.labels === "int32"
            ? [tf.zerosLike(x), tf.grad((xx: tf.Tensor) => f(p, xx))(x)]
            : tf.grads(f)([p, x]);
          return [value, ...g].map((t) => t.dataSync() as Float32Array);
        });
      await tf.setBackend("cpu");
      const want = run(tfjsSoftmaxCEOp());
      await tf.setBackend("wasm");
      const start = tf.memory().numTensors;
      const got = run(tf.losses.softmaxCrossEntropy);
      assert.equal(got[0].length, reduction === tf.Reduction.NONE ? c.n : 1, "value shape");
      ["value", "labels gradient", "logits gradient"].forEach((what, i) =>
        assertClose(want[i], got[i], what)
      );
      const kernels = profileKernels(() => run(tf.losses.softmaxCrossEntropy), 1).map(([k]) => k);
      assert.ok(kernels.includes("FastSoftmaxCE") && kernels.includes("FastSoftmaxCEGrad"), kernels.join());
      assert.ok(!kernels.includes("Exp") && !kernels.includes("Max"), kernels.join()); // tfjs's log-sum-exp
      assert.equal(tf.memory().numTensors, start, "no tensors left behind");
    });
  }
}

Deno.test("softmaxCrossEntropy on the fast backend: weights or label smoothing go to tfjs's op (same values, no native kernel)", async () => {
  await tf.setBackend("wasm");
  const rng = createRng(12);
  const x = tf.tensor2d(Float32Array.from({ length: 12 }, () => rng.normal()), [4, 3]);
  const p = tf.oneHot(tf.tensor1d([0, 2, 1, 1], "int32"), 3), w = tf.tensor1d([1, 0, 2, 1]);
  for (const args of [[w, 0], [undefined, 0.1]] as const) {
    const got = tf.losses.softmaxCrossEntropy(p, x, args[0], args[1]);
    const want = tfjsSoftmaxCEOp()(p, x, args[0], args[1]);
    assertClose(want.dataSync(), got.dataSync(), "value");
    const kernels = profileKernels(
      () => tf.tidy(() => void tf.losses.softmaxCrossEntropy(p, x, args[0], args[1])),
      1,
    );
    assert.ok(!kernels.some(([k]) => k === "FastSoftmaxCE"), kernels.map(([k]) => k).join());
    tf.dispose([got, want]);
  }
  tf.dispose([x, p, w]);
});
