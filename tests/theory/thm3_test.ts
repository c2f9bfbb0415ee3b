// Theorem 3 checks: Kantorovich worst-case cosine vs numerical minimization; robust models align better.
import assert from "node:assert/strict";
import { Matrix, randomSpd, rng } from "../../theory/linalg.ts";
import { sigmaRobust } from "../../theory/thm2.ts";
import { gradientCosine, worstCosineClosedForm, worstCosineNumerical } from "../../theory/thm3.ts";

Deno.test("worstCosineClosedForm() equals the numerical minimum over mu within 1e-6", () => {
  for (const [i, ev] of [[0.2, 1, 3], [0.5, 0.7, 0.9, 4], [1, 10]].entries()) {
    const s = randomSpd(ev, 20 + i);
    const cf = worstCosineClosedForm(s), num = worstCosineNumerical(s, { seed: i });
    assert.ok(Math.abs(cf - num) < 1e-6, `${cf} vs ${num}`);
  }
});

Deno.test("sigmaRobust(): the robust model's worst-case cosine is strictly higher for anisotropic Sigma*", () => {
  const r = rng(3);
  for (let t = 0; t < 20; t++) {
    const s = randomSpd(Array.from({ length: 4 }, () => 0.1 + 3 * r.uniform()), 50 + t);
    for (const lam of [0.3, 1, 5, 50]) {
      assert.ok(worstCosineClosedForm(sigmaRobust(s, lam)) > worstCosineClosedForm(s));
    }
  }
});

Deno.test("worstCosineClosedForm(): equality (cosine 1) for isotropic Sigma*, standard and robust", () => {
  const iso = Matrix.eye(3).mul(0.8);
  assert.ok(Math.abs(worstCosineClosedForm(iso) - 1) < 1e-12);
  assert.ok(Math.abs(worstCosineClosedForm(sigmaRobust(iso, 2)) - 1) < 1e-12);
  assert.ok(Math.abs(gradientCosine([1, 2, 3], iso) - 1) < 1e-12);
});

Deno.test("worstCosineClosedForm() handles a near-singular Sigma* and rejects a singular one", () => {
  const s = new Matrix([[1, 0], [0, 1e-8]]);
  assert.ok(Math.abs(worstCosineClosedForm(s) - (2 * Math.sqrt(1e8)) / (1 + 1e8)) < 1e-12);
  assert.throws(() => worstCosineClosedForm(new Matrix([[1, 1], [1, 1]])), /positive definite/);
});
