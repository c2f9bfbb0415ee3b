// Sharding a per-example build over processes (--shard=i/n, --workers=N, a Slurm array): shard i builds whole
// batches [start, end) of the set, writes them as a verified part beside the artifact's cache entry, and the run
// without --shard assembles the parts into the artifact, byte for byte what one process would have built.
import { join } from "node:path";
import { cachedAt, type EntryIdentity, inspectEntry } from "./cache.ts";
import { readNpy, writeNpy } from "../data/npy.ts";
import { UserError } from "../util/errors.ts";

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Most shards --shard and --workers accept. */
export const MAX_SHARDS = 10_000;

/** Parses --shard=i/n: 0 <= i < n <= MAX_SHARDS (i from a Slurm array: $SLURM_ARRAY_TASK_ID). */
export function parseShard(raw: string | undefined): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw ?? "");
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1 && count <= MAX_SHARDS) || !(index < count)) {
    throw new RangeError(
      `--shard expects i/n with 0 <= i < n <= ${MAX_SHARDS} (shard i of n, counted from 0), got "${
        raw ?? ""
      }" ` +
        "(e.g. --shard=0/4 ... --shard=3/4, or --shard=$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)",
    );
  }
  return { index, count };
}

/** Parses --workers=N: a whole number 1..MAX_SHARDS. */
export function parseWorkers(raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
    throw new RangeError(
      `--workers expects a whole number of local processes from 1 to ${MAX_SHARDS}, got "${raw ?? ""}" ` +
        "(e.g. --workers=4 runs --shard=0/4 ... --shard=3/4 here, then assembles)",
    );
  }
  return n;
}

/** "i/n" */
export const shardText = (s: Shard): string => `${s.index}/${s.count}`;

/** The directory name of a shard's part: "shard-<i>-of-<n>". */
export const partName = (s: Shard): string => `shard-${s.index}-of-${s.count}`;

/** The shard a part directory's name stands for, or null for another name. */
export function parsePartName(name: string): Shard | null {
  const m = /^shard-(\d+)-of-(\d+)$/.exec(name);
  if (!m) return null;
  const s = { index: Number(m[1]), count: Number(m[2]) };
  return s.index < s.count ? s : null;
}

/**
 * The examples [start, end) shard `s` builds of a set of `n` examples processed in batches of `batchSize`:
 * whole batches, the ceil(n / batchSize) batches dealt out in contiguous runs whose lengths differ by at most
 * one (shard i: batches floor(i B / count) .. floor((i + 1) B / count)). A shard beyond the batches is empty.
 */
export function shardSlice(n: number, batchSize: number, s: Shard): { start: number; end: number } {
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(
      `shardSlice: n must be a whole number >= 0 and batchSize >= 1, got ${n}, ${batchSize}`,
    );
  }
  const batches = Math.ceil(n / batchSize);
  const b0 = Math.floor((s.index * batches) / s.count), b1 = Math.floor(((s.index + 1) * batches) / s.count);
  return { start: Math.min(n, b0 * batchSize), end: Math.min(n, b1 * batchSize) };
}

/** A built set as flat per-example arrays (x: n * imageSize values, t: n labels, ...). */
export type Columns = Record<string, Float32Array | Uint8Array>;

/** The columns of consecutive slices joined in order (each name's arrays concatenated). */
export function concatColumns(parts: Columns[]): Columns {
  if (!parts.length) throw new RangeError("concatColumns: no parts");
  const names = Object.keys(parts[0]).sort();
  const out: Columns = {};
  for (const name of names) {
    const arrays = parts.map((p, i) => {
      const a = p[name];
      if (!a || a.constructor !== parts[0][name].constructor) {
        throw new RangeError(`concatColumns: part ${i} lacks column "${name}" (or holds another type)`);
      }
      return a;
    });
    const total = arrays.reduce((s, a) => s + a.length, 0);
    const joined = new (arrays[0].constructor as Float32ArrayConstructor | Uint8ArrayConstructor)(total);
    let at = 0;
    for (const a of arrays) (joined.set(a, at), at += a.length);
    out[name] = joined;
  }
  return out;
}

/** Writes columns as <name>.npy files (1-d) into `dir`. */
export async function saveColumns(dir: string, c: Columns): Promise<void> {
  for (const [name, data] of Object.entries(c)) {
    const arr = data instanceof Float32Array
      ? { dtype: "float32" as const, shape: [data.length], data }
      : { dtype: "uint8" as const, shape: [data.length], data };
    await writeNpy(join(dir, `${name}.npy`), arr);
  }
}

/** Reads the columns saveColumns() wrote. */
export async function loadColumns(dir: string): Promise<Columns> {
  const out: Columns = {};
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isFile && e.name.endsWith(".npy")) {
      out[e.name.slice(0, -4)] = (await readNpy(join(dir, e.name))).data;
    }
  }
  return out;
}

