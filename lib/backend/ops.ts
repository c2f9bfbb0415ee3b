// The memory-bound helpers of the fast backend's kernels (im2col, col2im, bias + activation, row sums, ...) behind
// one interface: portable TypeScript here, multi-threaded C in native.ts, with the same semantics.
import type * as tf from "@tensorflow/tfjs";

type ConvInfo = tf.backend_util.Conv2DInfo;

/** Fused activations the helpers apply (the index is the code passed to the native library). */
export const ACTIVATIONS = ["linear", "relu", "relu6", "leakyrelu", "elu", "sigmoid"] as const;

/** Memory-bound helpers on Float32Array views (of the wasm heap); implementations agree to float rounding. */
export interface FastOps {
  /** "typescript", or the native library's path and thread count. */
  source: string;
  /** Rows of the im2col matrix of images [n0, n1) of x (NHWC) into cols [(n1-n0)*OH*OW, FH*FW*C]. */
  im2col(x: Float32Array, cols: Float32Array, ci: ConvInfo, n0: number, n1: number): void;
  /** Overwrites images [n0, n1) of dx (NHWC) with the scatter-add of cols (laid out as im2col lays them). */
  col2im(cols: Float32Array, dx: Float32Array, ci: ConvInfo, n0: number, n1: number): void;
  /**
   * v [rows, n] += bias (length n, or 1; none when null), then the activation (an ACTIVATIONS index), in
   * place. `alpha` is the leaky-relu slope.
   */
  biasAct(v: Float32Array, bias: Float32Array | null, n: number, act: number, alpha: number): void;
  /** out [cols] = the sum (or mean) over rows of x [rows, cols], accumulated in float64. */
  sumRows(x: Float32Array, out: Float32Array, cols: number, mean: boolean): void;
  /**
   * out = a op b (op: a BINARY_OPS index), each operand full (out's length) or repeating with a period that
   * divides it (a trailing-axis broadcast; length 1 is a scalar). Native only: without it the wasm kernels run.
   */
  binary?(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** out = relu(x) (kind 0) or step(x, alpha) (kind 1: NaN stays NaN, x > 0 ? 1 : alpha). Native only. */
  unary?(kind: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /**
   * out [rows, C] = (x - mean) * scale / sqrt(variance + eps) + offset; each per-channel array of length C or 1,
   * offset and scale null when absent. Native only.
   */
  batchNorm?(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    eps: number,
    out: Float32Array,
    channels: number,
  ): void;
  /**
   * Copies `width` columns of each of `rows` rows: src [rows, srcW] from column srcCol to dst [rows, dstW] at
   * column dstCol (one input of a concat or one output of a split). Native only.
   */
  copyCols?(
    src: Float32Array,
    srcW: number,
    srcCol: number,
    dst: Float32Array,
    dstW: number,
    dstCol: number,
    width: number,
    rows: number,
  ): void;
  /**
   * The batch-norm gradient over rows of `channels` (mean, variance [C]; scale [C], [1] or null): dx [rows, C]
   * and, per channel, d_mean, d_variance, d_scale, d_offset (see fo_batchnorm_grad). Native only.
   */
  batchNormGrad?(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array | null,
    eps: number,
    out: {
      dx: Float32Array;
      dMean: Float32Array;
      dVariance: Float32Array;
      dScale: Float32Array;
      dOffset: Float32Array;
    },
  ): void;
  /** dx (NHWC, overwritten) = average-pool gradient of dy, each window's share times `mult`. Native only. */
  avgPoolGrad?(dy: Float32Array, dx: Float32Array, ci: ConvInfo, mult: number): void;
  /**
   * mean, variance [cols] = the per-column mean and biased variance of x [rows, cols] over rows (accumulated in
   * double). Native only.
   */
  moments?(x: Float32Array, mean: Float32Array, variance: Float32Array): void;
  /** dx [rows, cols] = (dmv[c] + 2 dmv[cols + c] (x - mean[c])) / rows: moments' gradient (dmv [2, cols]). Native only. */
  momentsGrad?(x: Float32Array, mean: Float32Array, dmv: Float32Array, dx: Float32Array): void;
  /**
   * Softmax cross-entropy of logits x [rows, cols] against labels p [rows, cols]: loss [rows] per row, or their
   * mean in loss[0] when `mean`. Native only.
   */
  softmaxCE?(p: Float32Array, x: Float32Array, loss: Float32Array, cols: number, mean: boolean): void;
  /** Its logits gradient dx [rows, cols] = d (softmax(x) - p), d = dy per row (or dy[0] / rows when `mean`). Native only. */
  softmaxCEGrad?(
    dy: Float32Array,
    p: Float32Array,
    x: Float32Array,
    dx: Float32Array,
    cols: number,
    mean: boolean,
  ): void;
  /** out = dy * step(y): the ReLU gradient from the ReLU's output y. Native only. */
  reluGrad?(dy: Float32Array, y: Float32Array, out: Float32Array): void;
  /** Memory-bound helpers over fewer than n values run on one thread (default 65536). Native only. */
  setParallelMin?(n: number): void;
  /**
   * One L2 PGD step over rows of `d` values (one per example): out = clip(x + project(delta + step g / ||g||), 0,
   * 1) - x, the projection onto the eps-ball. Native only.
   */
  l2Step?(
    x: Float32Array,
    delta: Float32Array,
    g: Float32Array,
    out: Float32Array,
    d: number,
    step: number,
    eps: number,
  ): void;
  /**
   * One Adam step (tfjs's formula): new weights, first and second moments into w1, m1, v1 from weights w, moments
   * m, v and gradient g (all the same length); c1 = 1 - beta1^t, c2 = 1 - beta2^t. Native only.
   */
  adam?(
    t: { w: Float32Array; m: Float32Array; v: Float32Array; g: Float32Array },
    out: { w: Float32Array; m: Float32Array; v: Float32Array },
    h: { beta1: number; beta2: number; c1: number; c2: number; lr: number; eps: number },
  ): void;
  /**
   * dx (NHWC, overwritten) = max-pool gradient of dy given the pool's input x: each dy element to the first
   * largest x of its window. Required: the wasm backend's own MaxPoolGrad (tfjs 4.22) sends the gradient of a
   * window whose maximum is negative to its first position (after a batch norm, e.g. vgg16's pools).
   */
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, ci: ConvInfo): void;
  /**
   * y [N, OH, OW, C] = max pooling of x (NHWC) as tfjs's cpu kernel computes it (padding skipped; NaN never
   * replaces a maximum; -inf for a window with nothing above it). Native only: without it the wasm kernel runs.
   */
  maxPool?(x: Float32Array, y: Float32Array, ci: ConvInfo): void;
  /**
   * y [N, OH, OW, C] = average pooling of x (NHWC) as tfjs's cpu kernel computes it (the mean over the window's
   * positions inside the input). Native only: without it the wasm kernel runs.
   */
  avgPool?(x: Float32Array, y: Float32Array, ci: ConvInfo): void;
  /**
   * out = max(0, x * scale[c] + shift[c]) over rows of `channels` values: an inference-mode batch norm with its
   * ReLU in one pass (lib/core/inference.ts). Native only.
   */
  affineRelu?(
    x: Float32Array,
    scale: Float32Array,
    shift: Float32Array,
    out: Float32Array,
    channels: number,
  ): void;
}

/** The elementwise binary kernels with a native version, in the order fastops.c numbers them. */
export const BINARY_OPS = ["Add", "Sub", "Multiply", "RealDiv"] as const;

/** A convolution's geometry as fastops.c reads it: H, W, C, OH, OW, FH, FW, SH, SW, pad top, pad left. */
export function convGeometry(ci: ConvInfo): number[] {
  return [
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.outHeight,
    ci.outWidth,
    ci.filterHeight,
    ci.filterWidth,
    ci.strideHeight,
    ci.strideWidth,
    ci.padInfo.top,
    ci.padInfo.left,
  ];
}

/** The ACTIVATIONS index of a fused activation; an error naming the kernel for one it does not support. */
export function activationCode(activation: string, kernel: string): number {
  const i = (ACTIVATIONS as readonly string[]).indexOf(activation);
  if (i < 0) {
    throw new Error(
      `fast backend: kernel ${kernel} does not support fused activation "${activation}"; supported: ${
        ACTIVATIONS.join(", ")
      }`,
    );
  }
  return i;
}

/** Copies src[s, s + n) to dst[o, o + n): a memcpy (TypedArray.set) for long runs, a loop for short ones. */
function copy(src: Float32Array, s: number, dst: Float32Array, o: number, n: number): void {
  if (n >= 32) dst.set(src.subarray(s, s + n), o);
  else for (let i = 0; i < n; i++) dst[o + i] = src[s + i];
}

function im2col(x: Float32Array, cols: Float32Array, ci: ConvInfo, n0: number, n1: number): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = ci;
  const pt = ci.padInfo.top, pl = ci.padInfo.left, rowLen = FW * C;
  let o = 0;
  for (let n = n0; n < n1; n++) {
    const xb = n * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - pl;
        const fullRow = ix0 >= 0 && ix0 + FW <= W;
        for (let ky = 0; ky < FH; ky++) {
          const iy = oy * SH - pt + ky;
          if (iy < 0 || iy >= H) {
            cols.fill(0, o, o + rowLen);
            o += rowLen;
            continue;
          }
          const rb = xb + (iy * W) * C;
          if (fullRow) {
            copy(x, rb + ix0 * C, cols, o, rowLen);
            o += rowLen;
            continue;
          }
          for (let kx = 0; kx < FW; kx++) {
            const ix = ix0 + kx;
            if (ix < 0 || ix >= W) cols.fill(0, o, o + C);
            else copy(x, rb + ix * C, cols, o, C);
            o += C;
          }
        }
      }
    }
  }
}

