// Dataset loading: the format readers by name (idx, cifar, cifar100, npy, folder, rimagenet) and loadDataset().
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.ts";
import { parseCifarBin } from "./cifar.ts";
import { CIFAR100_LAYOUT, CIFAR10_LAYOUT, type CifarLayout } from "./cifar.ts";
import { ensureDataset, instructions } from "./fetch.ts";
import { ChecksumMemo, DEFAULT_MEMO_PATH, Fingerprint } from "./fingerprint.ts";
import { folderClasses, loadImageTree, rimagenetClasses } from "./folder.ts";
import { maybeGunzip, parseIdx } from "./idx.ts";
import {
  CIFAR100_FILES,
  CIFAR_FILES,
  type Dataset,
  type DatasetInfo,
  defaultsFor,
  DIR_FORMS,
  expectedFiles,
  gzOrRaw,
  IDX_FILES,
  missingFiles,
  parseDatasetName,
  type Split,
} from "./info.ts";
import { loadNpyDir, readTrainFrom } from "./npydir.ts";

export {
  CIFAR100_FILES,
  CIFAR_FILES,
  type Dataset,
  type DatasetDefaults,
  type DatasetInfo,
  datasetInfo,
  DATASETS,
  expectedFiles,
  hasFiles,
  IDX_FILES,
  missingFiles,
  type Split,
  validateDatasetName,
} from "./info.ts";

/** Where decoded image folders are cached by default: `.cache/datasets/` at the repository root. */
export const DEFAULT_DATASET_CACHE = fileURLToPath(new URL("../../.cache/datasets", import.meta.url));

/** The formats whose images loadDataset() resizes to `imageSize`; every other format refuses the option. */
const RESIZABLE = ["folder", "rimagenet"];

/** Options of loadDataset(). */
export interface LoadOptions {
  /** Read only from this directory (registered datasets); it must exist. */
  dir?: string;
  /** Download / install a missing registered dataset (default true). */
  fetch?: boolean;
  /** Prefix of an export (`out/sec3_2/d_det` -> d_det_x.npy, d_det_y.npy) read as the train split instead. */
  trainFrom?: string;
  /** Image folders: resize every image to imageSize x imageSize (Restricted ImageNet: default 224). */
  imageSize?: number;
  /** Image folders: cache of decoded arrays (default .cache/datasets; null: no cache). */
  cacheDir?: string | null;
  /** Checksum memo file (default .cache/checksums.json; null: in memory only). */
  memoPath?: string | null;
  /** No progress bars or notes on stderr. */
  quiet?: boolean;
}

/** What a format's reader gets besides the info and the directory. */
export interface LoadContext {
  /** Every file read goes through it (fp.read) so the fingerprint covers its bytes. */
  fp: Fingerprint;
  opts: LoadOptions;
}

/** A dataset format: reads both splits of a directory; returns the info completed from the files. */
export interface DatasetFormat {
  load(
    info: DatasetInfo,
    dir: string,
    ctx: LoadContext,
  ): Promise<{ train: Split; test: Split; info: DatasetInfo }>;
}

