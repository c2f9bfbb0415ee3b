// Tests for lib/data/labels.ts: class counts, a dominating or empty class, and the nearest-class-mean check
// telling labels that belong to their images from shuffled ones.
import assert from "node:assert/strict";
import { labelChecks } from "../../../lib/data/labels.ts";
import { patternSplit } from "./helpers.ts";
import { createRng } from "../../../lib/util/rng.ts";

Deno.test("labelChecks() finds the class signal of labels that belong to their images, none in shuffled ones", () => {
  const test = patternSplit(200, 4, { seed: 2 });
  const good = labelChecks(patternSplit(400, 4, { seed: 1 }), test, { numClasses: 4 });
  assert.deepEqual(good.counts, [100, 100, 100, 100]);
  assert.equal(good.dominated, false);
  assert.deepEqual(good.empty, []);
  assert.ok(good.heldOutAcc > 0.95, `held-out accuracy ${good.heldOutAcc}`);
  assert.ok(good.testAcc > 0.95, `test accuracy ${good.testAcc}`);
  const rng = createRng(3);
  const shuffled = labelChecks(patternSplit(400, 4, { seed: 1, label: () => rng.int(4) }), test, {
    numClasses: 4,
  });
  assert.ok(shuffled.heldOutAcc < 0.35, `held-out accuracy ${shuffled.heldOutAcc} (chance 25%)`);
  // labels in another class order than the test set's: the classifier is confidently wrong
  const rotated = labelChecks(patternSplit(400, 4, { seed: 1, label: (_, c) => (c + 1) % 4 }), test, {
    numClasses: 4,
  });
  assert.ok(rotated.heldOutAcc > 0.95, `held-out accuracy ${rotated.heldOutAcc}`);
  assert.equal(rotated.testAcc, 0);
});

Deno.test("labelChecks() names a class holding most training labels, and classes with none", () => {
  const test = patternSplit(40, 4, { seed: 2 });
  const r = labelChecks(
    patternSplit(100, 4, { seed: 1, label: (i, c) => (i % 10 < 7 ? 2 : c === 3 ? 0 : c) }),
    test,
    {
      numClasses: 4,
    },
  );
  assert.deepEqual(r.largest, { label: 2, share: r.counts[2] / 100 });
  assert.ok(r.largest.share >= 0.7);
  assert.equal(r.dominated, true);
  assert.deepEqual(r.empty, [3]);
  // 62.5% is exactly half-way from uniform (25%) to all: dominated from there on, not below
  const below = labelChecks(patternSplit(8, 4, { seed: 1, label: (i, c) => (i < 4 ? 0 : c) }), test, {
    numClasses: 4,
  });
  assert.equal(below.largest.share, 5 / 8);
  assert.equal(below.dominated, true);
  const balanced = labelChecks(patternSplit(8, 4, { seed: 1, label: (i, c) => (i < 3 ? 0 : c) }), test, {
    numClasses: 4,
  });
  assert.equal(balanced.largest.share, 4 / 8);
  assert.equal(balanced.dominated, false);
});
