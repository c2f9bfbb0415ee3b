// The webgpu backend: finds Deno's WebGPU adapter, tells a hardware GPU from a software rasterizer, starts tfjs.
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../util/errors.ts";

/** The adapter fields we read (WebGPU's GPUAdapterInfo; all optional so a test can hand in a fake). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** True for a fallback (software) adapter; Deno 2.9 reports it here, older runtimes not at all. */
  isFallbackAdapter?: boolean;
}

/** The part of `navigator.gpu` that initWebgpu() uses (injectable in tests). */
export interface GpuLike {
  requestAdapter(
    options?: { powerPreference?: "low-power" | "high-performance" },
  ): Promise<{ info: AdapterInfoLike } | null>;
}

/** What initWebgpu() found and started. */
export interface WebgpuInfo {
  /** The adapter's own name (its description, else vendor/architecture/device). */
  adapterName: string;
  /** True for a software rasterizer (llvmpipe, lavapipe, softpipe, SwiftShader, WARP) or a fallback adapter. */
  isSoftware: boolean;
  /** The adapter's info fields as reported. */
  adapter: AdapterInfoLike;
  /** The start-up line: backend and adapter, and a warning when the adapter is a software one. */
  reason: string;
}

/** Why `auto` did not pick webgpu (a phrase for the start-up line's "skipped ..." list). */
export interface WebgpuSkip {
  skipped: string;
}

/** Options of initWebgpu(). */
export interface WebgpuOptions {
  /**
   * `auto`'s mode: return a WebgpuSkip instead of starting on a software adapter, and instead of throwing when
   * there is no adapter. Default false (`--backend=webgpu`: any adapter, a UserError when there is none).
   */
  hardwareOnly?: boolean;
  /** The WebGPU entry point (default `navigator.gpu`). */
  gpu?: GpuLike | null;
  /** Whether the machine has a GPU device node (default: hasGpuDeviceNode()); only asked when hardwareOnly. */
  hasGpuDevice?: () => boolean;
}

/** Adapter names of software rasterizers (Mesa's llvmpipe/lavapipe/softpipe, Google's SwiftShader, MS WARP). */
const SOFTWARE_ADAPTER =
  /llvmpipe|lavapipe|softpipe|swrast|swiftshader|software|basic render driver|\bwarp\b/i;

/** How to get an adapter (the UserError of `--backend=webgpu` when there is none). */
export const WEBGPU_SETUP =
  "no WebGPU adapter found (Deno's navigator.gpu.requestAdapter() returned null). " +
  "A GPU needs its Vulkan driver (Metal on macOS, Vulkan or DirectX 12 on Windows): NVIDIA's proprietary " +
  "driver ships one (in a container, enable the graphics capability: NVIDIA_DRIVER_CAPABILITIES=all or " +
  "compute,utility,graphics); AMD and Intel GPUs, and Mesa's software adapter for tests (slower than the CPU " +
  "backends): `apt-get install mesa-vulkan-drivers libvulkan1`. Check with `vulkaninfo --summary` " +
  "(apt-get install vulkan-tools). Or run on the CPU with --backend=fast. See docs/gpu.md";

/** The adapter's name: its description, else its vendor, architecture and device, else "unnamed adapter". */
export function adapterName(info: AdapterInfoLike): string {
  if (info.description?.trim()) return info.description.trim();
  const parts = [info.vendor, info.architecture, info.device].filter((p) => p && p.trim() && p !== "0");
  return parts.length ? parts.join(" ") : "unnamed adapter";
}

/** True when the adapter is a software rasterizer running on the CPU (or says it is a fallback adapter). */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter === true) return true;
  return SOFTWARE_ADAPTER.test([info.description, info.vendor, info.architecture, info.device].join(" "));
}

/**
 * True when a GPU is reachable by a driver at all: on Linux a DRM render node (/dev/dri/renderD*, Mesa and
 * AMD/Intel drivers), /dev/nvidia0 (NVIDIA's driver) or /dev/dxg (WSL2); elsewhere always true. Lets `auto` skip
 * the WebGPU probe, which loads Mesa and LLVM (about 60 MiB resident) only to find the software adapter.
 */
export function hasGpuDeviceNode(): boolean {
  if (Deno.build.os !== "linux") return true;
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (exists("/dev/nvidia0") || exists("/dev/dxg")) return true;
  try {
    for (const e of Deno.readDirSync("/dev/dri")) if (e.name.startsWith("renderD")) return true;
  } catch { /* no /dev/dri */ }
  return false;
}

/**
 * Makes a synchronous read (dataSync, arraySync, bufferSync) of a tensor held on the GPU fail with a message
 * that says what to do: tfjs's webgpu readSync draws through an OffscreenCanvas, which Deno does not have, and
 * fails with "Cannot read properties of null (reading 'clearRect')". Values already on the CPU still read.
 */
