// CIFAR-10 binary reader: 3073-byte records (label + 3x32x32 CHW bytes) -> NHWC float32 in [0,1].
import { UserError } from "../errors.ts";

/** Record size of the CIFAR-10 binary format (1 label byte + 3072 pixel bytes). */
export const CIFAR_RECORD = 3073;

/** Parses one CIFAR-10 .bin file: x [n, 32, 32, 3] in [0,1] and labels [n]. */
export function parseCifarBin(bytes: Uint8Array, path: string): { x: Float32Array; y: Uint8Array } {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    throw new UserError(
      `${path}: size ${bytes.length} bytes is not a multiple of ${CIFAR_RECORD} (CIFAR-10 binary records); ` +
        `is this the binary version (cifar-10-binary.tar.gz)?`,
    );
  }
  const n = bytes.length / CIFAR_RECORD;
  const x = new Float32Array(n * 3072);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const rec = i * CIFAR_RECORD;
    y[i] = bytes[rec];
    if (y[i] > 9) throw new UserError(`${path}: record ${i} has label ${y[i]}; expected 0..9`);
    const out = i * 3072;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) x[out + p * 3 + c] = bytes[rec + 1 + c * 1024 + p] / 255;
    }
  }
  return { x, y };
}
