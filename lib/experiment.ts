// The harness every experiment entry shares: common config keys, start-up (backend, data, config.json),
// results.json with run time, and the CLI wrapper. Each experiments/secX.ts keeps only its own science.
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { type CliSpec, type KeySpec, parseCli } from "./config.ts";
import { runMain } from "./errors.ts";
import { resolveOutDir, type RunMeta, writeJsonAtomic, writeRunConfig } from "./output.ts";
import { type BackendInfo, BACKENDS, initBackend } from "./backend/mod.ts";
import { type Dataset, DATASETS, loadDataset } from "./data/registry.ts";
import { ARCHITECTURES } from "./models.ts";
import type { TrainOptions } from "./train.ts";

/** Keys every experiment config has. */
export interface CommonConfig {
  /** Seed of every random choice in the run. */
  seed: number;
  /** Output directory; "" means out/<experiment>. */
  out: string;
  /** tfjs backend: auto | tensorflow | fast | wasm | cpu. */
  backend: string;
  /** Dataset name from the registry. */
  dataset: string;
  /** Directory to read the dataset from; "" searches the default places. */
  dataDir: string;
  /** Reuse cached source models and built datasets (out/cache). */
  cache: boolean;
}

/** Help and constraints of the common keys (merge into each experiment's key specs). */
export const COMMON_KEYS: Record<keyof CommonConfig, KeySpec> = {
  seed: {
    help: "seed of every random choice (weights, shuffles, attack starts, targets)",
    integer: true,
    min: 0,
  },
  out: { help: 'output directory ("" = out/<experiment>)' },
  backend: { help: "tfjs backend", choices: BACKENDS },
  dataset: { help: "dataset", choices: Object.keys(DATASETS) },
  dataDir: { help: 'read the dataset only from this directory ("" = default places)' },
  cache: { help: "reuse cached source models and built datasets under out/cache" },
};

/** Everything a running experiment needs from the harness. */
export interface Run<C extends CommonConfig> {
  experiment: string;
  config: C;
  preset: string | null;
  outDir: string;
  backend: BackendInfo;
  data: Dataset;
  meta: RunMeta;
  /** performance.now() at start, for runSeconds. */
  t0: number;
}

/** Prints the resolved config, selects the backend, writes config.json and loads the dataset. */
export async function startRun<C extends CommonConfig>(
  experiment: string,
  config: C,
  opts: { preset?: string; quiet?: boolean } = {},
): Promise<Run<C>> {
  const t0 = performance.now();
  if (!opts.quiet) console.error(`${experiment}: resolved config\n${JSON.stringify(config, null, 2)}`);
  const backend = await initBackend(config.backend, { quiet: opts.quiet });
  const outDir = await resolveOutDir(experiment, config.out);
  const data = await loadDataset(config.dataset, config.dataDir ? { dir: config.dataDir } : {});
  const meta = await writeRunConfig(outDir, config, {
    backend: backend.name,
    seed: config.seed,
    preset: opts.preset,
    tfjs: tf.version.tfjs,
  });
  return { experiment, config, preset: opts.preset ?? null, outDir, backend, data, meta, t0 };
}

/** Adds run metadata (runSeconds, backend, dataset, preset) to `results` and writes results.json atomically. */
export async function finishRun<C extends CommonConfig, R extends object>(
  run: Run<C>,
  results: R,
): Promise<R & RunSummary> {
  const full = {
    ...results,
    experiment: run.experiment,
    dataset: run.config.dataset,
    preset: run.preset,
    backend: run.backend.name,
    runSeconds: Math.round((performance.now() - run.t0) / 100) / 10,
    gitCommit: run.meta.gitCommit,
  };
  await writeJsonAtomic(join(run.outDir, "results.json"), full);
  return full;
}

/** The run metadata finishRun adds to every results.json. */
export interface RunSummary {
  experiment: string;
  dataset: string;
  preset: string | null;
  backend: string;
  runSeconds: number;
  gitCommit: string | null;
}

/** CLI entry: parses argv with the spec (presets, overrides, --help) and runs `main`, with clean errors. */
export function cli<C>(
  spec: CliSpec<C>,
  main: (config: C, opts: { preset: string }) => Promise<unknown>,
): void {
  runMain(async () => {
    const parsed = parseCli(Deno.args, spec);
    if (!parsed) return 0;
    await main(parsed.config, { preset: parsed.preset });
    return 0;
  });
}

/** A training recipe as it appears in an experiment config. */
export interface TrainConfig {
  arch: string;
  epochs: number;
  batchSize: number;
  optimizer: "sgd" | "adam";
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: "step" | "cosine" | "constant";
  augment: boolean;
  inputNoise: number;
}

/** The default recipe of the quick presets (reference CNN, Adam 1e-3, cosine schedule). */
export const TRAIN_DEFAULTS: TrainConfig = {
  arch: "cnn",
  epochs: 3,
  batchSize: 128,
  optimizer: "adam",
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "cosine",
  augment: false,
  inputNoise: 0,
};

/** The authors' CIFAR-10 recipe (robustness library defaults): ResNet-50, SGD 0.1, momentum 0.9, weight decay
 * 5e-4, batch 128, 150 epochs with lr x0.1 steps, random crop + flip. Used by every `paper` preset. */
export const PAPER_RECIPE: TrainConfig = {
  arch: "resnet50",
  epochs: 150,
  batchSize: 128,
  optimizer: "sgd",
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: "step",
  augment: true,
  inputNoise: 0,
};

/** Key specs of a TrainConfig stored under `prefix` (e.g. "source"). */
export function trainKeys(prefix: string, what: string): Record<string, KeySpec> {
  const p = prefix;
  return {
    [`${p}.arch`]: { help: `architecture of the ${what}`, choices: ARCHITECTURES },
    [`${p}.epochs`]: { help: `training epochs of the ${what}`, above: 0 },
    [`${p}.batchSize`]: { help: "batch size", integer: true, min: 1 },
    [`${p}.optimizer`]: { help: "optimizer", choices: ["sgd", "adam"] },
    [`${p}.lr`]: { help: "initial learning rate", above: 0 },
    [`${p}.momentum`]: { help: "SGD momentum", min: 0, max: 1 },
    [`${p}.weightDecay`]: { help: "L2 weight decay", min: 0 },
    [`${p}.schedule`]: { help: "learning-rate schedule", choices: ["step", "cosine", "constant"] },
    [`${p}.augment`]: { help: "random crop + flip (CIFAR-10)" },
    [`${p}.inputNoise`]: { help: "std of Gaussian input noise during training", min: 0 },
  };
}

/** Converts a config recipe into trainModel options. */
export function trainOptions(t: TrainConfig, seed: number, label: string): TrainOptions {
  const { arch: _arch, ...rest } = t;
  return { ...rest, seed, label };
}
