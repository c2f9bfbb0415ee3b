// Tests for tasks/screenshot.ts: a PNG of a report at the asked width; a missing report is a clear error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { screenshotReport } from "../../tasks/screenshot.ts";
import { findChromium } from "../../lib/report/browser.ts";

if (!findChromium()) {
  console.warn(
    "screenshot_test.ts: skipping the screenshot test: no chromium at /usr/bin/chromium, chromium-browser or " +
      "google-chrome (Debian: apt-get install chromium)",
  );
}

Deno.test({
  name: "screenshotReport() writes a PNG of the page's top at the asked width",
  ignore: !findChromium(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "screenshot_" });
    try {
      const html = join(dir, "report.html"), png = join(dir, "docs", "report.png");
      await Deno.writeTextFile(
        html,
        "<!doctype html><body style='margin:0'><h1>Claims at a glance</h1></body>",
      );
      await Deno.mkdir(join(dir, "docs"));
      await screenshotReport(html, png, { width: 800, height: 600 });
      const img = PNG.sync.read(Buffer.from(await Deno.readFile(png)));
      assert.deepEqual([img.width, img.height], [800, 600]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("screenshotReport() says how to make the report when there is none", async () => {
  await assert.rejects(
    () => screenshotReport("/nonexistent/report.html", "/tmp/x.png"),
    /no report at \/nonexistent\/report\.html: run `deno task report` first/,
  );
});
