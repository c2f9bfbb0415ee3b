// `deno task bench`: throughput of the selected backend (train step, PGD input-gradient step, forward) on the
// reference CNN and the largest 28x28 zoo model, sgemm GFLOP/s, and the loops of lib/core/attacks.ts and lib/core/train.ts;
// `--vs=torch` runs the same models in PyTorch (bench/torch_peer.py) right after ours and prints the ratios.
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { runMain } from "../lib/util/errors.ts";
import { createModel, type ZooModel } from "../lib/core/models.ts";
import { matchObjective, pgd } from "../lib/core/attacks.ts";
import { trainModel } from "../lib/core/train.ts";
import { createRng } from "../lib/util/rng.ts";
import { BACKENDS, initBackend } from "../lib/backend/mod.ts";
import { FastAdam } from "../lib/backend/adam.ts";
import { loadBlas, type Sgemm } from "../lib/backend/blas.ts";
import {
  findTorch,
  medianRates,
  PEER_RATES,
  type Rates,
  ratios,
  runTorchPeer,
  TORCH_SETUP,
} from "../lib/backend/peer.ts";
import { SMALL_ARCHITECTURES } from "../lib/core/models.ts";
import { matMulGflops } from "../lib/backend/webgpu.ts";
import { UserError } from "../lib/util/errors.ts";

/** The median of timings (for an even count the upper of the two middle values), sorting `t` in place. */
export const medianTime = (t: number[]): number => t.sort((a, b) => a - b)[Math.floor(t.length / 2)];

/** Median of the timings (seconds) of `repeats` calls after `warmup` calls. */
function timeIt(fn: () => void, opts: { warmup: number; repeats: number }): number {
  for (let i = 0; i < opts.warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const s = performance.now();
    fn();
    t.push((performance.now() - s) / 1000);
  }
  return medianTime(t);
}

/** timeIt for an async call (each call awaited before the next starts). */
async function timeItAsync(
  fn: () => Promise<unknown>,
  opts: { warmup: number; repeats: number },
): Promise<number> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const s = performance.now();
    await fn();
    t.push((performance.now() - s) / 1000);
  }
  return medianTime(t);
}

/**
 * Median seconds per call of `a` and of `b`, called in turn (a, b, b, a, ...) after `warmup` calls of each, so
 * that a machine whose load drifts slows both alike: the ratio of the two medians is the figure to trust.
 */
export async function pairedTimes(
  a: () => unknown,
  b: () => unknown,
  opts: { warmup: number; repeats: number },
): Promise<[number, number]> {
  for (let i = 0; i < opts.warmup; i++) await a(), await b();
  const ta: number[] = [], tb: number[] = [];
  const once = async (fn: () => unknown, into: number[]) => {
    const s = performance.now();
    await fn();
    into.push((performance.now() - s) / 1000);
  };
  for (let i = 0; i < opts.repeats; i++) {
    if (i % 2 === 0) await once(a, ta), await once(b, tb);
    else await once(b, tb), await once(a, ta);
  }
  return [medianTime(ta), medianTime(tb)];
}

/**
 * Runs `f` in a tidy scope and reads its result back, as a caller would. The read happens outside the scope:
 * a tidy that returns a TypedArray walks every element of it looking for tensors (about 20 ms for one
 * 128x28x28 input gradient), which would be measured as if it were the backend's work. On the webgpu backend,
 * which cannot read synchronously under Deno, it reads with `await data()` and returns that promise.
 */
