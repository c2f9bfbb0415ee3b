// Tests for lib/run/recipes.ts: how an attack's EOT and finishing attack read in a caption, the quick relabelling
// attack's finish, the key groups (robust recipe, the source pair, matching, robust evaluation) and the check of
// a list of more architectures.
import assert from "node:assert/strict";
import { checkLeaf, flatten } from "../../../lib/run/config.ts";
import {
  checkArchList,
  eotText,
  type EvalAttackConfig,
  evalAttackKeys,
  finishText,
  matchKeys,
  NO_EOT,
  NO_FINISH,
  PAPER_RECIPE,
  RELABEL_ATTACK_QUICK,
  ROBUST_PAPER,
  robustKeys,
  SOURCE_PAIR,
  trainKeys,
} from "../../../lib/run/recipes.ts";

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

Deno.test("robustKeys(): a training recipe's keys plus the adversarial PGD's eps, steps and stepSize, with bounds", () => {
  const keys = robustKeys("robust", "robust model");
  assert.deepEqual(Object.keys(keys), [
    ...Object.keys(trainKeys("robust", "robust model")),
    "robust.eps",
    "robust.steps",
    "robust.stepSize",
  ]);
  assert.throws(() => checkLeaf("robust.eps", 0, keys["robust.eps"]), /--robust\.eps must be > 0, got 0/);
  assert.throws(() => checkLeaf("robust.steps", 1.5, keys["robust.steps"]), /must be an integer/);
});

Deno.test("SOURCE_PAIR: every leaf of its quick and paper values has a key spec, and --dataset adapts keys it has", () => {
  for (const values of [SOURCE_PAIR.quick, SOURCE_PAIR.paper]) {
    assert.deepEqual([...flatten(values).keys()].sort(), Object.keys(SOURCE_PAIR.keys).sort());
    for (const [key, value] of flatten(values)) checkLeaf(key, value, SOURCE_PAIR.keys[key]);
  }
  const leaves = new Set(flatten(SOURCE_PAIR.quick).keys());
  for (const k of Object.values(SOURCE_PAIR.datasetKeys).flat()) assert.ok(leaves.has(k), k);
  assert.deepEqual(SOURCE_PAIR.paper.robust, { ...PAPER_RECIPE, eps: 0.5, steps: 7, stepSize: 0.1 });
  assert.equal(ROBUST_PAPER, SOURCE_PAIR.paper.robust);
});

Deno.test("matchKeys() and evalAttackKeys() cover every field of their configs under the prefix", () => {
  const match = {
    size: 1,
    steps: 1,
    stepSize: 1,
    schedule: "cosine",
    start: "image",
    batchSize: 1,
    target: "relu",
  };
  const keys = matchKeys("m");
  assert.deepEqual(Object.keys(keys).sort(), [...flatten({ m: match }).keys()].sort());
  for (const [k, v] of flatten({ m: match })) checkLeaf(k, v, keys[k]);
  assert.match(keys["m.schedule"].help, /cosine-decayed from m\.stepSize to 0/);
  assert.throws(() => checkLeaf("m.start", "zeros", keys["m.start"]), /accepted: image, noise/);
  const ev: EvalAttackConfig = { steps: 20, curve: [0.5, 1], headlineMax: 0.05, strongSteps: 0, restarts: 1 };
  const evKeys = evalAttackKeys("evalAttack");
  assert.deepEqual(Object.keys(evKeys).sort(), [...flatten({ evalAttack: ev }).keys()].sort());
  for (const [k, v] of flatten({ evalAttack: ev })) checkLeaf(k, v, evKeys[k]);
  assert.throws(
    () => checkLeaf("evalAttack.curve", [1, 0], evKeys["evalAttack.curve"]),
    /must be > 0, got 0/,
  );
  assert.throws(() => checkLeaf("evalAttack.headlineMax", 2, evKeys["evalAttack.headlineMax"]), /<= 1/);
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