function col2im(cols: Float32Array, dx: Float32Array, ci: ConvInfo, n0: number, n1: number): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = ci;
  const pt = ci.padInfo.top, pl = ci.padInfo.left, rowLen = FW * C;
  dx.fill(0, n0 * H * W * C, n1 * H * W * C);
  let o = 0;
  for (let n = n0; n < n1; n++) {
    const xb = n * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - pl;
        for (let ky = 0; ky < FH; ky++) {
          const iy = oy * SH - pt + ky;
          if (iy < 0 || iy >= H) {
            o += rowLen;
            continue;
          }
          const rb = xb + (iy * W) * C;
          for (let kx = 0; kx < FW; kx++) {
            const ix = ix0 + kx;
            if (ix >= 0 && ix < W) {
              const s = rb + ix * C;
              for (let c = 0; c < C; c++) dx[s + c] += cols[o + c];
            }
            o += C;
          }
        }
      }
    }
  }
}

/** The activation ACTIVATIONS[act] of one value (float32 results, as the native code computes them). */
function activate(v: number, act: number, alpha: number): number {
  switch (act) {
    case 0:
      return v;
    case 1:
      return v < 0 ? 0 : v;
    case 2:
      return v < 0 ? 0 : v > 6 ? 6 : v;
    case 3:
      return v < 0 ? Math.fround(v * alpha) : v;
    case 4:
      return v < 0 ? Math.expm1(v) : v;
    case 5:
      return 1 / (1 + Math.exp(-v));
    default:
      throw new RangeError(`fast backend: unknown activation code ${act}`);
  }
}

