// Theorem 2 checks: closed-form Sigma_r vs the quadratic, numerical minimization and adversarial training.
import assert from "node:assert/strict";
import { frob, Matrix, randomSpd, relFrob } from "../../theory/linalg.ts";
import {
  adversarialTraining,
  epsOfLambda,
  exactAdversary,
  lambdaOfEps,
  relaxedObjective,
  sigmaRobust,
  sigmaRobustResidual,
} from "../../theory/thm2.ts";
import { minimizeRelaxed } from "../../theory/claims.ts";
import { solveCg } from "./helpers.ts";

const sigma = randomSpd([0.3, 0.6, 1, 1.5, 2.6], 7);

Deno.test("sigmaRobust() solves Sigma_r^2 - (Sigma* + 2/lambda I) Sigma_r + lambda^-2 I = 0 to 1e-9 relative", () => {
  for (const lam of [0.1, 1, 10]) {
    const sr = sigmaRobust(sigma, lam);
    assert.ok(frob(sigmaRobustResidual(sr, sigma, lam)) / frob(sr) < 1e-9);
  }
});

Deno.test("sigmaRobust() equals the numerical minimizer of the relaxed objective over full SPD matrices", () => {
  const s3 = randomSpd([0.4, 1, 2.5], 8);
  const num = minimizeRelaxed(s3, 2);
  assert.ok(relFrob(num, sigmaRobust(s3, 2)) < 1e-6);
  assert.ok(relaxedObjective(sigmaRobust(s3, 2), s3, 2) <= relaxedObjective(num, s3, 2) + 1e-12);
});

Deno.test("sigmaRobust(lambda -> infinity) recovers Sigma*; bad lambda is rejected", () => {
  assert.ok(relFrob(sigmaRobust(sigma, 1e10), sigma) < 1e-8);
  assert.throws(() => sigmaRobust(sigma, 0), /lambda must be a finite number > 0, got 0/);
  assert.throws(() => sigmaRobust(sigma, -1), /lambda must be/);
});

Deno.test("epsOfLambda() is decreasing and lambdaOfEps() inverts it", () => {
  let prev = Infinity;
  for (const lam of [0.05, 0.2, 1, 4, 20]) {
    const e = epsOfLambda(sigma, lam);
    assert.ok(e < prev);
    prev = e;
    assert.ok(Math.abs(lambdaOfEps(sigma, e) - lam) / lam < 1e-9);
  }
  assert.throws(() => lambdaOfEps(sigma, -0.1), /eps must be a finite number >= 0, got -0.1/);
});

Deno.test("adversarialTraining() converges to (mu*, Sigma_r): d = 2 and d = 10 within 1%", () => {
  const s2 = new Matrix([[1, 0.3], [0.3, 0.2]]);
  const r2 = adversarialTraining([1, 0.5], s2, {
    adversary: "penalized",
    lambda: 3,
    batch: 20_000,
    steps: 40,
    lr: 0.5,
    seed: 1,
  });
  assert.ok(relFrob(r2.sigma, sigmaRobust(s2, 3)) < 0.01);
  const s10 = randomSpd(Array.from({ length: 10 }, (_, i) => 0.2 + 0.3 * i), 9);
  const mu10 = Array.from({ length: 10 }, (_, i) => (i % 3) - 1);
  const r10 = adversarialTraining(mu10, s10, {
    adversary: "penalized",
    lambda: 2,
    batch: 20_000,
    steps: 40,
    lr: 0.5,
    seed: 2,
  });
  assert.ok(
    relFrob(r10.sigma, sigmaRobust(s10, 2)) < 0.01,
    `d=10 error ${relFrob(r10.sigma, sigmaRobust(s10, 2))}`,
  );
  assert.ok(Math.hypot(...r10.mu.map((m, i) => m - mu10[i])) / Math.hypot(...mu10) < 0.01);
});

Deno.test("adversarialTraining() error for d = 50 falls as the sample size grows", () => {
  const s50 = randomSpd(Array.from({ length: 50 }, (_, i) => 0.2 + 0.05 * i), 10);
  const mu = Array.from({ length: 50 }, () => 0.3);
  const err = (batch: number) =>
    relFrob(
      adversarialTraining(mu, s50, { adversary: "penalized", lambda: 2, batch, steps: 12, lr: 0.5, seed: 3 })
        .sigma,
      sigmaRobust(s50, 2),
    );
  const small = err(500), large = err(8000);
  assert.ok(large < small / 2, `error ${small} at 500 samples/step vs ${large} at 8000`);
});

Deno.test("exactAdversary() spends the whole budget and beats any other point of the ball", () => {
  const z = new Matrix([[0.5, -1, 0.2, 0.3, 0.1]]);
  const d = exactAdversary(z, sigma, 0.7);
  assert.ok(Math.abs(Math.hypot(...d.getRow(0)) - 0.7) < 1e-9);
  const val = (delta: number[]) => {
    const w = z.getRow(0).map((v, i) => v + delta[i]);
    const u = solveCg(sigma, w);
    return w.reduce((a, v, i) => a + v * u[i], 0);
  };
  const best = val(d.getRow(0));
  for (let t = 0; t < 200; t++) {
    const dir = Array.from({ length: 5 }, (_, i) => Math.sin(17 * t + 3 * i));
    const n = Math.hypot(...dir);
    assert.ok(val(dir.map((v) => (0.7 * v) / n)) <= best + 1e-9);
  }
});

Deno.test("exact-adversary training approaches the relaxed Sigma_r(lambda(eps)) as d grows", () => {
  const gap = (d: number) => {
    const s = Matrix.diag(Array.from({ length: d }, (_, i) => (i % 2 ? 0.25 : 1)));
    const mu = Array.from({ length: d }, () => 0.5);
    const eps = 0.5 * Math.sqrt(d);
    const exact = adversarialTraining(mu, s, {
      adversary: "exact",
      eps,
      batch: 4000,
      steps: 30,
      lr: 0.5,
      seed: 4,
    });
    return relFrob(exact.sigma, sigmaRobust(s, lambdaOfEps(s, eps)));
  };
  const g2 = gap(2), g20 = gap(20);
  console.log(`exact vs relaxed covariance gap: d=2 ${g2.toFixed(4)}, d=20 ${g20.toFixed(4)}`);
  assert.ok(g20 < g2, `gap d=2 ${g2} vs d=20 ${g20}`);
});
