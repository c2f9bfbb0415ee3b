// The fast backend's kernels agree with tfjs's reference cpu kernels (relative error <= 1e-4), with the native
// helpers (native/fastops.c), with the TypeScript ones, and (convolutions) on oneDNN (native/dnnlops.c).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  DENSE_MIN_MACS,
  IM2COL_CACHE_FLOATS,
  Im2colCache,
  registerFastKernels,
} from "../../../lib/backend/kernels.ts";
import { loadBlas } from "../../../lib/backend/blas.ts";
import { loadNativeOps } from "../../../lib/backend/native.ts";
import { loadDnnl, type NativeConv, type NativeSgemm } from "../../../lib/backend/dnnl.ts";
import { type FastOps, tsOps } from "../../../lib/backend/ops.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose } from "./assert_close.ts";

await initBackend("fast", { quiet: true });
const native = loadNativeOps();
assert.equal(
  native.warning,
  undefined,
  `the native helpers must build here (CI installs gcc): ${native.warning}`,
);
/** Both helper sets; every kernel test runs with each. */
const HELPERS: [string, FastOps][] = [["native", native.ops], ["typescript", tsOps]];
const dnnl = loadDnnl();
assert.equal(dnnl.warning, undefined, `the oneDNN convolutions must build here (CI installs libdnnl-dev)`);
/** The convolution tests also run with the oneDNN convolutions. */
const CONV_SETS: [string, FastOps, NativeConv | null][] = [
  ...HELPERS.map(([name, ops]): [string, FastOps, NativeConv | null] => [`${name} helpers`, ops, null]),
  ["native helpers + oneDNN convolutions", native.ops, dnnl.conv],
];
const sgemm = loadBlas().sgemm;

