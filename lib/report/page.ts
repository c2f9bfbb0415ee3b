// The report page (`deno task report`, tasks/report.ts): every out/*/results.json rendered through the summary it
// carries into one self-contained HTML page (images embedded, no network), and the markdown results page.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.ts";
import { assertWritableDir, gitCommit, writeFileAtomic } from "../run/output.ts";
import { encodeBase64 } from "./base64.ts";
import { renderChart } from "./charts.ts";
import { readRecordedRuns, type RecordedRun, recordRuns, resultsPage, sortRuns } from "./results.ts";
import { cellText, type Claim, type Summary, type SummaryTable } from "../run/summary.ts";
import { experimentId, FORK_ORDER, type SectionInfo, withIdentity } from "../run/experiment.ts";

type Json = Record<string, unknown>;

const esc = (s: unknown) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const get = (o: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((a, k) => (a as Json | undefined)?.[k], o);

function table(t: SummaryTable): string {
  return `${t.caption ? `<p class="caption">${esc(t.caption)}</p>` : ""}<table><thead><tr>${
    t.headers.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${
    t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(cellText(c))}</td>`).join("")}</tr>`).join("")
  }</tbody></table>`;
}

async function chart(spec: Json): Promise<string> {
  const { svg } = await renderChart(spec);
  return `<img class="chart" alt="chart" src="data:image/svg+xml;base64,${
    encodeBase64(new TextEncoder().encode(svg))
  }">`;
}

/** The fields a results.json must have for the report to render it. */
const REQUIRED = ["summary.title", "summary.claim", "summary.tables", "summary.figures"];

/** Renders one experiment's summary (tables, charts, notes); no per-experiment code. */
async function renderSummary(s: Summary): Promise<string> {
  const parts = s.tables.map(table);
  for (const c of s.charts ?? []) parts.push(await chart(c as Json));
  if (s.notes?.length) {
    parts.push(`<ul class="notes">${s.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`);
  }
  return parts.join("\n");
}

/** Loads and validates `<dir>/results.json`; returns the results or the reason it was skipped. */
export async function readResults(
  dir: string,
  required: string[],
): Promise<{ results?: Json; config?: Json; skipped?: string }> {
  const path = join(dir, "results.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return {};
  }
  let results: Json;
  try {
    results = JSON.parse(text);
  } catch (err) {
    return { skipped: `${path}: not valid JSON (${(err as Error).message}); rerun the experiment` };
  }
  const missing = required.filter((k) => get(results, k) === undefined);
  if (missing.length) {
    return {
      skipped: `${path}: missing ${missing.join(", ")} (written by an older version?); rerun the experiment`,
    };
  }
  let config: Json | undefined;
  try {
    config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  } catch {
    config = undefined;
  }
  return { results, config };
}

async function figures(dir: string, names: string[]): Promise<string> {
  const out: string[] = [];
  for (const name of names) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(join(dir, name));
    } catch {
      out.push(
        `<p class="warn">figure ${esc(name)} is listed in the summary but missing from ${esc(dir)}</p>`,
      );
      continue;
    }
    out.push(
      `<figure><img alt="${esc(name)}" src="data:image/png;base64,${encodeBase64(bytes)}"><figcaption>${
        esc(name)
      }</figcaption></figure>`,
    );
  }
  return out.join("");
}

/** A paper section the project ships: shown in paper order, as "not run yet" until it has results. */
export interface KnownSection {
  id: string;
  label: string;
  order: number;
  /** How to run it, e.g. "deno task sec3_2". */
  command: string;
  /** Its entry file's absolute path (the module knownSections() imported). */
  file?: string;
}

/**
 * The claims-at-a-glance table at the top of the report: every claim of every run section with its verdict, and a
 * "not run" row (with the command) for each known section without results.
 */
export function claimsAtAGlance(
  sections: { id: string; title: string; claims?: Claim[]; command?: string; ran: boolean }[],
): string {
  const rows: string[] = [];
  for (const sec of sections) {
    const link = `<a href="#${esc(sec.id)}">${esc(sec.title)}</a>`;
    if (sec.claims?.length) {
      for (const c of sec.claims) {
        rows.push(
          `<tr><td>${esc(c.name)}<br><small>${link}</small></td><td>${esc(c.paper)}</td><td>${
            esc(c.ours)
          }</td><td class="verdict-${c.verdict.replace(" ", "-")}">${esc(c.verdict)}</td><td>${
            esc(c.criterion)
          }</td></tr>`,
        );
      }
    } else if (!sec.ran) {
      rows.push(
        `<tr><td>${link}</td><td>-</td><td>-</td><td class="verdict-not-run">not run</td><td>run <code>${
          esc(sec.command ?? `deno run -A experiments/${sec.id}.ts`)
        }</code></td></tr>`,
      );
    } else {
      rows.push(`<tr><td>${link}</td><td colspan="4">ran; this section declares no claim verdict</td></tr>`);
    }
  }
  return `<section id="claims"><h2>Claims at a glance</h2><table><thead><tr><th>claim</th><th>paper</th>` +
    `<th>ours</th><th>verdict</th><th>criterion (fixed in code before the run)</th></tr></thead><tbody>${
      rows.join("")
    }</tbody></table></section>`;
}

