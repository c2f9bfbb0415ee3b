// Seeded subsets, shuffles, batches and augmentation over in-memory splits.
import { createRng, type Rng } from "../util/rng.ts";
import type { Split } from "./registry.ts";

/** Number of values in one image of the split. */
export const imageSize = (s: Split): number => s.shape[0] * s.shape[1] * s.shape[2];

/** Copies the examples at `idx` into a contiguous {x [k,h,w,c], y [k]}. */
export function gather(split: Split, idx: ArrayLike<number>): { x: Float32Array; y: Uint8Array } {
  const d = imageSize(split);
  const x = new Float32Array(idx.length * d), y = new Uint8Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    if (!(j >= 0 && j < split.n)) throw new RangeError(`gather: index ${j} out of range 0..${split.n - 1}`);
    x.set(split.x.subarray(j * d, (j + 1) * d), i * d);
    y[i] = split.y[j];
  }
  return { x, y };
}

/** A new split holding the examples at `idx` (copied). */
export function subset(split: Split, idx: ArrayLike<number>): Split {
  const { x, y } = gather(split, idx);
  return { x, y, n: idx.length, shape: split.shape };
}

/** The first `n` examples (all when n <= 0 or n >= split.n), without copying. */
export function firstN(split: Split, n: number): Split {
  if (n <= 0 || n >= split.n) return split;
  const d = imageSize(split);
  return { x: split.x.subarray(0, n * d), y: split.y.subarray(0, n), n, shape: split.shape };
}

/** Examples [start, end) of a split, without copying. */
export function sliceSplit(split: Split, start: number, end: number): Split {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= split.n)) {
    throw new RangeError(`sliceSplit: [${start}, ${end}) is not a range of examples 0..${split.n}`);
  }
  const d = imageSize(split);
  return {
    x: split.x.subarray(start * d, end * d),
    y: split.y.subarray(start, end),
    n: end - start,
    shape: split.shape,
  };
}

/**
 * A validation split carved from the end of the training split: its last `n` examples, for choosing recipes
 * without looking at the test set. Throws when they would overlap the first `used` examples a run trains on.
 */
export function validationSplit(train: Split, n: number, used: number): Split {
  const usedN = used <= 0 ? train.n : Math.min(used, train.n);
  if (!(n >= 1) || usedN + n > train.n) {
    throw new RangeError(
      `a validation split of ${n} images does not fit after the ${usedN} training images in use (the training ` +
        `split has ${train.n}); lower --trainSize (0 = all uses every image) or --testSize`,
    );
  }
  const d = imageSize(train), s = train.n - n;
  return { x: train.x.subarray(s * d), y: train.y.subarray(s), n, shape: train.shape };
}

/** Indices of a seeded class-balanced subset with `perClass` examples of each class (in shuffled order). */
export function classBalancedIndices(
  split: Split,
  perClass: number,
  opts: { seed: number; numClasses: number },
): Int32Array {
  const rng = createRng(opts.seed);
  const order = rng.permutation(split.n);
  const counts = new Array(opts.numClasses).fill(0);
  const out: number[] = [];
  for (const i of order) {
    const c = split.y[i];
    if (counts[c] < perClass) (counts[c]++, out.push(i));
  }
  const short = counts.findIndex((c) => c < perClass);
  if (short >= 0) {
    throw new RangeError(
      `classBalancedIndices: class ${short} has only ${counts[short]} examples, ${perClass} requested`,
    );
  }
  return rng.shuffle(Int32Array.from(out)) as Int32Array;
}

/** A seeded class-balanced subset (`perClass` examples of each class). */
export function classBalancedSubset(
  split: Split,
  perClass: number,
  opts: { seed: number; numClasses: number },
): Split {
  return subset(split, classBalancedIndices(split, perClass, opts));
}

/** Splits 0..n-1 into batches of indices, shuffled with the seed when `shuffle` (default true). */
export function batchIndices(
  n: number,
  batchSize: number,
  opts: { seed: number; shuffle?: boolean; dropLast?: boolean },
): Int32Array[] {
  if (!(batchSize >= 1)) throw new RangeError(`batchSize must be >= 1, got ${batchSize}`);
  const order = opts.shuffle === false
    ? Int32Array.from({ length: n }, (_, i) => i)
    : createRng(opts.seed).permutation(n);
  const out: Int32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    if (opts.dropLast && s + batchSize > n) break;
    out.push(order.subarray(s, Math.min(n, s + batchSize)));
  }
  return out;
}

/**
 * Random crop with zero padding `cropPad` and horizontal flip, in place on x [k, h, w, c] (CIFAR-10 recipe).
 */
export function augment(
  x: Float32Array,
  shape: [number, number, number],
  opts: { cropPad: number; flip: boolean },
  rng: Rng,
): Float32Array {
  const [h, w, c] = shape;
  const d = h * w * c;
  const k = x.length / d;
  const tmp = new Float32Array(d);
  for (let i = 0; i < k; i++) {
    const img = x.subarray(i * d, (i + 1) * d);
    tmp.set(img);
    const dy = opts.cropPad ? rng.int(2 * opts.cropPad + 1) - opts.cropPad : 0;
    const dx = opts.cropPad ? rng.int(2 * opts.cropPad + 1) - opts.cropPad : 0;
    const flip = opts.flip && rng.next() < 0.5;
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) {
        const sy = yy + dy, sx0 = xx + dx;
        const sx = flip ? w - 1 - sx0 : sx0;
        const o = (yy * w + xx) * c;
        if (sy < 0 || sy >= h || sx0 < 0 || sx0 >= w) { for (let ch = 0; ch < c; ch++) img[o + ch] = 0; }
        else for (let ch = 0; ch < c; ch++) img[o + ch] = tmp[(sy * w + sx) * c + ch];
      }
    }
  }
  return x;
}
