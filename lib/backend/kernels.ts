// Kernels registered on tfjs's wasm backend: Conv2D (+fused), both conv backprops and (fused) MatMul on sgemm
// (OpenBLAS through FFI), plus memory-bound ones (elementwise, reductions, batch norm, concat/split, pooling
// gradient, Identity/Cast, Tile) on the native helpers. They work on the wasm heap in place.
import * as tf from "@tensorflow/tfjs";
import type { Sgemm } from "./blas.ts";
import { activationCode, BINARY_OPS, convGeometry, type FastOps } from "./ops.ts";
import { CONV_KINDS, type NativeConv, type NativeSgemm } from "./dnnl.ts";

type TensorInfo = tf.TensorInfo;
type ConvInfo = tf.backend_util.Conv2DInfo;
interface WasmBackendLike {
  dataIdMap: { get(id: unknown): { memoryOffset: number }; has(id: unknown): boolean };
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  incRef(dataId: unknown): void;
  wasm: { HEAPU8: Uint8Array };
}
type KernelArgs = {
  inputs: Record<string, TensorInfo | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
};

/** The wasm backend's own kernels that ours hand the cases they do not cover to. */
export const WASM_FALLBACKS = [
  "Sum",
  "Mean",
  "Tile",
  ...BINARY_OPS,
  "Relu",
  "Step",
  "FusedBatchNorm",
  "Concat",
  "SplitV",
  "AvgPoolGrad",
  "MaxPoolGrad",
  "MaxPool",
  "AvgPool",
  "Cast",
] as const;

/** Our own kernel (wasm backend, native helpers only): the whole batch-norm gradient in one pass. */
export const BATCH_NORM_GRAD = "FastBatchNormGrad";

/**
 * Our own kernels (wasm backend, native helpers only): tf.moments of x [.., C] over all but the last axis as one
 * [2, C] tensor (mean, variance), and its gradient (see gradients.ts).
 */
export const MOMENTS = "FastMoments";
export const MOMENTS_GRAD = "FastMomentsGrad";

/** Our own kernel (wasm backend, native helpers only): one Adam step of one weight tensor (see adam.ts). */
export const ADAM_STEP = "FastAdamStep";

/**
 * Our own kernels (wasm backend, native helpers only): softmax cross-entropy of logits [N, K] against labels [N, K]
 * (per row, or their mean with attribute `mean`), and its logits gradient (see gradients.ts).
 */
export const SOFTMAX_CE = "FastSoftmaxCE";
export const SOFTMAX_CE_GRAD = "FastSoftmaxCEGrad";

/**
 * Our own kernels (wasm backend, native helpers only): a dense layer under a gradient tape, a [m, k] x b [k, n]
 * + bias, then linear or relu, as one kernel whose gradient (gradients.ts) computes only the inputs asked for;
 * and the ReLU gradient from the ReLU's output.
 */
export const DENSE = "FastDense";
/** The same for a convolution under a tape: conv2d(x, filter) + bias, linear or relu, NHWC. */
export const CONV = "FastConv";
export const RELU_GRAD = "FastReluGrad";

/** Our own kernel (wasm backend, native helpers only): one L2 PGD step, project and clip (see fused.ts). */
export const L2_STEP = "FastL2Step";

/** Our own kernel (wasm backend, native helpers only): relu(x * scale + shift) per channel (see fused.ts). */
export const AFFINE_RELU = "FastAffineRelu";

/** True when the fast backend is active and has kernel `name` registered (its native helpers provide it). */
export const hasFastKernel = (name: string): boolean =>
  tf.getBackend() === "wasm" && !!tf.getKernel(name, "wasm");

/** Largest im2col scratch (floats) per GEMM call; work is split over images to stay below it. */
const SCRATCH_FLOATS = 1 << 23;

/**
 * Total floats of im2col matrices kept for reuse by Conv2DBackpropFilter (LRU; 2^26 floats = 256 MiB: every
 * conv layer of the 28x28 zoo models at batch 128 fits at once).
 */
export const IM2COL_CACHE_FLOATS = 1 << 26;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The geometry that, with the input's data, determines an im2col matrix. */
const geometryKey = (ci: ConvInfo) => [ci.batchSize, ...convGeometry(ci)].join(",");

/**
 * im2col matrices of recent conv inputs, keyed by the input's data id (tensor data is immutable, and a disposed
 * id is never reused, so a hit is always current). The forward Conv2D fills it; Conv2DBackpropFilter of the
 * same input (training) reuses the matrix instead of rebuilding it. Bounded in floats, least recently used
 * out first; evicted buffers are recycled.
 */
export class Im2colCache {
  private entries = new Map<unknown, { key: string; cols: Float32Array }>();
  private floats = 0;
  private free: Float32Array[] = [];

  /** The cached matrix for (dataId, geometry), or null. */
  get(dataId: unknown, key: string): Float32Array | null {
    const e = this.entries.get(dataId);
    if (!e || e.key !== key) return null;
    this.entries.delete(dataId); // re-insert: most recently used last
    this.entries.set(dataId, e);
    return e.cols;
  }

