// --workers=N on one machine: runs this command line's N shards (--shard=i/N) as child processes with the cores
// split between them (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS), relays their output line by line, and waits.
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

/**
 * Runs shards 0..n-1 of this command line as n local processes at once, each with floor(cores / n) threads (at
 * least 1), and waits for all. Throws a UserError naming each shard that failed, its exit code and the command
 * that reruns it alone; returns when every shard's part is in the cache.
 */
export async function runWorkers(n: number, opts: WorkerOptions): Promise<void> {
  const cores = opts.cores ?? navigator.hardwareConcurrency ?? 1, threads = threadsPerWorker(n, cores);
  const entry = opts.entry ?? fileURLToPath(Deno.mainModule), argv = opts.argv ?? Deno.args;
  console.error(
    `--workers=${n}: running shards 0..${
      n - 1
    } as ${n} processes with ${threads} thread(s) each (${cores} cores)`,
  );
  const t0 = performance.now();
  const codes = await Promise.all(Array.from({ length: n }, async (_, index) => {
    const s = { index, count: n };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", entry, ...shardArgs(argv, s)],
      env: { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
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
  console.error(
    `--workers=${n}: all shards done in ${((performance.now() - t0) / 1000).toFixed(1)} s; assembling`,
  );
}
