// Theorem 2 (robust learning blends the data metric with L2): Sigma_r(lambda), eps(lambda), lambda(eps), the
// relaxed robust objective, and adversarial training of (mu, Sigma) with the penalized and the exact adversary.
// Loss convention: l(x; mu, Sigma) = (x - mu)^T Sigma^-1 (x - mu) + log det Sigma (see gaussian.ts).
import { eigh, logDet, Matrix, spdInverse, spectralMap } from "./linalg.ts";
import { checkModel, sample } from "./gaussian.ts";

function checkLambda(lambda: number): void {
  if (!(lambda > 0) || !Number.isFinite(lambda)) {
    throw new RangeError(`lambda must be a finite number > 0, got ${lambda}`);
  }
}

/** Thm 2: Sigma_r = Sigma* / 2 + I/lambda + sqrt(Sigma* / lambda + Sigma*^2/4) (the root with lambda Sigma_r > I). */
export function sigmaRobust(sigmaStar: Matrix, lambda: number): Matrix {
  checkLambda(lambda);
  return spectralMap(sigmaStar, (s) => s / 2 + 1 / lambda + Math.sqrt(s / lambda + (s * s) / 4));
}

/** Residual of the quadratic Sigma_r^2 - (Sigma* + 2/lambda I) Sigma_r + lambda^-2 I (zero at the closed form). */
export function sigmaRobustResidual(sigmaR: Matrix, sigmaStar: Matrix, lambda: number): Matrix {
  const d = sigmaR.rows;
  return sigmaR.mmul(sigmaR).sub(Matrix.add(sigmaStar, Matrix.eye(d).mul(2 / lambda)).mmul(sigmaR)).add(
    Matrix.eye(d).mul(1 / lambda ** 2),
  );
}

/** The budget the penalty lambda stands for: eps^2 = E||delta*||^2 = tr(Sigma_r^-1) / lambda^2. */
export function epsOfLambda(sigmaStar: Matrix, lambda: number): number {
  const sr = eigh(sigmaRobust(sigmaStar, lambda)).values;
  return Math.sqrt(sr.reduce((a, s) => a + 1 / s, 0)) / lambda;
}