/**
 * A run's summary rendered again by today's code from its recorded numbers: the section module named by
 * `results.experiment` (a shipped section) turns results + config into the summary (summarize() is pure), so a
 * run made before a table or a verdict was added shows it. The run's numbers and commit stay its own;
 * `summaryRenderedAt` says which code rendered the summary. Null when the section has no summarize().
 */
async function resummarize(
  results: Json,
  config: Json | undefined,
  known: KnownSection[],
): Promise<Json | null> {
  const k = known.find((s) => s.id === results.experiment);
  if (!k?.file || !config) return null;
  const mod = await import(new URL(`file://${k.file}`).href);
  if (typeof mod.summarize !== "function" || !mod.SPEC) return null;
  const summary = withIdentity(mod.SPEC, mod.summarize(results, config));
  return { ...results, summary, summaryRenderedAt: await gitCommit() };
}

/** How writePage() records: `rerender` renders each shipped section's summary again from its numbers
 * (resummarize(); not a --seeds=N run's, whose summary aggregates its runs'); `fresh` drops the recorded runs
 * that `outRoot` does not hold (by default they stay). */
export interface WritePageOptions {
  rerender?: boolean;
  fresh?: boolean;
}

/**
 * Records every run of `outRoot` into `<dirname(page)>/results/` and writes the markdown results page from the
 * record. A run of `outRoot` replaces the recorded run of the same id; the recorded runs `outRoot` does not hold
 * stay as they were (so one section can be recorded again from its own out dir), unless `fresh`.
 */
export async function writePage(
  outRoot: string,
  page: string,
  { rerender = false, fresh = false }: WritePageOptions = {},
): Promise<void> {
  await assertWritableDir(dirname(page), "--page");
  const known = await knownSections();
  const runs: RecordedRun[] = [];
  for (const e of [...Deno.readDirSync(outRoot)].filter((e) => e.isDirectory && !e.name.includes("."))) {
    const r = await readResults(join(outRoot, e.name), REQUIRED);
    if (!r.results) continue;
    // a --seeds=N run's summary aggregates its runs' own summaries (mean ± sd, verdicts over the runs); its
    // results.json holds only the means, so rendering it again would drop the spread: it stays as recorded
    const again = rerender && !r.results.seeds;
    const results = (again && await resummarize(r.results, r.config?.config as Json, known)) || r.results;
    runs.push({ id: e.name, results, meta: r.config?.meta as Json | undefined });
  }
  const dir = join(dirname(page), "results");
  const kept = fresh
    ? []
    : (await readRecordedRunsIfAny(dir)).filter((r) => !runs.some((n) => n.id === r.id));
  const all = sortRuns([...runs, ...kept]);
  await recordRuns(dir, all);
  const missing = known.filter((k) => !all.some((r) => r.id === k.id));
  await writeFileAtomic(page, resultsPage(await readRecordedRuns(dir), missing));
  console.log(
    `wrote ${page} and ${dir}/ (${runs.length} runs from ${outRoot}: ${runs.map((r) => r.id).join(", ")}` +
      (kept.length ? `; kept as recorded: ${kept.map((r) => r.id).join(", ")}` : "") + ")",
  );
}

