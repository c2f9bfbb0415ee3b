// Replacements for tfjs's Sum, Mean and FusedBatchNorm gradients with the same values. tfjs builds the Sum and
// Mean ones as dy * ones(x.shape), filling the ones in a JavaScript loop on every backward pass (about 15% of a
// resnet_small training step, growing as V8 gives up optimizing that loop); a broadcast needs no such array.
// The batch-norm gradient runs as one native kernel on the fast backend, and as tfjs's own elsewhere. Under a
// gradient, linear fused conv2d/matMul run unfused, so that an input gradient skips the weight gradients; batch
// norm's moments (tfjs-layers' training mode) run as one native kernel with a one-pass gradient, and so does the
// softmax cross-entropy loss.
import * as tf from "@tensorflow/tfjs";
import tfc from "@tensorflow/tfjs-core"; // the exports object tfjs-layers reads tfc.moments from
import {
  AFFINE_RELU,
  BATCH_NORM_GRAD,
  CONV,
  DENSE,
  hasFastKernel,
  MOMENTS,
  MOMENTS_GRAD,
  RELU_GRAD,
  SOFTMAX_CE,
  SOFTMAX_CE_GRAD,
} from "./kernels.ts";

/** dy reshaped to x's rank (reduced axes of size 1) and broadcast to x's shape. */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const expanded = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis, x.shape)) expanded[a] = 1;
  return tf.broadcastTo(tf.reshape(dy, expanded), x.shape);
}

/** tfjs's own FusedBatchNorm gradient, taken before ours replaces it. */
let tfjsBatchNormGrad: tf.GradConfig | undefined;

/**
 * True when the fast backend's batch-norm gradient kernel covers the case: the wasm backend with the kernel
 * registered, float32, x [N, H, W, C], mean, variance and scale (if any) of shape [C].
 */
function fastBatchNormGrad(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale?: tf.Tensor): boolean {
  if (!hasFastKernel(BATCH_NORM_GRAD) || x.rank !== 4) return false;
  const c = x.shape[3];
  const perChannel = (t: tf.Tensor) => t.rank === 1 && t.shape[0] === c && t.dtype === "float32";
  return x.dtype === "float32" && perChannel(mean) && perChannel(variance) && (!scale || perChannel(scale));
}

type FusedConvArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];
/** tfjs's fused ops, taken before ours wrap them. */
let tfjsFused: { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul } | undefined;

/** tfjs's own fused conv2d and matMul (before registerFastGradients wraps them); for comparison in tests. */
export function tfjsFusedOps(): { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul } {
  return tfjsFused ?? { conv2d: tf.fused.conv2d, matMul: tf.fused.matMul };
}

/** A fused op's bias that the DENSE / CONV kernels take: none, or float32 [n]. */
const biasFits = (bias: unknown, n: number | undefined) =>
  !bias || (bias instanceof tf.Tensor && bias.dtype === "float32" && bias.rank === 1 && bias.shape[0] === n);

/**
 * True when a fused matMul is a dense layer the fast backend's DENSE kernel takes: float32 a [m, k] x b [k, n]
 * without transposes, bias [n] or none, linear or relu.
 */
function denseKernel(a: FusedMatMulArgs): boolean {
  if (!hasFastKernel(DENSE)) return false;
  const { a: x, b: w, bias } = a;
  if (!(x instanceof tf.Tensor) || !(w instanceof tf.Tensor) || x.rank !== 2 || w.rank !== 2) return false;
  if (
    a.transposeA || a.transposeB || a.preluActivationWeights || x.dtype !== "float32" || w.dtype !== "float32"
  ) {
    return false;
  }
  if (!["linear", "relu", undefined].includes(a.activation) || x.shape[1] !== w.shape[0]) return false;
  return biasFits(bias, w.shape[1]);
}

/**
 * True when a fused conv2d is a layer the fast backend's CONV kernel takes: float32 x [N, H, W, C] NHWC and
 * filter [FH, FW, C, CO], no dilation, bias [CO] or none, linear or relu.
 */
