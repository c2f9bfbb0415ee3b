// Every claim of Section 4 as a check that compares two independent computations; used by main.ts and tests.
import { frob, Matrix, randomSpd, relFrob } from "./linalg.ts";
import { gapClosedForm, gapMonteCarlo, isotropicGap } from "./thm1.ts";
import {
  adversarialTraining,
  epsOfLambda,
  lambdaOfEps,
  relaxedObjective,
  relaxedObjectiveGrad,
  sigmaRobust,
  sigmaRobustResidual,
} from "./thm2.ts";
import { gradientCosine, worstCosineClosedForm, worstCosineNumerical } from "./thm3.ts";
import { rng } from "./linalg.ts";

/** One checked claim: the closed form, the independent numerical value, their error and the tolerance. */
export interface Claim {
  id: string;
  claim: string;
  closedForm: number;
  numerical: number;
  error: number;
  tolerance: number;
  pass: boolean;
}

const claim = (
  id: string,
  text: string,
  closedForm: number,
  numerical: number,
  error: number,
  tolerance: number,
): Claim => ({
  id,
  claim: text,
  closedForm,
  numerical,
  error,
  tolerance,
  pass: error <= tolerance,
});

/** Minimizes relaxedObjective over SPD Sigma (full matrices) by gradient descent with backtracking. */
export function minimizeRelaxed(sigmaStar: Matrix, lambda: number, iters = 20000): Matrix {
  const d = sigmaStar.rows;
  let s = Matrix.eye(d).mul(2 * (sigmaStar.max() + 1 / lambda) + 1);
  let f = relaxedObjective(s, sigmaStar, lambda), step = 0.1;
  for (let i = 0; i < iters && step > 1e-18; i++) {
    const g = relaxedObjectiveGrad(s, sigmaStar, lambda);
    if (frob(g) < 1e-13) break;
    const cand = Matrix.sub(s, Matrix.mul(g, step));
    const fc = relaxedObjective(cand, sigmaStar, lambda);
    if (fc < f) (s = cand, f = fc, step *= 1.5);
    else step /= 2;
  }
  return s;
}

