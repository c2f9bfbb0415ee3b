// Tests of lib/core/control.ts: whom a model follows on swapped patterns, set energies by name, the next-class
// rate of a D_det model, a relabelled set's energy under its new and its original labels, and a run's control
// measurements (plantMeasures).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend/mod.ts";
import {
  halfwayShift,
  nextClassRate,
  patternReliance,
  plantMeasures,
  relabelledEnergy,
  setEnergies,
} from "../../../lib/core/control.ts";
import { classPatterns, plantSplit } from "../../../lib/data/plant.ts";
import type { Split } from "../../../lib/data/info.ts";
import type { ZooModel } from "../../../lib/core/models.ts";

await initBackend("cpu", { quiet: true });
const patterns = classPatterns([28, 28, 1], 10, { norm: 0.5, seed: 1 });
const grey: Split = {
  x: new Float32Array(40 * 784).fill(0.5),
  y: Uint8Array.from({ length: 40 }, (_, i) => i % 10),
  n: 40,
  shape: [28, 28, 1],
};
const planted = plantSplit(grey, patterns, { margin: 0.1 }).split;

/** A model whose logits are the image's projections on the class patterns (it reads only the pattern). */
function patternReader(): ZooModel {
  const w = tf.tensor2d(patterns.flatMap((p) => Array.from(p)), [10, 784]);
  const logits = (x: tf.Tensor4D) =>
    tf.tidy(() => x.reshape([x.shape[0], 784]).sub(0.5).matMul(w, false, true));
  return { arch: "reader", logits, representation: logits } as unknown as ZooModel;
}

/** A model that predicts class 3 whatever it sees. */
const constant = {
  arch: "const",
  logits: (x: tf.Tensor4D) => tf.tidy(() => tf.oneHot(tf.fill([x.shape[0]], 3, "int32"), 10).toFloat()),
} as unknown as ZooModel;

Deno.test("patternReliance() says a pattern reader follows the swapped pattern on every image", async () => {
  const before = tf.memory().numTensors;
  assert.deepEqual(await patternReliance(patternReader(), planted, patterns), {
    followsPattern: 1,
    followsContent: 0,
    shift: 1,
  });
  // a constant model follows the pattern only where y + 1 happens to be 3, and the content where y is 3
  assert.deepEqual(await patternReliance(constant, planted, patterns), {
    followsPattern: 0.1,
    followsContent: 0.1,
    shift: 1,
  });
  assert.ok(tf.memory().numTensors <= before + 1); // the reader's weight matrix
});

Deno.test("patternReliance() half the classes away tells a pattern follower from D_det's rule learned from the content", async () => {
  // Images with content: class y's marker (a bright block whose level codes y) under the planted pattern.
  const marked: Split = { ...grey, x: grey.x.slice() };
  for (let i = 0; i < marked.n; i++) marked.x.fill(0.1 + 0.08 * marked.y[i], i * 784, i * 784 + 100);
  const test = plantSplit(marked, patterns, { margin: 0.1 }).split;
  // D_det's rule from the content: reads y off the marker (planted: 0.18 + 0.064 y) and predicts y + 1
  const centers = tf.tensor1d(Array.from({ length: 10 }, (_, k) => (k + 9) % 10));
  const ruleModel = {
    arch: "rule",
    logits: (x: tf.Tensor4D) =>
      tf.tidy(() => {
        const y = x.reshape([x.shape[0], 784]).slice([0, 0], [-1, 100]).mean(1).sub(0.18).div(0.064);
        return y.expandDims(1).sub(centers.expandDims(0)).square().neg();
      }),
  } as unknown as ZooModel;
  const halfway = halfwayShift(10);
  assert.equal(halfway, 5);
  // swapped to y + 1's pattern, the rule's y + 1 reads as following the pattern: the confound
  assert.equal((await patternReliance(ruleModel, test, patterns)).followsPattern, 1);
  assert.deepEqual(await patternReliance(ruleModel, test, patterns, halfway), {
    followsPattern: 0,
    followsContent: 0,
    shift: 5,
  });
  assert.equal((await patternReliance(patternReader(), test, patterns, halfway)).followsPattern, 1);
  // a negative shift would index patterns[-1]; 0 and C swap nothing
  for (const bad of [0, 10, -1, 2.5]) {
    await assert.rejects(
      patternReliance(constant, test, patterns, bad),
      new RegExp(`shift ${bad} must be an integer from 1 to 9`),
    );
  }
  centers.dispose();
});

Deno.test("setEnergies() measures each named set under its own labels", () => {
  const e = setEnergies({ planted, grey }, patterns);
  assert.deepEqual(Object.keys(e), ["planted", "grey"]);
  assert.ok(Math.abs(e.planted - 0.5) < 0.02, `planted ${e.planted}`);
  assert.ok(Math.abs(e.grey) < 0.02, `grey ${e.grey}`);
});

Deno.test("nextClassRate(): the share of predictions that are (y + 1) mod C, the wrap-around included", () => {
  const y = Uint8Array.from([0, 1, 2, 9]);
  assert.equal(nextClassRate(Uint8Array.from([1, 2, 2, 0]), y, 10), 0.75);
  assert.equal(nextClassRate(y, y, 10), 0);
  assert.throws(() => nextClassRate(Uint8Array.from([1]), y, 10), /1 predictions for 4 labels/);
});

Deno.test("relabelledEnergy(): a planted image relabelled y + 1 carries its pattern under y, not under t", () => {
  const next = Uint8Array.from(planted.y, (c) => (c + 1) % 10);
  const e = relabelledEnergy({ ...planted, y: next }, planted.y, patterns);
  assert.ok(Math.abs(e.original - 0.5) < 0.02, `original ${e.original}`);
  assert.ok(e.target < 0.05, `target ${e.target}`);
  // the pattern of t added on top: the energy under t rises to about the norm too
  const both = plantSplit(planted, patterns, { margin: 0, base: false, label: (i) => next[i] }).split;
  const e2 = relabelledEnergy({ ...both, y: next }, planted.y, patterns);
  assert.ok(e2.target > 0.4, `target ${e2.target}`);
});

Deno.test("plantMeasures(): the patterns' norm, patternReliance() of each named model, setEnergies() of the sets", async () => {
  const models = { reader: patternReader(), constant };
  const m = await plantMeasures(models, planted, {
    names: ["constant", "reader"],
    sets: { planted, grey },
    patterns,
  });
  assert.ok(Math.abs(m.norm - 0.5) < 1e-5, `norm ${m.norm}`);
  assert.deepEqual(Object.keys(m.reliance), ["constant", "reader"]);
  assert.deepEqual(m.reliance.reader, await patternReliance(models.reader, planted, patterns));
  assert.deepEqual(m.reliance.constant, { followsPattern: 0.1, followsContent: 0.1, shift: 1 });
  assert.deepEqual(m.energy, setEnergies({ planted, grey }, patterns));
});
