// Robust accuracy over L2 eps (Section 3.1's evaluation, App. D.2), cached and shardable per example: every
// model at every eps, the fresh models' mean over their seeds, the headline eps, and each fresh-model run's seed.
import { sliceSplit } from "../data/batch.ts";
import type { ZooModel } from "../core/models.ts";
import { evaluate } from "../core/train.ts";
import { phase } from "../util/progress.ts";
import { deriveSeed } from "../util/rng.ts";
import { meanInterval95, meanSd } from "../util/stats.ts";
import type { EvalAttackConfig } from "./recipes.ts";
import { cached, entryHash } from "./cache.ts";
import { artifactCode, type DataRef } from "./pipeline.ts";
import {
  assembleOrBuild,
  buildEach,
  buildPart,
  loadColumns,
  removeParts,
  saveColumns,
  type Shard,
  type ShardedBuild,
} from "./shard.ts";
import { pct } from "./summary.ts";

/** One model's accuracy at one eps (fractions; eps 0 = standard accuracy). robustAcc: under every attack (PGD,
 * then Auto-PGD CE + DLR); pgdRobustAcc: under PGD alone; over seeds: the mean with its sample sd and count. */
export interface CurvePoint {
  model: string;
  eps: number;
  robustAcc: number;
  pgdRobustAcc?: number;
  sd?: number;
  n?: number;
}

/** A point of one seed's curve. */
export interface SeedCurvePoint {
  model: string;
  eps: number;
  robustAcc: number;
  pgdRobustAcc?: number;
  seed: number;
}

/** A model with its cache identity (the entry hash trainCached() returns). */
export interface HashedModel {
  model: ZooModel;
  hash: string;
}

/** Test examples per evaluation chunk: the unit of the cache's parts and of --shard (one attack batch). */
export const EVAL_CHUNK = 250;

/**
 * Standard accuracy (eps 0) and robust accuracy (untargeted L2 PGD with step 2.5 eps / steps, then Auto-PGD on
 * what PGD left when `attack.strongSteps` > 0) of each model, in the record's order, at every eps of
 * `attack.curve`, in that order. Each (model, eps) evaluation is a cache entry of per-example results (kind
 * "eval", keyed by the model's hash, the test set's identity, the attack and the seed), built in chunks of
 * EVAL_CHUNK test examples whose random starts come from the seed and the chunk's first example, so that a
 * --shard run can build its chunks as parts (lib/run/shard.ts) and the assembled result is the one-process
 * result byte for byte. In a shard run every evaluation writes its part and then one ShardStop names them all.
 */
export async function robustnessCurve(
  models: Record<string, HashedModel>,
  test: DataRef,
  opts: {
    attack: Omit<EvalAttackConfig, "headlineMax">;
    seed: number;
    cache: boolean;
    shard?: Shard | null;
    /** Cache root (default out/cache). */
    root?: string;
  },
): Promise<CurvePoint[]> {
  const { steps, curve: eps, strongSteps, restarts } = opts.attack;
  phase(
    `evaluate: standard accuracy and robust accuracy (L2 PGD, ${steps} steps${
      strongSteps ? `, then Auto-PGD CE + DLR, ${strongSteps} steps x ${restarts}` : ""
    }) at eps ${eps.join(", ")}`,
  );
  const shard = opts.shard ?? null;
  const items = Object.keys(models).flatMap((n) => eps.map((e) => ({ n, e })));
  const robust = await buildEach(
    items,
    shard,
    ({ n, e }) => robustAt(models[n], test, { ...opts, eps: e, name: n }),
  );
  const curve: CurvePoint[] = [];
  for (const n of Object.keys(models)) {
    curve.push({ model: n, eps: 0, robustAcc: (await evaluate(models[n].model, test.split)).acc });
    for (const [i, it] of items.entries()) if (it.n === n) curve.push({ model: n, eps: it.e, ...robust[i] });
  }
  return curve;
}

const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;

