// Gaussian model checks: MLE recovers the parameters, the classifier, and bad inputs.
import assert from "node:assert/strict";
import { Matrix, relFrob } from "../../theory/linalg.ts";
import { classify, loss, mle, sample } from "../../theory/gaussian.ts";

const mu = [1, -0.5, 0.3], sigma = new Matrix([[1, 0.2, 0], [0.2, 0.5, 0.1], [0, 0.1, 0.3]]);

Deno.test("mle() recovers (mu, Sigma) from seeded samples; sample() is reproducible", () => {
  const { x, y } = sample(mu, sigma, 50_000, 1);
  const est = mle(x, y);
  assert.ok(Math.hypot(...est.mu.map((m, i) => m - mu[i])) < 0.02);
  assert.ok(relFrob(est.sigma, sigma) < 0.02);
  assert.deepEqual(sample(mu, sigma, 5, 1).x.to2DArray(), sample(mu, sigma, 5, 1).x.to2DArray());
});

Deno.test("loss() follows the convention (x - mu)^T Sigma^-1 (x - mu) + log det Sigma", () => {
  const d1 = loss(new Matrix([[3]]), [1], new Matrix([[2]]))[0];
  assert.ok(Math.abs(d1 - (4 / 2 + Math.log(2))) < 1e-12);
});

Deno.test("classify() is the Bayes classifier: accuracy matches Phi(sqrt(mu^T Sigma^-1 mu))", () => {
  const { x, y } = sample(mu, sigma, 40_000, 2);
  const pred = classify(x, mu, sigma);
  const acc = pred.filter((p, i) => p === y[i]).length / y.length;
  // mu^T Sigma^-1 mu
  const inv = new Matrix([[1, 0.2, 0], [0.2, 0.5, 0.1], [0, 0.1, 0.3]]);
  const w = solve(inv, mu);
  const m2 = mu.reduce((a, v, i) => a + v * w[i], 0);
  const phi = 0.5 * (1 + erf(Math.sqrt(m2) / Math.SQRT2));
  assert.ok(Math.abs(acc - phi) < 0.01, `${acc} vs ${phi}`);
});

Deno.test("sample() rejects a non-symmetric, a non-PD Sigma and a dimension mismatch, naming the argument", () => {
  assert.throws(() => sample([0, 0], new Matrix([[1, 0.5], [0, 1]]), 1, 0), /Sigma must be symmetric/);
  assert.throws(() => sample([0, 0], new Matrix([[1, 2], [2, 1]]), 1, 0), /Sigma must be positive definite/);
  assert.throws(
    () => sample([0, 0, 0], sigma.subMatrix(0, 1, 0, 1), 1, 0),
    /mu has dimension 3 but Sigma is 2x2/,
  );
});

function solve(a: Matrix, b: number[]): number[] {
  const m = a.to2DArray().map((r, i) => [...r, b[i]]);
  const n = b.length;
  for (let i = 0; i < n; i++) {
    for (let k = i + 1; k < n; k++) {
      const f = m[k][i] / m[i][i];
      for (let j = i; j <= n; j++) m[k][j] -= f * m[i][j];
    }
  }
  const x = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    x[i] = (m[i][n] - m[i].slice(i + 1, n).reduce((a, v, j) => a + v * x[i + 1 + j], 0)) / m[i][i];
  }
  return x;
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7)
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
