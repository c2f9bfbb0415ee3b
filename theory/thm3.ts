// Theorem 3 (gradient alignment): the linear classifier's gradient and its worst-case cosine with mu.
// Loss convention: l(x; mu, Sigma) = (x - mu)^T Sigma^-1 (x - mu) + log det Sigma (see gaussian.ts).
import { checkSpd, cond, Matrix, rng, spdInverse } from "./linalg.ts";

/** Gradient of f(x) = x^T Sigma^-1 mu (the likelihood-ratio classifier's score): Sigma^-1 mu. */
export function classifierGradient(mu: number[], sigma: Matrix): number[] {
  return spdInverse(sigma).mmul(Matrix.columnVector(mu)).to1DArray();
}

/** cos(mu, Sigma^-1 mu). */
export function gradientCosine(mu: number[], sigma: Matrix): number {
  const g = classifierGradient(mu, sigma);
  const dot = mu.reduce((a, v, i) => a + v * g[i], 0);
  return dot / (Math.hypot(...mu) * Math.hypot(...g));
}

/** Closed form (Kantorovich): min over mu of cos(mu, Sigma^-1 mu) = 2 sqrt(kappa) / (1 + kappa). */
export function worstCosineClosedForm(sigma: Matrix): number {
  checkSpd("Sigma", sigma);
  const k = cond(sigma);
  return (2 * Math.sqrt(k)) / (1 + k);
}

/**
 * Numerical minimum of cos(mu, Sigma^-1 mu) over unit mu in R^d: Riemannian gradient descent on the sphere
 * from several seeded random starts (no use of the eigenvectors).
 */
export function worstCosineNumerical(
  sigma: Matrix,
  opts: { restarts?: number; iters?: number; seed?: number } = {},
): number {
  checkSpd("Sigma", sigma);
  const d = sigma.rows, inv = spdInverse(sigma).to2DArray(), r = rng(opts.seed ?? 1);
  const mv = (u: number[]) => inv.map((row) => row.reduce((a, v, j) => a + v * u[j], 0));
  const f = (u: number[]) => {
    const g = mv(u);
    return u.reduce((a, v, i) => a + v * g[i], 0) / (Math.hypot(...u) * Math.hypot(...g));
  };
  let best = Infinity;
  for (let rs = 0; rs < (opts.restarts ?? 8); rs++) {
    let u = Array.from({ length: d }, () => r.normal());
    let step = 0.1;
    let fu = f(u);
    for (let it = 0; it < (opts.iters ?? 4000); it++) {
      // numerical gradient (central differences) projected on the tangent space
      const h = 1e-7;
      const g = u.map((_, i) => {
        const up = [...u], dn = [...u];
        up[i] += h;
        dn[i] -= h;
        return (f(up) - f(dn)) / (2 * h);
      });
      const n = Math.hypot(...u);
      const radial = g.reduce((a, v, i) => a + v * u[i], 0) / (n * n);
      const tg = g.map((v, i) => v - radial * u[i]);
      const cand = u.map((v, i) => v - step * tg[i]);
      const fc = f(cand);
      if (fc < fu) {
        const cn = Math.hypot(...cand);
        u = cand.map((v) => v / cn);
        fu = fc;
        step *= 1.2;
      } else step /= 2;
      if (step < 1e-14) break;
    }
    best = Math.min(best, fu);
  }
  return best;
}
