// `deno task theory`: checks every Section 4 claim numerically, prints a table, writes results.json and figures.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { runMain } from "../lib/util/errors.ts";
import { resolveOutDir, writeJsonAtomic, writeRunConfig } from "../lib/run/output.ts";
import { type ChartSpec, saveChart } from "../lib/report/charts.ts";
import { markdownTable } from "../lib/report/table.ts";
import { Matrix } from "./linalg.ts";
import { runClaims } from "./claims.ts";
import { figure4Spec, lambdaEpsSpec, worstCosineSpec } from "./figures.ts";
import type { Summary } from "../lib/run/summary.ts";
import type { SectionInfo } from "../lib/run/experiment.ts";

/** The paper section this entry checks; `deno task report` finds it here (theory has no experiment SPEC). */
export const SECTION: SectionInfo = { of: "theory", label: "Section 4", order: 40 };

/** The report's summary of the theory run: one row per claim, the figures. */
function theorySummary(claims: ReturnType<typeof runClaims>, figures: string[]): Summary {
  const g = (v: number) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toPrecision(6));
  return {
    title: `${SECTION.label}: the Gaussian model (Theorems 1-3, Figure 4)`,
    claim: "Closed forms of the paper checked against independent numerical computations.",
    order: SECTION.order,
    tables: [{
      headers: ["claim", "closed form", "numerical", "error", "tolerance", "result"],
      rows: claims.map((
        c,
      ) => [c.claim, g(c.closedForm), g(c.numerical), g(c.error), g(c.tolerance), c.pass ? "pass" : "FAIL"]),
    }],
    charts: [],
    figures: figures.filter((f) => f.endsWith(".png")),
    notes: [`${claims.filter((c) => c.pass).length}/${claims.length} claims hold`],
    claims: [{
      name: "Section 4: Theorems 1-3 (the Gaussian model's loss gap, learned covariance, gradient alignment)",
      paper: "proved in the paper's appendix",
      ours: `${claims.filter((c) => c.pass).length}/${claims.length} numerical checks hold`,
      verdict: claims.every((c) => c.pass) ? "reproduces" : "does not",
      criterion: "reproduces: every closed form within its tolerance of an independent numerical computation",
    }],
  };
}

const HELP = `deno task theory [--json] [--out=DIR] [--seed=N] [--no-figures]

Checks Theorems 1-3 of Section 4 (Gaussian model) by comparing closed forms with independent numerical
computations; prints one row per claim, writes DIR/results.json and Figure 4 (PNG + SVG). Exits 1 if a claim fails.`;

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        json: { type: "boolean" },
        out: { type: "string", default: "" },
        seed: { type: "string", default: "0" },
        "no-figures": { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help) return void console.log(HELP);
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) {
      throw new RangeError(`--seed must be an integer >= 0, got "${values.seed}"`);
    }
    const t0 = performance.now();
    const dir = await resolveOutDir("theory", values.out);
    await writeRunConfig(dir, { seed, figures: !values["no-figures"] }, { seed });
    const claims = runClaims({ seed });
    const figures: string[] = [];
    if (!values["no-figures"]) {
      const sigmaStar = new Matrix([[1.6, 0.6], [0.6, 0.35]]), muStar = [1.2, 0.3];
      const specs: [string, ChartSpec][] = [
        ["fig4", figure4Spec({ muStar, sigmaStar, eps: [0, 0.5, 1, 2], seed })],
        ["lambda_eps", lambdaEpsSpec(sigmaStar)],
        ["worst_cosine", worstCosineSpec(sigmaStar, [0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 6])],
      ];
      for (const [name, spec] of specs) {
        await saveChart(dir, name, spec);
        figures.push(`${name}.png`, `${name}.svg`);
      }
    }
    const failed = claims.filter((c) => !c.pass).length;
    const results = {
      claims,
      passed: claims.length - failed,
      failed,
      figures,
      runSeconds: Math.round((performance.now() - t0) / 100) / 10,
      lossConvention: "l(x; mu, Sigma) = (x - mu)^T Sigma^-1 (x - mu) + log det Sigma",
      summary: theorySummary(claims, figures),
    };
    await writeJsonAtomic(join(dir, "results.json"), results);
    if (values.json) console.log(JSON.stringify(results, null, 2));
    else {
      const g = (v: number) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toPrecision(6));
      console.log(
        markdownTable(
          ["claim", "closed form", "numerical", "error", "tolerance", "result"],
          claims.map((
            c,
          ) => [
            c.claim,
            g(c.closedForm),
            g(c.numerical),
            g(c.error),
            g(c.tolerance),
            c.pass ? "pass" : "FAIL",
          ]),
          { align: ["l", "r", "r", "r", "r", "l"] },
        ),
      );
      console.log(
        `\n${
          claims.length - failed
        }/${claims.length} claims hold (${results.runSeconds} s); wrote ${dir}/results.json ${
          figures.filter((f) => f.endsWith(".png")).join(" ")
        }`,
      );
    }
    return failed ? 1 : 0;
  });
}
