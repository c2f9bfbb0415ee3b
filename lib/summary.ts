// What every experiment declares about its results for people: tables beside the paper's numbers, charts and
// figures. Stored in results.json as `summary`; printed at the end of a run and rendered by `deno task report`.
import { formatPct, markdownTable } from "./report/table.ts";

/** One table: a header row and string cells (numbers already formatted). */
export interface SummaryTable {
  caption?: string;
  headers: string[];
  rows: string[][];
}

/** An experiment's summary, enough for the report to render it with no per-experiment code. */
export interface Summary {
  /** e.g. "Section 3.2 / Table 1: non-robust features suffice for standard classification". */
  title: string;
  /** The paper's claim this run tests, in one sentence. */
  claim: string;
  /** Where the section sits in the report (paper order; forks after the paper's sections). */
  order: number;
  tables: SummaryTable[];
  /** Vega-lite specs with inline data (e.g. ours beside the paper's). */
  charts: Record<string, unknown>[];
  /** PNG files of the run's out dir to show, in order. */
  figures: string[];
  /** Short findings in plain words. */
  notes: string[];
}

/**
 * What a section's summarize() returns: a Summary without its heading's label and report position, which
 * runExperiment() takes from the spec (ExperimentSpec.title, .order), so a copy or a fork is never titled as the
 * section it came from.
 */
export type SectionSummary = Omit<Summary, "title" | "order"> & {
  /** The finding in a few words, e.g. "non-robust features suffice for standard classification". */
  headline: string;
};

/** Formats a fraction as a percentage ("-" for null/undefined/NaN). */
export const pct = (v: number | null | undefined): string => formatPct(v);

/** The summary as markdown, as printed at the end of a run. */
export function summaryMarkdown(s: Summary): string {
  const parts = [`## ${s.title}`, "", `_${s.claim}_`];
  for (const t of s.tables) {
    parts.push("");
    if (t.caption) parts.push(t.caption, "");
    parts.push(markdownTable(t.headers, t.rows));
  }
  if (s.notes.length) parts.push("", ...s.notes.map((n) => `- ${n}`));
  return parts.join("\n");
}

/** Grouped bars of ours vs the paper's. values: {label, source: "ours" | "paper", value (%)} */
export function oursVsPaperBars(
  title: string,
  values: { label: string; source: "ours" | "paper"; value: number }[],
  yTitle: string,
): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    width: { step: 22 },
    height: 200,
    mark: "bar",
    encoding: {
      column: {
        field: "label",
        type: "nominal",
        title: null,
        sort: [...new Set(values.map((v) => v.label))],
      },
      x: { field: "source", type: "nominal", axis: null },
      y: { field: "value", type: "quantitative", title: yTitle },
      color: { field: "source", type: "nominal", title: null, scale: { domain: ["ours", "paper"] } },
    },
  };
}
