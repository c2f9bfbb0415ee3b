// Tests for lib/data/main.ts (`deno task data`) run as a subprocess: output on a tiny dataset, bad inputs.
import assert from "node:assert/strict";
import { writeTinyIdx } from "./helpers.ts";

const MAIN = new URL("../../../lib/data/main.ts", import.meta.url).pathname;

async function runData(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout), err: dec.decode(res.stderr) };
}

Deno.test("deno task data: prints n, per-class counts and pixel stats of a --dir dataset", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyIdx(dir, { nTrain: 20, nTest: 10, gz: true });
  const r = await runData(["--dataset=mnist", `--dir=${dir}`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /train: 20 examples, pixel mean 0\.\d{4} std 0\.\d{4}/);
  assert.match(r.out, /test: 10 examples/);
  assert.match(r.out, /per class: 0 2, 1 2, 2 2, .*9 2\n/);
  assert.match(r.out, /per class: 0 1, 1 1, .*9 1\n/);
});

Deno.test("deno task data: --help prints usage and exits 0", async () => {
  const r = await runData(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /--dataset=NAME/);
  assert.match(r.out, /fashion-mnist, mnist, cifar10/);
});

for (
  const [what, args, parts] of [
    ["unknown dataset", ["--dataset=cifar100"], ['"cifar100"', "fashion-mnist, mnist, cifar10"]],
    ["missing --dir", ["--dir=/no/such/place"], ["/no/such/place", "does not exist"]],
    ["unknown flag", ["--datset=mnist"], ["datset"]],
  ] as const
) {
  Deno.test(`deno task data: ${what} is a one-line error, non-zero exit, no stack`, async () => {
    const r = await runData([...args]);
    assert.notEqual(r.code, 0);
    assert.ok(!r.err.includes("    at "), `stack trace in: ${r.err}`);
    const first = r.err.split("\n")[0];
    assert.ok(first.startsWith("error: "), r.err);
    for (const p of parts) assert.ok(first.includes(p), `"${first}" lacks "${p}"`);
  });
}

Deno.test("deno task data: empty --dir names the missing files, no stack", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runData(["--dataset=cifar10", `--dir=${dir}`]);
  await Deno.remove(dir, { recursive: true });
  assert.notEqual(r.code, 0);
  assert.ok(!r.err.includes("    at "), r.err);
  assert.match(r.err, /^error: .*data_batch_1\.bin.*cifar-10-binary\.tar\.gz/);
});
