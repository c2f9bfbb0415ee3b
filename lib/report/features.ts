// Section 2's tables and charts (vega-lite specs): the counts, rho vs gamma of every feature, the robustly useful
// count over eps and the distributions, each model and kind of feature in its report-wide colour.
import { quantiles } from "../core/features.ts";
import {
  FEATURE_KINDS,
  type FeatureThresholds,
  kindOf,
  type ModelFeatures,
  pairs,
  usefulAndRobust,
} from "../run/features.ts";
import { pct, type SummaryTable } from "../run/summary.ts";
import { colorScale, type Meaning, PANEL_HEADER } from "./colors.ts";

/** The two models Section 2 compares, in chart order, with their labels. */
export const FEATURE_MODELS = { standard: "standard model", robust: "robust model" } as const;

/** What the charts read of a Section 2 run. */
export interface FeatureRun {
  eps: number[];
  thresholds: FeatureThresholds;
  models: Record<keyof typeof FEATURE_MODELS, ModelFeatures>;
}

const NAMES = Object.keys(FEATURE_MODELS) as (keyof typeof FEATURE_MODELS)[];
const LABELS = NAMES.map((n) => FEATURE_MODELS[n]);
const MODEL_COLORS = colorScale(NAMES.map((n) => [FEATURE_MODELS[n], n]));
/** One panel per model, stacked (a facet's or an encoding's `row`). */
const MODEL_ROWS = { field: "model", type: "nominal", title: null, sort: LABELS, header: PANEL_HEADER };
const KIND_MEANING: Record<typeof FEATURE_KINDS[number], Meaning> = {
  "robustly useful": "robustlyUseful",
  "useful, 0 <= gamma < gamma0": "weaklyRobust",
  "useful, non-robust": "usefulNonRobust",
  "not useful": "notUseful",
};

/**
 * The lower end of a gamma axis: the 1st percentile rounded down to a multiple of 0.5, at most -1 (a few nearly
 * constant units reach gamma of -20 and less and would flatten the rest); `below` values lie under it.
 */
export function axisFloor(values: number[]): { floor: number; below: number } {
  const [q] = quantiles(values, [0.01]);
  const floor = Math.min(-1, Math.floor((Number.isFinite(q) ? q : -1) * 2) / 2);
  return { floor, below: values.filter((v) => v < floor).length };
}

/** Scatter of rho vs gamma at the headline eps, one panel per model above the other, coloured by kind. */
export function rhoGammaSpec(r: FeatureRun, dataset: string): Record<string, unknown> {
  const e = r.eps.indexOf(r.thresholds.headlineEps), th = r.thresholds;
  const points = NAMES.flatMap((n) =>
    pairs(r.models[n], e).map((p) => ({ model: FEATURE_MODELS[n], ...p, kind: kindOf(p.rho, p.gamma, th) }))
  );
  const yAxis = axisFloor(points.map((p) => p.gamma));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: `rho vs gamma of every (one-vs-rest task, unit) feature (${dataset})`,
      subtitle: [
        `gamma at L2 eps ${th.headlineEps}; rho0 ${th.rho0}, gamma0 ${th.gamma0}`,
        ...(yAxis.below ? [`${yAxis.below} feature(s) below ${yAxis.floor} drawn on the bottom edge`] : []),
      ],
    },
    data: { values: points },
    facet: {
      row: MODEL_ROWS,
    },
    spec: {
      width: 300,
      height: 220,
      mark: { type: "point", filled: true, size: 14, opacity: 0.6 },
      encoding: {
        x: { field: "rho", type: "quantitative", title: "rho = E[y f(x)]" },
        y: {
          field: "gamma",
          type: "quantitative",
          title: `gamma = E[min y f(x + delta)], eps ${th.headlineEps}`,
          scale: { domainMin: yAxis.floor, clamp: true },
        },
        color: {
          field: "kind",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", columns: 2 },
          scale: colorScale(FEATURE_KINDS.map((k) => [k, KIND_MEANING[k]])),
        },
      },
    },
  };
}

/** Line chart: count of robustly useful features (gamma >= gamma0) over eps, per model (eps 0: rho >= gamma0). */
export function robustCountSpec(r: FeatureRun): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: `Robustly useful features (gamma >= ${r.thresholds.gamma0}) over eps`,
      subtitle:
        `of ${r.models.standard.counts[0].features} (standard) and ${r.models.robust.counts[0].features} ` +
        `(robust) (task, unit) features; eps 0: rho >= ${r.thresholds.gamma0}`,
    },
    data: {
      values: NAMES.flatMap((n) =>
        r.models[n].counts.map((c) => ({ model: FEATURE_MODELS[n], eps: c.eps, count: c.robustlyUseful }))
      ),
    },
    width: 300,
    height: 220,
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "eps", type: "quantitative", title: "L2 eps" },
      y: { field: "count", type: "quantitative", title: "robustly useful features" },
      color: {
        field: "model",
        type: "nominal",
        title: null,
        scale: MODEL_COLORS,
        legend: { orient: "bottom" },
      },
    },
  };
}

