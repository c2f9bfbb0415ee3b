// PNG / JPEG decoding (pngjs, jpeg-js) and resizing to a fixed square size (shorter side, then centre crop).
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { UserError } from "../util/errors.ts";

/** A decoded image: RGBA bytes, row-major [height, width, 4]. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (b: Uint8Array, magic: number[]) =>
  b.length >= magic.length && magic.every((m, i) => b[i] === m);

/** Which decoder `bytes` need, by magic number: "png", "jpeg" or null. */
export function imageKind(bytes: Uint8Array): "png" | "jpeg" | null {
  if (startsWith(bytes, PNG_MAGIC)) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  return null;
}

/**
 * Decodes a PNG (any bit depth, palette, gray or colour; 16-bit is scaled to 8) or a baseline/progressive JPEG
 * by its magic number, whatever the file is called. Errors are UserErrors naming `path` and what was wrong.
 */
export function decodeImage(bytes: Uint8Array, path: string): Rgba {
  const kind = imageKind(bytes);
  if (!kind) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new UserError(
      `${path}: not a PNG or JPEG image (${bytes.length} bytes, starting ${head || "<empty>"}); ` +
        `expected PNG (89 50 4e 47) or JPEG (ff d8 ff) data; remove or convert the file`,
    );
  }
  try {
    if (kind === "png") {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    }
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: 400,
      maxMemoryUsageInMB: 2048,
    });
    return { width: img.width, height: img.height, data: img.data };
  } catch (err) {
    throw new UserError(
      `${path}: cannot decode this ${kind.toUpperCase()} image (${(err as Error).message}); ` +
        `the file is truncated or corrupt: re-export or remove it`,
    );
  }
}

/** For each output index, the first input index and the normalized triangle-filter weights. */
function filterTaps(outN: number, offset: number, inN: number, scale: number) {
  const support = scale < 1 ? 1 / scale : 1;
  const taps: { start: number; w: Float32Array }[] = [];
  for (let o = 0; o < outN; o++) {
    const center = (o + offset + 0.5) / scale;
    const lo = Math.max(0, Math.floor(center - support)), hi = Math.min(inN - 1, Math.ceil(center + support));
    const w = new Float32Array(hi - lo + 1);
    let sum = 0;
    for (let i = lo; i <= hi; i++) sum += w[i - lo] = Math.max(0, 1 - Math.abs(i + 0.5 - center) / support);
    for (let k = 0; k < w.length; k++) w[k] /= sum;
    taps.push({ start: lo, w });
  }
  return taps;
}

/**
 * Resizes an RGBA image to `size` x `size` RGB: scale so the shorter side is `size` (triangle filter, widened
 * when shrinking so every input pixel counts), then crop the centre. Alpha is dropped. Returns [size, size, 3]
 * bytes; an image already `size` x `size` is copied exactly.
 */
export function resizeSquare(img: Rgba, size: number): Uint8Array {
  const { width: w, height: h, data } = img;
  const scale = size / Math.min(w, h);
  const sw = Math.max(size, Math.round(w * scale)), sh = Math.max(size, Math.round(h * scale));
  const xt = filterTaps(size, Math.floor((sw - size) / 2), w, scale);
  const yt = filterTaps(size, Math.floor((sh - size) / 2), h, scale);
  const tmp = new Float32Array(h * size * 3);
  for (let y = 0; y < h; y++) {
    for (let ox = 0; ox < size; ox++) {
      const { start, w: wt } = xt[ox];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < wt.length; k++) {
        const p = (y * w + start + k) * 4;
        r += wt[k] * data[p], g += wt[k] * data[p + 1], b += wt[k] * data[p + 2];
      }
      const t = (y * size + ox) * 3;
      tmp[t] = r, tmp[t + 1] = g, tmp[t + 2] = b;
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const { start, w: wt } = yt[oy];
    for (let i = 0; i < size * 3; i++) {
      let v = 0;
      for (let k = 0; k < wt.length; k++) v += wt[k] * tmp[(start + k) * size * 3 + i];
      out[oy * size * 3 + i] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}

/** The RGB bytes [h, w, 3] of an RGBA image without resizing. */
export function rgbOf(img: Rgba): Uint8Array {
  const n = img.width * img.height, out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = img.data[i * 4], out[i * 3 + 1] = img.data[i * 4 + 1], out[i * 3 + 2] = img.data[i * 4 + 2];
  }
  return out;
}

/** True when every pixel of RGB bytes has r = g = b. */
export function isGray(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false;
  return true;
}