function rand(shape: number[], seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

/**
 * Runs `f` on the cpu backend and on the fast (wasm) backend with the given helpers (default: native); returns
 * both outputs as flat arrays.
 */
async function both(
  f: () => tf.Tensor | tf.Tensor[],
  ops: FastOps = native.ops,
  conv: NativeConv | null = null,
  dense: NativeSgemm | null = null,
): Promise<[Float32Array[], Float32Array[]]> {
  const run = () => tf.tidy(() => [f()].flat().map((t) => t.dataSync() as Float32Array));
  await tf.setBackend("cpu");
  const ref = run();
  await tf.setBackend("wasm");
  registerFastKernels(sgemm, ops, conv, dense);
  const got = run();
  if (ops !== native.ops || conv || dense) registerFastKernels(sgemm, native.ops);
  return [ref, got];
}

const convCases: { x: number[]; f: number[]; s: number; pad: "same" | "valid" }[] = [
  { x: [2, 7, 5, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { x: [1, 9, 8, 1], f: [3, 3, 1, 5], s: 2, pad: "same" },
  { x: [3, 8, 11, 6], f: [3, 2, 6, 7], s: 2, pad: "valid" },
  { x: [2, 6, 6, 16], f: [1, 1, 16, 8], s: 1, pad: "valid" },
  { x: [1, 5, 5, 4], f: [5, 5, 4, 3], s: 1, pad: "same" },
  { x: [4, 10, 10, 8], f: [3, 3, 8, 8], s: 2, pad: "valid" },
  { x: [2, 9, 7, 12], f: [3, 3, 12, 5], s: 1, pad: "same" }, // im2col rows of 36 floats: the memcpy path
  { x: [1, 6, 5, 40], f: [3, 3, 40, 4], s: 2, pad: "same" }, // 40 channels: memcpy at the padded edges too
  { x: [2, 8, 7, 1], f: [3, 3, 1, 16], s: 1, pad: "same" }, // K = 9 < Co = 16: dW without the transpose
  { x: [2, 5, 5, 4], f: [1, 1, 4, 12], s: 1, pad: "valid" }, // pointwise with K < Co
];

for (const [helpers, ops, conv] of CONV_SETS) {
  for (const c of convCases) {
    Deno.test(`Conv2D/FusedConv2D and both backprops match cpu (${helpers}): x ${c.x} filter ${c.f} stride ${c.s} ${c.pad}`, async () => {
      const xd = rand(c.x, 1), fd = rand(c.f, 2), bd = rand([c.f[3]], 3);
      const [ref, got] = await both(
        () => {
          const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
          const w = tf.tensor4d(fd, c.f as [number, number, number, number]);
          const b = tf.tensor1d(bd);
          const loss = (xx: tf.Tensor4D, ww: tf.Tensor4D) =>
            tf.fused.conv2d({ x: xx, filter: ww, strides: c.s, pad: c.pad, bias: b, activation: "relu" })
              .square()
              .sum();
          const [gx, gw] = tf.grads((xx, ww) => loss(xx as tf.Tensor4D, ww as tf.Tensor4D))([x, w]);
          // The filter gradient of an input no forward pass has seen (the im2col cache misses): the chunked path.
          const dy = tf.ones(tf.conv2d(x, w, c.s, c.pad).shape);
          const gwFresh = tf.engine().runKernel("Conv2DBackpropFilter", { x: x.add(0), dy }, {
            strides: c.s,
            pad: c.pad,
            dataFormat: "NHWC",
            dilations: 1,
            filterShape: c.f,
          }) as tf.Tensor;
          return [
            tf.conv2d(x, w, c.s, c.pad),
            tf.fused.conv2d({ x, filter: w, strides: c.s, pad: c.pad, bias: b, activation: "relu" }),
            gx,
            gw,
            gwFresh,
          ];
        },
        ops,
        conv,
      );
      [
        "conv2d",
        "fusedConv2d",
        "dx (Conv2DBackpropInput)",
        "dw (Conv2DBackpropFilter, im2col reused from the forward pass)",
        "dw (Conv2DBackpropFilter of an unseen input)",
      ].forEach((w, i) => assertClose(ref[i], got[i], w));
    });
  }
}

const mmCases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [5, 7], b: [7, 3], ta: false, tb: false },
  { a: [7, 5], b: [7, 3], ta: true, tb: false },
  { a: [5, 7], b: [3, 7], ta: false, tb: true },
  { a: [7, 5], b: [3, 7], ta: true, tb: true },
  { a: [1, 64], b: [64, 10], ta: false, tb: false },
  { a: [3, 4, 6], b: [3, 6, 2], ta: false, tb: false },
  { a: [3, 6, 4], b: [1, 2, 6], ta: true, tb: true },
  { a: [64, 96], b: [96, 65], ta: false, tb: false }, // below DENSE_MIN_MACS: one thread
  { a: [96, 64], b: [96, 65], ta: true, tb: false },
  // above it: oneDNN's sgemm, or the fastops driver's split over rows, columns and the reduction
  { a: [160, 256], b: [256, 129], ta: false, tb: false },
  { a: [256, 160], b: [129, 256], ta: true, tb: true },
  { a: [33, 256], b: [256, 520], ta: false, tb: false },
  { a: [12, 8200], b: [43, 8200], ta: false, tb: true },
];

/** The matrix-product tests run with both helper sets, and with oneDNN's sgemm. */
const MM_SETS: [string, FastOps, NativeSgemm | null][] = [
  ...HELPERS.map(([name, ops]): [string, FastOps, NativeSgemm | null] => [`${name} helpers`, ops, null]),
  ["native helpers + oneDNN sgemm", native.ops, dnnl.sgemm],
];

for (const [helpers, ops, dense] of MM_SETS) {
  for (const c of mmCases) {
    Deno.test(`BatchMatMul/_FusedMatMul match cpu (${helpers}): [${c.a}]${c.ta ? "^T" : ""} x [${c.b}]${c.tb ? "^T" : ""}`, async () => {
      const ad = rand(c.a, 4), bd = rand(c.b, 5);
      const n = c.tb ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
      const biasd = rand([n], 6);
      const [ref, got] = await both(
        () => {
          const a = tf.tensor(ad, c.a), b = tf.tensor(bd, c.b), bias = tf.tensor1d(biasd);
          const out = [tf.matMul(a, b, c.ta, c.tb)];
          if (c.a.length === 2) {
            out.push(tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias, activation: "relu" }));
            const [ga, gb] = tf.grads((aa, bb) => tf.matMul(aa, bb, c.ta, c.tb).square().sum())([a, b]);
            out.push(ga, gb);
          }
          return out;
        },
        ops,
        null,
        dense,
      );
      ref.forEach((r, i) => assertClose(r, got[i], `output ${i}`));
    });
  }
}

