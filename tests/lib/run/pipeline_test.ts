// Tests for lib/run/pipeline.ts: a training set's cache identity is its content (two directories holding the same
// files with shifted labels give different keys), a derived set's identity names what it was built from, and a
// fork's rule is keyed by the code it closes over; a set built in shards is the set one process builds; the near-chance guard names the likely cause.
import assert from "node:assert/strict";
import { join } from "node:path";
import { cacheKey } from "../../../lib/run/cache.ts";
import { encodeNpy } from "../../../lib/data/npy.ts";
import { loadDataset } from "../../../lib/data/registry.ts";
import * as tf from "@tensorflow/tfjs";
import {
  buildMatched,
  buildRelabelled,
  derivedRef,
  keptIndices,
  type MatchConfig,
  relabelledKey,
  requireUseful,
  sourceRef,
  startingPoints,
} from "../../../lib/run/pipeline.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { patternSplit } from "../data/helpers.ts";
import { captureStderr } from "../util/stderr.ts";
import { createModel } from "../../../lib/core/models.ts";
import { ShardStop } from "../../../lib/run/shard.ts";
import { NO_FINISH, RELABEL_ATTACK_QUICK } from "../../../lib/run/recipes.ts";
import { spawnDeno } from "./fixtures/fs_faults.ts";

/** An npy:DIR dataset of 20 train / 10 test 4x4x1 images; `shift` adds to every training label (mod 2). */
async function npyDataset(shift: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline_" });
  const x = (n: number) => Uint8Array.from({ length: n * 16 }, (_, i) => (i * 37) % 256);
  const y = (n: number, s: number) => Uint8Array.from({ length: n }, (_, i) => (i + s) % 2);
  const w = (name: string, a: Parameters<typeof encodeNpy>[0]) =>
    Deno.writeFile(join(dir, name), encodeNpy(a));
  await w("train_x.npy", { dtype: "uint8", shape: [20, 4, 4, 1], data: x(20) });
  await w("train_y.npy", { dtype: "uint8", shape: [20], data: y(20, shift) });
  await w("test_x.npy", { dtype: "uint8", shape: [10, 4, 4, 1], data: x(10) });
  await w("test_y.npy", { dtype: "uint8", shape: [10], data: y(10, 0) });
  return dir;
}

Deno.test("sourceRef(): same file names, training labels shifted -> a different cache identity and key", async () => {
  const [a, b] = [await npyDataset(0), await npyDataset(1)];
  const [da, db] = [await loadDataset(`npy:${a}`), await loadDataset(`npy:${b}`)];
  const [ra, rb] = [sourceRef(da, da.train), sourceRef(db, db.train)];
  assert.equal(ra.id.name, rb.id.name, "the same name and size ...");
  assert.notEqual(ra.id.data, rb.id.data, "... but not the same content");
  const key = (r: typeof ra) => cacheKey("model", { arch: "mlp", data: r.id });
  assert.notEqual(await key(ra), await key(rb));
  // a copy of A in a third directory is the same data
  const c = await npyDataset(0);
  assert.equal(sourceRef(await loadDataset(`npy:${c}`), da.train).id.data, ra.id.data);
  for (const d of [a, b, c]) await Deno.remove(d, { recursive: true });
});

Deno.test("derivedRef() keeps the parent's data identity and names the artifact it came from", () => {
  const split = {
    x: new Float32Array(8),
    y: new Uint8Array(2),
    n: 2,
    shape: [2, 2, 1] as [number, number, number],
  };
  const parent = { split, id: { data: "abc", name: "train[:2]", n: 2 } };
  assert.deepEqual(derivedRef(parent, "d_det", "f00", split).id, { data: "abc", name: "d_det(f00)", n: 2 });
});