function convKernel(a: FusedConvArgs): boolean {
  if (!hasFastKernel(CONV)) return false;
  const { x, filter, bias } = a;
  if (!(x instanceof tf.Tensor) || !(filter instanceof tf.Tensor) || x.rank !== 4 || filter.rank !== 4) {
    return false;
  }
  const d = a.dilations ?? 1;
  if ((Array.isArray(d) ? d.some((v) => v !== 1) : d !== 1) || (a.dataFormat ?? "NHWC") !== "NHWC") {
    return false;
  }
  if (a.preluActivationWeights || x.dtype !== "float32" || filter.dtype !== "float32") return false;
  if (!["linear", "relu", undefined].includes(a.activation) || x.shape[3] !== filter.shape[2]) return false;
  return biasFits(bias, filter.shape[3]);
}

/** True inside a gradient tape (tf.grad, minimize): where tfjs's fused ops record a customGrad. */
const taping = () => (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;

/**
 * Wraps tf.fused.conv2d and tf.fused.matMul (the ops tfjs-layers' Conv2D and Dense call). Under a gradient tape
 * tfjs keeps them fused when the activation is linear (the conv + batch-norm units of resnet_small and
 * densenet_small, every model's logits layer), and the fused op's gradient computes the gradient of every
 * input at once: an input gradient (PGD) then pays for all weight gradients too (measured: 35% of resnet_small's
 * input-gradient step in Conv2DBackpropFilter). Those cases run as the plain op plus a bias add, as tfjs itself
 * does for non-linear activations under a tape; their registered gradients are evaluated only for the inputs
 * a gradient is asked for. Same values; other cases go to tfjs's fused op.
 */
function unfuseLinearUnderTape(): void {
  tfjsFused ??= { conv2d: tf.fused.conv2d, matMul: tf.fused.matMul };
  const own = tfjsFused;
  const linear = (a: { activation?: string; preluActivationWeights?: unknown }) =>
    (a.activation ?? "linear") === "linear" && !a.preluActivationWeights;
  const fused = tf.fused as { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul };
  fused.conv2d = (<T extends tf.Tensor3D | tf.Tensor4D>(a: FusedConvArgs): T => {
    if (taping() && convKernel(a)) {
      const inputs = a.bias ? { x: a.x, filter: a.filter, bias: a.bias } : { x: a.x, filter: a.filter };
      const attrs = {
        strides: a.strides,
        pad: a.pad,
        dataFormat: "NHWC",
        dilations: [1, 1],
        dimRoundingMode: a.dimRoundingMode,
        activation: a.activation ?? "linear",
      };
      return tf.engine().runKernel(
        CONV,
        inputs as unknown as tf.NamedTensorMap,
        attrs as unknown as tf.NamedAttrMap,
      ) as T;
    }
    if (!taping() || !linear(a) || (a.dataFormat ?? "NHWC") !== "NHWC") return own.conv2d(a) as T;
    const y = tf.conv2d(a.x, a.filter, a.strides, a.pad, "NHWC", a.dilations, a.dimRoundingMode);
    return (a.bias ? tf.add(y, a.bias) : y) as T;
  }) as typeof tf.fused.conv2d;
  fused.matMul = (a: FusedMatMulArgs) => {
    if (taping() && denseKernel(a)) {
      const inputs = a.bias ? { a: a.a, b: a.b, bias: a.bias } : { a: a.a, b: a.b };
      const attrs = { transposeA: false, transposeB: false, activation: a.activation ?? "linear" };
      return tf.engine().runKernel(DENSE, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
    }
    if (!taping() || !linear(a)) return own.matMul(a);
    const y = tf.matMul(a.a, a.b, a.transposeA, a.transposeB);
    return a.bias ? tf.add(y, a.bias) : y;
  };
}

/** tfjs's own moments, taken before ours wraps it. */
let tfjsMoments: typeof tf.moments | undefined;

/** tfjs's moments (before registerFastGradients wraps it); for comparison in tests. */
export function tfjsMomentsOp(): typeof tf.moments {
  return tfjsMoments ?? (tfc as unknown as { moments: typeof tf.moments }).moments;
}

/** x [.., C] -> [2, C] (mean; biased variance over all but the last axis) with its one-kernel gradient. */
const fusedMoments = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor, save = args[1] as tf.GradSaveFunc;
  const mv = tf.engine().runKernel(MOMENTS, { x }) as tf.Tensor;
  save([x, mv]);
  return {
    value: mv,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel(MOMENTS_GRAD, { x: saved[0], mv: saved[1], dy }) as tf.Tensor,
  };
});

