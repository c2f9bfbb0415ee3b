// Static facts about datasets: the in-memory types, the registry table, file layouts and name checks.
import { join } from "node:path";
import { suggest } from "../util/names.ts";

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

/** What the presets should use on a dataset when the user does not say (applied by the experiments). */
export interface DatasetDefaults {
  /** Architecture of the quick presets' models (a name from lib/core/models.ts). */
  arch: string;
  /** Factor on every L2 radius of the quick presets (tuned on Fashion-MNIST, where it is 1). */
  epsScale: number;
  /** Training epochs of a model on this dataset in the quick presets. */
  epochs: number;
}

/** Static facts about a dataset. For `npy:DIR` / `folder:DIR` they are completed from the files on load. */
export interface DatasetInfo {
  name: string;
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Name of the format that reads it (a key of FORMATS in registry.ts, and of LAYOUTS here). */
  format: string;
  /** Directories searched in order when no --dir is given. */
  searchDirs: string[];
  /** Expected example counts of the official splits (absent when they vary, e.g. Restricted ImageNet). */
  sizes?: { train: number; test: number };
  defaults: DatasetDefaults;
}

/** A loaded dataset. */
export interface Dataset {
  name: string;
  info: DatasetInfo;
  train: Split;
  test: Split;
  /** Directory the files were read from. */
  dir: string;
  /**
   * sha256 (hex) over the bytes of every file read (each file's checksum, by its name inside the dataset
   * directory) plus the format and shape facts: equal fingerprints mean equal data.
   */
  fingerprint: string;
  /** The export the train split was read from (`loadDataset(name, {trainFrom})`), if any. */
  trainFrom?: string;
}

/** L2 radius scale that keeps the per-pixel RMS perturbation of Fashion-MNIST's 28x28x1 (sqrt(d / 784)). */
export function epsScaleFor(shape: readonly number[]): number {
  const d = shape.reduce((a, b) => a * b, 1);
  return Math.round(Math.sqrt(d / 784) * 100) / 100;
}

/** Defaults for a dataset known only from its files (npy:, folder:): by image size. */
export function defaultsFor(shape: [number, number, number]): DatasetDefaults {
  const small = Math.max(shape[0], shape[1]) <= 64;
  return { arch: small ? "cnn" : "resnet50", epsScale: epsScaleFor(shape), epochs: small ? 5 : 150 };
}

/** The 100 fine class names of CIFAR-100, in label order (as in fine_label_names.txt). */
export const CIFAR100_CLASSES = (
  "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can " +
  "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin " +
  "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard " +
  "lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear " +
  "pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark " +
  "shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone " +
  "television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split(" ");

/**
 * Restricted ImageNet (the authors' robustness library): 9 superclasses, each an inclusive range of ImageNet
 * class indices (the index of a wnid directory in sorted order).
 */
export const RESTRICTED_IMAGENET: readonly { name: string; range: [number, number] }[] = [
  { name: "dog", range: [151, 268] },
  { name: "cat", range: [281, 285] },
  { name: "frog", range: [30, 32] },
  { name: "turtle", range: [33, 37] },
  { name: "bird", range: [80, 100] },
  { name: "primate", range: [365, 382] },
  { name: "fish", range: [389, 397] },
  { name: "crab", range: [118, 121] },
  { name: "insect", range: [300, 319] },
];

const FMNIST_DEFAULTS: DatasetDefaults = { arch: "cnn", epsScale: 1, epochs: 5 };
const CIFAR_DEFAULTS: DatasetDefaults = { arch: "cnn", epsScale: epsScaleFor([32, 32, 3]), epochs: 10 };

/** The datasets the project knows by name. */
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
    defaults: FMNIST_DEFAULTS,
  },
  mnist: {
    name: "mnist",
    shape: [28, 28, 1],
    numClasses: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    format: "idx",
    searchDirs: ["data/mnist"],
    sizes: { train: 60000, test: 10000 },
    defaults: FMNIST_DEFAULTS,
  },
  cifar10: {
    name: "cifar10",
    shape: [32, 32, 3],
    numClasses: 10,
    classNames: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    format: "cifar",
    searchDirs: ["data/cifar10/cifar-10-batches-bin", "data/cifar10"],
    sizes: { train: 50000, test: 10000 },
    defaults: CIFAR_DEFAULTS,
  },
  cifar100: {
    name: "cifar100",
    shape: [32, 32, 3],
    numClasses: 100,
    classNames: CIFAR100_CLASSES,
    format: "cifar100",
    searchDirs: ["data/cifar100/cifar-100-binary", "data/cifar100"],
    sizes: { train: 50000, test: 10000 },
    defaults: CIFAR_DEFAULTS,
  },
  rimagenet: {
    name: "rimagenet",
    shape: [224, 224, 3],
    numClasses: RESTRICTED_IMAGENET.length,
    classNames: RESTRICTED_IMAGENET.map((s) => s.name),
    format: "rimagenet",
    searchDirs: ["data/imagenet"],
    defaults: { arch: "resnet50", epsScale: epsScaleFor([224, 224, 3]), epochs: 150 },
  },
};

