// Tests for lib/data/registry.ts and info.ts: the registry, name checks, tiny IDX / CIFAR directories, bad input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx } from "../../../lib/data/idx.ts";
import { datasetInfo, DATASETS, loadDataset, validateDatasetName } from "../../../lib/data/registry.ts";
import { defaultsFor, epsScaleFor } from "../../../lib/data/info.ts";
import { UserError } from "../../../lib/util/errors.ts";
import {
  assertMessage,
  cifar100Records,
  cifarRecords,
  pixels,
  writeTinyCifar,
  writeTinyIdx,
} from "./helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("DATASETS: fashion-mnist, mnist, cifar10, cifar100, rimagenet with shapes and one name per class", () => {
  assert.deepEqual(Object.keys(DATASETS), ["fashion-mnist", "mnist", "cifar10", "cifar100", "rimagenet"]);
  assert.deepEqual(DATASETS["fashion-mnist"].shape, [28, 28, 1]);
  assert.deepEqual(DATASETS.mnist.shape, [28, 28, 1]);
  assert.deepEqual(DATASETS.cifar10.shape, [32, 32, 3]);
  assert.deepEqual([DATASETS.cifar100.numClasses, DATASETS.rimagenet.numClasses], [100, 9]);
  assert.deepEqual(DATASETS.cifar100.classNames.slice(0, 3), ["apple", "aquarium_fish", "baby"]);
  assert.equal(DATASETS.cifar100.classNames[99], "worm");
  for (const info of Object.values(DATASETS)) {
    assert.equal(info.classNames.length, info.numClasses);
    assert.equal(new Set(info.classNames).size, info.numClasses, `${info.name}: class names are distinct`);
  }
  assert.ok(DATASETS["fashion-mnist"].searchDirs.includes("/usr/share/datasets/fashion-mnist"));
});

Deno.test("DatasetInfo.defaults: Fashion-MNIST is cnn / 1 / 5; epsScale elsewhere is sqrt(pixels / 784)", () => {
  assert.deepEqual(DATASETS["fashion-mnist"].defaults, { arch: "cnn", epsScale: 1, epochs: 5 });
  assert.equal(DATASETS.mnist.defaults.epsScale, 1);
  assert.equal(DATASETS.cifar10.defaults.epsScale, 1.98);
  assert.equal(DATASETS.rimagenet.defaults.epsScale, 13.86);
  assert.equal(DATASETS.rimagenet.defaults.arch, "resnet50");
  assert.equal(epsScaleFor([28, 28, 1]), 1);
  assert.deepEqual(defaultsFor([96, 96, 3]).arch, "resnet50");
  assert.deepEqual(defaultsFor([32, 32, 3]), { arch: "cnn", epsScale: 1.98, epochs: 5 });
});

Deno.test("validateDatasetName() accepts registered names and npy:DIR / folder:DIR, rejects the rest clearly", async () => {
  for (const ok of ["fashion-mnist", "cifar100", "rimagenet", "npy:/x/y", "folder:rel/dir"]) {
    validateDatasetName(ok);
  }
  const err = await assertMessage(() => validateDatasetName("cifar-10"), [
    '"cifar-10"',
    "fashion-mnist, mnist, cifar10, cifar100, rimagenet",
    "npy:DIR",
    "folder:DIR",
    'did you mean "cifar10"',
  ]);
  assert.ok(err instanceof RangeError);
  await assertMessage(() => validateDatasetName("npy:"), ['"npy:"', "names no directory", "train_x.npy"]);
  await assertMessage(() => validateDatasetName("folders:/d"), ['"folders:/d"', "folder:DIR"]);
  await assertMessage(() => datasetInfo("npy:/d"), ["npy:/d", "known only from its files", "loadDataset"]);
});

