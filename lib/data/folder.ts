// Image-folder datasets (`folder:DIR`, Restricted ImageNet): class directories of PNG/JPEG files, decoded once
// into uint8 .npy under a cache directory keyed by the files' checksums, so later loads skip the decoding.
import { basename, dirname, join, relative } from "node:path";
import { UserError } from "../util/errors.ts";
import { Progress } from "../util/progress.ts";
import type { Fingerprint } from "./fingerprint.ts";
import { decodeImage, isGray, resizeSquare, rgbOf } from "./image.ts";
import { type DatasetInfo, defaultsFor, RESTRICTED_IMAGENET, type Split } from "./info.ts";
import { decodeNpy, encodeNpy } from "./npy.ts";

/** Bumped when decoding or resizing changes, so old cache entries are not reused. */
const DECODER_VERSION = 1;
const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** One image file and the class it belongs to. */
interface Entry {
  path: string;
  label: number;
  stat: Deno.FileInfo;
}

/** Options of an image-tree load. */
export interface FolderOptions {
  /** Resize every image to size x size (shorter side, centre crop); absent: all images must share one size. */
  imageSize?: number;
  /** Where decoded datasets are kept (`<cacheDir>/<fingerprint>/`); null: no cache. */
  cacheDir: string | null;
  quiet?: boolean;
  /** "auto": one channel when every image is gray, else 3; 3: always RGB. */
  channels?: "auto" | 3;
}

/** What a directory entry is, with a symbolic link followed to its target (a dangling link: neither). */
async function kindOf(dir: string, e: Deno.DirEntry): Promise<{ file: boolean; dir: boolean }> {
  if (!e.isSymlink) return { file: e.isFile, dir: e.isDirectory };
  try {
    const st = await Deno.stat(join(dir, e.name));
    return { file: st.isFile, dir: st.isDirectory };
  } catch {
    return { file: false, dir: false };
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.startsWith(".") && (await kindOf(dir, e)).dir) out.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${dir}: directory not found`);
    throw err;
  }
  return out.sort();
}

/** The image files of a class directory (sorted); other files are counted in `skipped`. */
async function imagesIn(dir: string, skipped: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const kind = await kindOf(dir, e);
    if (kind.file && IMAGE_EXT.test(e.name)) out.push(e.name);
    else if (kind.file || (e.isSymlink && !kind.dir)) skipped.push(join(dir, e.name)); // a dangling link too
  }
  return out.sort().map((f) => join(dir, f));
}

/** Lists the files of one split: `classDirs[k]` are the directories of class k. */
async function listSplit(
  classDirs: string[][],
  classNames: string[],
  skipped: string[],
): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (let k = 0; k < classDirs.length; k++) {
    let count = 0;
    for (const d of classDirs[k]) {
      for (const path of await imagesIn(d, skipped)) {
        entries.push({ path, label: k, stat: await Deno.stat(path) }), count++;
      }
    }
    if (count === 0) {
      const where = classDirs[k].length === 1
        ? classDirs[k][0]
        : `${dirname(classDirs[k][0])} (${classDirs[k].length} directories: ${
          basename(classDirs[k][0])
        } ...)`;
      throw new UserError(
        `${where}: class "${
          classNames[k]
        }" has no .png/.jpg/.jpeg images; every class needs at least one image ` +
          `in each split`,
      );
    }
  }
  return entries;
}

/** Class directories of a `folder:DIR` dataset: classes are the sorted names of DIR/train's subdirectories. */
export async function folderClasses(
  dir: string,
): Promise<{ classNames: string[]; splits: Record<string, string[][]> }> {
  const train = join(dir, "train"), test = join(dir, "test");
  const names = await subdirs(train);
  if (names.length < 2) {
    throw new UserError(
      `${train}: ${names.length} class director${names.length === 1 ? "y" : "ies"}; expected at least 2 ` +
        `(train/<class>/*.png|*.jpg)`,
    );
  }
  const testNames = await subdirs(test);
  const missing = names.filter((n) => !testNames.includes(n)),
    extra = testNames.filter((n) => !names.includes(n));
  if (missing.length || extra.length) {
    throw new UserError(
      `${test}: class directories differ from ${train}` +
        (missing.length ? `; missing ${missing.join(", ")}` : "") +
        (extra.length ? `; not in train: ${extra.join(", ")}` : "") + "; both splits need the same classes",
    );
  }
  const split = (s: string) => names.map((n) => [join(dir, s, n)]);
  return { classNames: names, splits: { train: split("train"), test: split("test") } };
}

/**
 * Class directories of Restricted ImageNet: DIR/train and DIR/val each hold the 1000 ImageNet wnid
 * directories; the sorted order gives the class index, and each superclass takes its inclusive index range.
 */
