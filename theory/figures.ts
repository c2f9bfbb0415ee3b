// Figure 4 and the theory charts as vega-lite specs (data computed here, rendering in lib/report/charts.ts).
import { eigh, Matrix } from "./linalg.ts";
import { sample } from "./gaussian.ts";
import { epsOfLambda, lambdaOfEps, sigmaRobust } from "./thm2.ts";
import { classifierGradient, worstCosineClosedForm } from "./thm3.ts";

type Spec = Record<string, unknown>;

/**
 * The colours of these charts: the standard and robust model as in every chart of the report
 * (lib/report/colors.ts, which theory/ does not import; tests/theory/figures_test.ts checks they agree), and the
 * two classes in colours no other chart uses.
 */
export const THEORY_COLORS = {
  standard: "#f38400",
  robust: "#008856",
  "y = +1": "#b3446c",
  "y = -1": "#2b3d26",
  line: "#222222",
} as const;

const classScale = {
  domain: ["y = +1", "y = -1"],
  range: [THEORY_COLORS["y = +1"], THEORY_COLORS["y = -1"]],
};

/** The smallest half-width (a multiple of 0.5) of a square window around 0 that holds every point. */
export function symmetricBound(points: { x: number; y: number }[], margin = 0.25): number {
  const m = Math.max(...points.map((p) => Math.max(Math.abs(p.x), Math.abs(p.y))));
  return Math.ceil((m + margin) * 2) / 2;
}

/** Points of the 2-sigma contour of N(center, sigma) in 2-D. */
function ellipse(center: number[], sigma: Matrix, n = 80): { x: number; y: number; k: number }[] {
  const { values, vectors } = eigh(sigma);
  return Array.from({ length: n + 1 }, (_, k) => {
    const t = (2 * Math.PI * k) / n;
    const a = 2 * Math.sqrt(values[0]) * Math.cos(t), b = 2 * Math.sqrt(values[1]) * Math.sin(t);
    return {
      x: center[0] + vectors.get(0, 0) * a + vectors.get(0, 1) * b,
      y: center[1] + vectors.get(1, 0) * a + vectors.get(1, 1) * b,
      k,
    };
  });
}

/**
 * Fig 4: 2-D anisotropic Sigma*; for each eps the data, the learned Gaussians (2-sigma ellipses around +-mu) and the
 * classifier's gradient direction Sigma_r^-1 mu. As eps grows the mean stays and the covariance blends toward I.
 */
export function figure4Spec(
  opts: { muStar: number[]; sigmaStar: Matrix; eps: number[]; seed: number },
): Spec {
  const { x, y } = sample(opts.muStar, opts.sigmaStar, 400, opts.seed);
  const points = x.to2DArray().map((r, i) => ({ x: r[0], y: r[1], cls: y[i] > 0 ? "y = +1" : "y = -1" }));
  const shapes = opts.eps.map((eps) => {
    const sigma = eps === 0 ? opts.sigmaStar : sigmaRobust(opts.sigmaStar, lambdaOfEps(opts.sigmaStar, eps));
    const g = classifierGradient(opts.muStar, sigma), gn = Math.hypot(...g);
    const ells = [1, -1].flatMap((s) =>
      ellipse(opts.muStar.map((m) => s * m), sigma).map((p) => ({ ...p, cls: s > 0 ? "y = +1" : "y = -1" }))
    );
    return { eps, ells, arrow: [{ x: 0, y: 0, x2: (2.5 * g[0]) / gn, y2: (2.5 * g[1]) / gn }] };
  });
  // one window for every panel, wide enough for every ellipse (the eps = 2 ones are the widest) and arrow
  const bound = symmetricBound([
    ...points,
    ...shapes.flatMap((p) => [...p.ells, ...p.arrow.map((a) => ({ x: a.x2, y: a.y2 }))]),
  ]);
  const dom = { scale: { domain: [-bound, bound], nice: false } };
  const panels = shapes.map(({ eps, ells, arrow }) => {
    const title = eps === 0 ? "standard (eps = 0)" : `robust, eps = ${eps}`;
    return {
      title,
      width: 180,
      height: 180,
      layer: [
        {
          data: { values: points },
          mark: { type: "circle", size: 10, opacity: 0.35, clip: true },
          encoding: {
            x: { field: "x", type: "quantitative", title: "x1", ...dom },
            y: { field: "y", type: "quantitative", title: "x2", ...dom },
            color: {
              field: "cls",
              type: "nominal",
              title: "class",
              scale: classScale,
              legend: { orient: "bottom" },
            },
          },
        },
        {
          data: { values: ells },
          mark: { type: "line", strokeWidth: 2, clip: true },
          encoding: {
            x: { field: "x", type: "quantitative" },
            y: { field: "y", type: "quantitative" },
            order: { field: "k" },
            color: { field: "cls", type: "nominal", scale: classScale },
            detail: { field: "cls" },
          },
        },
        {
          data: { values: arrow },
          mark: { type: "rule", strokeWidth: 3, color: "black" },
          encoding: {
            x: { field: "x", type: "quantitative" },
            y: { field: "y", type: "quantitative" },
            x2: { field: "x2" },
            y2: { field: "y2" },
          },
        },
        {
          data: { values: arrow },
          mark: { type: "point", shape: "triangle", filled: true, color: "black", size: 60 },
          encoding: { x: { field: "x2", type: "quantitative" }, y: { field: "y2", type: "quantitative" } },
        },
      ],
    };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: "Figure 4: robust training learns the mean and blends the covariance toward I",
      subtitle: "ellipses: learned Gaussians (2 sigma); black arrow: gradient direction Sigma^-1 mu",
    },
    // two panels a row: legible on a narrow screen
    columns: 2,
    concat: panels,
  };
}

/** lambda(eps) curve (log-log) for a Sigma*. */
export function lambdaEpsSpec(sigmaStar: Matrix): Spec {
  const values = Array.from({ length: 60 }, (_, i) => Math.exp(-4 + (i * 10) / 59)).map((lam) => ({
    lambda: lam,
    eps: epsOfLambda(sigmaStar, lam),
  }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Thm 2: the adversary's penalty lambda as a function of its budget eps",
    width: 360,
    height: 240,
    data: { values },
    mark: { type: "line", point: true, color: THEORY_COLORS.line },
    encoding: {
      x: { field: "eps", type: "quantitative", scale: { type: "log" }, title: "eps (E||delta*||_2)" },
      y: { field: "lambda", type: "quantitative", scale: { type: "log" }, title: "lambda" },
    },
  };
}

/** Worst-case cosine between mu and the gradient vs eps, standard vs robust model. */
export function worstCosineSpec(sigmaStar: Matrix, epsList: number[]): Spec {
  const std = worstCosineClosedForm(sigmaStar);
  const values = epsList.flatMap((eps) => [
    { eps, model: "standard", cos: std },
    {
      eps,
      model: "robust",
      cos: eps === 0 ? std : worstCosineClosedForm(sigmaRobust(sigmaStar, lambdaOfEps(sigmaStar, eps))),
    },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Thm 3: worst-case alignment of the gradient with mu",
    width: 360,
    height: 240,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "eps", type: "quantitative", title: "training eps" },
      y: {
        field: "cos",
        type: "quantitative",
        title: "min over mu of cos(mu, grad)",
        scale: { domain: [0, 1] },
      },
      color: {
        field: "model",
        type: "nominal",
        title: null,
        scale: { domain: ["standard", "robust"], range: [THEORY_COLORS.standard, THEORY_COLORS.robust] },
      },
    },
  };
}
