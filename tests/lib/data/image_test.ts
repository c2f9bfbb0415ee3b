// Tests for lib/data/image.ts: PNG/JPEG decoding by magic number, resizing to a square, bad files.
import assert from "node:assert/strict";
import { decodeImage, imageKind, isGray, resizeSquare, rgbOf } from "../../../lib/data/image.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { assertMessage, jpegBytes, pngBytes } from "./helpers.ts";

Deno.test("decodeImage() reads PNG and JPEG by their magic numbers, whatever the file is called", () => {
  const png = decodeImage(pngBytes(3, 2, (x, y) => [10 * x, 20 * y, 7]), "a.jpg");
  assert.deepEqual([png.width, png.height], [3, 2]);
  assert.deepEqual(Array.from(rgbOf(png).subarray(0, 9)), [0, 0, 7, 10, 0, 7, 20, 0, 7]);
  const jpg = decodeImage(jpegBytes(8, 8, [200, 100, 50]), "b.png");
  assert.deepEqual([jpg.width, jpg.height], [8, 8]);
  const px = rgbOf(jpg).subarray(0, 3);
  for (const [got, want] of [[px[0], 200], [px[1], 100], [px[2], 50]]) {
    assert.ok(Math.abs(got - want) <= 3, `${px}`);
  }
  assert.equal(imageKind(new Uint8Array([0x47, 0x49, 0x46])), null);
});

Deno.test("decodeImage(): a non-image and a truncated PNG or JPEG are UserErrors naming the file", async () => {
  const e1 = await assertMessage(() => decodeImage(new TextEncoder().encode("hello"), "t/cat/1.png"), [
    "t/cat/1.png",
    "not a PNG or JPEG",
    "68 65 6c 6c",
  ]);
  assert.ok(e1 instanceof UserError);
  const png = pngBytes(6, 6, () => [1, 2, 3]);
  await assertMessage(() => decodeImage(png.subarray(0, 40), "t/cat/2.png"), [
    "t/cat/2.png",
    "PNG",
    "truncated or corrupt",
  ]);
  const jpg = jpegBytes(16, 16, [9, 9, 9]);
  await assertMessage(() => decodeImage(jpg.subarray(0, 30), "t/dog/3.jpg"), [
    "t/dog/3.jpg",
    "JPEG",
    "truncated or corrupt",
  ]);
});

Deno.test("resizeSquare() copies an image of the target size exactly", () => {
  const img = decodeImage(pngBytes(5, 5, (x, y) => [x * 50, y * 50, (x * y) % 256]), "p");
  assert.deepEqual(Array.from(resizeSquare(img, 5)), Array.from(rgbOf(img)));
});

Deno.test("resizeSquare() keeps a flat image flat and averages a checkerboard to its mean inside", () => {
  const flat = decodeImage(pngBytes(13, 7, () => [90, 120, 30]), "f");
  const out = resizeSquare(flat, 4);
  assert.equal(out.length, 4 * 4 * 3);
  for (let i = 0; i < out.length; i += 3) assert.deepEqual(Array.from(out.subarray(i, i + 3)), [90, 120, 30]);
  const board = decodeImage(pngBytes(8, 8, (x, y) => ((x + y) % 2 ? [200, 200, 200] : [0, 0, 0])), "b");
  const small = resizeSquare(board, 4); // interior pixels see whole periods of the pattern
  for (const [y, x] of [[1, 1], [1, 2], [2, 1], [2, 2]]) {
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(small[(y * 4 + x) * 3 + c] - 100) <= 1, `${small}`);
  }
});

Deno.test("resizeSquare() scales the shorter side and crops the centre of a wide image", () => {
  // 12x4: left third red, middle third green, right third blue -> 4x4 keeps the green middle
  const img = decodeImage(
    pngBytes(12, 4, (x) => (x < 4 ? [255, 0, 0] : x < 8 ? [0, 255, 0] : [0, 0, 255])),
    "w",
  );
  const out = resizeSquare(img, 4);
  for (let i = 0; i < out.length; i += 3) assert.deepEqual(Array.from(out.subarray(i, i + 3)), [0, 255, 0]);
});

Deno.test("isGray() is true only when r = g = b for every pixel", () => {
  assert.ok(isGray(Uint8Array.from([1, 1, 1, 9, 9, 9])));
  assert.ok(!isGray(Uint8Array.from([1, 1, 1, 9, 9, 8])));
});
