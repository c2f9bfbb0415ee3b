// Tests for lib/util/registry.ts: lookup, unknown names with the accepted list, unique and well-formed names.
import assert from "node:assert/strict";
import { Registry } from "../../../lib/util/registry.ts";

Deno.test("Registry.get() returns entries; an unknown name lists the accepted ones and suggests the closest", () => {
  const r = new Registry<number>("widget", { alpha: 1, beta: 2 });
  assert.equal(r.get("beta"), 2);
  assert.deepEqual(r.names(), ["alpha", "beta"]);
  assert.throws(
    () => r.get("alpah"),
    /unknown widget "alpah"; accepted: alpha, beta; did you mean "alpha"\?/,
  );
});

Deno.test("Registry.register() refuses a taken name unless replace is set, and names with spaces", () => {
  const r = new Registry<number>("widget", { alpha: 1 });
  assert.throws(() => r.register("alpha", 3), /a widget named "alpha" is already registered/);
  r.register("alpha", 3, { replace: true });
  assert.equal(r.get("alpha"), 3);
  assert.throws(() => r.register("two words", 1), /must be letters, digits/);
});

Deno.test("Registry.origin() is the module outside lib/ that registered an entry; null for lib's own", () => {
  const r = new Registry<number>("widget", { alpha: 1 });
  r.register("beta", 2);
  assert.equal(r.origin("alpha"), null);
  assert.equal(r.origin("beta"), import.meta.url);
  r.register("gamma", 3, { origin: "file:///elsewhere/fork.ts" });
  assert.equal(r.origin("gamma"), "file:///elsewhere/fork.ts");
  assert.throws(() => r.origin("delta"), /unknown widget "delta"/);
});
