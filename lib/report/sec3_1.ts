// Section 3.1's results: the models compared and their labels, what main() returns, Figure 2a / 2b, the robust
// accuracy curve, and the summary (tables, claims 2 and 3, notes) the report renders from the recorded numbers.
import { FIG2B } from "../run/paper.ts";
import type { Split } from "../data/registry.ts";
import { imageSize } from "../data/batch.ts";
import type { PlantMeasures } from "../core/control.ts";
import { claim2Verdict, claim3Verdict } from "../run/claims.ts";
import type { EvalAttackConfig } from "../run/recipes.ts";
import type { CurvePoint, SeedCurvePoint } from "../run/robustness.ts";
import { type Claim, oursVsPaperBars, pct, type SectionSummary } from "../run/summary.ts";
import { colorScale, type Meaning } from "./colors.ts";
import { imageGrid } from "./grid.ts";

/** The models compared, in table order (with more fresh architectures, `d_r@vgg_small` etc. follow). */
export const MODELS = ["standard", "robust", "d_r", "d_nr", "control"] as const;
/** A model of the table: one of MODELS, or a fresh one `<set>@<arch>` for an architecture of freshArchs. */
export type ModelName = string;
const BASE_LABEL: Record<string, string> = {
  standard: "std training on D",
  robust: "adv training on D",
  d_r: "std training on D_R",
  d_nr: "std training on D_NR",
  control: "std training on a random subset of D (size of D_R)",
};
/** The table label of a model name. */
const label = (n: ModelName) => {
  const [set, arch] = n.split("@");
  return arch ? `${BASE_LABEL[set]}, ${arch}` : BASE_LABEL[set];
};
/** The short label of a model name in charts, where rows are narrow (D_R, "D_R, vgg_small"). */
const chartLabel = (n: ModelName) => {
  const [set, arch] = n.split("@");
  const names: Record<string, string> = { standard: "D, std training", robust: "D, adv training" };
  const short = names[set] ?? (set === "control" ? "control (D subset)" : set.toUpperCase());
  return arch ? `${short}, ${arch}` : short;
};
/** Every model of a run: the two sources, then D_R / D_NR / control for fresh.arch and each of freshArchs. */
export function modelNames(config: { freshArchs: string[] }): ModelName[] {
  const fresh = ["d_r", "d_nr", "control"];
  return [...MODELS, ...config.freshArchs.flatMap((a) => fresh.map((f) => `${f}@${a}`))];
}

/** What main() returns (fractions). */
export interface Results {
  /** Accuracy at the headline eps (fresh models: the mean over seeds, with the sample sd). */
  models: Record<ModelName, { stdAcc: number; robustAcc: number; stdAccSd: number; robustAccSd: number }>;
  /** robustAcc: under every attack (PGD, then Auto-PGD CE + DLR); pgdRobustAcc: under PGD alone; fresh
   * models: the mean over freshSeeds seeds (sd, n). eps 0 = standard accuracy. */
  curve: CurvePoint[];
  /** The fresh models' curves, one per seed. */
  seedCurves: SeedCurvePoint[];
  /** Claim 2's measure: D_R minus the control in robust accuracy at the headline eps, per seed, with the mean
   * and its 95% interval (Student's t over the seeds). */
  claim2: { eps: number; diffs: number[]; mean: number; lo: number; hi: number; n: number };
  trainEps: number;
  /** The headline eps and the rule that chose it. */
  evalEps: number;
  evalEpsRule: string;
  representationDistance: { d_r: number; d_nr: number };
  setSize: number;
  start: string;
  /** Only with --plant.norm > 0 (the positive control): whom each model follows when a test image carries
  /** Only with --plant.norm > 0 (the positive control): whom each model follows when a test image carries
   * class y + 1's pattern, and the pattern energy of each set (about plant.norm when it carries the pattern). */
  plant?: PlantMeasures;
}

/** What a Section 3.1 summary reads of the config. */
export type SummaryConfig = { dataset: string; evalAttack: EvalAttackConfig };

/** A built set as the pipeline returns it (lib/run/pipeline.ts MatchedSet, DataRef's split under `ref`). */
type BuiltSet = { ref: { split: Split } };

/** The sets whose pattern energy the positive control reports (lib/core/control.ts plantMeasures), by label. */
export function energySets(
  sets: { targets: Split; d_r: BuiltSet; d_nr: BuiltSet; control: { split: Split } },
): Record<string, Split> {
  return {
    "targets x": sets.targets,
    "D_R": sets.d_r.ref.split,
    "D_NR": sets.d_nr.ref.split,
    "control": sets.control.split,
  };
}

