// Fused ops that the library loops (lib/core/attacks.ts) call when the fast backend has them: one native kernel where
// tfjs would run a chain of small elementwise and reduction kernels.
import * as tf from "@tensorflow/tfjs";
import { AFFINE_RELU, hasFastKernel, L2_STEP } from "./kernels.ts";

/**
 * pgd()'s L2 step as one kernel: clip(x + project(delta + stepSize g / ||g||), 0, 1) - x, with ||.|| per example
 * (+ 1e-12) and the projection onto the eps-ball (eps Infinity: none), the formula of lib/core/attacks.ts's l2 threat
 * model to float rounding (norms accumulated in double). Null when the fast backend's kernel is not there or the
 * tensors are not float32 of one shape [batch, ...]; the caller then runs its own ops.
 */
export function l2StepProjectClip(
  x: tf.Tensor,
  delta: tf.Tensor,
  g: tf.Tensor,
  stepSize: number,
  eps: number,
): tf.Tensor | null {
  if (!hasFastKernel(L2_STEP) || x.rank < 2 || x.size === 0) return null;
  const same = (t: tf.Tensor) => t.dtype === "float32" && tf.util.arraysEqual(t.shape, x.shape);
  if (!same(x) || !same(delta) || !same(g)) return null;
  return tf.engine().runKernel(L2_STEP, { x, delta, g }, { stepSize, eps }) as tf.Tensor;
}

/**
 * relu(x * scale + shift) with scale and shift [C] along x's last axis, as one kernel (an inference-mode batch
 * norm and its ReLU: lib/core/inference.ts). Differentiable in all three. Null when the fast backend's kernel is not
 * there or the shapes or dtypes do not fit; the caller then runs its own ops.
 */
export function affineRelu(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor): tf.Tensor | null {
  if (!hasFastKernel(AFFINE_RELU) || x.rank < 1 || x.size === 0) return null;
  const c = x.shape[x.rank - 1];
  const fits = (t: tf.Tensor) => t.dtype === "float32" && t.rank === 1 && t.shape[0] === c;
  if (x.dtype !== "float32" || !fits(scale) || !fits(shift)) return null;
  return tf.engine().runKernel(AFFINE_RELU, { x, scale, shift }) as tf.Tensor;
}
