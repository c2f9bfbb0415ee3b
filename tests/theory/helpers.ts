// Test-only numerics independent of theory/: a conjugate-gradient solve (no eigen-decomposition, no inverse).
import { Matrix } from "../../theory/linalg.ts";

/** Solves a u = b for a symmetric positive-definite `a` by conjugate gradients. */
export function solveCg(a: Matrix, b: number[], iters = 60): number[] {
  let u = b.map(() => 0), r = [...b], p = [...r];
  for (let k = 0; k < iters; k++) {
    const ap = a.mmul(Matrix.columnVector(p)).to1DArray();
    const rr = r.reduce((s, v) => s + v * v, 0);
    if (rr < 1e-30) break;
    const alpha = rr / p.reduce((s, v, j) => s + v * ap[j], 0);
    u = u.map((v, j) => v + alpha * p[j]);
    r = r.map((v, j) => v - alpha * ap[j]);
    const beta = r.reduce((s, v) => s + v * v, 0) / rr;
    p = r.map((v, j) => v + beta * p[j]);
  }
  return u;
}