/** Figure 2a: per row a target x, its start x0, and the D_R and D_NR images built from them (PNG). */
export function fig2aGrid(
  sets: { targets: Split; x0: Float32Array; d_r: BuiltSet; d_nr: BuiltSet },
  classNames: string[],
): Uint8Array {
  const { targets, x0 } = sets;
  const [h, w, c] = targets.shape, d = imageSize(targets);
  const cell = (x: Float32Array, i: number, caption: string) => ({
    image: x.subarray(i * d, (i + 1) * d),
    h,
    w,
    c: c as 1 | 3,
    caption,
  });
  const rows = Array.from({ length: Math.min(8, targets.n) }, (_, i) => [
    cell(targets.x, i, classNames[targets.y[i]]),
    cell(x0, i, "start"),
    cell(sets.d_r.ref.split.x, i, `label ${classNames[targets.y[i]]}`),
    cell(sets.d_nr.ref.split.x, i, `label ${classNames[targets.y[i]]}`),
  ]);
  return imageGrid(rows, {
    colLabels: ["target x", "start x0", "D_R (robust)", "D_NR (standard)"],
    title: "Figure 2a: D_R keeps the robust model's features, D_NR the standard one's",
    scale: 3,
  });
}

/** The robust accuracy curve of every model (vega-lite); `freshArch` is fresh.arch, drawn solid. */
export function robustCurveSpec(
  r: Pick<Results, "models" | "curve">,
  freshArch: string,
): Record<string, unknown> {
  const names = Object.keys(r.models), kinds = names.map((n) => n.split("@")[0] as Meaning);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Robust accuracy vs L2 eps (App. D.2)",
    data: {
      values: r.curve.map((p) => ({
        ...p,
        model: chartLabel(p.model),
        arch: p.model.split("@")[1] ?? freshArch,
        robustAcc: 100 * p.robustAcc,
      })),
    },
    width: 300,
    height: 220,
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "eps", type: "quantitative", title: "L2 eps" },
      y: { field: "robustAcc", type: "quantitative", title: "accuracy (%)", scale: { domain: [0, 100] } },
      color: {
        field: "model",
        type: "nominal",
        title: null,
        scale: colorScale(names.map((n, i) => [chartLabel(n), kinds[i]])),
        legend: { orient: "bottom", columns: 1 },
      },
      // a fresh architecture's models share their set's colour, in another dash
      strokeDash: { field: "arch", type: "nominal", legend: null, sort: [freshArch] },
    },
  };
}

/**
 * Figure 2b: standard and robust test accuracy of each model, ours beside the paper's (CIFAR-10), one panel per
 * accuracy; the same chart in the report (the summary's) and in fig2b.png.
 */
export function fig2bSpec(
  r: Pick<Results, "models" | "evalEps">,
  config: SummaryConfig,
): Record<string, unknown> {
  const paper = FIG2B.models as Record<string, { stdAcc: number; robustAcc: number }>;
  const std = "standard accuracy", rob = `robust accuracy (ours: L2 eps ${r.evalEps}; paper: ${FIG2B.eps})`;
  return oursVsPaperBars(
    {
      text: `Figure 2b: standard and robust test accuracy`,
      subtitle:
        `ours: ${config.dataset}, robust under L2 PGD (${config.evalAttack.steps} steps); paper: CIFAR-10`,
    },
    Object.keys(r.models).flatMap((n) => {
      const ours = r.models[n], theirs = paper[n], row = chartLabel(n);
      return [
        { label: row, source: "ours" as const, value: 100 * ours.stdAcc, panel: std },
        ...(theirs ? [{ label: row, source: "paper" as const, value: 100 * theirs.stdAcc, panel: std }] : []),
        { label: row, source: "ours" as const, value: 100 * ours.robustAcc, panel: rob },
        ...(theirs
          ? [{ label: row, source: "paper" as const, value: 100 * theirs.robustAcc, panel: rob }]
          : []),
      ];
    }),
    "test accuracy (%)",
    { domain: [0, 100] },
  );
}

/** The positive control's tables: pattern reliance per model, pattern energy per set. */
function plantTables(p: NonNullable<Results["plant"]>, names: ModelName[]) {
  return [
    {
      caption:
        `Positive control (planted class patterns of L2 norm ${p.norm.toFixed(2)}): test images carrying ` +
        "class y + 1's pattern instead of their own; a model that learned the pattern follows it",
      headers: ["model", "predicts y + 1 (follows the pattern)", "predicts y (follows the content)"],
      rows: names.map((
        n,
      ) => [label(n), pct(p.reliance[n].followsPattern), pct(p.reliance[n].followsContent)]),
    },
    {
      caption: `Pattern energy of each set (projection on its label's pattern minus the others'; a planted ` +
        `image carries about ${p.norm.toFixed(2)}, one without the pattern about 0)`,
      headers: ["set", "pattern energy"],
      rows: Object.entries(p.energy).map(([k, v]) => [k, v.toFixed(3)]),
    },
  ];
}

