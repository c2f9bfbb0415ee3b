// Tests for lib/run/output.ts: writability checks, atomic writes on failing file systems, locked run directories
// that are swapped in whole, and config.json's run metadata.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { UserError } from "../../../lib/util/errors.ts";
import {
  assertWritableDir,
  openRunDir,
  resolveOutDir,
  writeFileAtomic,
  writeJsonAtomic,
  writeRunConfig,
} from "../../../lib/run/output.ts";
import { canMount, deadPid, ls, readOnlyDir, spawnDeno, tmpfs, until } from "./fixtures/fs_faults.ts";

const mountNote = canMount ? "" : " [skipped: needs root with mount rights]";
const roNote = !canMount && Deno.uid() === 0 ? " [skipped: root without mount rights ignores mode bits]" : "";
const isUserError = (re: RegExp) => (e: Error) => e instanceof UserError && re.test(e.message);

/** A parent dir holding `target` = a previous run's files (config.json + old.npy). */
async function previousRun(): Promise<{ parent: string; target: string }> {
  const parent = await Deno.makeTempDir();
  const target = join(parent, "sec3_2");
  await Deno.mkdir(target);
  await Deno.writeTextFile(join(target, "config.json"), "old config\n");
  await Deno.writeTextFile(join(target, "old.npy"), "old data\n");
  return { parent, target };
}

const snapshot = (dir: string) =>
  Object.fromEntries(ls(dir).map((n) => [n, Deno.readTextFileSync(join(dir, n))]));

Deno.test("writeFileAtomic() creates parent dirs, replaces content and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a", "b.txt");
  await writeFileAtomic(path, "one");
  await writeFileAtomic(path, new TextEncoder().encode("two"));
  assert.equal(await Deno.readTextFile(path), "two");
  assert.deepEqual(ls(join(dir, "a")), ["b.txt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() keeps the old file when the write fails", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "x.json");
  await writeJsonAtomic(path, { ok: 1 });
  const bad = {
    toJSON() {
      throw new Error("boom");
    },
  };
  await assert.rejects(() => writeJsonAtomic(path, bad), /boom/);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { ok: 1 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  `writeFileAtomic() on a full disk: one UserError naming the path, old file intact, no temp${mountNote}`,
  {
    ignore: !canMount,
  },
  async () => {
    const fs = await tmpfs({ sizeKb: 64 });
    try {
      const path = join(fs.path, "d_det_x.npy");
      await writeFileAtomic(path, "old");
      await assert.rejects(
        () => writeFileAtomic(path, new Uint8Array(300_000)),
        isUserError(/^cannot write \S+d_det_x\.npy \(no space left on the device\); .*free some disk space/),
      );
      assert.equal(await Deno.readTextFile(path), "old");
      assert.deepEqual(ls(fs.path), ["d_det_x.npy"]);
    } finally {
      await fs.cleanup();
    }
  },
);

Deno.test(`writeFileAtomic() into a read-only directory: one UserError naming the path${roNote}`, {
  ignore: !canMount && Deno.uid() === 0,
}, async () => {
  const ro = (await readOnlyDir())!;
  try {
    await assert.rejects(
      () => writeJsonAtomic(join(ro.path, "results.json"), { a: 1 }),
      isUserError(/^cannot write \S+results\.json \((read-only file system|permission denied)\)/),
    );
  } finally {
    await ro.cleanup();
  }
});

Deno.test("assertWritableDir() names the option, the path and the reason for a file in the way and /proc", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "file");
  await Deno.writeTextFile(file, "x");
  await assert.rejects(
    () => assertWritableDir(file),
    isUserError(
      /^--out=\S+file: cannot create the directory \(it is a file, not a directory\); choose a writable directory with --out=DIR$/,
    ),
  );
  await assert.rejects(
    () => assertWritableDir(join(file, "sub"), "--dir"),
    isUserError(
      /^--dir=\S+file\/sub: cannot create the directory \(a part of the path is a file, not a directory\); .* with --dir=DIR$/,
    ),
  );
  await assert.rejects(
    () => assertWritableDir("/proc/forbidden"),
    isUserError(/^--out=\/proc\/forbidden: cannot create the directory \(no such file or directory\)/),
  );
  await assert.rejects(() => resolveOutDir("theory", "/proc/forbidden"), isUserError(/\/proc\/forbidden/));
  await assertWritableDir(join(dir, "new", "deep"));
  assert.deepEqual(ls(join(dir, "new", "deep")), [], "the probe file is removed");
  await Deno.remove(dir, { recursive: true });
});

