// Tests for lib/data/npydir.ts through loadDataset("npy:DIR") and {trainFrom}: loading and every malformed input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeNpy } from "../../../lib/data/npy.ts";
import { loadDataset } from "../../../lib/data/registry.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { assertMessage, npyInt64, withTempDir, writeTinyIdx, writeTinyNpy } from "./helpers.ts";

const opts = { memoPath: null, quiet: true };

Deno.test('loadDataset("npy:DIR"): uint8 x and int64 y give [0,1] splits; classes from classes.txt or labels', async () => {
  await withTempDir(async (dir) => {
    await writeTinyNpy(dir, { nTrain: 7, nTest: 4, shape: [4, 5, 3], k: 3 });
    const ds = await loadDataset(`npy:${dir}`, opts);
    assert.equal(ds.name, `npy:${dir}`);
    assert.deepEqual(ds.info.shape, [4, 5, 3]);
    assert.deepEqual([ds.train.n, ds.test.n], [7, 4]);
    assert.deepEqual(Array.from(ds.train.y), [0, 1, 2, 0, 1, 2, 0]);
    assert.equal(ds.info.numClasses, 3);
    assert.deepEqual(ds.info.classNames, ["0", "1", "2"]);
    assert.equal(ds.train.x[61], Math.fround(((1 + 61) % 256) / 255));
    assert.deepEqual(ds.info.defaults, { arch: "cnn", epsScale: 0.28, epochs: 5 });
    await Deno.writeTextFile(join(dir, "classes.txt"), "cat\ndog\nfrog\nbird\n");
    const named = await loadDataset(`npy:${dir}`, opts);
    assert.deepEqual(named.info.classNames, ["cat", "dog", "frog", "bird"]);
    assert.equal(named.info.numClasses, 4);
    assert.notEqual(named.fingerprint, ds.fingerprint, "classes.txt is part of the data");
  });
});

Deno.test('loadDataset("npy:DIR"): float32 x in [0,1] is taken as is', async () => {
  await withTempDir(async (dir) => {
    await writeTinyNpy(dir, { nTrain: 3, nTest: 3 });
    const x = Float32Array.from({ length: 3 * 16 }, (_, i) => i / 47);
    await Deno.writeFile(
      join(dir, "train_x.npy"),
      encodeNpy({ dtype: "float32", shape: [3, 4, 4, 1], data: x }),
    );
    const ds = await loadDataset(`npy:${dir}`, opts);
    assert.deepEqual(Array.from(ds.train.x), Array.from(x));
  });
});

/** Each breaks one file of a tiny npy dataset; returns the expected message parts. */
const BROKEN: [string, (dir: string) => Promise<string[]>][] = [
  ["truncated x file", async (dir) => {
    const p = join(dir, "train_x.npy"), b = await Deno.readFile(p);
    await Deno.writeFile(p, b.subarray(0, b.length - 5));
    return [p, "header says shape (6, 4, 4, 1) = 96 bytes", "file has 91"];
  }],
  ["not an .npy file", async (dir) => {
    const p = join(dir, "test_y.npy");
    await Deno.writeTextFile(p, "0,1,2\n");
    return [p, "not a .npy file"];
  }],
  ["x of the wrong rank", async (dir) => {
    const p = join(dir, "train_x.npy");
    await Deno.writeFile(p, encodeNpy({ dtype: "uint8", shape: [6, 4, 4], data: new Uint8Array(96) }));
    return [p, "(6, 4, 4)", "expected (N, H, W, C)", "x[..., None]"];
  }],
  ["test images of another size", async (dir) => {
    const p = join(dir, "test_x.npy");
    await Deno.writeFile(p, encodeNpy({ dtype: "uint8", shape: [3, 5, 5, 1], data: new Uint8Array(75) }));
    return [p, "5x5x1", "expected 4x4x1", "train_x.npy"];
  }],
  ["x and y of different lengths", async (dir) => {
    const p = join(dir, "train_y.npy");
    await Deno.writeFile(p, npyInt64([0, 1, 2, 0, 1]));
    return [join(dir, "train_x.npy"), "6 images", p, "5 labels"];
  }],
  ["label out of range of classes.txt", async (dir) => {
    await Deno.writeTextFile(join(dir, "classes.txt"), "a\nb\nc\n");
    const p = join(dir, "test_y.npy");
    await Deno.writeFile(p, npyInt64([0, 3, 1]));
    return [p, "label 3 at index 1", "0..2", "3 classes"];
  }],
  ["negative label", async (dir) => {
    const p = join(dir, "train_y.npy");
    await Deno.writeFile(p, npyInt64([0, 1, -1, 0, 1, 2]));
    return [p, "label -1 at index 2", "out of range"];
  }],
  ["float labels", async (dir) => {
    const p = join(dir, "train_y.npy");
    await Deno.writeFile(p, encodeNpy({ dtype: "float32", shape: [6], data: new Float32Array(6) }));
    return [p, "labels are float32", "integer dtype"];
  }],
  ["float32 pixels in 0-255", async (dir) => {
    const p = join(dir, "train_x.npy");
    const data = new Float32Array(96).fill(0.5);
    data[17] = 255;
    await Deno.writeFile(p, encodeNpy({ dtype: "float32", shape: [6, 4, 4, 1], data }));
    return [p, "pixel 255 at flat index 17", "outside [0, 1]", "divide"];
  }],
  ["missing file", async (dir) => {
    await Deno.remove(join(dir, "test_x.npy"));
    return [dir, "missing test_x.npy", "train_x.npy, train_y.npy"];
  }],
  ["one-class classes.txt", async (dir) => {
    const p = join(dir, "classes.txt");
    await Deno.writeTextFile(p, "only\n");
    return [p, "1 class names", "2 to 256"];
  }],
];

