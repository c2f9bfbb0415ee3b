// CIFAR-10 / CIFAR-100 binary readers: records of label byte(s) + 3x32x32 CHW bytes -> NHWC float32 in [0,1].
import { UserError } from "../util/errors.ts";

/** Record size of the CIFAR-10 binary format (1 label byte + 3072 pixel bytes). */
export const CIFAR_RECORD = 3073;

/** How the label bytes of one record are laid out. */
export interface CifarLayout {
  /** Label bytes before the pixels (CIFAR-10: 1; CIFAR-100: 2, coarse then fine). */
  labelBytes: number;
  /** Which of the label bytes is the label used (CIFAR-100: 1, the fine label). */
  labelIndex: number;
  numClasses: number;
  /** Name used in error messages. */
  what: string;
}

/** CIFAR-10: one label byte, 10 classes. */
export const CIFAR10_LAYOUT: CifarLayout = { labelBytes: 1, labelIndex: 0, numClasses: 10, what: "CIFAR-10" };
/** CIFAR-100: coarse and fine label bytes; the 100 fine classes are used. */
export const CIFAR100_LAYOUT: CifarLayout = {
  labelBytes: 2,
  labelIndex: 1,
  numClasses: 100,
  what: "CIFAR-100",
};

/** Parses one CIFAR .bin file: x [n, 32, 32, 3] in [0,1] and labels [n]. */
export function parseCifarBin(
  bytes: Uint8Array,
  path: string,
  layout: CifarLayout = CIFAR10_LAYOUT,
): { x: Float32Array; y: Uint8Array } {
  const rec = layout.labelBytes + 3072;
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new UserError(
      `${path}: size ${bytes.length} bytes is not a multiple of ${rec} (${layout.what} binary records); ` +
        `is this the binary version (${
          layout.what === "CIFAR-10" ? "cifar-10" : "cifar-100"
        }-binary.tar.gz)?`,
    );
  }
  const n = bytes.length / rec;
  const x = new Float32Array(n * 3072);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * rec;
    y[i] = bytes[r + layout.labelIndex];
    if (y[i] >= layout.numClasses) {
      throw new UserError(`${path}: record ${i} has label ${y[i]}; expected 0..${layout.numClasses - 1}`);
    }
    const out = i * 3072, px = r + layout.labelBytes;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) x[out + p * 3 + c] = bytes[px + c * 1024 + p] / 255;
    }
  }
  return { x, y };
}
