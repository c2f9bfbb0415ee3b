// Tests for lib/core/relabel.ts: D_det = (y + 1) mod C, D_rand uniform over the other classes, rules checked, forks.
import assert from "node:assert/strict";
import { registerRelabelRule, relabel, RELABEL_RULES } from "../../../lib/core/relabel.ts";
import { createRng } from "../../../lib/util/rng.ts";

const labels = (n: number, C: number, seed: number) => {
  const rng = createRng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(C));
};

Deno.test("d_det gives t = (y + 1) mod C for every example", () => {
  const y = labels(1000, 10, 1);
  const t = relabel("d_det", y, 10, createRng(0));
  for (let i = 0; i < y.length; i++) assert.equal(t[i], (y[i] + 1) % 10);
});

Deno.test("d_rand never keeps the label and is uniform over the other classes (chi-square, 8 dof)", () => {
  const C = 10, perClass = 3000;
  const y = Uint8Array.from({ length: C * perClass }, (_, i) => i % C);
  const t = relabel("d_rand", y, C, createRng(7));
  // per true class, the 9 other classes: counts ~ perClass / 9 each
  for (let k = 0; k < C; k++) {
    const counts = new Array(C).fill(0);
    for (let i = 0; i < y.length; i++) if (y[i] === k) counts[t[i]]++;
    assert.equal(counts[k], 0, `class ${k} kept its label`);
    const e = perClass / (C - 1);
    const chi2 = counts.reduce((s, c, j) => (j === k ? s : s + (c - e) ** 2 / e), 0);
    // 99.9th percentile of chi-square with 8 degrees of freedom: 26.12
    assert.ok(chi2 < 26.12, `class ${k}: chi-square ${chi2.toFixed(1)} over 8 dof`);
  }
});

Deno.test("d_rand is reproducible from its seed and changes with it", () => {
  const y = labels(500, 10, 2);
  assert.deepEqual(relabel("d_rand", y, 10, createRng(3)), relabel("d_rand", y, 10, createRng(3)));
  assert.notDeepEqual(relabel("d_rand", y, 10, createRng(3)), relabel("d_rand", y, 10, createRng(4)));
});

Deno.test("relabel() rejects a rule that keeps a label, returns a wrong length or leaves the classes", () => {
  registerRelabelRule("test_identity", (y) => y.slice());
  registerRelabelRule("test_short", (y) => y.slice(1));
  registerRelabelRule("test_out", (y, C) => Uint8Array.from(y, () => C));
  const y = Uint8Array.from([0, 1, 2]);
  assert.throws(() => relabel("test_identity", y, 3, createRng(0)), /gave target 0 for label 0 at index 0/);
  assert.throws(() => relabel("test_short", y, 3, createRng(0)), /returned 2 targets for 3 labels/);
  assert.throws(() => relabel("test_out", y, 3, createRng(0)), /targets must be classes 0\.\.2/);
});

Deno.test("RELABEL_RULES: an unknown name lists the registered rules with a suggestion; names are unique", () => {
  assert.throws(
    () => RELABEL_RULES.get("d_dett"),
    /unknown relabelling rule "d_dett"; accepted: d_rand, d_det.*did you mean "d_det"/,
  );
  assert.throws(() => registerRelabelRule("d_det", (y) => y), /already registered/);
});
