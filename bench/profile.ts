// Per-kernel profile of the fast backend's steps (train, input gradient, forward) and in-process A/B of kernel
// sets, interleaved call by call so that the load of a shared machine falls on both sides alike:
// `deno run -A bench/profile.ts --models=resnet_small --ab=dnnl`.
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { runMain } from "../lib/util/errors.ts";
import { createModel } from "../lib/core/models.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { fixedBatch, medianTime, readBack, type Shape } from "./bench.ts";
import { registerFastKernels } from "../lib/backend/kernels.ts";
import { DEFAULT_CACHE_DIR, FASTOPS, loadNativeOps, openNative } from "../lib/backend/native.ts";
import { buildLibrary } from "../lib/backend/build.ts";
import { loadDnnl } from "../lib/backend/dnnl.ts";
import type { Sgemm } from "../lib/backend/blas.ts";
import { tfjsFusedOps, tfjsMomentsOp, tfjsSoftmaxCEOp } from "../lib/backend/gradients.ts";
import tfc from "@tensorflow/tfjs-core";

/** Milliseconds per call of each kernel (and "(outside kernels)": the rest of the step), largest first. */
export type KernelProfile = [string, number][];

/**
 * Times every kernel registered for `backendName` while `fn` runs `calls` times (after one untimed call), by
 * wrapping the kernel functions (the wasm backend's kernels are synchronous, so wall time is the kernel's own);
 * the wrappers are removed again before returning.
 */
export function profileKernels(fn: () => void, calls: number, backendName = "wasm"): KernelProfile {
  fn();
  const ms = new Map<string, number>();
  const configs = tf.getKernelsForBackend(backendName);
  const wrap = (c: tf.KernelConfig): tf.KernelConfig => ({
    ...c,
    kernelFunc: (args) => {
      const t0 = performance.now();
      const out = c.kernelFunc(args);
      ms.set(c.kernelName, (ms.get(c.kernelName) ?? 0) + performance.now() - t0);
      return out;
    },
  });
  const swap = (list: tf.KernelConfig[]) => {
    for (const c of list) {
      tf.unregisterKernel(c.kernelName, backendName);
      tf.registerKernel(c);
    }
  };
  swap(configs.map(wrap));
  const t0 = performance.now();
  try {
    for (let i = 0; i < calls; i++) fn();
  } finally {
    swap(configs);
  }
  const total = performance.now() - t0;
  const inKernels = [...ms.values()].reduce((a, b) => a + b, 0);
  return [...ms.entries(), ["(outside kernels)", total - inKernels] as [string, number]]
    .map(([k, v]): [string, number] => [k, v / calls])
    .sort((a, b) => b[1] - a[1]);
}

/**
 * Median seconds per call of each variant, the variants run in turn call by call (order alternating), after
 * `warmup` untimed rounds; `use(i)` switches to variant i before its call.
 */
export function interleaved(
  fn: () => void,
  variants: number,
  use: (i: number) => void,
  opts: { warmup: number; repeats: number },
): number[] {
  const t: number[][] = Array.from({ length: variants }, () => []);
  for (let r = 0; r < opts.warmup + opts.repeats; r++) {
    for (let j = 0; j < variants; j++) {
      const i = r % 2 ? variants - 1 - j : j;
      use(i);
      const s = performance.now();
      fn();
      if (r >= opts.warmup) t[i].push((performance.now() - s) / 1000);
    }
  }
  return t.map(medianTime);
}

