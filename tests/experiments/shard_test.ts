// sec3_2's smoke preset sharded through the cache: --shard runs (one killed halfway and rerun, a part of another
// set planted in place of one) and a real Slurm array with its dependent assembling job (and a second copy of one
// shard at once) export the D_rand / D_det bytes of a one-process run; sec3_1's in two rounds of shards gives
// the one-process results. Every process runs on 1 thread.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ls, until } from "../lib/run/fixtures/fs_faults.ts";
import { slurmMissing, startSlurm } from "./fixtures/slurm.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const ONE_THREAD = { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
const SMOKE = ["--preset=smoke", "--cache=true"];
const EXPORTS = ["d_rand_x", "d_rand_y", "d_det_x", "d_det_y"].map((n) => `${n}.npy`);

/** `deno run -A experiments/<section>.ts ...args` in `cwd` (its out/cache is the cache), on one thread. */
function section(name: string, cwd: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", join(REPO, "deno.json"), join(REPO, `experiments/${name}.ts`), ...args],
    cwd,
    env: ONE_THREAD,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = child.output().then((o) => ({
    code: o.code,
    out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
  }));
  return { child, done };
}

const sec3_2 = (cwd: string, args: string[]) => section("sec3_2", cwd, args);

async function ok(run: ReturnType<typeof sec3_2>): Promise<string> {
  const r = await run.done;
  assert.equal(r.code, 0, r.out);
  return r.out;
}

let reference: Promise<string> | null = null;
/** A one-process run of the smoke preset (cache on, so its source model can seed the other caches): its dir. */
function oneProcess(): Promise<string> {
  reference ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "shard_ref_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    await ok(sec3_2(dir, [...SMOKE, "--out=one"]));
    return dir;
  })();
  return reference;
}

/** A fresh working dir whose cache holds the reference's source model (trained once for all tests). */
async function scratch(): Promise<string> {
  const ref = await oneProcess(), dir = await Deno.makeTempDir({ prefix: "shard_" });
  await Deno.mkdir(join(dir, "out/cache"), { recursive: true });
  await new Deno.Command("cp", { args: ["-r", join(ref, "out/cache/model"), join(dir, "out/cache/")] })
    .output();
  return dir;
}

async function assertSameExports(dir: string): Promise<void> {
  const ref = join(await oneProcess(), "one");
  for (const f of EXPORTS) {
    assert.deepEqual(await Deno.readFile(join(dir, f)), await Deno.readFile(join(ref, f)), `${f} differs`);
  }
}

const partsDirs = (dir: string) => {
  try {
    return ls(join(dir, "out/cache/dataset")).filter((n) => n.endsWith(".parts"));
  } catch {
    return []; // no set built yet
  }
};

