// Getting a missing dataset: official download (with progress and checksum) when the network allows,
// else the Debian package for Fashion-MNIST when apt-get and root are available, else exact instructions.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "../run/output.ts";
import { Progress } from "../util/progress.ts";
import { type DatasetInfo, hasFiles, IDX_FILES } from "./info.ts";

/** Official download locations (checked by length and gzip magic, then by the IDX parser on load). */
const SOURCES: Record<string, string> = {
  "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
  mnist: "https://ossci-datasets.s3.amazonaws.com/mnist/",
};

/** MD5 of the official .gz files (as published by the dataset authors and used by torchvision). */
const MD5: Record<string, Record<string, string>> = {
  "fashion-mnist": {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
  },
  mnist: {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
  },
};

/** Hex MD5 of bytes. */
export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** How to get each dataset by hand. */
export function instructions(info: DatasetInfo): string {
  switch (info.name) {
    case "fashion-mnist":
      return "install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four " +
        "*-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist into data/fashion-mnist/";
    case "mnist":
      return "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and " +
        "t10k-labels-idx1-ubyte.gz into data/mnist/";
    case "cifar10":
      return "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and run " +
        "`mkdir -p data/cifar10 && tar -xzf cifar-10-binary.tar.gz -C data/cifar10` (gives " +
        "data/cifar10/cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin)";
    case "cifar100":
      return "download cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and run " +
        "`mkdir -p data/cifar100 && tar -xzf cifar-100-binary.tar.gz -C data/cifar100` (gives " +
        "data/cifar100/cifar-100-binary/train.bin and test.bin)";
    case "rimagenet":
      return "put the ImageNet (ILSVRC2012) train/ and val/ folders, each with one directory per wnid " +
        "(val/ sorted into wnid directories, e.g. by the PyTorch ImageNet example's valprep.sh), into " +
        "data/imagenet/ (a symlink is fine), or point --dataDir (experiments) or --dir (deno task data) at it";
    default:
      return `see docs/data.md for the layout of ${info.name}`;
  }
}

/**
 * Downloads `url`: `connectMs` to get the response headers (short, so the offline case is quick), then the
 * body may take as long as it needs as long as data keeps arriving (aborts after `stallMs` without a chunk).
 */
async function download(url: string, opts: { connectMs: number; stallMs: number }): Promise<Uint8Array> {
  const ctl = new AbortController();
  let timer = setTimeout(
    () => ctl.abort(new Error(`no response within ${opts.connectMs} ms`)),
    opts.connectMs,
  );
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new Error(`stalled for ${opts.stallMs} ms`)), opts.stallMs);
  };
  try {
    const res = await fetch(url, { signal: ctl.signal });
    rearm();
    return await readBody(res, url, rearm);
  } finally {
    clearTimeout(timer);
  }
}

async function readBody(res: Response, url: string, onChunk: () => void): Promise<Uint8Array> {
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length") ?? 0);
  const bar = new Progress(`download ${url.split("/").pop()}`, Math.max(1, Math.round(total / 1024)), {
    unit: "KiB",
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    onChunk();
    chunks.push(chunk);
    size += chunk.length;
    bar.tick(Math.round(chunk.length / 1024));
  }
  bar.done();
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) (out.set(c, o), o += c.length);
  if (total && size !== total) throw new Error(`got ${size} of ${total} bytes`);
  if (out[0] !== 0x1f || out[1] !== 0x8b) throw new Error("not gzip data");
  return out;
}

/** The official CIFAR binary archives, their published MD5 and the directory they unpack to. */
const ARCHIVES: Record<string, { url: string; md5: string; sub: string }> = {
  cifar10: {
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    sub: "cifar-10-batches-bin",
  },
  cifar100: {
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    sub: "cifar-100-binary",
  },
};

