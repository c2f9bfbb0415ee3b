// Backend selection: webgpu (hardware GPU) > tensorflow (tfjs-node(-gpu)) > fast (wasm + BLAS kernels) > cpu.
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../util/errors.ts";
import { loadBlas, type Sgemm } from "./blas.ts";
import { registerFastKernels } from "./kernels.ts";
import { loadNativeOps } from "./native.ts";
import { loadDnnl } from "./dnnl.ts";
import { registerFastGradients } from "./gradients.ts";
import { initWebgpu } from "./webgpu.ts";

/** Accepted --backend values. */
export const BACKENDS = ["auto", "tensorflow", "fast", "wasm", "cpu", "webgpu"] as const;

/** What initBackend chose. */
export interface BackendInfo {
  /** The backend in use: webgpu | tensorflow | fast | wasm | cpu. */
  name: string;
  /** The webgpu backend's adapter (its name as the driver reports it). */
  adapter?: string;
  /** The choice in full: every kernel, library path, and why the ones before it were skipped (--verbose). */
  reason: string;
  /** One short line: the backend and its main parts (printed by default). */
  line?: string;
  /** BLAS library used by the fast backend ("typescript" for the fallback). */
  blas?: string;
  /** Where the fast backend's im2col/col2im/bias/sum helpers come from (native library or "typescript"). */
  ops?: string;
  /** Where the fast backend's convolutions come from (the oneDNN library, or "none": im2col + sgemm). */
  conv?: string;
  /** The fast backend's GEMM (the native parallel driver over the BLAS library, or the library's own sgemm). */
  sgemm?: Sgemm;
}

/** How to install the optional native backend (printed when --backend=tensorflow is unavailable). */
export const TENSORFLOW_SETUP = "tfjs-node-gpu is not installed. With CUDA 11.2 + cuDNN 8.1: " +
  "`deno add npm:@tensorflow/tfjs-node-gpu@4.22.0 && deno install --allow-scripts=npm:@tensorflow/tfjs-node-gpu` " +
  "(CPU-only: tfjs-node the same way); if the binding is not found, copy " +
  "node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/ to lib/napi-v8/ (see README, Backends)";

async function tryTensorflow(): Promise<string | null> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      Deno.statSync(`node_modules/${pkg}`);
    } catch {
      continue;
    }
    try {
      const spec = pkg; // a variable specifier: never resolved unless the package is installed
      await import(spec);
      if (await tf.setBackend("tensorflow")) return pkg;
    } catch (err) {
      console.error(`${pkg} is installed but failed to load: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return null;
}

async function useWasm(): Promise<void> {
  await import("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) throw new Error("the tfjs wasm backend failed to initialize");
  await tf.ready();
}

/**
 * Selects and initializes the tfjs backend. `auto` tries webgpu (on a hardware GPU only, never a software
 * adapter), then tensorflow, then fast, then cpu. Prints one short line (backendLine()) to stderr unless `quiet`,
 * and with `verbose` the full reason (every kernel and library path, why earlier backends were skipped). `native: false` keeps the fast
 * backend's helpers in TypeScript (for comparison; by default they are built from native/fastops.c); `dnnl:
 * false` keeps its convolutions on im2col + sgemm instead of oneDNN (native/dnnlops.c; also off with native).
 */
export async function initBackend(
  name = "auto",
  opts: { quiet?: boolean; verbose?: boolean; native?: boolean; dnnl?: boolean } = {},
): Promise<BackendInfo> {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new RangeError(`unknown backend "${name}"; accepted: ${BACKENDS.join(", ")}`);
  }
  const skipped: string[] = [];
  let info: BackendInfo | null = null;
  if (name === "webgpu" || name === "auto") {
    const gpu = await initWebgpu({ hardwareOnly: name === "auto" });
    if ("skipped" in gpu) skipped.push(gpu.skipped);
    else info = { name: "webgpu", adapter: gpu.adapterName, reason: gpu.reason };
  }
  if (!info && (name === "tensorflow" || name === "auto")) {
    const pkg = await tryTensorflow();
    if (pkg) info = { name: "tensorflow", reason: `backend: tensorflow (${pkg})` };
    else if (name === "tensorflow") throw new UserError(`--backend=tensorflow: ${TENSORFLOW_SETUP}`);
    else skipped.push("tensorflow (tfjs-node-gpu/tfjs-node not installed)");
  }
  if (!info && (name === "fast" || name === "auto")) {
    const blas = loadBlas();
    if (blas.warning) console.error(`warning: ${blas.warning}`);
    const native = loadNativeOps({ disable: opts.native === false });
    if (native.warning) console.error(`warning: ${native.warning}`);
    await useWasm();
    const parallel = native.parallelSgemm(blas), sgemm = parallel ?? blas.sgemm;
    const dnnl = loadDnnl({ disable: opts.native === false || opts.dnnl === false });
    if (dnnl.warning) console.error(`warning: ${dnnl.warning}`);
    const kernels = registerFastKernels(sgemm, native.ops, dnnl.conv, dnnl.sgemm);
    const lib = blas.source +
      (blas.core ? ` (${blas.core} kernels${blas.coreNote ? `: ${blas.coreNote}` : ""})` : "");
    const gemm = parallel ? `${lib}, split over threads by fastops` : lib;
    info = {
      name: "fast",
      blas: gemm,
      ops: native.ops.source,
      conv: dnnl.source,
      sgemm,
      reason: `backend: fast (wasm + our ${kernels.join(", ")} kernels; sgemm: ${gemm}; ` +
        `helpers: ${native.ops.source}; convolutions: ${dnnl.conv ? dnnl.source : "im2col + sgemm"})`,
    };
  }
  if (!info && name === "wasm") {
    await useWasm();
    info = { name: "wasm", reason: "backend: wasm (plain; no Conv2DBackpropFilter: conv nets cannot train)" };
  }
  if (!info) {
    await tf.setBackend("cpu");
    await tf.ready();
    info = { name: "cpu", reason: "backend: cpu (plain JavaScript; slow)" };
  }
  registerFastGradients();
  if (skipped.length) info.reason += `; skipped ${skipped.join(", ")}`;
  info.line = backendLine(info);
  if (!opts.quiet) console.error(opts.verbose ? info.reason : info.line);
  return info;
}

/**
 * The backend in one short line: `backend: fast (sgemm libopenblas.so.0, oneDNN 2.6.3 convolutions, native
 * helpers, 2 threads)`; the other backends by their reason without the skipped ones.
 */
export function backendLine(info: BackendInfo): string {
  if (info.name === "webgpu") return `backend: webgpu (${info.adapter ?? "GPU adapter"})`;
  if (info.name !== "fast") return info.reason.replace(/; skipped .*$/, "");
  const lib = (info.blas ?? "typescript").split(" ")[0].split("/").pop();
  const dnnl = /\((oneDNN[^)]*)\)/.exec(info.conv ?? "")?.[1];
  const threads = /\((\d+ threads?)\)/.exec(info.ops ?? "")?.[1];
  const parts = [
    `sgemm ${lib}`,
    dnnl ? `${dnnl} convolutions` : "im2col + sgemm convolutions",
    info.ops && info.ops !== "typescript" ? "native helpers" : "TypeScript helpers",
    ...(threads ? [threads] : []),
  ];
  return `backend: fast (${parts.join(", ")})`;
}
