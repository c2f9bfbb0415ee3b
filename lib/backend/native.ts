// Builds (once per source and machine, cached, verified by checksum before loading) and loads native/fastops.c,
// the multi-threaded C versions of the helpers in ops.ts, through Deno FFI. Without a C compiler, or if the
// build fails, the TypeScript ones are used, with a warning that says what failed.
import { fileURLToPath } from "node:url";
import { buildLibrary, fnv1a64, type LibrarySpec, loadFailureReason } from "./build.ts";
import { checkBias, convGeometry, type FastOps, tsOps } from "./ops.ts";
import type { Blas, Sgemm } from "./blas.ts";

/** The helpers in use and, when they are the TypeScript fallback for a reason worth telling, why. */
export interface NativeLoad {
  ops: FastOps;
  /**
   * The native sgemm driver over `blas` (fastops.c's fo_sgemm: one single-threaded BLAS call per thread on a
   * share of the product), or null when it cannot be used (TypeScript helpers, one thread, or a BLAS library
   * without a thread-count call). Using it sets the library to one thread.
   */
  parallelSgemm: (blas: Blas) => Sgemm | null;
  warning?: string;
}

const noParallelSgemm = () => null;

/** Where built libraries are kept (gitignored). */
export const DEFAULT_CACHE_DIR = fileURLToPath(new URL("../../.cache/native", import.meta.url));
const SOURCE = fileURLToPath(new URL("./native/fastops.c", import.meta.url));

/**
 * Compiler flag sets tried in order: OpenMP threads (`-z nodelete` keeps libgomp mapped until exit: unloading
 * it under its parked threads crashes the process), then single-threaded C (e.g. Apple clang has no OpenMP).
 * `-fno-math-errno` lets sqrtf vectorize (Adam's step: 5x faster); no helper reads errno, and the results are
 * the same.
 */
const FLAG_SETS = [
  ["-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-Wl,-z,nodelete"],
  ["-O3", "-march=native", "-fno-math-errno"],
  ["-O3", "-fno-math-errno"],
];

const SIG = {
  fo_threads: { parameters: [], result: "i32" },
  fo_im2col: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fo_col2im: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fo_bias_act: { parameters: ["buffer", "buffer", "i32", "i32", "i32", "i32", "f32"], result: "void" },
  fo_sum_rows: { parameters: ["buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  fo_binary: { parameters: ["i32", "buffer", "i32", "buffer", "i32", "buffer", "i32"], result: "void" },
  fo_unary: { parameters: ["i32", "buffer", "buffer", "i32", "f32"], result: "void" },
  // deno-fmt-ignore
  fo_batchnorm: {
    parameters: ["buffer", "buffer", "i32", "buffer", "i32", "buffer", "i32", "buffer", "i32", "f32", "buffer", "i32", "i32"],
    result: "void",
  },
  // deno-fmt-ignore
  fo_batchnorm_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32", "f32", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
  },
  // deno-fmt-ignore
  fo_adam: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "f32", "f32", "f32", "f32", "f32", "f32", "f32", "f32", "buffer", "buffer", "buffer"],
    result: "void",
  },
  fo_copy_cols: {
    parameters: ["buffer", "i32", "i32", "buffer", "i32", "i32", "i32", "i32"],
    result: "void",
  },
  fo_avgpool_grad: { parameters: ["buffer", "buffer", "buffer", "i32", "f32"], result: "void" },
  fo_maxpool_grad: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32"], result: "void" },
  // optional: a build of an older fastops.c (bench/profile.ts --ab=fastops) loads without it
  fo_maxpool: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void", optional: true },
  fo_avgpool: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void", optional: true },
  fo_affine_relu: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
    optional: true,
  },
  fo_moments: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fo_moments_grad: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fo_set_parallel_min: { parameters: ["i32"], result: "void" },
  fo_relu_grad: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void" },
  fo_l2_step: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32", "f32"],
    result: "void",
  },
  fo_softmax_ce: { parameters: ["buffer", "buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  fo_softmax_ce_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "void",
  },
  fo_set_sgemm: { parameters: ["pointer"], result: "void" },
  fo_sgemm: {
    parameters: ["i32", "i32", "i32", "i32", "i32", "buffer", "i32", "buffer", "i32", "f32", "buffer", "i32"],
    result: "void",
  },
} as const;

export { fnv1a64 };

/** fastops.c as a library to build. */
export const FASTOPS: LibrarySpec = { name: "fastops", source: SOURCE, flagSets: FLAG_SETS, libs: ["-lm"] };

/**
 * Compiles fastops.c with `cc` into `cacheDir` unless an intact build of the same source, compiler and CPU is
 * there (checked against the sha256 written beside it; a damaged one is rebuilt); returns the library's path.
 * Throws with what failed (see buildLibrary in build.ts).
 */
