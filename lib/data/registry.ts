// Dataset registry (fashion-mnist, mnist, cifar10): shapes, class names, where files are looked for, loading.
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { suggest } from "../config.ts";
import { readIdx } from "./idx.ts";
import { parseCifarBin } from "./cifar.ts";
import { ensureDataset, instructions } from "./fetch.ts";

/** One split of a dataset, held in memory. */
export interface Split {
  /** Images [n, h, w, c], float32 in [0, 1], row-major (NHWC). */
  x: Float32Array;
  /** Labels [n], 0..numClasses-1. */
  y: Uint8Array;
  n: number;
  /** [h, w, c] of one image. */
  shape: [number, number, number];
}

/** Static facts about a dataset. */
export interface DatasetInfo {
  name: string;
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  format: "idx" | "cifar";
  /** Directories searched in order when no --dir is given. */
  searchDirs: string[];
  /** Expected example counts of the official splits. */
  sizes: { train: number; test: number };
}

/** A loaded dataset. */
export interface Dataset {
  name: string;
  info: DatasetInfo;
  train: Split;
  test: Split;
  /** Directory the files were read from. */
  dir: string;
}

/** The datasets the project knows. */
export const DATASETS: Record<string, DatasetInfo> = {
  "fashion-mnist": {
    name: "fashion-mnist",
    shape: [28, 28, 1],
    numClasses: 10,
    classNames: [
      "t-shirt",
      "trouser",
      "pullover",
      "dress",
      "coat",
      "sandal",
      "shirt",
      "sneaker",
      "bag",
      "boot",
    ],
    format: "idx",
    searchDirs: ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"],
    sizes: { train: 60000, test: 10000 },
  },
  mnist: {
    name: "mnist",
    shape: [28, 28, 1],
    numClasses: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    format: "idx",
    searchDirs: ["data/mnist"],
    sizes: { train: 60000, test: 10000 },
  },
  cifar10: {
    name: "cifar10",
    shape: [32, 32, 3],
    numClasses: 10,
    classNames: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    format: "cifar",
    searchDirs: ["data/cifar10/cifar-10-batches-bin", "data/cifar10"],
    sizes: { train: 50000, test: 10000 },
  },
};

/** IDX file names of a split (the .gz name; the uncompressed name is also accepted). */
export const IDX_FILES = {
  train: ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
  test: ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
} as const;
/** CIFAR-10 binary file names. */
export const CIFAR_FILES = {
  train: ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
  test: ["test_batch.bin"],
} as const;

/** Looks up a dataset by name; unknown names are a RangeError listing the choices. */
export function datasetInfo(name: string): DatasetInfo {
  const info = DATASETS[name];
  if (!info) {
    throw new RangeError(
      `unknown dataset "${name}"; accepted: ${Object.keys(DATASETS).join(", ")}${
        suggest(name, Object.keys(DATASETS))
      }`,
    );
  }
  return info;
}

const exists = (p: string) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
};

/** The path of an IDX file in `dir` (gz or raw), or null. */
function idxPath(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base]) if (exists(join(dir, name))) return join(dir, name);
  return null;
}

/** The files of the dataset that `dir` lacks (IDX names without .gz; either form is accepted). */
export function missingFiles(info: DatasetInfo, dir: string): string[] {
  if (info.format === "idx") {
    return [...IDX_FILES.train, ...IDX_FILES.test].filter((b) => idxPath(dir, b) === null).map((b) =>
      `${b}[.gz]`
    );
  }
  return [...CIFAR_FILES.train, ...CIFAR_FILES.test].filter((f) => !exists(join(dir, f)));
}

/** True when `dir` holds every file the dataset needs. */
export function hasFiles(info: DatasetInfo, dir: string): boolean {
  return missingFiles(info, dir).length === 0;
}

/** A one-line description of the files a dataset directory must hold. */
export function expectedFiles(info: DatasetInfo): string {
  return info.format === "idx"
    ? "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz"
    : "data_batch_1.bin ... data_batch_5.bin and test_batch.bin (CIFAR-10 binary version)";
}

async function loadIdxSplit(info: DatasetInfo, dir: string, split: "train" | "test"): Promise<Split> {
  const [imgBase, lblBase] = IDX_FILES[split];
  const imgPath = idxPath(dir, imgBase) ?? join(dir, `${imgBase}.gz`);
  const lblPath = idxPath(dir, lblBase) ?? join(dir, `${lblBase}.gz`);
  const img = await readIdx(imgPath);
  const lbl = await readIdx(lblPath);
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

async function loadCifarSplit(info: DatasetInfo, dir: string, split: "train" | "test"): Promise<Split> {
  const parts: { x: Float32Array; y: Uint8Array }[] = [];
  for (const f of CIFAR_FILES[split]) {
    const path = join(dir, f);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      throw new UserError(`${path}: file not found (CIFAR-10 binary version expected; see data/README.md)`);
    }
    parts.push(parseCifarBin(bytes, path));
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

/**
 * Loads a dataset's train and test splits. Without `dir`, searches the registry's directories and, when
 * `fetch` is not false, fetches or installs the data if it is missing (see fetch.ts). With `dir`, reads
 * only there (the directory must exist). Errors are UserErrors naming the file and what was expected.
 */
export async function loadDataset(
  name: string,
  opts: { dir?: string; fetch?: boolean } = {},
): Promise<Dataset> {
  const info = datasetInfo(name);
  let dir: string;
  if (opts.dir) {
    try {
      if (!Deno.statSync(opts.dir).isDirectory) throw new Error();
    } catch {
      throw new UserError(
        `--dir ${opts.dir}: directory does not exist; give a directory holding the ${name} files`,
      );
    }
    const nested = join(opts.dir, "cifar-10-batches-bin");
    dir = info.format === "cifar" && !hasFiles(info, opts.dir) && hasFiles(info, nested) ? nested : opts.dir;
    const missing = missingFiles(info, dir);
    if (missing.length) {
      throw new UserError(
        `${dir}: missing ${missing.join(", ")} (expected ${expectedFiles(info)}); ${instructions(info)}`,
      );
    }
  } else {
    const found = info.searchDirs.find((d) => hasFiles(info, d));
    if (found) dir = found;
    else if (opts.fetch === false) {
      throw new UserError(
        `dataset ${name} not found in ${info.searchDirs.join(" or ")}: ${instructions(info)}`,
      );
    } else dir = await ensureDataset(info);
  }
  const load = info.format === "idx" ? loadIdxSplit : loadCifarSplit;
  return { name, info, train: await load(info, dir, "train"), test: await load(info, dir, "test"), dir };
}
