// Tests for lib/run/features.ts: --classes parsing and Section 2's kinds of features (the measurement itself runs
// in tests/experiments/sec2_test.ts's smoke run).
import assert from "node:assert/strict";
import { kindOf, parseClasses } from "../../../lib/run/features.ts";

Deno.test("parseClasses() takes all or a list of class indices and names a bad one with the accepted range", () => {
  assert.deepEqual(parseClasses("all", 3), [0, 1, 2]);
  assert.deepEqual(parseClasses("2, 0", 10), [2, 0]);
  assert.throws(() => parseClasses("10", 10), /"10" is not a class index of this dataset \(0\.\.9\)/);
  assert.throws(() => parseClasses("1,1", 10), /names a class twice/);
});

Deno.test("kindOf() names Section 2's kinds of features", () => {
  const th = { rho0: 0.2, gamma0: 0.1 };
  assert.equal(kindOf(0.5, 0.3, th), "robustly useful");
  assert.equal(kindOf(0.5, -0.3, th), "useful, non-robust");
  assert.equal(kindOf(0.5, 0.05, th), "useful, 0 <= gamma < gamma0");
  assert.equal(kindOf(0.1, -0.3, th), "not useful");
});
