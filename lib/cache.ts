// Content-addressed cache of built artifacts (trained models, datasets) under out/cache/<kind>/<hash>/.
// An entry is a directory with a manifest of sha256 checksums, built in a temp dir and renamed into place.
import { join } from "node:path";
import { writeJsonAtomic } from "./output.ts";

/** Bump when code that builds cached artifacts changes meaning; old entries then miss. */
export const CODE_VERSION = 1;

/** JSON with sorted object keys, so equal keys hash equally. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) =>
        `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const h = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash that names an entry: sha256 of {kind, key, CODE_VERSION}, 16 hex digits. */
export async function cacheKey(kind: string, key: unknown): Promise<string> {
  return (await sha256(new TextEncoder().encode(stableStringify({ kind, key, CODE_VERSION })))).slice(0, 16);
}

interface Manifest {
  kind: string;
  key: unknown;
  codeVersion: number;
  files: Record<string, string>;
  createdAt: string;
}

async function verify(dir: string): Promise<boolean> {
  try {
    const m: Manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    if (m.codeVersion !== CODE_VERSION || !Object.keys(m.files).length) return false;
    for (const [name, sum] of Object.entries(m.files)) {
      if ((await sha256(await Deno.readFile(join(dir, name)))) !== sum) return false;
    }
    return true;
  } catch {
    return false;
  }
}

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
}

/**
 * Returns the cached artifact for (kind, key), or builds, stores and returns it. A corrupted or partial entry
 * (checksum mismatch, missing file) is rebuilt; an interrupted build leaves only a temp dir that is never read.
 */
export async function cached<T>(
  kind: string,
  key: unknown,
  opts: CacheOptions<T>,
): Promise<{ value: T; hit: boolean; hash: string }> {
  const hash = await cacheKey(kind, key);
  const log = (s: string) => opts.verbose !== false && console.error(s);
  if (!opts.enabled) return { value: await opts.build(), hit: false, hash };
  const root = join(opts.root ?? join("out", "cache"), kind);
  const dir = join(root, hash);
  if (await verify(dir)) {
    log(`cache hit: ${kind} ${hash} (${dir})`);
    return { value: await opts.load(dir), hit: true, hash };
  }
  log(`cache miss: ${kind} ${hash}; building`);
  const value = await opts.build();
  const tmp = join(root, `.${hash}.${crypto.randomUUID()}.tmp`);
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await opts.save(tmp, value);
    const files: Record<string, string> = {};
    for (const e of Deno.readDirSync(tmp)) {
      if (e.isFile) files[e.name] = await sha256(await Deno.readFile(join(tmp, e.name)));
    }
    await writeJsonAtomic(join(tmp, "manifest.json"), {
      kind,
      key,
      codeVersion: CODE_VERSION,
      files,
      createdAt: new Date().toISOString(),
    });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  return { value, hit: false, hash };
}
