// Tests for lib/data/folder.ts through loadDataset("folder:DIR") and "rimagenet": classes, decoding, the
// decoded-image cache, Restricted ImageNet's index ranges, and every malformed input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { RESTRICTED_IMAGENET } from "../../../lib/data/info.ts";
import { encodeNpy } from "../../../lib/data/npy.ts";
import { loadDataset } from "../../../lib/data/registry.ts";
import { UserError } from "../../../lib/util/errors.ts";
import { assertMessage, jpegBytes, pngBytes, withTempDir, writeTinyFolder } from "./helpers.ts";

const quiet = { quiet: true, memoPath: null, cacheDir: null } as const;

Deno.test('loadDataset("folder:DIR"): classes sorted by name, labels by directory, gray images give one channel', async () => {
  await withTempDir(async (dir) => {
    await writeTinyFolder(dir, { train: { zebra: 2, ant: 3 }, test: { zebra: 1, ant: 1 } });
    const ds = await loadDataset(`folder:${dir}`, quiet);
    assert.deepEqual(ds.info.classNames, ["ant", "zebra"]);
    assert.deepEqual(ds.info.shape, [4, 4, 1]);
    assert.deepEqual(Array.from(ds.train.y), [0, 0, 0, 1, 1]);
    assert.deepEqual([ds.train.n, ds.test.n], [5, 2]);
    // ant/1.png has value 40 * 0 + 1; zebra/0.png 40 * 1 + 0
    assert.equal(ds.train.x[16], Math.fround(1 / 255));
    assert.equal(ds.train.x[3 * 16], Math.fround(40 / 255));
    assert.deepEqual(ds.info.sizes, { train: 5, test: 2 });
  });
});

Deno.test('loadDataset("folder:DIR"): colour PNG and JPEG files resized to imageSize give [s, s, 3]', async () => {
  await withTempDir(async (dir) => {
    await writeTinyFolder(dir, { train: { a: 1, b: 1 }, test: { a: 1, b: 1 } }, { size: 6, color: true });
    await Deno.writeFile(join(dir, "train", "b", "big.JPG"), jpegBytes(12, 9, [250, 10, 10]));
    const ds = await loadDataset(`folder:${dir}`, { ...quiet, imageSize: 3 });
    assert.deepEqual(ds.info.shape, [3, 3, 3]);
    assert.equal(ds.train.n, 3);
    const big = ds.train.x.subarray(2 * 27, 3 * 27); // b/0.png, then b/big.JPG (sorted names)
    assert.ok(Math.abs(big[0] * 255 - 250) <= 4 && big[1] * 255 <= 14, `${big.subarray(0, 3)}`);
  });
});

Deno.test('loadDataset("folder:DIR"): decoded once into the cache; a same-size, same-mtime rewrite is not decoded again', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "imgs"), cacheDir = join(root, "cache"), memoPath = join(root, "memo.json");
    await writeTinyFolder(dir, { train: { a: 2, b: 2 }, test: { a: 1, b: 1 } });
    const first = await loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath });
    const entries = [...Deno.readDirSync(cacheDir)].map((e) => e.name);
    assert.deepEqual(entries, [first.fingerprint]);
    const f = join(dir, "train", "a", "0.png");
    const st = Deno.statSync(f);
    await Deno.writeFile(f, new Uint8Array(st.size)); // corrupt, same size
    await Deno.utime(f, st.atime!, st.mtime!);
    const again = await loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath });
    assert.equal(again.fingerprint, first.fingerprint);
    assert.deepEqual(Array.from(again.train.x), Array.from(first.train.x));
    await Deno.utime(f, 1, 1); // now the memo no longer vouches for it: it is read, and it is corrupt
    await assertMessage(() => loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath }), [f]);
  });
});