Deno.test("BatchMatMul runs on oneDNN's sgemm from DENSE_MIN_MACS multiply-adds on, below it on the fastops driver", async () => {
  const calls: number[] = [];
  const counted: NativeSgemm = (...args) => (calls.push(args[2] * args[3] * args[4]), dnnl.sgemm!(...args));
  for (const [m, k, n] of [[128, 256, 10], [128, 784, 256]]) {
    const [ref, got] = await both(
      () => [tf.matMul(tf.tensor2d(rand([m, k], 8), [m, k]), tf.tensor2d(rand([k, n], 9), [k, n]))],
      native.ops,
      null,
      counted,
    );
    assertClose(ref[0], got[0], `${m}x${k}x${n}`);
  }
  assert.deepEqual(calls, [128 * 784 * 256]);
  assert.ok(128 * 256 * 10 < DENSE_MIN_MACS && 128 * 784 * 256 >= DENSE_MIN_MACS);
});

const sumCases: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
  { shape: [4, 5, 3, 6], axis: [0, 1, 2], keepDims: false }, // a conv bias gradient
  { shape: [4, 5, 3, 6], axis: [0, 1, 2], keepDims: true },
  { shape: [7, 3], axis: [0], keepDims: false }, // a dense bias gradient
  { shape: [24, 28, 28, 6], axis: [0, 1, 2], keepDims: false }, // lenet's first conv bias gradient, threaded
  { shape: [2, 3, 4], axis: [1, 0], keepDims: false }, // unsorted leading axes
  { shape: [2, 3, 4], axis: [-1], keepDims: false }, // not leading: the wasm kernel
  { shape: [2, 3, 4], axis: [0, 2], keepDims: true }, // not leading: the wasm kernel
  { shape: [2, 3, 4], axis: [0, 1, 2], keepDims: false }, // everything: the wasm kernel
  { shape: [3, 5, 4, 6], axis: [1, 2], keepDims: false }, // global average pooling: per example
  { shape: [3, 5, 4, 6], axis: [2, 1], keepDims: true },
  { shape: [1, 7, 5], axis: [1], keepDims: false }, // batch 1
  { shape: [2, 3, 4, 5], axis: [1, 2, 3], keepDims: false }, // up to the last axis: the wasm kernel
];

Deno.test("mean over axes 1..k (global average pooling) runs as one row reduction per example", async () => {
  let calls = 0;
  const counted: FastOps = { ...native.ops, sumRows: (...a) => (calls++, native.ops.sumRows(...a)) };
  const xd = rand([3, 5, 4, 6], 8);
  const [ref, got] = await both(() => tf.mean(tf.tensor(xd, [3, 5, 4, 6]), [1, 2]), counted);
  assertClose(ref[0], got[0], "mean");
  assert.equal(calls, 3);
});

for (const [helpers, ops] of HELPERS) {
  for (const c of sumCases) {
    for (const op of ["sum", "mean"] as const) {
      Deno.test(`${op} matches cpu (${helpers} helpers): shape [${c.shape}] axis [${c.axis}] keepDims ${c.keepDims}`, async () => {
        const xd = rand(c.shape, 7);
        const shapes: number[][] = [];
        const [ref, got] = await both(() => {
          const out = tf[op](tf.tensor(xd, c.shape), c.axis, c.keepDims);
          shapes.push(out.shape);
          return out;
        }, ops);
        assert.deepEqual(shapes[1], shapes[0]);
        assertClose(ref[0], got[0], op);
      });
    }
  }
}

