// Section 2's results: the two source models compared, what main() returns, and the summary (the counts and
// distributions beside the claim's verdict) the report renders from the recorded numbers.
import { section2Claim } from "../run/claims.ts";
import { type FeatureThresholds, type ModelFeatures, usefulAndRobust } from "../run/features.ts";
import { pct, type SectionSummary } from "../run/summary.ts";
import { featureCountsTable, featureDistributionTable, robustCountSpec } from "./features.ts";

/** The two source models, in table order. */
export const MODELS = ["standard", "robust"] as const;
export type ModelName = typeof MODELS[number];

/** What main() returns. */
export interface Results {
  classes: number[];
  eps: number[];
  thresholds: FeatureThresholds;
  evalSize: number;
  models: Record<ModelName, ModelFeatures>;
  /** Seconds spent in PGD per model. */
  pgdSeconds: Record<ModelName, number>;
}

/** The counts and distributions beside the claim's verdict at the headline eps. */
export function summarize(
  r: Results,
  config: { dataset: string; attack: { steps: number } },
): SectionSummary {
  const h = r.thresholds.headlineEps, e = r.eps.indexOf(h);
  const headline = (n: ModelName) => {
    const c = r.models[n].counts.find((c) => c.eps === h)!;
    return {
      useful: c.useful,
      usefulNonRobust: c.usefulNonRobust,
      usefulRobust: usefulAndRobust(r.models[n], e, r.thresholds),
    };
  };
  const dead = (n: ModelName) => r.models[n].units - r.models[n].liveUnits.length;
  return {
    claims: [section2Claim({ eps: h, standard: headline("standard"), robust: headline("robust") })],
    headline: "useful, robustly useful and useful non-robust features",
    claim:
      "A standard model's useful features are mostly non-robust; an adversarially trained model's useful " +
      "features mostly stay robustly useful.",
    tables: [featureCountsTable(r, { ...r, dataset: config.dataset }), featureDistributionTable(r)],
    charts: [robustCountSpec(r)],
    figures: ["rho_gamma.png", "distribution.png"],
    notes: [
      `test accuracy on these ${r.evalSize} images: standard ${pct(r.models.standard.testAcc)}, robust ` +
      `${pct(r.models.robust.testAcc)}`,
      `gamma: L2 PGD on each feature alone, ${config.attack.steps} steps of 2.5 eps / steps from x, the clean ` +
      `point kept when better; PGD gives an upper bound on the true minimum, so gamma is an upper bound too ` +
      `(counts of non-robust features are lower bounds)`,
      `orientation s of each feature from its correlation on the training set; units constant on the training ` +
      `set are not features (standard: ${dead("standard")}, robust: ${
        dead("robust")
      } of ${r.models.standard.units})`,
      `the paper defines these quantities but reports no measurement of them, so there is no paper column`,
      `PGD time: standard ${r.pgdSeconds.standard} s, robust ${r.pgdSeconds.robust} s`,
    ],
  };
}
