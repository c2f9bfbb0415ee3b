// Tests for lib/data/npy.ts: round trips, byte-exact numpy headers, and rejection of unsupported files.
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeNpy, decodeNpyAny, encodeNpy, readNpy, writeNpy } from "../../../lib/data/npy.ts";
import { assertMessage } from "./helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A hand-built .npy: magic, version, header padded to 64 bytes as numpy does, then the body. */
function rawNpy(header: string, body: ArrayLike<number>, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const padded = header + " ".repeat((64 - ((pre + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(pre + padded.length + body.length);
  out.set([0x93, ...enc("NUMPY"), major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, padded.length, true);
  else v.setUint32(8, padded.length, true);
  out.set(enc(padded), pre);
  out.set(body, pre + padded.length);
  return out;
}

Deno.test("encodeNpy/decodeNpy: float32 and uint8 round trip", () => {
  const f = {
    dtype: "float32" as const,
    shape: [2, 3, 1],
    data: Float32Array.from([0, 0.5, 1, -2, 3.25, 1e-8]),
  };
  const gotF = decodeNpy(encodeNpy(f));
  assert.equal(gotF.dtype, "float32");
  assert.deepEqual(gotF.shape, [2, 3, 1]);
  assert.deepEqual(Array.from(gotF.data), Array.from(f.data));
  const u = { dtype: "uint8" as const, shape: [4], data: Uint8Array.from([0, 9, 200, 255]) };
  const gotU = decodeNpy(encodeNpy(u));
  assert.equal(gotU.dtype, "uint8");
  assert.deepEqual(gotU.shape, [4]);
  assert.deepEqual(Array.from(gotU.data), [0, 9, 200, 255]);
});

Deno.test("encodeNpy: header bytes identical to numpy.save (v1.0, 64-byte aligned)", () => {
  // Headers printed by numpy 1.x/2.x np.save for these arrays (header length 0x76 = 118, total 128 bytes).
  const cases: [Parameters<typeof encodeNpy>[0], string][] = [
    [
      { dtype: "float32", shape: [2, 3], data: new Float32Array(6) },
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
    ],
    [
      { dtype: "uint8", shape: [5], data: new Uint8Array(5) },
      "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }",
    ],
    [
      { dtype: "float32", shape: [3, 28, 28, 1], data: new Float32Array(3 * 784) },
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28, 1), }",
    ],
  ];
  for (const [arr, dict] of cases) {
    const bytes = encodeNpy(arr);
    const want = new Uint8Array(128);
    want.set([0x93, ...enc("NUMPY"), 1, 0, 0x76, 0]);
    want.set(enc(dict + " ".repeat(128 - 10 - dict.length - 1) + "\n"), 10);
    assert.deepEqual(Array.from(bytes.subarray(0, 128)), Array.from(want), dict);
    assert.equal(bytes.length, 128 + arr.data.byteLength);
  }
});

Deno.test("encodeNpy: float32 body is little-endian", () => {
  const bytes = encodeNpy({ dtype: "float32", shape: [1], data: Float32Array.from([1]) });
  assert.deepEqual(Array.from(bytes.subarray(128)), [0, 0, 0x80, 0x3f]);
});

Deno.test("encodeNpy: shape that disagrees with data length is a RangeError", async () => {
  const err = await assertMessage(
    () => encodeNpy({ dtype: "uint8", shape: [2, 2], data: new Uint8Array(3) }),
    ["[2,2]", "4 values", "3"],
  );
  assert.ok(err instanceof RangeError);
});

Deno.test("decodeNpy: reads format v2.0 headers", () => {
  const got = decodeNpy(
    rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", Uint8Array.from([1, 2, 3, 4]), 2),
  );
  assert.deepEqual(got.shape, [2, 2]);
  assert.deepEqual(Array.from(got.data), [1, 2, 3, 4]);
});

Deno.test("decodeNpy: unsupported dtype names the dtype and the accepted ones", async () => {
  const bytes = rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8));
  await assertMessage(() => decodeNpy(bytes, "d.npy"), ["d.npy", "'<f8'", "'<f4'", "'|u1'"]);
  const c8 = rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8));
  await assertMessage(() => decodeNpy(c8, "c.npy"), ["c.npy", "'<c8'"]);
  await assertMessage(() => decodeNpyAny(c8, "c.npy"), ["c.npy", "'<c8'", "float32/float64"]);
});

Deno.test("decodeNpyAny: integer dtypes of every width and big-endian data give the stored values", () => {
  const le = new Uint8Array(new BigInt64Array([3n, -1n, 9n]).buffer);
  const i8 = decodeNpyAny(rawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", le));
  assert.equal(i8.dtype, "int64");
  assert.deepEqual(Array.from(i8.data as BigInt64Array, Number), [3, -1, 9]);
  const be = Uint8Array.from([0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe]);
  const i4 = decodeNpyAny(rawNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be));
  assert.deepEqual(Array.from(i4.data as Int32Array), [258, -2]);
  const f4 = new Uint8Array(new Float32Array([0.25]).buffer).reverse();
  const bf = decodeNpy(rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", f4));
  assert.deepEqual(Array.from(bf.data), [0.25]);
  const u2 = decodeNpyAny(rawNpy("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", [7, 1]));
  assert.equal(u2.dtype, "uint16");
  assert.deepEqual(Array.from(u2.data as Uint16Array), [263]);
});

Deno.test("decodeNpy: Fortran order is rejected with the fix", async () => {
  const bytes = rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16));
  await assertMessage(() => decodeNpy(bytes, "f.npy"), ["f.npy", "Fortran", "C order"]);
});

Deno.test("decodeNpy: header that lies about the size reports both sizes", async () => {
  const short = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", new Uint8Array(40));
  await assertMessage(() => decodeNpy(short, "l.npy"), ["l.npy", "(3, 4)", "48 bytes", "has 40"]);
  const long = rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(3));
  await assertMessage(() => decodeNpy(long, "m.npy"), ["m.npy", "2 bytes", "has 3"]);
});

Deno.test("decodeNpy: missing magic and unknown version are rejected", async () => {
  await assertMessage(() => decodeNpy(enc("hello world, not npy"), "t.npy"), ["t.npy", "NUMPY"]);
  const v9 = rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(1));
  v9[6] = 9;
  await assertMessage(() => decodeNpy(v9, "v.npy"), ["v.npy", "version 9"]);
});

Deno.test("writeNpy/readNpy: file round trip", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.npy");
  const data = Float32Array.from({ length: 24 }, (_, i) => i / 7);
  await writeNpy(path, { dtype: "float32", shape: [2, 3, 4], data });
  const got = await readNpy(path);
  assert.deepEqual(got.shape, [2, 3, 4]);
  assert.deepEqual(Array.from(got.data), Array.from(data));
  await Deno.remove(dir, { recursive: true });
});
