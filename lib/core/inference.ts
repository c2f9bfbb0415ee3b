// Inference-mode forward pass of a tfjs-layers model as a plan of tf ops, with each conv -> batch norm (-> relu)
// folded into one convolution and each other batch norm -> relu as one pass: model.apply(x, { training: false })
// up to float rounding.
import * as tf from "@tensorflow/tfjs";
import { affineRelu } from "../backend/fused.ts";

/** A compiled inference forward pass: images [batch, h, w, c] -> the model's one output. */
export type InferenceFn = (x: tf.Tensor4D) => tf.Tensor;

// tfjs-layers' layer internals that the plan reads (public properties of the layer classes, untyped there)
interface LayerVariable {
  read(): tf.Tensor;
}
interface LayerInternals {
  kernel?: LayerVariable;
  bias?: LayerVariable;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  movingMean?: LayerVariable;
  movingVariance?: LayerVariable;
}
interface SymbolicRef {
  id: number;
}
interface NodeRef {
  inputTensors: SymbolicRef[];
  outputTensors: SymbolicRef[];
}

type Step = { inputs: number[]; output: number; run: (xs: tf.Tensor[]) => tf.Tensor };

const weight = (layer: tf.layers.Layer, name: keyof LayerInternals): tf.Tensor | null =>
  (layer as unknown as LayerInternals)[name]?.read() ?? null;

const config = (layer: tf.layers.Layer) => layer.getConfig() as Record<string, unknown>;

/** "relu" | "linear" for the activations a fused kernel takes, else null. */
function fusedActivation(name: unknown): "relu" | "linear" | null {
  return name === "relu" || name === "linear" ? name : null;
}

/** True for the channel axis of NHWC activations as tfjs-layers configs give it (-1 or 3). */
const lastAxis = (axis: unknown) => axis === -1 || axis === 3;

const pair = (v: unknown): [number, number] => Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number];

/** The per-channel scale and shift of an inference-mode batch norm: y = x * scale + shift. */
function bnAffine(bn: tf.layers.Layer): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const eps = config(bn).epsilon as number;
  const gamma = weight(bn, "gamma"), beta = weight(bn, "beta");
  const inv = tf.rsqrt(tf.add(weight(bn, "movingVariance")!, eps));
  const scale = (gamma ? tf.mul(inv, gamma) : inv) as tf.Tensor1D;
  const shifted = tf.neg(tf.mul(weight(bn, "movingMean")!, scale));
  return { scale, shift: (beta ? tf.add(shifted, beta) : shifted) as tf.Tensor1D };
}

/** The fast path of one convolution (NHWC, no dilation), or null when the layer's config is outside it. */
function convStep(
  layer: tf.layers.Layer,
  bn: tf.layers.Layer | null,
  activation: "relu" | "linear",
): ((x: tf.Tensor) => tf.Tensor) | null {
  const c = config(layer);
  const [dh, dw] = pair(c.dilationRate ?? 1);
  if (c.dataFormat !== "channelsLast" || dh !== 1 || dw !== 1) return null;
  const strides = pair(c.strides), pad = c.padding as "same" | "valid";
  if (pad !== "same" && pad !== "valid") return null;
  return (x) => {
    let filter = weight(layer, "kernel") as tf.Tensor4D, bias = weight(layer, "bias");
    if (bn) {
      const { scale, shift } = bnAffine(bn);
      filter = tf.mul(filter, scale);
      bias = bias ? tf.add(tf.mul(bias, scale), shift) : shift;
    }
    return tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter,
      strides,
      pad,
      bias: bias ?? undefined,
      activation,
    });
  };
}

/**
 * Compiles `model` (a functional tfjs-layers model with one image input and one output) into its inference
 * forward pass, or returns null when a layer is outside the layers it knows (then call model.apply). Known:
 * Conv2D, Dense, BatchNormalization (axis -1), ReLU, Add, Concatenate (last axis), MaxPooling2D,
 * AveragePooling2D, GlobalAveragePooling2D, Flatten. A linear Conv2D whose only consumer is a batch norm is
 * folded with it (filter x scale, bias x scale + shift, computed from the weights at every call, so training
 * between calls is seen), and a ReLU that is the batch norm's only consumer becomes the convolution's fused
 * activation. Any other batch norm followed by its ReLU is relu(x * scale + shift), one kernel on the fast
 * backend (lib/backend/fused.ts).
 */
