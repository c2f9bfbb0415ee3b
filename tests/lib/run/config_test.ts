// Tests for lib/run/config.ts: presets, dotted overrides, help and the errors for bad input.
import assert from "node:assert/strict";
import { checkLeaf, type CliSpec, type Leaf, parseCli } from "../../../lib/run/config.ts";

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
    seed: { help: "seed", integer: true, min: 0, max: 2 ** 32 - 1 },
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

Deno.test("parseCli() --verbose is off by default, on when given, and takes no value", () => {
  assert.equal(parseCli([], spec)!.verbose, false);
  assert.equal(parseCli(["--verbose", "--seed=2"], spec)!.verbose, true);
  assert.throws(() => parseCli(["--verbose=yes"], spec), /--verbose takes no value, got "--verbose=yes"/);
  assert.throws(
    () =>
      parseCli([], {
        ...spec,
        defaults: { ...spec.defaults, verbose: 1 } as Cfg,
        keys: { ...spec.keys, verbose: { help: "a key named like the option" } },
      }),
    /config key "verbose" is taken by the option --verbose/,
  );
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

Deno.test("parseCli() says options take two dashes for -preset=smoke and suggests the right spelling", () => {
  assert.throws(
    () => parseCli(["-preset=smoke"], spec),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === `"-preset=smoke": options take two dashes (--key=value); did you mean "--preset=smoke"?`,
  );
  assert.throws(() => parseCli(["-pgd.eps=1"], spec), /did you mean "--pgd\.eps=1"\?/);
  assert.throws(() => parseCli(["-pgd.epz=1"], spec), /two dashes.*did you mean "--pgd\.eps"\?/);
  assert.equal(
    parseCli(["--seed", "-1"], { ...spec, keys: { ...spec.keys, seed: { help: "s" } } })!.config.seed,
    -1,
  );
});

Deno.test("parseCli() rejects an empty list value, naming the key and an example", () => {
  assert.throws(
    () => parseCli(["--archs="], spec),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === "--archs needs at least one value (a comma-separated list, e.g. --archs=cnn)",
  );
  assert.throws(() => parseCli(["--archs=, ,"], spec), /--archs needs at least one value/);
});

Deno.test("parseCli() rejects integers above max and beyond exact float range", () => {
  assert.equal(parseCli(["--seed=4294967295"], spec)!.config.seed, 2 ** 32 - 1);
  assert.throws(() => parseCli(["--seed=4294967296"], spec), /--seed must be <= 4294967295, got 4294967296/);
  const open = { ...spec, keys: { ...spec.keys, seed: { help: "s", integer: true } } };
  assert.throws(() => parseCli(["--seed=9007199254740993"], open), /--seed must be an integer of at most/);
});

Deno.test("checkLeaf() accepts an open form beside the choices and applies a custom check to the whole value", () => {
  const dataset = {
    help: "dataset",
    choices: ["fashion-mnist", "cifar10"],
    form: { pattern: /^npy:./, shown: "npy:DIR" },
  };
  checkLeaf("dataset", "cifar10", dataset);
  checkLeaf("dataset", "npy:/data/mine", dataset);
  assert.throws(
    () => checkLeaf("dataset", "npy:", dataset),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === `--dataset: unknown value "npy:"; accepted: fashion-mnist, cifar10, npy:DIR`,
  );
  const archs = {
    help: "architectures",
    choices: ["cnn", "mlp"],
    check: (v: Leaf) => {
      const list = v as string[];
      if (new Set(list).size !== list.length) {
        throw new RangeError(`lists an architecture twice: ${list.join(",")}`);
      }
    },
  };
  assert.throws(
    () => checkLeaf("archs", ["mlp", "mlp"], archs),
    (e: Error) => e instanceof RangeError && e.message === "--archs: lists an architecture twice: mlp,mlp",
  );
  assert.throws(() => checkLeaf("archs", ["vgg"], archs), /unknown value "vgg"/, "the choices still apply");
  checkLeaf("archs", ["cnn", "mlp"], archs);
  const withCheck = { ...spec, keys: { ...spec.keys, archs, dataset } };
  assert.throws(() => parseCli(["--archs=cnn,cnn"], withCheck), /--archs: lists an architecture twice/);
  assert.equal(parseCli(["--dataset=npy:x"], withCheck)!.config.dataset, "npy:x");
  const lines: string[] = [];
  const orig = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    parseCli(["--help"], withCheck);
  } finally {
    console.log = orig;
  }
  assert.match(lines.join("\n"), /--dataset=<string> +dataset \(one of: fashion-mnist, cifar10, npy:DIR\)/);
});

Deno.test("checkLeaf() enforces distinct and minItems on lists, naming the repeated value and the count", () => {
  const spec = { help: "h", distinct: true, minItems: 2 };
  assert.throws(
    () => checkLeaf("archs", ["mlp", "cnn", "mlp"], spec),
    /--archs lists "mlp" twice \(mlp,cnn,mlp\)/,
  );
  assert.throws(() => checkLeaf("archs", ["cnn"], spec), /--archs needs at least 2 values, got 1 \(cnn\)/);
  checkLeaf("archs", ["mlp", "cnn"], spec);
  checkLeaf("archs", ["mlp", "mlp"], { help: "h" });
});

Deno.test("parseCli() reads --shard=i/n and --workers=N beside the config, refuses both at once, and lists them in --help", () => {
  const r = parseCli(["--preset=smoke", "--shard=1/4"], spec)!;
  assert.deepEqual([r.shard, r.workers], [{ index: 1, count: 4 }, 0]);
  assert.deepEqual(r.config.pgd, { eps: 1, steps: 2 }, "the config is not touched");
  assert.deepEqual([parseCli(["--workers=2"], spec)!.shard, parseCli(["--workers=2"], spec)!.workers], [
    null,
    2,
  ]);
  assert.deepEqual([parseCli([], spec)!.shard, parseCli([], spec)!.workers], [null, 0]);
  assert.throws(() => parseCli(["--shard=4/4"], spec), /--shard expects i\/n with 0 <= i < n .* got "4\/4"/);
  assert.throws(
    () => parseCli(["--shard=0/2", "--workers=2"], spec),
    /--shard=0\/2 and --workers=2 were both given/,
  );
  const log = console.log, lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  try {
    parseCli(["--help"], spec);
  } finally {
    console.log = log;
  }
  assert.match(lines.join("\n"), /--shard=<i\/n> +build only shard i of n/);
  assert.match(lines.join("\n"), /--workers=<n> +run the n shards as processes on this machine/);
});