Deno.test("startingPoints() takes another image for each example (never itself) or uniform noise", () => {
  const n = 5, x = Float32Array.from({ length: n * 4 }, (_, i) => Math.floor(i / 4));
  const split = { x, y: new Uint8Array(n), n, shape: [2, 2, 1] as [number, number, number] };
  const x0 = startingPoints(split, split, { start: "image", seed: 1 });
  for (let i = 0; i < n; i++) assert.notEqual(x0[i * 4], i, `example ${i} starts from itself`);
  const noise = startingPoints(split, split, { start: "noise", seed: 1 });
  assert.ok(noise.every((v) => v >= 0 && v < 1) && new Set(noise).size > 10);
});

Deno.test("a fork's rule (y + SHIFT) % C gets a new dataset cache entry when SHIFT changes; D_det's stays shared", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fork_rule_" });
  const lib = new URL("../../../lib/core/relabel.ts", import.meta.url).href;
  const fork = join(dir, "my_fork.ts");
  const hashes = async (shift: number) => {
    await Deno.writeTextFile(
      fork,
      `import { registerRelabelRule } from "${lib}";\nconst SHIFT = ${shift};\n` +
        `registerRelabelRule("zz_shift", (y, C) => Uint8Array.from(y, (v) => (v + SHIFT) % C));\n`,
    );
    const r = await spawnDeno("relabelled_hash.ts", [fork, "zz_shift"]).done;
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { fork: string; d_det: string };
  };
  try {
    const two = await hashes(2), three = await hashes(3), twoAgain = await hashes(2);
    assert.notEqual(
      three.fork,
      two.fork,
      "the rule's text is the same; only the constant it closes over changed",
    );
    assert.equal(twoAgain.fork, two.fork, "the same code gives the same entry (a cache hit on rerun)");
    assert.equal(three.d_det, two.d_det, "a lib rule's entry does not depend on which fork is loaded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a test-set ref is named test[:n]; seed labels (Section 3.3's transfer attack) enter the key only when given", async () => {
  const split = {
    x: new Float32Array(4),
    y: new Uint8Array(4),
    n: 4,
    shape: [2, 2, 1] as [number, number, number],
  };
  const data = { fingerprint: "f" } as Parameters<typeof sourceRef>[0];
  const test = sourceRef(data, split, "test");
  assert.equal(test.id.name, "test[:4]");
  assert.notEqual(await cacheKey("d", test.id), await cacheKey("d", sourceRef(data, split).id));
  const opts = { rule: "d_det", attack: RELABEL_ATTACK_QUICK, seed: 0 };
  assert.equal("seedLabels" in relabelledKey("src", test, opts), false, "D_det's key is as before");
  const transfer = relabelledKey("src", test, {
    ...opts,
    seedLabels: { targets: "transfer_targets", attack: "transfer" },
  });
  assert.notEqual(
    await cacheKey("dataset", transfer),
    await cacheKey("dataset", relabelledKey("src", test, opts)),
  );
});

/** The message requireUseful() throws for a model at 26% on 4 classes (needs 37.5%), given these data. */
function nearChanceMessage(data: Parameters<typeof requireUseful>[1]["data"]): string {
  try {
    requireUseful(0.26, { numClasses: 4, key: "source", data });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("requireUseful() accepted a model at 26% on 4 classes");
}

Deno.test("relabelledKey(): the failure policy is not part of the build's key, the finishing attack is", async () => {
  const test = { id: { data: "t", name: "test", n: 10 } } as Parameters<typeof relabelledKey>[1];
  const opts = { rule: "d_det", attack: RELABEL_ATTACK_QUICK, seed: 0 };
  const key = (attack: typeof RELABEL_ATTACK_QUICK) =>
    cacheKey("dataset", relabelledKey("s", test, { ...opts, attack }));
  assert.equal(await key({ ...RELABEL_ATTACK_QUICK, failures: "drop" }), await key(RELABEL_ATTACK_QUICK));
  assert.notEqual(
    await key({ ...RELABEL_ATTACK_QUICK, finish: { steps: 10, stepSize: 0.5 } }),
    await key(RELABEL_ATTACK_QUICK),
  );
});

Deno.test("keptIndices(): every example under keep, the attack's hits under drop, in order", () => {
  const success = Uint8Array.from([1, 0, 1, 1, 0]);
  assert.deepEqual(keptIndices(success, "keep"), [0, 1, 2, 3, 4]);
  assert.deepEqual(keptIndices(success, "drop"), [0, 2, 3]);
});

Deno.test("requireUseful() blames the recipe only when the data carry signal; wrong labels and --trainFrom are named", () => {
  const test = patternSplit(200, 4, { seed: 2 });
  assert.doesNotThrow(() =>
    requireUseful(0.4, { numClasses: 4, key: "source", data: { train: test, test } })
  );
  const clean = nearChanceMessage({ train: patternSplit(400, 4, { seed: 1 }), test });
  assert.match(
    clean,
    /^the source model reached only 26\.0% test accuracy \(chance 25\.0%, needed at least 37\.5%\)/,
  );
  assert.match(
    clean,
    /Likely cause: the training recipe \(a nearest-class-mean classifier scores 100\.0% .*check --source\.lr, --source\.epochs and --source\.optimizer$/,
  );

  const rng = createRng(3);
  const shuffled = nearChanceMessage({
    train: patternSplit(400, 4, { seed: 1, label: () => rng.int(4) }),
    test,
  });
  assert.match(
    shuffled,
    /Likely cause: a nearest-class-mean classifier .* training labels look unrelated to their images/,
  );
  assert.doesNotMatch(shuffled, /Likely cause: the training recipe/);

  const rotated = nearChanceMessage({
    train: patternSplit(400, 4, { seed: 1, label: (_, c) => (c + 1) % 4 }),
    test,
  });
  assert.match(
    rotated,
    /Likely cause: .*scores 100\.0% on half .* and 0\.0% on 200 test images, so the training labels agree among themselves but not with the test set's/,
  );

  const dominated = nearChanceMessage({
    train: patternSplit(400, 4, { seed: 1, label: (i, c) => (i % 10 < 8 ? 0 : c) }),
    test,
  });
  assert.match(
    dominated,
    /Likely cause: class 0 holds 85\.0% of the 400 training labels \(uniform: 25\.0%\)/,
  );

  const exported = nearChanceMessage({
    train: patternSplit(400, 4, { seed: 1 }),
    test,
    trainFrom: "out/sec3_2/d_det",
  });
  assert.match(exported, /Likely cause: the training set is the export --trainFrom=out\/sec3_2\/d_det/);
  assert.match(exported, /If the data are as intended, check --source\.lr/);
});

Deno.test("sourceRef() carries the --trainFrom export it was read from, outside the cache identity", async () => {
  const dir = await npyDataset(0);
  const data = await loadDataset(`npy:${dir}`);
  const plain = sourceRef(data, data.train);
  const exported = sourceRef({ ...data, trainFrom: "/x/d_det" }, data.train);
  assert.equal(plain.trainFrom, undefined);
  assert.equal(exported.trainFrom, "/x/d_det");
  assert.deepEqual(exported.id, plain.id);
  assert.equal(sourceRef({ ...data, trainFrom: "/x/d_det" }, data.test, "test").trainFrom, undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("buildRelabelled()'s bar shows attack success as a percentage; buildMatched()'s shows no success at all", async () => {
  const split = patternSplit(40, 4, { seed: 1 });
  const set = { split, id: { data: "fixture", name: "train[:40]", n: 40 } };
  const model = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 4, seed: 0 });
  const source = { model, hash: "fixture-model" };
  const attack = {
    eps: 1,
    steps: 2,
    stepSize: 0.5,
    batchSize: 20,
    eot: { samples: 1, translate: 0, flip: false, noise: 0 },
    finish: NO_FINISH,
    failures: "keep" as const,
  };
  const relabelled = await captureStderr(() =>
    buildRelabelled(source, set, { rule: "d_det", attack, seed: 0, numClasses: 4, cache: false })
  );
  const shown = /attack d_det \[#+\] 100% .* attack success (\d+\.\d)%\n/.exec(relabelled.text);
  assert.ok(shown, relabelled.text);
  assert.equal(Number(shown[1]), Math.round(1000 * relabelled.value.attackSuccess) / 10);
  const match = {
    size: 40,
    steps: 2,
    stepSize: 0.1,
    schedule: "constant" as const,
    start: "noise" as const,
    batchSize: 20,
    target: "relu" as const,
  };
  const matched = await captureStderr(() =>
    buildMatched(source, set, {
      name: "d_r",
      x0: startingPoints(split, split, { start: "noise", seed: 0 }),
      match,
      seed: 0,
      cache: false,
      what: "fixture model",
    })
  );
  assert.match(matched.text, /match d_r \[#+\] 100% 40\/40 img {2}\S+ img\/s {2}in \S+\n/);
  assert.doesNotMatch(matched.text, /success/);
  model.model.dispose();
});

Deno.test("buildRelabelled() (with EOT's random transforms and a finishing attack) and buildMatched() built in shards equal a one-process build, byte for byte", async () => {
  const cwd = Deno.cwd(), dir = await Deno.makeTempDir({ prefix: "pipeline_shard_" });
  Deno.chdir(dir); // the cache: out/cache under the working directory
  const tensors0 = tf.memory().numTensors;
  const model = createModel("mlp", { inputShape: [4, 4, 1], numClasses: 3, seed: 1 });
  try {
    const n = 10,
      split = {
        x: Float32Array.from({ length: n * 16 }, (_, i) => 0.5 + 0.4 * Math.sin(i)),
        y: Uint8Array.from({ length: n }, (_, i) => i % 3),
        n,
        shape: [4, 4, 1] as [number, number, number],
      };
    const set = { split, id: { data: "fake", name: `train[:${n}]`, n } }, source = { model, hash: "src" };
    const shardsThenAssemble = async <T>(
      count: number,
      build: (cache: boolean, shard: Shard | null) => Promise<T>,
    ) => {
      for (let index = count - 1; index >= 0; index--) {
        await assert.rejects(() => build(true, { index, count }), ShardStop);
      }
      return await build(true, null);
    };
    type Shard = { index: number; count: number };
    // batches of 3: 4 batches, each with its own EOT draws (seeded by the batch's index in the set)
    const eot = { samples: 2, translate: 1, flip: true, noise: 0.05 };
    // with a finishing attack, which works batch by batch too
    const finish = { steps: 2, stepSize: 0.5 };
    const attack = { eps: 1, steps: 2, stepSize: 0.5, batchSize: 3, eot, finish, failures: "keep" as const };
    const relabel = (cache: boolean, shard: Shard | null) =>
      buildRelabelled(source, set, { rule: "d_rand", attack, seed: 5, numClasses: 3, cache, shard });
    const one = await relabel(false, null), sharded = await shardsThenAssemble(2, relabel);
    assert.deepEqual(sharded.ref.split.x, one.ref.split.x);
    assert.deepEqual([sharded.ref.split.y, sharded.original], [one.ref.split.y, one.original]);
    assert.deepEqual([sharded.attackSuccess, sharded.meanDeltaL2], [one.attackSuccess, one.meanDeltaL2]);
    const match: MatchConfig = {
      size: n,
      steps: 2,
      stepSize: 0.1,
      schedule: "cosine",
      start: "noise",
      batchSize: 4,
      target: "relu",
    };
    const x0 = startingPoints(split, split, { start: "noise", seed: 3 });
    const matched = (cache: boolean, shard: Shard | null) =>
      buildMatched(source, set, { name: "d_r", x0, match, seed: 0, cache, what: "test model", shard });
    const m1 = await matched(false, null), m3 = await shardsThenAssemble(3, matched);
    assert.deepEqual([m3.ref.split.x, m3.rel], [m1.ref.split.x, m1.rel]);
  } finally {
    model.model.dispose();
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(tf.memory().numTensors, tensors0, "no tensor leaks");
});
