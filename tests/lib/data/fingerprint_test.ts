// Tests for lib/data/fingerprint.ts and the Dataset.fingerprint of loadDataset(): content identity, the memo.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChecksumMemo, Fingerprint, sha256Hex } from "../../../lib/data/fingerprint.ts";
import { encodeIdx } from "../../../lib/data/idx.ts";
import { loadDataset } from "../../../lib/data/registry.ts";
import { withTempDir, writeTinyIdx } from "./helpers.ts";

Deno.test("ChecksumMemo.checksum() hashes once, then answers from the memo file while size and mtime match", async () => {
  await withTempDir(async (dir) => {
    const f = join(dir, "a.bin"), memoPath = join(dir, "memo", "checksums.json");
    await Deno.writeFile(f, Uint8Array.from([1, 2, 3]));
    const m1 = new ChecksumMemo(memoPath);
    assert.equal(await m1.checksum(f), sha256Hex(Uint8Array.from([1, 2, 3])));
    assert.deepEqual([m1.hashed, m1.hits], [1, 0]);
    await m1.save();
    const m2 = new ChecksumMemo(memoPath);
    assert.equal(await m2.checksum(f), sha256Hex(Uint8Array.from([1, 2, 3])));
    assert.deepEqual([m2.hashed, m2.hits], [0, 1]);
  });
});

Deno.test("ChecksumMemo.checksum() recomputes after a touch (new mtime) and after a same-size rewrite", async () => {
  await withTempDir(async (dir) => {
    const f = join(dir, "a.bin"), memoPath = join(dir, "checksums.json");
    await Deno.writeFile(f, Uint8Array.from([1, 2, 3]));
    await Deno.utime(f, 1000, 1000);
    const m1 = new ChecksumMemo(memoPath);
    const first = await m1.checksum(f);
    await m1.save();
    await Deno.utime(f, 2000, 2000);
    const m2 = new ChecksumMemo(memoPath);
    assert.equal(await m2.checksum(f), first);
    assert.equal(m2.hashed, 1, "a touched file is hashed again");
    await Deno.writeFile(f, Uint8Array.from([9, 9, 9]));
    const m3 = new ChecksumMemo(memoPath);
    assert.notEqual(await m3.checksum(f), first);
  });
});

Deno.test("ChecksumMemo: a corrupt memo file is ignored and an unwritable one is skipped without an error", async () => {
  await withTempDir(async (dir) => {
    const f = join(dir, "a.bin");
    await Deno.writeFile(f, Uint8Array.from([5]));
    const corrupt = join(dir, "bad.json");
    await Deno.writeTextFile(corrupt, "{not json");
    const m = new ChecksumMemo(corrupt);
    assert.equal(await m.checksum(f), sha256Hex(Uint8Array.from([5])));
    await m.save();
    assert.equal(JSON.parse(await Deno.readTextFile(corrupt)).version, 1);
    const unwritable = new ChecksumMemo(join(f, "under-a-file", "memo.json"));
    await unwritable.checksum(f);
    await unwritable.save();
  });
});

Deno.test("Fingerprint.digest() depends on file names, checksums and facts, not on the directory", async () => {
  await withTempDir(async (dir) => {
    for (const d of ["a", "b"]) {
      await Deno.mkdir(join(dir, d));
      await Deno.writeFile(join(dir, d, "x"), Uint8Array.from([1, 2]));
    }
    const fp = async (d: string, name = "x", fact = 1) => {
      const f = new Fingerprint(new ChecksumMemo(null));
      await f.read(name, join(dir, d, "x"));
      f.fact("shape", fact);
      return f.digest();
    };
    assert.equal(await fp("a"), await fp("b"));
    assert.notEqual(await fp("a"), await fp("a", "y"));
    assert.notEqual(await fp("a"), await fp("a", "x", 2));
  });
});

Deno.test("loadDataset().fingerprint: same file names with shifted training labels -> different fingerprints", async () => {
  await withTempDir(async (root) => {
    const [a, b] = [join(root, "A"), join(root, "B")];
    for (const d of [a, b]) {
      await Deno.mkdir(d);
      await writeTinyIdx(d, { nTrain: 10, nTest: 5, gz: false });
    }
    const shifted = Uint8Array.from({ length: 10 }, (_, i) => (i + 1) % 10);
    await Deno.writeFile(join(b, "train-labels-idx1-ubyte"), encodeIdx([10], shifted));
    const memoPath = join(root, "memo.json");
    const fa = (await loadDataset("mnist", { dir: a, memoPath })).fingerprint;
    const fb = (await loadDataset("mnist", { dir: b, memoPath })).fingerprint;
    assert.match(fa, /^[0-9a-f]{64}$/);
    assert.notEqual(fa, fb);
    await Deno.writeFile(join(b, "train-labels-idx1-ubyte"), encodeIdx([10], shifted.map((_, i) => i % 10)));
    assert.equal((await loadDataset("mnist", { dir: b, memoPath })).fingerprint, fa, "same bytes, same id");
  });
});

Deno.test("loadDataset().fingerprint: touching a file's mtime keeps the fingerprint; the memo entry is recomputed", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "d"), memoPath = join(root, "memo.json");
    await Deno.mkdir(dir);
    await writeTinyIdx(dir, { nTrain: 10, nTest: 5, gz: true });
    const lbl = join(dir, "train-labels-idx1-ubyte.gz");
    await Deno.utime(lbl, 1000, 1000);
    const before = (await loadDataset("mnist", { dir, memoPath })).fingerprint;
    const entry = () => JSON.parse(Deno.readTextFileSync(memoPath)).entries[lbl];
    assert.equal(entry().mtimeMs, 1000 * 1000);
    await Deno.utime(lbl, 5000, 5000);
    assert.equal((await loadDataset("mnist", { dir, memoPath })).fingerprint, before);
    assert.equal(entry().mtimeMs, 5000 * 1000, "the touched file was hashed again and remembered");
  });
});
