// Relabelling rules of Section 3.2 as values: t = rule(y, numClasses, rng), registered by name (d_rand, d_det
// built in). A fork registers its own rule from its own file; the rule's source text is part of the cache key.
import { Registry } from "../util/registry.ts";
import type { Rng } from "../util/rng.ts";

/** Picks a target class t[i] != y[i] for every example: labels y [n] -> targets [n]. */
export type RelabelRule = (y: Uint8Array, numClasses: number, rng: Rng) => Uint8Array;

/** The registered relabelling rules, keyed by the dataset name they build (`d_rand`, `d_det`). */
export const RELABEL_RULES = new Registry<RelabelRule>("relabelling rule", {
  /** D_rand: t uniform over the other classes. */
  d_rand: (y, C, rng) => Uint8Array.from(y, (v) => (v + 1 + rng.int(C - 1)) % C),
  /** D_det: t = (y + 1) mod C, a fixed permutation of the classes. */
  d_det: (y, C) => Uint8Array.from(y, (v) => (v + 1) % C),
});

/** Registers `rule` under `name` so `--variants=<name>` builds the dataset it defines. */
export function registerRelabelRule(name: string, rule: RelabelRule): void {
  RELABEL_RULES.register(name, rule);
}

/**
 * Applies a rule and checks what it returned: one target per example, each a class index, none equal to y
 * (a relabelled example must carry a wrong label).
 */
export function relabel(name: string, y: Uint8Array, numClasses: number, rng: Rng): Uint8Array {
  const t = RELABEL_RULES.get(name)(y, numClasses, rng);
  if (t.length !== y.length) {
    throw new RangeError(`relabelling rule "${name}" returned ${t.length} targets for ${y.length} labels`);
  }
  for (let i = 0; i < t.length; i++) {
    if (!(t[i] < numClasses) || t[i] === y[i]) {
      throw new RangeError(
        `relabelling rule "${name}" gave target ${t[i]} for label ${y[i]} at index ${i}; ` +
          `targets must be classes 0..${numClasses - 1} other than the label`,
      );
    }
  }
  return t;
}
