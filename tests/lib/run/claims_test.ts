// Tests of lib/run/claims.ts: the Section 2, Table 1, Figure 2 (claims 2 and 3) and Figure 3 verdicts follow their
// criteria at the boundaries.
import assert from "node:assert/strict";
import {
  claim2Verdict,
  claim3Verdict,
  figure3Claim,
  section2Claim,
  table1Claim,
} from "../../../lib/run/claims.ts";

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

Deno.test("table1Claim() over runs: the verdict on the means, each number as mean ± sd (n=runs)", () => {
  const r = (rand: number, det: number) => ({
    sets: { d_rand: { testAcc: rand }, d_det: { testAcc: det } },
    numClasses: 10,
  });
  // one run above 0.9x the paper, the mean below: partly
  const c = table1Claim(r(0.60, 0.42), r(0.50, 0.30), r(0.55, 0.33));
  assert.equal(c.verdict, "partly");
  assert.match(c.ours, /D_rand 55\.0 ± 5\.0% \(n=3\), D_det 35\.0 ± 6\.2% \(n=3\)/);
  assert.match(c.criterion, /on the means/);
  assert.equal(table1Claim(r(0.60, 0.42), r(0.58, 0.40)).verdict, "reproduces");
});

Deno.test("figure3Claim() over runs: Spearman of the mean points with a bootstrap interval that must clear 0", () => {
  const run = (pts: [number, number][]) => ({
    correlation: { spearman: null, note: "" },
    architectures: Object.fromEntries(
      pts.map(([a, t], i) => [`a${i}`, { testAccOnDdet: a, transferRate: t }]),
    ),
  });
  const line = (e: number) => run([[0.1 + e, 0.2], [0.2, 0.3 + e], [0.3, 0.4], [0.4 - e, 0.5], [0.5, 0.6]]);
  const tight = figure3Claim(line(0), line(0.01), line(-0.01));
  assert.equal(tight.verdict, "reproduces");
  assert.match(
    tight.ours,
    /Spearman 1\.00 of the means over 5 architectures \(95% bootstrap over 3 runs: 1\.00 to 1\.00\)/,
  );
  // the same means, but the runs disagree so much that the interval reaches below 0: not "reproduces"
  const wide = (e: number) =>
    run([[0.1 + e, 0.2 - e], [0.2 - e, 0.3 + e], [0.3 + e, 0.4 - e], [0.4 - e, 0.5 + e], [0.5 + e, 0.6 - e]]);
  const loose = figure3Claim(wide(0), wide(0.4), wide(-0.4));
  assert.notEqual(loose.verdict, "reproduces");
  assert.match(loose.ours, /Spearman 1\.00 of the means/);
});

Deno.test("section2Claim(): reproduces when the robust model halves the non-robust share and keeps 10 points more robust ones", () => {
  const m = (useful: number, usefulNonRobust: number, usefulRobust: number) => ({
    useful,
    usefulNonRobust,
    usefulRobust,
  });
  const claim = (standard: ReturnType<typeof m>, robust: ReturnType<typeof m>) =>
    section2Claim({ eps: 1, standard, robust });
  const yes = claim(m(100, 80, 10), m(50, 20, 25)); // 80% -> 40% non-robust, 10% -> 50% robustly useful
  assert.equal(yes.verdict, "reproduces");
  assert.equal(
    yes.ours,
    "of the useful features at L2 eps 1: non-robust 80.0% (standard) vs 40.0% (robust); robustly useful 10.0% vs 50.0%",
  );
  assert.match(
    yes.criterion,
    /non-robust share <= half the standard model's and its robustly useful share >= 10 points/,
  );
  assert.equal(claim(m(100, 80, 10), m(100, 41, 50)).verdict, "partly", "41% is more than half of 80%");
  assert.equal(claim(m(100, 80, 10), m(100, 40, 19)).verdict, "partly", "9 points more robustly useful");
  assert.equal(claim(m(100, 80, 10), m(100, 90, 5)).verdict, "does not");
  assert.equal(claim(m(100, 80, 10), m(0, 0, 0)).verdict, "not run");
  assert.equal(yes.paper, "defined (eq. 1, 2), not measured");
});

Deno.test("claim2Verdict() applies the criterion fixed in code: margin, interval, share of adversarial, accuracy", () => {
  const models = (drRobust: number, drStd = 0.85) =>
    ({
      d_r: { stdAcc: drStd, robustAcc: drRobust, stdAccSd: 0, robustAccSd: 0 },
      robust: { stdAcc: 0.77, robustAcc: 0.55, stdAccSd: 0, robustAccSd: 0 },
    }) as Parameters<typeof claim2Verdict>[0]["models"];
  const c = (mean: number, lo: number, n = 3) => ({ eps: 1, diffs: [], mean, lo, hi: 2 * mean - lo, n });
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.4) }).verdict, "reproduces");
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.3) }).verdict, "partly"); // < 0.6 x 0.55
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.4, 0.75) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.15, 0.05), models: models(0.4) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.15, -0.01), models: models(0.4) }).verdict, "does not");
  assert.equal(claim2Verdict({ claim2: c(0.06, 0.06, 1), models: models(0.4) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.01, 0.01, 1), models: models(0.4) }).verdict, "does not");
});

Deno.test("claim3Verdict(): D_NR reproduces at >= 80% std accuracy with robust accuracy <= the control's", () => {
  const r = (std: number, robust: number, control = 0.1) => ({
    models: { d_nr: { stdAcc: std, robustAcc: robust }, control: { stdAcc: 0.9, robustAcc: control } },
  });
  assert.equal(claim3Verdict(r(0.85, 0.05)).verdict, "reproduces");
  assert.equal(claim3Verdict(r(0.85, 0.1)).verdict, "reproduces"); // equal to the control's counts as no more
  assert.equal(claim3Verdict(r(0.6, 0.05)).verdict, "partly");
  assert.equal(claim3Verdict(r(0.45, 0.05)).verdict, "does not");
  assert.equal(claim3Verdict(r(0.85, 0.2)).verdict, "does not"); // more robust than the control
  assert.match(claim3Verdict(r(0.85, 0.05)).criterion, /^reproduces: D_NR std acc >= 80%/);
});
