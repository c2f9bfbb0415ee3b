// The verdicts of the paper's claims that Sections 3.2 and 3.3 test, each by a criterion fixed in code before the
// numbers are seen (Section 3.1's claims 2 and 3 are beside their results in experiments/sec3_1.ts).
import { TABLE1 } from "./paper.ts";
import { type Claim, pct, type Verdict } from "./summary.ts";

/**
 * Claim 1's verdict (Table 1), by a criterion fixed before the numbers: "reproduces" when D_rand and D_det each
 * reach >= 0.9x the paper's CIFAR-10 test accuracy (57.0%, 39.3%); "partly" when both are above twice chance;
 * "does not" otherwise. A set the run did not build makes it "not run".
 */
export function table1Claim(r: { sets: Record<string, { testAcc: number }>; numClasses: number }): Claim {
  const paper = TABLE1.cifar10 as Record<string, number>, chance = 1 / r.numClasses;
  const rand = r.sets.d_rand?.testAcc, det = r.sets.d_det?.testAcc;
  const criterion =
    "reproduces: D_rand and D_det >= 0.9x the paper's test accuracy; partly: both > 2x chance";
  const verdict: Verdict = rand === undefined || det === undefined
    ? "not run"
    : rand >= 0.9 * paper.d_rand && det >= 0.9 * paper.d_det
    ? "reproduces"
    : rand > 2 * chance && det > 2 * chance
    ? "partly"
    : "does not";
  return {
    name: "claim 1: non-robust features suffice: models trained on D_rand / D_det generalize to the test set",
    paper: `D_rand ${pct(paper.d_rand)}, D_det ${pct(paper.d_det)} (CIFAR-10)`,
    ours: `D_rand ${pct(rand)}, D_det ${pct(det)} (chance ${pct(chance)})`,
    verdict,
    criterion,
  };
}

/**
 * Figure 3's verdict, by a criterion fixed before the numbers: "reproduces" when the rank correlation of
 * (accuracy learned from D_det, transfer rate) over the architectures is >= 0.8; "partly" when it is >= 0.4;
 * "does not" below, or "not run" when it could not be computed.
 */
export function figure3Claim(
  r: { correlation: { spearman: number | null; note: string }; architectures: Record<string, unknown> },
): Claim {
  const rho = r.correlation.spearman, n = Object.keys(r.architectures).length;
  const verdict: Verdict = rho === null
    ? "not run"
    : rho >= 0.8
    ? "reproduces"
    : rho >= 0.4
    ? "partly"
    : "does not";
  return {
    name:
      "claim 4: architectures that learn more from D_det are those the source's adversarial examples transfer to",
    paper: "Spearman 1.0 over 5 architectures (CIFAR-10)",
    ours: rho === null ? r.correlation.note : `Spearman ${rho.toFixed(2)} over ${n} architectures`,
    verdict,
    criterion: "reproduces: Spearman >= 0.8; partly: >= 0.4",
  };
}
