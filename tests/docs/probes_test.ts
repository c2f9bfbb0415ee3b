// The probes behind docs/exploration.md: planted_delta.ts reproduces its run's number and splits the perturbation;
// both probes type-check against the current lib and refuse bad input with a message.
import assert from "node:assert/strict";
import { DEFAULTS, main, PRESETS } from "../../experiments/sec3_2.ts";
import { smokeConfig } from "../experiments/smoke_helpers.ts";

const probe = (name: string) => new URL(`../../docs/probes/${name}`, import.meta.url).pathname;

/** Runs `deno <args>` and returns its exit code and output. */
async function deno(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("planted_delta.ts: a fresh model on the set as built scores the run's D_det, and each part is scored", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  const r = await main({ ...config, plant: { ...config.plant, norm: 0.5 } }, {
    preset: "smoke",
    quiet: true,
  });
  const { code, out, err } = await deno(["run", "-A", probe("planted_delta.ts"), `--run=${config.out}`]);
  assert.equal(code, 0, err);
  const scores = [...out.matchAll(/^(x \+ .*): a fresh cnn scores ([\d.]+)%/gm)];
  assert.deepEqual(scores.map((m) => m[1]), [
    "x + delta (the set as built)",
    "x + delta's part in the patterns' span",
    "x + delta's part outside the span",
    "x + (outside part) in the target's shifted pattern",
    "x + (outside part) without it",
  ]);
  // the probe rebuilds the run's planted images and trains the run's fresh model: it must land on its number
  assert.equal(scores[0][2], (100 * r.sets.d_det.testAcc).toFixed(1));
  const shares = out.match(/in the target's shifted pattern ([\d.]+)%, the original class's ([\d.]+)%/);
  assert.ok(shares, out);
  for (const s of shares.slice(1)) assert.ok(Number(s) >= 0 && Number(s) <= 100, `${s}% is a share`);
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("planted_delta.ts refuses a run that is not on planted data, with a message and status 2", async () => {
  const config = await smokeConfig(DEFAULTS, PRESETS);
  await main(config, { preset: "smoke", quiet: true });
  const { code, err } = await deno(["run", "-A", probe("planted_delta.ts"), `--run=${config.out}`]);
  assert.equal(code, 2);
  assert.match(err, /is not a sec3_2 run on planted data \(plant\.norm 0\); run sec3_2 --plant\.norm=0\.5/);
  assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
  await Deno.remove(config.out, { recursive: true });
});

Deno.test("relabel_attack.ts type-checks against the current lib and refuses a bad --n with status 2", async () => {
  const checked = await deno(["check", probe("relabel_attack.ts")]);
  assert.equal(checked.code, 0, checked.err);
  const bad = await deno(["run", "-A", probe("relabel_attack.ts"), "--n=0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--n one of 1\.\.20000.*got --seed=0 --n=0 --eps=4/);
});
