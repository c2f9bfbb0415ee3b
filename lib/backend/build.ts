// Builds a native helper library from C once per source, compiler and CPU, verifies it before every dlopen
// (sha256 written beside it at build time; a missing, truncated or altered file is rebuilt), and turns a failed
// build into a message naming what failed (missing header or library with its Debian package, compiler stderr).
import { createHash } from "node:crypto";

/** One native library to build: its C source, compiler flag sets tried in order, and what it links. */
export interface LibrarySpec {
  /** File name stem, e.g. "fastops" (libraries are `<name>-<16 hex>.so`). */
  name: string;
  /** Path of the C source. */
  source: string;
  /** Flag sets tried in order (the first that compiles wins). */
  flagSets: string[][];
  /** Linker arguments after the source, e.g. ["-lm"]. */
  libs: string[];
}

/** Debian packages that provide a header or a library a build may miss (for the apt-get line). */
export const PACKAGE_OF: Record<string, string> = {
  "dnnl.h": "libdnnl-dev",
  "oneapi/dnnl/dnnl.h": "libdnnl-dev",
  "-ldnnl": "libdnnl-dev",
  "omp.h": "gcc",
  "-lgomp": "gcc",
  "stdint.h": "libc6-dev",
  "stdlib.h": "libc6-dev",
  "string.h": "libc6-dev",
  "math.h": "libc6-dev",
  "-lm": "libc6-dev",
  "-lc": "libc6-dev",
};

/** SHA-256 of a file's bytes (hex). */
export function sha256File(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/** 64-bit FNV-1a of a string, as 16 hex digits (names a build by its inputs). */
export function fnv1a64(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h = ((h ^ BigInt(s.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** The CPU model (-march=native builds are specific to it), or the architecture when unknown. */
function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? Deno.build.arch;
  } catch {
    return Deno.build.arch;
  }
}

/**
 * A failed build explained: the missing header or library and the package that has it, else the compiler's
 * first error line and the tail of its stderr.
 */
export function explainBuildFailure(cc: string, spec: LibrarySpec, stderr: string, code: number): string {
  const header = stderr.match(/fatal error: ([^\s:]+): No such file or directory/)?.[1];
  const lib = stderr.match(/cannot find (-l[\w+.-]+)/)?.[1];
  const missing = header ?? lib;
  if (missing) {
    const pkg = PACKAGE_OF[missing];
    return `${cc} could not build ${spec.source}: ${header ? "header" : "library"} ${missing} not found` +
      (pkg ? `; install it: sudo apt-get install ${pkg}` : "");
  }
  const lines = stderr.trim().split("\n").filter((l) => l.trim());
  const first = lines.find((l) => /error/i.test(l));
  const tail = lines.slice(-3).filter((l) => l !== first);
  const what = [first, ...tail].filter(Boolean).join(" | ") || `exit code ${code}, no message`;
  return `${cc} could not build ${spec.source}: ${what}`;
}

/**
 * Why loading a native library failed, for a warning: no compiler (with the apt-get line), else the first line
 * of the error (a failed build's explanation, or dlopen's message).
 */
export function loadFailureReason(err: unknown, cc: string): string {
  return err instanceof Deno.errors.NotFound
    ? `no C compiler found (${cc}); install one: sudo apt-get install gcc libc6-dev`
    : (err as Error).message.split("\n")[0];
}

/** The build's path, the checksum file beside it, and whether the library there is intact. */
function verified(lib: string): boolean {
  try {
    return Deno.readTextFileSync(`${lib}.sha256`).trim() === sha256File(lib);
  } catch {
    return false; // either file missing or unreadable
  }
}

/** Removes other builds of `name` (best effort: a running process keeps its mapping on Linux). */
function pruneOldBuilds(cacheDir: string, name: string, keep: string): void {
  const re = new RegExp(`^${name}-[0-9a-f]{16}\\.(so|dylib)(\\.sha256)?$`);
  for (const e of Deno.readDirSync(cacheDir)) {
    const path = `${cacheDir}/${e.name}`;
    if (re.test(e.name) && path !== keep && path !== `${keep}.sha256`) {
      try {
        Deno.removeSync(path);
      } catch { /* in use elsewhere or already gone */ }
    }
  }
}

/** The path a build of `spec` with `cc` on this machine has in `cacheDir`. */
export function libraryPath(spec: LibrarySpec, cc: string, cacheDir: string): string {
  const source = Deno.readTextFileSync(spec.source);
  const ext = Deno.build.os === "darwin" ? "dylib" : "so";
  const key = [source, cc, Deno.build.target, cpuModel(), ...spec.libs].join("\0");
  return `${cacheDir}/${spec.name}-${fnv1a64(key)}.${ext}`;
}

/**
 * Compiles `spec` with `cc` into `cacheDir` unless an intact build of the same inputs is there (its sha256
 * matches the one written beside it at build time; otherwise it is rebuilt), and returns the library's path.
 * The library and its checksum are written under temporary names and renamed into place, the library last
 * but one and the checksum last: an interrupted build leaves nothing a later run would load, and a file that
 * is replaced is never modified in place (a process that has it mapped keeps its copy). Throws an Error
 * naming what failed (explainBuildFailure) when no flag set compiles; Deno.errors.NotFound without `cc`.
 */
export function buildLibrary(spec: LibrarySpec, cc: string, cacheDir: string): string {
  const lib = libraryPath(spec, cc, cacheDir);
  if (verified(lib)) return lib;
  Deno.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${lib}.tmp-${Deno.pid}`;
  let failure = "";
  for (const flags of spec.flagSets) {
    const out = new Deno.Command(cc, {
      args: [...flags, "-shared", "-fPIC", "-o", tmp, spec.source, ...spec.libs],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.success) {
      const sum = sha256File(tmp);
      Deno.writeTextFileSync(`${tmp}.sha256`, `${sum}\n`);
      try {
        Deno.removeSync(`${lib}.sha256`); // the old checksum goes first: never a new file under an old sum
      } catch { /* none yet */ }
      Deno.renameSync(tmp, lib);
      Deno.renameSync(`${tmp}.sha256`, `${lib}.sha256`);
      pruneOldBuilds(cacheDir, spec.name, lib);
      return lib;
    }
    // the first (fullest) flag set's failure says most; later sets are fallbacks without optional features
    failure ||= explainBuildFailure(cc, spec, new TextDecoder().decode(out.stderr), out.code);
  }
  try {
    Deno.removeSync(tmp);
  } catch { /* nothing was written */ }
  throw new Error(failure);
}
