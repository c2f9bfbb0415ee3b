// Tests for lib/run/recipes.ts: how an attack's EOT and finishing attack read in a caption, the quick relabelling
// attack's finish, the key groups (recipe, robust recipe, attack, the source pair, matching, robust evaluation:
// their keys, defaults and dataset roles) and the check of a list of more architectures.
import assert from "node:assert/strict";
import { checkLeaf, flatten } from "../../../lib/run/config.ts";
import {
  attackKeys,
  checkArchList,
  eotText,
  EVAL_ATTACK_KEYS,
  finishText,
  MATCH_KEYS,
  NO_EOT,
  NO_FINISH,
  PAPER_RECIPE,
  RELABEL_ATTACK_PAPER,
  RELABEL_ATTACK_QUICK,
  ROBUST_PAPER,
  ROBUST_QUICK,
  robustKeys,
  SOURCE_PAIR,
  SOURCE_QUICK,
  TRAIN_DEFAULTS,
  trainKeys,
} from "../../../lib/run/recipes.ts";
import { datasetKeysOf, defaultsOf, keySpecsOf } from "../../../lib/run/schema.ts";

Deno.test("eotText(): nothing for plain PGD, the transformations otherwise", () => {
  assert.equal(eotText(NO_EOT), "");
  assert.equal(
    eotText({ samples: 2, translate: 2, flip: false, noise: 0.05 }),
    ", each step's loss averaged over 2 random transformations (shifts up to 2 px, noise 0.05)",
  );
});

Deno.test("finishText(): nothing without a finishing attack (or in older results), its steps otherwise", () => {
  assert.equal(finishText(NO_FINISH), "");
  assert.equal(finishText(undefined), "");
  assert.equal(
    finishText(RELABEL_ATTACK_QUICK.finish),
    ", then 20 plain steps of 0.5 for the examples not yet at their target",
  );
});

Deno.test("trainKeys(): a recipe's keys with the given defaults; --dataset adapts arch and epochs (arch only when asked)", () => {
  const schema = { source: trainKeys("standard source model", SOURCE_QUICK) };
  const keys = keySpecsOf(schema);
  assert.deepEqual(Object.keys(keys), Object.keys(TRAIN_DEFAULTS).map((k) => `source.${k}`));
  assert.equal(keys["source.arch"].help, "architecture of the standard source model");
  assert.deepEqual(defaultsOf(schema).source, SOURCE_QUICK);
  assert.deepEqual(datasetKeysOf(schema), { eps: [], arch: ["source.arch"], epochs: ["source.epochs"] });
  const target = { target: trainKeys("targets", TRAIN_DEFAULTS, { adaptArch: false }) };
  assert.deepEqual(datasetKeysOf(target), { eps: [], arch: [], epochs: ["target.epochs"] });
  assert.throws(
    () => checkLeaf("source.schedule", "linear", keys["source.schedule"]),
    /accepted: step, cosine/,
  );
});

Deno.test("the schemas' defaults are the quick presets' recipes, robust model and relabelling attack", () => {
  assert.deepEqual(TRAIN_DEFAULTS, {
    arch: "cnn",
    epochs: 3,
    batchSize: 128,
    optimizer: "adam",
    lr: 1e-3,
    momentum: 0.9,
    weightDecay: 0,
    schedule: "cosine",
    augment: false,
    inputNoise: 0,
    init: "torch",
  });
  assert.deepEqual(ROBUST_QUICK, { ...TRAIN_DEFAULTS, eps: 2.5, steps: 5, stepSize: 1.25 });
  assert.deepEqual(RELABEL_ATTACK_QUICK, {
    eps: 4,
    steps: 10,
    stepSize: 1,
    batchSize: 250,
    eot: { samples: 2, translate: 2, flip: false, noise: 0.05 },
    finish: { steps: 20, stepSize: 0.5 },
    failures: "keep",
  });
});

