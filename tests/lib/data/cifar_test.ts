// Tests for lib/data/cifar.ts: record parsing with the CHW -> HWC transpose, and size/label errors.
import assert from "node:assert/strict";
import { CIFAR_RECORD, parseCifarBin } from "../../../lib/data/cifar.ts";
import { assertMessage, cifarRecords } from "./helpers.ts";

Deno.test("parseCifarBin: labels and CHW->HWC pixels in [0,1]", () => {
  const n = 3;
  const { x, y } = parseCifarBin(cifarRecords(n), "b.bin");
  assert.deepEqual(Array.from(y), [0, 1, 2]);
  assert.equal(x.length, n * 32 * 32 * 3);
  for (const [i, row, col, c] of [[0, 0, 0, 0], [1, 5, 7, 2], [2, 31, 31, 1]]) {
    const p = row * 32 + col;
    const want = ((i + 7 * c + p) % 256) / 255;
    assert.ok(
      Math.abs(x[((i * 32 + row) * 32 + col) * 3 + c] - want) < 1e-7,
      `pixel ${i},${row},${col},${c}`,
    );
  }
});

Deno.test("parseCifarBin: size not a multiple of 3073 names file, size and record size", async () => {
  const bytes = cifarRecords(2).subarray(0, 2 * CIFAR_RECORD - 10);
  await assertMessage(() => parseCifarBin(bytes, "data_batch_1.bin"), [
    "data_batch_1.bin",
    String(2 * CIFAR_RECORD - 10),
    "multiple of 3073",
  ]);
  await assertMessage(() => parseCifarBin(new Uint8Array(0), "empty.bin"), ["empty.bin", "size 0"]);
});

Deno.test("parseCifarBin: label above 9 names the record and the accepted range", async () => {
  const bytes = cifarRecords(2);
  bytes[CIFAR_RECORD] = 12;
  await assertMessage(() => parseCifarBin(bytes, "test_batch.bin"), [
    "test_batch.bin",
    "record 1",
    "label 12",
    "0..9",
  ]);
});