/** The runs recorded in `dir`, or none when it does not exist yet. */
async function readRecordedRunsIfAny(dir: string): Promise<RecordedRun[]> {
  try {
    return await readRecordedRuns(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** The repository root (where deno.json is). */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The shipped sections, from the code and not from a list here: every `deno task` of deno.json that runs one
 * entry file whose SPEC declares the section that file reproduces (`section.of` is its own id, so a copy does
 * not count), or that exports a SECTION (theory). Sorted in paper order.
 */
export async function knownSections(root = ROOT): Promise<KnownSection[]> {
  const tasks = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).tasks as Record<string, string>;
  const out: KnownSection[] = [];
  for (const [task, cmd] of Object.entries(tasks)) {
    const m = /^deno run -A (\S+\.ts)$/.exec(cmd.trim());
    if (!m) continue;
    const file = join(root, m[1]);
    const mod = await import(new URL(`file://${file}`).href);
    const spec = mod.SPEC as { section?: SectionInfo | null } | undefined;
    const section = (spec?.section ?? mod.SECTION) as SectionInfo | undefined;
    if (!section || (spec?.section && section.of !== experimentId(file))) continue;
    out.push({
      id: section.of,
      label: section.label,
      order: section.order,
      command: `deno task ${task}`,
      file,
    });
  }
  return out.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

/**
 * Builds the report HTML from an out/ directory: every results.json one level down with a summary, titled and
 * ordered by that summary (paper order, forks after the paper's sections), plus a line for each shipped section
 * (`known`, default knownSections()) that has not run yet.
 */
export async function buildReport(
  outRoot: string,
  opts: { known?: KnownSection[] } = {},
): Promise<{ html: string; sections: { id: string; status: string }[] }> {
  const known = opts.known ?? await knownSections();
  let entries: string[];
  try {
    // experiment dirs only: not the cache, nor a run's staging / old siblings (sec3_2.partial-123, ...)
    entries = [...Deno.readDirSync(outRoot)]
      .filter((e) => e.isDirectory && e.name !== "cache" && !e.name.includes("."))
      .map((e) => e.name);
  } catch (err) {
    throw new UserError(
      `cannot read the results directory --dir=${outRoot}: ${
        err instanceof Deno.errors.NotFound ? "no such directory" : (err as Error).message
      }; run an experiment first (deno task demo) or pass the directory that holds <experiment>/results.json`,
    );
  }
  type Found = {
    id: string;
    order: number;
    results?: Json;
    config?: Json;
    skipped?: string;
    command?: string;
    label?: string;
  };
  const found: Found[] = [];
  for (const id of entries) {
    const r = await readResults(join(outRoot, id), REQUIRED);
    if (!r.results && !r.skipped) continue;
    const order = Number(get(r.results, "summary.order")) || known.find((k) => k.id === id)?.order ||
      FORK_ORDER;
    found.push({ id, order, ...r });
  }
  for (const k of known) {
    if (!found.some((f) => f.id === k.id)) {
      found.push({ id: k.id, order: k.order, command: k.command, label: k.label });
    }
  }
  found.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  // a section run into another out dir (--out=out/sec3_1_plant) is titled with that run's name, so its claims
  // and tables are not taken for the section's own run
  const titleOf = (f: Found) => {
    const title = (f.results?.summary as Summary | undefined)?.title ?? f.label ?? f.id;
    const experiment = f.results?.experiment;
    return typeof experiment === "string" && experiment !== f.id ? `${title} (run ${f.id})` : title;
  };
  const glance = claimsAtAGlance(found.map((f) => ({
    id: f.id,
    title: titleOf(f),
    claims: (f.results?.summary as Summary | undefined)?.claims,
    command: f.command ?? known.find((k) => k.id === f.id)?.command,
    ran: Boolean(f.results),
  })));
  const parts: string[] = [], status: { id: string; status: string }[] = [];
  for (const f of found) {
    const dir = join(outRoot, f.id);
    const s = f.results?.summary as Summary | undefined;
    parts.push(`<section id="${esc(f.id)}"><h2>${esc(titleOf(f))}</h2>`);
    if (f.skipped) {
      parts.push(`<p class="warn">skipped: ${esc(f.skipped)}</p>`);
      status.push({ id: f.id, status: "skipped" });
    } else if (!f.results || !s) {
      parts.push(`<p class="missing">not run yet: <code>${esc(f.command)}</code></p>`);
      status.push({ id: f.id, status: "missing" });
    } else {
      const results = f.results, meta = (f.config?.meta ?? {}) as Json;
      parts.push(`<p class="claim">${esc(s.claim)}</p>`);
      const rerun = known.find((k) => k.id === f.id)?.command;
      if (rerun) parts.push(`<p class="meta">rerun: <code>${esc(rerun)}</code></p>`);
      parts.push(
        `<p class="meta">experiment ${esc(f.id)}, dataset ${
          esc(results.dataset ?? get(f.config, "config.dataset") ?? "-")
        }, preset ${esc(results.preset ?? meta.preset ?? "-")}, backend ${
          esc(results.backend ?? meta.backend ?? "-")
        }, run time ${esc(results.runSeconds ?? "-")} s, commit ${
          esc(results.gitCommit ?? meta.gitCommit ?? "-")
        }</p>`,
      );
      parts.push(await renderSummary(s));
      parts.push(await figures(dir, s.figures));
      if (f.config) {
        parts.push(
          `<details><summary>config.json</summary><pre>${
            esc(JSON.stringify(f.config, null, 2))
          }</pre></details>`,
        );
      }
      status.push({ id: f.id, status: "ok" });
    }
    parts.push("</section>");
  }
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Adversarial Examples are not Bugs, they are Features: reproduction report</title>
<style>body{font-family:system-ui,DejaVu Sans,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}.verdict-reproduces{background:#dff0d8}.verdict-partly{background:#fcf8e3}.verdict-does-not{background:#f2dede}.verdict-not-run{background:#eee}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.claim{font-style:italic}.meta{color:#555;font-size:90%}.missing,.warn{background:#fff4d6;padding:6px}figure{display:inline-block;margin:0.5em}figure img,img.chart{max-width:100%;border:1px solid #eee}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:80%}p,li,figcaption,h1,h2{overflow-wrap:anywhere}</style></head><body>
<h1>Adversarial Examples are not Bugs, they are Features: reproduction report</h1><p>Generated ${
      esc(new Date().toISOString())
    } from <code>${esc(outRoot)}/</code>. Our numbers beside the paper's (Ilyas et al., NeurIPS 2019).</p>
${glance}
<nav><h2>Contents</h2><ol>${
      found.map((f) =>
        `<li><a href="#${esc(f.id)}">${
          esc((f.results?.summary as Summary | undefined)?.title ?? f.label ?? f.id)
        }</a>${f.results ? "" : " (not run yet)"}</li>`
      ).join("")
    }</ol></nav>
${parts.join("\n")}</body></html>`;
  return { html, sections: status };
}
