// Tests for lib/data/batch.ts: gather/subset copies, seeded shuffles, balanced subsets, batching, augment.
import assert from "node:assert/strict";
import {
  augment,
  batchIndices,
  classBalancedIndices,
  classBalancedSubset,
  firstN,
  gather,
  subset,
  validationSplit,
} from "../../../lib/data/batch.ts";
import type { Split } from "../../../lib/data/registry.ts";
import { createRng } from "../../../lib/util/rng.ts";

/** n 2x2x1 images whose pixels all equal the example index; labels i mod k. */
function toy(n: number, k = 10): Split {
  const x = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) x.fill(i, i * 4, i * 4 + 4);
  return { x, y: Uint8Array.from({ length: n }, (_, i) => i % k), n, shape: [2, 2, 1] };
}

Deno.test("gather: contiguous copy of the requested examples in order", () => {
  const s = toy(20);
  const { x, y } = gather(s, [7, 3, 19]);
  assert.deepEqual(Array.from(x), [7, 7, 7, 7, 3, 3, 3, 3, 19, 19, 19, 19]);
  assert.deepEqual(Array.from(y), [7, 3, 9]);
  x[0] = -1;
  assert.equal(s.x[28], 7);
  assert.throws(() => gather(s, [20]), /index 20 out of range 0\.\.19/);
});

Deno.test("subset and firstN: sizes and contents", () => {
  const s = toy(20);
  const sub = subset(s, [5, 6]);
  assert.equal(sub.n, 2);
  assert.deepEqual(Array.from(sub.y), [5, 6]);
  const f = firstN(s, 3);
  assert.equal(f.n, 3);
  assert.equal(f.x.length, 12);
  assert.deepEqual(Array.from(f.y), [0, 1, 2]);
  assert.equal(firstN(s, 0).n, 20);
});

Deno.test("batchIndices: seeded shuffle is reproducible and covers every index once", () => {
  const a = batchIndices(103, 10, { seed: 5 }), b = batchIndices(103, 10, { seed: 5 });
  const c = batchIndices(103, 10, { seed: 6 });
  assert.deepEqual(a.map((t) => Array.from(t)), b.map((t) => Array.from(t)));
  assert.notDeepEqual(a.map((t) => Array.from(t)), c.map((t) => Array.from(t)));
  assert.equal(a.length, 11);
  assert.equal(a[10].length, 3);
  const all = a.flatMap((t) => Array.from(t)).sort((p, q) => p - q);
  assert.deepEqual(all, Array.from({ length: 103 }, (_, i) => i));
  const unshuffled = batchIndices(7, 3, { seed: 1, shuffle: false });
  assert.deepEqual(unshuffled.map((t) => Array.from(t)), [[0, 1, 2], [3, 4, 5], [6]]);
  assert.equal(batchIndices(103, 10, { seed: 5, dropLast: true }).length, 10);
  assert.throws(() => batchIndices(10, 0, { seed: 1 }), /batchSize must be >= 1, got 0/);
});

Deno.test("classBalancedSubset: exactly perClass of each class, seeded and reproducible", () => {
  const s = toy(200);
  const sub = classBalancedSubset(s, 7, { seed: 3, numClasses: 10 });
  assert.equal(sub.n, 70);
  const counts = new Array(10).fill(0);
  for (const y of sub.y) counts[y]++;
  assert.deepEqual(counts, new Array(10).fill(7));
  for (let i = 0; i < sub.n; i++) assert.equal(sub.x[i * 4] % 10, sub.y[i]);
  const a = Array.from(classBalancedIndices(s, 7, { seed: 3, numClasses: 10 }));
  assert.deepEqual(a, Array.from(classBalancedIndices(s, 7, { seed: 3, numClasses: 10 })));
  assert.notDeepEqual(a, Array.from(classBalancedIndices(s, 7, { seed: 4, numClasses: 10 })));
  assert.equal(new Set(a).size, 70);
  assert.throws(
    () => classBalancedSubset(s, 21, { seed: 1, numClasses: 10 }),
    /class 0 has only 20 examples, 21/,
  );
});

Deno.test("augment: seeded; flip mirrors rows; crop is a zero-padded shift", () => {
  const shape: [number, number, number] = [4, 4, 3];
  const base = Float32Array.from({ length: 2 * 48 }, (_, i) => 1 + (i % 48));
  const a = augment(base.slice(), shape, { cropPad: 2, flip: true }, createRng(9));
  const b = augment(base.slice(), shape, { cropPad: 2, flip: true }, createRng(9));
  assert.deepEqual(Array.from(a), Array.from(b));
  // Flip only: each image is either unchanged or exactly mirrored; over many seeds both happen.
  const seen = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const img = augment(base.slice(0, 48), shape, { cropPad: 0, flip: true }, createRng(seed));
    let same = true, mirrored = true;
    for (let r = 0; r < 4; r++) {
      for (let col = 0; col < 4; col++) {
        for (let ch = 0; ch < 3; ch++) {
          const v = img[(r * 4 + col) * 3 + ch];
          if (v !== base[(r * 4 + col) * 3 + ch]) same = false;
          if (v !== base[(r * 4 + 3 - col) * 3 + ch]) mirrored = false;
        }
      }
    }
    assert.ok(same || mirrored, `seed ${seed}: neither identity nor mirror`);
    seen.add(same ? "same" : "mirror");
  }
  assert.equal(seen.size, 2);
  // Crop only: the output is the source shifted by one offset in [-2,2]^2, zero where it falls outside.
  const src = base.slice(0, 48);
  const offsets = new Set<string>();
  for (let seed = 0; seed < 12; seed++) {
    const c = augment(src.slice(), shape, { cropPad: 2, flip: false }, createRng(seed));
    let match: string | null = null;
    for (let dy = -2; dy <= 2 && !match; dy++) {
      for (let dx = -2; dx <= 2 && !match; dx++) {
        let ok = true;
        for (let r = 0; r < 4; r++) {
          for (let col = 0; col < 4; col++) {
            const sr = r + dy, sc = col + dx, inside = sr >= 0 && sr < 4 && sc >= 0 && sc < 4;
            for (let ch = 0; ch < 3; ch++) {
              if (c[(r * 4 + col) * 3 + ch] !== (inside ? src[(sr * 4 + sc) * 3 + ch] : 0)) ok = false;
            }
          }
        }
        if (ok) match = `${dy},${dx}`;
      }
    }
    assert.ok(match, `seed ${seed}: output is not a zero-padded shift of the input`);
    offsets.add(match);
  }
  assert.ok(offsets.size >= 3, `only offsets ${[...offsets]} over 12 seeds`);
});

Deno.test("validationSplit() takes the last n training images and refuses an overlap with those trained on", () => {
  const s = {
    x: Float32Array.from({ length: 10 * 4 }, (_, i) => i),
    y: Uint8Array.from({ length: 10 }, (_, i) => i),
    n: 10,
    shape: [2, 2, 1] as [number, number, number],
  };
  const v = validationSplit(s, 3, 7);
  assert.equal(v.n, 3);
  assert.deepEqual(Array.from(v.y), [7, 8, 9]);
  assert.deepEqual(Array.from(v.x.subarray(0, 4)), [28, 29, 30, 31]);
  assert.throws(() => validationSplit(s, 4, 7), {
    name: "RangeError",
    message: /4 images does not fit after the 7/,
  });
  assert.throws(() => validationSplit(s, 1, 0), /lower --trainSize \(0 = all uses every image\)/);
});