export async function rimagenetClasses(
  dir: string,
): Promise<{ classNames: string[]; splits: Record<string, string[][]> }> {
  const splits: Record<string, string[][]> = {};
  for (const [s, sub] of [["train", "train"], ["test", "val"]]) {
    const root = join(dir, sub);
    const wnids = await subdirs(root);
    const bad = wnids.find((w) => !/^n\d{8}$/.test(w));
    if (wnids.length !== 1000 || bad) {
      throw new UserError(
        `${root}: ${bad ? `"${bad}" is not a wnid directory name` : `${wnids.length} class directories`}; ` +
          `expected the 1000 ImageNet wnid directories (n01440764 ... n15075141; val/ sorted into them too)`,
      );
    }
    splits[s] = RESTRICTED_IMAGENET.map(({ range: [lo, hi] }) =>
      wnids.slice(lo, hi + 1).map((w) => join(root, w))
    );
  }
  return { classNames: RESTRICTED_IMAGENET.map((c) => c.name), splits };
}

/** The size every image must have when no image size is given: that of the first image decoded. */
type Ref = { path: string; h: number; w: number } | null;

/**
 * Reads and decodes a split's files into uint8 [n, s, s, 3] (or the common native size), passing each file's
 * bytes to `onRead` (for its checksum). Errors name the file.
 */
async function decodeSplit(
  entries: Entry[],
  size: number | undefined,
  state: { ref: Ref; bar: Progress; onRead: (e: Entry, bytes: Uint8Array) => Promise<void> },
): Promise<{ x: Uint8Array; h: number; w: number; gray: boolean }> {
  let x = new Uint8Array(0), h = size ?? 0, w = size ?? 0, gray = true;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const bytes = await Deno.readFile(e.path);
    await state.onRead(e, bytes);
    const img = decodeImage(bytes, e.path);
    if (!size) {
      const ref = state.ref ??= { path: e.path, h: img.height, w: img.width };
      if (img.height !== ref.h || img.width !== ref.w) {
        throw new UserError(
          `${e.path}: image is ${img.width}x${img.height} but ${ref.path} is ${ref.w}x${ref.h}; all images must ` +
            `have one size, or give an image size to resize them to (e.g. --imageSize=32)`,
        );
      }
      [h, w] = [ref.h, ref.w];
    }
    if (i === 0) x = new Uint8Array(entries.length * h * w * 3);
    const rgb = size ? resizeSquare(img, size) : rgbOf(img);
    if (gray && !isGray(rgb)) gray = false;
    x.set(rgb, i * h * w * 3);
    state.bar.tick(1);
  }
  return { x, h, w, gray };
}

function toSplit(x: Uint8Array, y: Uint8Array, shape: [number, number, number]): Split {
  const f = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) f[i] = x[i] / 255;
  return { x: f, y, n: y.length, shape };
}

function firstChannel(x: Uint8Array): Uint8Array {
  const out = new Uint8Array(x.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = x[i * 3];
  return out;
}

interface Decoded {
  train: { x: Uint8Array; y: Uint8Array };
  test: { x: Uint8Array; y: Uint8Array };
  shape: [number, number, number];
}

/** The cached arrays of `dir` when they are complete and hold `counts` examples per split, else null. */
async function readCache(dir: string, counts: { train: number; test: number }): Promise<Decoded | null> {
  try {
    const r = async (f: string) => decodeNpy(await Deno.readFile(join(dir, f)), join(dir, f));
    const [tx, ty, vx, vy] = await Promise.all(
      ["train_x", "train_y", "test_x", "test_y"].map((f) => r(`${f}.npy`)),
    );
    if ([tx, ty, vx, vy].some((a) => a.dtype !== "uint8") || tx.shape.length !== 4) return null;
    if (ty.data.length !== counts.train || vy.data.length !== counts.test) return null;
    const shape = tx.shape.slice(1) as [number, number, number];
    return {
      train: { x: tx.data as Uint8Array, y: ty.data as Uint8Array },
      test: { x: vx.data as Uint8Array, y: vy.data as Uint8Array },
      shape,
    };
  } catch {
    return null;
  }
}

/** Removes `*.tmp` directories older than an hour that killed processes left in the cache directory. */
async function removeStaleTmp(cacheDir: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(cacheDir)) {
      if (!e.name.endsWith(".tmp")) continue;
      const p = join(cacheDir, e.name);
      const age = Date.now() - ((await Deno.stat(p)).mtime?.getTime() ?? Date.now());
      if (age > 3600_000) await Deno.remove(p, { recursive: true });
    }
  } catch {
    // another process may be cleaning too; stale directories only cost space
  }
}

