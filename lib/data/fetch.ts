// Getting a missing dataset: official download (with progress and checksum) when the network allows,
// else the Debian package for Fashion-MNIST when apt-get and root are available, else exact instructions.
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../output.ts";
import { Progress } from "../progress.ts";
import { type DatasetInfo, hasFiles, IDX_FILES } from "./registry.ts";

/** Official download locations (checked by length and gzip magic, then by the IDX parser on load). */
const SOURCES: Record<string, string> = {
  "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
  mnist: "https://ossci-datasets.s3.amazonaws.com/mnist/",
};

/** How to get each dataset by hand. */
export function instructions(info: DatasetInfo): string {
  switch (info.name) {
    case "fashion-mnist":
      return "install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four " +
        "*-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist into data/fashion-mnist/";
    case "mnist":
      return "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and " +
        "t10k-labels-idx1-ubyte.gz into data/mnist/";
    default:
      return "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and run " +
        "`mkdir -p data/cifar10 && tar -xzf cifar-10-binary.tar.gz -C data/cifar10` (gives " +
        "data/cifar10/cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin)";
  }
}

async function download(url: string, timeoutMs: number): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length") ?? 0);
  const bar = new Progress(`download ${url.split("/").pop()}`, Math.max(1, Math.round(total / 1024)), {
    unit: "KiB",
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
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

async function tryDownload(info: DatasetInfo): Promise<string | null> {
  const base = SOURCES[info.name];
  if (!base) return null;
  const dir = join("data", info.name);
  try {
    for (const f of [...IDX_FILES.train, ...IDX_FILES.test].map((f) => `${f}.gz`)) {
      const bytes = await download(base + f, 8000);
      await writeFileAtomic(join(dir, f), bytes);
    }
    return hasFiles(info, dir) ? dir : null;
  } catch (err) {
    console.error(`download of ${info.name} failed (${(err as Error).message})`);
    return null;
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

async function tryApt(info: DatasetInfo): Promise<string | null> {
  if (info.name !== "fashion-mnist") return null;
  const isRoot = Deno.uid?.() === 0;
  const hasApt = await run("sh", ["-c", "command -v apt-get >/dev/null"]);
  if (!hasApt) return null;
  const sudo = isRoot ? [] : (await run("sh", ["-c", "sudo -n true 2>/dev/null"])) ? ["sudo", "-n"] : null;
  if (!sudo) return null;
  const [cmd, ...pre] = isRoot ? ["apt-get"] : [...sudo, "apt-get"];
  console.error(
    `Fashion-MNIST is missing: installing the Debian package dataset-fashion-mnist (${
      [cmd, ...pre].join(" ")
    } install -y dataset-fashion-mnist)`,
  );
  const env = ["DEBIAN_FRONTEND=noninteractive"];
  const ok = await run("env", [...env, cmd, ...pre, "install", "-y", "-q", "dataset-fashion-mnist"]) ||
    (await run("env", [...env, cmd, ...pre, "update", "-q"]) &&
      await run("env", [...env, cmd, ...pre, "install", "-y", "-q", "dataset-fashion-mnist"]));
  const dir = "/usr/share/datasets/fashion-mnist";
  return ok && hasFiles(info, dir) ? dir : null;
}

/** Makes the dataset available and returns its directory, or throws a UserError with the exact commands. */
export async function ensureDataset(info: DatasetInfo): Promise<string> {
  const dir = (await tryDownload(info)) ?? (await tryApt(info));
  if (dir) return dir;
  throw new UserError(
    `dataset ${info.name} not found in ${info.searchDirs.join(" or ")}: ${instructions(info)}`,
  );
}
