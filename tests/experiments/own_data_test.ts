// An experiment on the user's own data: sec3_2's smoke preset on an npy:DIR dataset (a Fashion-MNIST subset
// written as .npy), and on one of its own exports as the training set (--trainFrom).
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULTS, main, PRESETS } from "../../experiments/sec3_2.ts";
import { writeNpy } from "../../lib/data/npy.ts";
import { loadDataset } from "../../lib/data/registry.ts";
import { firstN } from "../../lib/data/batch.ts";
import { exportDataset } from "../../lib/run/export.ts";
import { readOutputs, smokeConfig } from "./smoke_helpers.ts";

Deno.test("sec3_2 smoke runs on --dataset=npy:DIR and trains on its own export with --trainFrom", async () => {
  const dir = await Deno.makeTempDir({ prefix: "npyds_" });
  const fm = await loadDataset("fashion-mnist");
  for (const [name, split] of [["train", firstN(fm.train, 1000)], ["test", firstN(fm.test, 300)]] as const) {
    await writeNpy(join(dir, `${name}_x.npy`), {
      dtype: "float32",
      shape: [split.n, 28, 28, 1],
      data: split.x,
    });
    await writeNpy(join(dir, `${name}_y.npy`), { dtype: "uint8", shape: [split.n], data: split.y });
  }
  const config = { ...(await smokeConfig(DEFAULTS, PRESETS)), dataset: `npy:${dir}`, variants: ["d_det"] };
  const r = await main(config, { preset: "smoke", quiet: true });
  assert.ok(r.sets.d_det.testAcc >= 0 && r.sets.d.testAcc > 0.3, `D row ${r.sets.d.testAcc}`);
  const { results } = await readOutputs(config.out);
  assert.equal(results.dataset, `npy:${dir}`);
  // an export as the training set: D_det's labels are wrong for the original test set, so a source model
  // trained on it is near chance and the run stops before building anything from it
  const again = { ...(await smokeConfig(DEFAULTS, PRESETS)), dataset: `npy:${dir}`, variants: ["d_rand"] };
  await assert.rejects(
    () => main({ ...again, trainFrom: join(config.out, "d_det") }, { preset: "smoke", quiet: true }),
    /the source model reached only .* test accuracy/,
  );
  // ... while an export with correct labels (the first 300 training images) trains a useful source model
  await exportDataset(dir, "mine", firstN(fm.train, 300), { classNames: fm.info.classNames });
  const r2 = await main({ ...again, trainFrom: join(dir, "mine") }, { preset: "smoke", quiet: true });
  assert.equal(r2.nTrain, 300);
  for (const d of [dir, config.out, again.out]) await Deno.remove(d, { recursive: true });
});
