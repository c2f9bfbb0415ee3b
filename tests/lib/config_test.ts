// Tests for lib/config.ts: presets, dotted overrides, help and the errors for bad input.
import assert from "node:assert/strict";
import { type CliSpec, parseCli } from "../../lib/config.ts";

interface Cfg {
  seed: number;
  dataset: string;
  cache: boolean;
  archs: string[];
  pgd: { eps: number; steps: number };
}
const spec: CliSpec<Cfg> = {
  name: "test",
  description: "a test entry",
  defaults: { seed: 0, dataset: "fashion-mnist", cache: true, archs: ["cnn"], pgd: { eps: 1, steps: 10 } },
  presets: { smoke: { pgd: { steps: 2 } }, quick: {} },
  keys: {
    seed: { help: "seed", integer: true, min: 0 },
    dataset: { help: "dataset", choices: ["fashion-mnist", "cifar10"] },
    cache: { help: "use the cache" },
    archs: { help: "architectures", choices: ["cnn", "mlp"] },
    "pgd.eps": { help: "radius", above: 0 },
    "pgd.steps": { help: "steps", integer: true, min: 1 },
  },
};

Deno.test("parseCli() applies the default preset, then the named preset, then dotted overrides", () => {
  assert.equal(parseCli([], spec)!.preset, "quick");
  const r = parseCli(
    ["--preset=smoke", "--pgd.eps=0.5", "--archs=cnn,mlp", "--cache=false", "--seed", "3"],
    spec,
  )!;
  assert.deepEqual(r.config, {
    seed: 3,
    dataset: "fashion-mnist",
    cache: false,
    archs: ["cnn", "mlp"],
    pgd: { eps: 0.5, steps: 2 },
  });
  assert.equal(r.preset, "smoke");
  assert.equal(spec.defaults.pgd.steps, 10, "defaults are not mutated");
});

Deno.test("parseCli() rejects unknown keys, wrong types and out-of-range values, naming key and value", () => {
  assert.throws(() => parseCli(["--pgd.epz=1"], spec), /unknown option --pgd\.epz; did you mean "pgd\.eps"/);
  assert.throws(
    () => parseCli(["--pgd.eps=abc"], spec),
    (e: Error) => e instanceof TypeError && /pgd\.eps.*"abc"/.test(e.message),
  );
  assert.throws(() => parseCli(["--pgd.eps=0"], spec), /--pgd\.eps must be > 0, got 0/);
  assert.throws(() => parseCli(["--pgd.steps=1.5"], spec), /must be an integer, got 1\.5/);
  assert.throws(
    () => parseCli(["--dataset=imagenet"], spec),
    /unknown value "imagenet"; accepted: fashion-mnist, cifar10/,
  );
  assert.throws(() => parseCli(["--archs=cnn,vgg"], spec), /unknown value "vgg"/);
  assert.throws(() => parseCli(["--preset=paper"], spec), /unknown preset "paper"; accepted: smoke, quick/);
  assert.throws(() => parseCli(["--cache=maybe"], spec), /true or false, got "maybe"/);
  assert.throws(() => parseCli(["stray"], spec), /unexpected argument "stray"/);
});

Deno.test("parseCli() --help prints every key with its default and returns null", () => {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(parseCli(["--help", "--preset=smoke"], spec), null);
  } finally {
    console.log = orig;
  }
  const text = lines.join("\n");
  for (const key of Object.keys(spec.keys)) assert.match(text, new RegExp(`--${key.replace(".", "\\.")}=`));
  assert.match(text, /steps \[default: 2\]/);
});
