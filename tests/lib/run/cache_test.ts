// Tests for lib/run/cache.ts: concurrent builders, dead processes' leftovers, unwritable caches, miss reasons,
// and the code / value / data hashes that go into cache keys.
import assert from "node:assert/strict";
import { join } from "node:path";
import { cached, fileHash, localImports, sourceHash, valueHash } from "../../../lib/run/cache.ts";
import { canMount, deadPid, ls, readOnlyDir, spawnDeno, tmpfs, until } from "./fixtures/fs_faults.ts";

const mountNote = canMount ? "" : " [skipped: needs root with mount rights]";

async function worker(root: string, markers: string, extra: string[] = []) {
  return await spawnDeno("cache_worker.ts", [`--root=${root}`, `--markers=${markers}`, ...extra]).done;
}

async function scratch(): Promise<{ root: string; markers: string; cleanup: () => Promise<void> }> {
  const base = await Deno.makeTempDir();
  await Deno.mkdir(join(base, "markers"));
  return {
    root: join(base, "cache"),
    markers: join(base, "markers"),
    cleanup: () => Deno.remove(base, { recursive: true }),
  };
}

Deno.test("cached() with 4 processes on one key builds once and all succeed (3 rounds)", async () => {
  for (let round = 0; round < 3; round++) {
    const s = await scratch();
    const runs = await Promise.all([0, 1, 2, 3].map(() => worker(s.root, s.markers)));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(ls(s.markers).length, 1, `round ${round}: builds ${ls(s.markers).length}`);
    const outs = runs.map((r) => JSON.parse(r.stdout));
    assert.deepEqual(outs.map((o) => o.length), [16, 16, 16, 16]);
    assert.equal(outs.filter((o) => !o.hit).length, 1);
    assert.deepEqual(ls(join(s.root, "thing")), [outs[0].hash], "no lock or temp dir is left");
    await s.cleanup();
  }
});

Deno.test("cached() takes over the lock and removes the temp dir of a process killed while saving", async () => {
  const s = await scratch();
  const { child, done } = spawnDeno("cache_worker.ts", [
    `--root=${s.root}`,
    `--markers=${s.markers}`,
    "--sleep=0",
    "--hang-in-save",
  ]);
  const kindDir = join(s.root, "thing");
  await until(() => {
    try {
      return ls(kindDir).some((n) => n.endsWith(".tmp")) && ls(kindDir).some((n) => n.endsWith(".lock"));
    } catch {
      return false;
    }
  });
  child.kill("SIGKILL");
  await done;
  const r = await worker(s.root, s.markers);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /taking over the lock of thing \w+ from pid \d+.*which no longer runs/);
  assert.equal(ls(s.markers).length, 2, "the killed build and the new one");
  assert.deepEqual(ls(kindDir), [JSON.parse(r.stdout).hash], "the dead process's .tmp and .lock are gone");
  await s.cleanup();
});

Deno.test("cached() waits for a live builder and then reads its entry", async () => {
  const s = await scratch();
  const first = spawnDeno("cache_worker.ts", [`--root=${s.root}`, `--markers=${s.markers}`, "--sleep=3000"]);
  await until(() => ls(s.markers).length === 1);
  const second = await worker(s.root, s.markers);
  const r1 = await first.done;
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /cache: waiting for pid \d+, which is building thing [0-9a-f]{16}/);
  assert.equal(JSON.parse(second.stdout).hit, true);
  assert.equal(JSON.parse(r1.stdout).hit, false);
  assert.equal(ls(s.markers).length, 1);
  await s.cleanup();
});

Deno.test(`cached() on a read-only cache root warns once and returns every built value${mountNote}`, {
  ignore: !canMount && Deno.uid() === 0,
}, async () => {
  const ro = await readOnlyDir();
  assert.ok(ro);
  const s = await scratch();
  try {
    const r = await worker(ro.path, s.markers, ["--calls=2", "--sleep=0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).length), [16, 16]);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(
      warnings[0],
      /^warning: cannot write the cache at \S+ \((read-only file system|permission denied)\); this run continues without caching$/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    await ro.cleanup();
    await s.cleanup();
  }
});

Deno.test(`cached() on a full disk warns, returns the value and leaves no temp dir${mountNote}`, {
  ignore: !canMount,
}, async () => {
  const fs = await tmpfs({ sizeKb: 64 });
  const s = await scratch();
  try {
    const r = await worker(fs.path, s.markers, ["--calls=2", "--sleep=0", "--bytes=300000"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).length), [300000, 300000]);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0], /cannot write the cache at \S+ \(no space left on the device\)/);
    assert.deepEqual(ls(join(fs.path, "thing")), [], "no entry, temp dir or lock is left");
  } finally {
    await fs.cleanup();
    await s.cleanup();
  }
});

