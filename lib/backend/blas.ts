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
      const lib = Deno.dlopen(path, SIG);
      const f = lib.symbols.cblas_sgemm;
      const sgemm: Sgemm = (ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) =>
        f(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
      const extra = Deno.dlopen(path, EXTRA).symbols;
      const set = extra.openblas_set_num_threads;
      return { sgemm, source: path, pointer: extra.cblas_sgemm, setThreads: set ? (n) => set(n) : null };
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return {
    sgemm: tsSgemm,
    source: "typescript",
    pointer: null,
    setThreads: null,
    warning: "no BLAS library found (tried " + (opts.path ?? "libopenblas.so.0, Accelerate") +
      "); using the slow TypeScript GEMM. Install OpenBLAS: sudo apt-get install libopenblas0-pthread",
  };
}