/** The official download: the directory it filled, or why it failed (null: no official source to try). */
async function tryDownload(info: DatasetInfo): Promise<{ dir: string } | { failed: string | null }> {
  const dir = join("data", info.name);
  const opts = { connectMs: 4000, stallMs: 30000 };
  try {
    const tarball = ARCHIVES[info.name];
    if (tarball) {
      const bytes = await download(tarball.url, opts);
      const got = md5Hex(bytes);
      if (got !== tarball.md5) throw new Error(`checksum mismatch (md5 ${got}, expected ${tarball.md5})`);
      const archive = join(dir, tarball.url.split("/").pop()!);
      await writeFileAtomic(archive, bytes);
      if (!(await run("tar", ["-xzf", archive, "-C", dir]))) throw new Error(`tar -xzf ${archive} failed`);
      await Deno.remove(archive);
      const sub = join(dir, tarball.sub);
      return hasFiles(info, sub) ? { dir: sub } : { failed: `the archive did not unpack to ${sub}` };
    }
    const base = SOURCES[info.name];
    if (!base) return { failed: null };
    for (const f of [...IDX_FILES.train, ...IDX_FILES.test].map((f) => `${f}.gz`)) {
      const bytes = await download(base + f, opts);
      const want = MD5[info.name]?.[f], got = md5Hex(bytes);
      if (want && got !== want) throw new Error(`${f}: checksum mismatch (md5 ${got}, expected ${want})`);
      await writeFileAtomic(join(dir, f), bytes);
    }
    return hasFiles(info, dir) ? { dir } : { failed: `the files did not land in ${dir}` };
  } catch (err) {
    return { failed: (err as Error).message };
  }
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The argv lists that install the Debian package: [install, update, install again] (the update only runs
 * when the first install fails). `sudo` prefixes `sudo -n` (non-interactive) for non-root users.
 */
export function aptCommands(
  opts: { sudo: boolean; packages?: string[] },
): { install: string[]; update: string[] } {
  const pre = [...(opts.sudo ? ["sudo", "-n"] : []), "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"];
  return {
    install: [...pre, "install", "-y", "-q", ...(opts.packages ?? ["dataset-fashion-mnist"])],
    update: [...pre, "update", "-q"],
  };
}

/**
 * Installs Debian packages when apt-get exists and we are root or have passwordless sudo (install, and on
 * failure update + install). Returns false when that is not possible or fails.
 */
export async function aptInstall(packages: string[]): Promise<boolean> {
  if (!(await run("sh", ["-c", "command -v apt-get >/dev/null"]))) return false;
  const isRoot = Deno.uid?.() === 0;
  if (!isRoot && !(await run("sh", ["-c", "sudo -n true 2>/dev/null"]))) return false;
  const { install, update } = aptCommands({ sudo: !isRoot, packages });
  console.error(
    `installing the Debian package(s) ${packages.join(" ")} (${isRoot ? "" : "sudo "}apt-get install -y ${
      packages.join(" ")
    })`,
  );
  const exec = ([cmd, ...args]: string[]) => run(cmd, args);
  return (await exec(install)) || ((await exec(update)) && (await exec(install)));
}

/** The Debian package of a dataset (Fashion-MNIST only): its name and directory once installed, else null. */
async function tryApt(info: DatasetInfo): Promise<{ dir: string; pkg: string } | null> {
  if (info.name !== "fashion-mnist") return null;
  const pkg = "dataset-fashion-mnist", dir = "/usr/share/datasets/fashion-mnist";
  return (await aptInstall([pkg])) && hasFiles(info, dir) ? { dir, pkg } : null;
}

/** How ensureDataset() gets a dataset: the official download, then the Debian package (replaced in tests). */
export interface FetchSteps {
  download(info: DatasetInfo): Promise<{ dir: string } | { failed: string | null }>;
  apt(info: DatasetInfo): Promise<{ dir: string; pkg: string } | null>;
}

/**
 * Makes the dataset available and returns its directory, or throws a UserError with the exact commands. A
 * download that fails is reported only when nothing else worked; a fallback that works says what it used.
 */
export async function ensureDataset(
  info: DatasetInfo,
  steps: FetchSteps = { download: tryDownload, apt: tryApt },
): Promise<string> {
  const got = await steps.download(info);
  if ("dir" in got) return got.dir;
  const apt = await steps.apt(info);
  if (apt) {
    console.error(`${info.name}: using the Debian package ${apt.pkg} (${apt.dir})`);
    return apt.dir;
  }
  throw new UserError(
    `dataset ${info.name} not found in ${info.searchDirs.join(" or ")}${
      got.failed ? ` and its download failed (${got.failed})` : ""
    }: ${instructions(info)}`,
  );
}
