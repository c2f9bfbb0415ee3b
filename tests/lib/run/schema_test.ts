// Tests for lib/run/schema.ts: one declaration per key gives the config type, the defaults, the key specs and the
// keys --dataset adapts; a group takes other defaults without being declared again.
import assert from "node:assert/strict";
import { checkLeaf } from "../../../lib/run/config.ts";
import {
  type ConfigOf,
  datasetKeysOf,
  defaultsOf,
  Key,
  key,
  keySpecsOf,
  withDefaults,
} from "../../../lib/run/schema.ts";

const SCHEMA = {
  size: key(100, { help: "examples", integer: true, min: 0 }),
  mode: key("fast", { help: "mode", choices: ["fast", "slow"] }),
  names: key(["a", "b"], { help: "names", distinct: true }),
  attack: {
    eps: key(0.5, { help: "radius", above: 0, role: "eps" }),
    curve: key([1, 2], { help: "radii", above: 0, role: "eps" }),
    flip: key(false, { help: "flips" }),
  },
  model: {
    arch: key("cnn", { help: "arch", role: "arch" }),
    epochs: key(3, { help: "epochs", role: "epochs" }),
  },
};

/** True when A and B are the same type (checked at compile time by the assignments below). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

Deno.test("ConfigOf<>: the config type follows the schema (choices as a union, literals widened)", () => {
  type C = ConfigOf<typeof SCHEMA>;
  const same: Same<C, {
    size: number;
    mode: "fast" | "slow";
    names: string[];
    attack: { eps: number; curve: number[]; flip: boolean };
    model: { arch: string; epochs: number };
  }> = true;
  assert.ok(same);
});

Deno.test("defaultsOf(): every key's default in the schema's order, a fresh copy each time", () => {
  const d = defaultsOf(SCHEMA);
  assert.deepEqual(d, {
    size: 100,
    mode: "fast",
    names: ["a", "b"],
    attack: { eps: 0.5, curve: [1, 2], flip: false },
    model: { arch: "cnn", epochs: 3 },
  });
  assert.deepEqual(
    JSON.stringify(Object.keys(d)),
    JSON.stringify(["size", "mode", "names", "attack", "model"]),
  );
  d.names.push("c");
  assert.deepEqual(defaultsOf(SCHEMA).names, ["a", "b"], "a default list is not shared with a config");
});

Deno.test("keySpecsOf(): dotted keys with their help and bounds (no default, no role)", () => {
  const keys = keySpecsOf(SCHEMA);
  assert.deepEqual(Object.keys(keys), [
    "size",
    "mode",
    "names",
    "attack.eps",
    "attack.curve",
    "attack.flip",
    "model.arch",
    "model.epochs",
  ]);
  assert.deepEqual(keys["attack.eps"], { help: "radius", above: 0 });
  assert.deepEqual(keys.mode, { help: "mode", choices: ["fast", "slow"] });
  assert.throws(() => checkLeaf("attack.curve", [1, 0], keys["attack.curve"]), /--attack\.curve must be > 0/);
  assert.throws(() => checkLeaf("names", ["a", "a"], keys.names), /lists "a" twice/);
});

Deno.test("datasetKeysOf(): the keys of each dataset role, in the schema's order", () => {
  assert.deepEqual(datasetKeysOf(SCHEMA), {
    eps: ["attack.eps", "attack.curve"],
    arch: ["model.arch"],
    epochs: ["model.epochs"],
  });
  assert.deepEqual(datasetKeysOf({ size: SCHEMA.size }), { eps: [], arch: [], epochs: [] });
});

Deno.test("withDefaults(): the same keys, specs and roles with other defaults; a missing value is an error", () => {
  const other = withDefaults(SCHEMA.attack, { eps: 2, curve: [3], flip: true });
  assert.deepEqual(defaultsOf(other), { eps: 2, curve: [3], flip: true });
  assert.deepEqual(keySpecsOf(other), keySpecsOf(SCHEMA.attack));
  assert.deepEqual(datasetKeysOf({ attack: other }), datasetKeysOf({ attack: SCHEMA.attack }));
  assert.ok(other.eps instanceof Key && other.eps !== SCHEMA.attack.eps);
  assert.equal(SCHEMA.attack.eps.value, 0.5, "the declared schema is unchanged");
  assert.throws(
    () => withDefaults(SCHEMA.attack, { eps: 2, curve: [3] } as never),
    /internal: withDefaults\(\) has no value for the key "flip"/,
  );
});
