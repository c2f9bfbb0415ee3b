// Cached building blocks the experiments share: train a model on a set, build a relabelled set (Section 3.2) or a
// representation-matched set (Section 3.1). Each cache key holds the config, the data's content and the code.
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import {
  expectationOverTransforms,
  flip,
  gaussianNoise,
  matchRepresentationSplit,
  type Objective,
  perturbSplit,
  targeted,
  THREAT_MODELS,
  type Transform,
  translate,
} from "../core/attacks.ts";
import { cached, entryHash, sourceHash } from "./cache.ts";
import { assembleOrBuild, buildPart, removeParts, type Shard, type ShardedBuild } from "./shard.ts";
import { loadModel, saveModel } from "./checkpoint.ts";
import { imageSize, sliceSplit, subset } from "../data/batch.ts";
import { readNpy, writeNpy } from "../data/npy.ts";
import type { Dataset, Split } from "../data/registry.ts";
import { createModel, type ZooModel } from "../core/models.ts";
import { type Metrics, phase, showing } from "../util/progress.ts";
import type {
  AttackConfig,
  EotConfig,
  FailurePolicy,
  MatchConfig,
  RobustConfig,
  TrainConfig,
} from "./recipes.ts";
import { trainOptions } from "./recipes.ts";
import { relabel, RELABEL_RULES } from "../core/relabel.ts";
import { createRng, deriveSeed } from "../util/rng.ts";
import { evaluate, trainModel, type TrainOptions } from "../core/train.ts";
import { OPTIMIZERS } from "../core/optimizers.ts";
import { UserError } from "../util/errors.ts";
import { labelChecks } from "../data/labels.ts";
import { pct } from "./summary.ts";

/** A training set with its cache identity: the data's content, how it was derived, and its size. */
export interface DataRef {
  split: Split;
  /** e.g. { data: "<fingerprint>", name: "train[:20000]" } or { data: ..., name: "d_det(<hash>)" }. */
  id: { data: string; name: string; n: number };
  /** The export the set was read from (--trainFrom), if any; not part of the identity (the data's is). */
  trainFrom?: string;
}

/** The first `split.n` examples of a loaded dataset's training (or test) split as a DataRef. */
export function sourceRef(data: Dataset, split: Split, part: "train" | "test" = "train"): DataRef {
  const ref: DataRef = { split, id: { data: data.fingerprint, name: `${part}[:${split.n}]`, n: split.n } };
  return data.trainFrom && part === "train" ? { ...ref, trainFrom: data.trainFrom } : ref;
}

/** A derived set (built from `parent` with the artifact `hash`) as a DataRef. */
export function derivedRef(parent: DataRef, name: string, hash: string, split: Split): DataRef {
  return { split, id: { data: parent.id.data, name: `${name}(${hash})`, n: split.n } };
}

/** The files whose code decides a trained model's or built dataset's bytes (lib + the backend's kernels). */
function codeFiles(): URL[] {
  const here = (p: string) => new URL(p, import.meta.url);
  const native = here("../backend/native/");
  const nativeFiles = [...Deno.readDirSync(native)].filter((e) => e.isFile && /\.(c|h)$/.test(e.name))
    .map((e) => new URL(e.name, native));
  return [
    here("./pipeline.ts"),
    here("../core/train.ts"),
    here("../core/attacks.ts"),
    here("../core/models.ts"),
    here("./checkpoint.ts"),
    here("../backend/mod.ts"),
    ...nativeFiles,
  ];
}

/** Hash of codeFiles() and their local imports (sourceHash memoizes it per process). */
const codeHash = (): Promise<string> => sourceHash(codeFiles());

/**
 * The code identity of an artifact: lib's code hash, and when it uses a value registered from outside lib/ (a
 * fork's relabelling rule, optimizer or threat model: Registry.origin()), the import graph of each module that
 * registered one. So a fork's rule `(y + SHIFT) % C` rebuilds its dataset when `const SHIFT` changes, which the
 * rule's source text alone does not see.
 *
 * Why the registering module and not the experiment's entry file: the entry file is different in every section,
 * and hashing it into every artifact would stop sec3_3 from reusing sec3_2's source model and D_det, and a fork
 * from reusing the sections' source models. An artifact that uses only lib's values keeps lib's code hash alone,
 * so it is shared by every entry; only what a fork's value can change gets the fork's code in its key. What
 * this does not see: code in a copied main() that edits data before it reaches the pipeline (docs/forking.md).
 */