/** Reads a file through the fingerprint; a missing file is a UserError naming it. */
async function readFileTracked(fp: Fingerprint, path: string): Promise<Uint8Array> {
  try {
    return await fp.read(path.split("/").pop()!, path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw err;
  }
}

async function loadIdxSplit(
  info: DatasetInfo,
  dir: string,
  split: "train" | "test",
  fp: Fingerprint,
): Promise<Split> {
  const [imgBase, lblBase] = IDX_FILES[split];
  const imgPath = gzOrRaw(dir, imgBase) ?? join(dir, `${imgBase}.gz`);
  const lblPath = gzOrRaw(dir, lblBase) ?? join(dir, `${lblBase}.gz`);
  const img = parseIdx(await maybeGunzip(await readFileTracked(fp, imgPath), imgPath), imgPath);
  const lbl = parseIdx(await maybeGunzip(await readFileTracked(fp, lblPath), lblPath), lblPath);
  const [h, w, c] = info.shape;
  if (img.dims.length !== 3 || img.dims[1] !== h || img.dims[2] !== w) {
    throw new UserError(`${imgPath}: images have shape ${img.dims.join("x")}; expected Nx${h}x${w}`);
  }
  if (lbl.dims.length !== 1) {
    throw new UserError(`${lblPath}: labels have shape ${lbl.dims.join("x")}; expected N`);
  }
  if (img.dims[0] !== lbl.dims[0]) {
    throw new UserError(
      `${imgPath}: ${img.dims[0]} images but ${lblPath} has ${lbl.dims[0]} labels; they must match`,
    );
  }
  const n = img.dims[0];
  const x = new Float32Array(n * h * w * c);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  const y = lbl.data.slice();
  for (let i = 0; i < n; i++) {
    if (y[i] >= info.numClasses) {
      throw new UserError(
        `${lblPath}: label ${y[i]} at index ${i} is out of range; expected 0..${info.numClasses - 1}`,
      );
    }
  }
  return { x, y, n, shape: info.shape };
}

async function loadCifarSplit(
  info: DatasetInfo,
  files: readonly string[],
  dir: string,
  layout: CifarLayout,
  fp: Fingerprint,
): Promise<Split> {
  const parts: { x: Float32Array; y: Uint8Array }[] = [];
  for (const f of files) {
    const path = join(dir, f);
    parts.push(parseCifarBin(await readFileTracked(fp, path), path, layout));
  }
  const n = parts.reduce((a, p) => a + p.y.length, 0);
  const x = new Float32Array(n * 3072), y = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    x.set(p.x, o * 3072);
    y.set(p.y, o);
    o += p.y.length;
  }
  return { x, y, n, shape: info.shape };
}

const cifarFormat = (files: { train: readonly string[]; test: readonly string[] }, layout: CifarLayout) => ({
  async load(info: DatasetInfo, dir: string, { fp }: LoadContext) {
    fp.fact("format", info.format);
    return {
      train: await loadCifarSplit(info, files.train, dir, layout, fp),
      test: await loadCifarSplit(info, files.test, dir, layout, fp),
      info,
    };
  },
});

const folderOpts = (ctx: LoadContext, imageSize?: number) => ({
  imageSize,
  cacheDir: ctx.opts.cacheDir === undefined ? DEFAULT_DATASET_CACHE : ctx.opts.cacheDir,
  quiet: ctx.opts.quiet,
});

/** The dataset formats by name (DatasetInfo.format). A fork registers its own format here. */
export const FORMATS: Record<string, DatasetFormat> = {
  idx: {
    async load(info, dir, { fp }) {
      fp.fact("format", "idx");
      fp.fact("shape", info.shape);
      return {
        train: await loadIdxSplit(info, dir, "train", fp),
        test: await loadIdxSplit(info, dir, "test", fp),
        info,
      };
    },
  },
  cifar: cifarFormat(CIFAR_FILES, CIFAR10_LAYOUT),
  cifar100: cifarFormat(CIFAR100_FILES, CIFAR100_LAYOUT),
  npy: { load: (info, dir, { fp }) => loadNpyDir(info, dir, fp) },
  folder: {
    async load(info, dir, ctx) {
      return loadImageTree(info, dir, ctx.fp, await folderClasses(dir), folderOpts(ctx, ctx.opts.imageSize));
    },
  },
  rimagenet: {
    async load(info, dir, ctx) {
      const opts = { ...folderOpts(ctx, ctx.opts.imageSize ?? info.shape[0]), channels: 3 as const };
      return loadImageTree(info, dir, ctx.fp, await rimagenetClasses(dir), opts);
    },
  },
};

function checkDir(dir: string, what: string): void {
  try {
    if (Deno.statSync(dir).isDirectory) return;
  } catch {
    // reported below
  }
  throw new UserError(`${dir}: directory does not exist; give a directory holding ${what}`);
}

