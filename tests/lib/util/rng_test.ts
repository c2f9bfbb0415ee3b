// Tests for lib/util/rng.ts: determinism, ranges and distribution moments.
import assert from "node:assert/strict";
import { createRng, deriveSeed } from "../../../lib/util/rng.ts";

Deno.test("createRng() gives the same stream for the same seed and a different one otherwise", () => {
  const a = createRng(7), b = createRng(7), c = createRng(8);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.next()));
});

Deno.test("createRng() uniform and normal samples have the right moments", () => {
  const r = createRng(1);
  const n = 200_000;
  let su = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(sn / n) < 0.01);
  assert.ok(Math.abs(sn2 / n - 1) < 0.02);
});

Deno.test("Rng.permutation() is a permutation and int() stays in range", () => {
  const r = createRng(3);
  const p = r.permutation(1000);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  for (let i = 0; i < 1000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
});

Deno.test("deriveSeed() is deterministic and label-sensitive", () => {
  assert.equal(deriveSeed(1, "train"), deriveSeed(1, "train"));
  assert.notEqual(deriveSeed(1, "train"), deriveSeed(1, "attack"));
  assert.notEqual(deriveSeed(1, "train"), deriveSeed(2, "train"));
});
