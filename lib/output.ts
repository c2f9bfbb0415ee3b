// Atomic file output (temp file + rename) and the run metadata every experiment writes to config.json.
import { dirname, join } from "node:path";

/** Writes `data` to `path` atomically: a temp file in the same directory, then rename. Creates parent dirs. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${crypto.randomUUID()}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Writes `value` as pretty JSON (2-space indent, trailing newline) atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Resolves an experiment's output directory (`override` or `out/<experiment>`) and creates it. */
export async function resolveOutDir(experiment: string, override?: string): Promise<string> {
  const dir = override && override !== "" ? override : join("out", experiment);
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/** The current git commit of the working tree (with "-dirty" when it has changes), or null outside git. */
export async function gitCommit(): Promise<string | null> {
  try {
    const run = async (args: string[]) => {
      const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    };
    const head = await run(["rev-parse", "--short=12", "HEAD"]);
    if (!head) return null;
    const status = await run(["status", "--porcelain", "--untracked-files=no"]);
    return status ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

/** What config.json records beside the resolved config. */
export interface RunMeta {
  gitCommit: string | null;
  deno: string;
  tfjs: string | null;
  backend: string | null;
  seed: number;
  preset: string | null;
  startedAt: string;
  argv: string[];
}

/**
 * Writes `<dir>/config.json` = {config, meta} atomically and returns the meta.
 * `info.tfjs` is the tfjs version (omit for code that does not use tfjs, e.g. the theory).
 */
export async function writeRunConfig(
  dir: string,
  config: unknown,
  info: { backend?: string; seed: number; preset?: string; tfjs?: string },
): Promise<RunMeta> {
  const meta: RunMeta = {
    gitCommit: await gitCommit(),
    deno: Deno.version.deno,
    tfjs: info.tfjs ?? null,
    backend: info.backend ?? null,
    seed: info.seed,
    preset: info.preset ?? null,
    startedAt: new Date().toISOString(),
    argv: Deno.args,
  };
  await writeJsonAtomic(join(dir, "config.json"), { config, meta });
  return meta;
}
