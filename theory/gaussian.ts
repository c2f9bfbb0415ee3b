// The Gaussian model of Section 4: y uniform in {-1,+1}, x ~ N(y mu*, Sigma*); sampling, loss, MLE, classifier.
//
// Loss convention (used everywhere in theory/): l(x; mu, Sigma) = (x - mu)^T Sigma^-1 (x - mu) + log det Sigma,
// i.e. twice the negative log-likelihood with constants dropped. With it the paper's closed forms hold exactly.
import { checkSpd, eigh, logDet, Matrix, rng, spdInverse } from "./linalg.ts";

/** Samples n points: y [n] in {-1,+1} and x [n, d] with x_i ~ N(y_i mu, Sigma). Seeded. */
export function sample(mu: number[], sigma: Matrix, n: number, seed: number): { x: Matrix; y: number[] } {
  checkModel(mu, sigma);
  const d = mu.length, r = rng(seed);
  const { values, vectors } = eigh(sigma);
  const root = vectors.mmul(Matrix.diag(values.map(Math.sqrt))); // root root^T = Sigma
  const z = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z.set(i, j, r.normal());
  const x = z.mmul(root.transpose());
  const y = Array.from({ length: n }, () => (r.uniform() < 0.5 ? -1 : 1));
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.set(i, j, x.get(i, j) + y[i] * mu[j]);
  return { x, y };
}

/** Validates (mu, Sigma): Sigma symmetric positive definite and of the same dimension as mu. */
export function checkModel(mu: number[], sigma: Matrix): void {
  checkSpd("Sigma", sigma);
  if (mu.length !== sigma.rows) {
    throw new RangeError(
      `mu has dimension ${mu.length} but Sigma is ${sigma.rows}x${sigma.columns}; they must match`,
    );
  }
}

/** l(x; mu, Sigma) per row of x [n, d] (the loss convention above). */
export function loss(x: Matrix, mu: number[], sigma: Matrix): number[] {
  const inv = spdInverse(sigma), ld = logDet(sigma);
  const z = x.clone().subRowVector(mu);
  const q = z.mmul(inv);
  return Array.from(
    { length: x.rows },
    (_, i) => q.getRow(i).reduce((a, v, j) => a + v * z.get(i, j), 0) + ld,
  );
}

/** Maximum-likelihood (mu, Sigma) from labelled samples: mu = mean of y x, Sigma = covariance of x - y mu. */
export function mle(x: Matrix, y: number[]): { mu: number[]; sigma: Matrix } {
  const n = x.rows, d = x.columns;
  const mu = new Array(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += (y[i] * x.get(i, j)) / n;
  const z = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z.set(i, j, x.get(i, j) - y[i] * mu[j]);
  return { mu, sigma: z.transpose().mmul(z).div(n) };
}

/** The likelihood-ratio classifier: sign(x^T Sigma^-1 mu) per row of x. */
export function classify(x: Matrix, mu: number[], sigma: Matrix): number[] {
  const w = spdInverse(sigma).mmul(Matrix.columnVector(mu));
  return x.mmul(w).to1DArray().map((v) => (v >= 0 ? 1 : -1));
}
