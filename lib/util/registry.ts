// A named registry of extension points (threat models, relabelling rules, optimizers): forks add their own entries
// from their own files (each entry remembers which module registered it); unknown names list what is registered.
import { suggest } from "./names.ts";

/** Values looked up by name, e.g. `RELABEL_RULES.get("d_det")`. */
export class Registry<T> {
  readonly #items = new Map<string, T>();
  readonly #origins = new Map<string, string | null>();

  /** `what` names the kind of entry in error messages ("relabelling rule"). */
  constructor(readonly what: string, initial: Record<string, T> = {}) {
    for (const [name, value] of Object.entries(initial)) this.register(name, value, { origin: null });
  }

  /**
   * Adds `value` under `name`; a name already taken is an error unless `replace` is set. The entry remembers the
   * module that registered it (`origin`, see origin()); by default the first caller on the stack outside lib/.
   */
  register(name: string, value: T, opts: { replace?: boolean; origin?: string | null } = {}): void {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new RangeError(`${this.what} name "${name}" must be letters, digits, _ . or -`);
    }
    if (this.#items.has(name) && !opts.replace) {
      throw new RangeError(
        `a ${this.what} named "${name}" is already registered; pick another name or pass { replace: true }`,
      );
    }
    this.#items.set(name, value);
    this.#origins.set(name, opts.origin !== undefined ? opts.origin : callerOutsideLib());
  }

  /**
   * The file URL of the module outside lib/ that registered `name` (a fork's entry file, a test), or null for
   * an entry of lib/ itself, whose code the lib code hash already covers. Cache keys of artifacts that use the
   * entry include this module's import graph (lib/run/pipeline.ts), so editing a constant or helper the value
   * closes over rebuilds them, which the value's source text alone would not.
   */
  origin(name: string): string | null {
    this.get(name);
    return this.#origins.get(name) ?? null;
  }

  /** The entry called `name`; a RangeError naming the value and the registered names otherwise. */
  get(name: string): T {
    const v = this.#items.get(name);
    if (v === undefined) {
      throw new RangeError(
        `unknown ${this.what} "${name}"; accepted: ${this.names().join(", ")}${suggest(name, this.names())}`,
      );
    }
    return v;
  }

  /** Checks a config value naming entries (one name or a list); the KeySpec `check` of such a key. */
  readonly check = (value: unknown): void => {
    for (const name of Array.isArray(value) ? value : [value]) this.get(String(name));
  };

  has(name: string): boolean {
    return this.#items.has(name);
  }

  /** Registered names in registration order. */
  names(): string[] {
    return [...this.#items.keys()];
  }
}

/** lib/ as a URL prefix: frames in it are the registry's own callers (registerRelabelRule and the like). */
const LIB = new URL("../", import.meta.url).href;

/** The first file URL on the current stack that is not under lib/, or null (a registration made by lib/). */
function callerOutsideLib(): string | null {
  for (const m of (new Error().stack ?? "").matchAll(/(file:\/\/[^\s()]+?):\d+:\d+/g)) {
    if (!m[1].startsWith(LIB)) return m[1];
  }
  return null;
}