/** The forms of a dataset name that point at a directory, with what the directory must hold. */
export const DIR_FORMS: Record<string, string> = {
  npy: "npy:DIR (DIR/train_x.npy, train_y.npy, test_x.npy, test_y.npy, optional classes.txt)",
  folder: "folder:DIR (DIR/train/<class>/*.png|*.jpg and DIR/test/<class>/...)",
};

/** A dataset name split into a registered name or a directory form (`npy:DIR`, `folder:DIR`). */
export type ParsedName = { kind: "registered"; info: DatasetInfo } | {
  kind: "dir";
  format: string;
  dir: string;
};

function unknownName(name: string): RangeError {
  const known = Object.keys(DATASETS);
  const forms = Object.values(DIR_FORMS).join(" or ");
  return new RangeError(
    `unknown dataset "${name}"; accepted: ${known.join(", ")}, or ${forms}${
      suggest(name, [...known, ...Object.keys(DIR_FORMS).map((f) => `${f}:`)])
    }`,
  );
}

/** Parses a dataset name; unknown names are a RangeError listing the registered names and the DIR forms. */
export function parseDatasetName(name: string): ParsedName {
  const info = DATASETS[name];
  if (info) return { kind: "registered", info };
  const m = /^([a-z]+):(.*)$/.exec(name);
  if (m && DIR_FORMS[m[1]] !== undefined) {
    if (m[2].trim() === "") {
      throw new RangeError(`dataset "${name}" names no directory; expected ${DIR_FORMS[m[1]]}`);
    }
    return { kind: "dir", format: m[1], dir: m[2] };
  }
  throw unknownName(name);
}

/**
 * Checks a --dataset value (for the config): a registered name, `npy:DIR` or `folder:DIR`. Throws a
 * RangeError listing the accepted names and forms, with a did-you-mean. Does not touch the files.
 */
export function validateDatasetName(name: string): void {
  parseDatasetName(name);
}

/** Looks up a registered dataset by name; unknown names are a RangeError listing the choices. */
export function datasetInfo(name: string): DatasetInfo {
  const p = parseDatasetName(name);
  if (p.kind === "registered") return p.info;
  throw new RangeError(
    `dataset "${name}": its shape and classes are known only from its files; use loadDataset("${name}")`,
  );
}

/** The files (and directories, ending in "/") a dataset directory must hold, per format. */
export interface Layout {
  /** Required entries; an IDX-style entry accepts `<name>.gz` too when `gzOk`. */
  entries: string[];
  gzOk?: boolean;
  /** One line for error messages. */
  expected: string;
}

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
/** CIFAR-100 binary file names. */
export const CIFAR100_FILES = { train: ["train.bin"], test: ["test.bin"] } as const;
/** The four arrays of an `npy:DIR` dataset. */
export const NPY_FILES = {
  train: ["train_x.npy", "train_y.npy"],
  test: ["test_x.npy", "test_y.npy"],
} as const;

/** Directory layouts by format name (a fork adding a format adds its layout here). */
export const LAYOUTS: Record<string, Layout> = {
  idx: {
    entries: [...IDX_FILES.train, ...IDX_FILES.test],
    gzOk: true,
    expected:
      "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz",
  },
  cifar: {
    entries: [...CIFAR_FILES.train, ...CIFAR_FILES.test],
    expected: "data_batch_1.bin ... data_batch_5.bin and test_batch.bin (CIFAR-10 binary version)",
  },
  cifar100: {
    entries: [...CIFAR100_FILES.train, ...CIFAR100_FILES.test],
    expected: "train.bin and test.bin (CIFAR-100 binary version, cifar-100-binary.tar.gz)",
  },
  npy: { entries: [...NPY_FILES.train, ...NPY_FILES.test], expected: DIR_FORMS.npy },
  folder: { entries: ["train/", "test/"], expected: DIR_FORMS.folder },
  rimagenet: {
    entries: ["train/", "val/"],
    expected: "train/ and val/, each holding the 1000 ImageNet wnid directories (n01440764/ ...) of images",
  },
};

const isFile = (p: string) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
};
const isDir = (p: string) => {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
};

/** The path of an IDX-style file in `dir` (`<base>.gz` or `<base>`), or null. */
export function gzOrRaw(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base]) if (isFile(join(dir, name))) return join(dir, name);
  return null;
}

/** The entries of the dataset's layout that `dir` lacks (IDX names shown as `name[.gz]`). */
export function missingFiles(info: DatasetInfo, dir: string): string[] {
  const layout = LAYOUTS[info.format];
  if (!layout) throw new RangeError(`dataset ${info.name}: no layout for format "${info.format}"`);
  return layout.entries.filter((e) =>
    e.endsWith("/") ? !isDir(join(dir, e)) : layout.gzOk ? gzOrRaw(dir, e) === null : !isFile(join(dir, e))
  ).map((e) => layout.gzOk ? `${e}[.gz]` : e);
}

/** True when `dir` holds every file the dataset needs. */
export function hasFiles(info: DatasetInfo, dir: string): boolean {
  return missingFiles(info, dir).length === 0;
}

/** A one-line description of the files a dataset directory must hold. */
export function expectedFiles(info: DatasetInfo): string {
  return LAYOUTS[info.format]?.expected ?? `the files of format ${info.format}`;
}
