// --workers=N on one machine: runs this command line's N shards (--shard=i/N) as child processes with the cores
// split between them (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS), relays their output line by line, and waits; again,
// round after round, while the shards still build parts (a section whose evaluation is sharded needs two).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Shard, shardArgs, shardText, threadsPerWorker } from "./shard.ts";
import { UserError } from "../util/errors.ts";

/** How runWorkers() starts its children (defaults: this process's entry module, argv and core count). */
export interface WorkerOptions {
  /** The command line of a shard, for the message when one fails (shardCommand()). */
  command: (s: Shard) => string;
  /** The entry module the children run (default Deno.mainModule). */
  entry?: string;
  /** Arguments of this run (default Deno.args); --shard / --workers are replaced per child. */
  argv?: string[];
  /** Cores to share (default navigator.hardwareConcurrency). */
  cores?: number;
  /** Most rounds (default MAX_ROUNDS). */
  maxRounds?: number;
}

/** Copies a child's output to stderr, each line (a progress bar's too) prefixed with `tag`. */
async function relay(stream: ReadableStream<Uint8Array>, tag: string): Promise<void> {
  let rest = "";
  const out = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`${tag} ${line}\n`));
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split(/\r\n|\r|\n/);
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) out(line);
  }
  if (rest.trim()) out(rest);
}

/** The environment variable naming the file where a shard process reports what it built (shardReport()). */
export const SHARD_REPORT_ENV = "ADV_FEATURES_SHARD_REPORT";

/** What a shard process reports to runWorkers(): how many artifacts it wrote (or found) its part of. */
export interface ShardReport {
  built: number;
}

/** Writes a shard process's report where runWorkers() asked for it ($ADV_FEATURES_SHARD_REPORT), if it did. */
export async function shardReport(report: ShardReport): Promise<void> {
  const path = Deno.env.get(SHARD_REPORT_ENV);
  if (path) await Deno.writeTextFile(path, JSON.stringify(report));
}

/** Most rounds of shards runWorkers() starts (a section's phases of per-example work, plus the last empty one). */
export const MAX_ROUNDS = 5;

/**
 * Runs shards 0..n-1 of this command line as n local processes at once, each with floor(cores / n) threads (at
 * least 1), and waits for all; then again while a round's shards built parts: a round assembles what the one
 * before built and builds its parts of the run's next sharded phase (Section 3.1: D_R / D_NR, then the robust
 * evaluation), and a round in which no shard had anything left to build ends it. Throws a UserError naming each
 * shard that failed, its exit code and the command that reruns it alone; returns when every shard's part of
 * every phase is in the cache.
 */
export async function runWorkers(n: number, opts: WorkerOptions): Promise<void> {
  const cores = opts.cores ?? navigator.hardwareConcurrency ?? 1, threads = threadsPerWorker(n, cores);
  console.error(
    `--workers=${n}: running shards 0..${
      n - 1
    } as ${n} processes with ${threads} thread(s) each (${cores} cores)`,
  );
  const t0 = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "shard-reports-" });
  try {
    for (let round = 1; round <= (opts.maxRounds ?? MAX_ROUNDS); round++) {
      if (round > 1) console.error(`--workers=${n}: round ${round}: the next phase's shards`);
      const built = await runRound(n, threads, opts, join(dir, `round${round}`));
      if (!built) {
        console.error(
          `--workers=${n}: all shards done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${round} ` +
            `round(s)); assembling`,
        );
        return;
      }
    }
    console.error(`--workers=${n}: stopped after ${opts.maxRounds ?? MAX_ROUNDS} rounds; assembling`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** One round: the n shards at once; returns how many parts they built or found (0: nothing was left). */
async function runRound(n: number, threads: number, opts: WorkerOptions, reports: string): Promise<number> {
  const entry = opts.entry ?? fileURLToPath(Deno.mainModule), argv = opts.argv ?? Deno.args;
  await Deno.mkdir(reports, { recursive: true });
  const codes = await Promise.all(Array.from({ length: n }, async (_, index) => {
    const s = { index, count: n };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", entry, ...shardArgs(argv, s)],
      env: {
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
        [SHARD_REPORT_ENV]: join(reports, `${index}.json`),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const tag = `[shard ${shardText(s)}]`;
    await Promise.all([relay(child.stdout, tag), relay(child.stderr, tag)]);
    return (await child.status).code;
  }));
  const failed = codes.flatMap((code, index) => (code === 0 ? [] : [{ index, code }]));
  if (failed.length) {
    throw new UserError(
      `--workers=${n}: ${
        failed.map((f) => `shard ${f.index}/${n} failed (exit code ${f.code})`).join(", ")
      }; its output is above (lines tagged [shard i/${n}]). Rerun it alone, then rerun this command:\n` +
        failed.map((f) => `  ${opts.command({ index: f.index, count: n })}`).join("\n"),
    );
  }
  let built = 0;
  for (let i = 0; i < n; i++) {
    // a shard that reported nothing (a child that is not ours, e.g. a test's fake) counts as done
    const text = await Deno.readTextFile(join(reports, `${i}.json`)).catch(() => null);
    built += text ? (JSON.parse(text) as ShardReport).built : 0;
  }
  return built;
}
