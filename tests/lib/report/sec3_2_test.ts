// Tests for lib/report/sec3_2.ts: Table 1 from recorded numbers (rows, the attack in the caption, the bars beside
// the paper's) and its notes (dropped failures, the next-class rate, planted-pattern energies).
import assert from "node:assert/strict";
import { type PlantSetting, type Results, summarize } from "../../../lib/report/sec3_2.ts";
import { TABLE1 } from "../../../lib/run/paper.ts";
import { RELABEL_ATTACK_QUICK } from "../../../lib/run/recipes.ts";
import { cellText } from "../../../lib/run/summary.ts";

/** The quick relabelling attack, as results.json records it. */
const { eps, steps, stepSize, eot, finish } = RELABEL_ATTACK_QUICK;
const results = (): Results => ({
  sets: {
    d: { testAcc: 0.9 },
    d_rand: {
      testAcc: 0.5,
      trainAcc: 1,
      attackSuccess: 0.98,
      meanDeltaL2: 1.234,
      kept: 1000,
      nextClass: 0.1,
    },
    d_det: {
      testAcc: 0.3,
      trainAcc: 1,
      attackSuccess: 0.9,
      meanDeltaL2: 2,
      kept: 900,
      nextClass: 0.4,
      energy: { target: 0.8, original: 0.1 },
    },
    d_shift2: { testAcc: 0.2, attackSuccess: 0.5, meanDeltaL2: 2, kept: 1000 },
  },
  sourceTestAcc: 0.91,
  eps,
  steps,
  stepSize,
  eot,
  finish,
  nTrain: 1000,
  nTest: 500,
  numClasses: 10,
});

Deno.test("summarize() (Section 3.2): a Table 1 row per set beside the paper's, a fork's rule under its own name", () => {
  const s = summarize(results(), { dataset: "fashion-mnist" });
  const rows = s.tables[0].rows.map((r) => r.map(cellText));
  assert.deepEqual(rows.map((r) => r[0]), ["D", "D_rand", "D_det", "d_shift2"]);
  assert.deepEqual(rows[1].slice(1, 4), ["50.0%", "98.0%", "1.234"]);
  assert.equal(rows[2][4], `${(100 * TABLE1.cifar10.d_det).toFixed(1)}%`);
  assert.equal(rows[3][4], "-"); // no paper number for a fork's rule
  assert.match(s.tables[0].caption ?? "", /eps 4, 10 steps of 1, each step's loss averaged over 2 random/);
  assert.match(s.tables[0].caption ?? "", /then 20 plain steps of 0\.5/);
  assert.equal(s.tables[0].headers[1], "test acc (ours, fashion-mnist)");
  assert.equal(s.claims?.length, 1);
});

Deno.test("summarize() (Section 3.2): bars for ours and the paper's (none for a fork's rule); notes on drops, next class, energy", () => {
  const s = summarize(results(), { dataset: "fashion-mnist" });
  const bars = (s.charts[0] as { data: { values: { label: string; source: string }[] } }).data.values;
  assert.deepEqual(bars.filter((b) => b.label === "d_shift2").map((b) => b.source), ["ours"]);
  assert.deepEqual(bars.filter((b) => b.label === "D_det").map((b) => b.source), ["ours", "paper"]);
  assert.equal(s.notes[0], "source model test accuracy 91.0%; chance = 10.0%");
  assert.deepEqual(s.notes.filter((n) => /failures dropped/.test(n)), [
    "D_det: the attack's 100 failures dropped (--attack.failures=drop)",
  ]);
  const det = s.notes.find((n) => n.startsWith("D_det's model"))!;
  assert.match(
    det,
    /next class y \+ 1 on 40\.0% .*energy is 0\.800 under its labels t and 0\.100 under the original/,
  );
  assert.ok(s.notes.find((n) => n.startsWith("D_rand's model"))!.endsWith("of the test images"));
  // planted data: the source model's reliance on the pattern joins the source note
  const planted = summarize(
    { ...results(), sourceReliance: { followsPattern: 0.214, followsContent: 0.525 } },
    { dataset: "fashion-mnist" },
  );
  assert.match(
    planted.notes[0],
    /^source model test accuracy 91\.0%; chance = 10\.0%; on test images carrying/,
  );
  assert.match(planted.notes[0], /predicts that class on 21\.4% and the image's own class on 52\.5%/);
});

Deno.test("summarize() (Section 3.2): a run on shuffled planted data says so first; a kept-content or plain run does not", () => {
  const note =
    /positive control with shuffled labels \(--plant\.content=shuffle\).*L2 norm 0\.5 is the only feature/;
  const shuffled = summarize(results(), {
    dataset: "fashion-mnist",
    plant: { norm: 0.5, content: "shuffle" },
  });
  assert.match(shuffled.notes[0], note);
  const others: (PlantSetting | undefined)[] = [
    undefined,
    { norm: 0.5, content: "keep" },
    { norm: 0.5 },
    { norm: 0, content: "shuffle" },
  ];
  for (const plant of others) {
    const s = summarize(results(), { dataset: "fashion-mnist", plant });
    assert.ok(!s.notes.some((n) => note.test(n)), JSON.stringify(plant));
  }
});
