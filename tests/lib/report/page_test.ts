// Tests for lib/report/page.ts: skipped/missing sections, and the page rendered in headless chromium (images
// decoded; from the recorded runs of docs/results/ at 1400 and 390 px: the claims table, every section or its
// "not run yet", no horizontal overflow on a phone).
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildReport, claimsAtAGlance, knownSections, writePage } from "../../../lib/report/page.ts";
import { readRecordedRuns } from "../../../lib/report/results.ts";
import { encodePng } from "../../../lib/report/grid.ts";
import { findChromium, openPage } from "../../../lib/report/browser.ts";

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
  // sec3_2 run into another out dir (--out=out/sec3_2_plant): titled with the run's name
  await w(
    "sec3_2_plant/results.json",
    JSON.stringify({ summary: { ...summary, figures: [] }, experiment: "sec3_2" }),
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
    { id: "sec3_2_plant", status: "ok" },
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
  assert.match(html, /<h2>Section 3\.2 \/ Table 1: non-robust features suffice \(run sec3_2_plant\)<\/h2>/);
  assert.match(
    html,
    /<h2>Section 3\.2 \/ Table 1: non-robust features suffice<\/h2>/,
    "the section's own run",
  );
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

/** An out/ directory holding docs/results/'s recorded runs (results.json, config.json's meta; no figure files). */
async function recordedOut(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "report_recorded_" });
  for (const r of await readRecordedRuns("docs/results")) {
    await Deno.mkdir(join(root, r.id));
    await Deno.writeTextFile(join(root, r.id, "results.json"), JSON.stringify(r.results));
    await Deno.writeTextFile(join(root, r.id, "config.json"), JSON.stringify({ meta: r.meta ?? {} }));
  }
  return root;
}

/** What the browser test measures of the page at one width. */
interface Layout {
  claimsRows: number;
  sections: Record<string, { present: boolean; missing: boolean; content: boolean }>;
  innerWidth: number;
  scrollWidth: number;
  /** Tables wider than the window that are not their own scrolling box. */
  overflowingTables: string[];
  /** Other elements beyond the window's right edge, or whose content overflows them (long unbreakable text). */
  overflowing: string[];
}

const LAYOUT = (ids: string[]) =>
  `(() => {
  // the width inside the scroll bar
  const w = document.documentElement.clientWidth, sections = {};
  for (const id of ${JSON.stringify(ids)}) {
    const s = document.getElementById(id);
    sections[id] = {
      present: !!s,
      missing: !!s && /not run yet/.test(s.querySelector(".missing")?.textContent ?? ""),
      content: !!s && s.querySelectorAll("table, img, .claim").length > 0,
    };
  }
  const overflowingTables = [...document.querySelectorAll("table")]
    .filter((t) => t.getBoundingClientRect().right > w + 0.5 || t.clientWidth > w)
    .map((t) => (t.closest("section")?.id ?? "?") + ": " + (t.querySelector("th")?.textContent ?? ""));
  const overflowing = [...document.body.querySelectorAll("*")]
    .filter((e) =>
      !e.closest("table") && (e.getBoundingClientRect().right > w + 0.5 ||
        (getComputedStyle(e).overflowX === "visible" && e.getBoundingClientRect().left + e.scrollWidth > w + 0.5))
    )
    .map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
  return {
    claimsRows: document.querySelectorAll("#claims tbody tr").length,
    sections, innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, overflowingTables, overflowing,
  };
})()`;

if (!findChromium()) {
  console.warn(
    "page_test.ts: skipping the headless-chromium tests: no chromium at /usr/bin/chromium, chromium-browser or " +
      "google-chrome (Debian: apt-get install chromium)",
  );
}