/**
 * Wraps tf.moments as tfjs-layers' batch norm calls it in training mode (over all but the last axis, float32,
 * on the fast backend): one native pass for the mean and one for the variance, and a one-pass gradient, where
 * tfjs runs Mean, Sub, Square, Mean forward and about five whole-activation ops backward. Other calls go to
 * tfjs's moments. Only tfjs-core's exports object is changed: code calling tf.moments from "@tensorflow/tfjs"
 * directly keeps tfjs's (that namespace is a snapshot).
 */
function wrapMoments(): void {
  const core = tfc as unknown as { moments: typeof tf.moments };
  tfjsMoments ??= core.moments;
  const own = tfjsMoments;
  core.moments = ((x: tf.Tensor | tf.TensorLike, axis?: number | number[], keepDims = false) => {
    if (
      !(x instanceof tf.Tensor) || x.dtype !== "float32" || x.rank < 2 || x.size === 0 ||
      !hasFastKernel(MOMENTS)
    ) return own(x, axis, keepDims);
    const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape).sort((a, b) => a - b);
    if (axes.length !== x.rank - 1 || !axes.every((a, i) => a === i)) return own(x, axis, keepDims);
    const shape = keepDims ? [...axes.map(() => 1), x.shape[x.rank - 1]] : [x.shape[x.rank - 1]];
    return tf.tidy(() => {
      const [mean, variance] = tf.unstack(fusedMoments(x));
      return { mean: tf.reshape(mean, shape), variance: tf.reshape(variance, shape) };
    });
  }) as typeof tf.moments;
}

type SoftmaxCE = typeof tf.losses.softmaxCrossEntropy;
/** tfjs's softmaxCrossEntropy, taken before ours wraps it. */
let tfjsSoftmaxCE: SoftmaxCE | undefined;

/** tfjs's tf.losses.softmaxCrossEntropy (before registerFastGradients wraps it); for comparison in tests. */
export function tfjsSoftmaxCEOp(): SoftmaxCE {
  return tfjsSoftmaxCE ?? tf.losses.softmaxCrossEntropy;
}

/**
 * Wraps tf.losses.softmaxCrossEntropy (one object shared by tfjs-core and @tensorflow/tfjs) for the calls of
 * this project, on the fast backend: logits [N, K] float32, labels of the same shape, no weights, no label
 * smoothing, reduction NONE or the mean (MEAN, or the default SUM_BY_NONZERO_WEIGHTS, which is the mean without
 * weights). Those run as one native kernel forward and one backward, where tfjs's runs about 12 and 10
 * (logSumExp, the log-softmax products, the reduction, and their gradients). Values agree to float rounding
 * (ours accumulates in double). Other calls go to tfjs's.
 */
function wrapSoftmaxCE(): void {
  tfjsSoftmaxCE ??= tf.losses.softmaxCrossEntropy;
  const own = tfjsSoftmaxCE;
  const R = tf.Reduction;
  (tf.losses as { softmaxCrossEntropy: SoftmaxCE }).softmaxCrossEntropy = ((
    labels: tf.Tensor | tf.TensorLike,
    logits: tf.Tensor | tf.TensorLike,
    weights?: tf.Tensor | tf.TensorLike,
    labelSmoothing = 0,
    reduction = R.SUM_BY_NONZERO_WEIGHTS,
  ) => {
    if (
      !(labels instanceof tf.Tensor) || !(logits instanceof tf.Tensor) || weights != null ||
      labelSmoothing !== 0 ||
      ![R.NONE, R.MEAN, R.SUM_BY_NONZERO_WEIGHTS].includes(reduction) || logits.dtype !== "float32" ||
      logits.rank !== 2 || logits.size === 0 || !tf.util.arraysEqual(labels.shape, logits.shape) ||
      !hasFastKernel(SOFTMAX_CE)
    ) return own(labels, logits, weights, labelSmoothing, reduction);
    return tf.tidy(() => {
      const p = labels.dtype === "float32" ? labels : tf.cast(labels, "float32");
      return tf.engine().runKernel(SOFTMAX_CE, { labels: p, logits }, {
        mean: reduction !== R.NONE,
      }) as tf.Tensor;
    });
  }) as SoftmaxCE;
}

/** dy taken back through the activation of a FastDense / FastConv kernel whose output was y. */
const throughActivation = (activation: string, dy: tf.Tensor, y: tf.Tensor) =>
  activation === "relu" ? tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor : dy;