function explainSyncReads(backend: tf.KernelBackend): void {
  const b = backend as tf.KernelBackend & {
    readSync(id: object): unknown;
    hasReadSyncWarned?: boolean;
    ourReadSync?: true;
  };
  if (b.ourReadSync) return;
  b.hasReadSyncWarned = true; // its warning ("performance ... is poor") would precede our error and mislead
  const readSync = b.readSync.bind(b);
  b.readSync = (id: object) => {
    try {
      return readSync(id);
    } catch (err) {
      throw new Error(
        "a synchronous read (dataSync/arraySync/bufferSync) of a tensor on the webgpu backend: Deno cannot " +
          "read GPU memory synchronously (tfjs's webgpu readSync needs an OffscreenCanvas). Read it with " +
          `\`await t.data()\` / \`await t.array()\` instead (tfjs said: ${(err as Error).message})`,
      );
    }
  };
  b.ourReadSync = true;
}

/**
 * Finds the WebGPU adapter and makes tfjs's webgpu backend (@tensorflow/tfjs-backend-webgpu) the active one.
 * With `hardwareOnly` (the `auto` selection) a missing GPU device, a missing adapter or a software adapter is a
 * WebgpuSkip; otherwise a missing adapter is a UserError saying how to get a driver, and a software adapter runs
 * with a warning in `reason`.
 */
export async function initWebgpu(opts: WebgpuOptions = {}): Promise<WebgpuInfo | WebgpuSkip> {
  const hardwareOnly = opts.hardwareOnly ?? false;
  if (hardwareOnly && !(opts.hasGpuDevice ?? hasGpuDeviceNode)()) {
    return { skipped: "webgpu (no GPU device: no /dev/dri/renderD*, /dev/nvidia0 or /dev/dxg)" };
  }
  const gpu = opts.gpu !== undefined ? opts.gpu : (navigator as { gpu?: GpuLike }).gpu ?? null;
  if (!gpu) {
    if (hardwareOnly) return { skipped: "webgpu (this Deno has no navigator.gpu)" };
    throw new UserError(
      `--backend=webgpu: this Deno (${Deno.version.deno}) has no navigator.gpu; use Deno >= 2 (README), ` +
        "or --backend=fast",
    );
  }
  // the adapter tfjs's webgpu backend will ask for: high-performance unless its low-power flag was set (a flag
  // that exists only once the package is loaded, so read from the flags set so far)
  const power = tf.env().getFlags()["WEBGPU_USE_LOW_POWER_GPU"] ? "low-power" : "high-performance";
  let found: { info: AdapterInfoLike } | null;
  try {
    found = await gpu.requestAdapter({ powerPreference: power });
  } catch (err) {
    if (hardwareOnly) return { skipped: `webgpu (requestAdapter failed: ${(err as Error).message})` };
    throw new UserError(
      `--backend=webgpu: requestAdapter failed (${(err as Error).message}); ${WEBGPU_SETUP}`,
    );
  }
  if (!found) {
    if (hardwareOnly) return { skipped: "webgpu (no WebGPU adapter)" };
    throw new UserError(`--backend=webgpu: ${WEBGPU_SETUP}`);
  }
  const adapter: AdapterInfoLike = {
    vendor: found.info.vendor,
    architecture: found.info.architecture,
    device: found.info.device,
    description: found.info.description,
    isFallbackAdapter: found.info.isFallbackAdapter,
  };
  const name = adapterName(adapter), isSoftware = isSoftwareAdapter(adapter);
  if (hardwareOnly && isSoftware) {
    return { skipped: `webgpu (software adapter "${name}"; for the GPU's own, see docs/gpu.md)` };
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) {
    throw new UserError(
      `--backend=webgpu: the adapter "${name}" was found but tfjs's webgpu backend failed to start on it ` +
        "(its warning is printed above); use --backend=fast, and see docs/gpu.md",
    );
  }
  await tf.ready();
  explainSyncReads(tf.backend());
  const reason = `backend: webgpu (adapter: ${name}` +
    (isSoftware
      ? "; a software rasterizer on the CPU: correct but far slower than --backend=fast, for tests only)"
      : ")");
  return { adapterName: name, isSoftware, adapter, reason };
}

/** GFLOP/s of an n x n x n float32 tf.matMul on the active backend, read back with `await data()` (median). */
export async function matMulGflops(n = 1024, repeats = 5): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2) as tf.Tensor2D;
  const once = async () => {
    const s = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    return (performance.now() - s) / 1000;
  };
  await once();
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) t.push(await once());
  tf.dispose([a, b]);
  return (2 * n ** 3) / t.sort((x, y) => x - y)[Math.floor(t.length / 2)] / 1e9;
}
