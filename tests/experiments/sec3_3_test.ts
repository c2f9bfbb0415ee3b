// Smoke run of Section 3.3: per-architecture results, correlations and Figure 3.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, pearson, PRESETS, spearman } from "../../experiments/sec3_3.ts";
import { assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_3 main() smoke preset writes architectures.<name> fields, correlations and fig3", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { results } = await readOutputs(config.out);
  const archs = results.architectures as Record<string, unknown>;
  assert.deepEqual(Object.keys(archs), config.archs);
  for (const a of config.archs) {
    assertFractions(archs, [`${a}.testAccOnDdet`, `${a}.transferRate`, `${a}.stdAcc`]);
  }
  const c = results.correlation as { spearman: number; pearson: number };
  assert.ok(Math.abs(c.spearman) <= 1 && Math.abs(c.pearson) <= 1);
  for (const f of ["fig3.png", "fig3.svg"]) assert.ok((await Deno.stat(join(config.out, f))).size > 1000);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("spearman() and pearson() match hand-computed values, with ties averaged", () => {
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [10, 20, 30, 40]) - 1) < 1e-12);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3], [1, 2, 4]) - 0.9819805060619657) < 1e-12);
  // ranks of [1,1,2] are [1.5,1.5,3]
  assert.ok(Math.abs(spearman([1, 1, 2], [1, 2, 3]) - pearson([1.5, 1.5, 3], [1, 2, 3])) < 1e-12);
});
