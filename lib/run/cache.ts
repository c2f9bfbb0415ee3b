// Content-addressed cache of built artifacts (trained models, datasets) under out/cache/<kind>/<hash>/.
// An entry is a directory with a manifest of sha256 checksums, built in a temp dir and renamed into place under a
// per-entry lock; code identity comes from hashing the source files (sourceHash), not a hand-set version.
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL } from "node:url";
import { osReason } from "../util/errors.ts";
import { describeHolder, isLock, type Lock, type LockInfo, tryLock, writeJsonAtomic } from "./output.ts";

type Fn = (...args: unknown[]) => unknown;

function stringify(v: unknown, fns: boolean): string {
  if (fns && typeof v === "function") return JSON.stringify(`[function ${(v as Fn).toString()}]`);
  if (Array.isArray(v)) return `[${v.map((x) => stringify(x, fns)).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) =>
        `${JSON.stringify(k)}:${stringify((v as Record<string, unknown>)[k], fns)}`
      )
        .join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** JSON with sorted object keys, so equal keys hash equally. */
export function stableStringify(v: unknown): string {
  return stringify(v, false);
}

async function sha256(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const h = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash that names an entry: sha256 of {kind, key}, 16 hex digits. */
export async function cacheKey(kind: string, key: unknown): Promise<string> {
  return (await sha256(stableStringify({ kind, key }))).slice(0, 16);
}

/**
 * sha256 (32 hex digits) of `v` as stable JSON, with each function replaced by its source text (`fn.toString()`),
 * so a value such as a relabelling rule can be part of a cache key. Closed-over variables are not seen.
 */
export async function valueHash(v: unknown): Promise<string> {
  return (await sha256(stringify(v, true))).slice(0, 32);
}

// ---------------------------------------------------------------------------------------------------------
// Code identity.

const IMPORT_RES = [
  /\bfrom\s*["']([^"'\n]+)["']/g, // import ... from "x", export ... from "x"
  /\bimport\s*["']([^"'\n]+)["']/g, // import "x"
  /\bimport\s*\(\s*["']([^"'\n]+)["']\s*[,)]/g, // import("x")
];
/** `new URL("./x", import.meta.url)`: a file the module reads (native C source, or a data or memo file). */
const URL_RE = /\bnew\s+URL\(\s*["']([^"'\n]+)["']\s*,\s*import\.meta\.url\s*\)/g;
/**
 * The files named with `new URL(...)` that count as code: sources a module compiles or loads (C, headers,
 * scripts, wasm). A data, memo or cache file (`../../.cache/checksums.json`, a .npy, a .json) never does: it
 * changes whenever data is checksummed, and a code hash that followed it would invalidate every cached model.
 */
export const CODE_FILE = /\.(?:[cm]?[jt]sx?|c|h|cc|cpp|hpp|py|wasm)$/;

/**
 * The relative specifiers a module's text imports (static, re-export, side effect, literal dynamic import) or
 * names as `new URL("./x", import.meta.url)` when that is a code file (CODE_FILE: the native kernels' C source,
 * not a data or memo file).
 */
export function localImports(text: string): string[] {
  const out = new Set<string>();
  const local = (s: string) => s.startsWith("./") || s.startsWith("../");
  for (const re of IMPORT_RES) for (const m of text.matchAll(re)) if (local(m[1])) out.add(m[1]);
  for (const m of text.matchAll(URL_RE)) {
    if (local(m[1]) && CODE_FILE.test(m[1].split(/[?#]/)[0])) out.add(m[1]);
  }
  return [...out].sort();
}

const moduleMemo = new Map<string, Promise<{ sum: string; deps: string[] } | null>>();
const hashMemo = new Map<string, Promise<string>>();

function readModule(href: string): Promise<{ sum: string; deps: string[] } | null> {
  let p = moduleMemo.get(href);
  if (!p) {
    p = (async () => {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(new URL(href));
      } catch (e) {
        // an import named in a comment, or a URL of a directory
        if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) return null;
        throw e;
      }
      const deps = localImports(new TextDecoder().decode(bytes)).map((s) =>
        new URL(s, href).href.split(/[?#]/)[0]
      );
      return { sum: await sha256(bytes), deps };
    })();
    moduleMemo.set(href, p);
  }
  return p;
}

const toHref = (m: string | URL) =>
  m instanceof URL ? m.href : /^[a-z]+:\/\//i.test(m) ? m : pathToFileURL(resolve(m)).href;

/**
 * Code identity: sha256 (32 hex digits) over the content of `modules` and every local file they import or
 * reference, transitively (relative specifiers of static imports, re-exports, literal dynamic imports and
 * `new URL("./x", import.meta.url)` of a code file; npm: and bare specifiers, and data files, are skipped). Files
 * are taken in the order of their paths relative to their common directory, so
 * the hash does not depend on where the clone lives. Memoized per process: it describes the code that runs.
 */
export function sourceHash(modules: (string | URL)[]): Promise<string> {
  const roots = [...new Set(modules.map(toHref))].sort();
  const memoKey = roots.join("\n");
  let p = hashMemo.get(memoKey);
  if (!p) {
    p = (async () => {
      const seen = new Map<string, string>();
      const queue = [...roots];
      while (queue.length) {
        const href = queue.shift()!;
        if (seen.has(href)) continue;
        const mod = await readModule(href);
        if (!mod) {
          if (roots.includes(href)) throw new Error(`sourceHash(): module not found: ${href}`);
          continue;
        }
        seen.set(href, mod.sum);
        queue.push(...mod.deps);
      }
      const paths = [...seen.keys()].map((h) => fromFileUrl(h));
      let base = dirname(paths[0]);
      while (!paths.every((f) => f.startsWith(base.endsWith("/") ? base : base + "/"))) base = dirname(base);
      const lines = [...seen].map(([h, sum]) => `${relative(base, fromFileUrl(h))}\0${sum}`).sort();
      return (await sha256(lines.join("\n"))).slice(0, 32);
    })();
    hashMemo.set(memoKey, p);
  }
  return p;
}

const fileMemo = new Map<string, Promise<string>>();

/**
 * Data identity: sha256 (32 hex digits) of a file's bytes, computed once per process for each (path, size,
 * mtime), so a cache key can say which bytes were read, not just a dataset name.
 */
export async function fileHash(path: string): Promise<string> {
  const st = await Deno.stat(path);
  const k = `${path}\0${st.size}\0${st.mtime?.getTime()}`;
  let p = fileMemo.get(k);
  if (!p) {
    p = Deno.readFile(path).then(sha256).then((h) => h.slice(0, 32));
    fileMemo.set(k, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Entries.

interface Manifest {
  kind: string;
  key: unknown;
  code?: string | null;
  files: Record<string, string>;
  createdAt: string;
}

/** Whether a directory holds a complete entry, and if not, why not (inspectEntry()). */
export type Inspection = { ok: true } | { ok: false; reason: string };

/** Who an entry says it is: the kind, key and code written into its manifest. */
export interface EntryIdentity {
  kind: string;
  key: unknown;
  code: string | null;
}

/**
 * Whether `dir` holds a complete entry (a readable manifest whose files are all there with their checksums),
 * and if not, why not. With `expect`, the manifest must also name that kind, key and code (a shard's part is
 * checked so: one copied from another artifact or built by other code is refused, whatever its directory).
 */
export async function inspectEntry(dir: string, expect?: EntryIdentity): Promise<Inspection> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, "manifest.json"));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return { ok: false, reason: `unreadable: ${osReason(e) ?? e}` };
    const exists = await Deno.stat(dir).then(() => true, () => false);
    return { ok: false, reason: exists ? "incomplete: missing manifest" : "absent" };
  }
  let m: Manifest;
  try {
    m = JSON.parse(text);
    if (!m || typeof m.files !== "object") throw new Error();
  } catch {
    return { ok: false, reason: "corrupt: unreadable manifest.json" };
  }
  if (!Object.keys(m.files).length) return { ok: false, reason: "incomplete: the manifest lists no files" };
  if (expect) {
    const got = { kind: m.kind, key: m.key, code: m.code ?? null };
    if (stableStringify(got) !== stableStringify(expect)) {
      return { ok: false, reason: "foreign: its manifest names another kind, key or code" };
    }
  }
  for (const [name, sum] of Object.entries(m.files)) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(join(dir, name));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { ok: false, reason: `incomplete: missing ${name}` };
      return { ok: false, reason: `unreadable: ${name} (${osReason(e) ?? e})` };
    }
    if ((await sha256(bytes)) !== sum) return { ok: false, reason: `corrupt: checksum mismatch in ${name}` };
  }
  return { ok: true };
}

/** "absent" made more precise: an entry of the same kind and key built by other code (opts.code). */
async function absentReason(root: string, key: unknown, code: string): Promise<string> {
  const want = stableStringify(key);
  try {
    for (const e of Deno.readDirSync(root)) {
      if (!e.isDirectory || e.name.startsWith(".")) continue;
      try {
        const m: Manifest = JSON.parse(await Deno.readTextFile(join(root, e.name, "manifest.json")));
        if (m.code && m.code !== code && stableStringify(m.key) === want) {
          return `absent; an entry for this key was built by other code (${m.code.slice(0, 8)}, now ${
            code.slice(0, 8)
          })`;
        }
      } catch { /* not an entry */ }
    }
  } catch { /* no root yet */ }
  return "absent";
}

// Temp dirs are named .<entry name>.<host>-<pid>-<random>.tmp (the name: a hash, or a shard's part name), so a
// later call can tell a dead process's leftovers.
const HOST_TAG = (() => {
  let h = 0x811c9dc5;
  for (const c of Deno.hostname()) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
})();
const TMP_RE = /^\.[0-9a-z-]+\.([0-9a-f]{8})-(\d+)-[0-9a-f]+\.tmp$/;
const OLD_TMP_RE = /^\.[0-9a-f]{16}\.[0-9a-f-]{36}\.tmp$/; // the format before pids were in the name

function pidAlive(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

/** Removes temp dirs of dead processes (this host) and of the old name format older than an hour. */
async function removeStaleTemps(root: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = TMP_RE.exec(e.name);
    const path = join(root, e.name);
    let stale = m !== null && m[1] === HOST_TAG && !pidAlive(Number(m[2]));
    if (!m && OLD_TMP_RE.test(e.name)) {
      const st = await Deno.stat(path).catch(() => null);
      stale = st !== null && Date.now() - (st.mtime?.getTime() ?? 0) > 3600_000;
    }
    if (stale) await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

let warned = false;
function warnUnwritable(root: string, err: unknown): void {
  if (warned) return;
  warned = true;
  const reason = osReason(err) ?? (err instanceof Error ? err.message : String(err));
  console.error(`warning: cannot write the cache at ${root} (${reason}); this run continues without caching`);
}

/** An error from the file system or OS (disk full, read-only, permission), as opposed to a bug in `save`. */
const isEnvFault = (err: unknown) => osReason(err) !== null;

/** How to build, store and read back one artifact. */
export interface CacheOptions<T> {
  /** false bypasses the cache (always builds, never writes). */
  enabled: boolean;
  /** Cache root (default out/cache). */
  root?: string;
  build: () => Promise<T> | T;
  /** Writes the value's files into `dir` (a fresh temp directory). */
  save: (dir: string, value: T) => Promise<void>;
  load: (dir: string) => Promise<T>;
  /** Print hit/miss lines (default true). */
  verbose?: boolean;
  /**
   * Code identity of the builder (e.g. `await sourceHash([...])`). Part of the entry's hash like `key`, but kept
   * apart in the manifest so a miss can say "built by other code".
   */
  code?: string;
}

/** The directory name of the entry for (kind, key) built by `code` (CacheOptions.code): what cached() uses. */
export function entryHash(kind: string, key: unknown, code?: string): Promise<string> {
  return cacheKey(kind, code === undefined ? key : { key, code });
}

/**
 * Returns the cached artifact for (kind, key), or builds, stores and returns it. A corrupt or incomplete entry
 * is rebuilt (the miss line says why). Concurrent processes asking for one entry build it once: the others wait
 * on `<root>/<kind>/<hash>.lock` and then read it. An unwritable cache (read-only, full disk) gives one warning
 * per process and the built value is still returned. Temp dirs of dead processes are removed.
 */
export async function cached<T>(
  kind: string,
  key: unknown,
  opts: CacheOptions<T>,
): Promise<{ value: T; hit: boolean; hash: string }> {
  const hash = await entryHash(kind, key, opts.code);
  if (!opts.enabled) return { value: await opts.build(), hit: false, hash };
  const cacheRoot = opts.root ?? join("out", "cache");
  const id = { kind, key, code: opts.code ?? null };
  const r = await cachedAt(join(cacheRoot, kind), hash, id, { ...opts, label: `${kind} ${hash}`, cacheRoot });
  return { ...r, hash };
}

/** Where cachedAt() keeps an entry and how it names it in log lines. */
export interface EntryPlace {
  /** Named in the log lines, e.g. "dataset 0123abcd..." or "part 1/4 of dataset 0123abcd...". */
  label: string;
  /** The cache's root, named in the warning when it cannot be written. */
  cacheRoot: string;
  /** Refuse an entry whose manifest names another kind, key or code (inspectEntry's `expect`). */
  verifyIdentity?: boolean;
}

/**
 * cached() for an entry at `<dir>/<name>/` (name: a hash, or a shard's part name such as "shard-1-of-4"): the
 * same checks, lock (`<dir>/<name>.lock`), atomic store (a temp dir renamed into place) and warnings. `opts.root`
 * and `opts.enabled` are not read (the caller decided both).
 */
export async function cachedAt<T>(
  root: string,
  name: string,
  id: EntryIdentity,
  opts: CacheOptions<T> & EntryPlace,
): Promise<{ value: T; hit: boolean }> {
  const log = (s: string) => opts.verbose !== false && console.error(s);
  const dir = join(root, name);
  const expect = opts.verifyIdentity ? id : undefined;
  const hit = async () => {
    log(`cache hit: ${opts.label} (${dir})`);
    return { value: await opts.load(dir), hit: true };
  };
  await removeStaleTemps(root);
  let state = await inspectEntry(dir, expect);
  if (state.ok) return await hit();

  // Take the entry's lock, or wait for the live process that holds it and use what it built.
  let lock!: Lock;
  try {
    await Deno.mkdir(root, { recursive: true });
    let waitingFor = 0;
    for (;;) {
      const got = await tryLock(
        join(root, `${name}.lock`),
        (h: LockInfo | null) =>
          log(
            `cache: taking over the lock of ${opts.label}` +
              (h ? ` from ${describeHolder(h)}, which no longer runs` : ""),
          ),
      );
      if (isLock(got)) {
        lock = got;
        break;
      }
      if (waitingFor !== got.pid) {
        console.error(`cache: waiting for pid ${got.pid}, which is building ${opts.label}`);
        waitingFor = got.pid;
      }
      await new Promise((r) => setTimeout(r, 1000));
      if ((await inspectEntry(dir, expect)).ok) return await hit();
    }
  } catch (err) {
    if (!isEnvFault(err)) throw err;
    warnUnwritable(opts.cacheRoot, err);
    return { value: await opts.build(), hit: false };
  }

  try {
    state = await inspectEntry(dir, expect);
    if (state.ok) return await hit();
    const why = state.reason === "absent" && id.code
      ? await absentReason(root, id.key, id.code)
      : state.reason;
    log(`cache miss: ${opts.label} (${why}); building`);
    const value = await opts.build();
    await store(root, dir, name, value, id, opts.save, expect).catch((err) => {
      if (!isEnvFault(err)) throw err;
      warnUnwritable(opts.cacheRoot, err);
    });
    return { value, hit: false };
  } finally {
    await lock.release();
  }
}

/** Saves `value` into a temp dir beside the entry, writes the manifest and renames it into place. */
async function store<T>(
  root: string,
  dir: string,
  name: string,
  value: T,
  id: EntryIdentity,
  save: (dir: string, value: T) => Promise<void>,
  expect?: EntryIdentity,
): Promise<void> {
  const tmp = join(root, `.${name}.${HOST_TAG}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    await save(tmp, value);
    const files: Record<string, string> = {};
    for (const e of Deno.readDirSync(tmp)) {
      if (e.isFile) files[e.name] = await sha256(await Deno.readFile(join(tmp, e.name)));
    }
    await writeJsonAtomic(join(tmp, "manifest.json"), { ...id, files, createdAt: new Date().toISOString() });
    if ((await inspectEntry(dir, expect)).ok) return; // another process completed it first: theirs wins
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    try {
      await Deno.rename(tmp, dir);
    } catch (err) {
      if (!(await inspectEntry(dir, expect)).ok) throw err; // else someone renamed a complete entry in first
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