Deno.test("loadDataset: CIFAR-100 binary in a flat dir and in cifar-100-binary/ loads the fine labels", async () => {
  for (const nested of [false, true]) {
    await withDir(async (root) => {
      const dir = nested ? join(root, "cifar-100-binary") : root;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(join(dir, "train.bin"), cifar100Records(6));
      await Deno.writeFile(join(dir, "test.bin"), cifar100Records(2));
      const ds = await loadDataset("cifar100", { dir: root, memoPath: null });
      assert.deepEqual([ds.train.n, ds.test.n], [6, 2]);
      assert.deepEqual(Array.from(ds.train.y), [0, 7, 14, 21, 28, 35]);
      assert.deepEqual(ds.train.shape, [32, 32, 3]);
    });
  }
  await withDir(async (dir) => {
    await assertMessage(() => loadDataset("cifar100", { dir }), [
      dir,
      "missing train.bin, test.bin",
      "cifar-100-binary.tar.gz",
    ]);
  });
});

Deno.test("loadDataset: gzip and raw IDX directories give NHWC [0,1] splits with their labels", async () => {
  for (const gz of [true, false]) {
    await withDir(async (dir) => {
      const labels = await writeTinyIdx(dir, { nTrain: 12, nTest: 5, gz });
      const ds = await loadDataset("fashion-mnist", { dir });
      assert.equal(ds.train.n, 12);
      assert.equal(ds.test.n, 5);
      assert.deepEqual(ds.train.shape, [28, 28, 1]);
      assert.equal(ds.train.x.length, 12 * 784);
      assert.deepEqual(Array.from(ds.test.y), Array.from(labels.test));
      const px = pixels(12 * 784);
      for (const i of [0, 783, 784 * 7 + 100, 12 * 784 - 1]) {
        assert.ok(Math.abs(ds.train.x[i] - px[i] / 255) < 1e-7);
      }
      assert.equal(ds.dir, dir);
    });
  }
});

Deno.test("loadDataset: CIFAR-10 in a flat dir and in cifar-10-batches-bin/ both load", async () => {
  for (const nested of [false, true]) {
    await withDir(async (root) => {
      const dir = nested ? join(root, "cifar-10-batches-bin") : root;
      await Deno.mkdir(dir, { recursive: true });
      await writeTinyCifar(dir, { perBatch: 3, nTest: 4 });
      const ds = await loadDataset("cifar10", { dir: root });
      assert.equal(ds.train.n, 15);
      assert.equal(ds.test.n, 4);
      assert.deepEqual(ds.train.shape, [32, 32, 3]);
      assert.deepEqual(Array.from(ds.train.y.subarray(0, 6)), [0, 1, 2, 0, 1, 2]);
    });
  }
});

Deno.test("loadDataset: unknown dataset name lists the accepted names", async () => {
  const err = await assertMessage(() => loadDataset("fashion_mnist", {}), [
    '"fashion_mnist"',
    "fashion-mnist, mnist, cifar10",
  ]);
  assert.ok(err instanceof RangeError);
  assert.throws(() => datasetInfo("imagenet"), /unknown dataset "imagenet"/);
});

Deno.test("loadDataset: --dir that does not exist names it", async () => {
  const err = await assertMessage(() => loadDataset("mnist", { dir: "/no/such/dir" }), [
    "/no/such/dir",
    "does not exist",
  ]);
  assert.ok(err instanceof UserError);
});

Deno.test("loadDataset: missing files name the directory, the files and the expected layout", async () => {
  await withDir(async (dir) => {
    await assertMessage(() => loadDataset("fashion-mnist", { dir }), [
      dir,
      "train-images-idx3-ubyte[.gz]",
      "t10k-labels-idx1-ubyte[.gz]",
      "apt-get install dataset-fashion-mnist",
    ]);
    await Deno.writeFile(join(dir, "data_batch_1.bin"), cifarRecords(1));
    await assertMessage(() => loadDataset("cifar10", { dir }), [dir, "data_batch_2.bin", "test_batch.bin"]);
  });
});

Deno.test("loadDataset: wrong IDX magic names the file", async () => {
  await withDir(async (dir) => {
    await writeTinyIdx(dir, { nTrain: 4, nTest: 2, gz: false });
    const p = join(dir, "train-labels-idx1-ubyte");
    const b = await Deno.readFile(p);
    b[1] = 7;
    await Deno.writeFile(p, b);
    await assertMessage(() => loadDataset("mnist", { dir }), [p, "magic"]);
  });
});

