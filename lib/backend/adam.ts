// Adam whose step is one native kernel per weight tensor on the fast backend (tfjs's AdamOptimizer elsewhere):
// the same formula in the same float32 operation order, in one pass instead of 12 elementwise kernels.
import * as tf from "@tensorflow/tfjs";
import { ADAM_STEP } from "./kernels.ts";

/** The AdamOptimizer fields this class drives (public in tfjs's JavaScript, private in its typings). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/** The argument of Optimizer.applyGradients. */
type Gradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** A moment accumulator for weight `name`, zeros like it, named as tfjs's Adam names it. */
const zeroMoment = (name: string, suffix: "m" | "v", value: tf.Variable) => ({
  originalName: `${name}/${suffix}`,
  variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
});

/** tf.train.adam(learningRate) with a native step on the fast backend; identical elsewhere. */
export class FastAdam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: Gradients): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({
        name,
        tensor: tensor as tf.Tensor | null,
      }));
    const vars = tf.engine().registeredVariables;
    const native = tf.getBackend() === "wasm" && tf.getKernel(ADAM_STEP, "wasm") &&
      list.every(({ name, tensor }) =>
        vars[name].dtype === "float32" && (!tensor || tensor.dtype === "float32")
      );
    if (!native) return super.applyGradients(variableGradients);
    const s = this as unknown as AdamState;
    tf.tidy(() => {
      // 1 - beta^t as float32 tensors, as tfjs computes them
      const c1 = tf.sub(1, s.accBeta1).dataSync()[0], c2 = tf.sub(1, s.accBeta2).dataSync()[0];
      list.forEach(({ name, tensor: g }, i) => {
        const value = vars[name];
        s.accumulatedFirstMoment[i] ??= zeroMoment(name, "m", value);
        s.accumulatedSecondMoment[i] ??= zeroMoment(name, "v", value);
        if (!g) return;
        const m = s.accumulatedFirstMoment[i].variable, v = s.accumulatedSecondMoment[i].variable;
        const attrs = { beta1: s.beta1, beta2: s.beta2, c1, c2, lr: s.learningRate, eps: s.epsilon };
        const [w1, m1, v1] = tf.engine().runKernel(ADAM_STEP, { w: value, m, v, g }, attrs) as tf.Tensor[];
        m.assign(m1);
        v.assign(v1);
        value.assign(w1);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}
