// The webgpu backend: adapter classification and errors, and (on whatever adapter exists, in CI Mesa's llvmpipe)
// every zoo layer type, whole models, a training step and a PGD step agreeing with the cpu backend.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type GpuLike, initWebgpu, isSoftwareAdapter, WEBGPU_SETUP } from "../../../lib/backend/webgpu.ts";
import { adapterName } from "../../../lib/backend/webgpu.ts";
import { initBackend } from "../../../lib/backend/mod.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { createModel, type ZooModel } from "../../../lib/core/models.ts";
import { pgd } from "../../../lib/core/attacks.ts";
import { benchModel, memoryRun } from "../../../bench/bench.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose, maxRelError } from "./assert_close.ts";

/**
 * Tolerance of every comparison with the cpu backend: max |webgpu - cpu| / max |cpu| <= 1e-4, the kernel
 * contract of tests/lib/backend/assert_close.ts (float32 sums in another order; measured up to ~1e-6 here).
 */
const TOL = 1e-4;

const real = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" }) ?? null;
const NO_ADAPTER = real === null;
if (NO_ADAPTER) {
  console.warn(
    "webgpu_test: no WebGPU adapter on this machine, so the tests that run tfjs on one are skipped. " +
      "For Mesa's software adapter: apt-get install mesa-vulkan-drivers libvulkan1 (see docs/gpu.md)",
  );
}

/** A navigator.gpu stand-in whose requestAdapter() gives `adapter` (or throws it) and counts its calls. */
function fakeGpu(adapter: { info: Record<string, unknown> } | null | Error): GpuLike & { calls: number } {
  const gpu = {
    calls: 0,
    requestAdapter() {
      gpu.calls++;
      return adapter instanceof Error ? Promise.reject(adapter) : Promise.resolve(adapter);
    },
  };
  return gpu;
}

Deno.test("isSoftwareAdapter(): software rasterizers and fallback adapters are software, GPUs are not", () => {
  for (
    const description of [
      "llvmpipe (LLVM 15.0.6, 256 bits)",
      "lavapipe",
      "softpipe",
      "SwiftShader Device (Subzero)",
      "Microsoft Basic Render Driver",
    ]
  ) assert.equal(isSoftwareAdapter({ description }), true, description);
  assert.equal(isSoftwareAdapter({ description: "AMD Radeon", isFallbackAdapter: true }), true);
  assert.equal(isSoftwareAdapter({ vendor: "google", architecture: "swiftshader" }), true);
  for (
    const description of [
      "NVIDIA GeForce RTX 4090",
      "NVIDIA A100-SXM4-80GB",
      "AMD Radeon RX 7900 XTX (RADV NAVI31)",
      "Intel(R) Arc(tm) A770 Graphics (DG2)",
      "Apple M2",
    ]
  ) assert.equal(isSoftwareAdapter({ description, isFallbackAdapter: false }), false, description);
});

Deno.test("adapterName(): the description, else vendor/architecture/device, else a placeholder", () => {
  assert.equal(adapterName({ description: " Apple M2 ", vendor: "apple" }), "Apple M2");
  assert.equal(
    adapterName({ description: "", vendor: "nvidia", architecture: "ampere", device: "0" }),
    "nvidia ampere",
  );
  assert.equal(adapterName({}), "unnamed adapter");
});

Deno.test("initWebgpu(): --backend=webgpu without an adapter is a UserError that says how to get a driver", async () => {
  const err = await initWebgpu({ gpu: fakeGpu(null) }).then(() => null, (e) => e);
  assert.ok(err instanceof UserError, `got ${err}`);
  assert.match(err.message, /--backend=webgpu: no WebGPU adapter found/);
  assert.match(err.message, /Vulkan driver/);
  assert.match(err.message, /NVIDIA_DRIVER_CAPABILITIES=all or compute,utility,graphics/);
  assert.match(err.message, /apt-get install mesa-vulkan-drivers libvulkan1/);
  assert.match(err.message, /--backend=fast/);
  assert.ok(err.message.endsWith(WEBGPU_SETUP));
  const thrown = await initWebgpu({ gpu: fakeGpu(new Error("device lost")) }).then(() => null, (e) => e);
  assert.ok(thrown instanceof UserError);
  assert.match(thrown.message, /requestAdapter failed \(device lost\)/);
  const none = await initWebgpu({ gpu: null }).then(() => null, (e) => e);
  assert.ok(none instanceof UserError);
  assert.match(none.message, /has no navigator\.gpu/);
});

