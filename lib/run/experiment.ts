// The skeleton every experiment entry shares: its id (from the entry file's name), common config keys, the run
// (backend, data, a staged out dir swapped in only when complete), the summary printed and saved, the CLI.
import * as tf from "@tensorflow/tfjs";
import { basename, dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CliSpec,
  type DeepPartial,
  flatten,
  type KeySpec,
  type Leaf,
  merge,
  parseCli,
  validateConfig,
} from "./config.ts";
import { runMain, UserError } from "../util/errors.ts";
import {
  assertWritableDir,
  openRunDir,
  type RunMeta,
  type SeedsInfo,
  writeFileAtomic,
  writeJsonAtomic,
  writeRunConfig,
} from "./output.ts";
import { type BackendInfo, BACKENDS, initBackend } from "../backend/mod.ts";
import { type Dataset, DATASETS, loadDataset, type Split, validateDatasetName } from "../data/registry.ts";
import { firstN, validationSplit } from "../data/batch.ts";
import { NO_PLANT, PLANT_CONTENTS, plantDataset } from "../data/plant.ts";
import { deriveSeed } from "../util/rng.ts";
import type { ZooModel } from "../core/models.ts";
import { exportDataset } from "./export.ts";
import { type DataRef, sourceRef } from "./pipeline.ts";
import { type Claim, type SectionSummary, type Summary, summaryMarkdown } from "./summary.ts";
import { aggregateNumbers, aggregateSummaries, type Spread, withMeans } from "./seeds.ts";
import {
  buildEach,
  NEEDS_CACHE,
  PartsMissing,
  type Shard,
  shardCommand,
  ShardStop,
  shardText,
} from "./shard.ts";
import { runWorkers, shardReport } from "./workers.ts";
import {
  type ConfigOf,
  type DatasetKeys,
  datasetKeysOf,
  defaultsOf,
  key,
  keySpecsOf,
  type Schema,
} from "./schema.ts";

export type { DatasetKeys } from "./schema.ts";

/** The keys every experiment config has (first in every config), one entry each: default, help, bounds. */
export const COMMON_SCHEMA = {
  /** Seed of every random choice in the run. */
  seed: key(0, {
    help: "seed of every random choice (weights, shuffles, attack starts, targets)",
    integer: true,
    min: 0,
    max: 2 ** 32 - 1,
  }),
  /** Output directory; "" means out/<experiment id>. */
  out: key("", { help: 'output directory ("" = out/<experiment>)' }),
  /** tfjs backend: auto | tensorflow | fast | wasm | cpu (and webgpu where available). */
  backend: key("auto", { help: "tfjs backend", choices: BACKENDS }),
  /** Dataset: a registered name, npy:DIR or folder:DIR. */
  dataset: key("fashion-mnist", {
    help: "dataset: a registered name, npy:DIR or folder:DIR",
    check: (v) => validateDatasetName(String(v)),
  }),
  /** Directory to read the dataset from; "" searches the default places. */
  dataDir: key("", { help: 'read the dataset only from this directory ("" = default places)' }),
  /** Train on an exported dataset (`out/sec3_2/d_det` reads d_det_{x,y}.npy); "" = the dataset's own. */
  trainFrom: key("", {
    help:
      'train on an exported set, e.g. out/sec3_2/d_det (reads d_det_x.npy, d_det_y.npy); "" = the dataset\'s',
  }),
  /** folder: datasets: images are resized to imageSize x imageSize (0 = keep their size, which must agree). */
  imageSize: key(0, {
    help: "folder: datasets: resize images to this many pixels a side (0 = keep)",
    integer: true,
    min: 0,
  }),
  /** Where the test numbers come from: the test set, or "val", the last testSize training images (recipes are
   * chosen there, never on the test set). */
  evalOn: key("test", {
    help: "evaluate on the test set, or on val: the last testSize training images (choose recipes there)",
    choices: ["test", "val"],
  }),
  /** Reuse cached source models and built datasets (out/cache). */
  cache: key(true, { help: "reuse cached source models and built datasets under out/cache" }),
  /** The planted-feature positive control (lib/data/plant.ts): a class pattern of L2 norm plant.norm in every
   * train and test image (0 = off). */
  plant: {
    norm: key(NO_PLANT.norm, {
      help:
        "positive control: add a seeded class pattern of this L2 norm to every train and test image (0 = off)",
      min: 0,
      max: 10,
    }),
    margin: key(NO_PLANT.margin, {
      help: "positive control: map pixels into [margin, 1 - margin] first, so a pattern is not clipped",
      min: 0,
      max: 0.49,
    }),
    content: key(NO_PLANT.content, {
      help:
        "positive control: keep each image's label, or shuffle the labels so the pattern is the only class signal",
      choices: PLANT_CONTENTS,
    }),
  },
};

