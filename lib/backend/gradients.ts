// Replacements for tfjs's Sum and Mean gradients with the same values: tfjs builds them as dy * ones(x.shape),
// filling the ones in a JavaScript loop on every backward pass (about 15% of a resnet_small training step,
// growing as V8 gives up optimizing that loop); a broadcast (the Tile kernel) needs no such array.
import * as tf from "@tensorflow/tfjs";

/** dy reshaped to x's rank (reduced axes of size 1) and broadcast to x's shape. */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const expanded = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis, x.shape)) expanded[a] = 1;
  return tf.broadcastTo(tf.reshape(dy, expanded), x.shape);
}

/** Registers the Sum and Mean gradients (for every backend: they are backend-independent ops). */
export function registerFastGradients(): void {
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
      return { x: () => tf.div(broadcastBack(dy as tf.Tensor, x, axis), reduced) };
    },
  });
}
