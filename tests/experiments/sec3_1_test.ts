// Smoke run of Section 3.1: four models' accuracies, representation distances, Fig 2 and the d_r/d_nr exports.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS, startingPoints } from "../../experiments/sec3_1.ts";
import { assertExport, assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_1 main() smoke preset writes models.* accuracies, distances, figures and exports", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { results } = await readOutputs(config.out);
  assertFractions(
    results,
    ["standard", "robust", "d_r", "d_nr"].flatMap((m) => [`models.${m}.stdAcc`, `models.${m}.robustAcc`]),
  );
  assert.equal(results.trainEps, config.robust.eps);
  assert.equal(results.evalEps, config.evalAttack.eps);
  const dist = results.representationDistance as { d_r: number; d_nr: number };
  assert.ok(dist.d_r >= 0 && dist.d_nr >= 0);
  for (const f of ["fig2a.png", "fig2b.png", "fig2b.svg", "robust_curve.png"]) {
    assert.ok((await Deno.stat(join(config.out, f))).size > 1000, f);
  }
  for (const v of ["d_r", "d_nr"]) await assertExport(config.out, v, config.match.size, [28, 28, 1], 10);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("startingPoints() takes another image for each example (never itself) or uniform noise", () => {
  const n = 5, x = Float32Array.from({ length: n * 4 }, (_, i) => Math.floor(i / 4));
  const split = { x, y: new Uint8Array(n), n, shape: [2, 2, 1] as [number, number, number] };
  const x0 = startingPoints(split, split, { start: "image", seed: 1 });
  for (let i = 0; i < n; i++) assert.notEqual(x0[i * 4], i, `example ${i} starts from itself`);
  const noise = startingPoints(split, split, { start: "noise", seed: 1 });
  assert.ok(noise.every((v) => v >= 0 && v < 1) && new Set(noise).size > 10);
});