/** Inverse of epsOfLambda (which is decreasing) by bisection on log lambda; eps = 0 gives Infinity. */
export function lambdaOfEps(sigmaStar: Matrix, eps: number): number {
  if (!(eps >= 0) || !Number.isFinite(eps)) {
    throw new RangeError(`eps must be a finite number >= 0, got ${eps}`);
  }
  if (eps === 0) return Infinity;
  let lo = -60, hi = 60; // log lambda
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (epsOfLambda(sigmaStar, Math.exp(mid)) > eps) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * Relaxed robust objective at mu = mu*: E[max_d l(x + d; y mu*, Sigma) - lambda ||d||^2]
 * = lambda tr((lambda Sigma - I)^-1 Sigma*) + log det Sigma, defined for lambda Sigma > I (else Infinity).
 */
export function relaxedObjective(sigma: Matrix, sigmaStar: Matrix, lambda: number): number {
  checkLambda(lambda);
  const a = Matrix.mul(sigma, lambda).sub(Matrix.eye(sigma.rows));
  if (!(eigh(a).values[0] > 0)) return Infinity;
  return lambda * spdInverse(a).mmul(sigmaStar).trace() + logDet(sigma);
}

/** Gradient of relaxedObjective w.r.t. Sigma (symmetric): Sigma^-1 - lambda^2 A^-1 Sigma* A^-1, A = lambda Sigma - I. */
export function relaxedObjectiveGrad(sigma: Matrix, sigmaStar: Matrix, lambda: number): Matrix {
  const ai = spdInverse(Matrix.mul(sigma, lambda).sub(Matrix.eye(sigma.rows)));
  const g = spdInverse(sigma).sub(ai.mmul(sigmaStar).mmul(ai).mul(lambda * lambda));
  return g.add(g.transpose()).div(2);
}

/**
 * The exact constrained adversary (a trust-region problem per sample): argmax_{||d|| <= eps} of
 * (z + d)^T Sigma^-1 (z + d). The maximum is on the sphere, d = (nu Sigma - I)^-1 z with nu > 1/s_min solving the
 * secular equation sum_i z_i^2 / (nu s_i - 1)^2 = eps^2 (in Sigma's eigenbasis). Rows of z [n, d] -> [n, d].
 */
export function exactAdversary(z: Matrix, sigma: Matrix, eps: number): Matrix {
  if (!(eps > 0)) throw new RangeError(`eps must be > 0, got ${eps}`);
  const { values: s, vectors: v } = eigh(sigma);
  const zc = z.mmul(v); // coordinates in the eigenbasis
  const out = new Matrix(z.rows, z.columns);
  for (let i = 0; i < z.rows; i++) {
    const zi = zc.getRow(i);
    const norm2 = (nu: number) => zi.reduce((a, w, k) => a + (w / (nu * s[k] - 1)) ** 2, 0);
    let lo = 1 / s[0] * (1 + 1e-15), hi = 1 / s[0] + 1;
    while (norm2(hi) > eps * eps) hi = 1 / s[0] + 2 * (hi - 1 / s[0]);
    if (norm2(lo) < eps * eps) lo = hi; // degenerate (z orthogonal to the top direction): boundary solution
    for (let it = 0; it < 200 && hi - lo > 1e-14 * hi; it++) {
      const mid = (lo + hi) / 2;
      if (norm2(mid) > eps * eps) lo = mid;
      else hi = mid;
    }
    const nu = (lo + hi) / 2;
    out.setRow(i, zi.map((w, k) => w / (nu * s[k] - 1)));
  }
  return out.mmul(v.transpose());
}

/** Options of adversarialTraining(). */
export interface AdvTrainOptions {
  /** "penalized": delta* = (lambda Sigma - I)^-1 z (Thm 2's relaxation); "exact": ||delta|| <= eps. */
  adversary: "penalized" | "exact";
  lambda?: number;
  eps?: number;
  /** Fresh samples per step. */
  batch: number;
  steps: number;
  /** Step size in (0, 1] of the preconditioned (natural) gradient step. */
  lr: number;
  seed: number;
  /** Average the iterates of the last `average` fraction of steps (Polyak), default 0.5. */
  average?: number;
}

/**
 * Adversarial training in the Gaussian model by stochastic (sub)gradient descent on (mu, Sigma) with the loss
 * at x + delta* (Danskin). The Sigma-gradient is Sigma^-1 - Sigma^-1 S Sigma^-1 with S = mean w w^T,
 * w = x + delta - y mu; we take the preconditioned step Sigma <- Sigma - lr Sigma grad Sigma = (1-lr) Sigma + lr S
 * (and likewise for mu), starting from a large multiple of I so that lambda Sigma > I holds throughout.
 */
export function adversarialTraining(
  muStar: number[],
  sigmaStar: Matrix,
  opts: AdvTrainOptions,
): { mu: number[]; sigma: Matrix } {
  checkModel(muStar, sigmaStar);
  if (opts.adversary === "penalized") checkLambda(opts.lambda ?? NaN);
  if (opts.adversary === "exact" && !((opts.eps ?? NaN) > 0)) {
    throw new RangeError(`eps must be > 0, got ${opts.eps}`);
  }
  if (!(opts.lr > 0 && opts.lr <= 1)) throw new RangeError(`lr must be in (0, 1], got ${opts.lr}`);
  const d = muStar.length;
  let mu = muStar.map(() => 0);
  let sigma = Matrix.eye(d).mul(
    10 * (eigh(sigmaStar).values[d - 1] + (opts.lambda ? 1 / opts.lambda : 0) + 1),
  );
  const avgFrom = Math.floor(opts.steps * (1 - (opts.average ?? 0.5)));
  let sumMu = new Array(d).fill(0), sumSigma = new Matrix(d, d), k = 0;
  for (let step = 0; step < opts.steps; step++) {
    const { x, y } = sample(muStar, sigmaStar, opts.batch, opts.seed * 100003 + step);
    const z = x.clone();
    for (let i = 0; i < z.rows; i++) for (let j = 0; j < d; j++) z.set(i, j, x.get(i, j) - y[i] * mu[j]);
    const delta = opts.adversary === "exact"
      ? exactAdversary(z, sigma, opts.eps!)
      : z.mmul(spdInverse(Matrix.mul(sigma, opts.lambda!).sub(Matrix.eye(d))));
    const w = Matrix.add(z, delta);
    const s = w.transpose().mmul(w).div(opts.batch);
    // mu-gradient -2 y Sigma^-1 w, preconditioned by Sigma/2: mu <- mu + lr mean(y w)
    const gMu = new Array(d).fill(0);
    for (let i = 0; i < w.rows; i++) for (let j = 0; j < d; j++) gMu[j] += (y[i] * w.get(i, j)) / opts.batch;
    mu = mu.map((m, j) => m + opts.lr * gMu[j]);
    sigma = Matrix.mul(sigma, 1 - opts.lr).add(Matrix.mul(s, opts.lr));
    sigma = sigma.add(sigma.transpose()).div(2);
    if (step >= avgFrom) (sumMu = sumMu.map((a, j) => a + mu[j]), sumSigma = sumSigma.add(sigma), k++);
  }
  return { mu: sumMu.map((a) => a / k), sigma: sumSigma.div(k) };
}
