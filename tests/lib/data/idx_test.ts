// Tests for lib/data/idx.ts: raw and gzip round trips and every malformed-file error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx, maybeGunzip, parseIdx, readIdx } from "../../../lib/data/idx.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { assertMessage, gzip, pixels } from "./helpers.ts";

Deno.test("readIdx: raw and gzip files round trip dims and bytes", async () => {
  const dir = await Deno.makeTempDir();
  const data = pixels(3 * 4 * 5);
  const bytes = encodeIdx([3, 4, 5], data);
  await Deno.writeFile(join(dir, "a"), bytes);
  await Deno.writeFile(join(dir, "a.gz"), await gzip(bytes));
  for (const f of ["a", "a.gz"]) {
    const got = await readIdx(join(dir, f));
    assert.deepEqual(got.dims, [3, 4, 5]);
    assert.deepEqual(Array.from(got.data), Array.from(data));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("maybeGunzip: passes non-gzip bytes through unchanged", async () => {
  const raw = encodeIdx([2], Uint8Array.from([1, 2]));
  assert.equal(await maybeGunzip(raw, "x"), raw);
});

Deno.test("maybeGunzip: corrupt gzip names the file", async () => {
  const bad = Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
  const err = await assertMessage(() => maybeGunzip(bad, "broken.gz"), ["broken.gz", "corrupt gzip"]);
  assert.ok(err instanceof UserError);
});

Deno.test("parseIdx: wrong magic names the file and the expected magic", async () => {
  const bad = encodeIdx([2], Uint8Array.from([1, 2]));
  bad[0] = 0x42;
  const err = await assertMessage(() => parseIdx(bad, "imgs.idx"), ["imgs.idx", "magic", "00 00 08"]);
  assert.ok(err instanceof UserError);
});

Deno.test("parseIdx: non-byte data type names the type and the expected one", async () => {
  const bad = encodeIdx([2], Uint8Array.from([1, 2]));
  bad[2] = 0x0d;
  await assertMessage(() => parseIdx(bad, "f.idx"), ["f.idx", "0xd", "expected 0x08"]);
});

Deno.test("parseIdx: truncated data reports header size vs bytes found", async () => {
  const full = encodeIdx([4, 3, 3], pixels(36));
  await assertMessage(() => parseIdx(full.subarray(0, full.length - 5), "t.idx"), [
    "t.idx",
    "truncated",
    "4x3x3 = 36",
    "found 31",
  ]);
  await assertMessage(() => parseIdx(full.subarray(0, 6), "h.idx"), ["h.idx", "truncated IDX header"]);
});

Deno.test("readIdx: missing file is a UserError naming the path", async () => {
  const err = await assertMessage(() => readIdx("/nonexistent/dir/x-ubyte.gz"), [
    "/nonexistent/dir/x-ubyte.gz",
    "not found",
  ]);
  assert.ok(err instanceof UserError);
});