export async function artifactCode(origins: (string | null)[]): Promise<string> {
  const base = await codeHash();
  const forks = [...new Set(origins.filter((o): o is string => o !== null))];
  return forks.length ? `${base}+${await sourceHash(forks)}` : base;
}

/** Trains `arch` on a set (or loads the identical model from the cache). */
export async function trainCached(arch: string, set: DataRef, opts: {
  numClasses: number;
  train: TrainOptions;
  cache: boolean;
  title: string;
}): Promise<{ model: ZooModel; hash: string; hit: boolean }> {
  phase(opts.title);
  const { label: _l, configKey: _k, optimizer, ...rest } = opts.train;
  if (typeof optimizer !== "string") {
    throw new TypeError("trainCached: the optimizer must be a registered name");
  }
  const key = {
    arch,
    data: set.id,
    numClasses: opts.numClasses,
    train: { ...rest, optimizer },
  };
  const adv = opts.train.adversarial;
  const r = await cached("model", key, {
    enabled: opts.cache,
    code: await artifactCode([
      OPTIMIZERS.origin(optimizer),
      ...(adv ? [THREAT_MODELS.origin(adv.threat)] : []),
    ]),
    build: async () => {
      const model = createModel(arch, {
        inputShape: set.split.shape,
        numClasses: opts.numClasses,
        seed: deriveSeed(opts.train.seed, "init"),
        init: opts.train.init,
      });
      await trainModel(model, set.split, { ...opts.train, label: opts.train.label ?? `train ${arch}` });
      return model;
    },
    save: (dir, m) => saveModel(m, dir),
    load: (dir) => loadModel(dir),
  });
  return { model: r.value, hash: r.hash, hit: r.hit };
}

/**
 * Trains a recipe on a set with the seed label `role` (e.g. "source", "fresh_d_rand"); `key` is the recipe's
 * config prefix (named in errors). Sections that use the same recipe, set and role share one cache entry.
 */
export function trainRecipe(set: DataRef, opts: {
  recipe: TrainConfig;
  role: string;
  key: string;
  numClasses: number;
  seed: number;
  cache: boolean;
  title: string;
  adversarial?: TrainOptions["adversarial"];
}): Promise<{ model: ZooModel; hash: string; hit: boolean }> {
  const arch = opts.recipe.arch;
  return trainCached(arch, set, {
    numClasses: opts.numClasses,
    train: {
      ...trainOptions(
        opts.recipe,
        deriveSeed(opts.seed, opts.role),
        `train ${arch} (${opts.role})`,
        opts.key,
      ),
      adversarial: opts.adversarial ?? null,
    },
    cache: opts.cache,
    title: opts.title,
  });
}

/**
 * Stops a run whose source model is near chance (below `factor` x chance accuracy on the test set): a dataset
 * built from it would say nothing. `key` is the recipe's config prefix; the error names the likely cause
 * (nearChanceCause(): the --trainFrom export, labels that look wrong, else the recipe).
 */
export function requireUseful(acc: number, opts: {
  numClasses: number;
  key: string;
  factor?: number;
  /** What the model was trained and tested on, checked for the cause (labelChecks()). */
  data?: NearChanceData;
}): void {
  const factor = opts.factor ?? 1.5, chance = 1 / opts.numClasses;
  if (acc < factor * chance) {
    throw new UserError(
      `the ${opts.key} model reached only ${pct(acc)} test accuracy (chance ${pct(chance)}, needed at least ${
        pct(factor * chance)
      }); nothing built from it would be meaningful. ${nearChanceCause(opts.key, { ...opts, factor })}`,
    );
  }
}

/** The training and test splits of a model near chance, and the export it was trained on (--trainFrom). */
export interface NearChanceData {
  train: Split;
  test: Split;
  trainFrom?: string;
}

/**
 * Why a model may have stayed near chance, most likely first: a --trainFrom export (its labels are what the model
 * learned), a class holding most training labels or none, labels in which a nearest-class-mean classifier finds no
 * signal (shuffled) or a signal that the test set does not share (another class order); when none applies, the
 * training recipe.
 */