/** Keys every experiment config has. */
export type CommonConfig = ConfigOf<typeof COMMON_SCHEMA>;

/** The config of an experiment whose own keys are the schema `S`: the common keys, then S's. */
export type ExperimentConfig<S extends Schema> = CommonConfig & ConfigOf<S>;

/** Defaults of the common keys. */
export const COMMON_DEFAULTS: CommonConfig = defaultsOf(COMMON_SCHEMA);

/** Help and constraints of the common keys (merged into each experiment's key specs). */
export const COMMON_KEYS: Record<string, KeySpec> = keySpecsOf(COMMON_SCHEMA);

/** The experiment id of an entry file: its name without extension (experiments/my_idea.ts -> "my_idea"). */
export function experimentId(entryUrl: string | URL): string {
  const u = String(entryUrl);
  const path = u.startsWith("file:") ? fileURLToPath(u) : u;
  return basename(path, extname(path));
}

/**
 * The paper section a file reproduces: the id of the file that declares it (its name, written out so that a copy
 * under another name knows it is a copy), the heading's label and the report position (paper order).
 */
export interface SectionInfo {
  /** The experiment id of the file that reproduces the section ("sec3_2"). */
  of: string;
  /** The heading's label, e.g. "Section 3.2 / Table 1". */
  label: string;
  /** Position in the report: 20 for Section 2, 31 for 3.1, ...; forks come after (FORK_ORDER). */
  order: number;
}

/** Report position of a fork or a copy, and of an experiment that declares no section: after the paper's. */
export const FORK_ORDER = 100;

/** What an experiment declares: the CLI spec (its id comes from the entry file) plus its report identity. */
export interface ExperimentSpec<C> extends CliSpec<C> {
  /** Experiment id = the entry file's name: out/<id>/ and the report section. */
  id: string;
  /** The heading label of its report section: the section's own, or "<id> (a fork of <label>)" for a copy. */
  title: string;
  /** Its report position: the section's for the file that declares it, FORK_ORDER for a copy or a fork. */
  order: number;
  /** The paper section it reproduces or derives from (null when it declares none). */
  section: SectionInfo | null;
  /** The keys --dataset adapts (kept so extend() carries them). */
  datasetKeys?: DatasetKeys;
  /** What --seeds=N varies. */
  seedSweep: SeedSweep<C>;
  /** A --seeds=N run's verdicts, notes and figures from all its runs (default: the runs' summaries merged). */
  seeded?: SeededParts<C>;
  /**
   * This spec under another entry file's id, with every field carried (keys, presets, the --dataset adaptation,
   * the section it derives from) and `overrides` applied: a fork that only adds a value (a rule, an optimizer)
   * and reuses the section's main() (experiments/examples/d_shift2.ts).
   */
  extend(entryUrl: string | URL, overrides: SpecOverrides<C>): ExperimentSpec<C>;
}

/** What SPEC.extend() may change. Everything it does not name is the parent's. */
export interface SpecOverrides<C> {
  description?: string;
  /** Defaults changed (deep-merged into the parent's); only keys the parent has. */
  defaults?: DeepPartial<C>;
  /** Presets added or replaced by name (a preset named here replaces the parent's preset of that name). */
  presets?: Record<string, DeepPartial<C>>;
  /** Key specs added or replaced (help, bounds, checks). */
  keys?: Record<string, KeySpec>;
  datasetKeys?: DatasetKeys;
  section?: SectionInfo;
}

/** What an experiment declares besides its keys (defineExperiment's second argument). */
interface ExperimentInfo<C> {
  description: string;
  /** Named presets: overrides of the defaults ("quick", when there, is the default preset). */
  presets: Record<string, DeepPartial<C>>;
  /** The paper section this file reproduces (a copy of the file keeps it and is titled as a fork of it). */
  section?: SectionInfo;
  /** What --seeds=N varies (default: the whole run, DEFAULT_SWEEP). */
  seedSweep?: SeedSweep<C>;
  /** A --seeds=N run's verdicts (criteria on the means and their spread), notes and figures. */
  seeded?: SeededParts<C>;
}

