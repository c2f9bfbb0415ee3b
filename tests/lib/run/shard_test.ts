// Tests for lib/run/shard.ts: --shard / --workers parsing, slices on batch boundaries, the parts in the cache
// (atomic, verified, never another artifact's), assembly equal to a one-process build, and the shard commands.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assembleOrBuild,
  buildEach,
  buildPart,
  concatColumns,
  parseShard,
  parseWorkers,
  partName,
  partsDir,
  PartsMissing,
  partsState,
  removeParts,
  shardCommand,
  shardSlice,
  ShardStop,
  threadsPerWorker,
  unitOrder,
} from "../../../lib/run/shard.ts";
import { cached } from "../../../lib/run/cache.ts";
import { ls, spawnDeno, until } from "./fixtures/fs_faults.ts";
import { fakeBuild, fakeColumns } from "./fixtures/shard_fake.ts";

Deno.test("parseShard() reads i/n and rejects what is not shard i of n, naming the value and an example", () => {
  assert.deepEqual(parseShard("0/1"), { index: 0, count: 1 });
  assert.deepEqual(parseShard("3/4"), { index: 3, count: 4 });
  for (const bad of ["4/4", "-1/2", "1", "a/b", "", "0/0", "1/2/3"]) {
    assert.throws(() => parseShard(bad), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, new RegExp(`got "${bad.replace(/[/\\-]/g, "\\$&")}"`));
      assert.match(e.message, /0 <= i < n/);
      assert.match(e.message, /SLURM_ARRAY_TASK_ID/);
      return true;
    });
  }
  assert.equal(parseWorkers("2"), 2);
  assert.throws(() => parseWorkers("0"), /--workers expects a whole number .* got "0"/);
});

Deno.test("shardSlice() deals whole batches to the shards: every example once, in order, runs differing by <= 1 batch", () => {
  for (const [n, batch] of [[10, 3], [300, 150], [1000, 128], [7, 10], [0, 4]]) {
    for (const count of [1, 2, 3, 5, 8]) {
      const slices = Array.from({ length: count }, (_, index) => shardSlice(n, batch, { index, count }));
      assert.equal(slices[0].start, 0);
      assert.equal(slices[count - 1].end, n);
      const sizes = slices.map((s) => Math.ceil((s.end - s.start) / batch));
      for (let i = 0; i < count; i++) {
        if (i > 0) assert.equal(slices[i].start, slices[i - 1].end, `n ${n} batch ${batch}: contiguous`);
        assert.equal(slices[i].start % batch, 0, `n ${n} batch ${batch} count ${count}: starts on a batch`);
      }
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `n ${n}, ${count} shards: ${sizes}`);
    }
  }
  // more shards than batches: some are empty, none overlaps
  assert.deepEqual(shardSlice(10, 3, { index: 0, count: 8 }), { start: 0, end: 0 });
  assert.deepEqual(shardSlice(10, 3, { index: 1, count: 8 }), { start: 0, end: 3 });
});

Deno.test("concatColumns() joins parts in order and refuses a part that lacks a column", () => {
  const all = concatColumns([fakeColumns(0, 3), fakeColumns(3, 9), fakeColumns(9, 10)]);
  assert.deepEqual(all, fakeColumns(0, 10));
  assert.throws(
    () => concatColumns([fakeColumns(0, 3), { x: new Float32Array(3) }]),
    /part 1 lacks column "t"/,
  );
});

async function scratch() {
  const base = await Deno.makeTempDir();
  await Deno.mkdir(join(base, "markers"));
  return { root: join(base, "cache"), markers: join(base, "markers"), base };
}

/** The shard run's view: buildPart() ends in ShardStop naming the shards still missing. */
async function runShard(b: ReturnType<typeof fakeBuild>, index: number, count: number): Promise<number[]> {
  const err = await buildPart(b, { index, count }).then(() => null, (e) => e);
  assert.ok(err instanceof ShardStop, `shard ${index}/${count} should stop, got ${err}`);
  return err.built[0].missing;
}

