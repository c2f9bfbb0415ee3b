// The verdicts of the paper's claims that Sections 2, 3.1, 3.2 and 3.3 test, each by a criterion fixed in code
// before the numbers are seen, from one run or from the runs of a --seeds=N run.
import { TABLE1 } from "./paper.ts";
import { cellText, type Claim, pct, pctCell, type Verdict } from "./summary.ts";
import { spread } from "./seeds.ts";
import { bootstrapSpearman } from "../util/stats.ts";

/** A fraction over runs: "55.5%" for one run, "55.5 ± 2.1% (n=3)" for several. */
function pctOverRuns(v: number[]): string {
  if (v.length === 1) return pct(v[0]);
  const s = spread(v);
  return cellText({ ...pctCell(s.mean), sd: s.sd ?? undefined, n: s.n });
}

/**
 * Claim 1's verdict (Table 1), by a criterion fixed before the numbers: "reproduces" when D_rand and D_det each
 * reach >= 0.9x the paper's CIFAR-10 test accuracy (57.0%, 39.3%); "partly" when both are above twice chance;
 * "does not" otherwise; over several runs (seeds), on the mean test accuracies. A set the run did not build makes
 * it "not run".
 */
export function table1Claim(
  ...runs: { sets: Record<string, { testAcc: number }>; numClasses: number }[]
): Claim {
  const paper = TABLE1.cifar10 as Record<string, number>, chance = 1 / runs[0].numClasses;
  const accs = (set: string) =>
    runs.map((r) => r.sets[set]?.testAcc).filter((v): v is number => v !== undefined);
  const [rands, dets] = [accs("d_rand"), accs("d_det")];
  const mean = (v: number[]) => v.length === runs.length ? spread(v).mean : undefined;
  const rand = mean(rands), det = mean(dets);
  const criterion =
    "reproduces: D_rand and D_det >= 0.9x the paper's test accuracy; partly: both > 2x chance" +
    (runs.length > 1 ? " (on the means over the runs)" : "");
  const verdict: Verdict = rand === undefined || det === undefined
    ? "not run"
    : rand >= 0.9 * paper.d_rand && det >= 0.9 * paper.d_det
    ? "reproduces"
    : rand > 2 * chance && det > 2 * chance
    ? "partly"
    : "does not";
  const ours = rand === undefined || det === undefined
    ? `D_rand ${pct(rand)}, D_det ${pct(det)}`
    : `D_rand ${pctOverRuns(rands)}, D_det ${pctOverRuns(dets)}`;
  return {
    name: "claim 1: non-robust features suffice: models trained on D_rand / D_det generalize to the test set",
    paper: `D_rand ${pct(paper.d_rand)}, D_det ${pct(paper.d_det)} (CIFAR-10)`,
    ours: `${ours} (chance ${pct(chance)})`,
    verdict,
    criterion,
  };
}

/** Figure 3's numbers of one run: per architecture, accuracy learned from D_det and transfer rate. */
export interface Figure3Run {
  correlation: { spearman: number | null; note: string };
  architectures: Record<string, { testAccOnDdet?: number; transferRate?: number }>;
}

/** Resamples of Figure 3's bootstrap interval (seeded, so the interval is reproducible). */
export const FIG3_BOOTSTRAP = { resamples: 2000, seed: 0 };

/**
 * Figure 3's verdict, by a criterion fixed before the numbers: "reproduces" when the rank correlation of
 * (accuracy learned from D_det, transfer rate) over the architectures is >= 0.8 (over several runs: the Spearman of
 * the per-architecture means, whose 95% bootstrap interval over the runs must also lie above 0); "partly" when it
 * is >= 0.4; "does not" below, or "not run" when it could not be computed.
 */
export function figure3Claim(...runs: Figure3Run[]): Claim {
  const archs = Object.keys(runs[0].architectures), n = archs.length;
  let rho = runs[0].correlation.spearman, ours: string, sure = true;
  if (runs.length === 1) {
    ours = rho === null ? runs[0].correlation.note : `Spearman ${rho.toFixed(2)} over ${n} architectures`;
  } else {
    const points = archs.map((a) =>
      runs.map((r) =>
        [r.architectures[a].testAccOnDdet!, r.architectures[a].transferRate!] as [number, number]
      )
    );
    const b = bootstrapSpearman(points, FIG3_BOOTSTRAP);
    rho = b?.spearman ?? null;
    sure = b !== null && b.lo > 0;
    ours = b === null
      ? "rank correlation of the means not computable"
      : `Spearman ${
        b.spearman.toFixed(2)
      } of the means over ${n} architectures (95% bootstrap over ${runs.length} ` +
        `runs: ${b.lo.toFixed(2)} to ${b.hi.toFixed(2)})`;
  }
  const verdict: Verdict = rho === null
    ? "not run"
    : rho >= 0.8 && sure
    ? "reproduces"
    : rho >= 0.4
    ? "partly"
    : "does not";
  return {
    name:
      "claim 4: architectures that learn more from D_det are those the source's adversarial examples transfer to",
    paper: "Spearman 1.0 over 5 architectures (CIFAR-10)",
    ours,
    verdict,
    criterion: "reproduces: Spearman >= 0.8" + (runs.length > 1 ? " (its bootstrap interval above 0)" : "") +
      "; partly: >= 0.4",
  };
}

