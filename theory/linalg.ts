// Float64 linear algebra for the Gaussian model (on ml-matrix): SPD checks, spectral functions, seeded RNG.
import { EigenvalueDecomposition, Matrix } from "ml-matrix";

export { Matrix };

/** Validates a symmetric positive-definite matrix; RangeError naming the argument otherwise. */
export function checkSpd(name: string, m: Matrix, opts: { tol?: number } = {}): void {
  if (!m.isSquare()) throw new RangeError(`${name} must be square, got ${m.rows}x${m.columns}`);
  const tol = opts.tol ?? 1e-10;
  const scale = Math.max(1e-300, m.max(), -m.min());
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < i; j++) {
      if (Math.abs(m.get(i, j) - m.get(j, i)) > tol * scale) {
        throw new RangeError(
          `${name} must be symmetric: entry (${i},${j}) = ${m.get(i, j)} but (${j},${i}) = ${m.get(j, i)}`,
        );
      }
    }
  }
  const ev = eigh(m).values;
  if (!(ev[0] > 1e-13 * ev[ev.length - 1])) {
    throw new RangeError(
      `${name} must be positive definite: smallest eigenvalue ${ev[0]} (accepted: > 1e-13 x the largest, ${
        ev[ev.length - 1]
      })`,
    );
  }
}

/** Symmetric eigen-decomposition with ascending eigenvalues: m = V diag(values) V^T. */
export function eigh(m: Matrix): { values: number[]; vectors: Matrix } {
  const e = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const order = e.realEigenvalues.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const V = e.eigenvectorMatrix;
  const vectors = new Matrix(m.rows, m.rows);
  order.forEach(([, i], k) => vectors.setColumn(k, V.getColumn(i)));
  return { values: order.map(([v]) => v), vectors };
}

/** f(m) = V diag(f(values)) V^T for a symmetric m. */
export function spectralMap(m: Matrix, f: (v: number) => number): Matrix {
  const { values, vectors } = eigh(m);
  return vectors.mmul(Matrix.diag(values.map(f))).mmul(vectors.transpose());
}

/** Inverse of an SPD matrix (spectral, symmetric result). */
export const spdInverse = (m: Matrix) => spectralMap(m, (v) => 1 / v);
/** log det of an SPD matrix. */
export const logDet = (m: Matrix) => eigh(m).values.reduce((a, v) => a + Math.log(v), 0);
/** Condition number (largest / smallest eigenvalue) of an SPD matrix. */
export function cond(m: Matrix): number {
  const v = eigh(m).values;
  return v[v.length - 1] / v[0];
}
/** Frobenius norm. */
export const frob = (m: Matrix) => Math.sqrt(m.to1DArray().reduce((a, v) => a + v * v, 0));
/** ||a - b||_F / ||b||_F. */
export const relFrob = (a: Matrix, b: Matrix) => frob(Matrix.sub(a, b)) / frob(b);

/** A seeded float64 random source (mulberry32 + Box-Muller); theory/ has no other randomness. */
export function rng(seed: number): { uniform(): number; normal(): number } {
  let a = (seed >>> 0) ^ 0x6d2b79f5;
  const uniform = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    normal() {
      let u = 0;
      while (u === 0) u = uniform();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    },
  };
}

/** A random SPD matrix with eigenvalues `values` and a random orthogonal basis (seeded). */
export function randomSpd(values: number[], seed: number): Matrix {
  const r = rng(seed), d = values.length;
  const g = new Matrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) g.set(i, j, r.normal());
  const q = eigh(g.add(g.transpose())).vectors; // an orthogonal matrix
  return q.mmul(Matrix.diag(values)).mmul(q.transpose());
}
