// Architecture zoo (28x28x1 and 32x32x3): every model gives logits and its representation g (eq. 5).
import * as tf from "@tensorflow/tfjs";
import { suggest } from "../util/names.ts";
import { deriveSeed } from "../util/rng.ts";
import { compileInference } from "./inference.ts";

/** A zoo model: one set of weights, two views (logits and the penultimate representation). */
export interface ZooModel {
  arch: string;
  /** Maps [batch, h, w, c] images in [0,1] to logits [batch, numClasses]. */
  model: tf.LayersModel;
  /** Maps images to the representation [batch, repDim] (input of the last linear layer). */
  rep: tf.LayersModel;
  /** Logits [batch, numClasses]; `training` switches batch norm to batch statistics (and updates them). */
  logits(x: tf.Tensor4D, training?: boolean): tf.Tensor2D;
  /** Representation g(x) [batch, repDim]. */
  representation(x: tf.Tensor4D): tf.Tensor2D;
}

/** Options of createModel. */
export interface ModelOptions {
  /** [h, w, c] of one input image. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Seed of the weight initializers. */
  seed: number;
  /** Weight initialization scheme (INITS; default "torch"). */
  init?: string;
}

/**
 * Weight initialization schemes by name. "torch": PyTorch's defaults for Conv2d and Linear (the authors'
 * framework): weights and biases uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)). "he": He normal
 * weights for ReLU layers, Glorot uniform for the logits, zero biases (the zoo's scheme before; its fresh models
 * learn far less robustness from D_R: docs/exploration.md).
 */
export const INITS = ["torch", "he"] as const;

/** The kernel and bias initializers of a layer with `fanIn` inputs per unit under scheme `init`. */
function initializers(init: string, fanIn: number, seed: number, relu: boolean) {
  if (init === "torch") {
    const b = 1 / Math.sqrt(fanIn);
    return {
      kernelInitializer: tf.initializers.randomUniform({ minval: -b, maxval: b, seed }),
      biasInitializer: tf.initializers.randomUniform({ minval: -b, maxval: b, seed: seed + 1 }),
    };
  }
  if (init === "he") {
    return {
      kernelInitializer: relu ? tf.initializers.heNormal({ seed }) : tf.initializers.glorotUniform({ seed }),
      biasInitializer: tf.initializers.zeros(),
    };
  }
  throw new RangeError(`unknown weight initialization "${init}"; accepted: ${INITS.join(", ")}`);
}

type Builder = (x: tf.SymbolicTensor, L: LayerFactory) => tf.SymbolicTensor;

