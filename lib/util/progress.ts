// Phase headers and a progress bar with ETA on stderr (redrawn in place on a TTY, sparse lines otherwise), showing
// what the phase measures (showing(): an attack's success read as robust accuracy in an evaluation, say).
import { AsyncLocalStorage } from "node:async_hooks";

const enc = new TextEncoder();
const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
const isTty = (): boolean => {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
};

/** Prints a section header for a long phase of work, e.g. `== train source model (cnn) ==`. */
export function phase(title: string): void {
  write(`\n== ${title} ==\n`);
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A metric a bar shows: a number, a text, or a fraction shown as a percentage ({ pct: 0.853 } -> "85.3%"). */
export type Metric = number | string | { pct: number };

/** The metrics of a bar by name, in the order shown. */
export type Metrics = Record<string, Metric>;

/** What a bar shows of the metrics its code reports: renamed, converted, or none, for the phase at hand. */
export type MetricView = (reported: Metrics) => Metrics;

const views = new AsyncLocalStorage<MetricView>();

/**
 * Runs `fn` with every bar it creates (however deep) showing `view(metrics)` instead of the metrics its code
 * reports: a shared loop names what it computes (an attack's `success`), the phase says what that means for it
 * (robust accuracy in an evaluation, attack success when building a dataset, nothing in representation matching).
 */
export function showing<T>(view: MetricView, fn: () => Promise<T>): Promise<T> {
  return views.run(view, fn);
}

/** Formats one metric: a percentage to 1 decimal, an integer as is, another number to 4 significant digits. */
export function formatMetric(v: Metric): string {
  if (typeof v === "object") return Number.isFinite(v.pct) ? `${(100 * v.pct).toFixed(1)}%` : "-";
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v;
}

function formatInfo(info: Metrics): string {
  return Object.entries(info).map(([k, v]) => `${k} ${formatMetric(v)}`).join("  ");
}

/** Options of a progress bar. */
export interface ProgressOptions {
  /** Unit shown in the rate, e.g. "img" -> "1234 img/s". */
  unit?: string;
  /** Suppress all output (tests). */
  quiet?: boolean;
  /** What the bar shows of the reported metrics (default: the view of an enclosing showing(), else all). */
  view?: MetricView;
  /** Where lines go (default stderr, redrawn in place on a TTY). */
  write?: (s: string) => void;
}

/**
 * A progress bar over `total` units of work:
 * `label [#####.....] 50% 1200/2400 img  830 img/s  ETA 1m02s  loss 0.3100  acc 85.3%`.
 */
export class Progress {
  readonly label: string;
  readonly total: number;
  #done = 0;
  #start = performance.now();
  #lastDraw = 0;
  #lastPct = -1;
  #info: Metrics = {};
  #unit: string;
  #quiet: boolean;
  #view: MetricView;
  #write: (s: string) => void;
  #tty: boolean;

  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = Math.max(1, total);
    this.#unit = opts.unit ?? "";
    this.#quiet = opts.quiet ?? false;
    this.#view = opts.view ?? views.getStore() ?? ((m) => m);
    this.#write = opts.write ?? write;
    this.#tty = opts.write ? false : isTty();
  }

  /** The metrics as the bar shows them (after its view). */
  get shown(): Metrics {
    return this.#view(this.#info);
  }

  /** Units completed so far. */
  get count(): number {
    return this.#done;
  }

  /** Seconds since the bar was created. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Advances by `n` units and updates the shown metrics (e.g. {loss, acc}). */
  tick(n = 1, info?: Metrics): void {
    this.#done = Math.min(this.total, this.#done + n);
    if (info) this.#info = { ...this.#info, ...info };
    const now = performance.now();
    const pct = Math.floor((100 * this.#done) / this.total);
    if (this.#tty ? now - this.#lastDraw > 150 : pct >= this.#lastPct + 10) {
      this.#draw(false);
      this.#lastDraw = now;
      this.#lastPct = pct - (pct % 10);
    }
  }

  /** Finishes the bar: prints the final line with the total time. */
  done(info?: Metrics): void {
    if (info) this.#info = { ...this.#info, ...info };
    this.#done = this.total;
    this.#draw(true);
  }

  #draw(final: boolean): void {
    if (this.#quiet) return;
    const frac = this.#done / this.total;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const el = this.elapsed;
    const rate = this.#done / Math.max(el, 1e-9);
    const unit = this.#unit ? ` ${this.#unit}` : "";
    const timing = final
      ? `in ${formatDuration(el)}`
      : `ETA ${formatDuration((this.total - this.#done) / Math.max(rate, 1e-9))}`;
    const line = `${this.label} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ` +
      `${this.#done}/${this.total}${unit}  ${
        rate >= 10 ? Math.round(rate) : rate.toFixed(2)
      }${unit}/s  ${timing}` +
      (Object.keys(this.shown).length ? `  ${formatInfo(this.shown)}` : "");
    if (this.#tty) this.#write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
    else this.#write(line + "\n");
  }
}