export function nearChanceCause(
  key: string,
  opts: { numClasses: number; factor: number; data?: NearChanceData },
): string {
  const recipe = `--${key}.lr, --${key}.epochs and --${key}.optimizer`, d = opts.data;
  if (!d) return `Check ${recipe}`;
  const c = labelChecks(d.train, d.test, { numClasses: opts.numClasses }), causes: string[] = [];
  if (d.trainFrom) {
    causes.push(
      `the training set is the export --trainFrom=${d.trainFrom}, and its labels are what the model learned (a ` +
        "relabelled set such as d_det, or one built from a weak model, can teach the test set's classes little); " +
        "run without --trainFrom to check the recipe on the dataset's own labels",
    );
  }
  if (c.dominated) {
    causes.push(
      `class ${c.largest.label} holds ${pct(c.largest.share)} of the ${d.train.n} training labels (uniform: ${
        pct(1 / opts.numClasses)
      })`,
    );
  }
  if (c.empty.length) causes.push(`class(es) ${c.empty.join(", ")} have no training example`);
  const bar = opts.factor / opts.numClasses;
  const centroid = `a nearest-class-mean classifier scores ${
    pct(c.heldOutAcc)
  } on half of the first ${c.used.train} training images fitted on the other half, and ${
    pct(c.testAcc)
  } on ${c.used.test} test images`;
  if (c.heldOutAcc < bar) {
    causes.push(
      `${centroid}, so the training labels look unrelated to their images (shuffled?): check that the label ` +
        "file belongs to its image file, in the same order",
    );
  } else if (c.testAcc < bar) {
    causes.push(
      `${centroid}, so the training labels agree among themselves but not with the test set's (another class ` +
        "order?): check that training and test labels number the classes alike",
    );
  }
  if (!causes.length) {
    return `Likely cause: the training recipe (${centroid}, so the data carry signal): check ${recipe}`;
  }
  return `Likely cause: ${causes.join("; ")}. If the data are as intended, check ${recipe}`;
}

/** A source model with its test accuracy. */
export interface SourceModel {
  model: ZooModel;
  hash: string;
  testAcc: number;
}

/**
 * A source model every section shares through the cache: `recipe` trained on `set` with the seed label `role`
 * ("source" for the standard model; "robust" with `adversarial` for L2 adversarial training), tested on
 * `test`, and refused when near chance (requireUseful).
 */
export async function trainSourceModel(set: DataRef, test: Split, opts: {
  recipe: TrainConfig;
  role: "source" | "robust";
  key: string;
  numClasses: number;
  seed: number;
  cache: boolean;
  adversarial?: { eps: number; steps: number; stepSize: number };
}): Promise<SourceModel> {
  const arch = opts.recipe.arch, adv = opts.adversarial;
  const m = await trainRecipe(set, {
    ...opts,
    adversarial: adv ? { threat: "l2", ...adv } : null,
    title: adv
      ? `robust source model: L2 adversarial training of ${arch} (eps ${adv.eps}, ${adv.steps} steps of ${adv.stepSize})`
      : `source model: standard training of ${arch} on ${set.split.n} images`,
  });
  const testAcc = (await evaluate(m.model, test)).acc;
  console.error(`${opts.key} model test accuracy ${(100 * testAcc).toFixed(1)}%`);
  requireUseful(testAcc, {
    numClasses: opts.numClasses,
    key: opts.key,
    data: { train: set.split, test, trainFrom: set.trainFrom },
  });
  return { model: m.model, hash: m.hash, testAcc };
}

/**
 * The standard and the adversarially trained source models of Sections 2 and 3.1 (trainSourceModel(), cached and
 * shared: the standard one is Section 3.2's source model when the recipes agree), in that order.
 */
export async function trainSourcePair(set: DataRef, test: Split, opts: {
  /** The two recipes (a section passes its config, which holds them under these keys). */
  recipes: { standard: TrainConfig; robust: RobustConfig };
  numClasses: number;
  seed: number;
  cache: boolean;
}): Promise<{ standard: SourceModel; robust: SourceModel }> {
  const common = { numClasses: opts.numClasses, seed: opts.seed, cache: opts.cache };
  const standard = await trainSourceModel(set, test, {
    ...common,
    recipe: opts.recipes.standard,
    role: "source",
    key: "standard",
  });
  const { eps, steps, stepSize, ...recipe } = opts.recipes.robust;
  const robust = await trainSourceModel(set, test, {
    ...common,
    recipe,
    role: "robust",
    key: "robust",
    adversarial: { eps, steps, stepSize },
  });
  return { standard, robust };
}

