// Tests of lib/data/plant.ts: the planted-feature positive control's patterns, planting, swap and energy.
import assert from "node:assert/strict";
import {
  classPatterns,
  patternEnergy,
  plantDataset,
  plantSplit,
  swapPatterns,
} from "../../../lib/data/plant.ts";
import type { Dataset, Split } from "../../../lib/data/info.ts";
import { createRng } from "../../../lib/util/rng.ts";

const near = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${b} +- ${tol}, got ${a}`);

function randomSplit(n: number, seed: number, C = 10): Split {
  const rng = createRng(seed);
  return {
    x: Float32Array.from({ length: n * 784 }, () => (rng.next() < 0.5 ? 0 : rng.next())),
    y: Uint8Array.from({ length: n }, (_, i) => i % C),
    n,
    shape: [28, 28, 1],
  };
}

Deno.test("classPatterns() gives one seeded pattern per class, each of the asked L2 norm, nearly orthogonal", () => {
  const p = classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 3 });
  assert.deepEqual(p.length, 10);
  for (const v of p) near(Math.hypot(...v), 0.5, 1e-5);
  assert.deepEqual(classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 3 })[4], p[4]);
  assert.notDeepEqual(classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 4 })[4], p[4]);
  const dot = p[0].reduce((s, v, j) => s + v * p[1][j], 0) / 0.25;
  assert.ok(Math.abs(dot) < 0.2, `cosine of two class patterns ${dot}`);
  assert.throws(() => classPatterns([28, 28, 1], 10, { norm: -1, seed: 0 }), {
    name: "RangeError",
    message: /got -1/,
  });
});

Deno.test("plantSplit() maps pixels into [margin, 1 - margin] and adds the class's pattern without clipping", () => {
  const s = randomSplit(50, 1), p = classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 0 });
  const { split, clipped } = plantSplit(s, p, { margin: 0.1 });
  assert.deepEqual(clipped, 0);
  for (const i of [0, 7, 49]) {
    for (const j of [0, 100, 783]) {
      near(split.x[i * 784 + j], 0.1 + 0.8 * s.x[i * 784 + j] + p[s.y[i]][j], 1e-6);
    }
  }
  // margin 0: the black background clips the negative half of a pattern, and the count says so
  assert.ok(plantSplit(s, p, { margin: 0 }).clipped > 0.2);
  assert.throws(() => plantSplit(s, p, { margin: 0.5 }), { name: "RangeError", message: /\[0, 0\.5\)/ });
});

Deno.test("patternEnergy() is about the norm on planted images, about 0 without, negative after a swap", () => {
  const s = randomSplit(600, 2), p = classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 9 });
  const planted = plantSplit(s, p, { margin: 0.1 }).split;
  const plain = plantSplit(s, p.map((v) => v.map(() => 0)), { margin: 0.1 }).split;
  near(patternEnergy(planted, p), 0.5, 0.05);
  near(patternEnergy(plain, p), 0, 0.05);
  // swapped: the own pattern is gone and class y + 1's is there (-norm / (C - 1) on average)
  const swapped = swapPatterns(planted, p, 1);
  near(patternEnergy(swapped, p), -0.5 / 9, 0.05);
  const shifted = { ...swapped, y: swapped.y.map((v) => (v + 1) % 10) };
  near(patternEnergy(shifted, p), 0.5, 0.05);
});

/** A 10-class dataset of random images (train seeded 3, test 4) with the fingerprint "abc". */
function fakeDataset(nTrain: number, nTest: number): Dataset {
  return {
    name: "t",
    info: { numClasses: 10 },
    train: randomSplit(nTrain, 3),
    test: randomSplit(nTest, 4),
    dir: "",
    fingerprint: "abc",
  } as unknown as Dataset;
}

Deno.test("plantDataset() plants train and test and gives the data a fingerprint of its own", () => {
  const data = fakeDataset(20, 10);
  const a = plantDataset(data, { norm: 0.5, margin: 0.1 }, 1);
  const b = plantDataset(data, { norm: 0.25, margin: 0.1 }, 1);
  assert.notDeepEqual(a.data.fingerprint, "abc");
  assert.notDeepEqual(a.data.fingerprint, b.data.fingerprint);
  assert.deepEqual(a.data.fingerprint, plantDataset(data, { norm: 0.5, margin: 0.1 }, 1).data.fingerprint);
  near(patternEnergy(a.data.test, a.patterns), 0.5, 0.1);
  assert.deepEqual(a.clipped, 0);
});

Deno.test("plantDataset() with content 'shuffle' permutes each split's labels and plants the new label's pattern", () => {
  const data = fakeDataset(200, 100);
  const kept = plantDataset(data, { norm: 0.5, margin: 0.1 }, 1);
  const shuffled = plantDataset(data, { norm: 0.5, margin: 0.1, content: "shuffle" }, 1);
  assert.notEqual(shuffled.data.fingerprint, kept.data.fingerprint);
  // the same patterns; class sizes kept; the labels moved (a permutation of 200 labels almost surely moves some)
  assert.deepEqual(shuffled.patterns, kept.patterns);
  for (const split of ["train", "test"] as const) {
    const count = (y: Uint8Array) => Array.from({ length: 10 }, (_, c) => y.filter((v) => v === c).length);
    assert.deepEqual(count(shuffled.data[split].y), count(data[split].y));
    assert.ok(shuffled.data[split].y.some((v, i) => v !== data[split].y[i]), `${split} labels unchanged`);
    // each image carries the pattern of its new label: energy under the new labels as high as the kept one's
    near(patternEnergy(shuffled.data[split], shuffled.patterns), 0.5, 0.1);
  }
  // seeded: the same call gives the same labels
  const again = plantDataset(data, { norm: 0.5, margin: 0.1, content: "shuffle" }, 1);
  assert.deepEqual(again.data.train.y, shuffled.data.train.y);
  assert.throws(
    () => plantDataset(data, { norm: 0.5, margin: 0.1, content: "mix" as "keep" }, 1),
    /plant content must be one of keep, shuffle, got "mix"/,
  );
});
