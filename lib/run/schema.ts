// A config schema: one entry per key (default, help, bounds, dataset role), from which the config's type, its
// defaults, its CLI key specs and the keys --dataset adapts are derived; groups of keys are nested objects.
import type { KeySpec, Leaf } from "./config.ts";

/** What a key is to a dataset's defaults (lib/data/info.ts): an L2 radius scaled by the epsScale ratio, an
 * architecture set to the dataset's, or training epochs scaled by the ratio of the datasets' epochs. */
export type DatasetRole = "eps" | "arch" | "epochs";

/** The config keys a dataset's defaults act on, by role (dotted keys, in the schema's order). */
export interface DatasetKeys {
  /** L2 radii, multiplied by the ratio of the datasets' epsScale. */
  eps: string[];
  /** Architectures, set to the dataset's default architecture. */
  arch: string[];
  /** Training epochs, multiplied by the ratio of the datasets' default epochs. */
  epochs: string[];
}

/** One config key: its default, its help and constraints (KeySpec) and its dataset role, if any. */
export class Key<T extends Leaf> {
  constructor(readonly value: T, readonly spec: KeySpec, readonly role?: DatasetRole) {}
}

/** A schema: keys and nested groups of keys, in config order. */
export interface Schema {
  [name: string]: Key<Leaf> | Schema;
}

/** The config a schema describes: each key's value type, groups as nested objects. */
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends Key<infer T> ? T : ConfigOf<S[K]> };

/** A literal's type widened to the leaf type it stands for (3 -> number, "cnn" -> string, [] -> string[]). */
type Widen<T> = T extends string ? string
  : T extends number ? number
  : T extends boolean ? boolean
  : T extends readonly string[] ? string[]
  : T extends readonly number[] ? number[]
  : never;

/** What a key declares besides its default. */
export type KeyDecl = KeySpec & { role?: DatasetRole };

/**
 * Declares a key: its default `value`, help and constraints, and its dataset role. A string key with `choices`
 * has the union of the choices as its type; any other key the type of its value (number, string, boolean, a list).
 */
export function key<const C extends readonly string[]>(
  value: C[number],
  decl: KeyDecl & { choices: C },
): Key<C[number]>;
export function key<T extends Leaf>(value: T, decl: KeyDecl): Key<Widen<T>>;
export function key(value: Leaf, decl: KeyDecl): Key<Leaf> {
  const { role, ...spec } = decl;
  return new Key(value, spec, role);
}

const isKey = (v: Key<Leaf> | Schema): v is Key<Leaf> => v instanceof Key;

/** The defaults a schema declares, as a config (a fresh object, in the schema's order). */
export function defaultsOf<S extends Schema>(schema: S): ConfigOf<S> {
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, isKey(v) ? structuredClone(v.value) : defaultsOf(v)]),
  ) as ConfigOf<S>;
}

/** The CLI key specs of a schema, by dotted key (`source.lr`). */
export function keySpecsOf(schema: Schema, prefix = ""): Record<string, KeySpec> {
  const out: Record<string, KeySpec> = {};
  for (const [k, v] of Object.entries(schema)) {
    const dotted = prefix ? `${prefix}.${k}` : k;
    if (isKey(v)) out[dotted] = v.spec;
    else Object.assign(out, keySpecsOf(v, dotted));
  }
  return out;
}

/** The keys of each dataset role, in the schema's order. */
export function datasetKeysOf(schema: Schema): DatasetKeys {
  const out: DatasetKeys = { eps: [], arch: [], epochs: [] };
  const walk = (s: Schema, prefix: string) => {
    for (const [k, v] of Object.entries(s)) {
      const dotted = prefix ? `${prefix}.${k}` : k;
      if (!isKey(v)) walk(v, dotted);
      else if (v.role) out[v.role].push(dotted);
    }
  };
  walk(schema, "");
  return out;
}

/** The schema with the defaults `values` (a group used with other values: a recipe, a preset's attack). */
export function withDefaults<S extends Schema>(schema: S, values: ConfigOf<S>): S {
  const vals = values as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => {
      if (!(k in vals)) throw new Error(`internal: withDefaults() has no value for the key "${k}"`);
      return [
        k,
        isKey(v) ? new Key(vals[k] as Leaf, v.spec, v.role) : withDefaults(v, vals[k] as ConfigOf<Schema>),
      ];
    }),
  ) as S;
}
