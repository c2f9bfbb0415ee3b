// Smoke run of Section 3.1: four models' accuracies, representation distances, Fig 2 and the d_r/d_nr exports.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, headlineEps, main, modelNames, MODELS, PRESETS } from "../../experiments/sec3_1.ts";
import { assertExport, assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_1 main() smoke preset writes every model's accuracies (with the control), figures and exports", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { results } = await readOutputs(config.out);
  assertFractions(
    results,
    MODELS.flatMap((m) => [`models.${m}.stdAcc`, `models.${m}.robustAcc`]),
  );
  assert.deepEqual([...MODELS], ["standard", "robust", "d_r", "d_nr", "control"]);
  assert.equal(results.trainEps, config.robust.eps);
  assert.ok(config.evalAttack.curve.includes(results.evalEps as number));
  assert.equal(results.setSize, config.match.size);
  const curve = results.curve as { model: string; eps: number }[];
  assert.equal(curve.length, MODELS.length * (config.evalAttack.curve.length + 1));
  const dist = results.representationDistance as { d_r: number; d_nr: number };
  assert.ok(dist.d_r >= 0 && dist.d_nr >= 0);
  for (const f of ["fig2a.png", "fig2b.png", "fig2b.svg", "robust_curve.png"]) {
    assert.ok((await Deno.stat(join(config.out, f))).size > 1000, f);
  }
  for (const v of ["d_r", "d_nr"]) await assertExport(config.out, v, config.match.size, [28, 28, 1], 10);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("headlineEps() picks the smallest eps where the standard model is at most headlineMax", () => {
  const curve = [0.5, 1, 2].map((eps, i) => ({
    model: "standard" as const,
    eps,
    robustAcc: [0.4, 0.04, 0.0][i],
  }));
  assert.equal(headlineEps(curve, { curve: [2, 0.5, 1], headlineMax: 0.05 }).eps, 1);
  assert.equal(headlineEps(curve, { curve: [0.5, 1, 2], headlineMax: 0.5 }).eps, 0.5);
  const none = headlineEps(curve, { curve: [0.5, 1], headlineMax: 0.01 });
  assert.equal(none.eps, 1);
  assert.match(none.rule, /none is: the largest eps/);
});

Deno.test("sec3_1 with --freshArchs=mlp and --match.start=noise adds one row per set for mlp", async () => {
  const base = await smokeConfig(DEFAULTS, PRESETS);
  const config = { ...base, freshArchs: ["mlp"], match: { ...base.match, start: "noise", size: 50 } };
  const r = await main(config, { preset: "smoke", quiet: true });
  assert.deepEqual(Object.keys(r.models), modelNames(config));
  assert.deepEqual(modelNames(config).slice(5), ["d_r@mlp", "d_nr@mlp", "control@mlp"]);
  assertFractions(r.models as unknown as Record<string, unknown>, [
    "d_r@mlp.stdAcc",
    "control@mlp.robustAcc",
  ]);
  assert.equal(r.start, "noise");
  await assert.rejects(
    () => main({ ...config, freshArchs: ["cnn"] }, { quiet: true }),
    /"cnn" twice or beside --fresh\.arch=cnn/,
  );
  await Deno.remove(config.out, { recursive: true });
});
