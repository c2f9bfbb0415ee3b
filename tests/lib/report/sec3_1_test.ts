// Tests for lib/report/sec3_1.ts: the models of a run and their labels, the sets of the positive control, Figure 2a,
// the robust accuracy curve and Section 3.1's summary from recorded numbers.
import assert from "node:assert/strict";
import {
  energySets,
  fig2aGrid,
  modelNames,
  MODELS,
  type Results,
  robustCurveSpec,
  summarize,
} from "../../../lib/report/sec3_1.ts";
import { cellText } from "../../../lib/run/summary.ts";
import type { Split } from "../../../lib/data/registry.ts";

const acc = (stdAcc: number, robustAcc: number, sd = 0) => ({
  stdAcc,
  robustAcc,
  stdAccSd: sd,
  robustAccSd: sd,
});

/** A run of three seeds with one more fresh architecture (mlp); `plant` adds the positive control. */
function results(plant = false): Results {
  const names = modelNames({ freshArchs: ["mlp"] });
  const models = Object.fromEntries(
    names.map((n) => [n, acc(0.9, n === "d_r" ? 0.45 : 0.1, n === "d_r" ? 0.02 : 0)]),
  );
  models.robust = acc(0.8, 0.6);
  const curve = names.flatMap((model) => [
    { model, eps: 0, robustAcc: models[model].stdAcc, ...(model.startsWith("d_") ? { sd: 0.01, n: 3 } : {}) },
    { model, eps: 1, robustAcc: models[model].robustAcc, pgdRobustAcc: models[model].robustAcc + 0.05 },
  ]);
  return {
    models,
    curve,
    seedCurves: [],
    claim2: { eps: 1, diffs: [0.3, 0.35, 0.4], mean: 0.35, lo: 0.23, hi: 0.47, n: 3 },
    trainEps: 2.5,
    evalEps: 1,
    evalEpsRule: "smallest eps of the curve where the standard model is at most 5.0%",
    representationDistance: { d_r: 0.014, d_nr: 0.049 },
    setSize: 100,
    start: "image",
    ...(plant
      ? {
        plant: {
          norm: 1.5,
          reliance: Object.fromEntries(names.map((n) => [n, { followsPattern: 0.6, followsContent: 0.3 }])),
          energy: { "targets x": 1.5, D_R: 0.2, D_NR: 1.1, control: 1.5 },
        },
      }
      : {}),
  };
}
const config = {
  dataset: "fashion-mnist",
  evalAttack: { steps: 20, curve: [1], headlineMax: 0.05, strongSteps: 50, restarts: 1 },
};

Deno.test("modelNames(): the five models, then D_R / D_NR / control for each more architecture", () => {
  assert.deepEqual(modelNames({ freshArchs: [] }), [...MODELS]);
  assert.deepEqual(modelNames({ freshArchs: ["mlp", "vgg_small"] }).slice(5), [
    "d_r@mlp",
    "d_nr@mlp",
    "control@mlp",
    "d_r@vgg_small",
    "d_nr@vgg_small",
    "control@vgg_small",
  ]);
});

