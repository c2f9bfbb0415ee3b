// Typed experiment configuration: defaults + named presets + dotted CLI overrides (--pgd.eps=0.5), with --help.
import { parseArgs } from "node:util";
import { suggest } from "../util/names.ts";
import { parseShard, parseWorkers, type Shard, shardText } from "./shard.ts";

/** A value a config leaf may hold. */
export type Leaf = number | string | boolean | string[] | number[];

/** Recursively optional version of a config type (what a preset overrides). */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Leaf ? T[K] : DeepPartial<T[K]> };

/** Help text and constraints of one dotted config key. */
export interface KeySpec {
  help: string;
  /** Accepted values (for strings, or each element of a string list). */
  choices?: readonly string[];
  /** Inclusive lower bound (numbers, or each element of a number list). */
  min?: number;
  /** Exclusive lower bound: the value must be strictly greater. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** The number must be an integer (and exactly representable: at most 2^53 - 1). */
  integer?: boolean;
  /** A list must not name one value twice. */
  distinct?: boolean;
  /** A list must hold at least this many values. */
  minItems?: number;
  /**
   * An open form accepted beside `choices`, e.g. `{ pattern: /^npy:./, shown: "npy:DIR" }`: a string outside
   * `choices` that matches `pattern` is accepted; `shown` is listed with the choices in errors and --help.
   */
  form?: { pattern: RegExp; shown: string };
  /**
   * Custom validation, called with the whole value after the built-in checks (which still apply); throws a
   * RangeError saying what was wrong and what is accepted. The message is prefixed with `--key: `.
   */
  check?: (value: Leaf) => void;
}

/** Everything an entry script declares about its configuration. */
export interface CliSpec<C> {
  /** Command name shown in --help, e.g. "deno task sec3_2". */
  name: string;
  description: string;
  defaults: C;
  presets: Record<string, DeepPartial<C>>;
  /** Preset used when --preset is not given (default: "quick" if present, else none). */
  defaultPreset?: string;
  /** Help and constraints per dotted key; every leaf of `defaults` must have an entry. */
  keys: Record<string, KeySpec>;
  /**
   * Adapts a resolved config after the overrides (e.g. a preset tuned for one dataset run on another): gets the
   * config, the preset's config before the overrides, and the keys the user set (which it must leave alone).
   */
  adapt?: (config: C, ctx: { base: C; explicit: ReadonlySet<string> }) => C;
}

/** The result of parsing: the resolved config, the preset it started from and the number of seeds to run. */
export interface Parsed<C> {
  config: C;
  preset: string;
  /** --seeds=N: run N times (seed, seed + 1, ...) and aggregate (lib/run/experiment.ts runSeeds); 1 by default. */
  seeds: number;
  /** --verbose: print the resolved config and the backend in full at the start of a run. */
  verbose: boolean;
  /** --shard=i/n: build only shard i of each per-example set, into the cache (lib/run/shard.ts); null = all. */
  shard: Shard | null;
  /** --workers=N: run the N shards as local processes, then assemble and carry on; 0 = not given. */
  workers: number;
}

/** The options every run takes besides its config keys (--help lists them). */
const RUN_OPTIONS = ["help", "preset", "seeds", "verbose", "shard", "workers"];

/** Most runs --seeds accepts. */
export const MAX_SEEDS = 100;

/** Parses --seeds=N: an integer 1..MAX_SEEDS. */
function parseSeeds(raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isInteger(n) || n < 1 || n > MAX_SEEDS) {
    throw new RangeError(
      `--seeds expects a whole number of runs from 1 to ${MAX_SEEDS}, got "${raw ?? ""}" ` +
        `(e.g. --seeds=3 runs seeds --seed, --seed + 1, --seed + 2)`,
    );
  }
  return n;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Flattens a nested config into dotted keys -> leaf values. */
export function flatten(obj: Obj, prefix = ""): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObj(v)) { for (const [k2, v2] of flatten(v, key)) out.set(k2, v2); }
    else out.set(key, v as Leaf);
  }
  return out;
}

function setDotted(obj: Obj, key: string, value: Leaf): void {
  const parts = key.split(".");
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p] as Obj;
  o[parts[parts.length - 1]] = value;
}

/** Deep-merges `over` into a structural copy of `base`; `over` may only name keys that `base` has. */
export function merge<C>(base: C, over: DeepPartial<C>, where = "preset"): C {
  const out = structuredClone(base) as Obj;
  const known = flatten(out);
  for (const [key, value] of flatten(over as Obj)) {
    if (!known.has(key)) throw new RangeError(`${where} sets unknown key "${key}"`);
    setDotted(out, key, value);
  }
  return out as C;
}

function kindOf(v: Leaf): string {
  if (Array.isArray(v)) return v.length > 0 && typeof v[0] === "number" ? "number[]" : "string[]";
  return typeof v;
}

/** "did you mean" suffix for an unknown name among `known` (lib/util/names.ts). */
export { suggest };

