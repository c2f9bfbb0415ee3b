// Phase headers and a progress bar with ETA on stderr (redrawn in place on a TTY, sparse lines otherwise).

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

function formatInfo(info: Record<string, number | string>): string {
  return Object.entries(info).map(([k, v]) =>
    `${k} ${typeof v === "number" ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`
  ).join("  ");
}

/** Options of a progress bar. */
export interface ProgressOptions {
  /** Unit shown in the rate, e.g. "img" -> "1234 img/s". */
  unit?: string;
  /** Suppress all output (tests). */
  quiet?: boolean;
}

/** A progress bar over `total` units of work: `label [#####.....] 50% 1200/2400 img 830 img/s ETA 1m02s loss 0.31`. */
export class Progress {
  readonly label: string;
  readonly total: number;
  #done = 0;
  #start = performance.now();
  #lastDraw = 0;
  #lastPct = -1;
  #info: Record<string, number | string> = {};
  #unit: string;
  #quiet: boolean;
  #tty = isTty();

  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = Math.max(1, total);
    this.#unit = opts.unit ?? "";
    this.#quiet = opts.quiet ?? false;
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
  tick(n = 1, info?: Record<string, number | string>): void {
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
  done(info?: Record<string, number | string>): void {
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
      (Object.keys(this.#info).length ? `  ${formatInfo(this.#info)}` : "");
    if (this.#tty) write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
    else write(line + "\n");
  }
}
