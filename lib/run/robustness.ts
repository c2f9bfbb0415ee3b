// Robust accuracy over L2 eps (Section 3.1's evaluation, App. D.2): every model at every eps, the fresh models'
// mean over their seeds, the headline eps, and the seed of each fresh-model run.
import type { Split } from "../data/registry.ts";
import type { ZooModel } from "../core/models.ts";
import { evaluate } from "../core/train.ts";
import { phase } from "../util/progress.ts";
import { deriveSeed } from "../util/rng.ts";
import { meanInterval95, meanSd } from "../util/stats.ts";
import type { EvalAttackConfig } from "./recipes.ts";
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

/**
 * Standard accuracy (eps 0) and robust accuracy (untargeted L2 PGD with step 2.5 eps / steps, then Auto-PGD when
 * `attack.strongSteps` > 0) of each model, in the record's order, at every eps of `attack.curve`, in that order.
 */
export async function robustnessCurve(
  models: Record<string, ZooModel>,
  test: Split,
  opts: { attack: Omit<EvalAttackConfig, "headlineMax">; seed: number },
): Promise<CurvePoint[]> {
  const { steps, curve: eps, strongSteps, restarts } = opts.attack;
  phase(
    `evaluate: standard accuracy and robust accuracy (L2 PGD, ${steps} steps${
      strongSteps ? `, then Auto-PGD CE + DLR, ${strongSteps} steps x ${restarts}` : ""
    }) at eps ${eps.join(", ")}`,
  );
  const curve: CurvePoint[] = [];
  for (const n of Object.keys(models)) {
    curve.push({ model: n, eps: 0, robustAcc: (await evaluate(models[n], test)).acc });
    for (const e of eps) {
      const attack = {
        threat: "l2",
        eps: e,
        steps,
        stepSize: (2.5 * e) / steps,
        seed: deriveSeed(opts.seed, "eval"),
        strong: strongSteps ? { steps: strongSteps, restarts } : null,
      };
      const r = await evaluate(models[n], test, { attack, label: `robust acc ${n} (eps ${e})` });
      curve.push({ model: n, eps: e, robustAcc: r.robustAcc!, pgdRobustAcc: r.pgdRobustAcc });
    }
  }
  return curve;
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
