// Tests for lib/report/features.ts: the gamma axis floor, and Section 2's charts in the report-wide colours.
import assert from "node:assert/strict";
import { axisFloor, distributionSpec, rhoGammaSpec, robustCountSpec } from "../../../lib/report/features.ts";
import { COLORS } from "../../../lib/report/colors.ts";
import type { ModelFeatures } from "../../../lib/run/features.ts";

Deno.test("axisFloor() puts the gamma axis at the 1st percentile (a multiple of 0.5, at most -1) and counts what lies below", () => {
  const values = [...Array.from({ length: 198 }, (_, i) => -3 + i / 66), -40, -200];
  assert.deepEqual(axisFloor(values), { floor: -3.5, below: 2 });
  assert.deepEqual(axisFloor([0.2, 0.5]), { floor: -1, below: 0 });
  assert.deepEqual(axisFloor([]), { floor: -1, below: 0 });
});

/** A model with two features at eps [1]: rho 0.5 / 0.05, gamma 0.3 / -0.2. */
const model = (): ModelFeatures => ({
  testAcc: 0.9,
  units: 2,
  liveUnits: [0, 1],
  ascent: "unit",
  rho: [[0.5, 0.05]],
  rhoSe: [[0.01, 0.01]],
  gamma: [[[0.3, -0.2]]],
  gammaSe: [[[0.01, 0.01]]],
  counts: [
    { eps: 0, features: 2, useful: 1, robustlyUseful: 1, usefulNonRobust: 0 },
    { eps: 1, features: 2, useful: 1, robustlyUseful: 1, usefulNonRobust: 0 },
  ],
});

Deno.test("Section 2's charts colour the models and the kinds of features by their report-wide meaning", () => {
  const r = {
    eps: [1],
    thresholds: { rho0: 0.2, gamma0: 0.1, headlineEps: 1 },
    models: { standard: model(), robust: model() },
  };
  const scale = (spec: Record<string, unknown>) => {
    const enc =
      ((spec.spec ?? spec) as { encoding: { color: { scale: { domain: string[]; range: string[] } } } })
        .encoding.color.scale;
    return Object.fromEntries(enc.domain.map((d, i) => [d, enc.range[i]]));
  };
  const models = { "standard model": COLORS.standard, "robust model": COLORS.robust };
  assert.deepEqual(scale(robustCountSpec(r)), models);
  assert.deepEqual(scale(distributionSpec(r)), models);
  assert.deepEqual(scale(rhoGammaSpec(r, "fashion-mnist")), {
    "robustly useful": COLORS.robustlyUseful,
    "useful, 0 <= gamma < gamma0": COLORS.weaklyRobust,
    "useful, non-robust": COLORS.usefulNonRobust,
    "not useful": COLORS.notUseful,
  });
});
