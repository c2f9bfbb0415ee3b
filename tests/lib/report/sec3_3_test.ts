// Tests for lib/report/sec3_3.ts: Figure 3's points, its chart beside the paper's, the summary from recorded
// numbers, and the figure over the runs of a --seeds=N run (means with +-1 sd bars).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ArchResult,
  fig3Spec,
  figure3OverSeeds,
  point,
  type Results,
  summarize,
} from "../../../lib/report/sec3_3.ts";
import { FIG3 } from "../../../lib/run/paper.ts";
import { cellText } from "../../../lib/run/summary.ts";

const arch = (testAccOnDdet: number, transferRate: number): ArchResult => ({
  testAccOnDdet,
  transferRate,
  untargetedErrorRate: 0.5,
  stdAcc: 0.9,
});
const results = (shift = 0): Results => ({
  architectures: { mlp: arch(0.2 + shift, 0.1 + shift), cnn: arch(0.4 + shift, 0.3 + shift) },
  correlation: { spearman: null, pearson: null, note: "2 points: no correlation" },
  sourceTestAcc: 0.9,
  sourceAttackSuccessOnTest: 0.95,
  ddetAttackSuccess: 0.97,
  eps: 4,
});
const config = { dataset: "fashion-mnist", rule: "d_det", source: { arch: "cnn" }, archs: ["mlp", "cnn"] };

Deno.test("point(): x = transfer rate, y = accuracy on D_det, in percent", () => {
  assert.deepEqual(point("cnn", arch(0.4, 0.3)), { label: "cnn", x: 30, y: 40 });
});

Deno.test("fig3Spec(): ours and the paper's in two panels titled by dataset and source", () => {
  const spec = fig3Spec([point("cnn", arch(0.4, 0.3))], "sub", config) as {
    title: { subtitle: string };
    vconcat: { title: string }[];
  };
  assert.equal(spec.title.subtitle, "sub");
  assert.deepEqual(spec.vconcat.map((p) => p.title), [
    "ours (fashion-mnist, source cnn)",
    "paper (CIFAR-10, source ResNet-50)",
  ]);
});

Deno.test("summarize() (Section 3.3): a row per architecture, the paper's points, the correlation and source notes", () => {
  const s = summarize(results(), config);
  assert.deepEqual(s.tables[0].rows.map((r) => r.map(cellText)), [
    ["mlp", "20.0%", "10.0%", "50.0%", "90.0%"],
    ["cnn", "40.0%", "30.0%", "50.0%", "90.0%"],
  ]);
  assert.equal(s.tables[0].headers[1], "acc trained on d_det");
  assert.equal(s.tables[1].rows.length, FIG3.length);
  assert.equal(s.notes[0], "2 points: no correlation");
  assert.match(s.notes[1], /source model test accuracy 90\.0%; its attack reaches the target on 95\.0%/);
  assert.deepEqual(s.figures, ["fig3.png"]);
  const shuffled = summarize(results(), { ...config, plant: { norm: 0.5, content: "shuffle" } });
  assert.match(shuffled.notes[0], /positive control with shuffled labels/);
  assert.equal(shuffled.notes[1], "2 points: no correlation");
});

Deno.test("figure3OverSeeds(): the claim over the runs and fig3 at the means with the sd of each axis", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const parts = await figure3OverSeeds([results(0), results(0.1)], { dir, config });
    assert.equal(parts.claims.length, 1);
    assert.deepEqual(parts.figures, ["fig3.png"]);
    assert.ok((await Deno.stat(join(dir, "fig3.png"))).size > 1000);
    const svg = await Deno.readTextFile(join(dir, "fig3.svg"));
    assert.match(svg, /bars: \+-1 sd over the runs/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