async function writeCache(dir: string, d: Decoded): Promise<void> {
  const tmp = `${dir}.${crypto.randomUUID()}.tmp`;
  await removeStaleTmp(dirname(dir));
  try {
    await Deno.mkdir(tmp, { recursive: true });
    for (const [s, v] of [["train", d.train], ["test", d.test]] as const) {
      await Deno.writeFile(
        join(tmp, `${s}_x.npy`),
        encodeNpy({ dtype: "uint8", shape: [v.y.length, ...d.shape], data: v.x }),
      );
      await Deno.writeFile(
        join(tmp, `${s}_y.npy`),
        encodeNpy({ dtype: "uint8", shape: [v.y.length], data: v.y }),
      );
    }
    await Deno.rename(tmp, dir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (await readCache(dir, { train: d.train.y.length, test: d.test.y.length })) return; // another process won
    console.error(
      `warning: could not write the decoded-image cache ${dir} (${
        (err as Error).message
      }); continuing without it`,
    );
  }
}

/**
 * Loads an image tree: lists every class's files, fingerprints them (checksums from the memo where size and
 * mtime match), then reads the decoded arrays from `<cacheDir>/<fingerprint>/` or decodes every image with a
 * progress bar and stores them there.
 */
export async function loadImageTree(
  info: DatasetInfo,
  dir: string,
  fp: Fingerprint,
  layout: { classNames: string[]; splits: Record<string, string[][]> },
  opts: FolderOptions,
): Promise<{ train: Split; test: Split; info: DatasetInfo }> {
  const size = opts.imageSize;
  if (size !== undefined && !(Number.isInteger(size) && size >= 1 && size <= 4096)) {
    throw new RangeError(`image size ${size} is not accepted; expected an integer from 1 to 4096 (pixels)`);
  }
  const skipped: string[] = [];
  const entries: Record<"train" | "test", Entry[]> = { train: [], test: [] };
  for (const s of ["train", "test"] as const) {
    entries[s] = await listSplit(layout.splits[s], layout.classNames, skipped);
  }
  if (skipped.length && !opts.quiet) {
    console.error(
      `${dir}: skipped ${skipped.length} file(s) that are not .png/.jpg/.jpeg, e.g. ${skipped[0]}`,
    );
  }
  const all = [...entries.train, ...entries.test];
  const shas = all.map((e) => fp.memo.lookup(e.path, e.stat));
  fp.fact("format", info.format);
  fp.fact("classes", layout.classNames);
  fp.fact("imageSize", size ?? "native");
  fp.fact("channels", opts.channels ?? "auto");
  fp.fact("decoder", DECODER_VERSION);
  const finish = () => {
    all.forEach((e, i) => fp.checksum(`${e.label}/${relative(dir, e.path)}`, shas[i]!));
    return fp.digest();
  };
  let decoded: Decoded | null = null, cacheEntry: string | null = null;
  if (shas.every((s) => s !== null) && opts.cacheDir) {
    cacheEntry = join(opts.cacheDir, finish());
    decoded = await readCache(cacheEntry, { train: entries.train.length, test: entries.test.length });
    // entries appear by rename only, so one that exists but does not read back is corrupt: rebuild it
    if (!decoded) await Deno.remove(cacheEntry, { recursive: true }).catch(() => {});
  }
  if (!decoded) {
    const bar = new Progress(`decode ${info.name}`, all.length, { unit: "img", quiet: opts.quiet });
    const index = new Map(all.map((e, i) => [e, i]));
    const state = {
      ref: null as Ref,
      bar,
      onRead: async (e: Entry, bytes: Uint8Array) => {
        const i = index.get(e)!;
        shas[i] ??= await fp.memo.checksum(e.path, bytes, e.stat);
      },
    };
    const train = await decodeSplit(entries.train, size, state);
    const test = await decodeSplit(entries.test, size, state);
    bar.done();
    const c = opts.channels !== 3 && train.gray && test.gray ? 1 : 3;
    const pick = (x: Uint8Array) => (c === 1 ? firstChannel(x) : x);
    const labels = (s: "train" | "test") => Uint8Array.from(entries[s], (e) => e.label);
    decoded = {
      train: { x: pick(train.x), y: labels("train") },
      test: { x: pick(test.x), y: labels("test") },
      shape: [train.h, train.w, c],
    };
    cacheEntry ??= opts.cacheDir ? join(opts.cacheDir, finish()) : (finish(), null);
    if (cacheEntry) await writeCache(cacheEntry, decoded);
  }
  const shape = decoded.shape;
  return {
    train: toSplit(decoded.train.x, decoded.train.y, shape),
    test: toSplit(decoded.test.x, decoded.test.y, shape),
    info: {
      ...info,
      shape,
      numClasses: layout.classNames.length,
      classNames: layout.classNames,
      sizes: { train: entries.train.length, test: entries.test.length },
      defaults: info.format === "folder" ? defaultsFor(shape) : info.defaults,
    },
  };
}
