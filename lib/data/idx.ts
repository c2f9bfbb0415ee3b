// IDX file reader (the MNIST / Fashion-MNIST format), raw or gzip-compressed.
import { UserError } from "../util/errors.ts";

/** Decompresses gzip bytes (detected by the 1f 8b magic); returns other bytes unchanged. */
export async function maybeGunzip(bytes: Uint8Array, path: string): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new UserError(
      `${path}: corrupt gzip data (${(err as Error).message}); re-download or reinstall the file`,
    );
  }
}

/** A parsed IDX tensor of unsigned bytes. */
export interface IdxArray {
  /** Dimensions from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** Row-major unsigned bytes. */
  data: Uint8Array;
}

/** Parses IDX bytes (magic 0x00 0x00 0x08 ndim): unsigned-byte data only. Errors name the file. */
export function parseIdx(bytes: Uint8Array, path: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new UserError(`${path}: not an IDX file (wrong magic number; expected 00 00 08 0N)`);
  }
  if (bytes[2] !== 0x08) {
    throw new UserError(
      `${path}: IDX data type 0x${bytes[2].toString(16)} is not supported (expected 0x08, unsigned byte)`,
    );
  }
  const ndim = bytes[3];
  if (ndim < 1 || ndim > 4) throw new UserError(`${path}: IDX has ${ndim} dimensions; expected 1 to 4`);
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw new UserError(`${path}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - headerLen < size) {
    throw new UserError(
      `${path}: truncated IDX file: header says ${dims.join("x")} = ${size} bytes of data, found ${
        bytes.length - headerLen
      }`,
    );
  }
  return { dims, data: bytes.subarray(headerLen, headerLen + size) };
}

/** Reads an IDX file (raw or .gz) from disk. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw err;
  }
  return parseIdx(await maybeGunzip(bytes, path), path);
}

/** Encodes unsigned bytes as IDX (used by tests and exports). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 8, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