/** The transformations an EOT config asks for. */
export function eotTransforms(e: EotConfig): Transform[] {
  return [
    ...(e.translate > 0 ? [translate(e.translate)] : []),
    ...(e.flip ? [flip] : []),
    ...(e.noise > 0 ? [gaussianNoise(e.noise)] : []),
  ];
}

/** The targeted objective of eq. 6 toward `targets`, averaged over transformations when `eot` asks for it. */
export function relabelObjective(targets: tf.Tensor1D, eot: EotConfig, seed: number): Objective {
  const transforms = eotTransforms(eot);
  if (eot.samples === 1 && transforms.length === 0) return targeted(targets);
  return expectationOverTransforms(targeted(targets), { samples: eot.samples, transforms, seed });
}

/** A relabelled dataset with its construction statistics. */
export interface RelabelledSet {
  /** The set (x_adv, labelled t) with its cache identity. */
  ref: DataRef;
  /** Original labels y [n] (the new labels are ref.split.y = t). */
  original: Uint8Array;
  /** Fraction of examples the source model classifies as t after the attack. */
  attackSuccess: number;
  /** Mean ||x_adv - x||_2. */
  meanDeltaL2: number;
  /** Examples in the set: all of them, or the attack's hits under `attack.failures` "drop". */
  kept: number;
  hash: string;
}

/** The seed labels of a relabelled set's targets and attack (deriveSeed); default `targets_<rule>`, `attack_<rule>`. */
export interface RelabelSeeds {
  targets: string;
  attack: string;
}

/** What a relabelled set is built from besides the source model and the set. */
export interface RelabelOptions {
  rule: string;
  attack: AttackConfig;
  seed: number;
  /** Other seed labels (Section 3.3's transfer attack on the test set); part of the key when given. */
  seedLabels?: RelabelSeeds;
}

/**
 * The cache key of a relabelled set: the source model, the set's identity, the rule (its name and source text,
 * so editing a rule rebuilds), the attack and the seed (the code's hash goes in as cached()'s `code`).
 */
export function relabelledKey(
  sourceHash: string,
  set: DataRef,
  opts: RelabelOptions,
): Record<string, unknown> {
  // the failure policy picks examples from the built set after the fact: not part of the build's identity
  const { failures: _policy, ...attack } = opts.attack;
  return {
    kind: "relabelled",
    rule: { name: opts.rule, source: RELABEL_RULES.get(opts.rule).toString() },
    source: sourceHash,
    data: set.id,
    attack,
    seed: opts.seed,
    ...(opts.seedLabels ? { seedLabels: opts.seedLabels } : {}),
  };
}

/**
 * The cache identity of a relabelled set: relabelledKey() and the code that builds it (lib's, plus the module
 * that registered the rule when that is a fork: artifactCode()). buildRelabelled() stores it under
 * entryHash("dataset", key, code).
 */
export async function relabelledEntry(
  sourceHash: string,
  set: DataRef,
  opts: RelabelOptions,
): Promise<{ key: Record<string, unknown>; code: string }> {
  return {
    key: relabelledKey(sourceHash, set, opts),
    code: await artifactCode([RELABEL_RULES.origin(opts.rule), THREAT_MODELS.origin("l2")]),
  };
}

/**
 * Section 3.2 (Fig 6): x_adv = targeted L2 PGD toward t = rule(y) on the source model, relabelled as t. Cached
 * by the source model, the set, the rule (name and source text), the attack and the seed. Section 3.3 builds its
 * transferred test examples the same way (`seedLabels`, `what` for the phase header).
 */