Deno.test("sec3_2 --shard: a shard killed halfway and rerun, a foreign part refused, then the plain run exports one process's D_rand / D_det bytes", async () => {
  const dir = await scratch();
  // shard 0, killed while it builds its first part (its lock is held then), and rerun
  const killed = sec3_2(dir, [...SMOKE, "--shard=0/2"]);
  await until(() =>
    partsDirs(dir).some((p) => ls(join(dir, "out/cache/dataset", p)).includes("shard-0-of-2.lock"))
  );
  killed.child.kill("SIGKILL");
  await killed.done;
  const rerun = await ok(sec3_2(dir, [...SMOKE, "--shard=0/2"]));
  assert.match(rerun, /taking over the lock of part 0\/2/);
  assert.match(rerun, /shard 0\/2 done: its part of 2 set\(s\) is in the cache/);
  // each set's shard 0 planted as the other set's shard 1: refused (another key), so shard 1 is still missing
  const [a, b] = partsDirs(dir).map((p) => join(dir, "out/cache/dataset", p));
  for (const [from, to] of [[a, b], [b, a]]) {
    await new Deno.Command("cp", { args: ["-r", join(from, "shard-0-of-2"), join(to, "shard-1-of-2")] })
      .output();
  }
  const early = await sec3_2(dir, [...SMOKE, "--out=sharded"]).done;
  assert.equal(early.code, 2, early.out);
  assert.match(
    early.out,
    /error: dataset \w+ is being built in 2 shards and the part\(s\) of shard\(s\) 1 are missing/,
  );
  assert.match(
    early.out,
    /\n {2}deno run -A experiments\/sec3_2\.ts --preset=smoke --cache=true --out=sharded --shard=1\/2\n/,
  );
  assert.doesNotMatch(early.out, /\n\s+at /, "no stack trace");
  // shard 1 replaces the foreign parts; the plain run assembles and carries on
  assert.match(await ok(sec3_2(dir, [...SMOKE, "--shard=1/2"])), /all 2 parts there/);
  const assembled = await ok(sec3_2(dir, [...SMOKE, "--out=sharded"]));
  assert.equal(assembled.match(/assembling dataset \w+ from 2 parts/g)?.length, 2, assembled);
  await assertSameExports(join(dir, "sharded"));
  assert.deepEqual(partsDirs(dir), [], "the parts are removed once the sets are cached");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("sec3_1 --shard in two rounds (D_R / D_NR, then every robust evaluation) gives the one-process results", async () => {
  const one = await Deno.makeTempDir({ prefix: "shard31_ref_" }),
    dir = await Deno.makeTempDir({ prefix: "shard31_" });
  // 300 test images: two chunks of the evaluation (250 + 50), one per shard
  const run = (cwd: string, args: string[]) =>
    ok(section("sec3_1", cwd, [...SMOKE, "--testSize=300", ...args]));
  await run(one, ["--out=one"]);
  // round 1: each shard trains or loads the source models and builds its part of D_R and D_NR
  for (const i of [0, 1]) assert.match(await run(dir, [`--shard=${i}/2`]), /its part of 2 set\(s\)/);
  // round 2: the sets assemble; each shard trains or loads the fresh models and evaluates its chunk of the test
  // set: the smoke preset's 2 sources + 2 seeds x 3 fresh models, at 2 eps each
  for (const i of [0, 1]) {
    const out = await run(dir, [`--shard=${i}/2`]);
    assert.match(out, /shard \d\/2 done: its part of 16 set\(s\) is in the cache/, out);
  }
  // round 3 has nothing left to build: it assembles the evaluations (once, under the cache's lock) and says so
  const last = await run(dir, ["--shard=0/2"]);
  assert.match(last, /nothing left to build/);
  assert.equal(last.match(/assembling eval \w+ from 2 parts/g)?.length, 16, last);
  const assembled = await run(dir, ["--out=sharded"]);
  assert.equal(assembled.match(/cache hit: eval \w+/g)?.length, 16, assembled);
  const results = async (d: string) => {
    const r = JSON.parse(await Deno.readTextFile(join(d, "results.json")));
    return { curve: r.curve, seedCurves: r.seedCurves, claim2: r.claim2, models: r.models };
  };
  assert.deepEqual(await results(join(dir, "sharded")), await results(join(one, "one")));
  for (const d of [one, dir]) await Deno.remove(d, { recursive: true });
});

Deno.test("slurm/submit.sh chains one array per round (two unless ROUNDS says) and the assembling job with afterok", async () => {
  // a fake sbatch on the PATH: logs its arguments, answers job ids 101, 102, ...
  const bin = await Deno.makeTempDir({ prefix: "fake_sbatch_" }), log = join(bin, "log");
  await Deno.writeTextFile(
    join(bin, "sbatch"),
    `#!/usr/bin/env bash\necho "$*" >> ${log}\nn=$(wc -l < ${log})\necho "$((100 + n));cluster"\n`,
  );
  await Deno.chmod(join(bin, "sbatch"), 0o755);
  const submit = async (section: string, env: Record<string, string> = {}) => {
    await Deno.remove(log).catch(() => {});
    const o = await new Deno.Command(join(REPO, "slurm/submit.sh"), {
      args: ["4", section, "--preset=paper"],
      env: { ...env, PATH: `${bin}:${Deno.env.get("PATH")}`, SBATCH_OPTS: "--time=1:00:00" },
    }).output();
    const calls = await Deno.readTextFile(log).then((t) => t.trim().split("\n"), () => []);
    const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
    return { code: o.code, ids: text(o.stdout), stderr: text(o.stderr), calls };
  };
  const shards = (dep: string) =>
    `--parsable --time=1:00:00 ${dep}--array=0-3 ${REPO}slurm/shards.sbatch 4 sec3_1 --preset=paper`;
  const s31 = await submit("sec3_1");
  assert.equal(s31.ids, "101 102 103", s31.stderr);
  assert.deepEqual(s31.calls, [
    shards(""),
    shards("--dependency=afterok:101 "),
    `--parsable --time=1:00:00 --dependency=afterok:102 ${REPO}slurm/assemble.sbatch sec3_1 --preset=paper`,
  ]);
  assert.equal((await submit("sec3_2", { ROUNDS: "1" })).ids, "101 102");
  assert.equal((await submit("sec3_3", { ROUNDS: "3" })).ids, "101 102 103 104");
  for (
    const [section, env, message] of [
      ["sec2", {}, /sec2 has no per-example work to shard/],
      ["sec3_2", { ROUNDS: "0" }, /ROUNDS must be a whole number >= 1, got "0"/],
    ] as const
  ) {
    const r = await submit(section, env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, message);
    assert.deepEqual(r.calls, [], "nothing submitted");
  }
  await Deno.remove(bin, { recursive: true });
});

const noSlurm = slurmMissing();
if (noSlurm) console.log(`skipping the Slurm test: ${noSlurm}`);

Deno.test({
  name:
    "sec3_2 on Slurm: a 2-task array, a second copy of shard 1 at once and the afterok assembling job export one process's D_rand / D_det bytes",
  ignore: noSlurm !== null,
  fn: async () => {
    const dir = await scratch();
    const slurm = await startSlurm(4);
    try {
      const env = { ...ONE_THREAD, DENO: Deno.execPath(), SBATCH_OPTS: "--cpus-per-task=1" };
      const args = [...SMOKE, "--out=slurm"];
      const ids = await slurm.client(join(REPO, "slurm/submit.sh"), ["2", "sec3_2", ...args], {
        cwd: dir,
        env,
      });
      // two rounds of shards (the sets, then the fresh models), then the assembling job
      const [array, round2, assemble, ...more] = ids.split(" ");
      assert.deepEqual(more, [], ids);
      const again = await slurm.client("sbatch", [
        "--parsable",
        "--cpus-per-task=1",
        "--array=1",
        join(REPO, "slurm/shards.sbatch"),
        "2",
        "sec3_2",
        ...args,
      ], { cwd: dir, env: { ...env, REPO } });
      const states = await slurm.waitFor(assemble, 300_000);
      const logs = ls(dir).filter((f) => f.startsWith("slurm-"));
      const text = (await Promise.all(logs.map((f) => Deno.readTextFile(join(dir, f))))).join("\n");
      assert.deepEqual(states, ["COMPLETED"], `assembling job: ${states}\n${text}`);
      assert.deepEqual(await slurm.waitFor(array, 10_000), ["COMPLETED", "COMPLETED"]);
      assert.deepEqual(await slurm.waitFor(round2, 10_000), ["COMPLETED", "COMPLETED"]);
      assert.deepEqual(await slurm.waitFor(again, 60_000), ["COMPLETED"]);
      // shard 1 ran twice at once: each set's part 1 was built by one of them
      assert.equal(text.match(/cache miss: part 1\/2/g)?.length, 2, text);
      assert.equal(text.match(/assembling dataset \w+ from 2 parts/g)?.length, 2, text);
      await assertSameExports(join(dir, "slurm"));
    } finally {
      await slurm.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
