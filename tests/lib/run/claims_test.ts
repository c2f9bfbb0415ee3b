// Tests of lib/run/claims.ts: the Table 1 and Figure 3 verdicts follow their criteria at the boundaries.
import assert from "node:assert/strict";
import { figure3Claim, table1Claim } from "../../../lib/run/claims.ts";

Deno.test("table1Claim(): reproduces at >= 0.9x the paper for both sets, partly above 2x chance, else does not", () => {
  const r = (rand: number, det: number) => ({
    sets: { d: { testAcc: 0.9 }, d_rand: { testAcc: rand }, d_det: { testAcc: det } },
    numClasses: 10,
  });
  assert.equal(table1Claim(r(0.58, 0.40)).verdict, "reproduces");
  assert.equal(table1Claim(r(0.56, 0.40)).verdict, "partly"); // D_rand below 0.9 x 63.3%
  assert.equal(table1Claim(r(0.58, 0.38)).verdict, "partly"); // D_det below 0.9 x 43.7%
  assert.equal(table1Claim(r(0.58, 0.19)).verdict, "does not"); // D_det under twice chance
  assert.equal(table1Claim({ sets: { d: { testAcc: 0.9 } }, numClasses: 10 }).verdict, "not run");
  assert.match(table1Claim(r(0.58, 0.4)).ours, /D_rand 58\.0%, D_det 40\.0% \(chance 10\.0%\)/);
});

Deno.test("figure3Claim(): Spearman >= 0.8 reproduces, >= 0.4 partly, below does not, none is not run", () => {
  const r = (spearman: number | null) => ({
    correlation: { spearman, note: "fewer than 3 points" },
    architectures: { a: {}, b: {}, c: {} },
  });
  assert.equal(figure3Claim(r(0.8)).verdict, "reproduces");
  assert.equal(figure3Claim(r(0.79)).verdict, "partly");
  assert.equal(figure3Claim(r(0.4)).verdict, "partly");
  assert.equal(figure3Claim(r(0.1)).verdict, "does not");
  assert.equal(figure3Claim(r(null)).verdict, "not run");
  assert.match(figure3Claim(r(0.5)).ours, /Spearman 0\.50 over 3 architectures/);
});