for (const [what, breakIt] of BROKEN) {
  Deno.test(`loadDataset("npy:DIR"): ${what} is a UserError naming the file and what was expected`, async () => {
    await withTempDir(async (dir) => {
      await writeTinyNpy(dir, { nTrain: 6, nTest: 3 });
      const parts = await breakIt(dir);
      const err = await assertMessage(() => loadDataset(`npy:${dir}`, opts), parts);
      assert.ok(err instanceof UserError, `${err.name}: ${err.message}`);
    });
  });
}

Deno.test('loadDataset("npy:DIR"): a directory that does not exist is named', async () => {
  await assertMessage(() => loadDataset("npy:/no/such/npy", opts), [
    "/no/such/npy",
    "does not exist",
    "train_x.npy",
  ]);
});

/** Writes an export pair `<prefix>_x.npy` (float32) / `<prefix>_y.npy` (uint8) of n 28x28 images. */
async function writeExport(prefix: string, n: number, labels?: number[]): Promise<void> {
  const x = Float32Array.from({ length: n * 784 }, (_, i) => (i % 11) / 10);
  await Deno.writeFile(`${prefix}_x.npy`, encodeNpy({ dtype: "float32", shape: [n, 28, 28, 1], data: x }));
  const y = Uint8Array.from(labels ?? Array.from({ length: n }, (_, i) => (i + 1) % 10));
  await Deno.writeFile(`${prefix}_y.npy`, encodeNpy({ dtype: "uint8", shape: [y.length], data: y }));
}

Deno.test("loadDataset({trainFrom}): the export is the train split, the test split is the dataset's own", async () => {
  await withTempDir(async (root) => {
    await writeTinyIdx(root, { nTrain: 10, nTest: 5, gz: false });
    const prefix = join(root, "d_det");
    await writeExport(prefix, 6);
    const plain = await loadDataset("mnist", { dir: root, ...opts });
    const ds = await loadDataset("mnist", { dir: root, trainFrom: prefix, ...opts });
    assert.equal(ds.train.n, 6);
    assert.deepEqual(Array.from(ds.train.y), [1, 2, 3, 4, 5, 6]);
    assert.equal(ds.train.x[3], Math.fround(0.3));
    assert.deepEqual(Array.from(ds.test.y), Array.from(plain.test.y));
    assert.equal(ds.trainFrom, prefix);
    assert.notEqual(ds.fingerprint, plain.fingerprint);
    await writeExport(prefix, 6, [1, 2, 3, 4, 5, 7]);
    const other = await loadDataset("mnist", { dir: root, trainFrom: prefix, ...opts });
    assert.notEqual(other.fingerprint, ds.fingerprint, "the export's bytes are in the fingerprint");
  });
});

Deno.test("loadDataset({trainFrom}): missing files, another shape and unknown classes are clear errors", async () => {
  await withTempDir(async (root) => {
    await writeTinyIdx(root, { nTrain: 10, nTest: 5, gz: false });
    const prefix = join(root, "d_rand");
    await assertMessage(() => loadDataset("mnist", { dir: root, trainFrom: prefix, ...opts }), [
      `${prefix}_x.npy`,
      "file not found",
      "prefix of an export",
    ]);
    await Deno.writeFile(
      `${prefix}_x.npy`,
      encodeNpy({ dtype: "uint8", shape: [2, 32, 32, 3], data: new Uint8Array(6144) }),
    );
    await Deno.writeFile(
      `${prefix}_y.npy`,
      encodeNpy({ dtype: "uint8", shape: [2], data: new Uint8Array(2) }),
    );
    await assertMessage(() => loadDataset("mnist", { dir: root, trainFrom: prefix, ...opts }), [
      `${prefix}_x.npy`,
      "32x32x3",
      "expected 28x28x1",
    ]);
    await writeExport(prefix, 3, [0, 10, 2]);
    await assertMessage(() => loadDataset("mnist", { dir: root, trainFrom: prefix, ...opts }), [
      `${prefix}_y.npy`,
      "label 10 at index 1",
      "0..9",
    ]);
  });
});

Deno.test('loadDataset("npy:DIR"): labels that skip a class are an error naming it, unless classes.txt says so', async () => {
  await withTempDir(async (dir) => {
    await writeTinyNpy(dir, { nTrain: 6, nTest: 3, k: 3 });
    // labels 1..3 instead of 0..2: a 4th, empty class 0 would change the chance level
    await Deno.writeFile(join(dir, "train_y.npy"), npyInt64([1, 2, 3, 1, 2, 3]));
    await Deno.writeFile(join(dir, "test_y.npy"), npyInt64([1, 2, 3]));
    await assert.rejects(
      () => loadDataset(`npy:${dir}`, opts),
      (e: Error) =>
        e instanceof UserError &&
        /so there would be 4 classes, but class 0 has no training image/.test(e.message) &&
        /relabel to 0\.\.C-1, or add .*classes\.txt/.test(e.message),
    );
    await Deno.writeTextFile(join(dir, "classes.txt"), "none\na\nb\nc\n");
    assert.equal((await loadDataset(`npy:${dir}`, opts)).info.numClasses, 4);
  });
});