export function compileInference(model: tf.LayersModel): InferenceFn | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const nodeOf = (l: tf.layers.Layer) => {
    const nodes = (l as unknown as { inboundNodes: NodeRef[] }).inboundNodes;
    return nodes.length === 1 ? nodes[0] : null; // a layer applied twice: not handled
  };
  const layers = model.layers;
  const consumers = new Map<number, tf.layers.Layer[]>();
  for (const l of layers) {
    const n = nodeOf(l);
    if (!n) return null;
    for (const t of n.inputTensors) consumers.set(t.id, [...(consumers.get(t.id) ?? []), l]);
  }
  const only = (t: SymbolicRef, cls: string) => {
    const c = consumers.get(t.id) ?? [];
    return c.length === 1 && c[0].getClassName() === cls ? c[0] : null;
  };
  const inputId = (model.inputs[0] as unknown as SymbolicRef).id;
  const outputId = (model.outputs[0] as unknown as SymbolicRef).id;
  /** The ReLU (without a cap) that is the only reader of `t`, unless `t` is the model's output. */
  const onlyRelu = (t: SymbolicRef) => {
    const relu = t.id === outputId ? null : only(t, "ReLU");
    return relu && config(relu).maxValue == null ? relu : null;
  };
  const steps: Step[] = [];
  const folded = new Set<tf.layers.Layer>();
  for (const l of layers) {
    if (folded.has(l)) continue;
    const node = nodeOf(l)!, inputs = node.inputTensors.map((t) => t.id);
    let output = node.outputTensors[0].id;
    const c = config(l);
    let run: ((xs: tf.Tensor[]) => tf.Tensor) | null = null;
    switch (l.getClassName()) {
      case "InputLayer":
        continue;
      case "Conv2D": {
        let act = fusedActivation(c.activation);
        if (!act) return null;
        let bn: tf.layers.Layer | null = null;
        // fold only what no other step and not the model's output reads
        const next = act === "linear" && output !== outputId
          ? only(node.outputTensors[0], "BatchNormalization")
          : null;
        if (next && lastAxis(config(next).axis)) {
          bn = next;
          folded.add(bn);
          output = nodeOf(bn)!.outputTensors[0].id;
          const relu = onlyRelu(nodeOf(bn)!.outputTensors[0]);
          if (relu) {
            folded.add(relu);
            act = "relu";
            output = nodeOf(relu)!.outputTensors[0].id;
          }
        }
        const conv = convStep(l, bn, act);
        if (!conv) return null;
        run = ([x]) => conv(x);
        break;
      }
      case "Dense": {
        const act = fusedActivation(c.activation);
        if (!act || (node.inputTensors[0] as unknown as { shape: number[] }).shape.length !== 2) return null;
        run = ([x]) =>
          tf.fused.matMul({
            a: x as tf.Tensor2D,
            b: weight(l, "kernel") as tf.Tensor2D,
            bias: weight(l, "bias") ?? undefined,
            activation: act,
          });
        break;
      }
      case "BatchNormalization": {
        if (!lastAxis(c.axis)) return null;
        const eps = c.epsilon as number;
        // batch norm -> relu (a pre-activation block, as in DenseNet): one pass when the backend has the kernel
        const relu = onlyRelu(node.outputTensors[0]);
        if (relu) {
          folded.add(relu);
          output = nodeOf(relu)!.outputTensors[0].id;
          run = ([x]) => {
            const { scale, shift } = bnAffine(l);
            return affineRelu(x, scale, shift) ?? tf.relu(tf.add(tf.mul(x, scale), shift));
          };
          break;
        }
        run = ([x]) =>
          tf.batchNorm(
            x,
            weight(l, "movingMean")!,
            weight(l, "movingVariance")!,
            weight(l, "beta") ?? undefined,
            weight(l, "gamma") ?? undefined,
            eps,
          );
        break;
      }
      case "ReLU":
        if (c.maxValue != null) return null;
        run = ([x]) => tf.relu(x);
        break;
      case "Add":
        run = (xs) => xs.reduce((a, b) => tf.add(a, b)); // as tfjs-layers does (the native Add; AddN is wasm's)
        break;
      case "Concatenate":
        if (!lastAxis(c.axis)) return null;
        run = (xs) => tf.concat(xs, -1);
        break;
      case "MaxPooling2D":
      case "AveragePooling2D": {
        if (c.dataFormat !== "channelsLast") return null;
        const size = pair(c.poolSize), strides = pair(c.strides ?? c.poolSize);
        const pad = c.padding as "same" | "valid";
        const pool = l.getClassName() === "MaxPooling2D" ? tf.maxPool : tf.avgPool;
        run = ([x]) => pool(x as tf.Tensor4D, size, strides, pad);
        break;
      }
      case "GlobalAveragePooling2D":
        if (c.dataFormat !== "channelsLast") return null;
        run = ([x]) => tf.mean(x, [1, 2]);
        break;
      case "Flatten":
        if (c.dataFormat === "channelsFirst") return null; // tfjs-layers permutes first then
        run = ([x]) => tf.reshape(x, [x.shape[0], -1]);
        break;
      default:
        return null;
    }
    steps.push({ inputs, output, run });
  }
  if (!steps.some((s) => s.output === outputId)) return null;
  // each intermediate is disposed after the last step that reads it, as tfjs-layers does: kept to the end of
  // the pass (34 MB of activations for a resnet_small forward at batch 128), the pass ran 0.96-1.0x
  // model.apply's speed; disposed, 1.12x (scratch per-kernel profile, 22:34 UTC, load 2.3)
  const lastUse = new Map<number, number>();
  steps.forEach((s, i) => s.inputs.forEach((id) => lastUse.set(id, i)));
  return (x) =>
    tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[inputId, x]]);
      steps.forEach((s, i) => {
        const xs = s.inputs.map((id) => values.get(id));
        if (xs.some((t) => !t)) throw new Error(`compileInference: a step's input was not computed`);
        values.set(s.output, s.run(xs as tf.Tensor[]));
        for (const id of s.inputs) {
          if (lastUse.get(id) === i && id !== inputId && id !== outputId) {
            values.get(id)!.dispose();
            values.delete(id);
          }
        }
      });
      return values.get(outputId)!;
    });
}
