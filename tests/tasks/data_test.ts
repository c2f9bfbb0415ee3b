// Tests for tasks/data.ts (`deno task data`) run as a subprocess: output on a tiny dataset, bad inputs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx } from "../../lib/data/idx.ts";
import {
  cifarRecords,
  writeTinyCifar,
  writeTinyFolder,
  writeTinyIdx,
  writeTinyNpy,
} from "../lib/data/helpers.ts";

const MAIN = new URL("../../tasks/data.ts", import.meta.url).pathname;

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

Deno.test("deno task data: npy:DIR prints counts per class (names from classes.txt) and the fingerprint", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyNpy(dir, { nTrain: 7, nTest: 3, shape: [5, 5, 3], k: 3, classes: ["cat", "dog", "owl"] });
  const r = await runData([`--dataset=npy:${dir}`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`npy:${dir}: 5x5x3 images, 3 classes`));
  assert.match(r.out, /train: 7 examples.*\n {2}per class: cat 3, dog 2, owl 2\n/);
  assert.match(r.out, /test: 3 examples.*\n {2}per class: cat 1, dog 1, owl 1\n/);
  assert.match(r.out, /fingerprint: [0-9a-f]{64}\n/);
});

Deno.test("deno task data: folder:DIR decodes with a progress line, then prints counts per class", async () => {
  const dir = await Deno.makeTempDir(), cache = await Deno.makeTempDir();
  await writeTinyFolder(join(dir, "imgs"), { train: { b: 2, a: 3 }, test: { a: 1, b: 2 } }, {
    size: 6,
    color: true,
  });
  const r = await runData([`--dataset=folder:${join(dir, "imgs")}`, "--imageSize=4", `--cacheDir=${cache}`]);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(cache, { recursive: true });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /4x4x3 images, 2 classes/);
  assert.match(r.out, /train: 5 examples.*\n {2}per class: a 3, b 2\n/);
  assert.match(r.out, /test: 3 examples.*\n {2}per class: a 1, b 2\n/);
  assert.match(r.err, /decode folder:.* 8\/8 img/);
});

Deno.test("deno task data: a corrupt image is a one-line error naming it, no stack", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyFolder(dir, { train: { a: 1, b: 1 }, test: { a: 1, b: 1 } });
  const bad = join(dir, "test", "b", "0.png");
  await Deno.writeFile(bad, (await Deno.readFile(bad)).subarray(0, 30));
  const r = await runData([`--dataset=folder:${dir}`, "--cacheDir="]);
  await Deno.remove(dir, { recursive: true });
  assert.notEqual(r.code, 0);
  assert.ok(!r.err.includes("    at "), r.err);
  assert.match(r.err.trim().split("\n").pop()!, new RegExp(`^error: ${bad}: cannot decode this PNG`));
});

Deno.test("deno task data: --help prints usage and exits 0", async () => {
  const r = await runData(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /--dataset=NAME/);
  assert.match(r.out, /fashion-mnist, mnist, cifar10/);
});

for (
  const [what, args, parts] of [
    ["unknown dataset", ["--dataset=cifar101"], [
      '"cifar101"',
      "fashion-mnist, mnist, cifar10",
      "npy:DIR",
      'did you mean "cifar10"',
    ]],
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

/** Each corrupts one file of a tiny dataset in `dir`; returns the dataset name and the expected message parts. */
const CORRUPT: [string, (dir: string) => Promise<[string, string[]]>][] = [
  ["wrong IDX magic", async (dir) => {
    const p = join(dir, "train-images-idx3-ubyte");
    await Deno.writeFile(p, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    return ["mnist", [p, "magic"]];
  }],
  ["truncated label file", async (dir) => {
    const p = join(dir, "t10k-labels-idx1-ubyte");
    await Deno.writeFile(p, encodeIdx([5], new Uint8Array(5)).subarray(0, 10));
    return ["mnist", [p, "truncated", "found 2"]];
  }],
  ["image count != label count", async (dir) => {
    const p = join(dir, "train-labels-idx1-ubyte");
    await Deno.writeFile(p, encodeIdx([3], new Uint8Array(3)));
    return ["mnist", [p, "3 labels", "20 images"]];
  }],
  ["label out of range", async (dir) => {
    const p = join(dir, "train-labels-idx1-ubyte");
    await Deno.writeFile(p, encodeIdx([20], new Uint8Array(20).fill(255)));
    return ["mnist", [p, "label 255", "0..9"]];
  }],
  ["CIFAR size not a multiple of 3073", async (dir) => {
    await writeTinyCifar(dir, { perBatch: 1, nTest: 1 });
    const p = join(dir, "test_batch.bin");
    await Deno.writeFile(p, cifarRecords(1).subarray(1));
    return ["cifar10", [p, "3072", "multiple of 3073"]];
  }],
];

for (const [what, corrupt] of CORRUPT) {
  Deno.test(`deno task data: ${what} is a one-line error naming the file, no stack`, async () => {
    const dir = await Deno.makeTempDir();
    await writeTinyIdx(dir, { nTrain: 20, nTest: 5, gz: false });
    const [dataset, parts] = await corrupt(dir);
    const r = await runData([`--dataset=${dataset}`, `--dir=${dir}`]);
    await Deno.remove(dir, { recursive: true });
    assert.notEqual(r.code, 0);
    assert.ok(!r.err.includes("    at "), `stack trace in: ${r.err}`);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    for (const p of parts) {
      assert.ok(r.err.startsWith("error: ") && r.err.includes(p), `"${r.err}" lacks "${p}"`);
    }
  });
}
