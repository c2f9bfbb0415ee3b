// Tests for lib/util/names.ts: edit distance and the "did you mean" suffix.
import assert from "node:assert/strict";
import { editDistance, suggest } from "../../../lib/util/names.ts";

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("cifar10", "cifar100"), 1);
  assert.equal(editDistance("fashion_mnist", "fashion-mnist"), 1);
});

Deno.test("suggest() names the closest known name when it is close, else says nothing", () => {
  assert.equal(
    suggest("fashion_mnist", ["mnist", "fashion-mnist", "cifar10"]),
    '; did you mean "fashion-mnist"?',
  );
  assert.equal(suggest("cifar", ["cifar10", "mnist"]), '; did you mean "cifar10"?');
  assert.equal(suggest("imagenet-22k", ["mnist", "cifar10"]), "");
  assert.equal(suggest("x", []), "");
});