function parseValue(key: string, raw: string, like: Leaf): Leaf {
  const kind = kindOf(like);
  const num = (s: string): number => {
    const v = Number(s);
    if (s.trim() === "" || !Number.isFinite(v)) {
      throw new TypeError(`--${key} expects a number, got "${s}"`);
    }
    return v;
  };
  switch (kind) {
    case "number":
      return num(raw);
    case "boolean":
      if (["true", "1", "yes"].includes(raw)) return true;
      if (["false", "0", "no"].includes(raw)) return false;
      throw new TypeError(`--${key} expects true or false, got "${raw}"`);
    case "number[]":
      return nonEmpty(key, raw.split(",").filter((s) => s.trim() !== "").map(num), like);
    case "string[]":
      return nonEmpty(key, raw.split(",").map((s) => s.trim()).filter((s) => s !== ""), like);
    default:
      return raw;
  }
}

function nonEmpty<T extends string | number>(key: string, list: T[], like: Leaf): T[] {
  if (list.length) return list;
  const example = Array.isArray(like) && like.length ? like.join(",") : "a,b";
  throw new RangeError(
    `--${key} needs at least one value (a comma-separated list, e.g. --${key}=${example})`,
  );
}

const accepted = (spec: KeySpec) =>
  [...(spec.choices ?? []), ...(spec.form ? [spec.form.shown] : [])].join(", ");

/** Checks one leaf against its spec; throws RangeError naming key, value and what is accepted. */
export function checkLeaf(key: string, value: Leaf, spec: KeySpec): void {
  const items = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && spec.minItems !== undefined && value.length < spec.minItems) {
    throw new RangeError(
      `--${key} needs at least ${spec.minItems} values, got ${value.length} (${value.join(",")})`,
    );
  }
  if (Array.isArray(value) && spec.distinct) {
    const twice = value.find((v, i) => value.indexOf(v as never) !== i);
    if (twice !== undefined) {
      throw new RangeError(`--${key} lists "${twice}" twice (${value.join(",")}); give each once`);
    }
  }
  for (const v of items) {
    if (spec.choices && typeof v === "string" && !spec.choices.includes(v) && !spec.form?.pattern.test(v)) {
      throw new RangeError(`--${key}: unknown value "${v}"; accepted: ${accepted(spec)}`);
    }
    if (typeof v !== "number") continue;
    if (spec.integer && !Number.isInteger(v)) throw new RangeError(`--${key} must be an integer, got ${v}`);
    if (spec.min !== undefined && v < spec.min) {
      throw new RangeError(`--${key} must be >= ${spec.min}, got ${v}`);
    }
    if (spec.above !== undefined && !(v > spec.above)) {
      throw new RangeError(`--${key} must be > ${spec.above}, got ${v}`);
    }
    if (spec.max !== undefined && v > spec.max) {
      throw new RangeError(`--${key} must be <= ${spec.max}, got ${v}`);
    }
    if (spec.integer && !Number.isSafeInteger(v)) {
      throw new RangeError(
        `--${key} must be an integer of at most ${Number.MAX_SAFE_INTEGER} in size, got ${v}`,
      );
    }
  }
  if (spec.check) {
    try {
      spec.check(value);
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
      throw new RangeError(e.message.startsWith(`--${key}`) ? e.message : `--${key}: ${e.message}`);
    }
  }
}

/** Validates every leaf of a resolved config against the key specs. */
export function validateConfig<C>(config: C, keys: Record<string, KeySpec>): void {
  for (const [key, value] of flatten(config as Obj)) {
    const spec = keys[key];
    if (!spec) throw new Error(`internal: config key "${key}" has no entry in the key specs`);
    checkLeaf(key, value, spec);
  }
}

