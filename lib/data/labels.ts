// Cheap checks of whether a split's labels look right: the class counts, and whether a nearest-class-mean
// classifier finds the labels' signal in the images (within the training set, and from it on the test set).
import { imageSize } from "./batch.ts";
import type { Split } from "./info.ts";
import { createRng } from "../util/rng.ts";

/** What labelChecks() found. */
export interface LabelChecks {
  /** Training examples per class [numClasses]. */
  counts: number[];
  /** The most frequent training class and its share of the training labels (fraction). */
  largest: { label: number; share: number };
  /** True when the largest class holds at least half-way from a uniform share (1/C) to all of them. */
  dominated: boolean;
  /** Classes with no training example. */
  empty: number[];
  /**
   * Accuracy (fraction) of class means fitted on a random half of the training examples, scored on the other
   * half: about chance when the training labels do not belong to their images (shuffled).
   */
  heldOutAcc: number;
  /**
   * Test accuracy (fraction) of class means fitted on the training examples: about chance (or below) when the
   * training labels follow another class order than the test set's, though they agree among themselves.
   */
  testAcc: number;
  /** Examples each check used (the first ones of each split). */
  used: { train: number; test: number };
}

/** Mean image of each class over the examples `idx` of a split [C * pixels], and how many each had. */
function classMeans(s: Split, idx: number[], C: number): { means: Float64Array; fitted: number[] } {
  const d = imageSize(s), means = new Float64Array(C * d), fitted = new Array<number>(C).fill(0);
  for (const i of idx) {
    const c = s.y[i], row = s.x.subarray(i * d, (i + 1) * d);
    fitted[c]++;
    for (let p = 0; p < d; p++) means[c * d + p] += row[p];
  }
  for (let c = 0; c < C; c++) for (let p = 0; p < d && fitted[c]; p++) means[c * d + p] /= fitted[c];
  return { means, fitted };
}

/** Fraction of the examples `idx` of a split whose nearest class mean (squared L2) is their label. */
function centroidAccuracy(m: { means: Float64Array; fitted: number[] }, s: Split, idx: number[]): number {
  const d = imageSize(s);
  let correct = 0;
  for (const i of idx) {
    const row = s.x.subarray(i * d, (i + 1) * d);
    let best = -1, bestDist = Infinity;
    for (let c = 0; c < m.fitted.length; c++) {
      if (!m.fitted[c]) continue;
      let dist = 0;
      for (let p = 0; p < d; p++) dist += (row[p] - m.means[c * d + p]) ** 2;
      if (dist < bestDist) (bestDist = dist, best = c);
    }
    if (best === s.y[i]) correct++;
  }
  return idx.length ? correct / idx.length : 0;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Class counts of `train`, and two nearest-class-mean accuracies on the first `maxTrain` training and `maxTest`
 * test examples: within the training set (fitted on a seeded random half, scored on the other half) and
 * from it on the test set. Labels that belong to their images give both clearly more than chance
 * (Fashion-MNIST about 68%, CIFAR-10 about 28%). Pure; O(C (maxTrain + maxTest) x pixels).
 */
export function labelChecks(
  train: Split,
  test: Split,
  opts: { numClasses: number; maxTrain?: number; maxTest?: number },
): LabelChecks {
  const C = opts.numClasses;
  const counts = new Array<number>(C).fill(0);
  for (const y of train.y) counts[y]++;
  const label = counts.indexOf(Math.max(...counts));
  const share = train.n > 0 ? counts[label] / train.n : 0;
  const nTrain = Math.min(train.n, opts.maxTrain ?? 5000), nTest = Math.min(test.n, opts.maxTest ?? 2000);
  // a random half, not every other example: a set ordered by class (labels i mod C) would split by class
  const perm = [...createRng(0).permutation(nTrain)];
  const fit = perm.slice(0, nTrain >> 1), scored = perm.slice(nTrain >> 1);
  return {
    counts,
    largest: { label, share },
    dominated: C > 1 && share >= (1 + 1 / C) / 2,
    empty: counts.flatMap((n, c) => (n === 0 ? [c] : [])),
    heldOutAcc: centroidAccuracy(classMeans(train, fit, C), train, scored),
    testAcc: centroidAccuracy(classMeans(train, range(nTrain), C), test, range(nTest)),
    used: { train: nTrain, test: nTest },
  };
}
