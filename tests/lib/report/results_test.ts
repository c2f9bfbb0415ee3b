// Tests of lib/report/results.ts: the provenance line, the claims table, and that the committed docs/results.md
// is exactly what the report renders from the runs recorded in docs/results/.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { claimsMarkdown, provenance, readRecordedRuns, resultsPage } from "../../../lib/report/results.ts";
import { knownSections } from "../../../lib/report/page.ts";

const run = (id: string, verdict: string, order: number) => ({
  id,
  results: {
    gitCommit: "0123456789abcdef",
    dataset: "fashion-mnist",
    preset: "quick",
    runSeconds: 12.5,
    machine: "AMD EPYC, 2 cores",
    summary: {
      title: `Section ${id}`,
      claim: "c",
      order,
      tables: [{ headers: ["a"], rows: [["1"]] }],
      charts: [],
      figures: [],
      notes: [],
      claims: [{ name: `claim ${id}: x`, paper: "40%", ours: "41%", verdict, criterion: `rule ${id}` }],
    },
  },
  meta: { startedAt: "2026-12-04T18:00:00.000Z" },
});

Deno.test("provenance() names commit, date, machine, dataset, preset and run time once", () => {
  assert.equal(
    provenance(run("a", "partly", 1)),
    "_a: commit 0123456789ab, 2026-12-04, AMD EPYC, 2 cores, dataset fashion-mnist, preset quick, 12.5 s_",
  );
  assert.match(
    provenance({ id: "b", results: {} }),
    /unknown commit, date not recorded, machine not recorded/,
  );
});

Deno.test("resultsPage() opens with every run's claims and their criteria, then each run under its provenance", () => {
  const page = resultsPage([run("a", "partly", 1), run("b", "reproduces", 2)], [
    { label: "Section 9", command: "deno task sec9" },
  ]);
  assert.match(claimsMarkdown([run("a", "partly", 1)]), /\| claim a: x \| +40% \| +41% \| partly +\| a +\|/);
  const at = (s: string) => page.indexOf(s);
  assert.ok(at("## Claims at a glance") < at("| claim a: x") && at("| claim b: x") < at("## a: Section a"));
  assert.ok(at("## a: Section a") < at("## b: Section b"));
  assert.match(page, /- claim a: rule a/);
  assert.match(page, /Not recorded here: Section 9 \(`deno task sec9`\)\./);
});

Deno.test("docs/results.md is what the report renders from docs/results/ (numbers are never typed by hand)", async () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const runs = await readRecordedRuns(join(root, "docs", "results"));
  assert.ok(runs.length > 0, "docs/results/ records no run");
  const missing = (await knownSections()).filter((k) => !runs.some((r) => r.id === k.id));
  const page = await Deno.readTextFile(join(root, "docs", "results.md"));
  assert.equal(page, resultsPage(runs, missing), "regenerate: deno task report --page=docs/results.md");
});

Deno.test("the README's claims table is docs/results.md's, row for row", async () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const firstTableAfter = (text: string, heading: string) => {
    const from = text.indexOf(heading);
    assert.ok(from >= 0, `no "${heading}"`);
    const lines = text.slice(from).split("\n");
    const start = lines.findIndex((l) => l.startsWith("|"));
    const end = lines.findIndex((l, i) => i > start && !l.startsWith("|"));
    return lines.slice(start, end).join("\n");
  };
  const readme = await Deno.readTextFile(join(root, "README.md"));
  const page = await Deno.readTextFile(join(root, "docs", "results.md"));
  assert.equal(
    firstTableAfter(readme, "## Claims at a glance"),
    firstTableAfter(page, "## Claims at a glance"),
  );
});

/** Every markdown table in `text` (runs of lines starting with "|"), as its text. */
function markdownTables(text: string): string[] {
  const tables: string[] = [];
  let rows: string[] = [];
  for (const line of [...text.split("\n"), ""]) {
    if (line.startsWith("|")) rows.push(line);
    else if (rows.length) tables.push(rows.join("\n")), rows = [];
  }
  return tables;
}

Deno.test("markdownTables() finds each table, the last one at the end of the text too", () => {
  assert.deepEqual(markdownTables("a\n| x |\n| - |\nb\n| y |"), ["| x |\n| - |", "| y |"]);
});

Deno.test("each README table whose header the results page also has is one of the page's tables, verbatim", async () => {
  // The README copies result tables from docs/results.md (EXPERIMENTS.md: "never retyped"): a table there that
  // is not on the page any more was left behind when the runs were regenerated.
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const readme = markdownTables(await Deno.readTextFile(join(root, "README.md")));
  const page = markdownTables(await Deno.readTextFile(join(root, "docs", "results.md")));
  const pageHeaders = new Set(page.map((t) => t.split("\n")[0]));
  const copied = readme.filter((t) => pageHeaders.has(t.split("\n")[0]));
  assert.ok(copied.length >= 4, `only ${copied.length} README tables share a header with the page`);
  for (const t of copied) {
    assert.ok(page.includes(t), `README table not on docs/results.md (regenerate and copy it):\n${t}`);
  }
});