Deno.test("initWebgpu(): auto (hardwareOnly) skips no device, no adapter and a software adapter, saying which", async () => {
  const gpu = fakeGpu({ info: { description: "NVIDIA GeForce RTX 4090" } });
  assert.deepEqual(await initWebgpu({ hardwareOnly: true, gpu, hasGpuDevice: () => false }), {
    skipped: "webgpu (no GPU device: no /dev/dri/renderD*, /dev/nvidia0 or /dev/dxg)",
  });
  assert.equal(gpu.calls, 0, "without a GPU device node the adapter is not even probed");
  const yes = () => true;
  assert.deepEqual(await initWebgpu({ hardwareOnly: true, gpu: fakeGpu(null), hasGpuDevice: yes }), {
    skipped: "webgpu (no WebGPU adapter)",
  });
  assert.deepEqual(await initWebgpu({ hardwareOnly: true, gpu: null, hasGpuDevice: yes }), {
    skipped: "webgpu (this Deno has no navigator.gpu)",
  });
  const soft = fakeGpu({
    info: { description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true },
  });
  assert.deepEqual(await initWebgpu({ hardwareOnly: true, gpu: soft, hasGpuDevice: yes }), {
    skipped:
      'webgpu (software adapter "llvmpipe (LLVM 15.0.6, 256 bits)"; for the GPU\'s own, see docs/gpu.md)',
  });
  const fallback = fakeGpu({ info: { description: "Some GPU", isFallbackAdapter: true } });
  assert.match(
    (await initWebgpu({ hardwareOnly: true, gpu: fallback, hasGpuDevice: yes }) as { skipped: string })
      .skipped,
    /software adapter "Some GPU"/,
  );
});

Deno.test({
  name: "initWebgpu(): auto on this machine's real adapter skips it exactly when it is a software one",
  ignore: NO_ADAPTER,
  fn: async () => {
    const r = await initWebgpu({ hardwareOnly: true, hasGpuDevice: () => true });
    const soft = isSoftwareAdapter(real!.info as unknown as Record<string, unknown>);
    if (soft) {
      assert.deepEqual(r, {
        skipped: `webgpu (software adapter "${adapterName(real!.info)}"; for the GPU's own, see docs/gpu.md)`,
      });
    } else assert.equal((r as { isSoftware: boolean }).isSoftware, false);
  },
});

// ---- tfjs on the adapter: everything below compares webgpu with the cpu backend ----

if (!NO_ADAPTER) {
  const info = await initBackend("webgpu", { quiet: true });
  assert.equal(info.name, "webgpu");
}

/** Seeded normal values (positive in [0.5, 1.5) when `positive`). */
function rand(shape: number[], seed: number, positive = false): Float32Array {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => positive ? 0.5 + rng.next() : rng.normal());
}

/** Runs `f` with `backend` active and returns what it read; asserts it left no tensor behind. */
async function on<T>(backend: string, f: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const r = await f();
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return r;
}

/** Every named array of `a` close to the one of `b`; returns the largest relative error. */
function compare(what: string, ref: Record<string, Float32Array>, got: Record<string, Float32Array>): number {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(ref).sort(), `${what}: the same outputs`);
  let worst = 0;
  for (const k of Object.keys(ref)) {
    assertClose(ref[k], got[k], `${what}: ${k}`, TOL);
    worst = Math.max(worst, maxRelError(ref[k], got[k]));
  }
  return worst;
}

/** Sets every weight of `model` from seeded values (batch-norm variances and scales positive). */
function seedWeights(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => {
    const positive = /moving_variance|gamma/.test(w.originalName);
    const v = rand(w.shape as number[], seed + i, positive).map((x) => positive ? x : 0.5 * x);
    tf.tidy(() => void w.write(tf.tensor(v, w.shape as number[])));
  });
}

