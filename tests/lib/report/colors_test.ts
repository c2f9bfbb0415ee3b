// Tests for lib/report/colors.ts: one colour per meaning, and ours / the paper's in the same two colours in every
// chart that sets them side by side (Table 1, Figure 2b, Figure 3).
import assert from "node:assert/strict";
import { COLORS, colorScale } from "../../../lib/report/colors.ts";
import { oursVsPaperBars, scatterPanels } from "../../../lib/run/summary.ts";
import { fig2bSpec } from "../../../lib/report/sec3_1.ts";
import { summarize as table1 } from "../../../lib/report/sec3_2.ts";

/** Every (label, colour) pair a spec sets: colour scales (domain -> range) and marks with a fixed colour. */
function colours(spec: unknown, out: [string, string][] = []): [string, string][] {
  if (Array.isArray(spec)) spec.forEach((s) => colours(s, out));
  else if (spec && typeof spec === "object") {
    const o = spec as Record<string, unknown>;
    const scale = (o.color as { scale?: { domain: string[]; range: string[] } } | undefined)?.scale;
    if (scale?.range) scale.domain.forEach((d, i) => out.push([d, scale.range[i]]));
    Object.values(o).forEach((v) => colours(v, out));
  }
  return out;
}

Deno.test("COLORS: no colour stands for two meanings; colorScale() pairs each label with its meaning's colour", () => {
  assert.equal(new Set(Object.values(COLORS)).size, Object.keys(COLORS).length);
  assert.deepEqual(colorScale([["ours", "ours"], ["standard model", "standard"]]), {
    domain: ["ours", "standard model"],
    range: [COLORS.ours, COLORS.standard],
  });
});

Deno.test("ours and the paper's are the same two colours in Table 1, Figure 2b and Figure 3", () => {
  const models = { stdAcc: 0.9, robustAcc: 0.4, stdAccSd: 0, robustAccSd: 0 };
  const fig2b = fig2bSpec(
    { models: { standard: models, robust: models, d_r: models, d_nr: models, control: models }, evalEps: 2 },
    {
      dataset: "fashion-mnist",
      evalAttack: { steps: 20, curve: [2], headlineMax: 0.05, strongSteps: 0, restarts: 1 },
    },
  );
  const t1 = table1(
    {
      sets: { d: { testAcc: 0.9 }, d_rand: { testAcc: 0.5 }, d_det: { testAcc: 0.3 } },
      sourceTestAcc: 0.9,
      eps: 4,
      steps: 10,
      stepSize: 1,
      eot: { samples: 1, translate: 0, flip: false, noise: 0 },
      nTrain: 100,
      nTest: 100,
      numClasses: 10,
    },
    { dataset: "fashion-mnist" },
  ).charts[0];
  const want: [string, string][] = [["ours", COLORS.ours], ["paper", COLORS.paper]];
  assert.deepEqual(colours(fig2b), want);
  assert.deepEqual(colours(t1), want);
  const fig3 = scatterPanels({ text: "t" }, [
    { title: "ours", values: [{ label: "cnn", x: 1, y: 2 }], color: "ours" },
    { title: "paper", values: [{ label: "VGG", x: 1, y: 2 }], color: "paper" },
  ], { x: "x", y: "y" }) as { vconcat: { layer: { mark: { color?: string } }[] }[] };
  assert.deepEqual(fig3.vconcat.map((p) => p.layer[0].mark.color), [COLORS.ours, COLORS.paper]);
  assert.deepEqual(colours(oursVsPaperBars("t", [{ label: "a", source: "ours", value: 1 }], "x")), want);
});

Deno.test("fig2bSpec(): the paper's bars beside ours, panels stacked by accuracy (no column headers to collide)", () => {
  const m = (std: number, rob: number) => ({ stdAcc: std, robustAcc: rob, stdAccSd: 0, robustAccSd: 0 });
  const spec = fig2bSpec(
    {
      models: {
        standard: m(0.9, 0.01),
        robust: m(0.8, 0.5),
        d_r: m(0.85, 0.1),
        d_nr: m(0.8, 0),
        control: m(0.88, 0.02),
      },
      evalEps: 2,
    },
    {
      dataset: "fashion-mnist",
      evalAttack: { steps: 20, curve: [2], headlineMax: 0.05, strongSteps: 0, restarts: 1 },
    },
  ) as { facet: { row?: unknown; column?: unknown }; data: { values: { source: string; panel: string }[] } };
  assert.ok(spec.facet.row && !spec.facet.column);
  const paper = spec.data.values.filter((v) => v.source === "paper");
  assert.equal(paper.length, 8, "standard, robust, D_R and D_NR in both panels (the paper has no control)");
  assert.deepEqual([...new Set(spec.data.values.map((v) => v.panel))], [
    "standard accuracy",
    "robust accuracy (ours: L2 eps 2; paper: 0.25)",
  ]);
});