  /**
   * A buffer of `n` floats stored under (dataId, geometry); null when `n` exceeds the cache. Entries whose
   * tensor `isLive` says is gone (disposed: its matrix can never be asked for again) are dropped first.
   */
  put(dataId: unknown, key: string, n: number, isLive: (id: unknown) => boolean): Float32Array | null {
    for (const [id, e] of this.entries) if (!isLive(id)) this.evict(id, e.cols);
    if (n > IM2COL_CACHE_FLOATS) return null;
    const old = this.entries.get(dataId);
    if (old) this.evict(dataId, old.cols);
    while (this.floats + n > IM2COL_CACHE_FLOATS) {
      const [id, e] = this.entries.entries().next().value!;
      this.evict(id, e.cols);
    }
    let best = -1; // the smallest recycled buffer that fits
    this.free.forEach((b, i) => {
      if (b.length >= n && (best < 0 || b.length < this.free[best].length)) best = i;
    });
    const cols = best >= 0 ? this.free.splice(best, 1)[0].subarray(0, n) : new Float32Array(n);
    this.entries.set(dataId, { key, cols });
    this.floats += cols.length;
    return cols;
  }

  private evict(dataId: unknown, cols: Float32Array): void {
    this.entries.delete(dataId);
    this.floats -= cols.length;
    this.free.push(new Float32Array(cols.buffer));
    if (this.free.length > 4) this.free.sort((a, b) => b.length - a.length).pop();
  }
}

/** A Float32Array view of a tensor's data on the wasm heap (take it after every allocation). */
function heapView(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new TypeError(`fast backend: expected a float32 tensor, got ${t.dtype}`);
  return new Float32Array(
    backend.wasm.HEAPU8.buffer,
    backend.dataIdMap.get(t.dataId).memoryOffset,
    size(t.shape),
  );
}

function checkConv(ci: ConvInfo, kernel: string): void {
  if (ci.dilationHeight !== 1 || ci.dilationWidth !== 1) {
    throw new Error(
      `fast backend: kernel ${kernel} supports dilation 1 only, got ${ci.dilationHeight}x${ci.dilationWidth}`,
    );
  }
  if (ci.dataFormat !== "channelsLast") {
    throw new Error(`fast backend: kernel ${kernel} supports NHWC (channelsLast) only, got ${ci.dataFormat}`);
  }
}

/**
 * Products of fewer multiply-adds than this skip oneDNN's sgemm for the fastops driver, which runs them as one
 * single-threaded BLAS call (below the same size in fastops.c): waking a second thread costs more than it saves
 * there. A 128x10x256 product (every zoo model's last layer) took 0.068 ms on oneDNN and 0.011 ms on one thread.
 */
export const DENSE_MIN_MACS = 1 << 22;

/** True when the convolution is a plain 1x1, stride-1, unpadded one (im2col is the identity). */
const isPointwise = (ci: ConvInfo) =>
  ci.filterHeight === 1 && ci.filterWidth === 1 && ci.strideHeight === 1 && ci.strideWidth === 1 &&
  ci.padInfo.top === 0 && ci.padInfo.left === 0;

/**
 * The kernel configs of the fast backend, closed over one sgemm, one set of memory-bound helpers (native or
 * TypeScript), one scratch buffer and one im2col cache. `wasm` holds the wasm backend's own Sum, Mean and Tile
 * kernels, used for the cases ours do not cover. With `conv` (oneDNN, dnnl.ts) the three convolution kernels
 * run on it, and on im2col + sgemm for a geometry it does not take. With `dense` (oneDNN's sgemm) the matrix
 * products whose B is not transposed run on it (on the dense layers' shapes it ran 10-15% faster than the
 * fastops driver over OpenBLAS, and slower with B transposed).
 */
