// Tests for lib/util/progress.ts: duration formatting, counting, percentages and what a phase shows (showing()).
import assert from "node:assert/strict";
import {
  formatDuration,
  formatMetric,
  type MetricView,
  Progress,
  showing,
} from "../../../lib/util/progress.ts";

Deno.test("formatDuration() formats seconds, minutes and hours", () => {
  assert.equal(formatDuration(12.4), "12s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
  assert.equal(formatDuration(Infinity), "?");
});

Deno.test("Progress.tick() counts up to the total and never past it", () => {
  const p = new Progress("t", 10, { quiet: true });
  p.tick(4);
  assert.equal(p.count, 4);
  p.tick(20);
  assert.equal(p.count, 10);
});

/** A bar writing its lines into an array, non-TTY (a line at every 10%). */
function recorded(label: string, opts: { view?: MetricView } = {}): { bar: Progress; lines: string[] } {
  const lines: string[] = [];
  return { bar: new Progress(label, 10, { ...opts, write: (s) => lines.push(s.trimEnd()) }), lines };
}

Deno.test("Progress shows a { pct } metric as a percentage, other numbers as they are", () => {
  const { bar, lines } = recorded("train cnn");
  bar.tick(5, { epoch: "1/2", loss: 0.31234, acc: { pct: 0.8533 } });
  bar.done();
  assert.match(lines[0], /^train cnn \[#+\.+\] {2}50% 5\/10 .* {2}epoch 1\/2 {2}loss 0\.3123 {2}acc 85\.3%$/);
  assert.match(lines.at(-1)!, /100% 10\/10 .* in \d+s {2}epoch 1\/2 {2}loss 0\.3123 {2}acc 85\.3%$/);
  assert.equal(formatMetric({ pct: 0.5 }), "50.0%");
  assert.equal(formatMetric({ pct: NaN }), "-");
  assert.equal(formatMetric(7), "7");
});

Deno.test("showing() makes every bar created inside it show what the phase measures; bars outside keep theirs", async () => {
  const robustAcc: MetricView = (m) => ({ "robust acc": { pct: 1 - Number(m.success) } });
  const inside = await showing(robustAcc, async () => {
    await Promise.resolve(); // across an await, as in the batched loops
    const r = recorded("robust acc standard (eps 2)");
    r.bar.tick(10, { success: 0.25 });
    return r.lines.join("\n");
  });
  assert.match(inside, /robust acc 75\.0%/);
  assert.doesNotMatch(inside, /success/);
  const none = await showing(() => ({}), () => {
    const r = recorded("match d_r");
    r.bar.tick(10, { success: 0 });
    return Promise.resolve(r.lines.join("\n"));
  });
  assert.match(none, /^match d_r \[#+\] 100% 10\/10 {2}\S+\/s {2}ETA \S+$/);
  const outside = recorded("attack d_det");
  outside.bar.tick(10, { success: 0.5 });
  assert.match(outside.lines[0], /success 0\.5000$/);
});