/**
 * An experiment declared by its schema: each of its keys once (lib/run/schema.ts key(): default, help, bounds,
 * dataset role; groups from lib/run/recipes.ts), after the common keys. The config type, the defaults, the key
 * specs and the keys --dataset adapts are derived from it.
 */
export interface SchemaDef<S extends Schema> extends ExperimentInfo<ExperimentConfig<S>> {
  schema: S;
  /** The keys --dataset adapts; by default the schema's keys with a dataset role, in its order. */
  datasetKeys?: DatasetKeys;
}

/** An experiment declared by its defaults and key specs (what a schema derives; SPEC.extend() works on it). */
export interface ExperimentDef<C> extends ExperimentInfo<C> {
  defaults: C;
  keys: Record<string, KeySpec>;
  /** Keys a dataset's defaults adapt when --dataset moves a preset to another dataset (see adaptToDataset). */
  datasetKeys?: DatasetKeys;
}

/**
 * What a section computes from all the runs of a --seeds=N run (each run's results, in seed order), where
 * merging the runs' summaries cell by cell would be wrong: verdicts whose criterion reads the means and their
 * spread, a correlation of means with its interval, a figure with error bars written into `dir`. Each part it
 * returns replaces the merged one (notes are prepended).
 */
export type SeededParts<C> = (
  runs: unknown[],
  ctx: { dir: string; config: C },
) => Promise<{ claims?: Claim[]; notes?: string[]; figures?: string[] }>;

/**
 * What a --seeds=N run varies: run i (0..N-1) runs `vary(config, i)`; `varies` says it in words (written to
 * config.json and results.json). A section whose seed-independent parts are costly can vary only some of its
 * seeds here (e.g. keep the source model's seed and move the fresh models'), if its config has such keys.
 */
export interface SeedSweep<C> {
  vary: (config: C, i: number) => C;
  varies: string;
}

/** The default sweep: seed = config.seed + i, which moves every random choice of the run. */
export const DEFAULT_SWEEP: SeedSweep<CommonConfig> = {
  vary: (config, i) => ({ ...config, seed: config.seed + i }),
  varies: "the whole run: seed = --seed + i for run i, and the seed decides every random choice (weight " +
    "initialization, shuffles, attack starts, relabelling targets), so every model and dataset is rebuilt " +
    "(each run's artifacts are cached under its own seed)",
};

/** The heading label and report position of experiment `id` given the section its file declares. */
export function sectionIdentity(id: string, section: SectionInfo | null): { title: string; order: number } {
  if (!section) return { title: id, order: FORK_ORDER };
  if (section.of === id) return { title: section.label, order: section.order };
  return { title: `${id} (a fork of ${section.label})`, order: FORK_ORDER };
}

/**
 * Declares an experiment from its entry file's `import.meta.url` and its schema (or its defaults and key specs):
 * the id, out dir and command follow the file name, so a copy under a new name writes only its own out dir.
 */
export function defineExperiment<S extends Schema>(
  entryUrl: string | URL,
  def: SchemaDef<S>,
): ExperimentSpec<ExperimentConfig<S>>;
export function defineExperiment<C extends CommonConfig>(
  entryUrl: string | URL,
  def: ExperimentDef<C>,
): ExperimentSpec<C>;
export function defineExperiment<C extends CommonConfig>(
  entryUrl: string | URL,
  d: ExperimentDef<C> | SchemaDef<Schema>,
): ExperimentSpec<C> {
  const def = "schema" in d ? fromSchema(d) as unknown as ExperimentDef<C> : d;
  const id = experimentId(entryUrl);
  const section = def.section ?? null;
  const path = String(entryUrl).startsWith("file:") ? fileURLToPath(String(entryUrl)) : String(entryUrl);
  const rel = path.includes("/experiments/") ? `experiments/${path.split("/experiments/").pop()}` : path;
  return {
    id,
    name: `deno run -A ${rel}`,
    description: def.description,
    defaults: def.defaults,
    presets: def.presets,
    defaultPreset: "quick" in def.presets ? "quick" : undefined,
    keys: { ...COMMON_KEYS, ...def.keys },
    adapt: def.datasetKeys ? adaptToDataset(def.datasetKeys) : undefined,
    datasetKeys: def.datasetKeys,
    seedSweep: def.seedSweep ?? (DEFAULT_SWEEP as unknown as SeedSweep<C>),
    seeded: def.seeded,
    section,
    ...sectionIdentity(id, section),
    extend: (url, o) => defineExperiment(url, extendDef(def, experimentId(url), o)),
  };
}

