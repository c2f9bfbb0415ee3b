// Tests for lib/report/sec2.ts: Section 2's summary from recorded numbers (its claim at the headline eps, the two
// tables, the chart, the notes on dead units and PGD time).
import assert from "node:assert/strict";
import { MODELS, type Results, summarize } from "../../../lib/report/sec2.ts";
import type { ModelFeatures } from "../../../lib/run/features.ts";
import { cellText } from "../../../lib/run/summary.ts";

/** A model with two live units of `units` at eps [1]: rho 0.5 / 0.05, gamma at eps 1 `gamma` / -0.2. */
const model = (units: number, gamma: number, testAcc: number): ModelFeatures => ({
  testAcc,
  units,
  liveUnits: [0, 1],
  ascent: "unit",
  rho: [[0.5, 0.05]],
  rhoSe: [[0.01, 0.01]],
  gamma: [[[gamma, -0.2]]],
  gammaSe: [[[0.01, 0.01]]],
  counts: [
    { eps: 0, features: 2, useful: 1, robustlyUseful: 1, usefulNonRobust: 0 },
    {
      eps: 1,
      features: 2,
      useful: 1,
      robustlyUseful: gamma >= 0.1 ? 1 : 0,
      usefulNonRobust: gamma < 0 ? 1 : 0,
    },
  ],
});

const results = (): Results => ({
  classes: [0, 1],
  eps: [1],
  thresholds: { rho0: 0.2, gamma0: 0.1, headlineEps: 1 },
  evalSize: 40,
  models: { standard: model(4, -0.1, 0.9), robust: model(4, 0.3, 0.8) },
  pgdSeconds: { standard: 1.5, robust: 2.5 },
});

Deno.test("MODELS: the standard model, then the robust one (table order)", () => {
  assert.deepEqual([...MODELS], ["standard", "robust"]);
});

Deno.test("summarize() (Section 2): one claim at the headline eps, counts and distributions, the dead units and PGD time", () => {
  const s = summarize(results(), { dataset: "fashion-mnist", attack: { steps: 5 } });
  assert.equal(s.claims?.length, 1);
  assert.match(s.claims![0].name, /^Section 2: robust training keeps robustly useful features/);
  assert.match(s.claims![0].ours, /eps 1/);
  assert.equal(s.tables.length, 2);
  assert.ok(s.tables[0].rows.flat().map(cellText).some((c) => c === "standard model"));
  assert.deepEqual(s.figures, ["rho_gamma.png", "distribution.png"]);
  assert.equal(s.charts.length, 1);
  assert.match(s.notes[0], /test accuracy on these 40 images: standard 90\.0%, robust 80\.0%/);
  assert.match(s.notes[1], /5 steps of 2\.5 eps \/ steps/);
  assert.match(s.notes[2], /\(standard: 2, robust: 2 of 4\)/);
  assert.equal(s.notes[4], "PGD time: standard 1.5 s, robust 2.5 s");
});