export async function buildRelabelled(
  source: { model: ZooModel; hash: string },
  set: DataRef,
  opts: RelabelOptions & { numClasses: number; cache: boolean; what?: string; shard?: Shard | null },
): Promise<RelabelledSet> {
  const { rule, attack } = opts;
  const labels = opts.seedLabels ?? { targets: `targets_${rule}`, attack: `attack_${rule}` };
  phase(
    `${
      opts.what ?? `build ${rule}`
    }: targeted L2 PGD (eps ${attack.eps}, ${attack.steps} steps of ${attack.stepSize}${
      attack.eot.samples > 1 ? `, EOT over ${attack.eot.samples}` : ""
    }${
      attack.finish.steps > 0
        ? `; failures get ${attack.finish.steps} plain steps of ${attack.finish.stepSize}`
        : ""
    })`,
  );
  const split = set.split;
  const targets = relabel(rule, split.y, opts.numClasses, createRng(deriveSeed(opts.seed, labels.targets)));
  type Built = {
    x: Float32Array;
    t: Uint8Array;
    y: Uint8Array;
    /** 1 where the source model classifies x_adv as t. */
    success: Uint8Array;
    stats: { attackSuccess: number; meanDeltaL2: number };
  };
  const entry = await relabelledEntry(source.hash, set, opts);
  const sharded: ShardedBuild = {
    kind: "dataset",
    ...entry,
    cache: opts.cache,
    hash: await entryHash("dataset", entry.key, entry.code),
    n: split.n,
    batchSize: attack.batchSize,
    // examples [start, end): what one process builds there (batch seeds count from `start`)
    build: async (start, end) => {
      const a = await showing(
        (m) => attackSuccessShown(m),
        () =>
          perturbSplit(source.model, sliceSplit(split, start, end), {
            threat: "l2",
            eps: attack.eps,
            steps: attack.steps,
            stepSize: attack.stepSize,
            batchSize: attack.batchSize,
            targets: targets.subarray(start, end),
            objective: (b) => relabelObjective(b.targets!, attack.eot, b.seed),
            finish: attack.finish,
            seed: deriveSeed(opts.seed, labels.attack),
            offset: start,
            label: `attack ${rule}`,
          }),
      );
      return { x: a.x, success: a.success, deltaL2: a.deltaL2 };
    },
  };
  await buildPart(sharded, opts.shard ?? null);
  const r = await cached<Built>("dataset", entry.key, {
    enabled: opts.cache,
    code: entry.code,
    build: async () => {
      const a = await assembleOrBuild(sharded);
      const success = a.success as Uint8Array, deltaL2 = a.deltaL2 as Float32Array;
      const attackSuccess = success.reduce((s, v) => s + v, 0) / split.n;
      const meanDeltaL2 = deltaL2.reduce((s, v) => s + v, 0) / split.n;
      return {
        x: a.x as Float32Array,
        t: targets,
        y: split.y.slice(),
        success,
        stats: { attackSuccess, meanDeltaL2 },
      };
    },
    save: async (dir, b) => {
      await writeNpy(join(dir, "x.npy"), { dtype: "float32", shape: [split.n, ...split.shape], data: b.x });
      await writeNpy(join(dir, "t.npy"), { dtype: "uint8", shape: [split.n], data: b.t });
      await writeNpy(join(dir, "y.npy"), { dtype: "uint8", shape: [split.n], data: b.y });
      await writeNpy(join(dir, "success.npy"), { dtype: "uint8", shape: [split.n], data: b.success });
      await Deno.writeTextFile(join(dir, "stats.json"), JSON.stringify(b.stats));
    },
    load: async (dir) => ({
      x: (await readNpy(join(dir, "x.npy"))).data as Float32Array,
      t: (await readNpy(join(dir, "t.npy"))).data as Uint8Array,
      y: (await readNpy(join(dir, "y.npy"))).data as Uint8Array,
      success: (await readNpy(join(dir, "success.npy"))).data as Uint8Array,
      stats: JSON.parse(await Deno.readTextFile(join(dir, "stats.json"))),
    }),
  });
  await removeParts(sharded);
  const b = r.value;
  console.error(
    `${rule}: attack success ${(100 * b.stats.attackSuccess).toFixed(1)}%, mean ||delta||_2 ${
      b.stats.meanDeltaL2.toFixed(3)
    }`,
  );
  const all = { x: b.x, y: b.t, n: split.n, shape: split.shape };
  if (attack.failures === "keep") {
    return {
      ref: derivedRef(set, rule, r.hash, all),
      original: b.y,
      ...b.stats,
      hash: r.hash,
      kept: split.n,
    };
  }
  const idx = keptIndices(b.success, attack.failures);
  console.error(
    `${rule}: ${split.n - idx.length} examples not at their target dropped (--attack.failures=drop)`,
  );
  const kept = subset(all, idx);
  return {
    ref: derivedRef(set, `${rule}-hits`, r.hash, kept),
    original: Uint8Array.from(idx, (i) => b.y[i]),
    ...b.stats,
    hash: r.hash,
    kept: idx.length,
  };
}

/** The examples a relabelled set keeps under a failure policy: every one ("keep") or the attack's hits ("drop"). */
export function keptIndices(success: Uint8Array, policy: FailurePolicy): number[] {
  const all = Array.from(success.keys());
  return policy === "keep" ? all : all.filter((i) => success[i] === 1);
}