const binaryCases: { a: number[]; b: number[] }[] = [
  { a: [2, 3, 4, 5], b: [2, 3, 4, 5] }, // same shape
  { a: [2, 3, 4, 5], b: [5] }, // a bias: trailing broadcast
  { a: [1, 1, 1, 5], b: [2, 3, 4, 5] }, // broadcast on the left operand
  { a: [2, 3, 4, 5], b: [1] }, // scalar
  { a: [], b: [3, 4] }, // rank-0 scalar on the left
  { a: [3, 70000], b: [70000] }, // long enough to run on several threads
  { a: [100, 7, 6], b: [6] }, // a conv bias of 6 channels: repeated 21 times, 42 values left over
  { a: [1, 16], b: [3, 33, 16] }, // 16 channels on the left operand: repeated 8 times, 48 left over
  { a: [24, 28, 28, 6], b: [6] }, // lenet's first conv bias, on several threads
  { a: [2, 1, 4], b: [2, 3, 4] }, // not a trailing broadcast: the wasm kernel
  { a: [3, 1], b: [1, 4] }, // both broadcast: the wasm kernel
];

for (const c of binaryCases) {
  for (const op of ["add", "sub", "mul", "div"] as const) {
    Deno.test(`${op} matches cpu: [${c.a}] ${op} [${c.b}]`, async () => {
      const ad = rand(c.a, 9), bd = rand(c.b, 10).map((v) => (op === "div" ? v + Math.sign(v) : v));
      const [ref, got] = await both(() => tf[op](tf.tensor(ad, c.a), tf.tensor(bd, c.b)));
      assertClose(ref[0], got[0], op);
    });
  }
}

Deno.test("binary ops: same-shape and trailing broadcasts run natively, other broadcasts on the wasm kernel", async () => {
  let calls = 0;
  const spy: FastOps = { ...native.ops, binary: (...args) => (calls++, native.ops.binary!(...args)) };
  const count = async (a: number[], b: number[]) => {
    calls = 0;
    await both(() => tf.mul(tf.ones(a), tf.ones(b)), spy);
    return calls;
  };
  assert.equal(await count([2, 3, 4], [2, 3, 4]), 1);
  assert.equal(await count([2, 3, 4], [1, 4]), 1);
  assert.equal(await count([1], [2, 3, 4]), 1);
  assert.equal(await count([2, 1, 4], [2, 3, 4]), 0);
  assert.equal(await count([3, 1], [1, 4]), 0);
});

Deno.test("relu and step match cpu, NaN included; int32 add stays exact", async () => {
  const xd = rand([3, 50000], 11);
  xd[5] = NaN;
  xd[7] = 0;
  const [ref, got] = await both(
    () => [tf.relu(tf.tensor(xd, [3, 50000])), tf.step(tf.tensor(xd, [3, 50000]), 0.3)],
  );
  for (const i of [0, 1]) {
    assert.ok(Number.isNaN(got[i][5]), "NaN stays NaN");
    ref[i][5] = got[i][5] = 0;
    assert.deepEqual(got[i], ref[i]);
  }
  await tf.setBackend("wasm");
  assert.deepEqual(tf.tidy(() => tf.add(tf.tensor1d([1, 2], "int32"), tf.scalar(3, "int32")).arraySync()), [
    4,
    5,
  ]);
});

const tileCases: { shape: number[]; reps: number[] }[] = [
  { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1] }, // the batch-norm gradient's broadcast
  { shape: [2, 3], reps: [2, 3] },
  { shape: [4], reps: [3] },
  { shape: [2, 1, 3], reps: [1, 4, 1] },
  { shape: [3, 2, 2], reps: [1, 1, 1] },
  { shape: [2, 2], reps: [0, 2] }, // empty output
  { shape: [5, 1], reps: [1, 7] }, // a sum's gradient over the last axis: 1, 2, 4 copies, then 3 of the rest
  { shape: [2, 3, 1], reps: [3, 1, 16] }, // reps a power of two, at two axes
];

for (const c of tileCases) {
  Deno.test(`Tile matches cpu: shape [${c.shape}] reps [${c.reps}]`, async () => {
    const xd = rand(c.shape, 8);
    const [ref, got] = await both(() => tf.tile(tf.tensor(xd, c.shape), c.reps));
    assertClose(ref[0], got[0], "tile");
  });
}

