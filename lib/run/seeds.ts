// Runs over several seeds, summarized: mean, sample sd, min, max and n of every number of the results, and the
// per-seed summaries merged cell by cell into one whose numbers read "mean ± sd (n=N)".
import {
  type Cell,
  cellText,
  type Claim,
  type NumberCell,
  type Summary,
  type SummaryTable,
} from "./summary.ts";

/** The spread of one number over the seeds that gave it (sd: sample standard deviation, null when n < 2). */
export interface Spread {
  mean: number;
  sd: number | null;
  min: number;
  max: number;
  n: number;
}

/** Mean, sample sd, min, max and count of `values` (at least one). */
export function spread(values: number[]): Spread {
  const n = values.length;
  if (!n) throw new RangeError("spread() needs at least one value, got none");
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

type Json = unknown;

/** Every finite number of a JSON value by its dotted path (array elements by index: "curve.0.acc"). */
export function numericLeaves(v: Json, prefix = "", out = new Map<string, number>()): Map<string, number> {
  if (typeof v === "number") {
    if (Number.isFinite(v)) out.set(prefix, v);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => numericLeaves(x, prefix ? `${prefix}.${i}` : String(i), out));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) numericLeaves(x, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/** The spread of every numeric leaf over the runs (a leaf missing or not finite in a run is left out of its n). */
export function aggregateNumbers(runs: Json[]): Record<string, Spread> {
  const by = new Map<string, number[]>();
  for (const r of runs) {
    for (const [k, v] of numericLeaves(r)) by.set(k, [...(by.get(k) ?? []), v]);
  }
  return Object.fromEntries([...by].map(([k, vs]) => [k, spread(vs)]));
}

/** `first` with each numeric leaf replaced by its mean in `agg` (the structure and the other leaves: `first`'s). */
export function withMeans<T>(first: T, agg: Record<string, Spread>): T {
  const walk = (v: Json, path: string): Json => {
    if (typeof v === "number") return agg[path]?.mean ?? v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, path ? `${path}.${i}` : String(i)));
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, walk(x, path ? `${path}.${k}` : k)]),
      );
    }
    return v;
  };
  return walk(first, "") as T;
}

const NUM = /-?\d+(?:\.\d+)?/g;
const decimals = (s: string) => (s.split(".")[1] ?? "").length;

/**
 * One text for the seeds' versions of a text: itself when they agree; when they differ only in their numbers,
 * each differing number as "mean ± sd" (to the decimals shown) and " (n=N)" at the end; otherwise every version.
 */
export function aggregateText(texts: string[]): string {
  if (texts.every((t) => t === texts[0])) return texts[0];
  const skeleton = (t: string) => t.replace(NUM, "\0");
  const nums = texts.map((t) => t.match(NUM) ?? []);
  if (!texts.every((t) => skeleton(t) === skeleton(texts[0]))) {
    return `varies by seed: ${texts.join(" | ")}`;
  }
  let i = 0;
  const merged = texts[0].replace(NUM, () => {
    const col = nums.map((ns) => ns[i]);
    i++;
    if (col.every((s) => s === col[0])) return col[0];
    const d = Math.max(...col.map(decimals));
    const s = spread(col.map(Number));
    return `${s.mean.toFixed(d)} ± ${(s.sd ?? 0).toFixed(d)}`;
  });
  return `${merged} (n=${texts.length})`;
}

/** One cell for the seeds' versions of a cell: numbers as mean ± sd over the seeds that have one. */
export function aggregateCell(cells: Cell[]): Cell {
  if (cells.every((c) => typeof c === "string")) return aggregateText(cells as string[]);
  const first = cells.find((c): c is NumberCell => typeof c !== "string");
  const nums = cells.filter((c): c is NumberCell => typeof c !== "string" && c.format === first!.format);
  if (nums.length !== cells.length) {
    return `varies by seed: ${cells.map(cellText).join(" | ")}`;
  }
  const values = nums.map((c) => c.value).filter((v): v is number => v !== null && Number.isFinite(v));
  if (!values.length) return { ...first!, value: null };
  const s = spread(values);
  return { ...first!, value: s.mean, sd: s.sd ?? 0, n: s.n };
}

