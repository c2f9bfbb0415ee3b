// Cached building blocks the experiments share: train a model, build the relabelled D_rand / D_det datasets.
import { join } from "node:path";
import { attackSplit } from "./attacks.ts";
import { cached } from "./cache.ts";
import { loadModel, saveModel } from "./checkpoint.ts";
import { readNpy, writeNpy } from "./data/npy.ts";
import type { Split } from "./data/registry.ts";
import { createModel, type ZooModel } from "./models.ts";
import { phase } from "./progress.ts";
import { createRng, deriveSeed } from "./rng.ts";
import { trainModel, type TrainOptions } from "./train.ts";
import { type TrainConfig, trainOptions } from "./experiment.ts";

/** Identifies a training set for the cache: the dataset, how it was derived, and its size. */
export interface DataId {
  dataset: string;
  /** e.g. "train[:20000]" or "d_det(<hash>)". */
  name: string;
  n: number;
}

/** The cache identity of the first `split.n` training examples of a dataset. */
export function sourceDataId(dataset: string, split: Split): DataId {
  return { dataset, name: `train[:${split.n}]`, n: split.n };
}

/** Trains `arch` on `split` (or loads the identical model from the cache). */
export async function trainCached(arch: string, split: Split, opts: {
  data: DataId;
  numClasses: number;
  train: TrainOptions;
  cache: boolean;
  title: string;
}): Promise<{ model: ZooModel; hash: string; hit: boolean }> {
  phase(opts.title);
  const { label: _l, ...trainKey } = opts.train;
  const r = await cached("model", { arch, data: opts.data, numClasses: opts.numClasses, train: trainKey }, {
    enabled: opts.cache,
    build: () => {
      const model = createModel(arch, {
        inputShape: split.shape,
        numClasses: opts.numClasses,
        seed: deriveSeed(opts.train.seed, "init"),
      });
      trainModel(model, split, { ...opts.train, label: opts.train.label ?? `train ${arch}` });
      return model;
    },
    save: (dir, m) => saveModel(m, dir),
    load: (dir) => loadModel(dir),
  });
  return { model: r.value, hash: r.hash, hit: r.hit };
}

/**
 * The standard source model every section starts from: `recipe.arch` trained on `split` with the seed label
 * "source", so sec3_1, sec3_2 and sec3_3 share one cache entry whenever their recipes match.
 */
export function trainSource(split: Split, opts: {
  recipe: TrainConfig;
  dataset: string;
  numClasses: number;
  seed: number;
  cache: boolean;
}): Promise<{ model: ZooModel; hash: string; hit: boolean }> {
  const arch = opts.recipe.arch;
  return trainCached(arch, split, {
    data: sourceDataId(opts.dataset, split),
    numClasses: opts.numClasses,
    train: trainOptions(opts.recipe, deriveSeed(opts.seed, "source"), `train source ${arch}`),
    cache: opts.cache,
    title: `source model: standard training of ${arch} on ${split.n} images`,
  });
}

/** Targeted L2 PGD settings of eq. 6 (pixel units). */
export interface RelabelAttack {
  eps: number;
  steps: number;
  stepSize: number;
  batchSize: number;
}

/** A relabelled dataset with its construction statistics. */
export interface RelabelledSet {
  split: Split;
  /** Original labels y [n] (the new labels are split.y = t). */
  original: Uint8Array;
  /** Fraction of examples the source model classifies as t after the attack. */
  attackSuccess: number;
  /** Mean ||x_adv - x||_2. */
  meanDeltaL2: number;
  hash: string;
}

/** Targets for D_rand (uniform over the other classes, seeded) or D_det (t = (y + 1) mod C). [n] */
export function relabelTargets(
  y: Uint8Array,
  mode: "rand" | "det",
  opts: { numClasses: number; seed: number },
): Uint8Array {
  const C = opts.numClasses;
  if (mode === "det") return Uint8Array.from(y, (v) => (v + 1) % C);
  const rng = createRng(opts.seed);
  return Uint8Array.from(y, (v) => (v + 1 + rng.int(C - 1)) % C);
}

/**
 * Section 3.2 (Fig 6): x_adv = targeted L2 PGD toward t on the standard source model, relabelled as t.
 * Cached by source model hash, mode and attack settings.
 */
export async function buildRelabelled(source: { model: ZooModel; hash: string }, split: Split, opts: {
  mode: "rand" | "det";
  numClasses: number;
  attack: RelabelAttack;
  seed: number;
  cache: boolean;
}): Promise<RelabelledSet> {
  phase(
    `build d_${opts.mode}: targeted L2 PGD (eps ${opts.attack.eps}, ${opts.attack.steps} steps of ${opts.attack.stepSize})`,
  );
  const targets = relabelTargets(split.y, opts.mode, {
    numClasses: opts.numClasses,
    seed: deriveSeed(opts.seed, `targets_${opts.mode}`),
  });
  type Built = {
    x: Float32Array;
    t: Uint8Array;
    y: Uint8Array;
    stats: { attackSuccess: number; meanDeltaL2: number };
  };
  const r = await cached<Built>("dataset", {
    kind: `d_${opts.mode}`,
    source: source.hash,
    n: split.n,
    attack: opts.attack,
    seed: opts.seed,
  }, {
    enabled: opts.cache,
    build: () => {
      const a = attackSplit(source.model, split, {
        threat: "l2",
        ...opts.attack,
        targets,
        seed: deriveSeed(opts.seed, `attack_${opts.mode}`),
        label: `attack d_${opts.mode}`,
      });
      const attackSuccess = a.success.reduce((s, v) => s + v, 0) / split.n;
      const meanDeltaL2 = a.deltaL2.reduce((s, v) => s + v, 0) / split.n;
      return { x: a.x, t: targets, y: split.y.slice(), stats: { attackSuccess, meanDeltaL2 } };
    },
    save: async (dir, b) => {
      await writeNpy(join(dir, "x.npy"), { dtype: "float32", shape: [split.n, ...split.shape], data: b.x });
      await writeNpy(join(dir, "t.npy"), { dtype: "uint8", shape: [split.n], data: b.t });
      await writeNpy(join(dir, "y.npy"), { dtype: "uint8", shape: [split.n], data: b.y });
      await Deno.writeTextFile(join(dir, "stats.json"), JSON.stringify(b.stats));
    },
    load: async (dir) => ({
      x: (await readNpy(join(dir, "x.npy"))).data as Float32Array,
      t: (await readNpy(join(dir, "t.npy"))).data as Uint8Array,
      y: (await readNpy(join(dir, "y.npy"))).data as Uint8Array,
      stats: JSON.parse(await Deno.readTextFile(join(dir, "stats.json"))),
    }),
  });
  const b = r.value;
  console.error(
    `d_${opts.mode}: attack success ${(100 * b.stats.attackSuccess).toFixed(1)}%, mean ||delta||_2 ${
      b.stats.meanDeltaL2.toFixed(3)
    }`,
  );
  return {
    split: { x: b.x, y: b.t, n: split.n, shape: split.shape },
    original: b.y,
    ...b.stats,
    hash: r.hash,
  };
}