/** Each breaks a tiny folder dataset; returns the expected message parts. */
const BROKEN: [string, (dir: string) => Promise<string[]>, { imageSize?: number }?][] = [
  ["a non-image .png", async (dir) => {
    const p = join(dir, "train", "b", "1.png");
    await Deno.writeTextFile(p, "not really a png");
    return [p, "not a PNG or JPEG"];
  }],
  ["a truncated PNG", async (dir) => {
    const p = join(dir, "test", "a", "0.png");
    const b = await Deno.readFile(p);
    await Deno.writeFile(p, b.subarray(0, b.length - 20));
    return [p, "cannot decode this PNG", "truncated or corrupt"];
  }],
  ["an empty class folder", async (dir) => {
    await Deno.mkdir(join(dir, "train", "c"));
    await Deno.mkdir(join(dir, "test", "c"));
    return [join(dir, "train", "c"), 'class "c" has no .png/.jpg/.jpeg images'];
  }],
  ["mixed image sizes without imageSize", async (dir) => {
    const p = join(dir, "train", "b", "odd.png");
    await Deno.writeFile(p, pngBytes(5, 4, () => [1, 1, 1]));
    return [p, "5x4", join(dir, "train", "a", "0.png"), "4x4", "--imageSize"];
  }],
  ["test classes that differ from train", async (dir) => {
    await Deno.rename(join(dir, "test", "b"), join(dir, "test", "B"));
    return [join(dir, "test"), "missing b", "not in train: B"];
  }],
  ["a single class", async (dir) => {
    await Deno.remove(join(dir, "train", "b"), { recursive: true });
    return [join(dir, "train"), "1 class directory", "at least 2"];
  }],
  ["no test directory", async (dir) => {
    await Deno.remove(join(dir, "test"), { recursive: true });
    return [dir, "missing test/", "train/<class>/*.png"];
  }],
  ["an image size of 0", () => Promise.resolve(["image size 0", "integer from 1 to 4096"]), { imageSize: 0 }],
];

for (const [what, breakIt, extra] of BROKEN) {
  Deno.test(`loadDataset("folder:DIR"): ${what} is an error naming the file and what was expected`, async () => {
    await withTempDir(async (dir) => {
      await writeTinyFolder(dir, { train: { a: 2, b: 2 }, test: { a: 1, b: 1 } });
      const parts = await breakIt(dir);
      const err = await assertMessage(() => loadDataset(`folder:${dir}`, { ...quiet, ...extra }), parts);
      assert.ok(err instanceof UserError || err instanceof RangeError, `${err.name}: ${err.message}`);
    });
  });
}

Deno.test('loadDataset("folder:DIR"): files that are not images are skipped', async () => {
  await withTempDir(async (dir) => {
    await writeTinyFolder(dir, { train: { a: 1, b: 1 }, test: { a: 1, b: 1 } });
    await Deno.writeTextFile(join(dir, "train", "a", "notes.txt"), "hi");
    await Deno.writeTextFile(join(dir, "train", "a", ".DS_Store"), "");
    assert.equal((await loadDataset(`folder:${dir}`, quiet)).train.n, 2);
  });
});

/** The wnid directory names of a fake ImageNet: n00000000 ... n00000999 (sorted order = class index). */
const wnid = (i: number) => `n${String(i).padStart(8, "0")}`;

/**
 * Writes train/ and val/ with 1000 wnid directories; `images` maps a class index to its image count. PNG
 * images (lossless) carry their class index as red = index mod 256, green = index div 256; `jpeg` writes
 * .JPEG files instead.
 */
async function writeFakeImagenet(root: string, images: Record<number, number>, jpeg = false): Promise<void> {
  for (const split of ["train", "val"]) {
    for (let i = 0; i < 1000; i++) await Deno.mkdir(join(root, split, wnid(i)), { recursive: true });
    for (const [idx, count] of Object.entries(images)) {
      const i = Number(idx), rgb: [number, number, number] = [i % 256, Math.floor(i / 256), 0];
      for (let j = 0; j < count; j++) {
        const bytes = jpeg ? jpegBytes(6, 8, rgb) : pngBytes(6, 8, () => rgb);
        await Deno.writeFile(join(root, split, wnid(i), `${j}.${jpeg ? "JPEG" : "png"}`), bytes);
      }
    }
  }
}

Deno.test('loadDataset("rimagenet"): the 9 superclasses take their inclusive ImageNet index ranges; others are left out', async () => {
  await withTempDir(async (root) => {
    // both ends of each range, plus indices just outside (29, 38, 150, 269, 398) that must be ignored
    const images: Record<number, number> = { 29: 1, 38: 1, 150: 1, 269: 1, 398: 1, 999: 1 };
    for (const { range: [lo, hi] } of RESTRICTED_IMAGENET) images[lo] = 1, images[hi] = 1;
    await writeFakeImagenet(root, images);
    const ds = await loadDataset("rimagenet", { dir: root, imageSize: 4, ...quiet });
    assert.deepEqual(ds.info.classNames, [
      "dog",
      "cat",
      "frog",
      "turtle",
      "bird",
      "primate",
      "fish",
      "crab",
      "insect",
    ]);
    assert.deepEqual(ds.info.shape, [4, 4, 3]);
    assert.equal(ds.train.n, 18);
    assert.equal(ds.test.n, 18);
    const counts = new Array(9).fill(0);
    for (const y of ds.train.y) counts[y]++;
    assert.deepEqual(counts, new Array(9).fill(2));
    // the image's red value is its class index mod 256: each example sits in the range of its label
    const seen = new Set<number>();
    for (let i = 0; i < ds.train.n; i++) {
      const idx = Math.round(ds.train.x[i * 48] * 255) + 256 * Math.round(ds.train.x[i * 48 + 1] * 255);
      const [lo, hi] = RESTRICTED_IMAGENET[ds.train.y[i]].range;
      assert.ok(idx === lo || idx === hi, `example ${i}: ImageNet index ${idx}, label range ${lo}-${hi}`);
      seen.add(idx);
    }
    assert.equal(seen.size, 18);
  });
});

