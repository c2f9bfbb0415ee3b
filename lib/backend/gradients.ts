// Replacements for tfjs's Sum, Mean and FusedBatchNorm gradients with the same values. tfjs builds the Sum and
// Mean ones as dy * ones(x.shape), filling the ones in a JavaScript loop on every backward pass (about 15% of a
// resnet_small training step, growing as V8 gives up optimizing that loop); a broadcast needs no such array.
// The batch-norm gradient runs as one native kernel on the fast backend, and as tfjs's own elsewhere.
import * as tf from "@tensorflow/tfjs";
import { BATCH_NORM_GRAD } from "./kernels.ts";

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
  if (tf.getBackend() !== "wasm" || !tf.getKernel(BATCH_NORM_GRAD, "wasm") || x.rank !== 4) return false;
  const c = x.shape[3];
  const perChannel = (t: tf.Tensor) => t.rank === 1 && t.shape[0] === c && t.dtype === "float32";
  return x.dtype === "float32" && perChannel(mean) && perChannel(variance) && (!scale || perChannel(scale));
}

/** Registers the Sum, Mean and FusedBatchNorm gradients (for every backend). */
export function registerFastGradients(): void {
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
