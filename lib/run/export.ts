// Exports a built dataset as .npy (x float32 [n,h,w,c] in [0,1], y uint8 [n]) plus a PNG preview grid.
import { join } from "node:path";
import { writeFileAtomic } from "./output.ts";
import { imageGrid } from "../report/grid.ts";
import { writeNpy } from "../data/npy.ts";
import type { Split } from "../data/info.ts";

/** Writes `<name>_x.npy`, `<name>_y.npy` and `<name>_preview.png` (up to `perClass` examples of each label). */
export async function exportDataset(
  dir: string,
  name: string,
  split: Split,
  opts: { classNames: string[]; perClass?: number },
): Promise<string[]> {
  const [h, w, c] = split.shape;
  const files = [`${name}_x.npy`, `${name}_y.npy`, `${name}_preview.png`].map((f) => join(dir, f));
  await writeNpy(files[0], { dtype: "float32", shape: [split.n, h, w, c], data: split.x });
  await writeNpy(files[1], { dtype: "uint8", shape: [split.n], data: split.y });
  const per = opts.perClass ?? 8, d = h * w * c;
  const rows = opts.classNames.map((_, k) => {
    const idx: number[] = [];
    for (let i = 0; i < split.n && idx.length < per; i++) if (split.y[i] === k) idx.push(i);
    return idx.map((i) => ({ image: split.x.subarray(i * d, (i + 1) * d), h, w, c: c as 1 | 3 }));
  });
  const nonEmpty = rows.map((r, k) => [r, opts.classNames[k]] as const).filter(([r]) => r.length > 0);
  if (nonEmpty.length) {
    await writeFileAtomic(
      files[2],
      imageGrid(nonEmpty.map(([r]) => r), {
        rowLabels: nonEmpty.map(([, l]) => `label ${l}`),
        title: `${name}: examples per label`,
        scale: 2,
      }),
    );
  }
  return files;
}
