// Positive-control measurements on planted data (lib/data/plant.ts): how much a model follows the planted class
// pattern, and how much pattern energy a built set carries.
import type { Split } from "../data/info.ts";
import { l2Norm, patternEnergy, swapPatterns } from "../data/plant.ts";
import { phase } from "../util/progress.ts";
import type { ZooModel } from "./models.ts";
import { predict } from "./train.ts";

/** How a model labels test images whose pattern was swapped for class (y + 1)'s (fractions). */
export interface PatternReliance {
  /** Predicted y + 1: the model follows the planted pattern. */
  followsPattern: number;
  /** Predicted y: the model follows the image's content. */
  followsContent: number;
}

/** Swaps each planted test image's pattern for class (y + 1) mod C's and counts whom the model follows. */
export async function patternReliance(
  model: ZooModel,
  planted: Split,
  patterns: Float32Array[],
): Promise<PatternReliance> {
  const C = patterns.length, pred = await predict(model, swapPatterns(planted, patterns, 1));
  let pattern = 0, content = 0;
  for (let i = 0; i < planted.n; i++) {
    if (pred[i] === (planted.y[i] + 1) % C) pattern++;
    else if (pred[i] === planted.y[i]) content++;
  }
  return { followsPattern: pattern / planted.n, followsContent: content / planted.n };
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