Deno.test({
  name:
    "report of the recorded runs in headless chromium at 1400 and 390 px: claims table, every section, no overflow",
  ignore: !findChromium(),
  async fn() {
    const root = await recordedOut(), known = await knownSections();
    const { html } = await buildReport(root, { known });
    const file = join(root, "report.html");
    await Deno.writeTextFile(file, html);
    const recorded = (await readRecordedRuns("docs/results")).map((r) => r.id);
    try {
      for (const width of [1400, 390]) {
        const page = await openPage(`file://${file}`, { width, height: 900 });
        try {
          const l = await page.evaluate<Layout>(LAYOUT(known.map((k) => k.id)));
          assert.equal(l.innerWidth, width);
          assert.ok(l.claimsRows >= known.length, `${width} px: ${l.claimsRows} rows in the claims table`);
          for (const k of known) {
            const s = l.sections[k.id];
            assert.ok(s.present, `${width} px: section ${k.id} is absent`);
            assert.ok(
              recorded.includes(k.id) ? s.content && !s.missing : s.missing,
              `${width} px: ${k.id} should be ${
                recorded.includes(k.id) ? "rendered" : 'marked "not run yet"'
              }`,
            );
          }
          assert.deepEqual(l.overflowingTables, [], `${width} px: tables wider than the window`);
          assert.deepEqual(l.overflowing, [], `${width} px: elements beyond the window's right edge`);
          assert.ok(
            l.scrollWidth <= l.innerWidth,
            `${width} px: the page scrolls sideways (${l.scrollWidth} px)`,
          );
        } finally {
          await page.close();
        }
      }
    } finally {
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

Deno.test("writePage() replaces the recorded run of --dir's ids and keeps the others, unless fresh", async () => {
  const root = await Deno.makeTempDir({ prefix: "report_page_" });
  const run = async (out: string, id: string, title: string) => {
    await Deno.mkdir(join(root, out, id), { recursive: true });
    const summary = { title, claim: "c", order: 32, tables: [], figures: [] };
    await Deno.writeTextFile(join(root, out, id, "results.json"), JSON.stringify({ summary }));
  };
  const page = join(root, "docs", "results.md");
  const titles = async () =>
    Object.fromEntries(
      (await readRecordedRuns(join(root, "docs", "results"))).map((
        r,
      ) => [r.id, (r.results.summary as { title: string }).title]),
    );
  try {
    await Deno.mkdir(join(root, "docs"));
    await run("first", "a", "a v1");
    await run("first", "b", "b v1");
    await writePage(join(root, "first"), page);
    assert.deepEqual(await titles(), { a: "a v1", b: "b v1" });
    await run("second", "a", "a v2");
    await writePage(join(root, "second"), page);
    assert.deepEqual(await titles(), { a: "a v2", b: "b v1" });
    assert.match(await Deno.readTextFile(page), /b v1/);
    await writePage(join(root, "second"), page, { fresh: true });
    assert.deepEqual(await titles(), { a: "a v2" });
    assert.doesNotMatch(await Deno.readTextFile(page), /b v1/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writePage({ rerender }) renders a run's summary again, but keeps a --seeds=N run's aggregate", async () => {
  const root = await Deno.makeTempDir({ prefix: "report_rerender_" });
  // Section 3.2's numbers of one run; `seeds` marks the aggregate of a --seeds=N run
  const results = (seeds: boolean) => ({
    experiment: "sec3_2",
    sets: { d: { testAcc: 0.9 }, d_det: { testAcc: 0.5, attackSuccess: 1, meanDeltaL2: 2 } },
    sourceTestAcc: 0.9,
    eps: 4,
    steps: 10,
    stepSize: 1,
    nTrain: 100,
    nTest: 10,
    numClasses: 10,
    summary: { title: "as recorded", claim: "c", order: 32, tables: [], figures: [] },
    ...(seeds ? { seeds: { n: 2, values: [0, 1] } } : {}),
  });
  const page = join(root, "docs", "results.md");
  try {
    await Deno.mkdir(join(root, "docs"));
    for (const [id, seeds] of [["one", false], ["seeded", true]] as const) {
      await Deno.mkdir(join(root, "out", id), { recursive: true });
      await Deno.writeTextFile(join(root, "out", id, "results.json"), JSON.stringify(results(seeds)));
      await Deno.writeTextFile(
        join(root, "out", id, "config.json"),
        JSON.stringify({ config: { dataset: "fashion-mnist" }, meta: {} }),
      );
    }
    await writePage(join(root, "out"), page, { rerender: true });
    const title = Object.fromEntries(
      (await readRecordedRuns(join(root, "docs", "results"))).map((r) => [
        r.id,
        (r.results.summary as { title: string }).title,
      ]),
    );
    assert.notEqual(title.one, "as recorded"); // rendered again by Section 3.2's summarize()
    assert.equal(title.seeded, "as recorded");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
