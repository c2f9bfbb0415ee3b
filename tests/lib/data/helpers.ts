// Test helpers for the data layer: gzip, tiny IDX / CIFAR-10 datasets written in the real formats.
import { join } from "node:path";
import { encodeIdx } from "../../../lib/data/idx.ts";
import { CIFAR_RECORD } from "../../../lib/data/cifar.ts";

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
