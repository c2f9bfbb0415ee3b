// Planted-feature positive control: a fixed, seeded class pattern p_y of small L2 norm added to every image of
// class y (train and test alike), so a non-robust feature with a known answer exists in the data.
//
// Fashion-MNIST's black background would clip the negative half of a pattern at 0, so pixels are first mapped
// into [margin, 1 - margin] (x -> margin + (1 - 2 margin) x); with the default margin 0.1 a pattern of norm <= 1
// (per-pixel std norm / sqrt(d), about 0.036 on 28x28) stays inside [0, 1] without clipping, and any clipping
// that does happen is counted and reported. A pattern is useful by construction (it names the class) and
// non-robust at any L2 eps above its norm (removing it and adding another class's costs 2 norm at most).
import { createHash } from "node:crypto";
import type { Dataset, Split } from "./info.ts";
import { imageSize } from "./batch.ts";
import { createRng, deriveSeed } from "../util/rng.ts";

/** What becomes of the images' content: "keep" it under its own label, or "shuffle" the labels (a seeded
 * permutation of each split's labels, so every class keeps its size) before the patterns are planted, so the
 * content carries no class signal and the planted pattern is the only feature that names the class. */
export const PLANT_CONTENTS = ["keep", "shuffle"] as const;
export type PlantContent = typeof PLANT_CONTENTS[number];

/** Settings of the planted patterns; norm 0 = no planting. */
export interface PlantConfig {
  /** L2 norm of every class pattern, in [0,1] pixel units (0 = off). */
  norm: number;
  /** Pixels are mapped into [margin, 1 - margin] before the pattern is added. */
  margin: number;
  /** The content under its own label or under shuffled labels (default "keep"). */
  content?: PlantContent;
}

/** ||v||_2 by a loop (Math.hypot(...v) would pass every pixel as an argument: too many for 224x224x3). */
export function l2Norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Off: the data as it is. */
export const NO_PLANT: Required<PlantConfig> = { norm: 0, margin: 0.1, content: "keep" };

/** A copy of the split whose labels are a seeded permutation of its labels (class sizes kept). */
export function shuffleLabels(split: Split, seed: number): Split {
  return { ...split, y: createRng(seed).shuffle(Uint8Array.from(split.y)) as Uint8Array };
}

/** One pattern per class [numClasses][h * w * c]: seeded Gaussian directions, each of L2 norm `norm`. */
export function classPatterns(
  shape: readonly [number, number, number],
  numClasses: number,
  opts: { norm: number; seed: number },
): Float32Array[] {
  if (!(opts.norm >= 0) || !Number.isFinite(opts.norm)) {
    throw new RangeError(`plant norm must be a finite number >= 0, got ${opts.norm}`);
  }
  const d = shape[0] * shape[1] * shape[2], rng = createRng(opts.seed);
  return Array.from({ length: numClasses }, () => {
    const p = Float32Array.from({ length: d }, () => rng.normal());
    const n = l2Norm(p);
    for (let i = 0; i < d; i++) p[i] *= opts.norm / n;
    return p;
  });
}

/**
 * x -> clip(margin + (1 - 2 margin) x + patterns[label(i)], 0, 1) for every image; `label(i)` defaults to the
 * image's class. Returns the new split and the fraction of pixel values the clip changed.
 */
export function plantSplit(
  split: Split,
  patterns: Float32Array[],
  opts: { margin: number; label?: (i: number) => number; base?: boolean },
): { split: Split; clipped: number } {
  const { margin } = opts;
  if (!(margin >= 0 && margin < 0.5)) throw new RangeError(`plant margin must be in [0, 0.5), got ${margin}`);
  const d = imageSize(split), x = new Float32Array(split.x.length);
  const scale = opts.base === false ? 1 : 1 - 2 * margin, shift = opts.base === false ? 0 : margin;
  let clipped = 0;
  for (let i = 0; i < split.n; i++) {
    const p = patterns[opts.label ? opts.label(i) : split.y[i]];
    if (!p) throw new RangeError(`no pattern for class ${split.y[i]} (there are ${patterns.length})`);
    for (let j = 0, o = i * d; j < d; j++) {
      const v = shift + scale * split.x[o + j] + p[j];
      const c = v < 0 ? 0 : v > 1 ? 1 : v;
      if (c !== v) clipped++;
      x[o + j] = c;
    }
  }
  return { split: { ...split, x }, clipped: clipped / Math.max(1, x.length) };
}

/**
 * A planted copy of a dataset: train and test carry p_y (seeded by `seed`), the fingerprint changes with the
 * settings (so cached models and sets of the plain data are never reused). With `content` "shuffle" the labels
 * of each split are permuted first (shuffleLabels(), seeded by `seed`), so y is the planted pattern's class and
 * not the content's. Returns the patterns beside it.
 */
export function plantDataset(
  data: Dataset,
  cfg: PlantConfig,
  seed: number,
): { data: Dataset; patterns: Float32Array[]; clipped: number } {
  const content = cfg.content ?? "keep";
  if (!(PLANT_CONTENTS as readonly string[]).includes(content)) {
    throw new RangeError(`plant content must be one of ${PLANT_CONTENTS.join(", ")}, got "${content}"`);
  }
  const patterns = classPatterns(data.train.shape, data.info.numClasses, { norm: cfg.norm, seed });
  const labelled = (s: Split, name: string) =>
    content === "shuffle" ? shuffleLabels(s, deriveSeed(seed, `shuffle:${name}`)) : s;
  const train = plantSplit(labelled(data.train, "train"), patterns, cfg);
  const test = plantSplit(labelled(data.test, "test"), patterns, cfg);
  const fingerprint = createHash("sha256").update(
    `${data.fingerprint}|plant:${cfg.norm}:${cfg.margin}:${seed}${content === "keep" ? "" : `:${content}`}`,
  ).digest("hex");
  const clipped = (train.clipped * train.split.x.length + test.clipped * test.split.x.length) /
    (train.split.x.length + test.split.x.length);
  return { data: { ...data, train: train.split, test: test.split, fingerprint }, patterns, clipped };
}

/**
 * The test images with their own pattern swapped for class (y + shift) mod C's: x - p_y + p_{y+shift} (no
 * remapping; the clip to [0,1] applies). A model that follows the pattern predicts y + shift on them.
 */
export function swapPatterns(planted: Split, patterns: Float32Array[], shift = 1): Split {
  const C = patterns.length;
  const diff = patterns.map((p, c) => {
    const q = patterns[(c + shift) % C];
    return Float32Array.from(p, (v, j) => q[j] - v);
  });
  return plantSplit(planted, diff, { margin: 0, base: false }).split;
}

/**
 * Pattern energy of a labelled set: the mean projection of each image on its own class's unit pattern, minus
 * the mean projection on the other classes' (so the image's own brightness cancels). A planted image carries
 * about the pattern's norm; an image without the class pattern about 0.
 */
export function patternEnergy(split: Split, patterns: Float32Array[]): number {
  const d = imageSize(split), C = patterns.length;
  const unit = patterns.map((p) => {
    const n = l2Norm(p) || 1;
    return Float32Array.from(p, (v) => v / n);
  });
  let sum = 0;
  for (let i = 0; i < split.n; i++) {
    const o = i * d, proj = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += split.x[o + j] * unit[c][j];
      proj[c] = s;
    }
    const own = proj[split.y[i]];
    const others = (proj.reduce((a, b) => a + b, 0) - own) / Math.max(1, C - 1);
    sum += own - others;
  }
  return sum / Math.max(1, split.n);
}
