// Smoke run of Section 3.3: per-architecture results, the correlation (or why none), Figure 3, bad lists.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS, SPEC } from "../../experiments/sec3_3.ts";
import { parseCli } from "../../lib/run/config.ts";
import { assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";
import { DEFAULTS as SEC3_2, PRESETS as SEC3_2_PRESETS } from "../../experiments/sec3_2.ts";

Deno.test("sec3_3 main() smoke preset writes architectures.<name> fields and fig3; 2 archs give no correlation", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { results } = await readOutputs(config.out);
  const archs = results.architectures as Record<string, unknown>;
  assert.deepEqual(Object.keys(archs), config.archs);
  for (const a of config.archs) {
    assertFractions(archs, [`${a}.testAccOnDdet`, `${a}.transferRate`, `${a}.stdAcc`]);
  }
  // two architectures: a rank correlation would be +-1 by construction, so it is reported as not computable
  const c = results.correlation as { spearman: number | null; note: string };
  assert.equal(c.spearman, null);
  assert.match(c.note, /not computable/);
  for (const f of ["fig3.png", "fig3.svg"]) assert.ok((await Deno.stat(join(config.out, f))).size > 1000);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_3 --archs rejects a repeated architecture and a single one", async () => {
  assert.throws(
    () => parseCli(["--archs=mlp,mlp"], SPEC),
    /--archs lists "mlp" twice \(mlp,mlp\); give each once/,
  );
  assert.throws(() => parseCli(["--archs=cnn"], SPEC), /--archs needs at least 2 values, got 1 \(cnn\)/);
  assert.deepEqual(parseCli(["--archs=mlp,cnn,lenet"], SPEC)!.config.archs, ["mlp", "cnn", "lenet"]);
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await assert.rejects(
    () => main({ ...config, archs: ["cnn", "cnn"] }, { quiet: true }),
    /--archs lists "cnn" twice/,
  );
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_3 full and quick presets share sec3_2's source model and D_det (same size, source recipe, attack)", () => {
  for (const preset of ["quick", "full"]) {
    const mine = { ...DEFAULTS, ...PRESETS[preset] }, theirs = { ...SEC3_2, ...SEC3_2_PRESETS[preset] };
    assert.equal(mine.trainSize, theirs.trainSize, preset);
    assert.deepEqual(mine.source, theirs.source, preset);
    assert.deepEqual(mine.attack, theirs.attack, preset);
    assert.equal(mine.source.epochs, 2, `${preset}'s source: 2 epochs (issue 25 rows F, H)`);
  }
  assert.equal(PRESETS.full.trainSize, 0, "full uses all training images");
});