Deno.test("summarize() (Section 3.1): a row per model with mean ± sd over seeds, the curve with PGD alone in brackets, claims 2 and 3", () => {
  const s = summarize(results(), config);
  assert.deepEqual(s.claims?.map((c) => c.name.split(":")[0]), ["claim 2", "claim 3"]);
  assert.equal(s.claims![0].verdict, "reproduces"); // +35 points over the control, 0.45 >= 0.6 x 0.6, std 90%
  assert.match(
    s.claims![0].ours,
    /^D_R - control \+35\.0 points \(95% \+23\.0 points to \+47\.0 points, 3 seeds\)/,
  );
  const [main, curve] = s.tables.map((t) => t.rows.map((r) => r.map(cellText)));
  assert.equal(main.length, 8);
  assert.deepEqual(main[2].slice(0, 3), ["std training on D_R", "90.0% ± 2.0", "45.0% ± 2.0"]);
  assert.equal(main[5][0], "std training on D_R, mlp");
  assert.equal(main[0][1], "90.0%"); // a source model: one run, no sd
  assert.equal(curve[2][1], "45.0% (50.0%)");
  assert.match(s.tables[1].caption ?? "", /then Auto-PGD with the cross-entropy and the DLR loss \(50 steps/);
  assert.equal(s.tables.length, 2, "no positive-control tables without planted data");
  assert.deepEqual(s.figures, ["fig2a.png", "robust_curve.png"]);
  assert.match(s.notes[2], /^claim 2 verdict: reproduces/);
});

Deno.test("summarize() (Section 3.1) on planted data adds the pattern reliance and set energy tables", () => {
  const s = summarize(results(true), { ...config, evalAttack: { ...config.evalAttack, strongSteps: 0 } });
  assert.equal(s.tables.length, 4);
  assert.match(s.tables[2].caption ?? "", /L2 norm 1\.50/);
  assert.deepEqual(s.tables[2].rows[0].map(cellText), ["std training on D", "60.0%", "30.0%"]);
  assert.deepEqual(s.tables[3].rows.map((r) => r.map(cellText)), [
    ["targets x", "1.500"],
    ["D_R", "0.200"],
    ["D_NR", "1.100"],
    ["control", "1.500"],
  ]);
  assert.equal(s.tables[1].rows[2].map(cellText)[1], "45.0%"); // PGD alone: no brackets
});

/** n grey images of 2x2x1 with value v. */
const grey = (n: number, v: number): Split => ({
  x: new Float32Array(n * 4).fill(v),
  y: Uint8Array.from({ length: n }, (_, i) => i % 2),
  n,
  shape: [2, 2, 1],
});

Deno.test("energySets() names the targets, D_R, D_NR and the control in the tables' order", () => {
  const [t, r, nr, c] = [grey(2, 0.1), grey(2, 0.2), grey(2, 0.3), grey(2, 0.4)];
  const sets = energySets({
    targets: t,
    d_r: { ref: { split: r } },
    d_nr: { ref: { split: nr } },
    control: { split: c },
  });
  assert.deepEqual(Object.keys(sets), ["targets x", "D_R", "D_NR", "control"]);
  assert.deepEqual(Object.values(sets), [t, r, nr, c]);
});

Deno.test("fig2aGrid() draws a PNG of at most 8 rows (target, start, D_R, D_NR)", async () => {
  const sets = {
    targets: grey(3, 0.5),
    x0: new Float32Array(12),
    d_r: { ref: { split: grey(3, 0.2) } },
    d_nr: { ref: { split: grey(3, 0.8) } },
  };
  const png = fig2aGrid(sets, ["a", "b"]);
  assert.deepEqual([...png.subarray(1, 4)], [..."PNG"].map((c) => c.charCodeAt(0)));
  const { PNG } = await import("pngjs");
  const img = PNG.sync.read(png as unknown as Parameters<typeof PNG.sync.read>[0]);
  assert.ok(img.width > img.height, `${img.width} x ${img.height}: four columns, three short rows`);
});

Deno.test("robustCurveSpec(): a line per model in chart labels, fresh.arch's models solid and another arch's dashed", () => {
  const spec = robustCurveSpec(results(), "cnn") as {
    data: { values: { model: string; arch: string; eps: number; robustAcc: number }[] };
    encoding: { strokeDash: { sort: string[] }; color: { scale: { domain: string[] } } };
  };
  const v = spec.data.values;
  assert.deepEqual(v.slice(0, 2).map((p) => [p.model, p.arch, p.eps, p.robustAcc]), [
    ["D, std training", "cnn", 0, 90],
    ["D, std training", "cnn", 1, 10],
  ]);
  assert.deepEqual(v.find((p) => p.model === "D_R, mlp")?.arch, "mlp");
  assert.deepEqual(spec.encoding.strokeDash.sort, ["cnn"]);
  assert.equal(spec.encoding.color.scale.domain.length, 8);
});