/**
 * Adds `loss` and its gradient with respect to each trainable weight of `model` to `res`, keyed by the weight's
 * position and layer-local name (variable names differ between two builds of the same model).
 */
async function weightGrads(model: tf.LayersModel, f: () => tf.Scalar, res: Record<string, Float32Array>) {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (!vars.length) {
    const v = tf.tidy(f);
    res.loss = await v.data() as Float32Array;
    return v.dispose();
  }
  const { value, grads } = tf.variableGrads(f, vars);
  res.loss = await value.data() as Float32Array;
  for (const [i, v] of vars.entries()) {
    const name = model.trainableWeights[i].originalName.split("/").pop();
    res[`d/dweight${i} (${name})`] = await grads[v.name].data() as Float32Array;
  }
  tf.dispose([value, ...Object.values(grads)]);
}

/**
 * One layer case on the active backend: output, and gradients of sum(output * R) for a fixed random R with
 * respect to the input and every trainable weight, read with `await data()`.
 */
async function layerCase(
  build: (x: tf.SymbolicTensor) => tf.SymbolicTensor,
  inShape: number[],
  training: boolean,
): Promise<Record<string, Float32Array>> {
  const input = tf.input({ shape: inShape.slice(1) });
  const model = tf.model({ inputs: input, outputs: build(input) });
  seedWeights(model, 11);
  const x = tf.tensor(rand(inShape, 5), inShape);
  const outShape = [inShape[0], ...(model.outputs[0].shape.slice(1) as number[])];
  const r = tf.tensor(rand(outShape, 7), outShape);
  const loss = (xx: tf.Tensor) => tf.sum(tf.mul(model.apply(xx, { training }) as tf.Tensor, r)) as tf.Scalar;
  const out = tf.tidy(() => model.apply(x, { training }) as tf.Tensor);
  const dx = tf.tidy(() => tf.grad(loss)(x));
  const res: Record<string, Float32Array> = {
    output: await out.data() as Float32Array,
    "d/dinput": await dx.data() as Float32Array,
  };
  await weightGrads(model, () => loss(x), res);
  tf.dispose([x, r, out, dx]);
  model.dispose();
  return res;
}

/** A layer case: a small graph of the zoo's layer types (lib/core/models.ts LayerFactory) on an input shape. */
interface LayerCase {
  name: string;
  build: (x: tf.SymbolicTensor) => tf.SymbolicTensor;
  shape: number[];
  /** Batch norm: batch statistics (training) or moving ones. */
  training?: boolean;
}
/** What a layer case needs of a layer. */
type Layer = {
  apply(x: tf.SymbolicTensor): tf.SymbolicTensor | tf.SymbolicTensor[] | tf.Tensor | tf.Tensor[];
};
/** A case of one layer, made afresh for each backend. */
const one = (make: () => Layer) => (x: tf.SymbolicTensor) => make().apply(x) as tf.SymbolicTensor;
const conv = (filters: number, k: number, s: number, pad: "same" | "valid", act = "relu", useBias = true) =>
  tf.layers.conv2d({ filters, kernelSize: k, strides: s, padding: pad, activation: act as "relu", useBias });