/** Runs every claim of Section 4 with sample sizes fixed in the code (seeded). */
export function runClaims(opts: { seed: number }): Claim[] {
  const out: Claim[] = [];
  const sigma5 = randomSpd([0.3, 0.6, 1, 1.5, 2.6], opts.seed + 1);
  const mu5 = [1, -0.5, 0.25, 0.8, -0.3];
  // Thm 1: Monte-Carlo gap vs closed form, within 4 standard errors
  const C = 5;
  const mc = gapMonteCarlo(mu5, sigma5, C, 200_000, opts.seed + 2);
  const cf = gapClosedForm(sigma5, C);
  out.push(
    claim(
      "thm1.gap",
      "Thm 1: E[l(x+delta*)] - E[l(x)] = tr[(I + (C Sigma - I)^-1)^2] - d (Monte Carlo, 4 s.e.)",
      cf,
      mc.mean,
      Math.abs(mc.mean - cf),
      4 * mc.se,
    ),
  );
  // Thm 1: isotropic minimizes the gap for a fixed trace
  const r = rng(opts.seed + 3);
  let worst = Infinity;
  const k = 5, d = 5, Ciso = 5;
  const iso = isotropicGap(k, d, Ciso);
  for (let t = 0; t < 1000; t++) {
    const ev = Array.from({ length: d }, () => 0.3 + r.uniform());
    const sum = ev.reduce((a, v) => a + v, 0);
    const S = randomSpd(ev.map((v) => (v * k) / sum), opts.seed + 10 + t);
    worst = Math.min(worst, gapClosedForm(S, Ciso));
  }
  out.push(
    claim(
      "thm1.isotropic",
      "Thm 1: for fixed trace, Sigma = (k/d) I minimizes the gap (min over 1000 random Sigma - iso >= 0)",
      iso,
      worst,
      Math.max(0, iso - worst),
      1e-12,
    ),
  );
  // Thm 2: closed form solves the quadratic
  const lam = 1.5;
  const sr = sigmaRobust(sigma5, lam);
  out.push(
    claim(
      "thm2.quadratic",
      "Thm 2: Sigma_r^2 - (Sigma* + 2/lambda I) Sigma_r + lambda^-2 I = 0 (relative residual)",
      0,
      frob(sigmaRobustResidual(sr, sigma5, lam)) / frob(sr),
      frob(sigmaRobustResidual(sr, sigma5, lam)) / frob(sr),
      1e-9,
    ),
  );
  // Thm 2: closed form = numerical minimizer of the relaxed objective (full SPD matrices)
  const sigma3 = randomSpd([0.4, 1, 2.5], opts.seed + 4);
  const srn = minimizeRelaxed(sigma3, lam);
  const e = relFrob(srn, sigmaRobust(sigma3, lam));
  out.push(
    claim(
      "thm2.minimizer",
      "Thm 2: Sigma_r minimizes the relaxed robust objective (numerical minimum over SPD, rel. Frobenius)",
      0,
      e,
      e,
      1e-6,
    ),
  );
  // Thm 2: lambda(eps(lambda)) = lambda
  const eps = epsOfLambda(sigma5, lam);
  const back = lambdaOfEps(sigma5, eps);
  out.push(
    claim(
      "thm2.lambda_eps",
      "Thm 2: lambda(eps(lambda)) = lambda (root finding)",
      lam,
      back,
      Math.abs(back - lam) / lam,
      1e-9,
    ),
  );
  // Thm 2: lambda -> infinity recovers Sigma*
  const big = relFrob(sigmaRobust(sigma5, 1e9), sigma5);
  out.push(
    claim(
      "thm2.limit",
      "Thm 2: Sigma_r(lambda -> inf) = Sigma* (rel. Frobenius at lambda = 1e9)",
      0,
      big,
      big,
      1e-6,
    ),
  );
  // Thm 2: adversarial training converges to (mu*, Sigma_r)
  const mu2 = [1, 0.5], sigma2 = new Matrix([[1, 0.3], [0.3, 0.2]]);
  const at = adversarialTraining(mu2, sigma2, {
    adversary: "penalized",
    lambda: 3,
    batch: 20_000,
    steps: 60,
    lr: 0.5,
    seed: opts.seed + 5,
  });
  const atErr = relFrob(at.sigma, sigmaRobust(sigma2, 3));
  out.push(
    claim(
      "thm2.advtrain_d2",
      "Thm 2: adversarial training (d = 2) learns Sigma_r (rel. Frobenius)",
      0,
      atErr,
      atErr,
      0.01,
    ),
  );
  const muErr = Math.hypot(...at.mu.map((m, i) => m - mu2[i])) / Math.hypot(...mu2);
  out.push(
    claim(
      "thm2.advtrain_mu",
      "Thm 2: adversarial training keeps mu_r = mu* (relative error)",
      0,
      muErr,
      muErr,
      0.01,
    ),
  );
  // Thm 3: worst-case cosine closed form vs numerical minimum, and robust > standard
  const wc = worstCosineClosedForm(sigma5), wn = worstCosineNumerical(sigma5, { seed: opts.seed + 6 });
  out.push(
    claim(
      "thm3.kantorovich",
      "Thm 3: min_mu cos(mu, Sigma^-1 mu) = 2 sqrt(kappa)/(1 + kappa) (numerical minimum)",
      wc,
      wn,
      Math.abs(wc - wn),
      1e-6,
    ),
  );
  const wr = worstCosineClosedForm(sigmaRobust(sigma5, lam));
  out.push(
    claim(
      "thm3.robust_better",
      "Thm 3: the robust model's worst-case cosine is strictly higher than the standard one's",
      wc,
      wr,
      wr > wc ? 0 : 1,
      0,
    ),
  );
  out.push(
    claim(
      "thm3.example",
      "Thm 3: gradient cosine of the standard model at this mu is >= the worst case",
      wc,
      gradientCosine(mu5, sigma5),
      Math.max(0, wc - gradientCosine(mu5, sigma5)),
      1e-12,
    ),
  );
  return out;
}
