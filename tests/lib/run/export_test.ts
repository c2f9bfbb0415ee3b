// Tests for lib/run/export.ts: .npy pair that reads back exactly, plus a PNG preview with one row per label.
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportDataset } from "../../../lib/run/export.ts";
import { readNpy } from "../../../lib/data/npy.ts";
import type { Split } from "../../../lib/data/registry.ts";

function split(labels: number[]): Split {
  const n = labels.length;
  return {
    x: Float32Array.from({ length: n * 28 * 28 }, (_, i) => (i % 97) / 96),
    y: Uint8Array.from(labels),
    n,
    shape: [28, 28, 1],
  };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Uint8Array): [number, number] {
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  return [v.getUint32(16), v.getUint32(20)];
}

Deno.test("exportDataset: x/y .npy read back exactly; preview PNG has a row per present label", async () => {
  const dir = await Deno.makeTempDir();
  const names = ["a", "b", "c"];
  const s = split([0, 1, 2, 0, 1, 2, 0]);
  const files = await exportDataset(dir, "d_test", s, { classNames: names, perClass: 2 });
  assert.deepEqual(files, ["d_test_x.npy", "d_test_y.npy", "d_test_preview.png"].map((f) => join(dir, f)));
  const x = await readNpy(files[0]), y = await readNpy(files[1]);
  assert.equal(x.dtype, "float32");
  assert.deepEqual(x.shape, [7, 28, 28, 1]);
  assert.deepEqual(Array.from(x.data), Array.from(s.x));
  assert.equal(y.dtype, "uint8");
  assert.deepEqual(y.shape, [7]);
  assert.deepEqual(Array.from(y.data), [0, 1, 2, 0, 1, 2, 0]);
  const [w3, h3] = pngSize(await Deno.readFile(files[2]));
  // Same data without any example of label 2 (and a name of the same length, since the title sets a minimum
  // width): one row fewer, so the preview is shorter.
  const two = await exportDataset(dir, "d_twos", split([0, 1, 0, 1]), { classNames: names, perClass: 2 });
  const [w2, h2] = pngSize(await Deno.readFile(two[2]));
  assert.equal(w2, w3);
  assert.ok(h2 < h3, `height ${h2} with 2 labels vs ${h3} with 3`);
  await Deno.remove(dir, { recursive: true });
});
