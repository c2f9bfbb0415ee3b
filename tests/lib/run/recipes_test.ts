// Tests for lib/run/recipes.ts: how an attack's EOT and finishing attack read in a caption, and the quick
// relabelling attack's finish.
import assert from "node:assert/strict";
import { eotText, finishText, NO_EOT, NO_FINISH, RELABEL_ATTACK_QUICK } from "../../../lib/run/recipes.ts";

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