/** A schema's declaration as defaults and key specs: the common keys first; the dataset keys from the roles. */
function fromSchema<S extends Schema>(d: SchemaDef<S>): ExperimentDef<ExperimentConfig<S>> {
  const { schema, ...info } = d;
  return {
    ...info,
    defaults: { ...COMMON_DEFAULTS, ...defaultsOf(schema) },
    keys: keySpecsOf(schema),
    datasetKeys: d.datasetKeys ?? datasetKeysOf(schema),
  };
}

/** `def` with `o` applied (SPEC.extend()); a default the parent does not have is an error naming the fix. */
function extendDef<C extends CommonConfig>(def: ExperimentDef<C>, id: string, o: SpecOverrides<C>) {
  let defaults = def.defaults;
  try {
    defaults = merge(def.defaults, o.defaults ?? {}, `${id}: SPEC.extend()'s defaults`);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new RangeError(
      `${e.message}, which the extended spec does not have; extend() changes existing keys only ` +
        "(to add a key, declare the experiment with defineExperiment and its own Config, docs/forking.md)",
    );
  }
  return {
    ...def,
    description: o.description ?? def.description,
    defaults,
    presets: { ...def.presets, ...o.presets },
    keys: { ...def.keys, ...o.keys },
    datasetKeys: o.datasetKeys ?? def.datasetKeys,
    section: o.section ?? def.section,
  };
}

/**
 * A preset is tuned for its dataset. When --dataset moves it to another registered dataset, the keys the user
 * did not set follow that dataset's defaults: radii scaled by the epsScale ratio, the default architecture, epochs
 * scaled by the epochs ratio. One line says what changed. npy:/folder: datasets keep the preset's values (their
 * shape is known only once loaded; set the keys explicitly, docs/data.md).
 */
export function adaptToDataset(keys: DatasetKeys) {
  return <C>(config: C, ctx: { base: C; explicit: ReadonlySet<string> }): C => {
    type Obj = Record<string, unknown>;
    const leaves = flatten(config as Obj), baseLeaves = flatten(ctx.base as Obj);
    const from = DATASETS[String(baseLeaves.get("dataset"))], to = DATASETS[String(leaves.get("dataset"))];
    if (!from || !to || from === to) return config;
    const out = structuredClone(config) as Obj;
    const set = (k: string, v: Leaf) => {
      const parts = k.split(".");
      const o = parts.slice(0, -1).reduce((a, p) => a[p] as Obj, out);
      o[parts[parts.length - 1]] = v;
    };
    const changed: string[] = [];
    const apply = (list: string[], f: (v: Leaf) => Leaf) => {
      for (const k of list) {
        const old = leaves.get(k);
        if (ctx.explicit.has(k) || old === undefined) continue;
        const v = f(old);
        if (String(v) !== String(old)) (set(k, v), changed.push(`${k}=${v}`));
      }
    };
    const r = to.defaults.epsScale / from.defaults.epsScale;
    const scale = (v: number) => Math.round(v * r * 1000) / 1000;
    apply(keys.eps, (v) => (Array.isArray(v) ? (v as number[]).map(scale) : scale(v as number)));
    apply(keys.arch, () => to.defaults.arch);
    apply(
      keys.epochs,
      (v) => Math.max(1, Math.round(((v as number) * to.defaults.epochs) / from.defaults.epochs)),
    );
    if (changed.length) {
      console.error(
        `note: adapted the preset from ${from.name} to ${to.name} defaults: ${changed.join(" ")}`,
      );
    }
    return out as C;
  };
}

/** The out dir of a run: --out, or out/<experiment id>. */
export function outDirOf(spec: { id: string }, config: { out: string }): string {
  return config.out !== "" ? config.out : join("out", spec.id);
}

