// The backend tests' closeness check: max |got - ref| relative to max |ref| (the 1e-4 of the kernel contract).
import assert from "node:assert/strict";

/** max_i |got[i] - ref[i]| / max_i |ref[i]| (a floor of 1e-12 on the denominator). */
export function maxRelError(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(got[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / Math.max(den, 1e-12);
}

/** Asserts equal lengths and maxRelError(ref, got) <= tol (default 1e-4). */
export function assertClose(ref: ArrayLike<number>, got: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(got.length, ref.length, `${what}: length`);
  const e = maxRelError(ref, got);
  assert.ok(e <= tol, `${what}: max relative error ${e}`);
}
