// `deno task bench`: throughput of the selected backend (train step, PGD input-gradient step, forward) on the
// reference CNN and the largest 28x28 zoo model, sgemm GFLOP/s, and the loops of lib/attacks.ts and lib/train.ts.
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { runMain } from "../errors.ts";
import { createModel, type ZooModel } from "../models.ts";
import { pgd } from "../attacks.ts";
import { trainModel } from "../train.ts";
import { createRng } from "../rng.ts";
import { BACKENDS, initBackend } from "./mod.ts";
import { FastAdam } from "./adam.ts";
import { loadBlas, type Sgemm } from "./blas.ts";

/** Median of the timings (seconds) of `repeats` calls after `warmup` calls. */
function timeIt(fn: () => void, opts: { warmup: number; repeats: number }): number {
  for (let i = 0; i < opts.warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const s = performance.now();
    fn();
    t.push((performance.now() - s) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

/**
 * Runs `f` in a tidy scope and reads its result back, as a caller would. The read happens outside the scope:
 * a tidy that returns a TypedArray walks every element of it looking for tensors (about 20 ms for one
 * 128x28x28 input gradient), which would be measured as if it were the backend's work.
 */
function readBack(f: () => tf.Tensor): void {
  const t = tf.tidy(f);
  t.dataSync();
  t.dispose();
}

/** Forward FLOPs per image (2 x multiply-adds of conv and dense layers). */
export function forwardFlops(m: ZooModel): number {
  let flops = 0;
  for (const layer of m.model.layers) {
    const out = layer.outputShape as number[];
    const w = layer.getWeights()[0];
    if (!w) continue;
    if (layer.getClassName() === "Conv2D") flops += 2 * out[1] * out[2] * w.size;
    else if (layer.getClassName() === "Dense") flops += 2 * w.size;
  }
  return flops;
}

/** GFLOP/s of `sgemm` (default: the BLAS library's own) on an n x n x n product (median of repeats). */
export function sgemmGflops(n = 1024, sgemm: Sgemm = loadBlas().sgemm): number {
  const rng = createRng(0);
  const a = Float32Array.from({ length: n * n }, () => rng.normal()),
    b = a.slice(),
    c = new Float32Array(n * n);
  const s = timeIt(() => sgemm(false, false, n, n, n, a, n, b, n, 0, c, n), { warmup: 2, repeats: 7 });
  return (2 * n ** 3) / s / 1e9;
}

/** Peak resident set size of this process so far (MiB; Linux VmHWM, else the current RSS). */
export function peakRssMiB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux: fall back to the current RSS */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/**
 * One fixed random batch of 28x28x1 images for `m` [b, 28, 28, 1] with labels, an Adam optimizer, the loss and
 * a training step on that batch; `dispose` frees all of it but the model.
 */
function fixedBatch(m: ZooModel, b: number, seed: number) {
  const rng = createRng(seed);
  const x = tf.tensor4d(Float32Array.from({ length: b * 784 }, () => rng.next()), [b, 28, 28, 1]);
  const labels = Int32Array.from({ length: b }, () => rng.int(10));
  const y = tf.tensor1d(labels, "int32"), onehot = tf.oneHot(y, 10);
  const opt = new FastAdam(1e-3);
  const loss = (xx: tf.Tensor4D, training: boolean) =>
    tf.losses.softmaxCrossEntropy(onehot, m.logits(xx, training)) as tf.Scalar;
  const train = () => readBack(() => opt.minimize(() => loss(x, true), true)!);
  const dispose = () => {
    tf.dispose([x, y, onehot]);
    opt.dispose();
  };
  return { x, y, labels, loss, train, dispose };
}

/**
 * Runs `steps` training steps of the reference CNN at batch `batch` (Adam) and reports the tensor count before
 * and after (a leak shows as growth) and the process's peak resident memory (MiB).
 */
export function memoryRun(steps: number, batch: number) {
  const m = createModel("cnn", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  const f = fixedBatch(m, batch, 3);
  f.train();
  const numTensorsBefore = tf.memory().numTensors, t0 = performance.now();
  for (let i = 0; i < steps; i++) f.train();
  const seconds = (performance.now() - t0) / 1000;
  const r = { steps, batch, seconds, numTensorsBefore, numTensorsAfter: tf.memory().numTensors };
  f.dispose();
  m.model.dispose();
  return { ...r, peakRssMiB: peakRssMiB() };
}

/** Steps per trainModel() call in the loop benchmark (its set-up, e.g. a new optimizer, is amortized over them). */
const LOOP_STEPS = 16;

/** Throughput of one model at one batch size (images/s). */
export function benchModel(arch: string, opts: { batch: number; repeats: number }) {
  const m = createModel(arch, { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  const b = opts.batch;
  const fixed = fixedBatch(m, b, 1);
  const { x, y, labels, loss, train } = fixed;
  const inputGrad = () => readBack(() => tf.grad((xx: tf.Tensor) => loss(xx as tf.Tensor4D, false))(x));
  const forward = () => readBack(() => m.logits(x));
  const steps = 10;
  const pgdLoop = () =>
    readBack(() => pgd(m, x, { y, threat: "l2", eps: 1, steps, stepSize: 0.25, seed: 0 }).xAdv);
  const split = {
    x: x.dataSync() as Float32Array,
    y: Uint8Array.from(labels),
    n: b,
    shape: [28, 28, 1] as [number, number, number],
  };
  const trainLoop = () =>
    trainModel(m, {
      ...split,
      n: LOOP_STEPS * b,
      x: new Float32Array(LOOP_STEPS * b * 784).map((_, i) => split.x[i % split.x.length]),
      y: new Uint8Array(LOOP_STEPS * b).map((_, i) => split.y[i % b]),
    }, {
      epochs: 1,
      batchSize: b,
      optimizer: "adam",
      lr: 1e-3,
      momentum: 0.9,
      weightDecay: 0,
      schedule: "constant",
      seed: 0,
    });
  const t = { warmup: 2, repeats: opts.repeats };
  const flops = forwardFlops(m);
  const r = {
    arch,
    params: m.model.countParams(),
    forwardMflopsPerImage: flops / 1e6,
    trainImgPerSec: b / timeIt(train, t),
    inputGradImgPerSec: b / timeIt(inputGrad, t),
    forwardImgPerSec: b / timeIt(forward, t),
    pgdStepImgPerSec: (b * steps) /
      timeIt(pgdLoop, { warmup: 1, repeats: Math.max(3, Math.ceil(opts.repeats / 3)) }),
    trainLoopImgPerSec: (LOOP_STEPS * b) /
      timeIt(trainLoop, { warmup: 1, repeats: Math.max(3, Math.ceil(opts.repeats / 3)) }),
  };
  fixed.dispose();
  m.model.dispose();
  return r;
}

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        json: { type: "boolean" },
        backend: { type: "string", default: "auto" },
        batch: { type: "string", default: "128" },
        repeats: { type: "string", default: "9" },
        models: { type: "string", default: "cnn,vgg_small" },
        memorySteps: { type: "string", default: "0" },
        native: { type: "string", default: "true" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      return void console.log(
        `deno task bench [--json] [--backend=${
          BACKENDS.join("|")
        }] [--batch=128] [--repeats=9] [--models=cnn,vgg_small] [--memorySteps=N] [--native=true|false]\n` +
          "  --memorySteps=N  also run N training steps of cnn and report tensor counts and peak RSS\n" +
          "  --native=false   fast backend with its TypeScript helpers instead of native/fastops.c (to compare)",
      );
    }
    const batch = Number(values.batch), repeats = Number(values.repeats);
    if (!(Number.isInteger(batch) && batch >= 1)) {
      throw new RangeError(`--batch must be an integer >= 1, got "${values.batch}"`);
    }
    if (!(Number.isInteger(repeats) && repeats >= 1)) {
      throw new RangeError(`--repeats must be an integer >= 1, got "${values.repeats}"`);
    }
    const memorySteps = Number(values.memorySteps);
    if (!(Number.isInteger(memorySteps) && memorySteps >= 0)) {
      throw new RangeError(`--memorySteps must be an integer >= 0, got "${values.memorySteps}"`);
    }
    if (values.native !== "true" && values.native !== "false") {
      throw new RangeError(`--native must be true or false, got "${values.native}"`);
    }
    const info = await initBackend(values.backend!, { quiet: values.json, native: values.native === "true" });
    const sg = sgemmGflops(1024, info.sgemm);
    const models = values.models!.split(",").map((a) => benchModel(a, { batch, repeats }));
    const rows = models.map((m) => ({
      ...m,
      trainGflops: (3 * m.forwardMflopsPerImage * m.trainImgPerSec) / 1e3,
      inputGradGflops: (2 * m.forwardMflopsPerImage * m.inputGradImgPerSec) / 1e3,
      forwardGflops: (m.forwardMflopsPerImage * m.forwardImgPerSec) / 1e3,
    }));
    const out = {
      backend: info.name,
      blas: info.blas ?? null,
      ops: info.ops ?? null,
      batch,
      sgemmGflops: sg,
      models: Object.fromEntries(rows.map((r) => [r.arch, r])),
      memory: memorySteps > 0 ? memoryRun(memorySteps, batch) : null,
    };
    if (values.json) return void console.log(JSON.stringify(out, null, 2));
    console.log(
      `backend ${info.name} (sgemm: ${info.blas ?? "-"}; helpers: ${info.ops ?? "-"}), batch ${batch}, ` +
        `sgemm ${sg.toFixed(1)} GFLOP/s (1024^3)`,
    );
    for (const r of rows) {
      const pct = (g: number) => `${g.toFixed(1)} GFLOP/s = ${((100 * g) / sg).toFixed(0)}% of sgemm`;
      console.log(
        `\n${r.arch} (${(r.params / 1e3).toFixed(0)}k params, ${
          r.forwardMflopsPerImage.toFixed(1)
        } MFLOP/img forward)`,
      );
      console.log(
        `  train step      ${r.trainImgPerSec.toFixed(0).padStart(6)} img/s  (${
          pct(r.trainGflops)
        }, counting 3x forward)`,
      );
      console.log(
        `  input gradient  ${r.inputGradImgPerSec.toFixed(0).padStart(6)} img/s  (${
          pct(r.inputGradGflops)
        }, counting 2x forward)`,
      );
      console.log(
        `  forward         ${r.forwardImgPerSec.toFixed(0).padStart(6)} img/s  (${pct(r.forwardGflops)})`,
      );
      console.log(
        `  pgd() loop      ${r.pgdStepImgPerSec.toFixed(0).padStart(6)} img-steps/s (lib/attacks.ts)`,
      );
      console.log(`  trainModel()    ${r.trainLoopImgPerSec.toFixed(0).padStart(6)} img/s (lib/train.ts)`);
    }
    const mem = out.memory;
    if (mem) {
      console.log(
        `\nmemory: ${mem.steps} cnn training steps at batch ${mem.batch} in ${mem.seconds.toFixed(0)} s: ` +
          `tf.memory().numTensors ${mem.numTensorsBefore} -> ${mem.numTensorsAfter}, ` +
          `peak RSS ${mem.peakRssMiB.toFixed(0)} MiB`,
      );
    }
  });
}