export function readBack(f: () => tf.Tensor): void | Promise<void> {
  const t = tf.tidy(f);
  if (tf.getBackend() === "webgpu") return t.data().then(() => t.dispose());
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

/** [h, w, c] of one image. */
export type Shape = [number, number, number];

/**
 * One fixed random batch of images [b, h, w, c] (default 28x28x1) for `m` with labels, an Adam optimizer, the
 * loss and a training step on that batch; `dispose` frees all of it but the model.
 */
export function fixedBatch(m: ZooModel, b: number, seed: number, shape: Shape = [28, 28, 1]) {
  const rng = createRng(seed);
  const px = shape[0] * shape[1] * shape[2];
  const x = tf.tensor4d(Float32Array.from({ length: b * px }, () => rng.next()), [b, ...shape]);
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
  if (tf.getBackend() === "webgpu") {
    throw new UserError(
      "--memorySteps runs synchronous steps, which the webgpu backend cannot; use --backend=fast",
    );
  }
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

/**
 * Throughput of one model at one batch size (images/s): the raw steps, then (unless `loops` is false) the
 * library loops pgd() and trainModel() on the same batch. `shape` is one image's [h, w, c] (default 28x28x1).
 */
export async function benchModel(
  arch: string,
  opts: { batch: number; repeats: number; warmup?: number; shape?: Shape; loops?: boolean },
) {
  const shape = opts.shape ?? [28, 28, 1];
  const m = createModel(arch, { inputShape: shape, numClasses: 10, seed: 0 });
  const b = opts.batch;
  const fixed = fixedBatch(m, b, 1, shape);
  const { x, y, labels, loss, train } = fixed;
  const inputGrad = () => readBack(() => tf.grad((xx: tf.Tensor) => loss(xx as tf.Tensor4D, false))(x));
  const forward = () => readBack(() => m.logits(x));
  const steps = 10;
  const pgdLoop = () =>
    readBack(() => pgd(m, x, { y, threat: "l2", eps: 1, steps, stepSize: 0.25, seed: 0 }).xAdv);
  // representation matching (eq. 5) toward the representations of the batch in reverse order
  const target = tf.tidy(() => m.representation(x.reverse(0) as tf.Tensor4D));
  const matchLoop = () =>
    readBack(() =>
      pgd(m, x, { objective: matchObjective(target), threat: "l2", eps: 1, steps, stepSize: 0.25, seed: 0 })
        .xAdv
    );
  // LOOP_STEPS copies of the fixed batch, built once: building them inside the timed call (about 40 ms for
  // mlp's 16 x 128 images) was measured as if trainModel() spent it
  const one = await x.data() as Float32Array;
  const split = {
    x: new Float32Array(LOOP_STEPS * one.length).map((_, i) => one[i % one.length]),
    y: new Uint8Array(LOOP_STEPS * b).map((_, i) => labels[i % b]),
    n: LOOP_STEPS * b,
    shape,
  };
  const trainLoop = () =>
    trainModel(m, split, {
      epochs: 1,
      batchSize: b,
      optimizer: "adam",
      lr: 1e-3,
      momentum: 0.9,
      weightDecay: 0,
      schedule: "constant",
      seed: 0,
    });
  const t = { warmup: opts.warmup ?? 2, repeats: opts.repeats };
  const flops = forwardFlops(m);
  const loopTiming = { warmup: 1, repeats: Math.max(5, opts.repeats) };
  const loops = opts.loops ?? true;
  // webgpu reads asynchronously (readBack returns a promise there): each call is timed with its await
  const time = (fn: () => unknown, o: { warmup: number; repeats: number }) =>
    tf.getBackend() === "webgpu" ? timeItAsync(async () => await fn(), o) : timeIt(fn, o);
  // each library loop against as many raw steps, called in turn (see pairedTimes)
  const repeat = (fn: () => unknown, n: number) => async () => {
    for (let i = 0; i < n; i++) await fn();
  };
  const [pgdS, rawGradS] = loops
    ? await pairedTimes(pgdLoop, repeat(inputGrad, steps), loopTiming)
    : [NaN, NaN];
  const [matchS, rawGradMatchS] = loops
    ? await pairedTimes(matchLoop, repeat(inputGrad, steps), loopTiming)
    : [NaN, NaN];
  const [loopS, rawTrainS] = loops
    ? await pairedTimes(trainLoop, repeat(train, LOOP_STEPS), loopTiming)
    : [NaN, NaN];
  const r = {
    arch,
    params: m.model.countParams(),
    forwardMflopsPerImage: flops / 1e6,
    trainImgPerSec: b / await time(train, t),
    inputGradImgPerSec: b / await time(inputGrad, t),
    forwardImgPerSec: b / await time(forward, t),
    /** pgd() from lib/core/attacks.ts, 10 steps: image-steps/s (NaN when loops are off). */
    pgdStepImgPerSec: (b * steps) / pgdS,
    /** pgd() over as many raw input gradients, timed in turn with it (NaN when loops are off). */
    pgdVsInputGrad: rawGradS / pgdS,
    /** pgd() with the representation-matching objective, 10 steps: image-steps/s (NaN when loops are off). */
    matchStepImgPerSec: (b * steps) / matchS,
    /** Representation matching over as many raw input gradients, timed in turn with it (NaN when off). */
    matchVsInputGrad: rawGradMatchS / matchS,
    /** trainModel() from lib/core/train.ts over LOOP_STEPS batches: images/s (NaN when loops are off). */
    trainLoopImgPerSec: (LOOP_STEPS * b) / loopS,
    /** trainModel() over as many raw train steps, timed in turn with it (NaN when loops are off). */
    trainLoopVsTrain: rawTrainS / loopS,
  };
  fixed.dispose();
  target.dispose();
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
        models: { type: "string" },
        memorySteps: { type: "string", default: "0" },
        native: { type: "string", default: "true" },
        dnnl: { type: "string", default: "true" },
        vs: { type: "string" },
        shape: { type: "string", default: "28,28,1" },
        warmup: { type: "string", default: "2" },
        loops: { type: "string", default: "true" },
        rounds: { type: "string", default: "1" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      return void console.log(
        `deno task bench [--json] [--backend=${
          BACKENDS.join("|")
        }] [--batch=128] [--repeats=9] [--models=cnn,vgg_small] [--memorySteps=N] [--native=true|false]\n` +
          "  --memorySteps=N  also run N training steps of cnn and report tensor counts and peak RSS\n" +
          "  --native=false   fast backend with its TypeScript helpers instead of native/fastops.c (to compare)\n" +
          "  --vs=torch       also time each model in PyTorch (bench/torch_peer.py) right after ours, same batch,\n" +
          "                   threads, warm-up and repeats; prints ours, theirs and the ratio (default models: the\n" +
          `                   28x28 zoo, ${SMALL_ARCHITECTURES.join(",")})\n` +
          "  --shape=28,28,1  h,w,c of one image (e.g. --shape=32,32,3 --models=resnet18,vgg16 --batch=32)\n" +
          "  --warmup=2       untimed calls before the timed repeats\n" +
          "  --dnnl=false     fast backend's convolutions on im2col + sgemm instead of oneDNN (to compare)\n" +
          "  --loops=false    skip the pgd() and trainModel() rows\n" +
          "  --rounds=1       with --vs=torch: ours then theirs this many times per model; medians of the rates\n" +
          "                   and of the per-round ratios (a shared machine's load changes between runs)",
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
    const warmup = Number(values.warmup);
    if (!(Number.isInteger(warmup) && warmup >= 0)) {
      throw new RangeError(`--warmup must be an integer >= 0, got "${values.warmup}"`);
    }
    if (values.vs !== undefined && values.vs !== "torch") {
      throw new RangeError(
        `--vs accepts only "torch" (PyTorch through bench/torch_peer.py), got "${values.vs}"`,
      );
    }
    if (values.dnnl !== "true" && values.dnnl !== "false") {
      throw new RangeError(`--dnnl must be true or false, got "${values.dnnl}"`);
    }
    const rounds = Number(values.rounds);
    if (!(Number.isInteger(rounds) && rounds >= 1)) {
      throw new RangeError(`--rounds must be an integer >= 1, got "${values.rounds}"`);
    }
    if (values.loops !== "true" && values.loops !== "false") {
      throw new RangeError(`--loops must be true or false, got "${values.loops}"`);
    }
    const shape = values.shape!.split(",").map(Number);
    if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `--shape must be h,w,c (three integers >= 1, e.g. 32,32,3), got "${values.shape}"`,
      );
    }
    const archs = (values.models ?? (values.vs ? SMALL_ARCHITECTURES.join(",") : "cnn,vgg_small")).split(",");
    const torch = values.vs ? findTorch() : null;
    if (values.vs && !torch) console.error(TORCH_SETUP);
    const info = await initBackend(values.backend!, {
      quiet: values.json,
      native: values.native === "true",
      dnnl: values.dnnl === "true",
    });
    // webgpu: the "sgemm" figure is a 1024^3 tf.matMul on the adapter, read back
    const sg = info.name === "webgpu" ? await matMulGflops(1024) : sgemmGflops(1024, info.sgemm);
    const threads = Number(Deno.env.get("OMP_NUM_THREADS")) || navigator.hardwareConcurrency;
    const peer: Record<string, { theirs: Rates; ratio: Rates; roundRatios: Rates[] }> = {};
    const models = [];
    for (const a of archs) {
      const opts = { batch, repeats, warmup, shape: shape as Shape, loops: values.loops === "true" };
      const ours = [], theirs: Rates[] = [];
      for (let r = 0; r < (torch ? rounds : 1); r++) { // the library loops in the first round only
        ours.push(await benchModel(a, { ...opts, loops: opts.loops && r === 0 }));
        // right after ours: the machine's load drifts over minutes
        if (torch) {
          theirs.push(runTorchPeer(torch.python, [a], { ...opts, threads, shape: shape as Shape })[a]);
        }
      }
      const row = { ...ours[0], ...medianRates(ours) };
      if (torch) {
        const roundRatios = ours.map((o, i) => ratios(o, theirs[i]));
        peer[a] = { theirs: medianRates(theirs), ratio: medianRates(roundRatios), roundRatios };
      }
      models.push(row);
    }
    const rows = models.map((m) => ({
      ...m,
      trainGflops: (3 * m.forwardMflopsPerImage * m.trainImgPerSec) / 1e3,
      inputGradGflops: (2 * m.forwardMflopsPerImage * m.inputGradImgPerSec) / 1e3,
      forwardGflops: (m.forwardMflopsPerImage * m.forwardImgPerSec) / 1e3,
    }));
    const out = {
      backend: info.name,
      adapter: info.adapter ?? null,
      blas: info.blas ?? null,
      ops: info.ops ?? null,
      conv: info.conv ?? null,
      batch,
      shape,
      threads,
      sgemmGflops: sg,
      models: Object.fromEntries(rows.map((r) => [r.arch, r])),
      torch: values.vs
        ? (torch ? { python: torch.python, version: torch.version, models: peer } : { missing: TORCH_SETUP })
        : null,
      memory: memorySteps > 0 ? memoryRun(memorySteps, batch) : null,
    };
    if (values.json) return void console.log(JSON.stringify(out, null, 2));
    console.log(
      `backend ${info.name}${info.adapter ? ` on ${info.adapter}` : ""} (sgemm: ${
        info.blas ?? (info.adapter ? "tf.matMul" : "-")
      }; helpers: ${info.ops ?? "-"}; convolutions: ${info.conv ?? "-"}), batch ${batch}, ` +
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
      if (Number.isNaN(r.pgdStepImgPerSec)) continue;
      console.log(
        `  pgd() loop      ${r.pgdStepImgPerSec.toFixed(0).padStart(6)} img-steps/s (lib/core/attacks.ts; ${
          (100 * r.pgdVsInputGrad).toFixed(0)
        }% of the raw input gradient, timed in turn)`,
      );
      console.log(
        `  matching loop   ${
          r.matchStepImgPerSec.toFixed(0).padStart(6)
        } img-steps/s (pgd() toward representations; ${
          (100 * r.matchVsInputGrad).toFixed(0)
        }% of the raw input gradient, timed in turn)`,
      );
      console.log(
        `  trainModel()    ${r.trainLoopImgPerSec.toFixed(0).padStart(6)} img/s (lib/core/train.ts; ${
          (100 * r.trainLoopVsTrain).toFixed(0)
        }% of the raw train step, timed in turn)`,
      );
    }
    if (torch) {
      console.log(
        `\nvs PyTorch ${torch.version} (${torch.python}, ${threads} threads, batch ${batch}, ${
          shape.join("x")
        }` +
          `${
            rounds > 1 ? `, medians of ${rounds} rounds` : ""
          }): ours / theirs img/s = ratio (above 1: faster)`,
      );
      const names = {
        trainImgPerSec: "train",
        inputGradImgPerSec: "input grad",
        forwardImgPerSec: "forward",
      };
      console.log(`  ${"model".padEnd(15)}${PEER_RATES.map((k) => names[k].padStart(24)).join("")}`);
      for (const r of rows) {
        const p = peer[r.arch];
        const cell = (k: (typeof PEER_RATES)[number]) =>
          `${r[k].toFixed(0)} / ${p.theirs[k].toFixed(0)} = ${p.ratio[k].toFixed(2)}x`.padStart(24);
        console.log(`  ${r.arch.padEnd(15)}${PEER_RATES.map(cell).join("")}`);
      }
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