Deno.test("Tile of int32 goes to the wasm kernel and stays exact", async () => {
  await tf.setBackend("wasm");
  const t = tf.tidy(() => tf.tile(tf.tensor1d([1, 2], "int32"), [2]).arraySync());
  assert.deepEqual(t, [1, 2, 1, 2]);
});

Deno.test("Sum of int32 over leading axes goes to the wasm kernel and stays exact", async () => {
  await tf.setBackend("wasm");
  const s = tf.tidy(() => tf.sum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], "int32"), 0).arraySync());
  assert.deepEqual(s, [9, 12]);
});

const bnCases: { x: number[]; p: number[]; offset: boolean; scale: boolean }[] = [
  { x: [2, 5, 4, 3], p: [3], offset: true, scale: true },
  { x: [3, 4, 4, 8], p: [1, 1, 1, 8], offset: false, scale: true }, // params shaped like x's rank
  { x: [2, 3, 3, 5], p: [5], offset: true, scale: false },
  { x: [7, 6], p: [], offset: true, scale: true }, // scalar statistics
  { x: [64, 12, 12, 40], p: [40], offset: true, scale: true }, // big enough for the threaded path
];

for (const [helpers, ops] of HELPERS) {
  for (const c of bnCases) {
    Deno.test(`FusedBatchNorm and its gradient match cpu (${helpers} helpers): x [${c.x}] params [${c.p}]${c.offset ? " offset" : ""}${c.scale ? " scale" : ""}`, async () => {
      const xd = rand(c.x, 11), md = rand(c.p, 12), od = rand(c.p, 13), sd = rand(c.p, 14);
      const vd = rand(c.p, 15).map((v) => v * v + 0.1);
      const [ref, got] = await both(() => {
        const x = tf.tensor(xd, c.x), mean = tf.tensor(md, c.p), variance = tf.tensor(vd, c.p);
        const offset = c.offset ? tf.tensor(od, c.p) : undefined,
          scale = c.scale ? tf.tensor(sd, c.p) : undefined;
        const f = (xx: tf.Tensor) => tf.batchNorm(xx, mean, variance, offset, scale, 1e-3);
        // tfjs's own gradient of batchNorm fails (on every backend) when offset or scale is absent
        if (!c.offset || !c.scale) return [f(x)];
        return [f(x), tf.grad((xx: tf.Tensor) => f(xx).square().sum())(x)];
      }, ops);
      assert.equal(got.length, ref.length);
      got.forEach((g, i) => assertClose(ref[i], g, i === 0 ? "batchNorm" : "batchNorm gradient"));
    });
  }
}

const concatCases: { shapes: number[][]; axis: number }[] = [
  { shapes: [[2, 3, 4, 5], [2, 3, 4, 2]], axis: -1 }, // DenseNet's channel concat
  { shapes: [[2, 3, 4, 5], [2, 1, 4, 5], [2, 2, 4, 5]], axis: 1 },
  { shapes: [[1, 4], [3, 4]], axis: 0 },
  { shapes: [[5], [0], [2]], axis: 0 }, // an empty input is skipped
  { shapes: [[32, 28, 28, 24], [32, 28, 28, 12]], axis: 3 }, // big enough for the threaded path
];

for (const [helpers, ops] of HELPERS) {
  for (const c of concatCases) {
    Deno.test(`Concat and its gradient (SplitV) match cpu (${helpers} helpers): [${c.shapes.map((s) => `[${s}]`)}] axis ${c.axis}`, async () => {
      const data = c.shapes.map((sh, i) => rand(sh, 20 + i));
      const w = rand(
        tf.backend_util.computeOutShape(c.shapes, c.axis < 0 ? c.shapes[0].length + c.axis : c.axis),
        30,
      );
      const [ref, got] = await both(() => {
        const xs = data.map((d, i) => tf.tensor(d, c.shapes[i]));
        const f = (...ts: tf.Tensor[]) =>
          tf.concat(ts, c.axis).mul(tf.tensor(w, tf.concat(xs, c.axis).shape)).sum();
        return [tf.concat(xs, c.axis), ...tf.grads(f)(xs)];
      }, ops);
      got.forEach((g, i) => assertClose(ref[i], g, `output ${i}`));
    });
  }
}