Deno.test("loadDataset: truncated image and label files name the file and the sizes", async () => {
  await withDir(async (dir) => {
    await writeTinyIdx(dir, { nTrain: 4, nTest: 2, gz: false });
    const img = join(dir, "t10k-images-idx3-ubyte");
    const b = await Deno.readFile(img);
    await Deno.writeFile(img, b.subarray(0, b.length - 100));
    await assertMessage(() => loadDataset("mnist", { dir }), [
      img,
      "truncated",
      "2x28x28 = 1568",
      "found 1468",
    ]);
    await Deno.writeFile(img, b);
    const lbl = join(dir, "train-labels-idx1-ubyte");
    const l = await Deno.readFile(lbl);
    await Deno.writeFile(lbl, l.subarray(0, l.length - 1));
    await assertMessage(() => loadDataset("mnist", { dir }), [lbl, "truncated", "= 4", "found 3"]);
  });
});

Deno.test("loadDataset: image count != label count names both files and counts", async () => {
  await withDir(async (dir) => {
    await writeTinyIdx(dir, { nTrain: 4, nTest: 2, gz: false });
    const lbl = join(dir, "train-labels-idx1-ubyte");
    await Deno.writeFile(lbl, encodeIdx([3], Uint8Array.from([0, 1, 2])));
    await assertMessage(() => loadDataset("mnist", { dir }), [
      join(dir, "train-images-idx3-ubyte"),
      "4 images",
      lbl,
      "3 labels",
    ]);
  });
});

Deno.test("loadDataset: label out of range names the file, value, index and the range", async () => {
  await withDir(async (dir) => {
    await writeTinyIdx(dir, { nTrain: 4, nTest: 3, gz: true });
    const { gzip } = await import("./helpers.ts");
    const lbl = join(dir, "t10k-labels-idx1-ubyte.gz");
    await Deno.writeFile(lbl, await gzip(encodeIdx([3], Uint8Array.from([0, 10, 2]))));
    await assertMessage(() => loadDataset("fashion-mnist", { dir }), [lbl, "label 10", "index 1", "0..9"]);
  });
});

Deno.test("loadDataset: images of the wrong size name the file and the expected shape", async () => {
  await withDir(async (dir) => {
    await writeTinyIdx(dir, { nTrain: 2, nTest: 2, gz: false });
    const img = join(dir, "train-images-idx3-ubyte");
    await Deno.writeFile(img, encodeIdx([2, 32, 32], new Uint8Array(2048)));
    await assertMessage(() => loadDataset("mnist", { dir }), [img, "2x32x32", "Nx28x28"]);
  });
});

Deno.test("loadDataset: CIFAR-10 file with a partial record names the file and 3073", async () => {
  await withDir(async (dir) => {
    await writeTinyCifar(dir, { perBatch: 2, nTest: 2 });
    const p = join(dir, "data_batch_3.bin");
    await Deno.writeFile(p, cifarRecords(2).subarray(0, 5000));
    await assertMessage(() => loadDataset("cifar10", { dir }), [p, "5000", "3073"]);
  });
});

const fmnist = "/usr/share/datasets/fashion-mnist";
const hasFmnist = (() => {
  try {
    return Deno.statSync(join(fmnist, "train-images-idx3-ubyte.gz")).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "loadDataset: real Fashion-MNIST has 60,000/10,000 examples, 6,000/1,000 per class",
  ignore: !hasFmnist,
  fn: async () => {
    const ds = await loadDataset("fashion-mnist", { dir: fmnist });
    assert.equal(ds.train.n, 60000);
    assert.equal(ds.test.n, 10000);
    for (const [split, per] of [[ds.train, 6000], [ds.test, 1000]] as const) {
      const counts = new Array(10).fill(0);
      for (const y of split.y) counts[y]++;
      assert.deepEqual(counts, new Array(10).fill(per));
      let max = 0;
      for (const v of split.x) if (v > max) max = v;
      assert.equal(max, 1);
    }
  },
});

Deno.test("loadDataset(): --imageSize on a format that is not resized is refused by name, not recorded as applied", async () => {
  await assert.rejects(
    () => loadDataset("fashion-mnist", { imageSize: 32, memoPath: null, quiet: true }),
    (e: Error) =>
      e instanceof UserError &&
      /--imageSize=32: fashion-mnist \(format idx\) is read at its own size \(28x28x1\)/.test(e.message) &&
      /drop --imageSize/.test(e.message),
  );
});