const bn = () => tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
const LAYER_CASES: LayerCase[] = [
  {
    name: "conv 3x3 stride 1 same + bias + relu",
    build: one(() => conv(4, 3, 1, "same")),
    shape: [2, 6, 6, 3],
  },
  { name: "conv 3x3 stride 2 same", build: one(() => conv(4, 3, 2, "same")), shape: [2, 7, 7, 3] },
  { name: "conv 3x3 stride 1 valid", build: one(() => conv(4, 3, 1, "valid")), shape: [2, 6, 6, 3] },
  { name: "conv 3x3 stride 2 valid", build: one(() => conv(4, 3, 2, "valid")), shape: [2, 7, 7, 3] },
  { name: "conv 5x5 same (lenet)", build: one(() => conv(4, 5, 1, "same")), shape: [2, 6, 6, 1] },
  { name: "conv 5x5 valid (lenet)", build: one(() => conv(4, 5, 1, "valid")), shape: [2, 8, 8, 1] },
  {
    name: "conv 1x1 stride 2, no bias, linear (resnet shortcut)",
    build: one(() => conv(8, 1, 2, "same", "linear", false)),
    shape: [2, 6, 6, 4],
  },
  {
    name: "flatten + dense relu + dense linear",
    build: (x) =>
      tf.layers.dense({ units: 5 }).apply(
        tf.layers.dense({ units: 8, activation: "relu" }).apply(tf.layers.flatten().apply(x)),
      ) as tf.SymbolicTensor,
    shape: [2, 4, 4, 2],
  },
  {
    name: "max pool 2x2",
    build: one(() => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 })),
    shape: [2, 6, 6, 3],
  },
  {
    name: "average pool 2x2",
    build: one(() => tf.layers.averagePooling2d({ poolSize: 2, strides: 2 })),
    shape: [2, 6, 6, 3],
  },
  {
    name: "global average pool",
    build: one(() => tf.layers.globalAveragePooling2d({})),
    shape: [2, 5, 5, 3],
  },
  { name: "batch norm, training (batch statistics)", build: one(bn), shape: [4, 3, 3, 5], training: true },
  { name: "batch norm, inference (moving statistics)", build: one(bn), shape: [4, 3, 3, 5] },
  { name: "relu", build: one(() => tf.layers.reLU()), shape: [2, 4, 4, 3] },
  {
    name: "add (residual)",
    build: (x) =>
      tf.layers.add().apply([x, one(() => conv(3, 3, 1, "same", "linear"))(x)]) as tf.SymbolicTensor,
    shape: [2, 5, 5, 3],
  },
  {
    name: "concatenate (dense block)",
    build: (x) =>
      tf.layers.concatenate().apply([x, one(() => conv(2, 3, 1, "same", "linear"))(x)]) as tf.SymbolicTensor,
    shape: [2, 5, 5, 3],
  },
];

for (const { name, build, shape, training = false } of LAYER_CASES) {
  Deno.test({
    name: `webgpu backend: ${name} gives the cpu backend's output and gradients (rel. error <= ${TOL})`,
    ignore: NO_ADAPTER,
    fn: async () => {
      const ref = await on("cpu", () => layerCase(build, shape, training));
      const got = await on("webgpu", () => layerCase(build, shape, training));
      compare(name, ref, got);
    },
  });
}

/** Logits, softmax cross-entropy, and its gradients w.r.t. the input and every weight of `arch`. */
async function modelCase(arch: string, inputShape: [number, number, number], batch: number) {
  const m = createModel(arch, { inputShape, numClasses: 10, seed: 3 });
  const x = tf.tensor4d(rand([batch, ...inputShape], 1).map((v) => Math.abs(v) % 1), [batch, ...inputShape]);
  const y = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (3 * i) % 10), "int32"), 10)
  );
  const loss = (xx: tf.Tensor) =>
    tf.losses.softmaxCrossEntropy(y, m.logits(xx as tf.Tensor4D, true)) as tf.Scalar;
  const logits = tf.tidy(() => m.logits(x));
  const dx = tf.tidy(() => tf.grad(loss)(x));
  const res: Record<string, Float32Array> = {
    logits: await logits.data() as Float32Array,
    "d/dinput": await dx.data() as Float32Array,
  };
  await weightGrads(m.model, () => loss(x), res);
  tf.dispose([x, y, logits, dx]);
  m.model.dispose();
  return res;
}

// lenet is left out: it needs 16x16 inputs, at which llvmpipe takes 2-3 minutes to compile the shaders of its
// 5x5 convolutions and their filter gradient when no shader is cached (it agreed to 6e-7); its layer types are
// in LAYER_CASES.
for (
  const [arch, shape] of [
    ["cnn", [8, 8, 1]],
    ["vgg_small", [8, 8, 3]],
    ["resnet_small", [8, 8, 3]],
    ["densenet_small", [8, 8, 3]],
    ["mlp", [8, 8, 1]],
  ] as [string, [number, number, number]][]
) {
  Deno.test({
    name:
      `webgpu backend: ${arch} gives the cpu backend's logits, loss and all gradients (rel. error <= ${TOL})`,
    ignore: NO_ADAPTER,
    fn: async () => {
      const ref = await on("cpu", () => modelCase(arch, shape, 2));
      const got = await on("webgpu", () => modelCase(arch, shape, 2));
      compare(arch, ref, got);
    },
  });
}

