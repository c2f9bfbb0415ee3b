// Image grids with captions: images as PNG data URLs (pngjs) in an SVG with text, rendered by resvg.
import { PNG } from "pngjs";
import { encodeBase64 } from "./base64.ts";
import { svgToPng } from "./charts.ts";

/** One cell of a grid: an image [h, w, c] in [0,1] and an optional caption under it. */
export interface GridCell {
  image: Float32Array;
  h: number;
  w: number;
  c: 1 | 3;
  caption?: string;
}

/** Encodes an image [h, w, c] in [0,1] as PNG bytes, upscaled `scale`x (nearest neighbour). */
export function encodePng(image: Float32Array, h: number, w: number, c: 1 | 3, scale = 1): Uint8Array {
  const png = new PNG({ width: w * scale, height: h * scale });
  for (let y = 0; y < h * scale; y++) {
    for (let x = 0; x < w * scale; x++) {
      const s = (Math.floor(y / scale) * w + Math.floor(x / scale)) * c, o = (y * w * scale + x) * 4;
      for (let k = 0; k < 3; k++) {
        png.data[o + k] = Math.round(255 * Math.min(1, Math.max(0, image[s + (c === 3 ? k : 0)])));
      }
      png.data[o + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Lays out rows of cells with optional column/row labels and a title; returns PNG bytes. */
export function imageGrid(
  rows: GridCell[][],
  opts: { scale?: number; colLabels?: string[]; rowLabels?: string[]; title?: string } = {},
): Uint8Array {
  const scale = opts.scale ?? 3;
  const first = rows[0]?.[0];
  if (!first) throw new RangeError("imageGrid: no cells");
  // text widths estimated at 6.7 px per character (11 px DejaVu Sans) and 9 px for the title (14 px bold);
  // columns widen to fit labels and captions, the image to fit the title
  const textW = (t: string | undefined) => (t ? t.length * 6.7 : 0);
  const titleW = (t: string | undefined) => (t ? t.length * 9 : 0);
  const img = first.w * scale, ch = first.h * scale, cap = 16;
  const labelW = Math.max(
    0,
    ...(opts.colLabels ?? []).map(textW),
    ...rows.flat().map((c) => textW(c.caption)),
  );
  const cw = Math.max(img, labelW), gap = 14;
  const left = opts.rowLabels ? 12 + Math.max(...opts.rowLabels.map(textW)) : gap;
  const top = (opts.title ? 26 : 6) + (opts.colLabels ? 18 : 0);
  const ncol = Math.max(...rows.map((r) => r.length));
  const width = Math.max(left + ncol * (cw + gap), titleW(opts.title) + 2 * gap);
  const height = top + rows.length * (ch + cap + gap) + gap;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" font-family="DejaVu Sans" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (opts.title) {
    parts.push(
      `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${
        esc(opts.title)
      }</text>`,
    );
  }
  opts.colLabels?.forEach((l, j) =>
    parts.push(
      `<text x="${left + j * (cw + gap) + cw / 2}" y="${top - 5}" text-anchor="middle">${esc(l)}</text>`,
    )
  );
  rows.forEach((row, i) => {
    const y0 = top + i * (ch + cap + gap);
    if (opts.rowLabels?.[i]) {
      parts.push(
        `<text x="${left - 6}" y="${y0 + ch / 2}" text-anchor="end">${esc(opts.rowLabels[i])}</text>`,
      );
    }
    row.forEach((cell, j) => {
      const x0 = left + j * (cw + gap);
      const url = `data:image/png;base64,${
        encodeBase64(encodePng(cell.image, cell.h, cell.w, cell.c, scale))
      }`;
      parts.push(
        `<image x="${x0 + (cw - img) / 2}" y="${y0}" width="${img}" height="${ch}" xlink:href="${url}"/>`,
      );
      if (cell.caption) {
        parts.push(
          `<text x="${x0 + cw / 2}" y="${y0 + ch + 12}" text-anchor="middle">${esc(cell.caption)}</text>`,
        );
      }
    });
  });
  parts.push("</svg>");
  return svgToPng(parts.join(""), 1);
}

/**
 * Fig 9-style grid of relabelled sets: per class one training example (its first); columns x with its label y,
 * then each variant's image of that example with its new label t. `train`: x [n, h, w, c], y [n]; each variant:
 * x [n, h, w, c], y [n] (the new labels). Returns PNG bytes.
 */
export function relabelGrid(
  train: { x: Float32Array; y: Uint8Array; shape: [number, number, number] },
  variants: Record<string, { x: Float32Array; y: Uint8Array }>,
  names: string[],
): Uint8Array {
  const [h, w, c] = train.shape, d = h * w * c;
  const rows: GridCell[][] = [];
  for (let k = 0; k < names.length; k++) {
    const i = train.y.indexOf(k);
    if (i < 0) continue;
    const cell = (x: Float32Array, caption: string) => ({
      image: x.subarray(i * d, (i + 1) * d),
      h,
      w,
      c: c as 1 | 3,
      caption,
    });
    rows.push([
      cell(train.x, `y=${names[k]}`),
      ...Object.values(variants).map((v) => cell(v.x, `t=${names[v.y[i]]}`)),
    ]);
  }
  return imageGrid(rows, {
    colLabels: ["x (label y)", ...Object.keys(variants).map((v) => `${v} (label t)`)],
    title: "x_adv: the image keeps its class, the new label t looks wrong",
    scale: 3,
  });
}