Deno.test("buildPart() then assembleOrBuild(): 3 shards assemble to the one-process bytes, and the assembling run builds nothing", async () => {
  const s = await scratch();
  const slices: number[][] = [];
  const b = fakeBuild(s.root, { onBuild: (start, end) => void slices.push([start, end]) });
  assert.deepEqual(await runShard(b, 2, 3), [0, 1]);
  assert.deepEqual(await runShard(b, 0, 3), [1]);
  assert.deepEqual(await runShard(b, 0, 3), [1], "a rerun finds its part and builds nothing");
  assert.deepEqual(await runShard(b, 1, 3), []);
  assert.deepEqual(slices, [[6, 10], [0, 3], [3, 6]]);
  // a later round finds every part there: it returns (its run assembles and goes on) and builds nothing
  await buildPart(b, { index: 0, count: 3 });
  await buildPart(b, { index: 1, count: 2 });
  assert.equal(slices.length, 3);
  assert.deepEqual(ls(partsDir(b)), ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]);
  const got = await cached("dataset", b.key, {
    enabled: true,
    root: s.root,
    code: b.code,
    build: () => assembleOrBuild(b),
    save: async (dir, c) =>
      await Deno.writeFile(join(dir, "x.bin"), new Uint8Array((c.x as Float32Array).buffer)),
    load: () => Promise.resolve(fakeColumns(0, 10)),
  });
  assert.deepEqual(got.value, fakeColumns(0, 10), "bytes equal to a one-process build");
  assert.equal(slices.length, 3, "assembly built no slice");
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("assembleOrBuild() with a shard's part missing throws PartsMissing naming the shards and their commands", async () => {
  const s = await scratch();
  const b = fakeBuild(s.root);
  await runShard(b, 1, 4);
  await runShard(b, 3, 4);
  const err = await assembleOrBuild(b).then(() => null, (e) => e);
  assert.ok(err instanceof PartsMissing);
  assert.deepEqual(err.state.missing, [0, 2]);
  assert.match(err.message, /part\(s\) of shard\(s\) 0, 2 are missing/);
  const cmd = (x: { index: number; count: number }) =>
    shardCommand("deno run -A e.ts", ["--preset=smoke"], x);
  const withCmds = err.withCommands(cmd);
  assert.match(
    withCmds.message,
    /\n {2}deno run -A e\.ts --preset=smoke --shard=0\/4\n {2}deno run -A e\.ts --preset=smoke --shard=2\/4\n/,
  );
  assert.match(withCmds.message, new RegExp(`or delete ${partsDir(b)} to build the set in this one process`));
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("a part from another config, other code or a corrupt file is never used: the shard counts as missing", async () => {
  const s = await scratch();
  const b = fakeBuild(s.root), other = fakeBuild(s.root, { salt: 1 });
  await runShard(b, 0, 2);
  await runShard(other, 1, 2);
  // shard 1's part of another config, copied where b's would be
  await Deno.rename(join(partsDir(other), "shard-1-of-2"), join(partsDir(b), "shard-1-of-2"));
  assert.deepEqual((await partsState(b))!.missing, [1]);
  // the same part built by other code
  assert.deepEqual((await partsState({ ...b, code: "code-v2" }))!.missing, [0, 1]);
  // a flipped byte in shard 0's data
  const f = join(partsDir(b), "shard-0-of-2", "x.npy");
  const bytes = await Deno.readFile(f);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(f, bytes);
  assert.deepEqual((await partsState(b))!.missing, [0, 1]);
  // rebuilt: shard 0 replaces its corrupt part, shard 1 the foreign one
  assert.deepEqual(await runShard(b, 0, 2), [1]);
  assert.deepEqual(await runShard(b, 1, 2), []);
  assert.deepEqual(await assembleOrBuild(b), fakeColumns(0, 10));
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("two processes building the same shard at once build it once and both exit 0", async () => {
  const s = await scratch();
  const args = [`--root=${s.root}`, `--markers=${s.markers}`, "--shard=1/2", "--sleep=800"];
  const runs = await Promise.all([0, 1].map(() => spawnDeno("shard_worker.ts", args).done));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.equal(ls(s.markers).length, 1, "built once");
  for (const r of runs) assert.deepEqual(JSON.parse(r.stdout), { missing: [0] });
  const b = fakeBuild(s.root);
  assert.deepEqual(ls(partsDir(b)), [partName({ index: 1, count: 2 })], "one part, no lock or temp dir left");
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("a shard killed while building leaves no part; its rerun builds it and the set assembles the same", async () => {
  const s = await scratch();
  const args = [`--root=${s.root}`, `--markers=${s.markers}`, "--shard=0/2"];
  const { child, done } = spawnDeno("shard_worker.ts", [...args, "--sleep=30000"]);
  await until(() => ls(s.markers).length === 1);
  child.kill("SIGKILL");
  await done;
  const b = fakeBuild(s.root);
  assert.deepEqual((await partsState(b))?.missing ?? [0, 1], [0, 1], "no part from the killed shard");
  const rerun = await spawnDeno("shard_worker.ts", [...args, "--sleep=0"]).done;
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /taking over the lock/);
  await runShard(b, 1, 2);
  assert.deepEqual(await assembleOrBuild(b), fakeColumns(0, 10));
  assert.deepEqual(ls(partsDir(b)), ["shard-0-of-2", "shard-1-of-2"], "no lock or temp dir left");
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("assembleOrBuild() without parts builds in one process; removeParts() keeps parts until the set is cached", async () => {
  const s = await scratch();
  const b = fakeBuild(s.root);
  assert.deepEqual(await assembleOrBuild(b), fakeColumns(0, 10));
  await runShard(b, 0, 1);
  await removeParts(b);
  assert.deepEqual(ls(partsDir(b)), ["shard-0-of-1"], "kept: the assembled entry is not there yet");
  await Deno.mkdir(join(s.root, "dataset", b.hash), { recursive: true });
  await Deno.writeTextFile(join(s.root, "dataset", b.hash, "a"), "a");
  await Deno.writeTextFile(
    join(s.root, "dataset", b.hash, "manifest.json"),
    JSON.stringify({ kind: "dataset", key: b.key, files: { a: await sha("a") } }),
  );
  await removeParts(b);
  assert.ok(!ls(join(s.root, "dataset")).includes(`${b.hash}.parts`), "removed once the set is cached");
  await Deno.remove(s.base, { recursive: true });
});

async function sha(text: string): Promise<string> {
  const h = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(h), (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("buildEach() lets every build of a shard run write its part, then stops once naming them all", async () => {
  const s = await scratch();
  const builds = [fakeBuild(s.root), fakeBuild(s.root, { salt: 1 })];
  const shard = { index: 0, count: 2 };
  const err = await buildEach(builds, shard, (b) => buildPart(b, shard)).then(() => null, (e) => e);
  assert.ok(err instanceof ShardStop);
  assert.deepEqual(err.built.map((p) => p.missing), [[1], [1]]);
  assert.match(err.message, /shard 0\/2 done: its part of 2 set\(s\) is in the cache/);
  assert.equal(err.complete, false);
  // not a shard run: the builds' values
  assert.deepEqual(await buildEach([1, 2], null, (k) => Promise.resolve(k * 2)), [2, 4]);
  // a shard run in which no build stopped (all cached, or complete in parts) goes on with the values, in the
  // items' order, though shard 1 of 2 took them from its own unit on
  const taken: number[] = [];
  const each = (s: { index: number; count: number }) =>
    buildEach([1, 2, 3], s, (k) => (taken.push(k), Promise.resolve(k * 2)));
  assert.deepEqual(await each({ index: 1, count: 2 }), [2, 4, 6]);
  assert.deepEqual(taken, [2, 3, 1]);
  assert.deepEqual(await each({ index: 4, count: 5 }), [2, 4, 6]);
  assert.deepEqual(taken.slice(3), [2, 3, 1], "shard 4 starts on unit 4 mod 3");
  await Deno.remove(s.base, { recursive: true });
});

Deno.test("unitOrder(): shard i takes the units from i mod n on, wrapping; a plain run and an empty list in order", () => {
  assert.deepEqual(unitOrder(3, null), [0, 1, 2]);
  assert.deepEqual(unitOrder(3, { index: 0, count: 2 }), [0, 1, 2]);
  assert.deepEqual(unitOrder(3, { index: 2, count: 3 }), [2, 0, 1]);
  assert.deepEqual(unitOrder(2, { index: 3, count: 4 }), [1, 0]);
  assert.deepEqual(unitOrder(0, { index: 1, count: 2 }), []);
});

Deno.test("shardCommand() keeps the run's options, drops --shard / --workers and quotes what the shell would split", () => {
  assert.equal(
    shardCommand("deno run -A experiments/sec3_2.ts", ["--preset=paper", "--workers=4", "--out=a b"], {
      index: 2,
      count: 4,
    }),
    "deno run -A experiments/sec3_2.ts --preset=paper '--out=a b' --shard=2/4",
  );
  assert.equal(shardCommand("x", ["--shard=1/2", "--seed=3"], null), "x --seed=3");
  assert.equal(threadsPerWorker(2, 2), 1);
  assert.equal(threadsPerWorker(1, 2), 2);
  assert.equal(threadsPerWorker(4, 16), 4);
  assert.equal(threadsPerWorker(3, 2), 1);
});