/**
 * Three SGD steps with momentum (the paper's optimizer) and a 3-step L2 PGD on cnn; returns the losses, the
 * weights after training and the adversarial images. Not Adam: it divides by the root of the squared gradient,
 * so a weight whose gradient is ~0 moves by up to lr whatever its sign, and float32 noise in such gradients
 * reached 7.8e-5 of the weights after two steps at lr 1e-2 (the benchModel test runs Adam on webgpu).
 */
async function trainAndAttack(): Promise<Record<string, Float32Array>> {
  const m: ZooModel = createModel("cnn", { inputShape: [8, 8, 1], numClasses: 10, seed: 4 });
  const x = tf.tensor4d(rand([4, 8, 8, 1], 2).map((v) => Math.abs(v) % 1), [4, 8, 8, 1]);
  const labels = tf.tensor1d([0, 1, 2, 3], "int32"), y = tf.oneHot(labels, 10);
  const opt = tf.train.momentum(0.05, 0.9);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.logits(x, true)) as tf.Scalar, true)!;
    losses.push((await l.data())[0]);
    l.dispose();
  }
  const res: Record<string, Float32Array> = { losses: Float32Array.from(losses) };
  for (const w of m.model.trainableWeights) res[w.originalName] = await w.read().data() as Float32Array;
  const adv = pgd(m, x, { y: labels, threat: "l2", eps: 0.5, steps: 3, stepSize: 0.2, seed: 1 });
  res.xAdv = await adv.xAdv.data() as Float32Array;
  res.advValue = await adv.value.data() as Float32Array;
  tf.dispose([x, labels, y, adv.xAdv, adv.success, adv.value]);
  opt.dispose();
  // tfjs 4.22's MomentumOptimizer.dispose() leaves SGD's learning-rate scalar (one tensor per optimizer)
  (opt as unknown as { c: tf.Scalar }).c.dispose();
  m.model.dispose();
  return res;
}

Deno.test({
  name:
    `webgpu backend: three SGD momentum steps and a PGD attack on cnn match the cpu backend, no tensor leaks`,
  ignore: NO_ADAPTER,
  fn: async () => {
    const ref = await on("cpu", trainAndAttack);
    const got = await on("webgpu", trainAndAttack);
    assert.ok(ref.losses[2] < ref.losses[0], `the cpu reference must learn: losses ${ref.losses}`);
    compare("train + attack", ref, got);
  },
});

Deno.test({
  name:
    "webgpu backend: a synchronous read of a GPU tensor fails saying to use await t.data(); async reads work",
  ignore: NO_ADAPTER,
  fn: async () => {
    await tf.setBackend("webgpu");
    const t = tf.tidy(() => tf.relu(tf.tensor1d([-1, 2, -3, 4])));
    assert.throws(() => t.dataSync(), /synchronous read .* on the webgpu backend: .*`await t\.data\(\)`/);
    assert.deepEqual(Array.from(await t.data()), [0, 2, 0, 4]);
    assert.deepEqual(Array.from(t.dataSync()), [0, 2, 0, 4], "once read, the values are cached on the CPU");
    t.dispose();
  },
});

Deno.test({
  name:
    "benchModel() on webgpu: every number it reports positive and finite, no tensor leak; memoryRun() refuses it",
  ignore: NO_ADAPTER,
  fn: async () => {
    await tf.setBackend("webgpu");
    const before = tf.memory().numTensors;
    const r = await benchModel("cnn", { batch: 2, repeats: 1, warmup: 0, shape: [8, 8, 1] });
    const rates = Object.entries(r).filter(([, v]) => typeof v === "number") as [string, number][];
    assert.ok(rates.length >= 7, `numeric fields: ${rates.map(([k]) => k)}`);
    for (const [k, v] of rates) assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    assert.throws(() => memoryRun(1, 2), /--memorySteps .* webgpu backend cannot; use --backend=fast/);
  },
});
