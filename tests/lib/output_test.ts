// Tests for lib/output.ts: atomic writes leave no temp files, and config.json carries the run metadata.
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic, writeRunConfig } from "../../lib/output.ts";

Deno.test("writeFileAtomic() creates parent dirs, replaces content and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a", "b.txt");
  await writeFileAtomic(path, "one");
  await writeFileAtomic(path, new TextEncoder().encode("two"));
  assert.equal(await Deno.readTextFile(path), "two");
  const names = [...Deno.readDirSync(join(dir, "a"))].map((e) => e.name);
  assert.deepEqual(names, ["b.txt"]);
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
