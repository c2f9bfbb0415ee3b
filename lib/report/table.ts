// Markdown tables and number formatting for "our numbers beside the paper's".

/** Formats a fraction as a percentage string, e.g. 0.6331 -> "63.3%". */
export function formatPct(fraction: number | null | undefined, digits = 1): string {
  return fraction === null || fraction === undefined || !Number.isFinite(fraction)
    ? "-"
    : `${(100 * fraction).toFixed(digits)}%`;
}

/** A GitHub-flavoured markdown table; numbers are right-aligned unless `align` says otherwise. */
export function markdownTable(
  headers: string[],
  rows: (string | number)[][],
  opts: { align?: ("l" | "r")[] } = {},
): string {
  const cells = rows.map((r) => r.map(String));
  const align = opts.align ??
    headers.map((
      _,
      j,
    ) => (rows.every((r) => typeof r[j] === "number" || /^[-\d.,%]+$/.test(String(r[j]))) ? "r" : "l"));
  const width = headers.map((h, j) => Math.max(h.length, 3, ...cells.map((r) => (r[j] ?? "").length)));
  const pad = (s: string, j: number) => (align[j] === "r" ? s.padStart(width[j]) : s.padEnd(width[j]));
  return [
    `| ${headers.map(pad).join(" | ")} |`,
    `| ${width.map((w, j) => (align[j] === "r" ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`,
    ...cells.map((r) => `| ${headers.map((_, j) => pad(r[j] ?? "", j)).join(" | ")} |`),
  ].join("\n");
}