for (const [helpers, ops] of HELPERS) {
  for (
    const c of [{ shape: [2, 3, 4, 7], split: [3, 4] as number | number[], axis: 3 }, {
      shape: [4, 6],
      split: 3,
      axis: 1,
    }, { shape: [5, 2, 3], split: [1, -1, 2], axis: 0 }]
  ) {
    Deno.test(`SplitV matches cpu (${helpers} helpers): [${c.shape}] into ${JSON.stringify(c.split)} on axis ${c.axis}`, async () => {
      const xd = rand(c.shape, 40);
      const [ref, got] = await both(() => tf.split(tf.tensor(xd, c.shape), c.split, c.axis), ops);
      assert.equal(got.length, ref.length);
      got.forEach((g, i) => assert.deepEqual(g, ref[i], `part ${i}`));
    });
  }
}

const poolCases: { x: number[]; f: number; s: number; pad: "same" | "valid" }[] = [
  { x: [2, 8, 8, 3], f: 2, s: 2, pad: "valid" }, // DenseNet's transition
  { x: [1, 7, 5, 2], f: 3, s: 2, pad: "same" },
  { x: [2, 6, 6, 4], f: 3, s: 1, pad: "valid" }, // overlapping windows
  { x: [3, 5, 9, 1], f: 2, s: 2, pad: "valid" }, // odd sizes: the last row and column get no gradient
];

const avgPoolCases: typeof poolCases = [
  ...poolCases,
  { x: [16, 28, 28, 60], f: 2, s: 2, pad: "valid" }, // densenet_small's transition, large enough for two threads
  { x: [2, 9, 7, 5], f: 2, s: 2, pad: "same" }, // padded windows: the mean over the positions inside
  { x: [3, 7, 8, 7], f: 3, s: 3, pad: "same" },
];

for (const [helpers, ops] of HELPERS) {
  for (const c of avgPoolCases) {
    Deno.test(`AvgPool and its gradient match cpu (${helpers} helpers): x [${c.x}] ${c.f}x${c.f} stride ${c.s} ${c.pad}`, async () => {
      const xd = rand(c.x, 50);
      const [ref, got] = await both(() => {
        const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
        const f = (xx: tf.Tensor) => tf.avgPool(xx as tf.Tensor4D, c.f, c.s, c.pad).square().sum();
        return [tf.avgPool(x, c.f, c.s, c.pad), tf.grad(f)(x)];
      }, ops);
      assertClose(ref[0], got[0], "avgPool values");
      assertClose(ref[1], got[1], "avgPool gradient");
    });
  }
}

Deno.test("AvgPool on the fast backend runs the native kernel (the wasm one without the native helpers)", async () => {
  let pools = 0;
  const counting: FastOps = {
    ...native.ops,
    avgPool: (x, y, ci) => (pools++, native.ops.avgPool!(x, y, ci)),
  };
  const xd = rand([2, 8, 8, 3], 54);
  const [ref, got] = await both(() => tf.avgPool(tf.tensor4d(xd, [2, 8, 8, 3]), 2, 2, "valid"), counting);
  assertClose(ref[0], got[0], "avgPool values");
  assert.equal(pools, 1);
});

/** Seeded random pool geometries: window 1-3, stride 1-3, same/valid, odd sizes, batch 1-3, 1-20 channels. */
const randomPoolCases = (() => {
  const rng = createRng(53), pick = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
  return Array.from({ length: 10 }, () => {
    const f = pick(1, 3);
    return {
      x: [pick(1, 3), pick(f, 12), pick(f, 12), pick(1, 20)],
      f,
      s: pick(1, 3),
      pad: (rng.next() < 0.5 ? "same" : "valid") as "same" | "valid",
    };
  });
})();
const maxPoolCases: typeof poolCases = [
  ...poolCases,
  { x: [24, 28, 28, 6], f: 2, s: 2, pad: "valid" }, // lenet's first pool, large enough for the threaded path
  { x: [1, 10, 10, 16], f: 2, s: 2, pad: "valid" }, // lenet's second, batch 1
  { x: [2, 8, 8, 64], f: 2, s: 2, pad: "valid" }, // vgg_small's
  { x: [2, 9, 7, 5], f: 2, s: 2, pad: "same" }, // odd sizes padded below and right
  { x: [2, 9, 7, 5], f: 2, s: 2, pad: "valid" }, // odd sizes: the last row and column in no window
  { x: [3, 7, 8, 7], f: 3, s: 3, pad: "same" }, // windows that tile with padding
  { x: [2, 6, 5, 3], f: 2, s: 1, pad: "same" }, // overlapping
  ...randomPoolCases,
];

