// A named registry of extension points (threat models, objectives, relabelling rules, optimizers): forks add
// their own entries from their own files; unknown names are errors that list what is registered.
import { suggest } from "./names.ts";

/** Values looked up by name, e.g. `RELABEL_RULES.get("d_det")`. */
export class Registry<T> {
  readonly #items = new Map<string, T>();

  /** `what` names the kind of entry in error messages ("relabelling rule"). */
  constructor(readonly what: string, initial: Record<string, T> = {}) {
    for (const [name, value] of Object.entries(initial)) this.register(name, value);
  }

  /** Adds `value` under `name`; a name already taken is an error unless `replace` is set. */
  register(name: string, value: T, opts: { replace?: boolean } = {}): void {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new RangeError(`${this.what} name "${name}" must be letters, digits, _ . or -`);
    }
    if (this.#items.has(name) && !opts.replace) {
      throw new RangeError(
        `a ${this.what} named "${name}" is already registered; pick another name or pass { replace: true }`,
      );
    }
    this.#items.set(name, value);
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