/** Layer constructors with seeded initializers and unique names (so weights are deterministic per seed). */
class LayerFactory {
  #i = 0;
  constructor(readonly seed: number, readonly init = "torch") {}
  #next(kind: string): { name: string; seed: number } {
    const i = this.#i++;
    return { name: `${kind}_${i}`, seed: deriveSeed(this.seed, `${kind}_${i}`) };
  }
  conv(
    x: tf.SymbolicTensor,
    filters: number,
    k: number,
    opts: { s?: number; act?: "relu" | "linear"; bias?: boolean; pad?: "same" | "valid" } = {},
  ) {
    const { name, seed } = this.#next("conv");
    const fanIn = k * k * (x.shape[3] as number);
    return tf.layers.conv2d({
      name,
      filters,
      kernelSize: k,
      strides: opts.s ?? 1,
      padding: opts.pad ?? "same",
      activation: opts.act ?? "relu",
      useBias: opts.bias ?? true,
      ...initializers(this.init, fanIn, seed, true),
    }).apply(x) as tf.SymbolicTensor;
  }
  dense(x: tf.SymbolicTensor, units: number, act: "relu" | "linear" = "relu") {
    const { name, seed } = this.#next("dense");
    return tf.layers.dense({
      name,
      units,
      activation: act,
      ...initializers(this.init, x.shape[x.shape.length - 1] as number, seed, act === "relu"),
    }).apply(x) as tf.SymbolicTensor;
  }
  bn(x: tf.SymbolicTensor) {
    return tf.layers.batchNormalization({ name: this.#next("bn").name, momentum: 0.9, epsilon: 1e-5 }).apply(
      x,
    ) as tf.SymbolicTensor;
  }
  relu(x: tf.SymbolicTensor) {
    return tf.layers.reLU({ name: this.#next("relu").name }).apply(x) as tf.SymbolicTensor;
  }
  add(a: tf.SymbolicTensor, b: tf.SymbolicTensor) {
    return tf.layers.add({ name: this.#next("add").name }).apply([a, b]) as tf.SymbolicTensor;
  }
  concat(a: tf.SymbolicTensor, b: tf.SymbolicTensor) {
    return tf.layers.concatenate({ name: this.#next("concat").name }).apply([a, b]) as tf.SymbolicTensor;
  }
  maxPool(x: tf.SymbolicTensor, size = 2) {
    return tf.layers.maxPooling2d({ name: this.#next("pool").name, poolSize: size, strides: size }).apply(
      x,
    ) as tf.SymbolicTensor;
  }
  avgPool(x: tf.SymbolicTensor, size = 2) {
    return tf.layers.averagePooling2d({ name: this.#next("avgpool").name, poolSize: size, strides: size })
      .apply(x) as tf.SymbolicTensor;
  }
  gap(x: tf.SymbolicTensor) {
    return tf.layers.globalAveragePooling2d({ name: this.#next("gap").name }).apply(x) as tf.SymbolicTensor;
  }
  flatten(x: tf.SymbolicTensor) {
    return tf.layers.flatten({ name: this.#next("flatten").name }).apply(x) as tf.SymbolicTensor;
  }
  /** conv + BN (+ relu) without bias, the ResNet unit. */
  convBn(x: tf.SymbolicTensor, filters: number, k: number, s = 1, relu = true) {
    const y = this.bn(this.conv(x, filters, k, { s, act: "linear", bias: false }));
    return relu ? this.relu(y) : y;
  }
}

function basicBlock(
  L: LayerFactory,
  x: tf.SymbolicTensor,
  filters: number,
  stride: number,
): tf.SymbolicTensor {
  const inC = x.shape[3] as number;
  const y = L.convBn(L.convBn(x, filters, 3, stride), filters, 3, 1, false);
  const short = stride !== 1 || inC !== filters ? L.convBn(x, filters, 1, stride, false) : x;
  return L.relu(L.add(y, short));
}

function bottleneck(
  L: LayerFactory,
  x: tf.SymbolicTensor,
  filters: number,
  stride: number,
): tf.SymbolicTensor {
  const inC = x.shape[3] as number, out = filters * 4;
  const y = L.convBn(L.convBn(L.convBn(x, filters, 1), filters, 3, stride), out, 1, 1, false);
  const short = stride !== 1 || inC !== out ? L.convBn(x, out, 1, stride, false) : x;
  return L.relu(L.add(y, short));
}

/** ResNet body (3x3 stem, no max-pool, as in the authors' CIFAR library), representation = global average pool. */
function resnet(widths: number[], blocks: number[], block: typeof basicBlock): Builder {
  return (x, L) => {
    let h = L.convBn(x, widths[0], 3);
    widths.forEach((w, stage) => {
      for (let b = 0; b < blocks[stage]; b++) h = block(L, h, w, b === 0 && stage > 0 ? 2 : 1);
    });
    return L.gap(h);
  };
}

function denseBlock(
  L: LayerFactory,
  x: tf.SymbolicTensor,
  layers: number,
  growth: number,
): tf.SymbolicTensor {
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = L.concat(h, L.conv(L.relu(L.bn(h)), growth, 3, { act: "linear", bias: false }));
  }
  return h;
}

const BUILDERS: Record<string, Builder> = {
  mlp: (x, L) => L.dense(L.dense(L.flatten(x), 256), 256),
  lenet: (x, L) => {
    const h = L.maxPool(L.conv(L.maxPool(L.conv(x, 6, 5)), 16, 5, { pad: "valid" }));
    return L.dense(L.dense(L.flatten(h), 120), 84);
  },
  cnn: (x, L) => L.dense(L.flatten(L.conv(L.conv(L.conv(x, 32, 3), 64, 3, { s: 2 }), 64, 3, { s: 2 })), 128),
  vgg_small: (x, L) => {
    const h = L.maxPool(L.conv(L.conv(L.maxPool(L.conv(L.conv(x, 32, 3), 32, 3)), 64, 3), 64, 3));
    return L.dense(L.flatten(h), 256);
  },
  resnet_small: resnet([16, 32, 64], [1, 1, 1], basicBlock),
  densenet_small: (x, L) => {
    let h = L.conv(x, 24, 3, { act: "linear", bias: false });
    h = denseBlock(L, h, 3, 12);
    h = L.avgPool(L.conv(L.relu(L.bn(h)), 48, 1, { act: "linear", bias: false }));
    h = denseBlock(L, h, 3, 12);
    return L.gap(L.relu(L.bn(h)));
  },
  resnet18: resnet([64, 128, 256, 512], [2, 2, 2, 2], basicBlock),
  resnet50: resnet([64, 128, 256, 512], [3, 4, 6, 3], bottleneck),
  vgg16: (x, L) => {
    let h = x;
    for (const [n, w] of [[2, 64], [2, 128], [3, 256], [3, 512], [3, 512]]) {
      for (let i = 0; i < n; i++) h = L.bn(L.conv(h, w, 3));
      h = L.maxPool(h);
    }
    return L.flatten(h);
  },
};

/** Names of every architecture in the zoo. */
export const ARCHITECTURES = Object.keys(BUILDERS);
/** Architectures small enough for 28x28 Fashion-MNIST runs on a CPU (used by the quick presets). */
export const SMALL_ARCHITECTURES = ["mlp", "lenet", "cnn", "vgg_small", "resnet_small", "densenet_small"];

/** Throws a RangeError listing the choices when `arch` is not in the zoo. */
export function checkArch(arch: string): void {
  if (!BUILDERS[arch]) {
    throw new RangeError(
      `unknown architecture "${arch}"; accepted: ${ARCHITECTURES.join(", ")}${suggest(arch, ARCHITECTURES)}`,
    );
  }
}

/** Builds a zoo model with deterministic initial weights for `seed`. */
export function createModel(arch: string, opts: ModelOptions): ZooModel {
  checkArch(arch);
  const [h, w, c] = opts.inputShape;
  if (arch === "lenet" && (h < 16 || w < 16)) {
    throw new RangeError(`lenet needs inputs of at least 16x16, got ${h}x${w}`);
  }
  const L = new LayerFactory(opts.seed, opts.init ?? "torch");
  const input = tf.input({ shape: [h, w, c], name: "image" });
  const rep = BUILDERS[arch](input, L);
  const logits = L.dense(rep, opts.numClasses, "linear");
  const model = tf.model({ inputs: input, outputs: logits, name: arch });
  const repModel = tf.model({ inputs: input, outputs: rep, name: `${arch}_rep` });
  return wrap(arch, model, repModel);
}

/**
 * Wraps a logits model and a representation model that share weights into a ZooModel. Outside training, both
 * run as compiled inference passes (lib/core/inference.ts: conv + batch norm folded) when every layer is one it
 * knows, else through model.apply; `compile: false` always uses model.apply.
 */
export function wrap(
  arch: string,
  model: tf.LayersModel,
  rep: tf.LayersModel,
  opts: { compile?: boolean } = {},
): ZooModel {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const compile = opts.compile ?? true;
  const inferLogits = compile ? compileInference(model) : null,
    inferRep = compile ? compileInference(rep) : null;
  const check = (x: tf.Tensor) => {
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new RangeError(`${arch} expects images [batch, ${h}, ${w}, ${c}], got [${x.shape}]`);
    }
  };
  return {
    arch,
    model,
    rep,
    logits(x, training = false) {
      check(x);
      return (!training && inferLogits ? inferLogits(x) : model.apply(x, { training })) as tf.Tensor2D;
    },
    representation(x) {
      check(x);
      return (inferRep ? inferRep(x) : rep.apply(x, { training: false })) as tf.Tensor2D;
    },
  };
}

/** Number of trainable parameters. */
export function countParams(m: ZooModel): number {
  return m.model.trainableWeights.reduce((a, w) => a + (w.shape as number[]).reduce((p, d) => p * d, 1), 0);
}

/**
 * The representation's pre-activation h (g = relu(h)) when g ends in a dense layer with a ReLU (mlp, lenet,
 * cnn, vgg_small), else null. h [batch, repDim] is differentiable in x.
 */
export function representationPreActivation(m: ZooModel): ((x: tf.Tensor4D) => tf.Tensor2D) | null {
  const last = m.rep.layers[m.rep.layers.length - 1];
  const cfg = last.getConfig() as { activation?: string };
  if (last.getClassName() !== "Dense" || cfg.activation !== "relu") return null;
  const inner = tf.model({ inputs: m.rep.inputs, outputs: last.input as tf.SymbolicTensor });
  const w = last as unknown as { kernel: { read(): tf.Tensor2D }; bias?: { read(): tf.Tensor1D } };
  return (x) =>
    tf.tidy(() => {
      const h = (inner.apply(x, { training: false }) as tf.Tensor2D).matMul(w.kernel.read());
      return (w.bias ? h.add(w.bias.read()) : h) as tf.Tensor2D;
    });
}

/** ReLU forward, identity backward: the authors' `fake_relu`, so a unit that is off still passes a gradient. */
export const fakeRelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const h = args[0] as tf.Tensor;
  return { value: tf.relu(h), gradFunc: (dy: tf.Tensor) => dy };
}) as (h: tf.Tensor2D) => tf.Tensor2D;