/** The directory to read a registered dataset from: `opts.dir`, a search directory, or a fetched copy. */
async function findDir(info: DatasetInfo, opts: LoadOptions): Promise<string> {
  if (opts.dir) {
    checkDir(opts.dir, `the ${info.name} files (${expectedFiles(info)})`);
    const nested = ["cifar-10-batches-bin", "cifar-100-binary"].map((d) => join(opts.dir!, d));
    const dir = missingFiles(info, opts.dir).length === 0
      ? opts.dir
      : nested.find((d) => missingFiles(info, d).length === 0) ?? opts.dir;
    const missing = missingFiles(info, dir);
    if (missing.length) {
      throw new UserError(
        `${dir}: missing ${missing.join(", ")} (expected ${expectedFiles(info)}); ${instructions(info)}`,
      );
    }
    return dir;
  }
  const found = info.searchDirs.find((d) => missingFiles(info, d).length === 0);
  if (found) return found;
  if (opts.fetch === false) {
    throw new UserError(
      `dataset ${info.name} not found in ${info.searchDirs.join(" or ")}: ${instructions(info)}`,
    );
  }
  return await ensureDataset(info);
}

/**
 * Loads a dataset's train and test splits with its fingerprint. `name` is a registered name (see DATASETS),
 * `npy:DIR` or `folder:DIR`. Without `dir`, a registered dataset is searched in its directories and, unless
 * `fetch` is false, fetched or installed when missing (fetch.ts). With `trainFrom`, the train split is read
 * from that export instead (shape and classes checked against the dataset). Errors are UserErrors naming the
 * file and what was expected.
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<Dataset> {
  const parsed = parseDatasetName(name);
  let info: DatasetInfo, dir: string;
  if (parsed.kind === "registered") {
    info = parsed.info;
    dir = await findDir(info, opts);
  } else {
    dir = parsed.dir;
    checkDir(dir, DIR_FORMS[parsed.format]);
    info = {
      name,
      shape: [0, 0, 0],
      numClasses: 0,
      classNames: [],
      format: parsed.format,
      searchDirs: [dir],
      defaults: defaultsFor([28, 28, 1]),
    };
    const missing = missingFiles(info, dir);
    if (missing.length) {
      throw new UserError(`${dir}: missing ${missing.join(", ")}; expected ${expectedFiles(info)}`);
    }
  }
  const format = FORMATS[info.format];
  if (!format) throw new RangeError(`dataset ${name}: no reader for format "${info.format}"`);
  if (opts.imageSize && !RESIZABLE.includes(info.format)) {
    throw new UserError(
      `--imageSize=${opts.imageSize}: ${name} (format ${info.format}) is read at its own size ` +
        `(${info.shape.some((v) => v > 0) ? info.shape.join("x") : "as stored"}); only image folders are ` +
        `resized (${RESIZABLE.join(", ")} formats: folder:DIR, rimagenet); drop --imageSize`,
    );
  }
  const memo = new ChecksumMemo(opts.memoPath === undefined ? DEFAULT_MEMO_PATH : opts.memoPath);
  const fp = new Fingerprint(memo);
  try {
    const loaded = await format.load(info, dir, { fp, opts });
    let train = loaded.train;
    if (opts.trainFrom) {
      fp.fact("trainFrom", true);
      train = await readTrainFrom(fp, opts.trainFrom, loaded.info).catch((err) => {
        throw err instanceof UserError
          ? new UserError(
            `trainFrom ${opts.trainFrom}: ${err.message} (it takes the prefix of an export: ` +
              `<prefix>_x.npy float32/uint8 [n, ${loaded.info.shape.join(", ")}] and <prefix>_y.npy [n])`,
          )
          : err;
      });
    }
    return {
      name,
      info: loaded.info,
      train,
      test: loaded.test,
      dir,
      fingerprint: fp.digest(),
      ...(opts.trainFrom ? { trainFrom: resolve(opts.trainFrom) } : {}),
    };
  } finally {
    await memo.save();
  }
}
