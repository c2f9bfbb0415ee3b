// Smoke run of Section 2: rho and gamma of both models' features, the counts, figures; the source recipes equal
// sec3_1's (one cache entry); --classes and --thresholds.headlineEps errors.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, MODELS, PRESETS, type Results } from "../../experiments/sec2.ts";
import { pairs } from "../../lib/run/features.ts";
import { SOURCE_PAIR } from "../../lib/run/recipes.ts";
import { defaultsOf } from "../../lib/run/schema.ts";
import { DEFAULTS as SEC3_1, PRESETS as SEC3_1_PRESETS } from "../../experiments/sec3_1.ts";
import { readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec2 main() smoke preset writes rho, gamma and counts of both models, with gamma <= rho, and figures", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { results } = await readOutputs(config.out);
  const r = results as unknown as Results;
  assert.deepEqual(r.classes, [0, 1]);
  assert.deepEqual(r.eps, [1, 2]);
  assert.equal(r.evalSize, config.testSize);
  for (const n of MODELS) {
    const m = r.models[n];
    assert.ok(m.testAcc > 0.15 && m.testAcc <= 1, `${n} accuracy ${m.testAcc}`);
    assert.ok(m.liveUnits.length > 0 && m.liveUnits.length <= m.units);
    assert.equal(m.rho.length, 2);
    assert.equal(m.rho[0].length, m.liveUnits.length);
    assert.equal(m.gamma.length, 2);
    // the clean point is a candidate of the minimum: gamma <= rho, and it falls as eps grows
    for (let e = 0; e < 2; e++) {
      for (const p of pairs(m, e)) {
        assert.ok(p.gamma <= p.rho + 1e-3, `${n}: gamma ${p.gamma} > rho ${p.rho}`);
      }
    }
    const [a, b] = [pairs(m, 0), pairs(m, 1)];
    assert.ok(a.every((p, j) => b[j].gamma <= p.gamma + 1e-3), `${n}: gamma rose from eps 1 to eps 2`);
    assert.deepEqual(m.counts.map((c) => c.eps), [0, 1, 2]);
    for (const c of m.counts) {
      assert.equal(c.features, 2 * m.liveUnits.length);
      assert.ok(c.usefulNonRobust <= c.useful && c.robustlyUseful <= c.features);
    }
    assert.equal(m.counts[0].usefulNonRobust, 0, "at eps 0 gamma = rho, so no useful feature has gamma < 0");
  }
  for (const f of ["rho_gamma.png", "rho_gamma.svg", "robust_count.png", "distribution.png"]) {
    assert.ok((await Deno.stat(join(config.out, f))).size > 1000, f);
  }
  const summary = results.summary as {
    tables: { rows: string[][] }[];
    order: number;
    figures: string[];
    charts: { title: { text: string } }[];
    claims: { name: string; verdict: string; criterion: string }[];
  };
  assert.equal(summary.tables[0].rows.length, MODELS.length * 2);
  // the robustly useful count is drawn once: as the summary's chart, not again as a figure
  assert.deepEqual(summary.figures, ["rho_gamma.png", "distribution.png"]);
  assert.deepEqual(summary.charts.map((c) => c.title.text), [
    "Robustly useful features (gamma >= 0.1) over eps",
  ]);
  assert.equal(summary.claims.length, 1);
  assert.match(summary.claims[0].name, /^Section 2: robust training keeps robustly useful features/);
  assert.ok(["reproduces", "partly", "does not", "not run"].includes(summary.claims[0].verdict));
  assert.equal(summary.order, 20);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec2 and sec3_1 compose one source pair (SOURCE_PAIR), training set and seed (so the cached models are shared)", () => {
  assert.deepEqual({ standard: DEFAULTS.standard, robust: DEFAULTS.robust }, defaultsOf(SOURCE_PAIR.keys));
  assert.deepEqual(DEFAULTS.standard, SEC3_1.standard);
  assert.deepEqual(DEFAULTS.robust, SEC3_1.robust);
  assert.equal(DEFAULTS.trainSize, SEC3_1.trainSize);
  assert.equal(DEFAULTS.seed, SEC3_1.seed);
  assert.deepEqual(PRESETS.paper.standard, SEC3_1_PRESETS.paper.standard);
  assert.deepEqual(PRESETS.paper.robust, SEC3_1_PRESETS.paper.robust);
  assert.equal(PRESETS.paper.trainSize, SEC3_1_PRESETS.paper.trainSize);
});

Deno.test("sec2 main() rejects a headline eps outside --attack.eps and a malformed --classes before any work", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await assert.rejects(
    () => main({ ...config, thresholds: { ...config.thresholds, headlineEps: 0.7 } }, { quiet: true }),
    /--thresholds\.headlineEps=0\.7 is not one of --attack\.eps=1,2/,
  );
  await assert.rejects(() => main({ ...config, classes: "a,b" }, { quiet: true }), /--classes/);
  await Deno.remove(config.out, { recursive: true }).catch(() => {});
});
