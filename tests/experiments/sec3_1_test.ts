// Smoke run of Section 3.1: four models' accuracies, representation distances, Fig 2 and the d_r/d_nr exports.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, MODELS, PRESETS } from "../../experiments/sec3_1.ts";
import { modelNames } from "../../lib/report/sec3_1.ts";
import { freshSeed } from "../../lib/run/robustness.ts";
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
  // every fresh model once per seed, and claim 2's difference per seed with its interval
  const seeds = results.seedCurves as { model: string; eps: number; robustAcc: number; seed: number }[];
  assert.equal(config.freshSeeds, 2);
  assert.equal(seeds.length, 2 * 3 * (config.evalAttack.curve.length + 1));
  assert.deepEqual([...new Set(seeds.map((p) => p.seed))], [
    freshSeed(config.seed, 0),
    freshSeed(config.seed, 1),
  ]);
  const c2 = results.claim2 as {
    eps: number;
    diffs: number[];
    mean: number;
    lo: number;
    hi: number;
    n: number;
  };
  assert.equal(c2.n, 2);
  assert.equal(c2.eps, results.evalEps);
  const at = (m: string, s: number) => seeds.find((p) => p.model === m && p.eps === c2.eps && p.seed === s)!;
  assert.equal(
    c2.diffs[1],
    at("d_r", freshSeed(config.seed, 1)).robustAcc - at("control", freshSeed(config.seed, 1)).robustAcc,
  );
  assert.ok(c2.lo <= c2.mean && c2.mean <= c2.hi);
  const dist = results.representationDistance as { d_r: number; d_nr: number };
  assert.ok(dist.d_r >= 0 && dist.d_nr >= 0);
  for (const f of ["fig2a.png", "fig2b.png", "fig2b.svg", "robust_curve.png"]) {
    assert.ok((await Deno.stat(join(config.out, f))).size > 1000, f);
  }
  for (const v of ["d_r", "d_nr"]) await assertExport(config.out, v, config.match.size, [28, 28, 1], 10);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_1 with --freshArchs=mlp and --match.start=noise adds one row per set for mlp", async () => {
  const base = await smokeConfig(DEFAULTS, PRESETS);
  const config = {
    ...base,
    freshArchs: ["mlp"],
    match: { ...base.match, start: "noise" as const, size: 50 },
  };
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

Deno.test("sec3_1 on planted data (smoke): swapping the pattern costs the standard model, D_NR carries it, D_R not", async () => {
  // the positive control at smoke size: a class pattern of norm 1.5 (below the robust model's training eps 2.5);
  // an mlp standard model learns a linear pattern within a few steps. If the pipeline did not find a planted
  // non-robust feature (or D_NR did not carry it more than D_R), this fails.
  const base = await smokeConfig(DEFAULTS, PRESETS);
  const config = {
    ...base,
    trainSize: 2000,
    freshSeeds: 1,
    plant: { norm: 1.5, margin: 0.15, content: "keep" as const },
    standard: { ...base.standard, epochs: 4, arch: "mlp" },
    robust: { ...base.robust, epochs: 3 },
  };
  const r = await main(config, { preset: "smoke", quiet: true });
  const p = r.plant!, std = r.models.standard.stdAcc;
  assert.ok(std > 0.8, `the standard model on planted data: ${std}`);
  assert.ok(
    p.reliance.standard.followsContent < std - 0.15,
    `standard: ${std} on planted test images, ${p.reliance.standard.followsContent} with the pattern swapped`,
  );
  assert.ok(p.energy.D_NR > p.energy.D_R + 0.15, `energy D_NR ${p.energy.D_NR}, D_R ${p.energy.D_R}`);
  assert.ok(Math.abs(p.energy.control - 1.5) < 0.3, `control ${p.energy.control}`);
  await Deno.remove(config.out, { recursive: true });
});