/** One model's robust accuracy at one eps, from the cache or built (in chunks; in a shard run, its part). */
async function robustAt(
  m: HashedModel,
  test: DataRef,
  opts: {
    attack: Omit<EvalAttackConfig, "headlineMax">;
    seed: number;
    eps: number;
    name: string;
    cache: boolean;
    shard?: Shard | null;
    root?: string;
  },
): Promise<{ robustAcc: number; pgdRobustAcc: number }> {
  const { steps, strongSteps, restarts } = opts.attack, e = opts.eps, split = test.split;
  const attack = {
    threat: "l2",
    eps: e,
    steps,
    stepSize: (2.5 * e) / steps,
    strong: strongSteps ? { steps: strongSteps, restarts } : null,
  };
  const evalSeed = deriveSeed(opts.seed, "eval");
  const key = { model: m.hash, data: test.id, attack, seed: evalSeed, chunk: EVAL_CHUNK };
  const code = await artifactCode([]);
  const label = `robust acc ${opts.name} (eps ${e})`;
  const sharded: ShardedBuild = {
    kind: "eval",
    key,
    code,
    hash: await entryHash("eval", key, code),
    ...(opts.root ? { root: opts.root } : {}),
    cache: opts.cache,
    n: split.n,
    batchSize: EVAL_CHUNK,
    // chunk by chunk, each with its own random starts: the same bytes whichever process evaluates which chunks
    build: async (start, end) => {
      const robust = new Uint8Array(end - start), pgd = new Uint8Array(end - start);
      for (let c = start; c < end; c += EVAL_CHUNK) {
        const to = Math.min(end, c + EVAL_CHUNK);
        const r = await evaluate(m.model, sliceSplit(split, c, to), {
          attack: { ...attack, seed: deriveSeed(evalSeed, `chunk${c}`) },
          batchSize: EVAL_CHUNK,
          label: end - start > EVAL_CHUNK ? `${label}, examples ${c}..${to - 1}` : label,
        });
        robust.set(r.robust!, c - start);
        pgd.set(r.pgdRobust!, c - start);
      }
      return { robust, pgd };
    },
  };
  await buildPart(sharded, opts.shard ?? null);
  const r = await cached("eval", key, {
    enabled: opts.cache,
    code,
    ...(opts.root ? { root: opts.root } : {}),
    build: () => assembleOrBuild(sharded),
    save: saveColumns,
    load: loadColumns,
  });
  await removeParts(sharded);
  const robustAcc = mean(r.value.robust as Uint8Array), pgdRobustAcc = mean(r.value.pgd as Uint8Array);
  if (r.hit) console.error(`${label}: ${(100 * robustAcc).toFixed(1)}% (cached)`);
  return { robustAcc, pgdRobustAcc };
}

/** The curve of each model averaged over its seeds' curves, with the sample sd and the number of seeds. */
export function meanOverSeeds(points: SeedCurvePoint[]): CurvePoint[] {
  const groups = new Map<string, SeedCurvePoint[]>();
  for (const p of points) {
    const k = `${p.model}|${p.eps}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups.values()].map((g) => {
    const r = meanSd(g.map((p) => p.robustAcc));
    const pgd = g.every((p) => p.pgdRobustAcc !== undefined)
      ? meanSd(g.map((p) => p.pgdRobustAcc!)).mean
      : undefined;
    return { model: g[0].model, eps: g[0].eps, robustAcc: r.mean, pgdRobustAcc: pgd, sd: r.sd, n: r.n };
  });
}

/** Each model's standard accuracy (eps 0) and robust accuracy at `eps` from a curve, with their sd over seeds
 * (0 for a model of one run). */
export function accuracyAt(
  curve: CurvePoint[],
  opts: { names: string[]; eps: number },
): Record<string, { stdAcc: number; robustAcc: number; stdAccSd: number; robustAccSd: number }> {
  const point = (n: string, e: number) => curve.find((p) => p.model === n && p.eps === e)!;
  return Object.fromEntries(opts.names.map((n) => [n, {
    stdAcc: point(n, 0).robustAcc,
    robustAcc: point(n, opts.eps).robustAcc,
    stdAccSd: point(n, 0).sd ?? 0,
    robustAccSd: point(n, opts.eps).sd ?? 0,
  }]));
}

/**
 * `model`'s margin over model `minus` in robust accuracy at `eps`: the difference per seed (in the curves'
 * order), their mean and its 95% interval (Student's t over the seeds; meanInterval95()).
 */
export function seedMargin(
  seedCurves: SeedCurvePoint[],
  opts: { model: string; minus: string; eps: number },
): { eps: number; diffs: number[]; mean: number; lo: number; hi: number; n: number } {
  const perSeed = (n: string) =>
    seedCurves.filter((p) => p.model === n && p.eps === opts.eps).map((p) => p.robustAcc);
  const other = perSeed(opts.minus);
  const diffs = perSeed(opts.model).map((v, i) => v - other[i]);
  return { eps: opts.eps, diffs, ...meanInterval95(diffs) };
}

/** The headline eps: the smallest eps of the curve where the standard model's robust accuracy <= `headlineMax`
 * (the largest eps when none is). */
export function headlineEps(
  curve: CurvePoint[],
  opts: { curve: number[]; headlineMax: number },
): { eps: number; rule: string } {
  const rule = `smallest eps of the curve where the standard model is at most ${pct(opts.headlineMax)}`;
  const sorted = [...opts.curve].sort((a, b) => a - b);
  const std = (e: number) => curve.find((p) => p.model === "standard" && p.eps === e)!.robustAcc;
  const eps = sorted.find((e) => std(e) <= opts.headlineMax);
  return eps === undefined
    ? { eps: sorted[sorted.length - 1], rule: `${rule} (none is: the largest eps)` }
    : { eps, rule };
}

/** The seed of fresh-model run i: --seed itself first (so a one-seed run is the run of before), then derived. */
export function freshSeed(seed: number, i: number): number {
  return i === 0 ? seed : deriveSeed(seed, `fresh-seed${i}`);
}