/** Formats the --help text: usage, presets and every key with its default and meaning. */
export function helpText<C>(spec: CliSpec<C>, preset: string): string {
  const resolved = preset in spec.presets ? merge(spec.defaults, spec.presets[preset]) : spec.defaults;
  const rows = [...flatten(resolved as Obj)].map(([key, value]) => {
    const ks = spec.keys[key];
    const shown = Array.isArray(value) ? value.join(",") : String(value);
    const extra = ks?.choices ? ` (one of: ${accepted(ks)})` : "";
    return [`  --${key}=<${kindOf(value)}>`, `${ks?.help ?? ""}${extra} [default: ${shown}]`];
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [
    `${spec.name}: ${spec.description}`,
    "",
    `usage: ${spec.name} [--preset=NAME] [--key=value ...]`,
    "",
    `presets: ${Object.keys(spec.presets).join(", ")} (default: ${spec.defaultPreset ?? "none"}); ` +
    `defaults below are for --preset=${preset}`,
    "",
    "options:",
    `  --help`.padEnd(width) + "print this help and exit",
    `  --preset=<name>`.padEnd(width) + `start from a named preset: ${Object.keys(spec.presets).join(", ")}`,
    `  --seeds=<n>`.padEnd(width) +
    "run n times with seed, seed + 1, ... and write each run to seeds/<seed>/ and mean ± sd to results.json [default: 1]",
    `  --verbose`.padEnd(width) +
    "print the resolved config and the backend in full at the start (config.json has the config either way)",
    `  --shard=<i/n>`.padEnd(width) +
    "build only shard i of n of each per-example set into the cache, then stop; a run without --shard assembles " +
    "the parts and carries on (docs/scale.md)",
    `  --workers=<n>`.padEnd(width) +
    "run the n shards as processes on this machine (cores / n threads each), then assemble and carry on",
    ...rows.map(([a, b]) => a.padEnd(width) + b),
  ].join("\n");
}

/** The options every entry takes besides its config keys. */

/** The error for `-preset=smoke` (one dash), which parseArgs would read as the short flags -p -r -e ... */
function singleDash(raw: string, known: Map<string, Leaf>): RangeError {
  const name = raw.replace(/^-+/, "").split("=")[0];
  const names = [...RUN_OPTIONS, ...known.keys()];
  const hint = names.includes(name)
    ? `; did you mean "-${raw}"?`
    : `${suggest(name, names).replace(/"([^"]+)"\?$/, '"--$1"?')} (run with --help to list all options)`;
  return new RangeError(`"${raw}": options take two dashes (--key=value)${hint}`);
}

/**
 * Parses argv into a typed config: defaults, then the preset, then `--dotted.key=value` overrides.
 * Returns null after printing --help. Throws RangeError/TypeError naming the key, the value and the
 * accepted values for unknown keys, wrong types and out-of-range values.
 */
export function parseCli<C>(argv: string[], spec: CliSpec<C>): Parsed<C> | null {
  const known = flatten(spec.defaults as Obj);
  for (const key of known.keys()) {
    if (!spec.keys[key]) throw new Error(`internal: config key "${key}" has no entry in the key specs`);
    if (RUN_OPTIONS.includes(key)) {
      throw new Error(`internal: config key "${key}" is taken by the option --${key}; rename the key`);
    }
  }
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    preset: { type: "string" },
    seeds: { type: "string" },
    verbose: { type: "boolean" },
    shard: { type: "string" },
    workers: { type: "string" },
  };
  for (const [key, value] of known) {
    options[key] = { type: typeof value === "boolean" ? "boolean" : "string" };
  }
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  let preset = spec.defaultPreset ?? ("quick" in spec.presets ? "quick" : "");
  let help = false, seeds = 1, verbose = false, shard: Shard | null = null, workers = 0;
  const overrides: [string, Leaf][] = [];
  for (const t of tokens ?? []) {
    if (t.kind === "option" && !t.rawName.startsWith("--") && t.name !== "help") {
      throw singleDash(argv[t.index], known);
    }
    if (t.kind === "positional") {
      throw new RangeError(`unexpected argument "${t.value}"; options look like --key=value (see --help)`);
    }
    if (t.kind !== "option") continue;
    const name = t.name;
    if (name === "help") {
      help = true;
      continue;
    }
    if (name === "verbose") {
      if (t.value !== undefined) throw new TypeError(`--verbose takes no value, got "--verbose=${t.value}"`);
      verbose = true;
      continue;
    }
    if (name === "seeds") {
      seeds = parseSeeds(t.value);
      continue;
    }
    if (name === "shard") {
      shard = parseShard(t.value);
      continue;
    }
    if (name === "workers") {
      workers = parseWorkers(t.value);
      continue;
    }
    if (name === "preset") {
      if (typeof t.value !== "string" || t.value === "") {
        throw new RangeError(`--preset needs a value; accepted: ${Object.keys(spec.presets).join(", ")}`);
      }
      if (!(t.value in spec.presets)) {
        throw new RangeError(
          `unknown preset "${t.value}"; accepted: ${Object.keys(spec.presets).join(", ")}` +
            suggest(t.value, Object.keys(spec.presets)),
        );
      }
      preset = t.value;
      continue;
    }
    const like = known.get(name);
    if (like === undefined) {
      throw new RangeError(
        `unknown option --${name}${suggest(name, known.keys())} (run with --help to list all options)`,
      );
    }
    if (typeof like === "boolean") {
      overrides.push([name, t.value === undefined ? true : parseValue(name, t.value, like)]);
    } else {
      if (t.value === undefined) throw new TypeError(`--${name} needs a value (--${name}=<${kindOf(like)}>)`);
      overrides.push([name, parseValue(name, t.value, like)]);
    }
  }
  if (help) {
    console.log(helpText(spec, preset));
    return null;
  }
  let config = preset
    ? merge(spec.defaults, spec.presets[preset], `preset "${preset}"`)
    : structuredClone(spec.defaults);
  const base = structuredClone(config) as C;
  for (const [key, value] of overrides) setDotted(config as Obj, key, value);
  if (spec.adapt) config = spec.adapt(config as C, { base, explicit: new Set(overrides.map(([k]) => k)) });
  validateConfig(config, spec.keys);
  if (shard && workers) {
    throw new RangeError(
      `--shard=${
        shardText(shard)
      } and --workers=${workers} were both given; --workers runs the shards itself ` +
        "(--workers=N on one machine, or --shard=i/n per process or Slurm task, not both)",
    );
  }
  return { config: config as C, preset, seeds, verbose, shard, workers };
}