Deno.test(`assertWritableDir() rejects a read-only directory${roNote}`, {
  ignore: !canMount && Deno.uid() === 0,
}, async () => {
  const ro = (await readOnlyDir())!;
  try {
    await assert.rejects(
      () => assertWritableDir(ro.path),
      isUserError(
        /cannot write a file in it \((read-only file system|permission denied)\); choose a writable/,
      ),
    );
  } finally {
    await ro.cleanup();
  }
});

Deno.test("openRunDir() commit replaces every file of the previous run and leaves nothing beside it", async () => {
  const { parent, target } = await previousRun();
  const run = await openRunDir(target);
  assert.equal(run.path, `${target}.partial-${Deno.pid}`);
  assert.deepEqual(
    snapshot(target),
    { "config.json": "old config\n", "old.npy": "old data\n" },
    "untouched so far",
  );
  await Deno.writeTextFile(join(run.path, "config.json"), "new config\n");
  await Deno.writeTextFile(join(run.path, "results.json"), "new results\n");
  await run.commit();
  const after = snapshot(target);
  assert.equal(after["config.json"], "new config\n");
  assert.equal(after["results.json"], "new results\n");
  assert.ok(!("old.npy" in after), "no file of the old run survives");
  assert.deepEqual(ls(parent), ["sec3_2"], "no staging, old copy or lock is left");
  const again = await openRunDir(target); // the committed dir is recognised as a run's output
  await again.abort();
  await Deno.remove(parent, { recursive: true });
});

Deno.test("openRunDir() abort leaves the previous run's files untouched", async () => {
  const { parent, target } = await previousRun();
  const before = snapshot(target);
  const run = await openRunDir(target);
  await Deno.writeTextFile(join(run.path, "config.json"), "failed run's config\n");
  await run.abort();
  assert.deepEqual(snapshot(target), before);
  assert.deepEqual(ls(parent), ["sec3_2"]);
  await Deno.remove(parent, { recursive: true });
});