/** Options of a run started from code or the CLI. */
export interface RunOptions {
  preset?: string;
  /** No config line, no summary print (tests). */
  quiet?: boolean;
  /** Print the resolved config and the backend in full (--verbose); otherwise one line each. */
  verbose?: boolean;
  /**
   * Shard i/n (--shard): the run builds only its part of each per-example set into the cache, writes no out dir
   * and ends by throwing ShardStop (lib/run/shard.ts); a run without it assembles the parts.
   */
  shard?: Shard | null;
}

/** What runSeeds() returns and writes to results.json: the runs' results, their spread, the seeds. */
export type SeedsOutcome<R> = R & RunSummary & {
  /** Every numeric leaf of the results (dotted path) over the runs: mean, sample sd, min, max, n. */
  aggregate: Record<string, Spread>;
  seeds: SeedsInfo;
};

/** Everything a running experiment needs from the harness. */
export interface Run<C extends CommonConfig> {
  id: string;
  config: C;
  preset: string | null;
  /** Where this run writes its files (a staging dir, swapped into `target` when the run completes). */
  outDir: string;
  /** The out dir the user asked for. */
  target: string;
  backend: BackendInfo;
  data: Dataset;
  /** The planted class patterns [numClasses][h * w * c] when --plant.norm > 0 (the data carries them). */
  plant: { patterns: Float32Array[]; clipped: number } | null;
  meta: RunMeta;
  /** performance.now() at start, for runSeconds. */
  t0: number;
  /**
   * The options every pipeline step takes: the dataset's class count, config.seed, config.cache and the shard
   * this run builds (--shard; null = all of each set).
   */
  common: { numClasses: number; seed: number; cache: boolean; shard: Shard | null };
  /**
   * The first `trainSize` training examples (0 = all) with their cache identity, and the first `testSize` test
   * examples (takeFirst(): a size above the split's says so and uses all); with --evalOn=val the last `testSize`
   * (default 1,000) training images stand in for the test set (validationSplit()). `testRef` is the evaluation
   * split with its cache identity (`test[:n]`, or `train[a:b]` for the validation images), for what is built
   * from it (Section 3.3's transfer set).
   */
  splits(sizes: { trainSize: number; testSize: number }): { train: DataRef; test: Split; testRef: DataRef };
  /** Keeps a model (anything holding a ZooModel as `.model`) until the run ends, then disposes it; returns it. */
  track<T extends { model: ZooModel }>(m: T): T;
  /** Disposes a tracked model now (a loop that trains one model after another). */
  release(m: { model: ZooModel }): void;
  /** Exports a built set into the out dir: <name>_x.npy, <name>_y.npy and a preview grid (lib/run/export.ts). */
  exportSet(name: string, split: Split): Promise<void>;
  /** Writes a file (a figure) into the out dir atomically. */
  writeFile(name: string, bytes: Uint8Array): Promise<void>;
}

/** The run metadata written into every results.json beside the results. */
export interface RunSummary {
  experiment: string;
  dataset: string;
  preset: string | null;
  backend: string;
  runSeconds: number;
  gitCommit: string | null;
  summary: Summary;
}

/**
 * What an experiment body returns: its results (results.json) and its summary for people. The summary's heading
 * is `<spec.title>: <headline>` and its report position spec.order (set by runExperiment from the spec, so a
 * copy is titled by its own id).
 */
export interface Outcome<R> {
  results: R;
  summary: SectionSummary;
}

/**
 * A run's data as its pipeline sees it: the dataset the config names (--dataDir, --trainFrom, --imageSize), with
 * the planted control when --plant.norm > 0 (`planted` keeps its patterns and clipped share; null otherwise).
 * Also what a script that re-reads a finished run (docs/probes/) calls to see the same images.
 */
export async function loadRunData(
  config: CommonConfig,
): Promise<{ data: Dataset; planted: ReturnType<typeof plantDataset> | null }> {
  const loaded = await loadDataset(config.dataset, {
    ...(config.dataDir ? { dir: config.dataDir } : {}),
    ...(config.trainFrom ? { trainFrom: config.trainFrom } : {}),
    ...(config.imageSize ? { imageSize: config.imageSize } : {}),
  });
  const planted = config.plant.norm > 0
    ? plantDataset(loaded, config.plant, deriveSeed(config.seed, "plant"))
    : null;
  return { data: planted ? planted.data : loaded, planted };
}

