// What every experiment declares about its results for people: tables beside the paper's numbers, charts and
// figures. Stored in results.json as `summary`; printed at the end of a run and rendered by `deno task report`.
import { formatPct, markdownTable } from "../report/table.ts";
import { COLORS, colorScale, type Meaning, PANEL_HEADER } from "../report/colors.ts";

/**
 * A number in a table, kept as a number so runs over several seeds can be merged exactly: a fraction shown as a
 * percentage ("pct") or a plain number ("fixed") to `digits` decimals; `sd` and `n` when it is a mean over runs.
 */
export interface NumberCell {
  value: number | null;
  format: "pct" | "fixed";
  /** Decimals shown (default 1 for pct, 3 for fixed). */
  digits?: number;
  /** Sample standard deviation over `n` runs (set by lib/run/seeds.ts). */
  sd?: number;
  n?: number;
}

/** A table cell: text, or a number that a multi-seed run turns into "mean ± sd (n=N)". */
export type Cell = string | NumberCell;

/** One table: a header row and cells (text, or NumberCell for the numbers a seed changes). */
export interface SummaryTable {
  caption?: string;
  headers: string[];
  rows: Cell[][];
}

/** A claim's verdict, decided by a criterion written in code before the numbers were seen. */
export type Verdict = "reproduces" | "partly" | "does not" | "not run";

/** One of the paper's claims as a run tested it: the paper's number, ours, and the verdict with its criterion. */
export interface Claim {
  /** The claim in a few words, e.g. "claim 2: standard training on D_R gives robustness". */
  name: string;
  paper: string;
  ours: string;
  verdict: Verdict;
  /** The rule that decided the verdict, in words. */
  criterion: string;
}

/** The claims-at-a-glance table: claim | paper | ours | verdict | criterion. */
export function claimsTable(claims: Claim[], caption = "Claims at a glance"): SummaryTable {
  return {
    caption,
    headers: ["claim", "paper", "ours", "verdict", "criterion (fixed in code before the run)"],
    rows: claims.map((c) => [c.name, c.paper, c.ours, c.verdict, c.criterion]),
  };
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
  /** The paper's claims this run tested, each with a verdict (printed first, and at the top of the report). */
  claims?: Claim[];
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

/** A fraction as a table cell shown as a percentage ("-" for null/undefined/NaN). */
export const pctCell = (v: number | null | undefined, digits = 1): NumberCell => ({
  value: v ?? null,
  format: "pct",
  digits,
});

/** A number as a table cell shown to `digits` decimals. */
export const numCell = (v: number | null | undefined, digits = 3): NumberCell => ({
  value: v ?? null,
  format: "fixed",
  digits,
});

/** The text of a cell: "63.3%", "0.123", and for a mean over runs "63.3 ± 1.2% (n=3)". */
export function cellText(c: Cell): string {
  if (typeof c === "string") return c;
  if (c.value === null || !Number.isFinite(c.value)) return "-";
  const pct = c.format === "pct", d = c.digits ?? (pct ? 1 : 3), k = pct ? 100 : 1, unit = pct ? "%" : "";
  const v = (k * c.value).toFixed(d);
  return c.n === undefined ? `${v}${unit}` : `${v} ± ${(k * (c.sd ?? 0)).toFixed(d)}${unit} (n=${c.n})`;
}

/** The summary as markdown, as printed at the end of a run. */
export function summaryMarkdown(s: Summary): string {
  const parts = [`## ${s.title}`, "", `_${s.claim}_`];
  for (const t of [...(s.claims?.length ? [claimsTable(s.claims)] : []), ...s.tables]) {
    parts.push("");
    if (t.caption) parts.push(t.caption, "");
    parts.push(markdownTable(t.headers, t.rows.map((r) => r.map(cellText))));
  }
  const notes = s.notes ?? []; // a fork's results.json may have none (the report does not require them)
  if (notes.length) parts.push("", ...notes.map((n) => `- ${n}`));
  return parts.join("\n");
}

/** One bar of oursVsPaperBars(): a row label, ours or the paper's, the value, and the panel it sits in. */
export interface OursVsPaperBar {
  label: string;
  source: "ours" | "paper";
  value: number;
  /** Panels stack top to bottom, in the order first seen (e.g. "standard accuracy", "robust accuracy"). */
  panel?: string;
}

/**
 * Horizontal bars of ours beside the paper's, one row per label (read at any width: labels on the left, no
 * column headers to collide), in panels stacked top to bottom when the values name one. Ours and the paper's keep
 * their colours in every chart (lib/report/colors.ts).
 */
export function oursVsPaperBars(
  title: string | { text: string; subtitle?: string | string[] },
  values: OursVsPaperBar[],
  xTitle: string,
  opts: { domain?: [number, number] } = {},
): Record<string, unknown> {
  const panels = [...new Set(values.flatMap((v) => (v.panel === undefined ? [] : [v.panel])))];
  const bars = {
    width: 300,
    height: { step: 11 },
    mark: "bar",
    encoding: {
      y: {
        field: "label",
        type: "nominal",
        title: null,
        sort: [...new Set(values.map((v) => v.label))],
        axis: { labelLimit: 0 },
      },
      yOffset: { field: "source", sort: ["ours", "paper"] },
      x: {
        field: "value",
        type: "quantitative",
        title: xTitle,
        ...(opts.domain ? { scale: { domain: opts.domain } } : {}),
      },
      color: {
        field: "source",
        type: "nominal",
        title: null,
        scale: colorScale([["ours", "ours"], ["paper", "paper"]]),
        legend: { orient: "bottom" },
      },
    },
  };
  const head = { $schema: "https://vega.github.io/schema/vega-lite/v5.json", title, data: { values } };
  if (!panels.length) return { ...head, ...bars };
  return {
    ...head,
    facet: {
      row: {
        field: "panel",
        type: "nominal",
        title: null,
        sort: panels,
        header: PANEL_HEADER,
      },
    },
    spec: bars,
  };
}

/** One labelled point of a scatter panel (x, y in the axes' units). */
export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  /** Spread over runs, drawn as error bars of +- one sd when given. */
  xSd?: number;
  ySd?: number;
}