export function buildNative(cc: string, cacheDir: string): string {
  return buildLibrary(FASTOPS, cc, cacheDir);
}

/**
 * Makes idle OpenMP threads sleep, not spin, unless the user set OMP_WAIT_POLICY; returns the policy in use.
 * libgomp reads it when it loads, so call this before loading a library that links it. Spinning threads take
 * the cores from OpenBLAS's threads, which run between our calls (measured: the reference CNN's training step
 * 63 ms with "passive", 157 ms with "active"), and on a shared machine from everyone else: oneDNN's lenet
 * convolutions took 5-20x longer with libgomp's default policy at load 3 (docs/performance.md).
 */
export function passiveOpenMp(): string {
  if (Deno.env.get("OMP_WAIT_POLICY") === undefined) Deno.env.set("OMP_WAIT_POLICY", "passive");
  return Deno.env.get("OMP_WAIT_POLICY")!;
}

/** The helpers and sgemm driver of the library at `path` (throws if it does not load). */
export function openNative(path: string): Omit<NativeLoad, "warning"> {
  passiveOpenMp();
  const f = Deno.dlopen(path, SIG).symbols;
  const threads = f.fo_threads();
  const ops: FastOps = {
    source: `${path} (${threads} threads)`,
    im2col: (x, cols, ci, n0, n1) => f.fo_im2col(x, cols, Int32Array.from(convGeometry(ci)), n0, n1),
    col2im: (cols, dx, ci, n0, n1) => f.fo_col2im(cols, dx, Int32Array.from(convGeometry(ci)), n0, n1),
    biasAct: (v, bias, n, act, alpha) => {
      checkBias(bias, n);
      f.fo_bias_act(v, bias, bias ? bias.length : 0, v.length / n, n, act, alpha);
    },
    sumRows: (x, out, cols, mean) => f.fo_sum_rows(x, out, x.length / cols, cols, mean ? 1 : 0),
    binary: (op, a, b, out) => {
      const n = out.length;
      if (n % a.length !== 0 || n % b.length !== 0 || (a.length !== n && b.length !== n)) {
        throw new RangeError(`fast backend: operands of ${a.length} and ${b.length} for ${n} outputs`);
      }
      f.fo_binary(op, a, a.length, b, b.length, out, n);
    },
    unary: (kind, x, out, alpha) => f.fo_unary(kind, x, out, out.length, alpha),
    batchNorm: (x, mean, variance, offset, scale, eps, out, channels) => {
      for (const p of [mean, variance, offset, scale]) {
        if (p && p.length !== 1 && p.length !== channels) {
          throw new RangeError(
            `fast backend: batch-norm parameter of length ${p.length} for ${channels} channels`,
          );
        }
      }
      f.fo_batchnorm(
        x,
        mean,
        mean.length,
        variance,
        variance.length,
        offset,
        offset ? offset.length : 0,
        scale,
        scale ? scale.length : 0,
        eps,
        out,
        out.length,
        channels,
      );
    },
    batchNormGrad: (dy, x, mean, variance, scale, eps, o) => {
      const c = mean.length;
      const perChannel = [variance, o.dMean, o.dVariance, o.dScale, o.dOffset];
      if (
        perChannel.some((p) => p.length !== c) || (scale && scale.length !== 1 && scale.length !== c) ||
        x.length % c !== 0 || dy.length !== x.length || o.dx.length !== x.length
      ) {
        throw new RangeError(`fast backend: batch-norm gradient of ${x.length} values with ${c} channels`);
      }
      f.fo_batchnorm_grad(
        dy,
        x,
        mean,
        variance,
        scale,
        scale ? scale.length : 0,
        eps,
        o.dx,
        o.dMean,
        o.dVariance,
        o.dScale,
        o.dOffset,
        x.length,
        c,
      );
    },
    adam: (t, o, h) => {
      const n = t.w.length;
      if ([t.m, t.v, t.g, o.w, o.m, o.v].some((a) => a.length !== n)) {
        throw new RangeError(`fast backend: Adam step over arrays of different lengths (${n} weights)`);
      }
      f.fo_adam(
        t.w,
        t.m,
        t.v,
        t.g,
        n,
        h.beta1,
        h.beta2,
        1 - h.beta1,
        1 - h.beta2,
        h.c1,
        h.c2,
        h.lr,
        h.eps,
        o.w,
        o.m,
        o.v,
      );
    },
    copyCols: (src, srcW, srcCol, dst, dstW, dstCol, width, rows) => {
      if (
        srcCol + width > srcW || dstCol + width > dstW || rows * srcW > src.length || rows * dstW > dst.length
      ) {
        throw new RangeError(
          `fast backend: copy of ${rows}x${width} out of bounds (${srcW} -> ${dstW} columns)`,
        );
      }
      f.fo_copy_cols(src, srcW, srcCol, dst, dstW, dstCol, width, rows);
    },
    maxPoolGrad: (x, dy, dx, ci) =>
      f.fo_maxpool_grad(x, dy, dx, Int32Array.from(convGeometry(ci)), ci.batchSize),
    maxPool: f.fo_maxpool === null
      ? undefined
      : (x, y, ci) => f.fo_maxpool!(x, y, Int32Array.from(convGeometry(ci)), ci.batchSize),
    affineRelu: f.fo_affine_relu === null ? undefined : (x, scale, shift, out, channels) => {
      if (scale.length !== channels || shift.length !== channels || x.length !== out.length) {
        throw new RangeError(
          `fast backend: affine + relu of ${scale.length}/${shift.length} for ${channels} channels`,
        );
      }
      f.fo_affine_relu!(x, scale, shift, out, out.length, channels);
    },
    avgPool: f.fo_avgpool === null
      ? undefined
      : (x, y, ci) => f.fo_avgpool!(x, y, Int32Array.from(convGeometry(ci)), ci.batchSize),
    avgPoolGrad: (dy, dx, ci, mult) =>
      f.fo_avgpool_grad(dy, dx, Int32Array.from(convGeometry(ci)), ci.batchSize, mult),
    moments: (x, mean, variance) => {
      const c = mean.length;
      if (variance.length !== c || c === 0 || x.length % c !== 0) {
        throw new RangeError(`fast backend: moments of ${x.length} values over ${c} channels`);
      }
      f.fo_moments(x, mean, variance, x.length / c, c);
    },
    momentsGrad: (x, mean, dmv, dx) => {
      const c = mean.length;
      if (dmv.length !== 2 * c || dx.length !== x.length || c === 0 || x.length % c !== 0) {
        throw new RangeError(`fast backend: moments gradient of ${x.length} values over ${c} channels`);
      }
      f.fo_moments_grad(x, mean, dmv, dx, x.length / c, c);
    },
    setParallelMin: (n) => f.fo_set_parallel_min(n),
    reluGrad: (dy, y, out) => {
      if (y.length !== dy.length || out.length !== dy.length) {
        throw new RangeError(`fast backend: ReLU gradient of ${dy.length} values from ${y.length} outputs`);
      }
      f.fo_relu_grad(dy, y, out, dy.length);
    },
    l2Step: (x, delta, g, out, d, step, eps) => {
      const rows = x.length / d;
      if (!Number.isInteger(rows) || [delta, g, out].some((a) => a.length !== x.length)) {
        throw new RangeError(`fast backend: L2 step over ${x.length} values in rows of ${d}`);
      }
      f.fo_l2_step(x, delta, g, out, rows, d, step, eps);
    },
    softmaxCE: (p, x, loss, cols, mean) => {
      const rows = x.length / cols;
      if (p.length !== x.length || !Number.isInteger(rows) || loss.length !== (mean ? 1 : rows)) {
        throw new RangeError(`fast backend: softmax cross-entropy of ${x.length} logits in rows of ${cols}`);
      }
      f.fo_softmax_ce(p, x, loss, rows, cols, mean ? 1 : 0);
    },
    softmaxCEGrad: (dy, p, x, dx, cols, mean) => {
      const rows = x.length / cols;
      if (
        p.length !== x.length || dx.length !== x.length || !Number.isInteger(rows) ||
        dy.length !== (mean ? 1 : rows)
      ) {
        throw new RangeError(
          `fast backend: softmax cross-entropy gradient of ${x.length} logits in rows of ${cols}`,
        );
      }
      f.fo_softmax_ce_grad(dy, p, x, dx, rows, cols, mean ? 1 : 0);
    },
  };
  const parallelSgemm = (blas: Blas): Sgemm | null => {
    if (threads < 2 || !blas.pointer || !blas.setThreads) return null;
    f.fo_set_sgemm(blas.pointer);
    blas.setThreads(1);
    return (ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) =>
      f.fo_sgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc);
  };
  return { ops, parallelSgemm };
}

/**
 * The native helpers, built on first use with `cc` ($CC, default "cc"); the TypeScript ones with a warning when
 * that fails (no compiler, no --allow-run/--allow-ffi), or without one when `disable` is set. Never throws.
 */
export function loadNativeOps(
  opts: { cc?: string; cacheDir?: string; disable?: boolean } = {},
): NativeLoad {
  if (opts.disable) return { ops: tsOps, parallelSgemm: noParallelSgemm };
  const cc = opts.cc ?? Deno.env.get("CC") ?? "cc";
  try {
    return openNative(buildNative(cc, opts.cacheDir ?? DEFAULT_CACHE_DIR));
  } catch (err) {
    const why = loadFailureReason(err, cc);
    return {
      ops: tsOps,
      parallelSgemm: noParallelSgemm,
      warning: `${why}. The fast backend's im2col/col2im/bias/sum helpers run in single-threaded ` +
        "TypeScript meanwhile (training about 1.5x slower)",
    };
  }
}
