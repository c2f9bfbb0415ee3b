// Smoke run of Section 3.2: results.json has its fields and summary, exports load back with the right dtype/shape.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS, SPEC } from "../../experiments/sec3_2.ts";
import { parseCli } from "../../lib/run/config.ts";
import { type Cell, cellText, pctCell } from "../../lib/run/summary.ts";
import { summarize } from "../../lib/report/sec3_2.ts";
import { assertExport, assertFractions, readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_2 main() smoke preset writes Table 1 (sets.*), its summary and the d_rand/d_det exports", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  const r = await main(config, { preset: "smoke", quiet: true });
  const { results, config: saved } = await readOutputs(config.out);
  assertFractions(results, [
    "sets.d.testAcc",
    "sets.d_rand.testAcc",
    "sets.d_det.testAcc",
    "sets.d_rand.attackSuccess",
    "sets.d_det.attackSuccess",
    "sets.d_det.nextClass",
  ]);
  assert.equal(r.sets.d.nextClass, undefined, "the next-class rate is a relabelled set's diagnostic");
  assert.equal(r.sets.d_det.energy, undefined, "pattern energy only on planted data");
  assert.equal(r.sourceReliance, undefined, "the source's pattern reliance only on planted data");
  assert.equal(r.sets.d_det.reliance, undefined, "a fresh model's pattern reliance only on planted data");
  for (const k of ["d_rand", "d_det"]) {
    const m = r.sets[k].meanDeltaL2!;
    assert.ok(m > 0 && m <= config.attack.eps + 1e-4, `sets.${k}.meanDeltaL2 = ${m} within (0, eps]`);
  }
  // smoke's source and fresh recipes match (cache off), so Table 1's D row is the source model itself
  assert.deepEqual({ ...config.fresh }, { ...config.source });
  assert.equal(r.sets.d.testAcc, r.sourceTestAcc);
  assert.equal(results.eps, config.attack.eps);
  assert.equal(results.experiment, "sec3_2");
  assert.equal(saved.meta.seed, config.seed);
  assert.deepEqual(saved.config, config);
  const summary = results.summary as { tables: { rows: Cell[][] }[]; figures: string[] };
  const rows = summary.tables[0].rows;
  assert.deepEqual(rows.map((row) => row[0]), ["D", "D_rand", "D_det"]);
  assert.equal(rows[1][4], "63.3%", "the paper's D_rand beside ours");
  assert.equal(cellText(rows[2][1]), `${(100 * r.sets.d_det.testAcc).toFixed(1)}%`);
  assert.deepEqual(rows[2][1], pctCell(r.sets.d_det.testAcc), "ours as a number, so seeds can be merged");
  assert.deepEqual(summary.figures, ["fig_relabelled.png"]);
  for (const v of ["d_rand", "d_det"]) await assertExport(config.out, v, config.trainSize, [28, 28, 1], 10);
  assert.ok((await Deno.stat(join(config.out, "fig_relabelled.png"))).size > 1000);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_2 on planted data (--plant.norm): the source model's pattern reliance and each set's energies", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  const r = await main({ ...config, plant: { ...config.plant, norm: 0.5 } }, {
    preset: "smoke",
    quiet: true,
  });
  const { followsPattern, followsContent } = r.sourceReliance!;
  for (const f of [followsPattern, followsContent]) assert.ok(f >= 0 && f <= 1, `${f} is a fraction`);
  assert.ok(followsPattern + followsContent <= 1 + 1e-9);
  for (const k of ["d_rand", "d_det"]) {
    const e = r.sets[k].energy!;
    assert.ok(
      Number.isFinite(e.target) && Number.isFinite(e.original),
      `sets.${k}.energy: ${JSON.stringify(e)}`,
    );
    // whom the model trained on the set follows: the direct test that D_det teaches the pattern
    assertFractions(r.sets[k] as unknown as Record<string, unknown>, [
      "reliance.followsPattern",
      "reliance.followsContent",
    ]);
    assert.ok(r.sets[k].reliance!.followsPattern + r.sets[k].reliance!.followsContent <= 1 + 1e-9);
    assert.equal(
      r.sets[k].reliance!.shift,
      5,
      "half the classes away: D_det's rule y + 1 is not the pattern's",
    );
  }
  const notes = (summarize(r, config).notes ?? []).join("\n");
  assert.match(
    notes,
    /D_det's model predicts the next class .* class y \+ 5's pattern it predicts that class on \d+\.\d%/,
  );
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("sec3_2 config rejects eps <= 0, an unknown architecture, preset or rule before any work", () => {
  assert.throws(() => parseCli(["--attack.eps=0"], SPEC), /--attack\.eps must be > 0, got 0/);
  assert.throws(
    () => parseCli(["--source.arch=resnet9000"], SPEC),
    /unknown value "resnet9000"; accepted: mlp, lenet/,
  );
  assert.throws(
    () => parseCli(["--preset=fast"], SPEC),
    /unknown preset "fast"; accepted: smoke, quick, .*paper/,
  );
  assert.throws(() => parseCli(["--variants=d_rand,d_shift"], SPEC), /unknown relabelling rule "d_shift"/);
  assert.throws(() => parseCli(["--seed=4294967296"], SPEC), /--seed must be <= 4294967295/);
});

Deno.test("sec3_2 --variants rejects a repeated rule (it would build and train the set twice)", () => {
  assert.throws(
    () => parseCli(["--variants=d_det,d_det"], SPEC),
    /--variants lists "d_det" twice \(d_det,d_det\); give each once/,
  );
  assert.deepEqual(parseCli(["--variants=d_det,d_rand"], SPEC)!.config.variants, ["d_det", "d_rand"]);
});

Deno.test("sec3_2 stops before building anything from a source model near chance (diverged training)", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  // SGD at lr 5 without momentum does not explode on this data but learns nothing useful in one short epoch
  const bad = { ...config, source: { ...config.source, optimizer: "sgd", lr: 1e4, momentum: 0, epochs: 1 } };
  await assert.rejects(
    () => main(bad, { preset: "smoke", quiet: true }),
    /(training of source (exploded|diverged).*--source\.lr)|(source model reached only .*--source\.lr)/,
  );
  // nothing of the failed run is left where a later run would trust it
  assert.equal([...Deno.readDirSync(config.out)].length, 0);
  await Deno.remove(config.out, { recursive: true });
});