/** The three steps the benchmark times, on one fixed batch of `m`. */
function steps(arch: string, batch: number, shape: Shape) {
  const m = createModel(arch, { inputShape: shape, numClasses: 10, seed: 0 });
  const f = fixedBatch(m, batch, 1, shape);
  const list: [string, () => void][] = [
    ["train", f.train],
    [
      "input gradient",
      () => readBack(() => tf.grad((xx: tf.Tensor) => f.loss(xx as tf.Tensor4D, false))(f.x)),
    ],
    ["forward", () => readBack(() => m.logits(f.x))],
  ];
  return {
    list,
    dispose: () => {
      f.dispose();
      m.model.dispose();
    },
  };
}

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        models: { type: "string", default: "cnn,vgg_small,resnet_small,densenet_small" },
        batch: { type: "string", default: "128" },
        shape: { type: "string", default: "28,28,1" },
        calls: { type: "string", default: "5" },
        ab: { type: "string" },
        repeats: { type: "string", default: "9" },
        top: { type: "string", default: "8" },
        dnnl: { type: "string", default: "true" },
        before: { type: "string" },
      },
    });
    const batch = Number(values.batch), calls = Number(values.calls), repeats = Number(values.repeats);
    const shape = values.shape!.split(",").map(Number) as Shape;
    for (const [k, v] of [["batch", batch], ["calls", calls], ["repeats", repeats]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`--${k} must be an integer >= 1, got ${v}`);
    }
    const info = await initBackend("fast");
    const sgemm = info.sgemm as Sgemm, ops = loadNativeOps().ops, { conv, sgemm: dense } = loadDnnl();
    const fused = tf.fused as { conv2d: unknown; matMul: unknown };
    const useFused = (f: { conv2d: unknown; matMul: unknown }) => () => Object.assign(fused, f);
    const wrapped = { conv2d: fused.conv2d, matMul: fused.matMul };
    const core = tfc as unknown as { moments: unknown }, ownMoments = core.moments;
    const noDense = { ...ops, reluGrad: undefined }; // without it there is no FastDense or FastConv kernel
    const losses = tf.losses as { softmaxCrossEntropy: unknown }, ownCE = losses.softmaxCrossEntropy;
    /** --ab=fastops: the helpers built from another fastops.c (--before, e.g. `git show REV:...` into a file). */
    const beforeOps = () => {
      if (values.before === undefined) {
        throw new RangeError(
          "--ab=fastops needs --before=<path of the fastops.c to compare with>, e.g. from " +
            "`git show 8baf294:lib/backend/native/fastops.c > /tmp/fastops_before.c`",
        );
      }
      const spec = { ...FASTOPS, source: values.before };
      // its own directory, so that neither build prunes the other
      return openNative(buildLibrary(spec, Deno.env.get("CC") ?? "cc", `${DEFAULT_CACHE_DIR}/ab`)).ops;
    };
    const old = values.ab === "fastops" ? beforeOps() : ops;
    /** The A/B pairs: [before, after] (the second is the backend as initBackend sets it up). */
    const AB: Record<string, [string, () => void][]> = {
      fastops: [
        [`fastops from ${values.before}`, () => registerFastKernels(sgemm, old, conv, dense)],
        ["fastops of this tree", () => registerFastKernels(sgemm, ops, conv, dense)],
      ],
      dnnl: [
        ["im2col + sgemm", () => registerFastKernels(sgemm, ops, null, dense)],
        ["oneDNN", () => registerFastKernels(sgemm, ops, conv, dense)],
      ],
      dnnlgemm: [
        ["matmul on fastops + OpenBLAS", () => registerFastKernels(sgemm, ops, conv, null)],
        ["matmul on oneDNN's sgemm", () => registerFastKernels(sgemm, ops, conv, dense)],
      ],
      unfuse: [["tfjs fused ops", useFused(tfjsFusedOps())], ["linear ops unfused", useFused(wrapped)]],
      moments: [["tfjs moments", () => (core.moments = tfjsMomentsOp())], [
        "native moments",
        () => (core.moments = ownMoments),
      ]],
      dense: [
        ["dense/conv layers as op + add + relu", () => registerFastKernels(sgemm, noDense, conv, dense)],
        ["dense/conv layers as one kernel", () => registerFastKernels(sgemm, ops, conv, dense)],
      ],
      serial: [
        ["parallel from 64k values", () => ops.setParallelMin?.(1 << 16)],
        ["parallel from 1M values", () => ops.setParallelMin?.(1 << 20)],
      ],
      softmaxce: [
        ["tfjs softmaxCrossEntropy", () => (losses.softmaxCrossEntropy = tfjsSoftmaxCEOp())],
        ["native softmax cross-entropy", () => (losses.softmaxCrossEntropy = ownCE)],
      ],
    };
    if (values.ab !== undefined && !AB[values.ab]) {
      throw new RangeError(
        `--ab accepts ${Object.keys(AB).join(", ")} (dnnl: oneDNN convolutions vs im2col + sgemm; ` +
          `unfuse: linear fused conv2d/matMul unfused under a tape vs tfjs's; moments: batch norm's moments native ` +
          `vs tfjs's; softmaxce: the loss as one native kernel vs tfjs's; dnnlgemm: matrix products on oneDNN's ` +
          `sgemm vs fastops + OpenBLAS; dense: dense and conv layers under a tape as one kernel vs three; serial: helpers parallel from 64k vs 1M values; ` +
          `fastops: the native helpers of this tree vs those built from --before=<fastops.c>), got "${values.ab}"`,
      );
    }
    const setups = AB[values.ab ?? "dnnl"];
    if (values.dnnl !== "true" && values.dnnl !== "false") {
      throw new RangeError(`--dnnl must be true or false, got "${values.dnnl}"`);
    }
    if (values.dnnl === "false") registerFastKernels(sgemm, ops, null, null); // im2col + sgemm, OpenBLAS GEMMs
    console.log(
      `batch ${batch}, ${shape.join("x")}; ${new Date().toISOString()}; ${Deno.loadavg().join(" ")} load`,
    );
    for (const arch of values.models!.split(",")) {
      const s = steps(arch, batch, shape);
      for (const [name, fn] of s.list) {
        if (values.ab) {
          const sec = interleaved(fn, setups.length, (i) => setups[i][1](), { warmup: 2, repeats });
          console.log(
            `${arch} ${name}: ` + setups.map(([n], i) => `${n} ${(1e3 * sec[i]).toFixed(1)} ms`).join(", ") +
              ` -> ${(sec[0] / sec[1]).toFixed(2)}x`,
          );
          continue;
        }
        const p = profileKernels(fn, calls);
        const total = p.reduce((a, [, v]) => a + v, 0);
        console.log(`${arch} ${name}: ${total.toFixed(1)} ms per call`);
        for (const [k, v] of p.slice(0, Number(values.top))) {
          console.log(
            `  ${k.padEnd(24)} ${v.toFixed(2).padStart(8)} ms  ${(100 * v / total).toFixed(0).padStart(3)}%`,
          );
        }
      }
      s.dispose();
    }
  });
}