/** Registers the Sum, Mean and FusedBatchNorm gradients, the unfused linear ops and moments (every backend). */
export function registerFastGradients(): void {
  unfuseLinearUnderTape();
  wrapMoments();
  wrapSoftmaxCE();
  tf.registerGradient({
    kernelName: CONV,
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const a = attrs as { strides: number; pad: "same"; dimRoundingMode?: "round"; activation: string };
      const dz = throughActivation(a.activation, dy as tf.Tensor, y);
      const conv = {
        strides: a.strides,
        pad: a.pad,
        dataFormat: "NHWC",
        dimRoundingMode: a.dimRoundingMode,
      } as unknown as tf.NamedAttrMap;
      return {
        x: () =>
          tf.engine().runKernel("Conv2DBackpropInput", { dy: dz, filter }, {
            ...conv,
            inputShape: x.shape,
          }) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: dz }, {
            ...conv,
            filterShape: filter.shape,
          }) as tf.Tensor,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
  tf.registerGradient({
    kernelName: AFFINE_RELU,
    inputsToSave: ["x", "scale"],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [x, scale, y] = saved;
      const dz = throughActivation("relu", dy as tf.Tensor, y);
      const leading = x.shape.slice(0, -1).map((_, i) => i);
      return {
        x: () => tf.mul(dz, scale),
        scale: () => tf.sum(tf.mul(dz, x), leading),
        shift: () => tf.sum(dz, leading),
      };
    },
  });
  tf.registerGradient({
    kernelName: DENSE,
    inputsToSave: ["a", "b"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, y] = saved;
      const dz = throughActivation((attrs as { activation: string }).activation, dy as tf.Tensor, y);
      return {
        a: () => tf.matMul(dz, b, false, true),
        b: () => tf.matMul(a, dz, true, false),
        bias: () => tf.sum(dz, 0),
      };
    },
  });
  tf.registerGradient({
    kernelName: SOFTMAX_CE,
    inputsToSave: ["labels", "logits"],
    gradFunc: (dy, saved, attrs) => {
      const [labels, logits] = saved, mean = (attrs as { mean: boolean }).mean;
      const d = dy as tf.Tensor;
      return {
        logits: () =>
          tf.engine().runKernel(SOFTMAX_CE_GRAD, { dy: d, labels, logits }, { mean }) as tf.Tensor,
        // tfjs's labels gradient, dy (labels - softmax(logits)); evaluated only when asked for
        labels: () =>
          tf.mul(
            mean ? tf.div(d, logits.shape[0]) : tf.reshape(d, [-1, 1]),
            tf.sub(labels, tf.softmax(logits)),
          ),
      };
    },
  });
  tfjsBatchNormGrad ??= tf.getGradient("FusedBatchNorm");
  const fallback = tfjsBatchNormGrad;
  if (fallback) {
    tf.registerGradient({
      kernelName: "FusedBatchNorm",
      inputsToSave: ["x", "mean", "variance", "scale"],
      gradFunc: (dy, saved, attrs) => {
        const [x, mean, variance, scale] = saved;
        if (!fastBatchNormGrad(x, mean, variance, scale)) return fallback.gradFunc(dy, saved, attrs);
        // one kernel gives all five gradients; tfjs calls each closure in its own tidy, so run it here
        const g = tf.engine().runKernel(
          BATCH_NORM_GRAD,
          scale
            ? { dy: dy as tf.Tensor, x, mean, variance, scale }
            : { dy: dy as tf.Tensor, x, mean, variance },
          { varianceEpsilon: (attrs as { varianceEpsilon: number }).varianceEpsilon },
        ) as tf.Tensor[];
        return {
          x: () => g[0],
          mean: () => g[1],
          variance: () => g[2],
          scale: () => g[3],
          offset: () => g[4],
        };
      },
    });
  }
  tf.registerGradient({
    kernelName: "Sum",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return { x: () => broadcastBack(dy as tf.Tensor, x, (attrs as { axis: number | number[] }).axis) };
    },
  });
  tf.registerGradient({
    kernelName: "Mean",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axis = (attrs as { axis: number | number[] }).axis;
      const reduced = tf.util.parseAxisParam(axis, x.shape).reduce((n, a) => n * x.shape[a], 1);
      return { x: () => broadcastBack(tf.div(dy as tf.Tensor, reduced), x, axis) }; // divide before broadcasting
    },
  });
}