/** A fraction as a signed difference in percentage points: +12.3 points. */
const points = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} points`;

/** "mean% +- sd" when there are several seeds, else the percentage. */
const withSd = (v: number | undefined, sd: number, n: number) =>
  n > 1 && v !== undefined ? `${pct(v)} ± ${(100 * sd).toFixed(1)}` : pct(v);

/** Fig 2b beside the paper's, the robustness curve as a table, and what the control says. */
export function summarize(r: Results, config: SummaryConfig): SectionSummary {
  const paper = FIG2B.models as Record<string, { stdAcc: number; robustAcc: number }>;
  const epsList = [...config.evalAttack.curve].sort((a, b) => a - b);
  const at = (n: ModelName, e: number) => r.curve.find((p) => p.model === n && p.eps === e)?.robustAcc;
  const names = Object.keys(r.models);
  const seedsOf = (n: ModelName) => r.curve.find((p) => p.model === n && p.eps === 0)?.n ?? 1;
  const verdict = claim2Verdict(r), v3 = claim3Verdict(r);
  const seeds = `${r.claim2.n} seed${r.claim2.n === 1 ? "" : "s"}`;
  const claims: Claim[] = [
    {
      name:
        "claim 2: standard training on D_R gives robustness (beyond a random subset of D of the same size)",
      paper: `D_R ${pct(FIG2B.models.d_r.robustAcc)} vs D ${
        pct(FIG2B.models.standard.robustAcc)
      } at eps ${FIG2B.eps}`,
      ours: `D_R - control ${points(r.claim2.mean)} (95% ${points(r.claim2.lo)} to ${
        points(r.claim2.hi)
      }, ${seeds}) at eps ${r.evalEps}; D_R ${pct(r.models.d_r.robustAcc)}, adversarial ${
        pct(r.models.robust.robustAcc)
      }`,
      ...verdict,
    },
    {
      name: "claim 3: standard training on D_NR gives accuracy without robustness",
      paper: `D_NR ${pct(FIG2B.models.d_nr.stdAcc)} std, ${pct(FIG2B.models.d_nr.robustAcc)} robust`,
      ours: `D_NR ${pct(r.models.d_nr.stdAcc)} std, ${pct(r.models.d_nr.robustAcc)} robust (control ${
        pct(r.models.control.robustAcc)
      }) at eps ${r.evalEps}`,
      ...v3,
    },
  ];
  return {
    claims,
    headline: "robust and non-robust datasets",
    claim:
      "Standard training on D_R gives robustness; standard training on D_NR gives accuracy without robustness.",
    tables: [
      {
        caption:
          `Standard and robust test accuracy (${config.dataset}); headline eps ${r.evalEps}: ${r.evalEpsRule}. ` +
          `D_R, D_NR and the control have ${r.setSize} images each; fresh models: mean +- sd over ` +
          `${r.claim2.n} seed${
            r.claim2.n === 1 ? "" : "s"
          } (initial weights, data order, evaluation starts).`,
        headers: [
          "model",
          "std acc (ours)",
          `robust acc, eps ${r.evalEps} (ours)`,
          "std acc (paper)",
          `robust acc, eps ${FIG2B.eps} (paper)`,
        ],
        rows: names.map((n) => [
          label(n),
          withSd(r.models[n].stdAcc, r.models[n].stdAccSd, seedsOf(n)),
          withSd(r.models[n].robustAcc, r.models[n].robustAccSd, seedsOf(n)),
          pct(paper[n]?.stdAcc),
          pct(paper[n]?.robustAcc),
        ]),
      },
      {
        caption: config.evalAttack.strongSteps
          ? `Robust accuracy over eps: L2 PGD (${config.evalAttack.steps} steps), then Auto-PGD with the ` +
            `cross-entropy and the DLR loss (${config.evalAttack.strongSteps} steps, ${config.evalAttack.restarts} ` +
            "random start each) on what PGD left; in brackets PGD alone"
          : `Robust accuracy over eps (untargeted L2 PGD, ${config.evalAttack.steps} steps)`,
        headers: ["model", ...epsList.map((e) => `eps ${e}`)],
        rows: names.map((n) => [
          label(n),
          ...epsList.map((e) => {
            const c = r.curve.find((c) => c.model === n && c.eps === e);
            const cell = withSd(at(n, e), c?.sd ?? 0, c?.n ?? 1);
            return config.evalAttack.strongSteps && c?.pgdRobustAcc !== undefined
              ? `${cell} (${pct(c.pgdRobustAcc)})`
              : cell;
          }),
        ]),
      },
      ...(r.plant ? plantTables(r.plant, names) : []),
    ],
    charts: [fig2bSpec(r, config)],
    figures: ["fig2a.png", "robust_curve.png"],
    notes: [
      `representation distance reached (relative): D_R ${r.representationDistance.d_r.toFixed(3)}, D_NR ${
        r.representationDistance.d_nr.toFixed(3)
      }`,
      `D_R vs the size-matched control at eps ${r.evalEps}: ${pct(r.models.d_r.robustAcc)} vs ${
        pct(r.models.control.robustAcc)
      } (claim 2 needs D_R above the control, not only above the standard model)`,
      `claim 2 verdict: ${verdict.verdict} (D_R - control ${points(r.claim2.mean)}, 95% interval ${
        points(r.claim2.lo)
      } to ${points(r.claim2.hi)} over ${r.claim2.n} seed${
        r.claim2.n === 1 ? "" : "s"
      }; criterion: ${verdict.criterion})`,
    ],
  };
}