for (const [helpers, ops] of HELPERS) {
  for (const c of maxPoolCases) {
    for (const ties of [false, true]) {
      Deno.test(`MaxPool and its gradient match cpu (${helpers} helpers): x [${c.x}] ${c.f}x${c.f} stride ${c.s} ${c.pad}${ties ? ", with ties" : ""}`, async () => {
        // with ties (values rounded to integers) the first maximum in window order must get the gradient
        const xd = rand(c.x, 51).map((v) => (ties ? Math.round(v) : v));
        const start = tf.memory().numTensors;
        const [ref, got] = await both(() => {
          const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
          const y = tf.maxPool(x, c.f, c.s, c.pad);
          const w = tf.tensor(rand(y.shape, 52), y.shape);
          const dx = tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, c.f, c.s, c.pad).mul(w).sum())(
            x,
          );
          return [y, dx];
        }, ops);
        // a maximum is one of the inputs: equal values; ours also picks the first of a tie (-0 or 0) as cpu does,
        // the wasm kernel (the TypeScript helpers' case) may pick the other zero
        const zeros = (a: Float32Array) => (ops === native.ops ? a : a.map((v) => v + 0));
        assert.deepEqual(zeros(got[0]), zeros(ref[0]), "maxPool values");
        assertClose(ref[1], got[1], "maxPool gradient");
        assert.equal(tf.memory().numTensors, start, "no tensors left behind");
      });
    }
  }
}

Deno.test("MaxPool and its gradient on the fast backend run the native kernels, and match cpu on -inf and NaN", async () => {
  let pools = 0, grads = 0;
  const counting: FastOps = {
    ...native.ops,
    maxPool: (x, y, ci) => (pools++, native.ops.maxPool!(x, y, ci)),
    maxPoolGrad: (x, dy, dx, ci) => (grads++, native.ops.maxPoolGrad(x, dy, dx, ci)),
  };
  // windows (2x2, stride 2) with NaN, -inf, only -inf, only NaN; the cpu kernel skips NaN and gives -inf
  const vals = [
    NaN,
    1,
    NaN,
    2,
    -Infinity,
    -3,
    -Infinity,
    -Infinity,
    -Infinity,
    -Infinity,
    NaN,
    NaN,
    0,
    -0,
    5,
    5,
  ];
  const order = [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]; // window k's values at NHWC positions
  const xd = new Float32Array(16);
  order.forEach((pos, i) => (xd[pos] = vals[i]));
  for (
    const [x, c] of [[xd, { x: [1, 4, 4, 1] }], [rand([8, 16, 16, 5], 54), { x: [8, 16, 16, 5] }]] as const
  ) {
    const [ref, got] = await both(() => {
      const xt = tf.tensor4d(x, c.x as unknown as [number, number, number, number]);
      const w = tf.tensor(rand([c.x[0], c.x[1] / 2, c.x[2] / 2, c.x[3]], 55), [
        c.x[0],
        c.x[1] / 2,
        c.x[2] / 2,
        c.x[3],
      ]);
      const y = tf.maxPool(xt, 2, 2, "valid");
      return [y, tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, 2, 2, "valid").mul(w).sum())(xt)];
    }, counting);
    assert.deepEqual(Array.from(got[0]), Array.from(ref[0]), "values");
    assert.deepEqual(Array.from(got[1]).map((v) => v + 0), Array.from(ref[1]).map((v) => v + 0), "gradient");
  }
  assert.deepEqual([pools, grads], [4, 2], "each forward (2 per case) and gradient ran the native kernels");
});

