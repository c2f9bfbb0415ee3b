// Tests for lib/run/workers.ts: --workers=N starts the N shards as processes with the cores split between them,
// waits for all (round after round while they build parts), and names each failed shard with the command that
// reruns it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runWorkers } from "../../../lib/run/workers.ts";
import { partsDir, shardCommand } from "../../../lib/run/shard.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { ls } from "./fixtures/fs_faults.ts";
import { fakeBuild } from "./fixtures/shard_fake.ts";

const WORKER = new URL("./fixtures/shard_worker.ts", import.meta.url).pathname;

Deno.test("runWorkers() runs shards 0..N-1 at once with cores / N threads each, and returns when every part is in", async () => {
  const base = await Deno.makeTempDir(), root = join(base, "cache"), markers = join(base, "markers");
  await Deno.mkdir(markers);
  const argv = [`--root=${root}`, `--markers=${markers}`, "--sleep=0"];
  await runWorkers(3, { entry: WORKER, argv, cores: 7, command: (s) => shardCommand("w", argv, s) });
  assert.deepEqual(ls(partsDir(fakeBuild(root))), ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]);
  const threads = await Promise.all(ls(markers).map((m) => Deno.readTextFile(join(markers, m))));
  assert.deepEqual(threads, ["2", "2", "2"], "floor(7 / 3) threads each");
  await Deno.remove(base, { recursive: true });
});

Deno.test("runWorkers() runs rounds while the shards build parts: a second phase's parts are built by round 2", async () => {
  const base = await Deno.makeTempDir(), root = join(base, "cache"), markers = join(base, "markers");
  await Deno.mkdir(markers);
  const argv = [`--root=${root}`, `--markers=${markers}`, "--sleep=0", "--phases=2"];
  const command = (s: { index: number; count: number }) => shardCommand("w", argv, s);
  await runWorkers(2, { entry: WORKER, argv, cores: 2, command, maxRounds: 1 });
  assert.deepEqual(ls(partsDir(fakeBuild(root))), ["shard-0-of-2", "shard-1-of-2"]);
  assert.throws(() => ls(partsDir(fakeBuild(root, { salt: 1 }))), "one round: the second phase not begun");
  await runWorkers(2, { entry: WORKER, argv, cores: 2, command });
  assert.deepEqual(ls(partsDir(fakeBuild(root, { salt: 1 }))), ["shard-0-of-2", "shard-1-of-2"]);
  assert.equal(ls(markers).length, 4, "each part built once");
  await Deno.remove(base, { recursive: true });
});

Deno.test("runWorkers() with a failing shard throws a UserError naming it, its exit code and its command", async () => {
  const base = await Deno.makeTempDir(), markers = join(base, "markers");
  await Deno.mkdir(markers);
  const argv = [`--root=${join(base, "cache")}`, `--markers=${markers}`, "--fail"];
  const err = await runWorkers(2, {
    entry: WORKER,
    argv,
    cores: 2,
    command: (s) => shardCommand("w", argv, s),
  })
    .then(() => null, (e) => e);
  assert.ok(err instanceof UserError);
  assert.match(err.message, /shard 0\/2 failed \(exit code 3\), shard 1\/2 failed \(exit code 3\)/);
  assert.match(err.message, /\n {2}w --root=\S+ --markers=\S+ --fail --shard=1\/2$/);
  await Deno.remove(base, { recursive: true });
});
