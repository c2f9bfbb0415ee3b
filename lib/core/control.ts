// Positive-control measurements on planted data (lib/data/plant.ts): how much a model follows the planted class
// pattern, and how much pattern energy a built set carries.
import type { Split } from "../data/info.ts";
import { l2Norm, patternEnergy, swapPatterns } from "../data/plant.ts";
import { phase } from "../util/progress.ts";
import type { ZooModel } from "./models.ts";
import { predict } from "./train.ts";

/** How a model labels test images whose pattern was swapped for class (y + shift)'s (fractions). */
export interface PatternReliance {
  /** Predicted y + shift: the model follows the planted pattern. */
  followsPattern: number;
  /** Predicted y: the model follows the image's content. */
  followsContent: number;
  /** The swap (absent in results from before it was recorded: 1). */
  shift?: number;
}

/**
 * The swap that tells a model trained on D_det (labels t = y + 1) following the planted pattern from one that
 * learned D_det's rule from the content: with a swap to class y + 1's pattern both predict y + 1. Half the
 * classes away, the pattern says y + C/2, the content's rule y + 1, the original pattern's rule y + C/2 + 1.
 */
export const halfwayShift = (numClasses: number): number => Math.floor(numClasses / 2);

/** Swaps each planted test image's pattern for class (y + shift) mod C's and counts whom the model follows. */
export async function patternReliance(
  model: ZooModel,
  planted: Split,
  patterns: Float32Array[],
  shift = 1,
): Promise<PatternReliance> {
  const C = patterns.length;
  if (!Number.isInteger(shift) || shift < 1 || shift >= C) {
    throw new RangeError(`patternReliance(): shift ${shift} must be an integer from 1 to ${C - 1}`);
  }
  const pred = await predict(model, swapPatterns(planted, patterns, shift));
  let pattern = 0, content = 0;
  for (let i = 0; i < planted.n; i++) {
    if (pred[i] === (planted.y[i] + shift) % C) pattern++;
    else if (pred[i] === planted.y[i]) content++;
  }
  return { followsPattern: pattern / planted.n, followsContent: content / planted.n, shift };
}

/** Pattern energy (patternEnergy()) of each named set, under its own labels. */
export function setEnergies(sets: Record<string, Split>, patterns: Float32Array[]): Record<string, number> {
  return Object.fromEntries(Object.entries(sets).map(([k, s]) => [k, patternEnergy(s, patterns)]));
}

/** The positive control of a run on planted data: the patterns' L2 norm, whom each model follows, each set's energy. */
export interface PlantMeasures {
  norm: number;
  reliance: Record<string, PatternReliance>;
  energy: Record<string, number>;
}

/** Measures the positive control: patternReliance() of each model of `names` on `test`, setEnergies() of `sets`. */
export async function plantMeasures(
  models: Record<string, ZooModel>,
  test: Split,
  opts: { names: string[]; sets: Record<string, Split>; patterns: Float32Array[] },
): Promise<PlantMeasures> {
  phase("positive control: whom each model follows when a test image carries another class's pattern");
  const reliance: Record<string, PatternReliance> = {};
  for (const n of opts.names) reliance[n] = await patternReliance(models[n], test, opts.patterns);
  return { norm: l2Norm(opts.patterns[0]), reliance, energy: setEnergies(opts.sets, opts.patterns) };
}

/** The share of predictions that are the next class, (y + 1) mod C: what a model trained on D_det predicts when
 * it learned D_det's rule t = y + 1 from the features of y that the attack left in place. */
export function nextClassRate(pred: Uint8Array, y: Uint8Array, numClasses: number): number {
  if (pred.length !== y.length) {
    throw new RangeError(`nextClassRate(): ${pred.length} predictions for ${y.length} labels`);
  }
  let next = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === (y[i] + 1) % numClasses) next++;
  return next / Math.max(1, y.length);
}

/** A relabelled set's pattern energy under its new labels t (the pattern the attack added) and under the
 * original labels y (the pattern the image came with): which one a model trained on it can follow. */
export function relabelledEnergy(
  set: Split,
  original: Uint8Array,
  patterns: Float32Array[],
): { target: number; original: number } {
  return { target: patternEnergy(set, patterns), original: patternEnergy({ ...set, y: original }, patterns) };
}
