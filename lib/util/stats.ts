// Correlation statistics for the experiments' summaries (Pearson, Spearman with tie-averaged ranks, its bootstrap
// interval over runs), means with their spread and t-interval.
import { createRng } from "./rng.ts";

/** Pearson correlation of two equal-length samples (NaN when either has no variance). */
export function pearson(a: number[], b: number[]): number {
  const n = a.length, ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    (sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) ** 2, sbb += (b[i] - mb) ** 2);
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Ranks with ties averaged (1-based). */
export function ranks(a: number[]): number[] {
  const idx = a.map((v, i) => [v, i]).sort((x, y) => x[0] - y[0]);
  const r = new Array(a.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson on tie-averaged ranks). */
export function spearman(a: number[], b: number[]): number {
  return pearson(ranks(a), ranks(b));
}

/** The fewest distinct points a rank correlation is reported over (with 2, it can only be -1 or +1). */
export const MIN_POINTS = 3;

/**
 * Spearman and Pearson of paired samples, or null with the reason when they are not computable: fewer than
 * MIN_POINTS distinct points, or a sample without variance.
 */
export function rankCorrelation(
  a: number[],
  b: number[],
): { spearman: number | null; pearson: number | null; note: string } {
  const distinct = new Set(a.map((v, i) => `${v},${b[i]}`)).size;
  if (distinct < MIN_POINTS) {
    return {
      spearman: null,
      pearson: null,
      note: `rank correlation not computable: ${distinct} distinct point(s), at least ${MIN_POINTS} needed`,
    };
  }
  const s = spearman(a, b), p = pearson(a, b);
  if (!Number.isFinite(s) || !Number.isFinite(p)) {
    return {
      spearman: null,
      pearson: null,
      note: "rank correlation not computable: a sample has no variance",
    };
  }
  return {
    spearman: s,
    pearson: p,
    note: `Spearman ${s.toFixed(3)}, Pearson ${p.toFixed(3)} over ${a.length} architectures`,
  };
}

/** Mean, sample standard deviation (n - 1; 0 for one value) and n of a list of numbers. */
export function meanSd(v: number[]): { mean: number; sd: number; n: number } {
  if (!v.length) throw new RangeError("meanSd needs at least one value");
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd, n: v.length };
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.960). */
const T975 = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/** The 95% confidence interval of the mean of `v` (Student's t, n - 1 degrees of freedom); [mean, mean] for
 * one value, which says nothing about the spread. */
export function meanInterval95(v: number[]): { mean: number; lo: number; hi: number; n: number } {
  const { mean, sd, n } = meanSd(v);
  const half = n > 1 ? (T975[n - 2] ?? 1.96) * sd / Math.sqrt(n) : 0;
  return { mean, lo: mean - half, hi: mean + half, n };
}

/**
 * Spearman over units (architectures) measured in several runs each, with a percentile bootstrap interval over
 * the runs: `runs[u]` holds unit u's (x, y) pairs, one per run (seed). The point estimate ranks the units' mean
 * x and mean y; each of `resamples` draws picks, per unit, its runs with replacement and ranks the means again;
 * lo and hi are the 2.5th and 97.5th percentiles of the draws that are computable (`n`: how many). Seeded, so
 * the interval is reproducible. null where the means themselves give no rank correlation.
 */
export function bootstrapSpearman(
  runs: [number, number][][],
  opts: { resamples: number; seed: number },
): { spearman: number; lo: number; hi: number; n: number } | null {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const at = (pick: (u: [number, number][]) => [number, number][]) => {
    const chosen = runs.map(pick);
    return rankCorrelation(
      chosen.map((u) => mean(u.map((p) => p[0]))),
      chosen.map((u) => mean(u.map((p) => p[1]))),
    )
      .spearman;
  };
  const point = at((u) => u);
  if (point === null) return null;
  const rng = createRng(opts.seed);
  const draws: number[] = [];
  for (let b = 0; b < opts.resamples; b++) {
    const s = at((u) => u.map(() => u[rng.int(u.length)]));
    if (s !== null) draws.push(s);
  }
  draws.sort((a, b) => a - b);
  const q = (p: number) => draws[Math.min(draws.length - 1, Math.max(0, Math.round(p * (draws.length - 1))))];
  return draws.length
    ? { spearman: point, lo: q(0.025), hi: q(0.975), n: draws.length }
    : { spearman: point, lo: point, hi: point, n: 0 };
}
