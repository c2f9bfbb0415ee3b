// Tests for lib/data/cifar.ts: CIFAR-10/100 record parsing with the CHW -> HWC transpose, size/label errors.
import assert from "node:assert/strict";
import { CIFAR100_LAYOUT, CIFAR_RECORD, parseCifarBin } from "../../../lib/data/cifar.ts";
import { assertMessage, cifar100Records, cifarRecords } from "./helpers.ts";

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

Deno.test("parseCifarBin(CIFAR100_LAYOUT): the fine label (second byte) and the pixels after both label bytes", () => {
  const { x, y } = parseCifarBin(cifar100Records(20), "train.bin", CIFAR100_LAYOUT);
  assert.deepEqual(Array.from(y.subarray(0, 16)), [
    0,
    7,
    14,
    21,
    28,
    35,
    42,
    49,
    56,
    63,
    70,
    77,
    84,
    91,
    98,
    5,
  ]);
  const [i, p, c] = [3, 100, 2];
  assert.equal(x[(i * 1024 + p) * 3 + c], Math.fround(((i + c + p) % 256) / 255));
});

Deno.test("parseCifarBin(CIFAR100_LAYOUT): 3073-byte records and fine labels above 99 are rejected", async () => {
  await assertMessage(() => parseCifarBin(cifarRecords(3), "train.bin", CIFAR100_LAYOUT), [
    "train.bin",
    "multiple of 3074",
    "cifar-100-binary.tar.gz",
  ]);
  const bytes = cifar100Records(2);
  bytes[3074 + 1] = 100;
  await assertMessage(() => parseCifarBin(bytes, "test.bin", CIFAR100_LAYOUT), [
    "test.bin",
    "record 1",
    "label 100",
    "0..99",
  ]);
});