Deno.test('loadDataset("rimagenet"): not 1000 wnid directories, or a superclass without images, is a clear error', async () => {
  await withTempDir(async (root) => {
    const images: Record<number, number> = {};
    for (const { range: [lo] } of RESTRICTED_IMAGENET) images[lo] = 1;
    await writeFakeImagenet(root, images, true);
    await Deno.remove(join(root, "val", wnid(999)));
    await assertMessage(() => loadDataset("rimagenet", { dir: root, ...quiet }), [
      join(root, "val"),
      "999 class directories",
      "1000 ImageNet wnid directories",
    ]);
    await Deno.mkdir(join(root, "val", "extra"));
    await assertMessage(() => loadDataset("rimagenet", { dir: root, ...quiet }), ['"extra" is not a wnid']);
    await Deno.remove(join(root, "val", "extra"));
    await Deno.mkdir(join(root, "val", wnid(999)));
    await Deno.remove(join(root, "train", wnid(30), "0.JPEG"));
    await assertMessage(() => loadDataset("rimagenet", { dir: root, ...quiet }), [
      `${join(root, "train")} (3 directories: ${wnid(30)} ...)`,
      'class "frog" has no .png/.jpg/.jpeg images',
    ]);
  });
});

Deno.test('loadDataset("folder:DIR"): a cache entry of the wrong size is rebuilt; stale .tmp directories are removed', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "imgs"), cacheDir = join(root, "cache"), memoPath = join(root, "memo.json");
    await writeTinyFolder(dir, { train: { a: 2, b: 2 }, test: { a: 1, b: 1 } });
    const first = await loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath });
    const entry = join(cacheDir, first.fingerprint);
    await Deno.writeFile(
      join(entry, "test_y.npy"),
      encodeNpy({ dtype: "uint8", shape: [1], data: new Uint8Array(1) }),
    );
    const stale = join(cacheDir, "x.1234.tmp"), fresh = join(cacheDir, "y.5678.tmp");
    await Deno.mkdir(stale);
    await Deno.mkdir(fresh);
    await Deno.utime(stale, 1, 1);
    const again = await loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath });
    assert.deepEqual(Array.from(again.test.y), Array.from(first.test.y));
    assert.equal((await Deno.readFile(join(entry, "test_y.npy"))).length, 130, "the entry was rebuilt");
    await Deno.remove(join(entry, "train_x.npy")); // incomplete entry
    const third = await loadDataset(`folder:${dir}`, { quiet: true, cacheDir, memoPath });
    assert.deepEqual(Array.from(third.train.x), Array.from(first.train.x));
    const names = [...Deno.readDirSync(cacheDir)].map((e) => e.name).sort();
    assert.deepEqual(names, [first.fingerprint, "y.5678.tmp"]);
  });
});

Deno.test('loadDataset("folder:DIR"): symlinked images and class directories are followed; a dangling link is skipped', async () => {
  await withTempDir(async (dir) => {
    await writeTinyFolder(join(dir, "real"), { train: { a: 2, b: 2 }, test: { a: 1, b: 1 } });
    const root = join(dir, "linked");
    for (const s of ["train", "test"]) {
      await Deno.mkdir(join(root, s, "a"), { recursive: true });
      // class a: its images linked one by one; class b: the whole directory linked
      for await (const e of Deno.readDir(join(dir, "real", s, "a"))) {
        await Deno.symlink(join(dir, "real", s, "a", e.name), join(root, s, "a", e.name));
      }
      await Deno.symlink(join(dir, "real", s, "b"), join(root, s, "b"));
    }
    await Deno.symlink(join(dir, "nowhere.png"), join(root, "train", "a", "gone.png"));
    const real = await loadDataset(`folder:${join(dir, "real")}`, quiet);
    const linked = await loadDataset(`folder:${root}`, quiet);
    assert.deepEqual(linked.info.classNames, ["a", "b"]);
    assert.deepEqual([linked.train.n, linked.test.n], [4, 2]);
    assert.deepEqual(Array.from(linked.train.y), Array.from(real.train.y));
    assert.deepEqual(linked.train.x, real.train.x);
  });
});