/** A run's training set and evaluation split (Run.splits(), which documents them) on its data. */
export function runSplits(
  data: Dataset,
  evalOn: CommonConfig["evalOn"],
  { trainSize, testSize }: { trainSize: number; testSize: number },
): { train: DataRef; test: Split; testRef: DataRef } {
  const train = sourceRef(data, takeFirst(data.train, trainSize, "trainSize"));
  if (evalOn !== "val") {
    const test = takeFirst(data.test, testSize, "testSize");
    return { train, test, testRef: sourceRef(data, test, "test") };
  }
  // the validation images are training images: their identity says which, never the test set's
  const test = validationSplit(data.train, testSize || 1000, trainSize), from = data.train.n - test.n;
  const ref = sourceRef(data, test, "train");
  return { train, test, testRef: { ...ref, id: { ...ref.id, name: `train[${from}:${data.train.n}]` } } };
}

/**
 * Runs an experiment: validates the config, checks the out dir is writable, locks and stages it, prints the
 * config, selects the backend, loads the data, writes config.json, runs `body`, writes results.json with the
 * summary and swaps the staged dir into place. A failed run leaves the previous complete run untouched.
 */
export async function runExperiment<C extends CommonConfig, R extends object>(
  spec: ExperimentSpec<C>,
  config: C,
  opts: RunOptions,
  body: (run: Run<C>) => Promise<Outcome<R>>,
): Promise<R & RunSummary> {
  const t0 = performance.now();
  validateConfig(config, spec.keys);
  const shard = opts.shard ?? null;
  const stage = shard
    ? (build: (dir: string) => Promise<R & RunSummary>) => inScratchDir(spec.id, shard, config, build)
    : (build: (dir: string) => Promise<R & RunSummary>) => inRunDir(outDirOf(spec, config), opts, build);
  return await stage(async (dir) => {
    if (!opts.quiet) console.error(configLine(spec.id, config, opts, outDirOf(spec, config)));
    const backend = await initBackend(config.backend, { quiet: opts.quiet, verbose: opts.verbose });
    const { data, planted } = await loadRunData(config);
    if (planted && !opts.quiet) {
      console.error(
        `positive control: a class pattern of L2 norm ${config.plant.norm} planted in every image${
          config.plant.content === "shuffle" ? ", labels shuffled so the content carries no class signal" : ""
        } (pixels mapped ` +
          `into [${config.plant.margin}, ${1 - config.plant.margin}]; ${
            (100 * planted.clipped).toFixed(2)
          }% of pixel values clipped)`,
      );
    }
    const meta = await writeRunConfig(dir, config, {
      backend: backend.name,
      seed: config.seed,
      preset: opts.preset,
      tfjs: tf.version.tfjs,
    });
    const tracked = new Set<ZooModel>();
    const run: Run<C> = {
      id: spec.id,
      config,
      preset: opts.preset ?? null,
      outDir: dir,
      target: outDirOf(spec, config),
      backend,
      data,
      plant: planted ? { patterns: planted.patterns, clipped: planted.clipped } : null,
      meta,
      t0,
      common: { numClasses: data.info.numClasses, seed: config.seed, cache: config.cache, shard },
      splits: (sizes) => runSplits(data, config.evalOn, sizes),
      track: (m) => (tracked.add(m.model), m),
      release: (m) => {
        if (tracked.delete(m.model)) m.model.model.dispose();
      },
      exportSet: async (name, split) => {
        await exportDataset(dir, name, split, { classNames: data.info.classNames });
      },
      writeFile: (name, bytes) => writeFileAtomic(join(dir, name), bytes),
    };
    let outcome: Outcome<R>;
    try {
      outcome = await body(run);
    } finally {
      for (const m of tracked) m.model.dispose();
    }
    const { results, summary: own } = outcome;
    const summary = withIdentity(spec, own);
    const full = {
      ...results,
      experiment: spec.id,
      dataset: config.dataset,
      preset: run.preset,
      backend: backend.name,
      runSeconds: Math.round((performance.now() - t0) / 100) / 10,
      gitCommit: meta.gitCommit,
      summary,
    };
    return full;
  });
}

/**
 * What a run prints first: the resolved config in full with --verbose, else one line naming the preset, dataset
 * and seed, and where the full config is written.
 */
