// Builds (verified by checksum, like fastops) and loads native/dnnlops.c, the fast backend's convolutions on
// oneDNN (Debian libdnnl-dev), through Deno FFI. Without oneDNN the convolutions stay on im2col + sgemm.
import type * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { buildLibrary, type LibrarySpec, loadFailureReason } from "./build.ts";
import { convGeometry } from "./ops.ts";
import { DEFAULT_CACHE_DIR, passiveOpenMp } from "./native.ts";
import type { Sgemm } from "./blas.ts";

/** An sgemm with the arguments of Sgemm (row-major, as cblas_sgemm) that returns 0, or nonzero if it refused. */
export type NativeSgemm = (...args: Parameters<Sgemm>) => number;

type ConvInfo = tf.backend_util.Conv2DInfo;

/** What a native convolution computes (the `kind` argument of dn_conv). */
export const CONV_KINDS = { forward: 0, backwardData: 1, backwardWeights: 2 } as const;

/**
 * One convolution on NHWC activations and an HWIO filter, by `kind`: forward y = conv(a = x, b = w); backward
 * data dx from (a = dy, b = w); backward weights dw from (a = x, b = dy). Writes `out`; returns 0, or the
 * library's nonzero status when it cannot run this geometry (the caller then uses its own kernel).
 */
export type NativeConv = (
  kind: number,
  ci: ConvInfo,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
) => number;

/** The oneDNN convolutions and where they come from, or why they are not used. */
export interface DnnlLoad {
  conv: NativeConv | null;
  /** oneDNN's sgemm, or null. */
  sgemm: NativeSgemm | null;
  /** Library path and oneDNN version, or "none". */
  source: string;
  warning?: string;
}

/** dnnlops.c as a library to build (needs libdnnl-dev: the header and libdnnl.so). */
export const DNNLOPS: LibrarySpec = {
  name: "dnnlops",
  source: fileURLToPath(new URL("./native/dnnlops.c", import.meta.url)),
  flagSets: [["-O2"]],
  libs: ["-ldnnl"],
};

const SIG = {
  dn_version: { parameters: [], result: "i32" },
  dn_conv: { parameters: ["i32", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
  dn_sgemm: {
    parameters: ["i32", "i32", "i32", "i32", "i32", "buffer", "i32", "buffer", "i32", "f32", "buffer", "i32"],
    result: "i32",
  },
} as const;

/** The 15-int geometry dn_conv takes: N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL, PB, PR, CO. */
export function dnnlGeometry(ci: ConvInfo): Int32Array {
  const p = ci.padInfo;
  return Int32Array.of(ci.batchSize, ...convGeometry(ci), p.bottom, p.right, ci.outChannels);
}

/** The convolutions of the library at `path` (throws if it does not load). */
export function openDnnl(path: string): Omit<DnnlLoad, "warning"> {
  passiveOpenMp(); // libdnnl links libgomp
  const f = Deno.dlopen(path, SIG).symbols;
  const v = f.dn_version();
  const conv: NativeConv = (kind, ci, a, b, out) => f.dn_conv(kind, dnnlGeometry(ci), a, b, out);
  const sgemm: NativeSgemm = (ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) =>
    f.dn_sgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc);
  return {
    conv,
    sgemm,
    source: `${path} (oneDNN ${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100})`,
  };
}

/**
 * The oneDNN convolutions, built on first use with `cc` ($CC, default "cc"); none, with a warning naming what
 * failed and the package to install, when that fails; none without one when `disable` is set. Never throws.
 */
export function loadDnnl(opts: { cc?: string; cacheDir?: string; disable?: boolean } = {}): DnnlLoad {
  if (opts.disable) return { conv: null, sgemm: null, source: "none" };
  const cc = opts.cc ?? Deno.env.get("CC") ?? "cc";
  try {
    return openDnnl(buildLibrary(DNNLOPS, cc, opts.cacheDir ?? DEFAULT_CACHE_DIR));
  } catch (err) {
    return {
      conv: null,
      sgemm: null,
      source: "none",
      warning:
        `${
          loadFailureReason(err, cc)
        }. Convolutions run on im2col + sgemm instead of oneDNN meanwhile (slower: ` +
        "docs/performance.md)",
    };
  }
}
