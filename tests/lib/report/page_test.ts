// Tests for lib/report/page.ts: skipped/missing sections, and the page rendered in headless chromium.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildReport, claimsAtAGlance, knownSections } from "../../../lib/report/page.ts";
import { encodePng } from "../../../lib/report/grid.ts";
import { findChromium, openPage } from "./browser.ts";

async function fixture(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "report_" });
  const w = async (p: string, s: string | Uint8Array) => {
    await Deno.mkdir(join(root, p, ".."), { recursive: true });
    typeof s === "string"
      ? await Deno.writeTextFile(join(root, p), s)
      : await Deno.writeFile(join(root, p), s);
  };
  const summary = {
    title: "Section 3.2 / Table 1: non-robust features suffice",
    claim: "Models trained on relabelled data generalize.",
    order: 32,
    tables: [{
      caption: "Test accuracy",
      headers: ["training set", "ours", "paper"],
      rows: [["D_rand", "60.0%", "63.3%"]],
    }],
    charts: [{
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      data: { values: [{ label: "D_rand", source: "ours", value: 60 }] },
      mark: "bar",
      encoding: { x: { field: "label", type: "nominal" }, y: { field: "value", type: "quantitative" } },
    }],
    figures: ["fig.png"],
    notes: ["chance = 10.0%"],
  };
  await w(
    "sec3_2/results.json",
    JSON.stringify({ summary, dataset: "fashion-mnist", preset: "quick", backend: "fast", runSeconds: 12 }),
  );
  await w("sec3_2/config.json", JSON.stringify({ config: { seed: 0 }, meta: { seed: 0 } }));
  await w("sec3_2/fig.png", encodePng(new Float32Array(64).fill(0.5), 8, 8, 1, 2));
  await w("sec3_2/unlisted.png", encodePng(new Float32Array(64).fill(0.1), 8, 8, 1, 2));
  // a fork: no report code knows it, its summary is enough
  await w(
    "my_idea/results.json",
    JSON.stringify({ summary: { ...summary, title: "my_idea: a fork", order: 100, figures: [] } }),
  );
  // an experiment with no section of its own and an order of 0: after the paper's sections
  await w(
    "aaa_other/results.json",
    JSON.stringify({ summary: { ...summary, title: "aaa_other", order: 0, figures: [] } }),
  );
  // a run's staging sibling is not an experiment
  await w("sec3_2.partial-123/results.json", JSON.stringify({ summary }));
  await w("sec3_1/results.json", JSON.stringify({ models: {} })); // older schema, no summary
  await w("sec3_3/results.json", "{ not json"); // corrupted
  return root; // sec2 and theory: missing
}

Deno.test("buildReport() renders every summary (forks too) in paper order, names skipped files, lists missing runs", async () => {
  const root = await fixture();
  const { html, sections } = await buildReport(root);
  assert.deepEqual(sections, [
    { id: "sec2", status: "missing" },
    { id: "sec3_1", status: "skipped" },
    { id: "sec3_2", status: "ok" },
    { id: "sec3_3", status: "skipped" },
    { id: "theory", status: "missing" },
    { id: "aaa_other", status: "ok" },
    { id: "my_idea", status: "ok" },
  ]);
  assert.match(html, /<h2>Section 2<\/h2>\n<p class="missing">not run yet: <code>deno task sec2<\/code>/);
  assert.match(html, /sec3_1\/results\.json: missing summary\.title/);
  assert.match(html, /sec3_3\/results\.json: not valid JSON/);
  assert.match(html, /not run yet: <code>deno task theory<\/code>/);
  assert.match(html, /<td>63\.3%<\/td>/); // the summary's table, the paper's D_rand beside ours
  assert.match(html, /my_idea: a fork/);
  assert.match(html, /alt="fig\.png"/);
  assert.doesNotMatch(html, /unlisted\.png/, "only the figures the summary lists");
  assert.doesNotMatch(html, /partial-123/);
  assert.doesNotMatch(html, /https?:\/\/(?!vega\.github\.io)/, "no network references");
  await Deno.remove(root, { recursive: true });
});

Deno.test("knownSections() finds every shipped section from its SPEC or SECTION and its deno task, in paper order", async () => {
  const known = await knownSections();
  assert.deepEqual(known.map((k) => [k.id, k.command]), [
    ["sec2", "deno task sec2"],
    ["sec3_1", "deno task sec3_1"],
    ["sec3_2", "deno task sec3_2"],
    ["sec3_3", "deno task sec3_3"],
    ["theory", "deno task theory"],
  ]);
  assert.equal(known.find((k) => k.id === "sec3_2")?.label, "Section 3.2 / Table 1");
});

Deno.test({
  name: "report page loads in headless chromium: every image decoded, no console errors; screenshot saved",
  ignore: !findChromium(),
  async fn() {
    const root = await fixture();
    const { html } = await buildReport(root);
    const file = join(root, "report.html");
    await Deno.writeTextFile(file, html);
    const page = await openPage(`file://${file}`);
    try {
      const imgs = await page.evaluate<{ n: number; broken: string[] }>(
        `(() => { const im = [...document.images]; return { n: im.length, broken: im.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt) }; })()`,
      );
      assert.ok(imgs.n >= 2, `expected images, found ${imgs.n}`);
      assert.deepEqual(imgs.broken, []);
      assert.deepEqual(page.consoleErrors, []);
      const shot = await page.screenshot({ fullPage: true });
      assert.ok(shot.length > 1000);
      await Deno.mkdir("out", { recursive: true });
      await Deno.writeFile("out/report_test_screenshot.png", shot);
    } finally {
      await page.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("claimsAtAGlance() lists every claim with its verdict, marks a section not run with its command", () => {
  const claim = {
    name: "claim 2: D_R gives robustness",
    paper: "48%",
    ours: "+12.0 points",
    verdict: "partly" as const,
    criterion: "interval above 0",
  };
  const html = claimsAtAGlance([
    { id: "sec3_1", title: "Section 3.1", claims: [claim], ran: true },
    { id: "sec3_2", title: "Section 3.2", command: "deno task sec3_2", ran: false },
    { id: "sec2", title: "Section 2", ran: true },
  ]);
  assert.match(
    html,
    /claim 2: D_R gives robustness.*48%.*\+12\.0 points.*class="verdict-partly">partly<.*interval above 0/s,
  );
  assert.match(
    html,
    /Section 3\.2<\/a><\/td><td>-<\/td><td>-<\/td><td class="verdict-not-run">not run<.*deno task sec3_2/s,
  );
  assert.match(html, /Section 2<\/a><\/td><td colspan="4">ran; this section declares no claim verdict/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 4); // header + 3 rows
});
