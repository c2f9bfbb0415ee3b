// Smoke run of Section 3.1: four models' accuracies, representation distances, Fig 2 and the d_r/d_nr exports.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  claim2Verdict,
  DEFAULTS,
  freshSeed,
  headlineEps,
  main,
  modelNames,
  MODELS,
  PRESETS,
} from "../../experiments/sec3_1.ts";
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

Deno.test("claim2Verdict() applies the criterion fixed in code: margin, interval, share of adversarial, accuracy", () => {
  const models = (drRobust: number, drStd = 0.85) =>
    ({
      d_r: { stdAcc: drStd, robustAcc: drRobust, stdAccSd: 0, robustAccSd: 0 },
      robust: { stdAcc: 0.77, robustAcc: 0.55, stdAccSd: 0, robustAccSd: 0 },
    }) as Parameters<typeof claim2Verdict>[0]["models"];
  const c = (mean: number, lo: number, n = 3) => ({ eps: 1, diffs: [], mean, lo, hi: 2 * mean - lo, n });
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.4) }).verdict, "reproduces");
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.3) }).verdict, "partly"); // < 0.6 x 0.55
  assert.equal(claim2Verdict({ claim2: c(0.25, 0.1), models: models(0.4, 0.75) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.15, 0.05), models: models(0.4) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.15, -0.01), models: models(0.4) }).verdict, "does not");
  assert.equal(claim2Verdict({ claim2: c(0.06, 0.06, 1), models: models(0.4) }).verdict, "partly");
  assert.equal(claim2Verdict({ claim2: c(0.01, 0.01, 1), models: models(0.4) }).verdict, "does not");
});
