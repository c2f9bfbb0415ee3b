// Shared helpers of the experiment smoke tests: temp out dirs, preset resolution, export checks.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type DeepPartial, merge } from "../../lib/run/config.ts";
import { readNpy } from "../../lib/data/npy.ts";

/** The smoke preset of an experiment with its output redirected to a fresh temp dir. */
export async function smokeConfig<C extends { out: string }>(
  defaults: C,
  presets: Record<string, DeepPartial<C>>,
): Promise<C> {
  const out = await Deno.makeTempDir({ prefix: "smoke_" });
  return { ...merge(defaults, presets.smoke), out };
}

/** Asserts that `<dir>/<name>_x.npy` is float32 [n, ...shape] in [0,1] and `<name>_y.npy` uint8 [n] < classes. */
export async function assertExport(
  dir: string,
  name: string,
  n: number,
  shape: number[],
  classes: number,
): Promise<void> {
  const x = await readNpy(join(dir, `${name}_x.npy`));
  const y = await readNpy(join(dir, `${name}_y.npy`));
  assert.equal(x.dtype, "float32");
  assert.deepEqual(x.shape, [n, ...shape]);
  assert.ok((x.data as Float32Array).every((v) => v >= 0 && v <= 1), `${name}_x.npy values in [0,1]`);
  assert.equal(y.dtype, "uint8");
  assert.deepEqual(y.shape, [n]);
  assert.ok((y.data as Uint8Array).every((v) => v < classes));
  assert.ok((await Deno.stat(join(dir, `${name}_preview.png`))).size > 0);
}

/** Reads `<dir>/results.json` and `<dir>/config.json`. */
export async function readOutputs(
  dir: string,
): Promise<{ results: Record<string, unknown>; config: { config: unknown; meta: Record<string, unknown> } }> {
  return {
    results: JSON.parse(await Deno.readTextFile(join(dir, "results.json"))),
    config: JSON.parse(await Deno.readTextFile(join(dir, "config.json"))),
  };
}

const isFrac = (v: unknown) => typeof v === "number" && v >= 0 && v <= 1;
/** Asserts that every listed dotted path of `obj` is a fraction in [0, 1]. */
export function assertFractions(obj: Record<string, unknown>, paths: string[]): void {
  for (const p of paths) {
    const v = p.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], obj);
    assert.ok(isFrac(v), `${p} should be a fraction, got ${v}`);
  }
}