Deno.test("cached() says why it misses: absent, incomplete, corrupt, built by other code", async () => {
  const root = await Deno.makeTempDir();
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(s);
  const opts = (code: string) => ({
    enabled: true,
    root,
    code,
    build: () => "value",
    save: (dir: string, v: string) => Deno.writeTextFile(join(dir, "x.npy"), v),
    load: (dir: string) => Deno.readTextFile(join(dir, "x.npy")),
  });
  const miss = () => lines.filter((l) => l.startsWith("cache miss")).at(-1) ?? "";
  try {
    const a = await cached("data", { n: 1 }, opts("code-A"));
    assert.match(miss(), /\(absent\); building/);
    const entry = join(root, "data", a.hash);
    await Deno.writeTextFile(join(entry, "x.npy"), "valuf");
    await cached("data", { n: 1 }, opts("code-A"));
    assert.match(miss(), /\(corrupt: checksum mismatch in x\.npy\)/);
    await Deno.remove(join(entry, "x.npy"));
    await cached("data", { n: 1 }, opts("code-A"));
    assert.match(miss(), /\(incomplete: missing x\.npy\)/);
    await Deno.remove(join(entry, "manifest.json"));
    await cached("data", { n: 1 }, opts("code-A"));
    assert.match(miss(), /\(incomplete: missing manifest\)/);
    const b = await cached("data", { n: 1 }, opts("code-B"));
    assert.notEqual(b.hash, a.hash);
    assert.match(miss(), /\(absent; an entry for this key was built by other code \(code-A, now code-B\)\)/);
    assert.ok((await cached("data", { n: 1 }, opts("code-A"))).hit, "the old code's entry is still there");
  } finally {
    console.error = orig;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cached() removes temp dirs of dead processes and keeps those of live ones", async () => {
  const root = await Deno.makeTempDir();
  const opts = {
    enabled: true,
    root,
    verbose: false,
    build: () => "v",
    save: (dir: string, v: string) => Deno.writeTextFile(join(dir, "v.txt"), v),
    load: (dir: string) => Deno.readTextFile(join(dir, "v.txt")),
  };
  const first = await cached("t", { k: 2 }, opts);
  const made = ls(join(root, "t"));
  assert.deepEqual(made, [first.hash]);
  // the temp-dir name format: .<hash>.<host tag>-<pid>-<random>.tmp; copy the host tag from a live one
  const { child, done } = spawnDeno("cache_worker.ts", [
    `--root=${root}`,
    `--markers=${root}`,
    "--sleep=0",
    "--hang-in-save",
  ]);
  await until(() => {
    try {
      return ls(join(root, "thing")).some((n) => n.endsWith(".tmp"));
    } catch {
      return false;
    }
  });
  const live = ls(join(root, "thing")).find((n) => n.endsWith(".tmp"))!;
  const tag = /\.([0-9a-f]{8})-\d+-/.exec(live)![1];
  const dead = join(root, "t", `.${first.hash}.${tag}-${await deadPid()}-abcd1234.tmp`);
  const alive = join(root, "t", `.${first.hash}.${tag}-${child.pid}-abcd1234.tmp`);
  await Deno.mkdir(dead);
  await Deno.mkdir(alive);
  assert.ok((await cached("t", { k: 2 }, opts)).hit);
  assert.deepEqual(
    ls(join(root, "t")),
    [first.hash, `.${first.hash}.${tag}-${child.pid}-abcd1234.tmp`].sort(),
  );
  child.kill("SIGKILL");
  await done;
  await Deno.remove(root, { recursive: true });
});

Deno.test("localImports() finds relative imports and code files named by new URL(), never a data or memo file", () => {
  const text = [
    `import { a,`,
    `  b } from "./a.ts";`,
    `import type { T } from '../t.ts';`,
    `export * from "./re.ts";`,
    `import "./side.ts";`,
    `const m = await import("./dyn.ts");`,
    `import tf from "@tensorflow/tfjs";`,
    `import { join } from "node:path";`,
    `import x from "npm:pngjs@7";`,
    `const SOURCE = fileURLToPath(new URL("./native/fastops.c", import.meta.url));`,
    `const MEMO = fileURLToPath(new URL("../../.cache/checksums.json", import.meta.url));`,
    `const DIR = fileURLToPath(new URL("../../.cache/native", import.meta.url));`,
    `const DATA = new URL("./fixtures/x.npy", import.meta.url);`,
  ].join("\n");
  assert.deepEqual(localImports(text), [
    "../t.ts",
    "./a.ts",
    "./dyn.ts",
    "./native/fastops.c",
    "./re.ts",
    "./side.ts",
  ]);
});

Deno.test("sourceHash() changes when a transitively imported file changes, not for an unrelated one", async () => {
  const dir = await Deno.makeTempDir();
  const w = (name: string, text: string) => Deno.writeTextFile(join(dir, name), text);
  await Deno.mkdir(join(dir, "sub"));
  await w("main.ts", `import { b } from "./b.ts";\nexport const a = b;\n`);
  await w("b.ts", `export * from "./sub/c.ts";\nexport const b = 1;\n`);
  await w(
    "sub/c.ts",
    `export const c = () => import("../d.ts");\nconst k = new URL("./k.c", import.meta.url);\n`,
  );
  await w("sub/k.c", `int k(void) { return 1; }\n`);
  await w("d.ts", `export const d = 1;\n`);
  await w("unrelated.ts", `export const u = 1;\n`);
  // a memo file the module names with new URL() (as lib/data/fingerprint.ts names .cache/checksums.json)
  await w("memo.ts", `export const MEMO = new URL("./memo.json", import.meta.url);\n`);
  await w("memo.json", `{"version":1,"entries":{}}\n`);
  await w("main.ts", `import { b } from "./b.ts";\nimport "./memo.ts";\nexport const a = b;\n`);
  const hash = async () => {
    const r = await spawnDeno("source_hash.ts", ["main.ts"], { cwd: dir }).done;
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const h0 = await hash();
  assert.match(h0, /^[0-9a-f]{32}$/);
  await w("unrelated.ts", `export const u = 2;\n`);
  assert.equal(await hash(), h0, "an unrelated file does not count");
  await w("memo.json", `{"version":1,"entries":{"/data/new.bin":{"size":1,"mtimeMs":2,"sha256":"ab"}}}\n`);
  assert.equal(await hash(), h0, "a data or memo file named with new URL() is not code");
  await w("d.ts", `export const d = 2;\n`);
  const h1 = await hash();
  assert.notEqual(h1, h0, "a change three imports deep counts");
  await w("sub/k.c", `int k(void) { return 2; }\n`);
  const h2 = await hash();
  assert.notEqual(h2, h1, "a C source the module reads counts");
  // the same files in another place hash the same (a fresh clone elsewhere)
  const copy = await Deno.makeTempDir();
  await new Deno.Command("cp", { args: ["-r", `${dir}/.`, copy] }).output();
  assert.equal(await sourceHash([join(copy, "main.ts")]), h2);
  // memoized per process: it keeps describing the code this process loaded
  await Deno.writeTextFile(join(copy, "d.ts"), `export const d = 3;\n`);
  assert.equal(await sourceHash([join(copy, "main.ts")]), h2);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(copy, { recursive: true });
});

Deno.test("sourceHash() of the project's trainer covers the backend and its native C sources", async () => {
  const here = (p: string) => new URL(`../../../lib/${p}`, import.meta.url);
  const withBackend = await sourceHash([here("core/train.ts"), here("backend/mod.ts")]);
  assert.notEqual(withBackend, await sourceHash([here("core/train.ts")]));
  const native = await sourceHash([here("backend/native.ts")]);
  const withC = await sourceHash([here("backend/native.ts"), here("backend/native/fastops.c")]);
  assert.equal(native, withC, "fastops.c, which native.ts compiles, is already part of native.ts's hash");
  await assert.rejects(() => sourceHash([here("no_such_module.ts")]), /module not found/);
});

Deno.test("valueHash() tells functions apart by their source and ignores key order", async () => {
  const next = (y: number) => (y + 1) % 10;
  const same = (y: number) => (y + 1) % 10;
  const other = (y: number) => (y + 2) % 10;
  assert.equal(await valueHash({ rule: next, a: 1, b: 2 }), await valueHash({ b: 2, a: 1, rule: same }));
  assert.notEqual(await valueHash({ rule: next }), await valueHash({ rule: other }));
  assert.notEqual(await valueHash({ rule: next }), await valueHash({}));
});

Deno.test("fileHash() changes with the bytes of the file", async () => {
  const f = await Deno.makeTempFile();
  await Deno.writeTextFile(f, "labels 0 1 2");
  const h0 = await fileHash(f);
  assert.equal(await fileHash(f), h0);
  await new Promise((r) => setTimeout(r, 20)); // the memo is keyed by path, size and mtime (ms)
  await Deno.writeTextFile(f, "labels 1 2 3");
  assert.notEqual(await fileHash(f), h0);
  await Deno.remove(f);
});
