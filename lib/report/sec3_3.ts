// Section 3.3's results: what main() returns (each architecture's numbers), Figure 3 beside the paper's points, its
// version over a --seeds=N run (means with error bars), and the summary the report renders from the numbers.
import { figure3Claim } from "../run/claims.ts";
import { FIG3 } from "../run/paper.ts";
import { spread } from "../run/seeds.ts";
import {
  type Claim,
  pct,
  pctCell,
  scatterPanels,
  type ScatterPoint,
  type SectionSummary,
} from "../run/summary.ts";
import { saveChart } from "./charts.ts";
import { type PlantSetting, shuffledPlantNotes } from "./sec3_2.ts";

/** Per-architecture results (fractions). */
export interface ArchResult {
  testAccOnDdet: number;
  transferRate: number;
  untargetedErrorRate: number;
  stdAcc: number;
}

/** What main() returns and writes to results.json. */
export interface Results {
  architectures: Record<string, ArchResult>;
  /** Rank and linear correlation of (accuracy on D_det, transfer rate); null when not computable. */
  correlation: { spearman: number | null; pearson: number | null; note: string };
  sourceTestAcc: number;
  sourceAttackSuccessOnTest: number;
  ddetAttackSuccess: number;
  eps: number;
}

/** One architecture's point of Figure 3 (percent). */
export const point = (label: string, v: ArchResult | (typeof FIG3)[number]) => ({
  label,
  x: 100 * v.transferRate,
  y: 100 * v.testAccOnDdet,
});

/** Figure 3: ours (`points`, with error bars when they have a spread) beside the paper's. */
export function fig3Spec(
  points: ScatterPoint[],
  subtitle: string,
  config: Figure3Config,
): Record<string, unknown> {
  return scatterPanels(
    { text: "Figure 3: transfer rate vs accuracy on D_det", subtitle },
    [
      { title: `ours (${config.dataset}, source ${config.source.arch})`, values: points, color: "ours" },
      {
        title: "paper (CIFAR-10, source ResNet-50)",
        values: FIG3.map((p) => point(p.arch, p)),
        color: "paper",
      },
    ],
    { x: "transfer rate (%)", y: "test accuracy when trained on D_det (%)" },
  );
}

/** The Figure 3 table, the correlation and the paper's five points. */
export function summarize(
  r: Results,
  config: { dataset: string; rule: string; plant?: PlantSetting },
): SectionSummary {
  return {
    claims: [figure3Claim(r)],
    headline: "transferability arises from non-robust features",
    claim:
      "Architectures that learn better from D_det are more vulnerable to transfer attacks from the source model.",
    tables: [
      {
        caption:
          `${config.dataset}: test accuracy of each architecture trained on ${config.rule}, and the rate at which ` +
          `the source model's targeted adversarial test examples transfer to it trained on D`,
        headers: [
          "architecture",
          `acc trained on ${config.rule}`,
          "transfer rate",
          "untargeted error",
          "std acc (trained on D)",
        ],
        rows: Object.entries(r.architectures).map(([a, v]) => [
          a,
          pctCell(v.testAccOnDdet),
          pctCell(v.transferRate),
          pctCell(v.untargetedErrorRate),
          pctCell(v.stdAcc),
        ]),
      },
      {
        caption: "The paper (CIFAR-10, source ResNet-50)",
        headers: ["architecture", "acc trained on D_det", "transfer rate"],
        rows: FIG3.map((p) => [p.arch, pct(p.testAccOnDdet), pct(p.transferRate)]),
      },
    ],
    charts: [],
    figures: ["fig3.png"],
    notes: [
      ...shuffledPlantNotes(config.plant),
      r.correlation.note,
      `source model test accuracy ${pct(r.sourceTestAcc)}; its attack reaches the target on ${
        pct(r.sourceAttackSuccessOnTest)
      } of the test set`,
    ],
  };
}

/** What Figure 3 reads of the config. */
export type Figure3Config = { dataset: string; source: { arch: string } };

/** A --seeds=N run's claim and Figure 3 (fig3.png in `dir`): each architecture at its means over the runs, with
 * +-1 sd error bars (the section's SPEC.seeded). */
export async function figure3OverSeeds(
  runs: unknown[],
  { dir, config }: { dir: string; config: Figure3Config & { archs: string[] } },
): Promise<{ claims: Claim[]; figures: string[] }> {
  const rs = runs as Results[], claim = figure3Claim(...rs);
  const sd = (v: number[]) => spread(v.map((x) => 100 * x)).sd ?? 0;
  const points = config.archs.map((a) => {
    const of = (k: keyof ArchResult) => rs.map((r) => r.architectures[a][k]);
    const [x, y] = [spread(of("transferRate")).mean, spread(of("testAccOnDdet")).mean];
    return { label: a, x: 100 * x, y: 100 * y, xSd: sd(of("transferRate")), ySd: sd(of("testAccOnDdet")) };
  });
  await saveChart(dir, "fig3", fig3Spec(points, `ours: ${claim.ours}; bars: +-1 sd over the runs`, config));
  return { claims: [claim], figures: ["fig3.png"] };
}
