// Section 3.2's results: what main() returns (each set's numbers) and the summary (Table 1 beside the paper's,
// the bar chart, the notes) the report renders from the recorded numbers.
import { table1Claim } from "../run/claims.ts";
import { TABLE1 } from "../run/paper.ts";
import { type AttackConfig, eotText, finishText } from "../run/recipes.ts";
import { numCell, oursVsPaperBars, pct, pctCell, type SectionSummary } from "../run/summary.ts";
import type { PatternReliance } from "../core/control.ts";
import type { PlantConfig } from "../data/plant.ts";

/** Per-set numbers (fractions); `d` is the unmodified training set. */
export interface SetResult {
  testAcc: number;
  trainAcc?: number;
  attackSuccess?: number;
  meanDeltaL2?: number;
  /** Examples trained on (fewer than nTrain when the attack's failures are dropped). */
  kept?: number;
  /** Share of test predictions that are (y + 1) mod C: D_det's rule learned from the features of y. */
  nextClass?: number;
  /** Planted data only: the set's pattern energy under its labels t and under the original labels y. */
  energy?: { target: number; original: number };
  /**
   * Planted data only: whom the model trained on this set follows on test images carrying class (y + shift)'s
   * pattern, shift = halfwayShift(C). A D_det that teaches the pattern (p_t under t) gives a model that predicts
   * y + shift; one that teaches D_det's rule from the content, y + 1.
   */
  reliance?: PatternReliance;
}

/** What main() returns and writes to results.json. */
export interface Results {
  sets: Record<string, SetResult>;
  sourceTestAcc: number;
  eps: number;
  steps: number;
  stepSize: number;
  /** The attack's expectation over transformations (samples 1, no transformation: plain PGD). */
  eot: AttackConfig["eot"];
  /** The finishing attack (absent in results from before it existed). */
  finish?: AttackConfig["finish"];
  nTrain: number;
  nTest: number;
  numClasses: number;
  /** Planted data only: whom the source model follows on test images carrying class (y + 1)'s pattern. */
  sourceReliance?: PatternReliance;
}

/** What a summary reads of a run's planted control (`--plant.*`; `content` is absent in configs from before it). */
export type PlantSetting = Pick<PlantConfig, "norm" | "content">;

/** The notes that say a run is the planted control with shuffled labels (none otherwise): what its numbers test. */
export function shuffledPlantNotes(plant: PlantSetting | undefined): string[] {
  if (!plant || !(plant.norm > 0) || plant.content !== "shuffle") return [];
  return [
    `positive control with shuffled labels (--plant.content=shuffle): the images' content carries no class ` +
    `signal and a class pattern of L2 norm ${plant.norm} is the only feature that names the class, so a model ` +
    "beats chance only by learning the planted pattern",
  ];
}

/** Table 1 beside the paper's numbers, the bar chart and the relabelled examples. */
export function summarize(r: Results, config: { dataset: string; plant?: PlantSetting }): SectionSummary {
  const paper = TABLE1 as Record<string, Record<string, number>>;
  const label = (k: string) => (k === "d" ? "D" : k === "d_rand" ? "D_rand" : k === "d_det" ? "D_det" : k);
  const rows = Object.entries(r.sets).map(([k, s]) => [
    label(k),
    pctCell(s.testAcc),
    pctCell(s.attackSuccess),
    numCell(s.meanDeltaL2),
    pct(paper.cifar10[k]),
    pct(paper.restrictedImagenet[k]),
  ]);
  const bars = Object.entries(r.sets).flatMap(([k, s]) => [
    { label: label(k), source: "ours" as const, value: 100 * s.testAcc },
    ...(k in paper.cifar10
      ? [{ label: label(k), source: "paper" as const, value: 100 * paper.cifar10[k] }]
      : []),
  ]);
  return {
    claims: [table1Claim(r)],
    headline: "non-robust features suffice for standard classification",
    claim:
      "Models trained on adversarially relabelled data (D_rand, D_det) generalize to the original test set.",
    tables: [{
      caption:
        `Test accuracy on the original test set (${config.dataset}; paper: CIFAR-10 / Restricted ImageNet). ` +
        `Targeted L2 PGD eps ${r.eps}, ${r.steps} steps of ${r.stepSize}${eotText(r.eot)}${
          finishText(r.finish)
        }; ${r.nTrain} training images.`,
      headers: [
        "training set",
        `test acc (ours, ${config.dataset})`,
        "attack success",
        "mean L2 of delta",
        "paper CIFAR-10",
        "paper Restricted ImageNet",
      ],
      rows,
    }],
    charts: [oursVsPaperBars("Table 1: test accuracy on the original test set", bars, "test accuracy (%)")],
    figures: ["fig_relabelled.png"],
    notes: [
      ...shuffledPlantNotes(config.plant),
      `source model test accuracy ${pct(r.sourceTestAcc)}; chance = ${pct(1 / r.numClasses)}` +
      (r.sourceReliance
        ? `; on test images carrying the next class's planted pattern it predicts that class on ${
          pct(r.sourceReliance.followsPattern)
        } and the image's own class on ${pct(r.sourceReliance.followsContent)} (how much the attack can ` +
          "move it by the pattern alone)"
        : ""),
      ...Object.entries(r.sets).filter(([, s]) => s.kept !== undefined && s.kept < r.nTrain)
        .map(([k, s]) =>
          `${label(k)}: the attack's ${r.nTrain - s.kept!} failures dropped (--attack.failures=drop)`
        ),
      ...Object.entries(r.sets).filter(([, s]) => s.nextClass !== undefined).map(([k, s]) =>
        `${label(k)}'s model predicts the next class y + 1 on ${pct(s.nextClass!)} of the test images` +
        (s.energy
          ? `; the set's planted-pattern energy is ${s.energy.target.toFixed(3)} under its labels t and ` +
            `${s.energy.original.toFixed(3)} under the original labels y`
          : "") +
        (s.reliance
          ? `; on test images carrying class y + ${
            s.reliance.shift ?? 1
          }'s pattern it predicts that class on ${pct(s.reliance.followsPattern)} and y on ${
            pct(s.reliance.followsContent)
          } (how much it learned the planted pattern)`
          : "")
      ),
    ],
  };
}