export function configLine(id: string, config: CommonConfig, opts: RunOptions, target: string): string {
  if (opts.verbose) return `${id}: resolved config\n${JSON.stringify(config, null, 2)}`;
  return `${id}: preset ${opts.preset ?? "-"}, dataset ${config.dataset}, seed ${config.seed} ` +
    `(the full config goes to ${join(target, "config.json")}; --verbose prints it)`;
}

/**
 * Stages `target` (locked, written into a staging dir) for `build`, which returns results.json's content; writes
 * it, swaps the staging dir into place and prints the summary. A failure leaves the previous complete run.
 */
async function inRunDir<T extends RunSummary>(
  target: string,
  opts: RunOptions,
  build: (dir: string) => Promise<T>,
): Promise<T> {
  await assertWritableDir(target);
  const dir = await openRunDir(target);
  try {
    const full = await build(dir.path);
    await writeJsonAtomic(join(dir.path, "results.json"), full);
    await dir.commit();
    if (!opts.quiet) printDone(full, target);
    return full;
  } catch (err) {
    await dir.abort();
    throw err;
  }
}

/**
 * A shard run's stage: a scratch dir in place of the out dir (shards run at once, and the out dir is the
 * assembling run's). The run ends in ShardStop: at its first phase with parts to build, or, when it ran to its
 * end because everything it shards was in the cache, with nothing built (the last round of --workers, or a
 * section without per-example work).
 */
async function inScratchDir<T>(
  id: string,
  shard: Shard,
  config: CommonConfig,
  build: (dir: string) => Promise<T>,
): Promise<never> {
  if (!config.cache) throw new UserError(`--shard=${shardText(shard)} needs the cache (${NEEDS_CACHE})`);
  const dir = await Deno.makeTempDir({ prefix: `${id}-shard-` });
  try {
    await build(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  throw new ShardStop(shard, []);
}

/** A section's summary with its heading and report position from the spec: `<spec.title>: <headline>`. */
export function withIdentity(spec: { title: string; order: number }, s: SectionSummary): Summary {
  const { headline, ...rest } = s;
  return { title: `${spec.title}: ${headline}`, order: spec.order, ...rest };
}

/** Prints the summary and what the run wrote. */
function printDone(full: RunSummary, target: string): void {
  console.log(`\n${summaryMarkdown(full.summary)}\n`);
  const files = [...Deno.readDirSync(target)].map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
  console.log(
    `(${full.dataset}, preset ${full.preset ?? "-"}, ${full.runSeconds} s, backend ${full.backend}); ` +
      `wrote ${target}/: ${files.join(" ")}`,
  );
}

const RUN_FIELDS = ["experiment", "dataset", "preset", "backend", "runSeconds", "gitCommit", "summary"];

/**
 * Runs `main` once per seed of the spec's sweep (run i: spec.seedSweep.vary(config, i), by default seed =
 * config.seed + i) into <out>/seeds/<seed>/, each a complete run with its own config.json, results.json and
 * exports, then writes <out>/config.json (meta.seeds: the seeds and what they vary) and <out>/results.json:
 * the results' structure with every number replaced by its mean over the runs, `aggregate` (mean, sample sd,
 * min, max, n of every numeric leaf), `seeds`, and the summary merged cell by cell ("mean ± sd (n=N)").
 * Like a single run, it is staged and swapped in only when every run completed. Cached artifacts make a rerun
 * with more seeds cheap: the seeds already run are cache hits.
 */
export async function runSeeds<C extends CommonConfig, R extends object>(
  spec: ExperimentSpec<C>,
  /** The experiment's main(), which runs through runExperiment() (so it returns RunSummary's fields too). */
  main: (config: C, opts: RunOptions) => Promise<R>,
  config: C,
  opts: RunOptions & { seeds: number },
): Promise<SeedsOutcome<R>> {
  const t0 = performance.now();
  if (!Number.isInteger(opts.seeds) || opts.seeds < 1) {
    throw new RangeError(`--seeds must be a whole number >= 1, got ${opts.seeds}`);
  }
  validateConfig(config, spec.keys);
  const configs = Array.from({ length: opts.seeds }, (_, i) => spec.seedSweep.vary(config, i));
  for (const c of configs) validateConfig(c, spec.keys);
  const values = configs.map((c) => c.seed);
  if (new Set(values).size !== values.length) {
    throw new RangeError(
      `the seed sweep of ${spec.id} gives the runs the seeds ${values.join(", ")}, one of them twice, so ` +
        "two runs would share an out dir (seeds/<seed>/); a SeedSweep's vary() must give each run its own seed",
    );
  }
  if (opts.shard) {
    // a shard of every seed's sets, each shard starting on its own seed (buildEach()'s unit order, so the seeds'
    // models are trained at once); every run ends in ShardStop: one names what they all built
    const shard = opts.shard;
    await buildEach(configs, shard, (c) => main(c, { ...opts, quiet: true }));
    throw new ShardStop(shard, []);
  }
  return await inRunDir(outDirOf(spec, config), opts, async (dir) => {
    const seeds: SeedsInfo = { n: values.length, values, varies: spec.seedSweep.varies };
    const runs: (R & RunSummary)[] = [];
    for (const [i, c] of configs.entries()) {
      if (!opts.quiet) console.error(`\n=== ${spec.id}: run ${i + 1}/${configs.length}, seed ${c.seed} ===`);
      const out = join(dir, "seeds", String(c.seed));
      await Deno.mkdir(dirname(out), { recursive: true });
      runs.push(await main({ ...c, out }, { ...opts, quiet: true }) as R & RunSummary);
    }
    const first = runs[0];
    const results = runs.map((r) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !RUN_FIELDS.includes(k)))
    ) as unknown as R[];
    const aggregate = aggregateNumbers(results);
    const meta = await writeRunConfig(dir, config, {
      backend: first.backend,
      seed: config.seed,
      preset: opts.preset,
      tfjs: tf.version.tfjs,
      seeds,
    });
    const parts = spec.seeded ? await spec.seeded(results, { dir, config }) : {};
    const merged = aggregateSummaries(
      runs.map((r) => r.summary),
      values,
      `seeds/${values[0]}/`,
      parts.figures,
    );
    const summary = {
      ...merged,
      claims: parts.claims ?? merged.claims,
      notes: [...parts.notes ?? [], ...merged.notes],
    };
    const full = {
      ...withMeans(results[0], aggregate),
      experiment: spec.id,
      dataset: config.dataset,
      preset: opts.preset ?? null,
      backend: first.backend,
      runSeconds: Math.round((performance.now() - t0) / 100) / 10,
      gitCommit: meta.gitCommit,
      summary,
      seeds,
      aggregate,
      note:
        "numbers here are means over the runs (aggregate: their spread); each run: seeds/<seed>/results.json",
    };
    return full as SeedsOutcome<R>;
  });
}