/** Throws unless the bias has length n or 1 (or is absent). */
export function checkBias(bias: Float32Array | null, n: number): void {
  if (bias && bias.length !== 1 && bias.length !== n) {
    throw new RangeError(`fast backend: bias of length ${bias.length} for ${n} channels`);
  }
}

function biasAct(v: Float32Array, bias: Float32Array | null, n: number, act: number, alpha: number): void {
  checkBias(bias, n);
  for (let o = 0; o < v.length; o += n) {
    for (let j = 0; j < n; j++) {
      const x = bias ? Math.fround(v[o + j] + bias[bias.length === 1 ? 0 : j]) : v[o + j];
      v[o + j] = activate(x, act, alpha);
    }
  }
}

function sumRows(x: Float32Array, out: Float32Array, cols: number, mean: boolean): void {
  const rows = x.length / cols, acc = new Float64Array(cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) for (let c = 0; c < cols; c++) acc[c] += x[o + c];
  if (mean) { for (let c = 0; c < cols; c++) acc[c] /= rows; }
  out.set(acc);
}

function maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, ci: ConvInfo): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const { filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = ci;
  const pt = ci.padInfo.top, pl = ci.padInfo.left;
  const best = new Float32Array(C), at = new Int32Array(C);
  dx.fill(0);
  for (let n = 0; n < ci.batchSize; n++) {
    const base = n * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        best.fill(-Infinity);
        at.fill(-1);
        for (let ky = 0; ky < FH; ky++) {
          const iy = oy * SH - pt + ky;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < FW; kx++) {
            const ix = ox * SW - pl + kx;
            if (ix < 0 || ix >= W) continue;
            const o = base + (iy * W + ix) * C;
            for (let c = 0; c < C; c++) {
              if (x[o + c] > best[c]) {
                best[c] = x[o + c];
                at[c] = o + c;
              }
            }
          }
        }
        const s = ((n * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) if (at[c] >= 0) dx[at[c]] += dy[s + c];
      }
    }
  }
}

/** The portable TypeScript helpers (single-threaded). */
export const tsOps: FastOps = { source: "typescript", im2col, col2im, biasAct, sumRows, maxPoolGrad };
