// Theorem 1 checks: closed-form adversary and loss gap vs Monte Carlo and direct maximization.
import assert from "node:assert/strict";
import { Matrix, randomSpd, rng } from "../../theory/linalg.ts";
import { sample } from "../../theory/gaussian.ts";
import { solveCg } from "./helpers.ts";
import { deltaStar, gapClosedForm, gapMonteCarlo, isotropicGap, minPenalty } from "../../theory/thm1.ts";

const sigma = randomSpd([0.3, 0.6, 1, 1.5, 2.6], 11);
const mu = [1, -0.5, 0.25, 0.8, -0.3];

Deno.test("gapMonteCarlo() matches gapClosedForm() within 4 standard errors, and a factor 1/2 would not", () => {
  const c = 5;
  const cf = gapClosedForm(sigma, c);
  const mc = gapMonteCarlo(mu, sigma, c, 100_000, 1);
  assert.ok(Math.abs(mc.mean - cf) <= 4 * mc.se, `MC ${mc.mean} +- ${mc.se} vs closed form ${cf}`);
  assert.ok(Math.abs(mc.mean - cf / 2) > 20 * mc.se, "the test must be able to detect a wrong factor of 2");
});

Deno.test("deltaStar() equals the maximizer found by gradient ascent on the penalized objective", () => {
  const c = 4;
  const { x, y } = sample(mu, sigma, 3, 2);
  const closed = deltaStar(x, y, mu, sigma, c);
  for (let i = 0; i < x.rows; i++) {
    const z = x.getRow(i).map((v, j) => v - y[i] * mu[j]);
    // ascend F(d) = (z + d)^T Sigma^-1 (z + d) - C ||d||^2 by gradient steps (solve Sigma u = z + d iteratively)
    let d = z.map(() => 0);
    for (let it = 0; it < 20000; it++) {
      const g = solveCg(sigma, z.map((v, j) => v + d[j])).map((v, j) => 2 * v - 2 * c * d[j]);
      d = d.map((v, j) => v + 0.02 * g[j]);
    }
    closed.getRow(i).forEach((v, j) =>
      assert.ok(Math.abs(v - d[j]) < 1e-6 * (1 + Math.abs(v)), `row ${i} coord ${j}: ${v} vs ${d[j]}`)
    );
  }
});

Deno.test("gapClosedForm(): 1,000 random Sigma with a fixed trace never beat the isotropic (k/d) I", () => {
  const r = rng(5), d = 4, k = 4, c = 6;
  const iso = isotropicGap(k, d, c);
  for (let t = 0; t < 1000; t++) {
    const ev = Array.from({ length: d }, () => 0.4 + r.uniform());
    const s = ev.reduce((a, v) => a + v, 0);
    assert.ok(gapClosedForm(randomSpd(ev.map((v) => (v * k) / s), 100 + t), c) >= iso - 1e-12);
  }
});

Deno.test("deltaStar()/gapClosedForm() reject C <= 1/sigma_min with a clear error", () => {
  const min = minPenalty(sigma);
  assert.throws(() => gapClosedForm(sigma, min * 0.99), /C must be > 1\/sigma_min\(Sigma\) = .*, got/);
  const { x, y } = sample(mu, sigma, 2, 1);
  assert.throws(() => deltaStar(x, y, mu, sigma, min), /C must be >/);
});

Deno.test("gapClosedForm() edge cases: d = 1 matches the scalar formula; isotropic Sigma", () => {
  const s = 0.7, c = 3;
  assert.ok(Math.abs(gapClosedForm(new Matrix([[s]]), c) - ((c * s / (c * s - 1)) ** 2 - 1)) < 1e-12);
  const iso = Matrix.eye(3).mul(2);
  assert.ok(Math.abs(gapClosedForm(iso, 1) - 3 * ((2 / 1) ** 2 - 1)) < 1e-12);
});