/** One per-example build that can be sharded: the artifact it makes and how to build a slice of it. */
export interface ShardedBuild {
  /** The artifact's cache kind, key and code, as cached() gets them, and its entry hash (entryHash()). */
  kind: string;
  key: unknown;
  code: string;
  hash: string;
  /** Cache root (default out/cache). */
  root?: string;
  /** Whether the run uses the cache (--cache); without it, parts are neither read nor written. */
  cache: boolean;
  /** Examples in the set, and the batch size of the build (shards hold whole batches). */
  n: number;
  batchSize: number;
  /** Builds examples [start, end); must give the same bytes whichever process builds which slices. */
  build: (start: number, end: number) => Promise<Columns>;
}

/** Why sharding needs --cache, and the fix (for errors). */
export const NEEDS_CACHE =
  "the shards' parts meet in the cache, out/cache under the directory the run starts in; " +
  "the smoke preset turns it off: add --cache=true";

const cacheRoot = (b: ShardedBuild) => b.root ?? join("out", "cache");

/** `<cache>/<kind>/<hash>.parts`: where the parts of an artifact live. */
export const partsDir = (b: Pick<ShardedBuild, "kind" | "hash" | "root">): string =>
  join(b.root ?? join("out", "cache"), b.kind, `${b.hash}.parts`);

/** What a part's manifest must say: it is part s of this artifact, of these examples, built by this code. */
function partIdentity(b: ShardedBuild, s: Shard): EntryIdentity {
  const { start, end } = shardSlice(b.n, b.batchSize, s);
  return {
    kind: "part",
    key: { of: { kind: b.kind, hash: b.hash }, shard: s, start, end, n: b.n, batchSize: b.batchSize },
    code: b.code,
  };
}

const artifactLabel = (b: ShardedBuild) => `${b.kind} ${b.hash}`;

/** Where the parts of one artifact stand: the shard count they were built for and which shards are missing. */
export interface PartsState {
  /** The artifact, e.g. "dataset 0123abcd89ef4567". */
  artifact: string;
  count: number;
  missing: number[];
}

/**
 * The parts on disk of `b`: null when there are none; else the shard count of a complete set when one exists,
 * otherwise of the count with the most complete parts, with the shards it lacks. A part is complete when its
 * files match their checksums and its manifest names this artifact, slice and code (a part copied from another
 * config, or built by other code, does not count).
 */
export async function partsState(b: ShardedBuild): Promise<PartsState | null> {
  let names: string[];
  try {
    names = [...Deno.readDirSync(partsDir(b))].filter((e) => e.isDirectory).map((e) => e.name);
  } catch {
    return null;
  }
  const counts = new Map<number, number[]>();
  for (const name of names) {
    const s = parsePartName(name);
    if (!s) continue;
    const ok = (await inspectEntry(join(partsDir(b), name), partIdentity(b, s))).ok;
    counts.set(s.count, [...(counts.get(s.count) ?? []), ...(ok ? [s.index] : [])]);
  }
  if (!counts.size) return null;
  const [count, done] = [...counts].sort((a, b) => b[1].length / b[0] - a[1].length / a[0] || a[0] - b[0])[0];
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.includes(i));
  return { artifact: artifactLabel(b), count, missing };
}

/**
 * A shard run has written its parts (or had none left to write) and stops: what follows the per-example builds
 * needs every shard's work. Not an error: a shard task exits 0 (so a Slurm `afterok` dependency holds).
 */
export class ShardStop extends Error {
  override name = "ShardStop";
  constructor(readonly shard: Shard, readonly built: PartsState[]) {
    super(shardStopText(shard, built));
  }

  /** Whether every part of every set named is in the cache (the assembling run can start). */
  get complete(): boolean {
    return this.built.every((p) => p.missing.length === 0);
  }
}

function shardStopText(shard: Shard, built: PartsState[]): string {
  const lines = built.map((p) =>
    `  ${p.artifact}: ${
      p.missing.length
        ? `still missing shard(s) ${p.missing.join(", ")} of ${p.count}`
        : `all ${p.count} parts there`
    }`
  );
  return `shard ${shardText(shard)} done: ` +
    (built.length
      ? `its part of ${built.length} set(s) is in the cache\n${lines.join("\n")}`
      : "nothing left to build (every per-example set and evaluation it shards is in the cache)");
}

/** An assembling run found an incomplete set of parts: the shards to run are named (UserError: exit 2). */
export class PartsMissing extends UserError {
  override name = "PartsMissing";
  constructor(readonly state: PartsState, readonly dir: string, command?: (s: Shard) => string) {
    const shards = state.missing.map((index) => ({ index, count: state.count }));
    super(
      `${state.artifact} is being built in ${state.count} shards and the part(s) of shard(s) ${
        state.missing.join(", ")
      } are missing (in ${dir}); run ${
        command
          ? `these, then rerun this command:\n${shards.map((s) => `  ${command(s)}`).join("\n")}\n`
          : `${
            shards.map((s) => `--shard=${shardText(s)}`).join(", ")
          } with the same options, then rerun this; `
      }or delete ${dir} to build the set in this one process`,
    );
  }

