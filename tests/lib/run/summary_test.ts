// Tests of lib/run/summary.ts: cells, the claims table and the printed summary.
import assert from "node:assert/strict";
import {
  claimsTable,
  pctCell,
  scatterPanels,
  type Summary,
  summaryMarkdown,
} from "../../../lib/run/summary.ts";

Deno.test("summaryMarkdown() prints the claims table first, each claim with its verdict and criterion", () => {
  const s: Summary = {
    title: "Section X",
    claim: "a claim",
    order: 1,
    tables: [{ headers: ["a", "b"], rows: [["x", pctCell(0.5)]] }],
    charts: [],
    figures: [],
    notes: ["a note"],
    claims: [{ name: "claim 9", paper: "40%", ours: "41%", verdict: "reproduces", criterion: ">= 0.9x" }],
  };
  const md = summaryMarkdown(s);
  const claimsAt = md.indexOf("| claim 9"), tableAt = md.indexOf("| x ");
  assert.ok(claimsAt > 0 && claimsAt < tableAt, md);
  assert.match(md, /\| claim 9 +\| +40% \| +41% \| reproduces +\| >= 0\.9x +\|/);
  assert.deepEqual(claimsTable(s.claims!).headers.slice(0, 4), ["claim", "paper", "ours", "verdict"]);
  assert.ok(!summaryMarkdown({ ...s, claims: undefined }).includes("Claims at a glance"));
});

Deno.test("scatterPanels(): error bars (x and y rules from mean - sd to mean + sd) only where points have a spread", () => {
  const spec = scatterPanels({ text: "t" }, [
    { title: "ours", values: [{ label: "a", x: 10, y: 20, xSd: 2, ySd: 3 }] },
    { title: "paper", values: [{ label: "b", x: 1, y: 2 }] },
  ], { x: "x", y: "y" }) as { vconcat: { data: { values: Record<string, number>[] }; layer: unknown[] }[] };
  const [ours, paper] = spec.vconcat;
  assert.equal(ours.layer.length, 4, "two rules, the points, the labels");
  assert.equal(paper.layer.length, 2, "no rules without a spread");
  const v = ours.data.values[0];
  assert.deepEqual([v.xLo, v.xHi, v.yLo, v.yHi], [8, 12, 17, 23]);
});
