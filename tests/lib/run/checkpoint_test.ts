// Tests for lib/run/checkpoint.ts and lib/run/cache.ts: round trips, cache hits, corrupted entries rebuilt.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../../../lib/backend/mod.ts";
import { loadModel, saveModel } from "../../../lib/run/checkpoint.ts";
import { cached, cacheKey } from "../../../lib/run/cache.ts";
import { createModel, type ZooModel } from "../../../lib/core/models.ts";

await initBackend("fast", { quiet: true });

Deno.test("saveModel()/loadModel() round trip gives identical logits and representation (BN model)", async () => {
  const dir = await Deno.makeTempDir();
  const m = createModel("resnet_small", { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  await saveModel(m, dir);
  const back = await loadModel(dir);
  tf.tidy(() => {
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
    assert.deepEqual(back.logits(x).dataSync(), m.logits(x).dataSync());
    assert.deepEqual(back.representation(x).dataSync(), m.representation(x).dataSync());
  });
  assert.equal(back.arch, "resnet_small");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cached() returns the stored artifact on a hit and rebuilds a corrupted entry", async () => {
  const root = await Deno.makeTempDir();
  let builds = 0;
  const opts = {
    enabled: true,
    root,
    verbose: false,
    build: () => (builds++, createModel("mlp", { inputShape: [28, 28, 1], numClasses: 10, seed: 5 })),
    save: (dir: string, m: ZooModel) => saveModel(m, dir),
    load: loadModel,
  };
  const a = await cached("model", { arch: "mlp", seed: 5 }, opts);
  const b = await cached("model", { arch: "mlp", seed: 5 }, opts);
  assert.equal(builds, 1);
  assert.ok(b.hit && !a.hit);
  assert.deepEqual(b.value.model.getWeights()[0].dataSync(), a.value.model.getWeights()[0].dataSync());
  // corrupt the weights: the checksum no longer matches, so the entry is rebuilt, never trusted
  const weights = join(root, "model", a.hash, "weights.bin");
  const bytes = await Deno.readFile(weights);
  bytes[10] ^= 0xff;
  await Deno.writeFile(weights, bytes);
  const c = await cached("model", { arch: "mlp", seed: 5 }, opts);
  assert.ok(!c.hit);
  assert.equal(builds, 2);
  await Deno.remove(root, { recursive: true });
});

Deno.test("cached() leaves no entry when the build is interrupted, and enabled:false bypasses", async () => {
  const root = await Deno.makeTempDir();
  const failing = {
    enabled: true,
    root,
    verbose: false,
    build: () => 1,
    save: () => Promise.reject(new Error("disk full")),
    load: () => Promise.resolve(2),
  };
  await assert.rejects(() => cached("thing", { k: 1 }, failing), /disk full/);
  assert.deepEqual([...Deno.readDirSync(join(root, "thing"))], []);
  let builds = 0;
  const off = { ...failing, enabled: false, build: () => ++builds };
  await cached("thing", { k: 1 }, off);
  await cached("thing", { k: 1 }, off);
  assert.equal(builds, 2);
  await Deno.remove(root, { recursive: true });
});

Deno.test("cacheKey() is stable under key order and changes with any value", async () => {
  assert.equal(
    await cacheKey("m", { a: 1, b: { c: 2, d: 3 } }),
    await cacheKey("m", { b: { d: 3, c: 2 }, a: 1 }),
  );
  assert.notEqual(await cacheKey("m", { a: 1 }), await cacheKey("m", { a: 2 }));
  assert.notEqual(await cacheKey("m", { a: 1 }), await cacheKey("n", { a: 1 }));
});