Deno.test("robustKeys() and attackKeys(): their radii and steps are the keys --dataset scales", () => {
  const schema = {
    robust: robustKeys("robust model"),
    attack: attackKeys("the attack", RELABEL_ATTACK_PAPER),
  };
  const keys = keySpecsOf(schema);
  assert.deepEqual(Object.keys(keys).filter((k) => k.startsWith("robust.")).slice(-3), [
    "robust.eps",
    "robust.steps",
    "robust.stepSize",
  ]);
  assert.deepEqual(datasetKeysOf(schema).eps, [
    "robust.eps",
    "robust.stepSize",
    "attack.eps",
    "attack.stepSize",
  ]);
  assert.deepEqual(defaultsOf(schema).attack, RELABEL_ATTACK_PAPER);
  assert.ok(keys["attack.eot.samples"] && keys["attack.finish.stepSize"]);
  assert.equal(keys["attack.eps"].help, "L2 radius of the attack (pixels in [0,1])");
  assert.throws(() => checkLeaf("robust.eps", 0, keys["robust.eps"]), /--robust\.eps must be > 0, got 0/);
  assert.throws(() => checkLeaf("attack.failures", "skip", keys["attack.failures"]), /accepted: keep, drop/);
});

Deno.test("SOURCE_PAIR: the quick values by default, paper values its keys accept, both models adapted by --dataset", () => {
  assert.deepEqual(defaultsOf(SOURCE_PAIR.keys), { standard: SOURCE_QUICK, robust: ROBUST_QUICK });
  const keys = keySpecsOf(SOURCE_PAIR.keys);
  assert.deepEqual([...flatten(SOURCE_PAIR.paper).keys()], Object.keys(keys));
  for (const [key, value] of flatten(SOURCE_PAIR.paper)) checkLeaf(key, value, keys[key]);
  assert.deepEqual(SOURCE_PAIR.paper.robust, { ...PAPER_RECIPE, eps: 0.5, steps: 7, stepSize: 0.1 });
  assert.equal(ROBUST_PAPER, SOURCE_PAIR.paper.robust);
  assert.deepEqual(datasetKeysOf(SOURCE_PAIR.keys), {
    eps: ["robust.eps", "robust.stepSize"],
    arch: ["standard.arch", "robust.arch"],
    epochs: ["standard.epochs", "robust.epochs"],
  });
});

Deno.test("MATCH_KEYS and EVAL_ATTACK_KEYS: Section 3.1's quick values, bounds, and the radii --dataset scales", () => {
  const schema = { match: MATCH_KEYS, evalAttack: EVAL_ATTACK_KEYS };
  assert.deepEqual(defaultsOf(schema), {
    match: {
      size: 10000,
      steps: 50,
      stepSize: 2,
      schedule: "cosine",
      start: "image",
      batchSize: 250,
      target: "relu",
    },
    evalAttack: { steps: 20, curve: [0.5, 1, 2, 3], headlineMax: 0.05, strongSteps: 50, restarts: 1 },
  });
  assert.deepEqual(datasetKeysOf(schema).eps, ["match.stepSize", "evalAttack.curve"]);
  const keys = keySpecsOf(schema);
  assert.match(keys["match.schedule"].help, /cosine-decayed from match\.stepSize to 0/);
  assert.throws(() => checkLeaf("match.start", "zeros", keys["match.start"]), /accepted: image, noise/);
  assert.throws(() => checkLeaf("evalAttack.curve", [1, 0], keys["evalAttack.curve"]), /must be > 0, got 0/);
  assert.throws(() => checkLeaf("evalAttack.headlineMax", 2, keys["evalAttack.headlineMax"]), /<= 1/);
});

Deno.test("checkArchList(): each architecture once and not the recipe's own; the error names both keys", () => {
  const opts = { key: "freshArchs", beside: ["fresh.arch", "cnn"] as [string, string] };
  checkArchList([], opts);
  checkArchList(["mlp", "vgg_small"], opts);
  assert.throws(
    () => checkArchList(["mlp", "cnn"], opts),
    {
      name: "RangeError",
      message: '--freshArchs lists "cnn" twice or beside --fresh.arch=cnn; give each architecture once',
    },
  );
  assert.throws(() => checkArchList(["mlp", "mlp"], opts), /lists "mlp" twice/);
});