/**
 * CLI entry: parses argv with the spec (presets, overrides, --help) and runs `main` (with --seeds=N: N times,
 * runSeeds), with clean errors.
 */
export function cli<C extends CommonConfig>(
  spec: ExperimentSpec<C>,
  main: (config: C, opts: RunOptions) => Promise<object>,
): void {
  runMain(async () => {
    const parsed = parseCli(Deno.args, spec);
    if (!parsed) return 0;
    const command = (s: Shard | null) => shardCommand(spec.name, Deno.args, s);
    if (parsed.workers) {
      if (!parsed.config.cache) {
        throw new UserError(`--workers=${parsed.workers} needs the cache (${NEEDS_CACHE})`);
      }
      await runWorkers(parsed.workers, { command });
    }
    const opts = { preset: parsed.preset, shard: parsed.shard, verbose: parsed.verbose };
    try {
      if (parsed.seeds > 1) await runSeeds(spec, main, parsed.config, { ...opts, seeds: parsed.seeds });
      else await main(parsed.config, opts);
    } catch (err) {
      if (err instanceof PartsMissing) throw err.withCommands(command);
      if (!(err instanceof ShardStop)) throw err;
      // a shard's work is done: exit 0, so a scheduler's "after every shard succeeded" dependency holds
      await shardReport({ built: err.built.length });
      const next = err.complete ? "every part is there: assemble" : "when every shard is done, assemble";
      console.error(`${err.message}\n${next} and carry on: ${command(null)}`);
    }
    return 0;
  });
}

/** The first `n` examples of a split (0 = all); says so on stderr when the split has fewer than asked. */
export function takeFirst(split: Split, n: number, what: string): Split {
  if (n > split.n) {
    console.error(
      `note: --${what}=${n} is more than the ${split.n} examples there are; using all ${split.n}`,
    );
  }
  return firstN(split, n);
}