Deno.test("openRunDir() by a second process on a live run's target is one clear error", async () => {
  const { parent, target } = await previousRun();
  const first = spawnDeno("run_worker.ts", [`--target=${target}`, "--mode=sleep"]);
  await until(() => ls(parent).includes(`sec3_2.partial-${first.child.pid}`));
  const second = await spawnDeno("run_worker.ts", [`--target=${target}`]).done;
  assert.equal(second.code, 2);
  assert.equal(
    second.stderr.trim(),
    `error: another run (pid ${first.child.pid}, started ${
      JSON.parse(Deno.readTextFileSync(`${target}.lock`)).startedAt
    }) is writing to ${target}; wait for it or pass another --out (if no such process runs, delete ${target}.lock)`,
  );
  await assert.rejects(() => openRunDir(target), isUserError(/another run \(pid \d+/));
  first.child.kill("SIGKILL");
  await first.done;
  await Deno.remove(parent, { recursive: true });
});

Deno.test("openRunDir() takes over the lock of a killed run and removes its staging dir", async () => {
  const { parent, target } = await previousRun();
  const before = snapshot(target);
  const dead = spawnDeno("run_worker.ts", [
    `--target=${target}`,
    "--mode=sleep",
    "--files=config.json,half.npy",
  ]);
  await until(() => ls(parent).includes(`sec3_2.partial-${dead.child.pid}`));
  dead.child.kill("SIGKILL");
  await dead.done;
  assert.deepEqual(snapshot(target), before, "kill -9 leaves the target as it was");
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(s);
  try {
    const run = await openRunDir(target);
    assert.match(
      lines.join("\n"),
      new RegExp(`taking over \\S+\\.lock of pid ${dead.child.pid}, .*no longer runs`),
    );
    assert.deepEqual(ls(parent), ["sec3_2", "sec3_2.lock", `sec3_2.partial-${Deno.pid}`]);
    await run.abort();
  } finally {
    console.error = orig;
  }
  assert.deepEqual(ls(parent), ["sec3_2"]);
  await Deno.remove(parent, { recursive: true });
});

Deno.test("openRunDir() restores a target that a run died while swapping (only .old-<pid> left)", async () => {
  const { parent, target } = await previousRun();
  const before = snapshot(target);
  await Deno.rename(target, `${target}.old-${await deadPid()}`);
  const orig = console.error;
  console.error = () => {};
  try {
    const run = await openRunDir(target);
    await run.abort();
  } finally {
    console.error = orig;
  }
  assert.deepEqual(snapshot(target), before);
  assert.deepEqual(ls(parent), ["sec3_2"]);
  await Deno.remove(parent, { recursive: true });
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`openRunDir() on ${signal} during synchronous work removes the staging dir and exits ${code}`, async () => {
    const { parent, target } = await previousRun();
    const before = snapshot(target);
    const run = spawnDeno("run_worker.ts", [
      `--target=${target}`,
      "--mode=busy",
      "--files=config.json,a.npy",
    ]);
    const staged = join(parent, `sec3_2.partial-${run.child.pid}`, "a.npy");
    await until(() =>
      ls(parent).includes(`sec3_2.partial-${run.child.pid}`) && ls(dirname(staged)).length === 3
    );
    const t0 = Date.now();
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.code, code, r.stderr);
    assert.ok(Date.now() - t0 < 10_000, "it did not wait for the synchronous loop to end");
    assert.match(r.stderr, /interrupted: \S+sec3_2 is left as it was/);
    assert.deepEqual(snapshot(target), before);
    assert.deepEqual(ls(parent), ["sec3_2"], "no staging dir or lock is left");
    await Deno.remove(parent, { recursive: true });
  });
}

Deno.test("openRunDir() refuses to replace a directory that is not a run's output, or the current one", async () => {
  const parent = await Deno.makeTempDir();
  const notes = join(parent, "notes");
  await Deno.mkdir(notes);
  await Deno.writeTextFile(join(notes, "paper.txt"), "mine");
  await assert.rejects(
    () => openRunDir(notes),
    isUserError(/is not the output of an earlier run \(no config\.json/),
  );
  await assert.rejects(() => openRunDir("."), isUserError(/^--out=\. contains the current directory/));
  await assert.rejects(() => openRunDir(join(notes, "paper.txt")), isUserError(/is a file, not a directory/));
  await assert.rejects(
    () => openRunDir("/proc/forbidden/sec3_2"),
    isUserError(/^--out=\/proc\/forbidden\/sec3_2: its parent directory: cannot create/),
  );
  assert.deepEqual(ls(parent), ["notes"]);
  assert.deepEqual(ls(notes), ["paper.txt"]);
  const fresh = await openRunDir(join(parent, "new"), { what: "--dir" });
  await fresh.commit();
  assert.deepEqual(ls(join(parent, "new")), [".run-dir.json"]);
  await Deno.remove(parent, { recursive: true });
});

Deno.test("writeRunConfig() writes the config with deno version, seed and backend", async () => {
  const dir = await Deno.makeTempDir();
  await writeRunConfig(dir, { a: 1 }, { backend: "cpu", seed: 5, preset: "smoke", tfjs: "4.22.0" });
  const j = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  assert.deepEqual(j.config, { a: 1 });
  assert.equal(j.meta.seed, 5);
  assert.equal(j.meta.backend, "cpu");
  assert.equal(j.meta.deno, Deno.version.deno);
  assert.equal(j.meta.tfjs, "4.22.0");
  assert.ok(!Number.isNaN(Date.parse(j.meta.startedAt)));
  await Deno.remove(dir, { recursive: true });
});
