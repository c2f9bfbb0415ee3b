// Tests for lib/run/seeds.ts: the spread of every number over runs, and per-seed summaries merged cell by cell.
import assert from "node:assert/strict";
import {
  aggregateCell,
  aggregateNumbers,
  aggregateSummaries,
  aggregateText,
  spread,
  withMeans,
} from "../../../lib/run/seeds.ts";
import { cellText, numCell, pctCell, type Summary } from "../../../lib/run/summary.ts";

Deno.test("spread() gives mean, sample sd (n - 1), min, max and n; sd is null for one run", () => {
  assert.deepEqual(spread([1, 2, 3, 6]), { mean: 3, sd: Math.sqrt(14 / 3), min: 1, max: 6, n: 4 });
  assert.deepEqual(spread([5]), { mean: 5, sd: null, min: 5, max: 5, n: 1 });
  assert.throws(() => spread([]), /needs at least one value/);
});

Deno.test("aggregateNumbers() covers every numeric leaf, arrays by index; withMeans() keeps the rest", () => {
  const runs = [
    { acc: 0.5, sets: { d: { n: 10 } }, curve: [1, 4], note: "a", missing: null },
    { acc: 0.7, sets: { d: { n: 10 } }, curve: [3, 4], note: "b", missing: 2 },
  ];
  const agg = aggregateNumbers(runs);
  assert.deepEqual(Object.keys(agg).sort(), ["acc", "curve.0", "curve.1", "missing", "sets.d.n"]);
  assert.ok(Math.abs(agg.acc.mean - 0.6) < 1e-12 && Math.abs(agg.acc.sd! - Math.SQRT2 / 10) < 1e-12);
  assert.deepEqual(agg["sets.d.n"], { mean: 10, sd: 0, min: 10, max: 10, n: 2 });
  assert.deepEqual(agg.missing, { mean: 2, sd: null, min: 2, max: 2, n: 1 });
  const m = withMeans(runs[0], agg);
  assert.deepEqual(m.curve, [2, 4]);
  assert.equal(m.note, "a");
});

Deno.test("aggregateText() keeps equal texts, merges differing numbers, lists texts that differ otherwise", () => {
  assert.equal(aggregateText(["63.3%", "63.3%"]), "63.3%");
  assert.equal(aggregateText(["60.0%", "70.0%"]), "65.0 ± 7.1% (n=2)");
  assert.equal(
    aggregateText(["source 84.2%; chance 10.0%", "source 85.0%; chance 10.0%"]),
    "source 84.6 ± 0.6%; chance 10.0% (n=2)",
  );
  assert.equal(
    aggregateText(["spearman 1", "no correlation"]),
    "varies by seed: spearman 1 | no correlation",
  );
});

Deno.test("aggregateCell() merges number cells exactly; cellText() shows mean ± sd (n=N)", () => {
  const c = aggregateCell([pctCell(0.5), pctCell(0.7), pctCell(null)]);
  assert.equal(cellText(c), "60.0 ± 14.1% (n=2)");
  assert.equal(cellText(aggregateCell([numCell(0.12), numCell(0.13)])), "0.125 ± 0.007 (n=2)");
  assert.equal(cellText(pctCell(0.633)), "63.3%");
  assert.equal(cellText(aggregateCell([pctCell(0.5), "x"])), "varies by seed: 50.0% | x");
});

Deno.test("aggregateSummaries() merges tables and notes cell by cell and points figures at the first seed", () => {
  const s = (acc: number): Summary => ({
    title: "T",
    claim: "c",
    order: 32,
    tables: [{ caption: "cap", headers: ["set", "acc", "paper"], rows: [["D", pctCell(acc), "63.3%"]] }],
    charts: [],
    figures: ["fig.png"],
    notes: [`source ${(100 * acc).toFixed(1)}%`],
  });
  const m = aggregateSummaries([s(0.5), s(0.7)], [3, 4], "seeds/3/");
  assert.deepEqual(m.tables[0].rows[0].map(cellText), ["D", "60.0 ± 14.1% (n=2)", "63.3%"]);
  assert.equal(m.tables[0].caption, "cap");
  assert.deepEqual(m.figures, ["seeds/3/fig.png"]);
  assert.match(m.notes[0], /2 runs, seeds 3, 4: .*mean ± sample sd/);
  assert.equal(m.notes[1], "source 60.0 ± 14.1% (n=2)");
  assert.deepEqual([m.title, m.order], ["T", 32]);
});