export function fastKernels(
  sgemm: Sgemm,
  ops: FastOps,
  wasm: Record<(typeof WASM_FALLBACKS)[number], tf.KernelFunc>,
  conv: NativeConv | null = null,
  dense: NativeSgemm | null = null,
): tf.KernelConfig[] {
  const im2colCache = new Im2colCache();
  let scratch = new Float32Array(0);
  const getScratch = (n: number) => {
    if (scratch.length < n) scratch = new Float32Array(n);
    return scratch.subarray(0, n);
  };
  /** Images per chunk so that the im2col block stays under SCRATCH_FLOATS. */
  const chunk = (ci: ConvInfo) =>
    Math.max(
      1,
      Math.floor(
        SCRATCH_FLOATS / (ci.outHeight * ci.outWidth * ci.filterHeight * ci.filterWidth * ci.inChannels),
      ),
    );

  function conv2dForward(
    backend: WasmBackendLike,
    x: TensorInfo,
    filter: TensorInfo,
    ci: ConvInfo,
  ): TensorInfo {
    const out = backend.makeOutput(ci.outShape, "float32");
    const xv = heapView(backend, x), wv = heapView(backend, filter), ov = heapView(backend, out);
    if (conv && conv(CONV_KINDS.forward, ci, xv, wv, ov) === 0) return out;
    const K = ci.filterHeight * ci.filterWidth * ci.inChannels,
      P = ci.outHeight * ci.outWidth,
      Co = ci.outChannels;
    if (isPointwise(ci)) {
      sgemm(false, false, ci.batchSize * P, Co, K, xv, K, wv, Co, 0, ov, Co);
      return out;
    }
    const kept = im2colCache.put(
      x.dataId,
      geometryKey(ci),
      ci.batchSize * P * K,
      (id) => backend.dataIdMap.has(id),
    );
    const step = kept ? ci.batchSize : chunk(ci);
    for (let n0 = 0; n0 < ci.batchSize; n0 += step) {
      const n1 = Math.min(ci.batchSize, n0 + step), rows = (n1 - n0) * P;
      const cols = kept ?? getScratch(rows * K);
      ops.im2col(xv, cols, ci, n0, n1);
      sgemm(false, false, rows, Co, K, cols, K, wv, Co, 0, ov.subarray(n0 * P * Co), Co);
    }
    return out;
  }

  const convInfoOf = (xShape: number[], fShape: number[], attrs: Record<string, unknown>, kernel: string) => {
    const ci = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      fShape as [number, number, number, number],
      attrs.strides as [number, number],
      (attrs.dilations ?? 1) as [number, number],
      attrs.pad as "same",
      attrs.dimRoundingMode as "round" | undefined,
      false,
      tf.backend_util.convertConv2DDataFormat((attrs.dataFormat ?? "NHWC") as "NHWC"),
    );
    checkConv(ci, kernel);
    return ci;
  };

  const conv2D: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const ci = convInfoOf(x.shape, filter.shape, attrs!, "Conv2D");
    return conv2dForward(backend as WasmBackendLike, x, filter, ci);
  };

  const fusedConv2D: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo>;
    const b = backend as WasmBackendLike;
    const activation = (attrs!.activation ?? "linear") as string;
    if (preluActivationWeights) {
      throw new Error("fast backend: kernel FusedConv2D does not support prelu activation");
    }
    const ci = convInfoOf(x.shape, filter.shape, attrs!, "FusedConv2D");
    const out = conv2dForward(b, x, filter, ci);
    const act = activationCode(activation, "FusedConv2D");
    if (bias || act !== 0) {
      const alpha = (attrs!.leakyreluAlpha ?? 0.2) as number;
      ops.biasAct(heapView(b, out), bias ? heapView(b, bias) : null, ci.outChannels, act, alpha);
    }
    return out;
  };

  const conv2DBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const b = backend as WasmBackendLike;
    const ci = convInfoOf(attrs!.inputShape as number[], filter.shape, attrs!, "Conv2DBackpropInput");
    const out = b.makeOutput(ci.inShape, "float32");
    const dyv = heapView(b, dy), wv = heapView(b, filter), dx = heapView(b, out);
    if (conv && conv(CONV_KINDS.backwardData, ci, dyv, wv, dx) === 0) return out;
    const K = ci.filterHeight * ci.filterWidth * ci.inChannels,
      P = ci.outHeight * ci.outWidth,
      Co = ci.outChannels;
    if (isPointwise(ci)) {
      sgemm(false, true, ci.batchSize * P, K, Co, dyv, Co, wv, Co, 0, dx, K);
      return out;
    }
    const step = chunk(ci);
    for (let n0 = 0; n0 < ci.batchSize; n0 += step) {
      const n1 = Math.min(ci.batchSize, n0 + step), rows = (n1 - n0) * P;
      const cols = getScratch(rows * K);
      sgemm(false, true, rows, K, Co, dyv.subarray(n0 * P * Co), Co, wv, Co, 0, cols, K);
      ops.col2im(cols, dx, ci, n0, n1);
    }
    return out;
  };

  const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const b = backend as WasmBackendLike;
    const ci = convInfoOf(x.shape, attrs!.filterShape as number[], attrs!, "Conv2DBackpropFilter");
    const out = b.makeOutput(ci.filterShape, "float32");
    const xv = heapView(b, x), dyv = heapView(b, dy), dw = heapView(b, out);
    if (conv && conv(CONV_KINDS.backwardWeights, ci, xv, dyv, dw) === 0) return out;
    const K = ci.filterHeight * ci.filterWidth * ci.inChannels,
      P = ci.outHeight * ci.outWidth,
      Co = ci.outChannels;
    if (isPointwise(ci)) {
      sgemm(true, false, K, Co, ci.batchSize * P, xv, K, dyv, Co, 0, dw, Co);
      return out;
    }
    const kept = im2colCache.get(x.dataId, geometryKey(ci));
    if (kept) {
      sgemm(true, false, K, Co, ci.batchSize * P, kept, K, dyv, Co, 0, dw, Co);
      return out;
    }
    const step = chunk(ci);
    for (let n0 = 0; n0 < ci.batchSize; n0 += step) {
      const n1 = Math.min(ci.batchSize, n0 + step), rows = (n1 - n0) * P;
      const cols = getScratch(rows * K);
      ops.im2col(xv, cols, ci, n0, n1);
      sgemm(true, false, K, Co, rows, cols, K, dyv.subarray(n0 * P * Co), Co, n0 === 0 ? 0 : 1, dw, Co);
    }
    return out;
  };

  function matmul(
    b: WasmBackendLike,
    a: TensorInfo,
    bm: TensorInfo,
    ta: boolean,
    tb: boolean,
    kernel: string,
  ): { out: TensorInfo; n: number } {
    const ra = a.shape.length, rb = bm.shape.length;
    if (ra < 2 || rb < 2) {
      throw new RangeError(`fast backend: ${kernel} needs rank >= 2, got ${ra} and ${rb}`);
    }
    const [a0, a1] = a.shape.slice(-2), [b0, b1] = bm.shape.slice(-2);
    const m = ta ? a1 : a0, k = ta ? a0 : a1, n = tb ? b0 : b1;
    if ((tb ? b1 : b0) !== k) {
      throw new RangeError(`fast backend: ${kernel} inner dimensions differ: [${a.shape}] x [${bm.shape}]`);
    }
    const batchA = size(a.shape.slice(0, -2)), batchB = size(bm.shape.slice(0, -2));
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
      throw new RangeError(`fast backend: ${kernel} batch dimensions differ: [${a.shape}] x [${bm.shape}]`);
    }
    const batchShape = (batchA >= batchB ? a.shape : bm.shape).slice(0, -2);
    const out = b.makeOutput([...batchShape, m, n], "float32");
    const av = heapView(b, a), bv = heapView(b, bm), ov = heapView(b, out);
    const batch = Math.max(batchA, batchB);
    for (let i = 0; i < batch; i++) {
      const args: Parameters<Sgemm> = [
        ta,
        tb,
        m,
        n,
        k,
        av.subarray((batchA === 1 ? 0 : i) * a0 * a1),
        a1,
        bv.subarray((batchB === 1 ? 0 : i) * b0 * b1),
        b1,
        0,
        ov.subarray(i * m * n),
        n,
      ];
      if (!(dense && !tb && m * n * k >= DENSE_MIN_MACS && dense(...args) === 0)) sgemm(...args);
    }
    return { out, n };
  }

  const batchMatMul: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    return matmul(backend as WasmBackendLike, a, b, !!attrs!.transposeA, !!attrs!.transposeB, "BatchMatMul")
      .out;
  };

  const fusedMatMul: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo>;
    const bk = backend as WasmBackendLike;
    if (preluActivationWeights) {
      throw new Error("fast backend: kernel _FusedMatMul does not support prelu activation");
    }
    const { out, n } = matmul(bk, a, b, !!attrs!.transposeA, !!attrs!.transposeB, "_FusedMatMul");
    const act = activationCode((attrs!.activation ?? "linear") as string, "_FusedMatMul");
    if (bias || act !== 0) {
      const alpha = (attrs!.leakyreluAlpha ?? 0.2) as number;
      ops.biasAct(heapView(bk, out), bias ? heapView(bk, bias) : null, n, act, alpha);
    }
    return out;
  };

  // tfjs clones every tensor it saves for the backward pass; the wasm Identity copies the data, the cpu one
  // shares it. Sharing (as the wasm Reshape already does) saves the copies and lets Conv2DBackpropFilter find
  // the forward pass's im2col matrix under the same data id.
  const identity: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
    const x = inputs.x as TensorInfo;
    (backend as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };

  // Sum and Mean over leading axes (bias and batch-norm gradients, batch-norm moments: [N, H, W, C] -> [C]) as
  // one pass over rows; the wasm kernels transpose such inputs first. Anything else goes to the wasm kernel.
  const leadingReduce = (kernel: "Sum" | "Mean"): tf.KernelFunc => (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(args.attrs!.axis as number | number[], x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    // axes 1..k of [N, ..., C] with N and C kept (global average pooling: [N, H, W, C] -> [N, C]): the same
    // row reduction once per example; the wasm kernel transposes first (6.7 ms of densenet_small's forward)
    const inner = !leading && axes.length > 0 && axes[axes.length - 1] < rank - 1 &&
      axes.every((a, i) => a === i + 1);
    if (x.dtype !== "float32" || !(leading || inner)) {
      return wasm[kernel](args as Parameters<tf.KernelFunc>[0]);
    }
    const b = args.backend as WasmBackendLike;
    const first = leading ? 0 : 1, last = axes[axes.length - 1];
    const cols = size(x.shape.slice(last + 1));
    const outShape = args.attrs!.keepDims
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : x.shape.filter((_, i) => i < first || i > last);
    const out = b.makeOutput(outShape, "float32");
    const xv = heapView(b, x), ov = heapView(b, out);
    const groups = leading ? 1 : x.shape[0], per = size(x.shape) / Math.max(1, groups);
    for (let n = 0; n < groups; n++) {
      ops.sumRows(
        xv.subarray(n * per, (n + 1) * per),
        ov.subarray(n * cols, (n + 1) * cols),
        cols,
        kernel === "Mean",
      );
    }
    return out;
  };

  // Tile by block copies: each input row is written once, then every level is replicated with copyWithin
  // (memmove). tfjs's batch-norm gradient tiles [1, 1, 1, C] to [N, H, W, C] several times per layer, and the
  // wasm Tile computes every output index separately.
  const tile: tf.KernelFunc = (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== "float32" || x.shape.length === 0) return wasm.Tile(args as Parameters<tf.KernelFunc>[0]);
    const b = args.backend as WasmBackendLike;
    const reps = args.attrs!.reps as number[], r = x.shape.length;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const out = b.makeOutput(outShape, "float32");
    if (size(outShape) === 0) return out;
    const xv = heapView(b, x), ov = heapView(b, out);
    const inStride = new Array<number>(r), outStride = new Array<number>(r);
    inStride[r - 1] = outStride[r - 1] = 1;
    for (let i = r - 2; i >= 0; i--) {
      inStride[i] = inStride[i + 1] * x.shape[i + 1];
      outStride[i] = outStride[i + 1] * outShape[i + 1];
    }
    const fill = (axis: number, inOff: number, outOff: number) => {
      const d = x.shape[axis], block = d * outStride[axis];
      if (axis === r - 1) ov.set(xv.subarray(inOff, inOff + d), outOff);
      else {for (let j = 0; j < d; j++) {
          fill(axis + 1, inOff + j * inStride[axis], outOff + j * outStride[axis]);
        }}
      // the copies double: log2(reps) of them, not reps - 1 (broadcasting [128, 1] to [128, 256], the
      // gradient of a sum over the last axis, took 32,640 one-value copies: 1.28 ms of an mlp matching step)
      for (let have = 1; have < reps[axis];) {
        const n = Math.min(have, reps[axis] - have);
        ov.copyWithin(outOff + have * block, outOff, outOff + n * block);
        have += n;
      }
    };
    fill(0, 0, 0);
    return out;
  };

  // Elementwise Add/Sub/Multiply/RealDiv on float32, same shape or broadcast along trailing axes (bias adds,
  // batch-norm scale and shift), Relu and Step: multi-threaded native loops where the wasm kernels run on one
  // thread. Other dtypes and broadcasts go to the wasm kernels.
  const trailing = (s: number[], out: number[]) => {
    let i = 0;
    while (i < s.length && s[i] === 1) i++;
    const t = s.slice(i);
    return t.every((d, j) => d === out[out.length - t.length + j]);
  };
  const binary = (name: (typeof BINARY_OPS)[number], code: number): tf.KernelFunc => (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const call = () => wasm[name](args as Parameters<tf.KernelFunc>[0]);
    if (!ops.binary || a.dtype !== "float32" || b.dtype !== "float32") return call();
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = size(outShape), na = size(a.shape), nb = size(b.shape);
    const fits = (s: number[], m: number) => m === n || trailing(s, outShape);
    if (n === 0 || !fits(a.shape, na) || !fits(b.shape, nb) || (na !== n && nb !== n)) return call();
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(outShape, "float32");
    ops.binary(code, heapView(be, a), heapView(be, b), heapView(be, out));
    return out;
  };
  const unary = (name: "Relu" | "Step", kind: number): tf.KernelFunc => (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    if (!ops.unary || x.dtype !== "float32" || size(x.shape) === 0) {
      return wasm[name](args as Parameters<tf.KernelFunc>[0]);
    }
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, "float32");
    ops.unary(kind, heapView(be, x), heapView(be, out), (args.attrs?.alpha ?? 0) as number);
    return out;
  };
  const elementwise: tf.KernelConfig[] = ops.binary && ops.unary
    ? [
      ...BINARY_OPS.map((name, code) => ({
        kernelName: name,
        backendName: "wasm",
        kernelFunc: binary(name, code),
      })),
      { kernelName: "Relu", backendName: "wasm", kernelFunc: unary("Relu", 0) },
      { kernelName: "Step", backendName: "wasm", kernelFunc: unary("Step", 1) },
    ]
    : [];

  // A cast to the tensor's own dtype (34 of them per resnet_small training step, on whole activations) shares
  // the data, as Identity does; the wasm Cast copies it.
  const cast: tf.KernelFunc = (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== args.attrs!.dtype) return wasm.Cast(args as Parameters<tf.KernelFunc>[0]);
    return identity(args as Parameters<tf.KernelFunc>[0]);
  };

  // Batch norm with per-channel (or scalar) statistics and parameters, the layers' case: one multi-threaded pass
  // (the wasm kernel is single-threaded).
  const batchNorm: tf.KernelFunc = (args: KernelArgs) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const c = x!.shape[x!.shape.length - 1] ?? 1;
    const fits = (t: TensorInfo | undefined) =>
      !t || (t.dtype === "float32" && [1, c].includes(size(t.shape)));
    if (
      !ops.batchNorm || x!.dtype !== "float32" || size(x!.shape) === 0 ||
      ![mean, variance, offset, scale].every(fits)
    ) return wasm.FusedBatchNorm(args as Parameters<tf.KernelFunc>[0]);
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(x!.shape, "float32");
    const v = (t: TensorInfo | undefined) => (t ? heapView(be, t) : null);
    const eps = (args.attrs!.varianceEpsilon ?? 0.001) as number;
    ops.batchNorm(heapView(be, x!), v(mean)!, v(variance)!, v(offset), v(scale), eps, heapView(be, out), c);
    return out;
  };

  const affineRelu: tf.KernelFunc = (args: KernelArgs) => {
    const { x, scale, shift } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, "float32");
    const c = x.shape[x.shape.length - 1];
    ops.affineRelu!(heapView(be, x), heapView(be, scale), heapView(be, shift), heapView(be, out), c);
    return out;
  };

  // The batch-norm gradient (called by the FusedBatchNorm gradient of gradients.ts): inputs dy, x [.., C], mean,
  // variance [C], optional scale [C]; outputs dx, d_mean, d_variance, d_scale, d_offset. tfjs builds it from
  // about 20 elementwise ops, tiles and reductions over the whole activation.
  const batchNormGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, x, mean, variance, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const be = args.backend as WasmBackendLike;
    const outs = [
      be.makeOutput(x!.shape, "float32"),
      ...[0, 1, 2, 3].map(() => be.makeOutput(mean!.shape, "float32")),
    ];
    const [dx, dMean, dVariance, dScale, dOffset] = outs.map((t) => heapView(be, t));
    ops.batchNormGrad!(
      heapView(be, dy!),
      heapView(be, x!),
      heapView(be, mean!),
      heapView(be, variance!),
      scale ? heapView(be, scale) : null,
      (args.attrs!.varianceEpsilon ?? 0.001) as number,
      { dx, dMean, dVariance, dScale, dOffset },
    );
    return outs;
  };

  // One Adam step: inputs w, m, v, g (float32, same shape); attrs beta1, beta2, c1, c2, lr, eps; outputs the
  // new w, m, v. tfjs's optimizer runs 12 elementwise kernels per weight tensor for the same result.
  const adamStep: tf.KernelFunc = (args: KernelArgs) => {
    const { w, m, v, g } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const outs = [0, 1, 2].map(() => be.makeOutput(w.shape, "float32"));
    const [ow, om, ov] = outs.map((t) => heapView(be, t));
    const h = args.attrs as { beta1: number; beta2: number; c1: number; c2: number; lr: number; eps: number };
    ops.adam!(
      { w: heapView(be, w), m: heapView(be, m), v: heapView(be, v), g: heapView(be, g) },
      { w: ow, m: om, v: ov },
      h,
    );
    return outs;
  };

  // Softmax cross-entropy in one pass over the logits, where tfjs's loss runs about 12 kernels forward and 10
  // backward (logSumExp, sub, mul, neg, sum, the mean; exp, sub, mul).
  const softmaxCE: tf.KernelFunc = (args: KernelArgs) => {
    const { labels, logits } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const mean = !!args.attrs?.mean;
    const out = be.makeOutput(mean ? [] : [logits.shape[0]], "float32");
    ops.softmaxCE!(heapView(be, labels), heapView(be, logits), heapView(be, out), logits.shape[1], mean);
    return out;
  };
  const softmaxCEGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, labels, logits } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(logits.shape, "float32");
    const v = (t: TensorInfo) => heapView(be, t);
    ops.softmaxCEGrad!(v(dy), v(labels), v(logits), v(out), logits.shape[1], !!args.attrs?.mean);
    return out;
  };

  const reluGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, y } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(dy.shape, "float32");
    ops.reluGrad!(heapView(be, dy), heapView(be, y), heapView(be, out));
    return out;
  };

  // pgd()'s L2 step + projection + clip to [0, 1] in one pass, where tfjs runs about 20 kernels.
  const l2Step: tf.KernelFunc = (args: KernelArgs) => {
    const { x, delta, g } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, "float32");
    const { stepSize, eps } = args.attrs as { stepSize: number; eps: number };
    const v = (t: TensorInfo) => heapView(be, t);
    ops.l2Step!(v(x), v(delta), v(g), v(out), size(x.shape.slice(1)), stepSize, eps);
    return out;
  };

  // Moments over all but the last axis: x [.., C] -> [2, C] (mean; biased variance), in two passes where tfjs's
  // moments runs Mean, Sub, Square and Mean over the whole activation; and the gradient, inputs x, mv (that
  // [2, C]) and dy [2, C], in one pass where tfjs's runs about five.
  const moments: tf.KernelFunc = (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    const be = args.backend as WasmBackendLike;
    const c = x.shape[x.shape.length - 1];
    const out = be.makeOutput([2, c], "float32");
    const mv = heapView(be, out);
    ops.moments!(heapView(be, x), mv.subarray(0, c), mv.subarray(c));
    return out;
  };
  const momentsGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { x, mv, dy } = args.inputs as Record<string, TensorInfo>;
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, "float32");
    const c = x.shape[x.shape.length - 1];
    ops.momentsGrad!(heapView(be, x), heapView(be, mv).subarray(0, c), heapView(be, dy), heapView(be, out));
    return out;
  };

  // Concat and SplitV of float32 tensors along any axis as row copies (rows = the product of the dims before
  // the axis): DenseNet's concatenations and their gradients. The wasm kernels copy element by element.
  const concat: tf.KernelFunc = (args: KernelArgs) => {
    const all = Object.values(args.inputs) as TensorInfo[];
    const xs = all.filter((t) => size(t.shape) > 0);
    if (!ops.copyCols || xs.length === 0 || !all.every((t) => t.dtype === "float32")) {
      return wasm.Concat(args as Parameters<tf.KernelFunc>[0]);
    }
    const axis = tf.util.parseAxisParam(args.attrs!.axis as number, all[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(all.map((t) => t.shape), axis);
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(outShape, "float32");
    const rows = size(outShape.slice(0, axis)), outW = size(outShape.slice(axis));
    let col = 0;
    for (const t of xs) {
      const w = size(t.shape.slice(axis));
      ops.copyCols(heapView(be, t), w, 0, heapView(be, out), outW, col, w, rows);
      col += w;
    }
    return out;
  };
  const splitV: tf.KernelFunc = (args: KernelArgs) => {
    const x = args.inputs.x as TensorInfo;
    if (!ops.copyCols || x.dtype !== "float32" || size(x.shape) === 0) {
      return wasm.SplitV(args as Parameters<tf.KernelFunc>[0]);
    }
    const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(
      x,
      args.attrs!.numOrSizeSplits as number[] | number,
      axis,
    );
    const be = args.backend as WasmBackendLike;
    const rows = size(x.shape.slice(0, axis)),
      inner = size(x.shape.slice(axis + 1)),
      xW = x.shape[axis] * inner;
    let col = 0;
    return sizes.map((s) => {
      const shape = x.shape.slice();
      shape[axis] = s;
      const out = be.makeOutput(shape, "float32");
      if (s > 0 && rows > 0) {
        ops.copyCols!(heapView(be, x), xW, col, heapView(be, out), s * inner, 0, s * inner, rows);
      }
      col += s * inner;
      return out;
    });
  };

  /** The geometry of a pooling gradient's window (dilation 1), from the pool's input shape and attributes. */
  const poolInfo = (shape: number[], attrs: Record<string, unknown>) =>
    tf.backend_util.computePool2DInfo(
      shape as [number, number, number, number],
      attrs.filterSize as [number, number],
      attrs.strides as [number, number],
      1,
      attrs.pad as "valid",
      attrs.dimRoundingMode as "round" | undefined, // AvgPoolGrad has none: undefined, as tfjs's cpu kernel uses
    );

  // Average-pool gradient as a scatter of each dy element over its window, times 1 / (FH * FW) as tfjs's
  // reference kernel does (padding positions included in the count); the wasm kernel is a per-element loop.
  const avgPoolGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    if (!ops.avgPoolGrad || dy.dtype !== "float32" || input.shape.length !== 4 || size(input.shape) === 0) {
      return wasm.AvgPoolGrad(args as Parameters<tf.KernelFunc>[0]);
    }
    const ci = poolInfo(input.shape, args.attrs!);
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(input.shape, "float32");
    ops.avgPoolGrad(heapView(be, dy), heapView(be, out), ci, 1 / (ci.filterHeight * ci.filterWidth));
    return out;
  };

  // Max-pool gradient: each dy element to the first largest input of its window, as the cpu kernel does. The
  // wasm kernel (tfjs 4.22) sends the gradient of a window whose maximum is negative to the window's first
  // position, breaks ties to the last maximum, and was 40% of a vgg_small training step.
  const maxPoolGrad: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    if (
      dy.dtype !== "float32" || input.dtype !== "float32" || input.shape.length !== 4 ||
      size(input.shape) === 0
    ) return wasm.MaxPoolGrad(args as Parameters<tf.KernelFunc>[0]);
    const ci = poolInfo(input.shape, args.attrs!);
    const be = args.backend as WasmBackendLike;
    const out = be.makeOutput(input.shape, "float32");
    ops.maxPoolGrad(heapView(be, input), heapView(be, dy), heapView(be, out), ci);
    return out;
  };

  // Max and average pooling as tfjs's cpu kernels compute them, multi-threaded (the wasm kernels, XNNPACK's, run
  // on one thread: max pooling 0.5-0.7 ms of lenet's 4 ms forward). Other dtypes go to the wasm kernels.
  const pool =
    (kernel: "MaxPool" | "AvgPool", native: NonNullable<FastOps["maxPool"]>): tf.KernelFunc =>
    (args: KernelArgs) => {
      const x = args.inputs.x as TensorInfo;
      if (x.dtype !== "float32" || x.shape.length !== 4 || size(x.shape) === 0) {
        return wasm[kernel](args as Parameters<tf.KernelFunc>[0]);
      }
      const ci = poolInfo(x.shape, args.attrs!);
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput(ci.outShape, "float32");
      if (size(ci.outShape) > 0) native(heapView(be, x), heapView(be, out), ci);
      return out;
    };

  return [
    ...elementwise,
    { kernelName: "MaxPoolGrad", backendName: "wasm", kernelFunc: maxPoolGrad },
    ...(ops.avgPool
      ? [{ kernelName: "AvgPool", backendName: "wasm", kernelFunc: pool("AvgPool", ops.avgPool) }]
      : []),
    ...(ops.maxPool
      ? [{ kernelName: "MaxPool", backendName: "wasm", kernelFunc: pool("MaxPool", ops.maxPool) }]
      : []),
    { kernelName: "Identity", backendName: "wasm", kernelFunc: identity },
    { kernelName: "Cast", backendName: "wasm", kernelFunc: cast },
    ...(ops.batchNorm ? [{ kernelName: "FusedBatchNorm", backendName: "wasm", kernelFunc: batchNorm }] : []),
    ...(ops.batchNormGrad
      ? [{ kernelName: BATCH_NORM_GRAD, backendName: "wasm", kernelFunc: batchNormGrad }]
      : []),
    ...(ops.adam ? [{ kernelName: ADAM_STEP, backendName: "wasm", kernelFunc: adamStep }] : []),
    ...(ops.l2Step ? [{ kernelName: L2_STEP, backendName: "wasm", kernelFunc: l2Step }] : []),
    ...(ops.affineRelu ? [{ kernelName: AFFINE_RELU, backendName: "wasm", kernelFunc: affineRelu }] : []),
    ...(ops.reluGrad
      ? [
        { kernelName: DENSE, backendName: "wasm", kernelFunc: fusedMatMul },
        { kernelName: CONV, backendName: "wasm", kernelFunc: fusedConv2D },
        { kernelName: RELU_GRAD, backendName: "wasm", kernelFunc: reluGrad },
      ]
      : []),
    ...(ops.softmaxCE && ops.softmaxCEGrad
      ? [
        { kernelName: SOFTMAX_CE, backendName: "wasm", kernelFunc: softmaxCE },
        { kernelName: SOFTMAX_CE_GRAD, backendName: "wasm", kernelFunc: softmaxCEGrad },
      ]
      : []),
    ...(ops.moments && ops.momentsGrad
      ? [
        { kernelName: MOMENTS, backendName: "wasm", kernelFunc: moments },
        { kernelName: MOMENTS_GRAD, backendName: "wasm", kernelFunc: momentsGrad },
      ]
      : []),
    ...(ops.copyCols
      ? [
        { kernelName: "Concat", backendName: "wasm", kernelFunc: concat },
        { kernelName: "SplitV", backendName: "wasm", kernelFunc: splitV },
      ]
      : []),
    ...(ops.avgPoolGrad ? [{ kernelName: "AvgPoolGrad", backendName: "wasm", kernelFunc: avgPoolGrad }] : []),
    { kernelName: "Sum", backendName: "wasm", kernelFunc: leadingReduce("Sum") },
    { kernelName: "Mean", backendName: "wasm", kernelFunc: leadingReduce("Mean") },
    { kernelName: "Tile", backendName: "wasm", kernelFunc: tile },
    { kernelName: "Conv2D", backendName: "wasm", kernelFunc: conv2D },
    { kernelName: "FusedConv2D", backendName: "wasm", kernelFunc: fusedConv2D },
    { kernelName: "Conv2DBackpropInput", backendName: "wasm", kernelFunc: conv2DBackpropInput },
    { kernelName: "Conv2DBackpropFilter", backendName: "wasm", kernelFunc: conv2DBackpropFilter },
    { kernelName: "BatchMatMul", backendName: "wasm", kernelFunc: batchMatMul },
    { kernelName: "_FusedMatMul", backendName: "wasm", kernelFunc: fusedMatMul },
  ];
}