/**
 * Labelled scatter panels one above the other (e.g. ours above the paper's, each in its colour), so they stay
 * legible on a narrow screen: each point drawn and named (with +- sd error bars on the axes where it has a
 * spread), the axes titled `axes.x`, `axes.y`, not forced to include zero.
 */
export function scatterPanels(
  title: { text: string; subtitle?: string },
  panels: { title: string; values: ScatterPoint[]; color?: Meaning }[],
  axes: { x: string; y: string },
): Record<string, unknown> {
  const at = {
    x: { field: "x", type: "quantitative", title: axes.x, scale: { zero: false } },
    y: { field: "y", type: "quantitative", title: axes.y, scale: { zero: false } },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    vconcat: panels.map((p) => {
      const color = p.color ? { color: COLORS[p.color] } : {};
      const rule = { type: "rule", ...color };
      return {
        title: p.title,
        width: 300,
        height: 220,
        data: {
          values: p.values.map((v) => ({
            ...v,
            xLo: v.x - (v.xSd ?? 0),
            xHi: v.x + (v.xSd ?? 0),
            yLo: v.y - (v.ySd ?? 0),
            yHi: v.y + (v.ySd ?? 0),
          })),
        },
        layer: [
          ...(p.values.some((v) => v.xSd !== undefined || v.ySd !== undefined)
            ? [
              { mark: rule, encoding: { x: { ...at.x, field: "xLo" }, x2: { field: "xHi" }, y: at.y } },
              { mark: rule, encoding: { x: at.x, y: { ...at.y, field: "yLo" }, y2: { field: "yHi" } } },
            ]
            : []),
          {
            mark: { type: "point", filled: true, size: 90, ...color },
            encoding: at,
          },
          { mark: { type: "text", dy: -10, fontSize: 11 }, encoding: { ...at, text: { field: "label" } } },
        ],
      };
    }),
  };
}