/** Box plots of rho (eps 0) and gamma at each eps, per model, one panel above the other. */
export function distributionSpec(r: FeatureRun): Record<string, unknown> {
  const dist = NAMES.flatMap((n) =>
    [0, ...r.eps].flatMap((eps, i) =>
      pairs(r.models[n], Math.max(0, i - 1)).map((p) => ({
        model: FEATURE_MODELS[n],
        eps: String(eps),
        value: i === 0 ? p.rho : p.gamma,
      }))
    )
  );
  const axis = axisFloor(dist.map((p) => p.value));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: "Distribution of rho (eps 0) and gamma over eps",
      subtitle: [
        "one value per (task, unit) feature; box: quartiles, whiskers: 1.5 IQR, points beyond",
        ...(axis.below ? [`${axis.below} value(s) below ${axis.floor} drawn on the bottom edge`] : []),
      ],
    },
    data: { values: dist },
    width: 300,
    height: 180,
    mark: { type: "boxplot", extent: 1.5 },
    encoding: {
      row: MODEL_ROWS,
      x: { field: "eps", type: "ordinal", title: "L2 eps (0: rho)", sort: [0, ...r.eps].map(String) },
      y: {
        field: "value",
        type: "quantitative",
        title: "rho / gamma",
        scale: { domainMin: axis.floor, clamp: true },
      },
      color: { field: "model", type: "nominal", title: null, scale: MODEL_COLORS, legend: null },
    },
  };
}

/** The counts of each kind of feature per model and eps, with the shares of the useful ones. */
export function featureCountsTable(
  r: FeatureRun,
  run: { classes: number[]; evalSize: number; dataset: string },
): SummaryTable {
  const th = r.thresholds, share = (a: number, b: number) => (b > 0 ? pct(a / b) : "-");
  return {
    caption: `Features = (one-vs-rest task, representation unit) pairs over ${run.classes.length} task(s) ` +
      `(classes ${run.classes.join(",")}), each standardized on the training set; rho and gamma on ` +
      `${run.evalSize} test images (${run.dataset}). Useful: rho >= ${th.rho0}; robustly useful: gamma >= ` +
      `${th.gamma0}; useful non-robust: rho >= ${th.rho0} and gamma < 0. Shares are of the useful features.`,
    headers: [
      "model",
      "L2 eps",
      "features",
      "useful",
      "robustly useful",
      "useful non-robust",
      "useful that are non-robust",
      "useful that stay robustly useful",
    ],
    rows: NAMES.flatMap((n) =>
      r.models[n].counts.filter((c) => c.eps > 0).map((c) => [
        FEATURE_MODELS[n],
        String(c.eps),
        String(c.features),
        String(c.useful),
        String(c.robustlyUseful),
        String(c.usefulNonRobust),
        share(c.usefulNonRobust, c.useful),
        share(usefulAndRobust(r.models[n], r.eps.indexOf(c.eps), th), c.useful),
      ])
    ),
  };
}

/** Quantiles of rho and of gamma at each eps over the features, with the median standard error of one. */
export function featureDistributionTable(r: FeatureRun): SummaryTable {
  const q = [0.1, 0.5, 0.9], fixed = (v: number) => v.toFixed(3);
  const median = (v: number[]) => quantiles(v, [0.5])[0];
  return {
    caption: "Distribution over features: 10th percentile, median, 90th percentile; median Monte-Carlo " +
      "standard error of one feature's estimate",
    headers: ["model", "quantity", "p10", "median", "p90", "median SE"],
    rows: NAMES.flatMap((n) => {
      const m = r.models[n];
      return [
        [FEATURE_MODELS[n], "rho", ...quantiles(m.rho.flat(), q).map(fixed), fixed(median(m.rhoSe.flat()))],
        ...r.eps.map((eps, e) => [
          FEATURE_MODELS[n],
          `gamma, eps ${eps}`,
          ...quantiles(m.gamma[e].flat(), q).map(fixed),
          fixed(median(m.gammaSe[e].flat())),
        ]),
      ];
    }),
  };
}
