// Tests for lib/util/progress.ts: duration formatting and counting.
import assert from "node:assert/strict";
import { formatDuration, Progress } from "../../../lib/util/progress.ts";

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
