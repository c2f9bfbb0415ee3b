// Test helpers for the data layer: gzip, tiny IDX / CIFAR / npy / image-folder datasets in the real formats.
import { join } from "node:path";
import { encodeIdx } from "../../../lib/data/idx.ts";
import { CIFAR_RECORD } from "../../../lib/data/cifar.ts";
import { encodeNpy } from "../../../lib/data/npy.ts";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import type { Split } from "../../../lib/data/info.ts";
import { createRng } from "../../../lib/util/rng.ts";

/** Gzip-compresses bytes with the platform CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Deterministic pixel bytes: value (i * 37 + 11) mod 256. */
export function pixels(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256);
}

/**
 * Writes a tiny IDX dataset (train nTrain, test nTest, 28x28, labels i mod 10) into `dir`,
 * gzip-compressed when `gz`. Returns the label arrays.
 */
export async function writeTinyIdx(
  dir: string,
  opts: { nTrain: number; nTest: number; gz: boolean },
): Promise<{ train: Uint8Array; test: Uint8Array }> {
  const labels = { train: new Uint8Array(0), test: new Uint8Array(0) };
  for (const [split, prefix, n] of [["train", "train", opts.nTrain], ["test", "t10k", opts.nTest]] as const) {
    const y = Uint8Array.from({ length: n }, (_, i) => i % 10);
    labels[split] = y;
    const img = encodeIdx([n, 28, 28], pixels(n * 784));
    const lbl = encodeIdx([n], y);
    const ext = opts.gz ? ".gz" : "";
    await Deno.writeFile(join(dir, `${prefix}-images-idx3-ubyte${ext}`), opts.gz ? await gzip(img) : img);
    await Deno.writeFile(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), opts.gz ? await gzip(lbl) : lbl);
  }
  return labels;
}

/** CIFAR-10 records: label i mod 10, channel c of pixel p = (i + 7c + p) mod 256. */
export function cifarRecords(n: number): Uint8Array {
  const out = new Uint8Array(n * CIFAR_RECORD);
  for (let i = 0; i < n; i++) {
    out[i * CIFAR_RECORD] = i % 10;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[i * CIFAR_RECORD + 1 + c * 1024 + p] = (i + 7 * c + p) % 256;
    }
  }
  return out;
}

/** Writes data_batch_1..5.bin (`perBatch` records each) and test_batch.bin (`nTest`) into `dir`. */
export async function writeTinyCifar(dir: string, opts: { perBatch: number; nTest: number }): Promise<void> {
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(join(dir, `data_batch_${b}.bin`), cifarRecords(opts.perBatch));
  }
  await Deno.writeFile(join(dir, "test_batch.bin"), cifarRecords(opts.nTest));
}

/** Asserts that `fn` rejects/throws an error whose message contains every one of `parts`. */
export async function assertMessage(fn: () => unknown, parts: string[]): Promise<Error> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof Error)) {
    throw new Error(`expected an error mentioning ${parts.join(", ")}; none thrown`);
  }
  for (const p of parts) {
    if (!err.message.includes(p)) throw new Error(`error message "${err.message}" does not mention "${p}"`);
  }
  return err;
}

/** RGBA PNG bytes of a w x h image whose pixel (x, y) has colour `rgb(x, y)`. */
export function pngBytes(
  w: number,
  h: number,
  rgb: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = rgb(x, y), p = (y * w + x) * 4;
      png.data[p] = r, png.data[p + 1] = g, png.data[p + 2] = b, png.data[p + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** JPEG bytes (quality 95) of a w x h image of one colour. */
export function jpegBytes(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 95).data);
}

/**
 * Writes `root/<split>/<class>/<i>.png` images: `counts[split][class]` images of size x size, pixel values
 * 40 * class + i (gray unless `color`, which adds a channel pattern).
 */
export async function writeTinyFolder(
  root: string,
  counts: Record<string, Record<string, number>>,
  opts: { size?: number; color?: boolean } = {},
): Promise<void> {
  const size = opts.size ?? 4;
  for (const [split, classes] of Object.entries(counts)) {
    for (const [k, c] of Object.keys(classes).sort().entries()) {
      const dir = join(root, split, c);
      await Deno.mkdir(dir, { recursive: true });
      for (let i = 0; i < classes[c]; i++) {
        const v = 40 * k + i;
        await Deno.writeFile(
          join(dir, `${i}.png`),
          pngBytes(size, size, (x) => opts.color ? [v, (v + 50 + x) % 256, 200] : [v, v, v]),
        );
      }
    }
  }
}

/** Writes an `npy:DIR` dataset: x uint8 [n, h, w, c] = (i + j) mod 256, y int64 = i mod k. */
export async function writeTinyNpy(
  dir: string,
  opts: { nTrain: number; nTest: number; shape?: [number, number, number]; k?: number; classes?: string[] },
): Promise<void> {
  const [h, w, c] = opts.shape ?? [4, 4, 1], k = opts.k ?? 3, d = h * w * c;
  for (const [s, n] of [["train", opts.nTrain], ["test", opts.nTest]] as const) {
    const x = Uint8Array.from({ length: n * d }, (_, j) => (Math.floor(j / d) + j) % 256);
    await Deno.writeFile(
      join(dir, `${s}_x.npy`),
      encodeNpy({ dtype: "uint8", shape: [n, h, w, c], data: x }),
    );
    await Deno.writeFile(join(dir, `${s}_y.npy`), npyInt64(Array.from({ length: n }, (_, i) => i % k)));
  }
  if (opts.classes) await Deno.writeTextFile(join(dir, "classes.txt"), opts.classes.join("\n") + "\n");
}

/** .npy bytes of an int64 vector, as numpy writes np.array(values). */
export function npyInt64(values: number[]): Uint8Array {
  const header = `{'descr': '<i8', 'fortran_order': False, 'shape': (${values.length},), }`;
  const padded = header + " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const body = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
  const out = new Uint8Array(10 + padded.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), 10);
  out.set(body, 10 + padded.length);
  return out;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** CIFAR-100 records: coarse label i mod 20, fine label (7 i) mod 100, pixel p of channel c = (i + c + p) mod 256. */
export function cifar100Records(n: number): Uint8Array {
  const rec = 3074, out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    out[i * rec] = i % 20;
    out[i * rec + 1] = (7 * i) % 100;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[i * rec + 2 + c * 1024 + p] = (i + c + p) % 256;
    }
  }
  return out;
}

/** n noisy 4x4x1 images of `classes` classes: class c is bright in pixel c, labelled by `label(i, c)`. */
export function patternSplit(
  n: number,
  classes: number,
  opts: { seed: number; label?: (i: number, c: number) => number },
): Split {
  const rng = createRng(opts.seed), x = new Float32Array(n * 16), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    for (let p = 0; p < 16; p++) x[i * 16 + p] = 0.3 * rng.next() + (p === c ? 0.6 : 0);
    y[i] = opts.label ? opts.label(i, c) : c;
  }
  return { x, y, n, shape: [4, 4, 1] };
}
