// Correlation statistics for the experiments' summaries (Pearson, Spearman with tie-averaged ranks).

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