/** A targeted attack's bar: the share of examples it moved to their target so far. */
function attackSuccessShown(m: Metrics): Metrics {
  return typeof m.success === "number" ? { "attack success": { pct: m.success } } : {};
}

/** Starting points x0 [n, h, w, c]: a random other image of `pool` per example (paper) or uniform noise. */
export function startingPoints(
  split: Split,
  pool: Split,
  opts: { start: string; seed: number },
): Float32Array {
  const rng = createRng(opts.seed), d = imageSize(split);
  const x0 = new Float32Array(split.n * d);
  if (opts.start === "noise") {
    for (let i = 0; i < x0.length; i++) x0[i] = rng.next();
    return x0;
  }
  for (let i = 0; i < split.n; i++) {
    let j = rng.int(pool.n);
    while (pool.n > 1 && j === i) j = rng.int(pool.n);
    x0.set(pool.x.subarray(j * d, (j + 1) * d), i * d);
  }
  return x0;
}

/** Representation matching settings of eq. 5 (declared with their keys in lib/run/recipes.ts MATCH_KEYS). */
export type { MatchConfig } from "./recipes.ts";

/** A set built by representation matching, with the mean relative distance reached. */
export interface MatchedSet {
  ref: DataRef;
  /** Mean ||g(x_r) - g(x)|| / ||g(x)||. */
  rel: number;
  hash: string;
}

/**
 * Section 3.1 (eq. 5): x_r from x0 matching the source model's representation of each x, labelled y. Cached by
 * the source model, the set, the matching settings, the starts' seed and the code.
 */
export async function buildMatched(source: { model: ZooModel; hash: string }, set: DataRef, opts: {
  name: string;
  x0: Float32Array;
  match: MatchConfig;
  seed: number;
  cache: boolean;
  what: string;
  /** Shard i/n (--shard): build only its part of the set (lib/run/shard.ts). */
  shard?: Shard | null;
}): Promise<MatchedSet> {
  const { match, name } = opts, split = set.split;
  phase(
    `build ${name}: match the ${opts.what}'s representation (eq. 5), ${match.steps} steps of ${match.stepSize}${
      match.schedule === "cosine" ? " (cosine-decayed)" : ""
    }`,
  );
  const key = { kind: "matched", name, source: source.hash, data: set.id, match, seed: opts.seed };
  const code = await codeHash(), d = imageSize(split);
  const sharded: ShardedBuild = {
    kind: "dataset",
    key,
    code,
    hash: await entryHash("dataset", key, code),
    cache: opts.cache,
    n: split.n,
    batchSize: match.batchSize,
    // examples [start, end) from their own starts (no randomness: each batch depends on its examples only)
    build: async (start, end) => {
      // eq. 5 has no success to count: the bar shows progress only
      const v = await showing(
        () => ({}),
        () =>
          matchRepresentationSplit(source.model, sliceSplit(split, start, end), {
            x0: opts.x0.subarray(start * d, end * d),
            steps: match.steps,
            stepSize: match.stepSize,
            stepSchedule: match.schedule,
            batchSize: match.batchSize,
            target: match.target,
            label: `match ${name}`,
          }),
      );
      return { x: v.x, rel: v.relDistance };
    },
  };
  await buildPart(sharded, opts.shard ?? null);
  const r = await cached("dataset", key, {
    enabled: opts.cache,
    code,
    build: async () => {
      const c = await assembleOrBuild(sharded);
      const rel = c.rel as Float32Array;
      return { x: c.x as Float32Array, relDistance: rel, distance: rel };
    },
    save: async (dir, v) => {
      await writeNpy(join(dir, "x.npy"), { dtype: "float32", shape: [split.n, ...split.shape], data: v.x });
      await writeNpy(join(dir, "rel.npy"), { dtype: "float32", shape: [split.n], data: v.relDistance });
    },
    load: async (dir) => {
      const rel = (await readNpy(join(dir, "rel.npy"))).data as Float32Array;
      return { x: (await readNpy(join(dir, "x.npy"))).data as Float32Array, relDistance: rel, distance: rel };
    },
  });
  await removeParts(sharded);
  const rel = r.value.relDistance.reduce((s, v) => s + v, 0) / split.n;
  console.error(`${name}: mean representation distance ||g(x_r) - g(x)|| / ||g(x)|| = ${rel.toFixed(3)}`);
  return { ref: derivedRef(set, name, r.hash, { ...split, x: r.value.x }), rel, hash: r.hash };
}
