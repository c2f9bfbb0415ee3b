// Theorem 1 (vulnerability from metric misalignment): the penalized adversary and its closed-form loss gap.
// Loss convention: l(x; mu, Sigma) = (x - mu)^T Sigma^-1 (x - mu) + log det Sigma (see gaussian.ts).
import { eigh, Matrix, spdInverse } from "./linalg.ts";
import { checkModel, loss, sample } from "./gaussian.ts";

/** Smallest C for which the penalized objective l(x + d) - C ||d||^2 is concave: 1 / sigma_min(Sigma). */
export function minPenalty(sigma: Matrix): number {
  return 1 / eigh(sigma).values[0];
}

/** Throws a RangeError unless C > 1/sigma_min(Sigma) (otherwise the adversary's objective is unbounded). */
export function checkPenalty(sigma: Matrix, c: number): void {
  const min = minPenalty(sigma);
  if (!(c > min)) {
    throw new RangeError(
      `C must be > 1/sigma_min(Sigma) = ${min.toPrecision(6)} for a concave (bounded) adversary, got ${c}`,
    );
  }
}

/**
 * Thm 1: the maximizer of l(x + delta; y mu, Sigma) - C ||delta||^2, delta* = (C Sigma - I)^-1 (x - y mu),
 * per row of x [n, d]. Returns delta [n, d].
 */
export function deltaStar(x: Matrix, y: number[], mu: number[], sigma: Matrix, c: number): Matrix {
  checkModel(mu, sigma);
  checkPenalty(sigma, c);
  const a = spdInverse(Matrix.mul(sigma, c).sub(Matrix.eye(sigma.rows)));
  const z = x.clone();
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.columns; j++) z.set(i, j, x.get(i, j) - y[i] * mu[j]);
  }
  return z.mmul(a); // a is symmetric
}

/** Thm 1 closed form of L_adv - L at Theta = Theta*: tr[(I + (C Sigma - I)^-1)^2] - d. */
export function gapClosedForm(sigma: Matrix, c: number): number {
  checkPenalty(sigma, c);
  return eigh(sigma).values.reduce((a, s) => a + (c * s / (c * s - 1)) ** 2 - 1, 0);
}

/** Monte-Carlo estimate of E[l(x + delta*)] - E[l(x)] with its standard error (paired samples). */
export function gapMonteCarlo(
  mu: number[],
  sigma: Matrix,
  c: number,
  n: number,
  seed: number,
): { mean: number; se: number } {
  const { x, y } = sample(mu, sigma, n, seed);
  const z = x.clone();
  for (let i = 0; i < n; i++) for (let j = 0; j < z.columns; j++) z.set(i, j, x.get(i, j) - y[i] * mu[j]);
  const zero = new Array(mu.length).fill(0);
  // l(x; y mu, Sigma) = l(x - y mu; 0, Sigma)
  const la = loss(Matrix.add(z, deltaStar(x, y, mu, sigma, c)), zero, sigma), l0 = loss(z, zero, sigma);
  const diff = la.map((v, i) => v - l0[i]);
  const mean = diff.reduce((a, v) => a + v, 0) / n;
  const varr = diff.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(varr / n) };
}

/** Thm 1 (fixed trace): among Sigma with tr(Sigma) = k, the gap is smallest for (k/d) I; that value. */
export function isotropicGap(trace: number, d: number, c: number): number {
  return gapClosedForm(Matrix.eye(d).mul(trace / d), c);
}