/** The seeds' versions of one table merged cell by cell; tables that differ in shape: the first, with a caption. */
function aggregateTable(tables: SummaryTable[], seeds: number[]): SummaryTable {
  const t0 = tables[0];
  const same = tables.every((t) =>
    t.headers.join("\0") === t0.headers.join("\0") && t.rows.length === t0.rows.length &&
    t.rows.every((r, i) => r.length === t0.rows[i].length)
  );
  if (!same) {
    return {
      ...t0,
      caption: `${t0.caption ?? ""} (rows differ between seeds; this is seed ${seeds[0]})`.trim(),
    };
  }
  return {
    ...t0,
    ...(t0.caption !== undefined ? { caption: aggregateText(tables.map((t) => t.caption ?? "")) } : {}),
    rows: t0.rows.map((r, i) => r.map((_, j) => aggregateCell(tables.map((t) => t.rows[i][j])))),
  };
}

/**
 * The per-seed summaries of one experiment as one: title, claim and order of the first; every table merged
 * cell by cell (numbers as "mean ± sd (n=N)", identical cells as they are); notes merged the same way; charts
 * and figures of the first seed (`figurePrefix` is where its files are, relative to the out dir), or the
 * section's `own` figures drawn from all runs, said in a note.
 */
export function aggregateSummaries(
  summaries: Summary[],
  seeds: number[],
  figurePrefix: string,
  /** Figures the section drew from all runs (SeededParts), in place of the first run's. */
  own?: string[],
): Summary {
  const s0 = summaries[0];
  const sameCount = summaries.every((s) => s.tables.length === s0.tables.length);
  const tables = sameCount
    ? s0.tables.map((_, k) => aggregateTable(summaries.map((s) => s.tables[k]), seeds))
    : s0.tables;
  const sameNotes = summaries.every((s) => s.notes.length === s0.notes.length);
  const notes = sameNotes
    ? s0.notes.map((_, k) => aggregateText(summaries.map((s) => s.notes[k])))
    : summaries.flatMap((s, i) => s.notes.map((n) => `seed ${seeds[i]}: ${n}`));
  return {
    ...s0,
    claims: aggregateClaims(summaries, seeds),
    tables,
    notes: [
      `${seeds.length} runs, seeds ${
        seeds.join(", ")
      }: numbers that differ read mean ± sample sd (n=runs); ` +
      `${
        own
          ? `the figures are drawn from all runs; charts are seed ${seeds[0]}'s`
          : `charts and figures are seed ${seeds[0]}'s`
      } (each run's files: seeds/<seed>/)`,
      ...notes,
    ],
    figures: own ?? s0.figures.map((f) => `${figurePrefix}${f}`),
  };
}

/**
 * The runs' verdicts of each claim as one, for a section that computes none from all its runs (SeededParts):
 * numbers as "mean ± sd (n=N)"; the verdict when every run gives the same one, else the first run's, with
 * every run's verdict in the criterion so the disagreement is not hidden.
 */
export function aggregateClaims(summaries: Summary[], seeds: number[]): Claim[] | undefined {
  const s0 = summaries[0];
  if (!s0.claims) return undefined;
  if (!summaries.every((s) => s.claims?.length === s0.claims!.length)) return s0.claims;
  return s0.claims.map((c, k) => {
    const all = summaries.map((s) => s.claims![k]);
    const verdicts = all.map((a) => a.verdict);
    const agree = verdicts.every((v) => v === c.verdict);
    return {
      ...c,
      ours: aggregateText(all.map((a) => a.ours)),
      criterion: agree
        ? c.criterion
        : `${c.criterion} (the runs disagree: ${
          verdicts.map((v, i) => `seed ${seeds[i]} ${v}`).join(", ")
        }; shown: seed ${seeds[0]}'s)`,
    };
  });
}
