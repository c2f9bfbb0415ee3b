// `npy:DIR` datasets (train_x/train_y/test_x/test_y .npy, optional classes.txt) and export pairs as a train split.
import { basename, join } from "node:path";
import { UserError } from "../util/errors.ts";
import type { Fingerprint } from "./fingerprint.ts";
import { type DatasetInfo, defaultsFor, NPY_FILES, type Split } from "./info.ts";
import { decodeNpyAny, isIntegerDtype, type NpyAny } from "./npy.ts";

/** Reads a file through the fingerprint; a missing file is a UserError saying what it should hold. */
async function readTracked(fp: Fingerprint, name: string, path: string, what: string): Promise<Uint8Array> {
  try {
    return await fp.read(name, path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: file not found (expected ${what})`);
    }
    throw err;
  }
}

/** Images [N, H, W, C] (uint8 0-255, or float32 in [0, 1]) as float32 in [0, 1]; errors name the file. */
export function imagesOf(
  a: NpyAny,
  path: string,
): { x: Float32Array; n: number; shape: [number, number, number] } {
  if (a.shape.length !== 4 || a.shape.some((d) => d < 1) || (a.shape[3] !== 1 && a.shape[3] !== 3)) {
    throw new UserError(
      `${path}: images have shape (${a.shape.join(", ")}); expected (N, H, W, C) with C = 1 or 3` +
        (a.shape.length === 3 ? " (for gray images add the channel axis: x[..., None])" : ""),
    );
  }
  const [n, h, w, c] = a.shape;
  if (a.dtype === "uint8") {
    const x = new Float32Array(a.data.length);
    for (let i = 0; i < x.length; i++) x[i] = (a.data as Uint8Array)[i] / 255;
    return { x, n, shape: [h, w, c] };
  }
  if (a.dtype !== "float32") {
    throw new UserError(
      `${path}: images are ${a.dtype}; expected uint8 (0-255) or float32 in [0, 1] ` +
        `(convert with x.astype(np.float32) or x.astype(np.uint8))`,
    );
  }
  const x = a.data as Float32Array;
  for (let i = 0; i < x.length; i++) {
    if (!(x[i] >= 0 && x[i] <= 1)) {
      throw new UserError(
        `${path}: float32 pixel ${x[i]} at flat index ${i} is outside [0, 1]; ` +
          `expected float32 in [0, 1] (divide 0-255 data by 255, or save it as uint8)`,
      );
    }
  }
  return { x, n, shape: [h, w, c] };
}

/**
 * Labels [N] of any integer dtype as uint8, each in 0..numClasses-1 (when known; else 0..255, the most a
 * Split holds). Errors name the file, the index and the value.
 */
export function labelsOf(a: NpyAny, path: string, numClasses?: number): Uint8Array {
  if (a.shape.length !== 1) {
    throw new UserError(
      `${path}: labels have shape (${a.shape.join(", ")}); expected (N,) (use y.reshape(-1))`,
    );
  }
  if (!isIntegerDtype(a.dtype)) {
    throw new UserError(`${path}: labels are ${a.dtype}; expected an integer dtype (y.astype(np.int64))`);
  }
  const max = (numClasses ?? 256) - 1;
  const y = new Uint8Array(a.shape[0]);
  for (let i = 0; i < y.length; i++) {
    const v = Number(a.data[i]);
    if (!(v >= 0 && v <= max)) {
      throw new UserError(
        `${path}: label ${v} at index ${i} is out of range; expected 0..${max}` +
          (numClasses === undefined ? " (at most 256 classes)" : ` (${numClasses} classes)`),
      );
    }
    y[i] = v;
  }
  return y;
}

/** Reads an images file and a labels file into a Split; checks their lengths and, if given, the shape. */
export async function readNpyPair(
  fp: Fingerprint,
  files: { x: string; y: string; names: [string, string] },
  opts: { numClasses?: number; shape?: readonly number[]; shapeFrom?: string } = {},
): Promise<Split> {
  const xa = decodeNpyAny(await readTracked(fp, files.names[0], files.x, "an images .npy"), files.x);
  const ya = decodeNpyAny(await readTracked(fp, files.names[1], files.y, "a labels .npy"), files.y);
  const { x, n, shape } = imagesOf(xa, files.x);
  if (opts.shape && shape.some((d, i) => d !== opts.shape![i])) {
    throw new UserError(
      `${files.x}: images are ${shape.join("x")}; expected ${opts.shape.join("x")} like ${opts.shapeFrom}`,
    );
  }
  const y = labelsOf(ya, files.y, opts.numClasses);
  if (y.length !== n) {
    throw new UserError(
      `${files.x} holds ${n} images but ${files.y} holds ${y.length} labels; they must match`,
    );
  }
  return { x, y, n, shape };
}

/** Reads `DIR/classes.txt` (one class name a line) when present. */
async function readClasses(fp: Fingerprint, dir: string): Promise<string[] | null> {
  const path = join(dir, "classes.txt");
  let bytes: Uint8Array;
  try {
    bytes = await fp.read("classes.txt", path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const names = new TextDecoder().decode(bytes).split(/\r?\n/).map((s) => s.trim());
  while (names.length && names[names.length - 1] === "") names.pop();
  const blank = names.indexOf("");
  if (names.length < 2 || blank >= 0 || names.length > 256) {
    throw new UserError(
      `${path}: ${
        blank >= 0 ? `line ${blank + 1} is empty` : `${names.length} class names`
      }; expected 2 to 256 non-empty class names, one a line`,
    );
  }
  return names;
}

/** Loads an `npy:DIR` dataset: shapes, class count and names come from the files. */
export async function loadNpyDir(
  info: DatasetInfo,
  dir: string,
  fp: Fingerprint,
): Promise<{ train: Split; test: Split; info: DatasetInfo }> {
  const classes = await readClasses(fp, dir);
  const pair = (s: "train" | "test") => ({
    x: join(dir, NPY_FILES[s][0]),
    y: join(dir, NPY_FILES[s][1]),
    names: [...NPY_FILES[s]] as [string, string],
  });
  const numClasses = classes?.length;
  const train = await readNpyPair(fp, pair("train"), { numClasses });
  const test = await readNpyPair(fp, pair("test"), {
    numClasses,
    shape: train.shape,
    shapeFrom: join(dir, NPY_FILES.train[0]),
  });
  let k = numClasses ?? 0;
  if (!classes) { for (const s of [train, test]) for (const v of s.y) k = Math.max(k, v + 1); }
  if (k < 2) {
    throw new UserError(`${pair("train").y}: every label is 0; expected at least 2 classes`);
  }
  if (!classes) {
    // without classes.txt the class count is the largest label + 1: a class no training image has means the
    // labels do not run 0..C-1 (e.g. 1..10), which would add an empty class and move the chance level
    const seen = new Set(train.y);
    const empty = Array.from({ length: k }, (_, c) => c).filter((c) => !seen.has(c));
    if (empty.length) {
      throw new UserError(
        `${pair("train").y}: the labels run up to ${k - 1}, so there would be ${k} classes, but class${
          empty.length > 1 ? "es" : ""
        } ${empty.slice(0, 10).join(", ")}${empty.length > 10 ? ", ..." : ""} ha${
          empty.length > 1 ? "ve" : "s"
        } no training image; relabel to 0..C-1, or add ${
          join(dir, "classes.txt")
        } with one class name a line ` +
          `(C lines) if those classes are meant to be empty`,
      );
    }
  }
  fp.fact("format", "npy");
  fp.fact("shape", train.shape);
  fp.fact("numClasses", k);
  return {
    train,
    test,
    info: {
      ...info,
      shape: train.shape,
      numClasses: k,
      classNames: classes ?? Array.from({ length: k }, (_, i) => String(i)),
      sizes: { train: train.n, test: test.n },
      defaults: defaultsFor(train.shape),
    },
  };
}

/**
 * Reads one of the project's exports (`<prefix>_x.npy`, `<prefix>_y.npy`) as a train split of `info`'s
 * shape and classes; the files enter the fingerprint as `trainFrom/<file name>`.
 */
export function readTrainFrom(fp: Fingerprint, prefix: string, info: DatasetInfo): Promise<Split> {
  const x = `${prefix}_x.npy`, y = `${prefix}_y.npy`;
  return readNpyPair(fp, { x, y, names: [`trainFrom/${basename(x)}`, `trainFrom/${basename(y)}`] }, {
    numClasses: info.numClasses,
    shape: info.shape,
    shapeFrom: `the images of ${info.name}`,
  });
}
