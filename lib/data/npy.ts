// .npy reader and writer (format 1.0-3.0, C order): float32/uint8 exports, any numeric dtype for reading.
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "../run/output.ts";

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

/** Element types decodeNpyAny() reads, by numpy name. */
export type NpyDtype =
  | "float32"
  | "float64"
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "uint64"
  | "int64";

/** An .npy array of any supported numeric dtype (64-bit integers as BigInt arrays). */
export interface NpyAny {
  dtype: NpyDtype;
  shape: number[];
  data:
    | Float32Array
    | Float64Array
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | BigUint64Array
    | BigInt64Array;
}

const KINDS: Record<string, [NpyDtype, number]> = {
  f4: ["float32", 4],
  f8: ["float64", 8],
  u1: ["uint8", 1],
  i1: ["int8", 1],
  u2: ["uint16", 2],
  i2: ["int16", 2],
  u4: ["uint32", 4],
  i4: ["int32", 4],
  u8: ["uint64", 8],
  i8: ["int64", 8],
};

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  uint64: BigUint64Array,
  int64: BigInt64Array,
} as const;

/** True for the integer dtypes. */
export const isIntegerDtype = (d: NpyDtype): boolean => d !== "float32" && d !== "float64";

/**
 * Decodes .npy bytes of any numeric dtype in `KINDS` (little- or big-endian; big-endian is byte-swapped);
 * rejects other dtypes, Fortran order and headers that disagree with the data size. Errors name `path`.
 */
export function decodeNpyAny(bytes: Uint8Array, path = "<bytes>"): NpyAny {
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
  const m = /^([<>|=])([fiu]\d)$/.exec(descr);
  const kind = m ? KINDS[m[2]] : undefined;
  if (!m || !kind || (m[1] === "|" && kind[1] !== 1)) {
    throw new UserError(
      `${path}: unsupported .npy dtype '${descr}'; accepted: float32/float64 and 8- to 64-bit integers ` +
        `('<f4', '<f8', '|u1', '<i8', ...)`,
    );
  }
  const [dtype, bpe] = kind;
  const shape = shapeStr.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const body = bytes.length - start - hlen;
  if (body !== size * bpe) {
    throw new UserError(
      `${path}: .npy header says shape (${shape.join(", ")}) = ${
        size * bpe
      } bytes of ${dtype}, file has ${body}`,
    );
  }
  const raw = bytes.slice(start + hlen);
  if (m[1] === ">" && bpe > 1) {
    for (let i = 0; i < raw.length; i += bpe) raw.subarray(i, i + bpe).reverse();
  }
  return { dtype, shape, data: new CTORS[dtype](raw.buffer, 0, size) } as NpyAny;
}

/** Decodes .npy bytes of dtype float32 or uint8 (the export format); other dtypes are rejected. */
export function decodeNpy(bytes: Uint8Array, path = "<bytes>"): NpyArray {
  const a = decodeNpyAny(bytes, path);
  if (a.dtype !== "float32" && a.dtype !== "uint8") {
    const descr = /'descr':\s*'([^']+)'/.exec(new TextDecoder().decode(bytes.subarray(0, 256)))?.[1];
    throw new UserError(
      `${path}: unsupported .npy dtype '${descr}'; accepted: '<f4' (float32), '|u1' (uint8)`,
    );
  }
  return a as NpyArray;
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