/** One model's features at the headline eps, for section2Claim(): useful ones, and of those, how many are what. */
export interface UsefulFeatures {
  useful: number;
  /** Useful with gamma < 0. */
  usefulNonRobust: number;
  /** Useful with gamma >= gamma0. */
  usefulRobust: number;
}

/**
 * Section 2's verdict, by a criterion fixed before the numbers were seen: of the useful features, the robust
 * model's share that is non-robust is at most half the standard model's AND its share that stays robustly useful is
 * at least 10 points above the standard model's: "reproduces"; one of the two moves the right way (a smaller
 * non-robust share, or a larger robustly useful one): "partly"; neither: "does not"; a model without a useful
 * feature: "not run". The paper defines these quantities but reports no measurement, so its column says so.
 */
export function section2Claim(r: { eps: number; standard: UsefulFeatures; robust: UsefulFeatures }): Claim {
  const share = (a: number, m: UsefulFeatures) => a / m.useful;
  const s = r.standard, b = r.robust;
  const measured = s.useful > 0 && b.useful > 0;
  const nrStd = share(s.usefulNonRobust, s), nrRob = share(b.usefulNonRobust, b);
  const ruStd = share(s.usefulRobust, s), ruRob = share(b.usefulRobust, b);
  const verdict: Verdict = !measured
    ? "not run"
    : nrRob <= nrStd / 2 && ruRob >= ruStd + 0.1
    ? "reproduces"
    : nrRob < nrStd || ruRob > ruStd
    ? "partly"
    : "does not";
  return {
    name: "Section 2: robust training keeps robustly useful features and drops useful non-robust ones",
    paper: "defined (eq. 1, 2), not measured",
    ours: measured
      ? `of the useful features at L2 eps ${r.eps}: non-robust ${pct(nrStd)} (standard) vs ${pct(nrRob)} ` +
        `(robust); robustly useful ${pct(ruStd)} vs ${pct(ruRob)}`
      : `a model has no useful feature (standard ${s.useful}, robust ${b.useful})`,
    verdict,
    criterion:
      "reproduces: of the useful features, the robust model's non-robust share <= half the standard model's and " +
      "its robustly useful share >= 10 points above; partly: one of the two moves that way",
  };
}

/** What claims 2 and 3 read of a Section 3.1 run (lib/report/sec3_1.ts Results): D_R minus the control at the
 * headline eps over the seeds, and each model's standard and robust accuracy there. */
export interface Figure2Run {
  claim2: { mean: number; lo: number; n: number };
  models: Record<string, { stdAcc: number; robustAcc: number }>;
}

/**
 * Claim 2's verdict at the headline eps, by a criterion fixed before the numbers (issue 29): "reproduces" when D_R
 * beats the size-matched control by >= 20 points on average with the 95% interval above 0, reaches >= 0.6x the
 * adversarially trained model's robust accuracy, and keeps >= 80% standard accuracy; "partly" when D_R beats the
 * control with the interval above 0 (or, with one seed, by >= 5 points); "does not" otherwise.
 */
export function claim2Verdict(r: Pick<Figure2Run, "claim2" | "models">): {
  verdict: Verdict;
  criterion: string;
} {
  const criterion =
    "reproduces: D_R - control >= +20 points with the 95% interval above 0, D_R robust >= 0.6x " +
    "the adversarially trained model's, D_R std acc >= 80%; partly: the interval above 0 (one seed: >= +5 points)";
  const c = r.claim2, dr = r.models.d_r, adv = r.models.robust;
  const above = c.n > 1 ? c.lo > 0 : c.mean >= 0.05;
  if (above && c.mean >= 0.2 && dr.robustAcc >= 0.6 * adv.robustAcc && dr.stdAcc >= 0.8) {
    return { verdict: "reproduces", criterion };
  }
  return { verdict: above ? "partly" : "does not", criterion };
}

/**
 * Claim 3's verdict, by a criterion fixed before the numbers: "reproduces" when the D_NR model reaches >= 80%
 * standard accuracy with robust accuracy at the headline eps no higher than the control's; "partly" when it
 * reaches >= 50% with that robustness; "does not" otherwise.
 */
export function claim3Verdict(r: Pick<Figure2Run, "models">): { verdict: Verdict; criterion: string } {
  const criterion = "reproduces: D_NR std acc >= 80% and robust acc <= the control's at the headline eps; " +
    "partly: std acc >= 50% and robust <= control's";
  const d = r.models.d_nr, weak = d.robustAcc <= r.models.control.robustAcc;
  return {
    verdict: weak && d.stdAcc >= 0.8 ? "reproduces" : weak && d.stdAcc >= 0.5 ? "partly" : "does not",
    criterion,
  };
}
