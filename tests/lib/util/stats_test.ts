// Tests for lib/util/stats.ts: Pearson, Spearman with ties, and when a rank correlation is not computable.
import assert from "node:assert/strict";
import {
  bootstrapSpearman,
  meanInterval95,
  meanSd,
  pearson,
  rankCorrelation,
  spearman,
} from "../../../lib/util/stats.ts";

Deno.test("spearman() and pearson() match hand-computed values, with ties averaged", () => {
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [10, 20, 30, 40]) - 1) < 1e-12);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3], [1, 2, 4]) - 0.9819805060619657) < 1e-12);
  assert.ok(Math.abs(spearman([1, 1, 2], [1, 2, 3]) - pearson([1.5, 1.5, 3], [1, 2, 3])) < 1e-12);
});

Deno.test("rankCorrelation() is null with a reason over fewer than 3 distinct points or no variance", () => {
  const two = rankCorrelation([0.1, 0.2], [0.3, 0.4]);
  assert.equal(two.spearman, null);
  assert.match(two.note, /not computable: 2 distinct point\(s\), at least 3 needed/);
  const dup = rankCorrelation([0.1, 0.1, 0.2], [0.3, 0.3, 0.4]);
  assert.equal(dup.spearman, null, "a repeated point counts once");
  const flat = rankCorrelation([0.1, 0.1, 0.1], [0.1, 0.2, 0.3]);
  assert.equal(flat.pearson, null);
  assert.match(flat.note, /no variance/);
  const ok = rankCorrelation([0.1, 0.2, 0.3], [0.5, 0.4, 0.9]);
  assert.ok(ok.spearman !== null && Math.abs(ok.spearman - 0.5) < 1e-12);
  assert.match(ok.note, /Spearman 0\.500/);
});

Deno.test("meanSd() gives the mean and the sample standard deviation (n - 1)", () => {
  assert.deepEqual(meanSd([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, sd: Math.sqrt(32 / 7), n: 8 });
  assert.deepEqual(meanSd([3]), { mean: 3, sd: 0, n: 1 });
  assert.throws(() => meanSd([]), RangeError);
});

Deno.test("meanInterval95() uses Student's t: 4.303 sd / sqrt(3) for three values", () => {
  const r = meanInterval95([1, 2, 3]);
  assert.equal(r.mean, 2);
  assert.ok(Math.abs(r.hi - (2 + 4.303 / Math.sqrt(3))) < 1e-9, `${r.hi}`);
  assert.ok(Math.abs(r.lo - (2 - 4.303 / Math.sqrt(3))) < 1e-9, `${r.lo}`);
  assert.deepEqual(meanInterval95([5]), { mean: 5, lo: 5, hi: 5, n: 1 });
  // many values: the normal quantile
  const many = Array.from({ length: 100 }, (_, i) => i % 2);
  const m = meanInterval95(many);
  assert.ok(Math.abs(m.hi - m.mean - 1.96 * meanSd(many).sd / 10) < 1e-9);
});

Deno.test("bootstrapSpearman(): the means' Spearman; a tight interval when seeds agree, a wide one when they do not", () => {
  // five units on a line, three runs each with small noise: every resample keeps the order
  const tight = [0, 1, 2, 3, 4].map((u) =>
    [0, 1, 2].map((r) => [u + 0.01 * r, 2 * u - 0.01 * r] as [number, number])
  );
  const a = bootstrapSpearman(tight, { resamples: 200, seed: 1 })!;
  assert.equal(a.spearman, 1);
  assert.deepEqual([a.lo, a.hi, a.n], [1, 1, 200]);
  // the same means, but each unit's x spread over the whole range: the order of the x means is a coin flip
  const loose = [0, 1, 2, 3, 4].map((u) => [[u - 10, u], [u, u], [u + 10, u]] as [number, number][]);
  const b = bootstrapSpearman(loose, { resamples: 400, seed: 1 })!;
  assert.equal(b.spearman, 1);
  assert.ok(b.lo < 0 && b.hi === 1, `a wide interval (${b.lo}, ${b.hi})`);
  assert.deepEqual(bootstrapSpearman(loose, { resamples: 400, seed: 1 }), b, "seeded: reproducible");
  assert.equal(bootstrapSpearman([[[1, 1]], [[1, 1]]], { resamples: 10, seed: 0 }), null, "two equal points");
});