Deno.test("registerFastKernels(): MaxPool is ours with the native helpers and the wasm kernel again without them", async () => {
  await tf.setBackend("wasm");
  try {
    assert.ok(registerFastKernels(sgemm, tsOps).every((k) => k !== "MaxPool"));
    const restored = tf.getKernel("MaxPool", "wasm")!.kernelFunc;
    assert.ok(registerFastKernels(sgemm, native.ops).includes("MaxPool"));
    assert.notEqual(tf.getKernel("MaxPool", "wasm")!.kernelFunc, restored, "ours replaces the wasm kernel");
    assert.ok(registerFastKernels(sgemm, tsOps).every((k) => k !== "MaxPool"));
    assert.equal(tf.getKernel("MaxPool", "wasm")!.kernelFunc, restored, "and gives it back");
  } finally {
    registerFastKernels(sgemm, native.ops);
  }
});

Deno.test("Cast to the same dtype shares the data; to another dtype it converts (wasm kernel)", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor1d([1.7, -2.2, 3]);
  const same = tf.cast(x, "float32"), ints = tf.cast(x, "int32");
  assert.equal(same.dataId, x.dataId);
  assert.notEqual(ints.dataId, x.dataId);
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3]);
  x.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.7, -2.2, 3].map(Math.fround));
  tf.dispose([same, ints]);
});

Deno.test("Concat of int32 goes to the wasm kernel and stays exact", async () => {
  await tf.setBackend("wasm");
  const t = tf.tidy(() => tf.concat([tf.tensor1d([1, 2], "int32"), tf.tensor1d([3], "int32")]).arraySync());
  assert.deepEqual(t, [1, 2, 3]);
});

Deno.test("Identity (tf.clone) shares the data on the fast backend, and the clone outlives the original", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  assert.equal(y.dataId, x.dataId);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  y.dispose();
});

Deno.test("fast backend: an op it lacks fails naming the kernel, not silently", async () => {
  await tf.setBackend("wasm");
  assert.throws(
    () =>
      tf.tidy(() =>
        tf.conv2d(
          tf.zeros([1, 5, 5, 1]) as tf.Tensor4D,
          tf.zeros([3, 3, 1, 1]) as tf.Tensor4D,
          1,
          "same",
          "NHWC",
          2,
        )
      ),
    /Conv2D supports dilation 1 only/,
  );
});

Deno.test("Im2colCache: hits only the same data id and geometry, evicts least recently used, recycles", () => {
  const cache = new Im2colCache();
  const a = {}, b = {}, c = {};
  const live = () => true;
  const big = IM2COL_CACHE_FLOATS / 2;
  const ca = cache.put(a, "g1", big, live)!;
  ca[0] = 1;
  assert.equal(cache.get(a, "g1")?.[0], 1);
  assert.equal(cache.get(a, "g2"), null, "another geometry on the same data is a miss");
  assert.equal(cache.get(b, "g1"), null, "another data id is a miss");
  const cb = cache.put(b, "g1", big, live)!;
  cache.get(a, "g1"); // a is now the most recently used
  const cc = cache.put(c, "g1", big, live)!; // over the bound: b (least recently used) goes
  assert.equal(cache.get(b, "g1"), null);
  assert.notEqual(cache.get(a, "g1"), null);
  assert.equal(cc.buffer, cb.buffer, "c reuses b's buffer");
  assert.equal(
    cache.put({}, "g1", IM2COL_CACHE_FLOATS + 1, live),
    null,
    "larger than the whole cache: not kept",
  );
  // a disposed tensor's entry is dropped at the next put, and its buffer recycled at once
  const d = {};
  const cd = cache.put(d, "g1", 10, (id) => id !== a && id !== c)!;
  assert.equal(cache.get(a, "g1"), null);
  assert.equal(cache.get(c, "g1"), null);
  assert.ok(cd.buffer === ca.buffer || cd.buffer === cc.buffer, "d reuses a dead entry's buffer");
});