  /** The same error with the command line of each missing shard (`command`: shardCommand() for this run). */
  withCommands(command: (s: Shard) => string): PartsMissing {
    return new PartsMissing(this.state, this.dir, command);
  }
}

/**
 * The shard run's step for one build: unless the whole artifact is already cached, or a complete set of its parts
 * is (from an earlier round of shards: the run then assembles it, once, under the cache's lock), builds (or
 * finds) its part and throws ShardStop naming what is still missing. Returns when the artifact or all its parts
 * are there, so the run can go on to its next phase, whose per-example work a later round of the same shard
 * commands builds. `shard` null (not a shard run): returns at once.
 */
export async function buildPart(b: ShardedBuild, shard: Shard | null): Promise<void> {
  if (!shard) return;
  if (!b.cache) throw new UserError(`--shard=${shardText(shard)} needs the cache (${NEEDS_CACHE})`);
  if ((await inspectEntry(join(cacheRoot(b), b.kind, b.hash))).ok) return;
  if ((await partsState(b))?.missing.length === 0) return;
  const { start, end } = shardSlice(b.n, b.batchSize, shard);
  await cachedAt(partsDir(b), partName(shard), partIdentity(b, shard), {
    enabled: true,
    label: `part ${shardText(shard)} (examples ${start}..${end - 1}) of ${artifactLabel(b)}`,
    cacheRoot: cacheRoot(b),
    verifyIdentity: true,
    build: () => b.build(start, end),
    save: saveColumns,
    load: () => Promise.resolve({}), // the shard run does not read its part back
  });
  const state = await partsState(b);
  throw new ShardStop(shard, [state ?? { artifact: artifactLabel(b), count: shard.count, missing: [] }]);
}

/**
 * The artifact's columns for cached()'s build: assembled from a complete set of parts when the cache holds one
 * (any shard count), built here in one process when it holds none. An incomplete set throws PartsMissing.
 */
export async function assembleOrBuild(b: ShardedBuild): Promise<Columns> {
  const state = b.cache ? await partsState(b) : null;
  if (!state) return await b.build(0, b.n);
  if (state.missing.length) throw new PartsMissing(state, partsDir(b));
  console.error(`assembling ${artifactLabel(b)} from ${state.count} parts (${partsDir(b)})`);
  const parts: Columns[] = [];
  for (let i = 0; i < state.count; i++) {
    parts.push(await loadColumns(join(partsDir(b), partName({ index: i, count: state.count }))));
  }
  return concatColumns(parts);
}

/** Removes the parts of `b` once its assembled entry is complete in the cache (they are a second copy). */
export async function removeParts(b: ShardedBuild): Promise<void> {
  if (!b.cache || !(await inspectEntry(join(cacheRoot(b), b.kind, b.hash))).ok) return;
  await Deno.remove(partsDir(b), { recursive: true }).catch(() => {});
}

/**
 * The order in which shard `s` takes `n` independent units (seeds, architectures, the sets of one phase): from
 * unit s.index mod n on, wrapping around; 0..n-1 when not a shard run. Shards that start on different units train
 * different models at once (a model one shard is training, another waits for on the cache's lock and loads), so
 * the units of a run spread over its shards without an option of their own.
 */
export function unitOrder(n: number, s: Shard | null): number[] {
  const first = s && n ? s.index % n : 0;
  return Array.from({ length: n }, (_, i) => (first + i) % n);
}

/**
 * Runs `build` on each item and returns the results in the items' order. In a shard run the items are taken in
 * unitOrder(), and a build that stops (ShardStop) does not stop the others: each writes its part, and then one
 * ShardStop names them all. When no build stopped (every artifact was cached or complete in parts), the shard
 * run goes on to its next phase.
 */
export async function buildEach<K, T>(
  items: K[],
  shard: Shard | null,
  build: (item: K) => Promise<T>,
): Promise<T[]> {
  const out = new Array<T>(items.length), stops: PartsState[] = [];
  for (const i of unitOrder(items.length, shard)) {
    try {
      out[i] = await build(items[i]);
    } catch (err) {
      if (!(err instanceof ShardStop)) throw err;
      stops.push(...err.built);
    }
  }
  if (shard && stops.length) throw new ShardStop(shard, stops);
  return out;
}

/**
 * The command line of shard `s`: `base` (e.g. "deno run -A experiments/sec3_2.ts") and `argv` without its
 * --shard / --workers options, plus --shard=i/n.
 */
export function shardCommand(base: string, argv: string[], s: Shard | null): string {
  return [base, ...shardArgs(argv, s).map(shellQuote)].join(" ");
}

/** `argv` without its --shard / --workers options, plus --shard=i/n when `s` is given. */
export function shardArgs(argv: string[], s: Shard | null): string[] {
  const kept = argv.filter((a) => !/^--(shard|workers)(=|$)/.test(a));
  return [...kept, ...(s ? [`--shard=${shardText(s)}`] : [])];
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);

/** Threads per worker process so that workers x threads fits the cores (at least 1). */
export const threadsPerWorker = (workers: number, cores: number): number =>
  Math.max(1, Math.floor(cores / workers));
