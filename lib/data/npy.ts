// .npy reader and writer (format 1.0/2.0; float32 and uint8; little-endian; C order): the export format.
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../output.ts";

/** A typed n-d array as stored in a .npy file. */
export type NpyArray =
  | { dtype: "float32"; shape: number[]; data: Float32Array }
  | { dtype: "uint8"; shape: number[]; data: Uint8Array };

const DESCR = { float32: "<f4", uint8: "|u1" } as const;

/** Encodes an array as .npy v1.0 bytes, exactly as numpy.save writes them. */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const size = arr.shape.reduce((a, b) => a * b, 1);
  if (size !== arr.data.length) {
    throw new RangeError(
      `encodeNpy: shape [${arr.shape}] holds ${size} values but data has ${arr.data.length}`,
    );
  }
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[arr.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + arr.data.byteLength);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), 10 + header.length);
  return out;
}

/** Decodes .npy bytes; rejects unsupported dtypes, Fortran order and headers that disagree with the data. */
export function decodeNpy(bytes: Uint8Array, path = "<bytes>"): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new UserError(`${path}: not a .npy file (missing \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number, start: number;
  if (major === 1) [hlen, start] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) [hlen, start] = [view.getUint32(8, true), 12];
  else throw new UserError(`${path}: .npy format version ${major} is not supported (expected 1, 2 or 3)`);
  if (bytes.length < start + hlen) throw new UserError(`${path}: truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined) {
    throw new UserError(`${path}: malformed .npy header: ${header.trim()}`);
  }
  if (fortran === "True") {
    throw new UserError(
      `${path}: Fortran-order .npy is not supported; save with C order (np.ascontiguousarray)`,
    );
  }
  const dtype = descr === "<f4" ? "float32" : descr === "|u1" || descr === "<u1" ? "uint8" : null;
  if (!dtype) {
    throw new UserError(
      `${path}: unsupported .npy dtype '${descr}'; accepted: '<f4' (float32), '|u1' (uint8)`,
    );
  }
  const shape = shapeStr.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const bpe = dtype === "float32" ? 4 : 1;
  const body = bytes.length - start - hlen;
  if (body !== size * bpe) {
    throw new UserError(
      `${path}: .npy header says shape (${shape.join(", ")}) = ${
        size * bpe
      } bytes of ${dtype}, file has ${body}`,
    );
  }
  const raw = bytes.slice(start + hlen);
  return dtype === "float32"
    ? { dtype, shape, data: new Float32Array(raw.buffer, 0, size) }
    : { dtype, shape, data: raw };
}

/** Reads a .npy file. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: file not found (expected a .npy file)`);
    }
    throw err;
  }
  return decodeNpy(bytes, path);
}

/** Writes a .npy file atomically. */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr));
}
