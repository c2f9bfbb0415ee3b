// Single-precision GEMM: OpenBLAS / Accelerate `cblas_sgemm` through Deno FFI, or a portable TypeScript fallback.

/** C[M,N] = A[M,K] (or A^T) x B[K,N] (or B^T) + beta * C, row-major, on Float32Array views (no copies). */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

/** A loaded GEMM implementation and where it came from. */
export interface Blas {
  sgemm: Sgemm;
  /** Library path, or "typescript" for the portable fallback. */
  source: string;
  /** Address of the library's cblas_sgemm (null for the fallback), for native code to call directly. */
  pointer: Deno.PointerValue;
  /** Sets the library's thread count (OpenBLAS's openblas_set_num_threads); null when it has no such call. */
  setThreads: ((n: number) => void) | null;
  /** OpenBLAS's kernel set (openblas_get_corename), e.g. "SkylakeX"; null when the library does not say. */
  core: string | null;
  /** Set when OpenBLAS misdetected the CPU and the kernel set was chosen from the CPU's flags instead. */
  coreNote?: string;
  /** Why no native library was used (set only for the fallback). */
  warning?: string;
}

/** Library names tried in order (Debian/Ubuntu OpenBLAS, generic names, macOS Accelerate). */
export const BLAS_CANDIDATES = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.so",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/System/Library/Frameworks/Accelerate.framework/Accelerate",
];

const SIG = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
} as const;

/** The function's address, and OpenBLAS's thread-count setter when the library has it. */
const EXTRA = {
  cblas_sgemm: { type: "pointer" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
} as const;

/** Used to read which kernel set OpenBLAS picked at load time. */
const CORE = { openblas_get_corename: { parameters: [], result: "pointer", optional: true } } as const;

/** OpenBLAS kernel sets that use AVX-512 / at least AVX2+FMA (x86-64 names of OpenBLAS 0.3.x). */
const AVX512_CORES = ["SkylakeX", "Cooperlake", "SapphireRapids", "Zen4"];
const AVX2_CORES = [...AVX512_CORES, "Haswell", "Zen"];

/**
 * The OpenBLAS kernel set to force when the one it detected (`core`) cannot use the vector units the CPU has
 * (`flags`: the x86 flags of /proc/cpuinfo), else null. OpenBLAS 0.3.21 (Debian 12) does not know recent
 * Xeons and falls back to "Prescott" (SSE3): 37-67 GFLOP/s on 2 cores where "SkylakeX" gives 300-350.
 */
export function betterCoreType(core: string | null, flags: ReadonlySet<string>): string | null {
  if (core === null) return null;
  const avx512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].every((f) => flags.has(f));
  if (avx512 && !AVX512_CORES.includes(core)) return "SkylakeX";
  if (!avx512 && flags.has("avx2") && flags.has("fma") && !AVX2_CORES.includes(core)) return "Haswell";
  return null;
}

/** The CPU's flags from /proc/cpuinfo (Linux x86); empty elsewhere or without read permission. */
function cpuFlags(): Set<string> {
  try {
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) => l.startsWith("flags"));
    return new Set(line ? line.slice(line.indexOf(":") + 1).trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** The kernel set the loaded OpenBLAS uses, or null for libraries without openblas_get_corename. */
function coreName(path: string): string | null {
  const lib = Deno.dlopen(path, CORE);
  const p = lib.symbols.openblas_get_corename?.();
  const name = p ? new Deno.UnsafePointerView(p).getCString() : null;
  lib.close();
  return name;
}

/**
 * Reloads OpenBLAS with OPENBLAS_CORETYPE set when it misdetected the CPU (see betterCoreType); `lib` is the
 * caller's open handle, closed here so the library unloads and re-initializes. A user's OPENBLAS_CORETYPE is
 * never overridden. Returns the reopened handle (or `lib` unchanged) and a note for the backend line.
 */
function fixCoreType<T extends Deno.ForeignLibraryInterface>(
  path: string,
  lib: Deno.DynamicLibrary<T>,
  sig: T,
): { lib: Deno.DynamicLibrary<T>; core: string | null; note?: string } {
  const core = coreName(path);
  if (Deno.env.get("OPENBLAS_CORETYPE") !== undefined) return { lib, core };
  const better = betterCoreType(core, cpuFlags());
  if (better === null) return { lib, core };
  lib.close();
  Deno.env.set("OPENBLAS_CORETYPE", better);
  const reopened = Deno.dlopen(path, sig), now = coreName(path);
  const note = now === better
    ? `OpenBLAS took this CPU for ${core}; set OPENBLAS_CORETYPE=${better} from its flags`
    : `OpenBLAS took this CPU for ${core} and could not be reloaded; run with OPENBLAS_CORETYPE=${better} ` +
      `for several times the GEMM speed`;
  return { lib: reopened, core: now, note };
}

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/** Portable row-major GEMM (i-k-j order, cache friendly); about 1-3 GFLOP/s. */
export const tsSgemm: Sgemm = (ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) => {
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else if (beta !== 1) { for (let j = 0; j < n; j++) c[ci + j] *= beta; }
    for (let p = 0; p < k; p++) {
      const av = ta ? a[p * lda + i] : a[i * lda + p];
      if (av === 0) continue;
      if (tb) { for (let j = 0; j < n; j++) c[ci + j] += av * b[j * ldb + p]; }
      else {
        const bp = p * ldb;
        for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
      }
    }
  }
};

/**
 * Opens the first BLAS library that loads (or `path` when given). Needs --allow-ffi. Never throws: without a
 * library (or without FFI permission) it returns the TypeScript fallback with a warning.
 */
export function loadBlas(opts: { path?: string } = {}): Blas {
  const errors: string[] = [];
  for (const path of opts.path ? [opts.path] : BLAS_CANDIDATES) {
    try {
      const { lib, core, note } = fixCoreType(path, Deno.dlopen(path, SIG), SIG);
      const f = lib.symbols.cblas_sgemm;
      const sgemm: Sgemm = (ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) =>
        f(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
      const extra = Deno.dlopen(path, EXTRA).symbols;
      const set = extra.openblas_set_num_threads;
      const setThreads = set ? (n: number) => set(n) : null;
      return { sgemm, source: path, pointer: extra.cblas_sgemm, setThreads, core, coreNote: note };
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return {
    sgemm: tsSgemm,
    source: "typescript",
    pointer: null,
    setThreads: null,
    core: null,
    warning: "no BLAS library found (tried " + (opts.path ?? "libopenblas.so.0, Accelerate") +
      "); using the slow TypeScript GEMM. Install OpenBLAS: sudo apt-get install libopenblas0-pthread",
  };
}