/** The wasm backend's own kernels that ours replace, taken before the first registration replaces them. */
const originals = new Map<string, tf.KernelConfig>();

/**
 * Registers the fast kernels on the wasm backend (replacing its own versions of them). Calling it again with
 * other helpers (the tests switch between the native and the TypeScript ones) re-registers: kernels the new
 * helpers have no version of get the wasm backend's own back. `conv`: the oneDNN convolutions (or none);
 * `dense`: oneDNN's sgemm for the matrix products (or none).
 */
export function registerFastKernels(
  sgemm: Sgemm,
  ops: FastOps,
  conv: NativeConv | null = null,
  dense: NativeSgemm | null = null,
): string[] {
  const own = (name: string) => {
    if (!originals.has(name)) {
      const k = tf.getKernel(name, "wasm");
      if (!k) throw new Error(`fast backend: the wasm backend has no ${name} kernel (is it initialized?)`);
      originals.set(name, k);
    }
    return originals.get(name)!;
  };
  const configs = fastKernels(
    sgemm,
    ops,
    Object.fromEntries(WASM_FALLBACKS.map((k) => [k, own(k).kernelFunc])) as Record<
      (typeof WASM_FALLBACKS)[number],
      tf.KernelFunc
    >,
    conv,
    dense,
  );
  const names = configs.map((c) => c.kernelName);
  const restored = WASM_FALLBACKS.filter((k) => !names.includes(k)).map(own);
  for (const cfg of [...configs, ...restored]) {
    if (tf.getKernel(cfg.kernelName, "wasm")) tf.unregisterKernel(cfg.kernelName, "wasm");
    tf.registerKernel(cfg);
  }
  const ours = [
    BATCH_NORM_GRAD,
    ADAM_STEP,
    MOMENTS,
    MOMENTS_GRAD,
    SOFTMAX_CE,
    SOFTMAX_CE_GRAD,
    L2_STEP,
    AFFINE_RELU,
    DENSE,
    CONV,
    RELU_GRAD,
  ];
  for (const name of ours) { // ours alone: nothing to restore
    if (!names.includes(name) && tf.getKernel(name, "wasm")) tf.unregisterKernel(name, "wasm");
  }
  return names;
}
