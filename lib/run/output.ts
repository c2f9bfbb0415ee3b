// Safe output: writability checks, atomic writes, locked run directories swapped in whole, run metadata.
import { basename, dirname, join, resolve } from "node:path";
import { osReason, UserError } from "../util/errors.ts";

const rand = () => crypto.randomUUID().slice(0, 8);
const isNotFound = (e: unknown) => e instanceof Deno.errors.NotFound;
const fixFor = (what: string) =>
  what.startsWith("--")
    ? `choose a writable directory with ${what}=DIR`
    : `make it writable or choose another ${what}`;

/** An Error carrying an errno-style code, so osReason() words it like the OS's own errors. */
function osError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  return await Deno.stat(path).catch((e) => {
    if (isNotFound(e)) return null;
    throw e;
  });
}

/**
 * Creates `dir` (recursive) and proves it writable by creating and removing a small file in it. Throws a
 * UserError naming `what` (the option, e.g. "--out"), the path, the OS reason in plain words and the fix.
 */
export async function assertWritableDir(dir: string, what = "--out"): Promise<void> {
  let step = "create the directory";
  try {
    const st = await statOrNull(dir);
    if (st && !st.isDirectory) throw osError("EISFILE", "is a file");
    await Deno.mkdir(dir, { recursive: true });
    step = "write a file in it";
    const probe = join(dir, `.write-probe-${Deno.pid}-${rand()}`);
    await Deno.writeFile(probe, new Uint8Array([0]), { createNew: true });
    await Deno.remove(probe);
  } catch (err) {
    const isFile = (err as { code?: string }).code === "EISFILE";
    const reason = isFile ? "it is a file, not a directory" : osReason(err);
    if (reason === null) throw err;
    const shown = reason.startsWith("not a directory")
      ? "a part of the path is a file, not a directory"
      : reason;
    throw new UserError(`${what}=${dir}: cannot ${step} (${shown}); ${fixFor(what)}`, { cause: err });
  }
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, then rename. Creates parent dirs.
 * An OS failure (disk full, permission denied, read-only file system) becomes one UserError naming the path;
 * the temp file is removed and an existing file at `path` is left as it was.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}-${rand()}.tmp`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    const reason = osReason(err);
    if (reason === null) throw err;
    const fix = /space|quota/.test(reason)
      ? "free some disk space and run again"
      : "choose a writable location (for an experiment: --out=DIR)";
    throw new UserError(`cannot write ${path} (${reason}); nothing was written there; ${fix}`, {
      cause: err,
    });
  }
}

/** Writes `value` as pretty JSON (2-space indent, trailing newline) atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Resolves an experiment's output directory (`override` or `out/<experiment>`), creates it and checks it is writable. */
export async function resolveOutDir(experiment: string, override?: string): Promise<string> {
  const dir = override && override !== "" ? override : join("out", experiment);
  await assertWritableDir(dir, "--out");
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Locks: a file created exclusively, holding who holds it; a holder that no longer runs is taken over.

/** What a lock file records about its holder. */
export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
  argv: string[];
  /** Start time of the process (Linux /proc/<pid>/stat field 22), to tell a reused pid apart. */
  procStart?: string | null;
}

/** A held lock; release() removes the lock file if it is still ours. */
export interface Lock {
  path: string;
  release(): Promise<void>;
}

function procStat(pid: number | "self"): { state: string; start: string } | null {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], start: f[19] };
  } catch {
    return null;
  }
}

/** Whether the process described by `info` still runs (true when this host cannot tell: another hostname). */
export function holderAlive(info: Pick<LockInfo, "pid" | "hostname" | "procStart">): boolean {
  if (info.hostname !== Deno.hostname()) return true;
  try {
    Deno.kill(info.pid, 0 as unknown as Deno.Signal);
  } catch (e) {
    if (isNotFound(e)) return false; // ESRCH; EPERM means it runs under another user
  }
  const now = procStat(info.pid);
  if (now && now.state === "Z") return false;
  if (now && info.procStart && now.start !== info.procStart) return false; // the pid was reused
  return true;
}

function lockInfo(): LockInfo {
  return {
    pid: Deno.pid,
    hostname: Deno.hostname(),
    startedAt: new Date().toISOString(),
    argv: Deno.args,
    procStart: procStat("self")?.start ?? null,
  };
}

async function readOrNull(path: string): Promise<string | null> {
  return await Deno.readTextFile(path).catch((e) => {
    if (isNotFound(e)) return null;
    throw e;
  });
}

function parseLock(raw: string): LockInfo | null {
  try {
    const v = JSON.parse(raw);
    return typeof v?.pid === "number" && typeof v?.hostname === "string" ? v as LockInfo : null;
  } catch {
    return null;
  }
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  const st = await statOrNull(path);
  return st !== null && Date.now() - (st.mtime?.getTime() ?? 0) > ms;
}

/** Removes the lock at `path` if it still holds `staleRaw`; `<path>.takeover` keeps two takers from racing. */
async function takeOver(path: string, staleRaw: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    (await Deno.open(guard, { createNew: true, write: true })).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    if (await olderThan(guard, 10_000)) await Deno.remove(guard).catch(() => {});
    return false;
  }
  try {
    if ((await readOrNull(path)) !== staleRaw) return false;
    await Deno.remove(path);
    return true;
  } finally {
    await Deno.remove(guard).catch(() => {});
  }
}

/**
 * Creates the lock file `path` exclusively with this process's pid, host, start time and argv. Returns the Lock,
 * or the LockInfo of the live process that holds it. A lock whose holder no longer runs (or that stayed
 * unreadable for 10 s) is taken over, after `onStale(holder)`.
 */
export async function tryLock(
  path: string,
  onStale?: (holder: LockInfo | null) => void,
): Promise<Lock | LockInfo> {
  const mine = JSON.stringify(lockInfo(), null, 2) + "\n";
  for (const t0 = Date.now(); Date.now() - t0 < 30_000;) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      try {
        await f.write(new TextEncoder().encode(mine));
      } finally {
        f.close();
      }
      return {
        path,
        release: async () => {
          if ((await readOrNull(path).catch(() => null)) === mine) await Deno.remove(path).catch(() => {});
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const raw = await readOrNull(path);
    if (raw === null) continue; // released in between
    const info = parseLock(raw);
    if (info === null && !(await olderThan(path, 10_000))) {
      await new Promise((r) => setTimeout(r, 50)); // its holder is still writing it
      continue;
    }
    if (info !== null && holderAlive(info)) return info;
    if (await takeOver(path, raw)) onStale?.(info);
  }
  throw new UserError(`could not take the lock ${path} within 30 s; delete it if no other run uses it`);
}

/** True when tryLock() returned a held Lock (not the holder's LockInfo). */
export function isLock(v: Lock | LockInfo): v is Lock {
  return "release" in v;
}

/** "pid N on host H, started T" for messages. */
export function describeHolder(h: LockInfo): string {
  const host = h.hostname === Deno.hostname() ? "" : ` on host ${h.hostname}`;
  return `pid ${h.pid}${host}, started ${h.startedAt}`;
}

// ---------------------------------------------------------------------------------------------------------
// Interrupts: a worker (whose event loop runs even while the main thread trains synchronously) catches
// SIGINT / SIGTERM, removes the staging dirs and locks of open runs, and exits 130 / 143. During commit()
// the signal is held back until the swap is done.

const GUARD_SRC = `
let state = null;
const runs = new Map();
self.onmessage = (e) => {
  const m = e.data;
  if (m.type === "init") state = new Int32Array(m.sab);
  else if (m.type === "add") runs.set(m.id, m);
  else if (m.type === "remove") runs.delete(m.id);
};
function exit(code) {
  try {
    const lib = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6",
      { _exit: { parameters: ["i32"], result: "void" } });
    lib.symbols._exit(code);
  } catch { /* no FFI permission */ }
  Deno.kill(Deno.pid, "SIGKILL");
}
function onSignal(code) {
  if (state && Atomics.load(state, 0) > 0) { Atomics.store(state, 1, code); return; }
  for (const r of runs.values()) {
    try { Deno.removeSync(r.staging, { recursive: true }); } catch { /* already gone */ }
    try { if (Deno.readTextFileSync(r.lock) === r.lockRaw) Deno.removeSync(r.lock); } catch { /* gone */ }
    console.error("interrupted: " + r.target + " is left as it was");
  }
  exit(code);
}
Deno.addSignalListener("SIGINT", () => onSignal(130));
try { Deno.addSignalListener("SIGTERM", () => onSignal(143)); } catch { /* not on this OS */ }
self.postMessage("ready");
`;

interface Guard {
  worker: Worker;
  state: Int32Array;
  open: number;
}
let guard: Guard | null = null;

async function guardAdd(
  id: string,
  entry: { staging: string; lock: string; lockRaw: string; target: string },
) {
  if (!guard) {
    const url = URL.createObjectURL(new Blob([GUARD_SRC], { type: "application/javascript" }));
    const worker = new Worker(url, { type: "module" });
    const sab = new SharedArrayBuffer(8);
    const ready = new Promise((r) => worker.onmessage = r);
    worker.postMessage({ type: "init", sab });
    await ready;
    URL.revokeObjectURL(url);
    guard = { worker, state: new Int32Array(sab), open: 0 };
  }
  guard.open++;
  guard.worker.postMessage({ type: "add", id, ...entry });
}

function guardRemove(id: string): void {
  if (!guard) return;
  guard.worker.postMessage({ type: "remove", id });
  if (--guard.open === 0 && Atomics.load(guard.state, 0) === 0) {
    guard.worker.terminate(); // restores the default Ctrl-C behaviour
    guard = null;
  }
}

/** Runs `fn` with SIGINT / SIGTERM held back; returns the exit code of a signal that came meanwhile (or 0). */
async function critical(fn: () => Promise<void>): Promise<number> {
  const g = guard;
  if (g) Atomics.add(g.state, 0, 1);
  try {
    await fn();
  } finally {
    if (g) Atomics.sub(g.state, 0, 1);
  }
  return g ? Atomics.load(g.state, 1) : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Run directories.

/** A run's staging directory beside its target; every file of the run goes into `path`. */
export interface RunDir {
  /** The directory the user asked for (e.g. out/sec3_2). */
  target: string;
  /** The staging directory where this run writes every file (`<target>.partial-<pid>`). */
  path: string;
  /** Swaps the staging dir in as `target` (the old target is removed) and releases the lock. */
  commit(): Promise<void>;
  /** Removes the staging dir, leaves `target` untouched and releases the lock. */
  abort(): Promise<void>;
}

const MARKER = ".run-dir.json";

/** Refuses to replace a directory that is not an earlier run's output (e.g. --out=. or --out=out). */
async function checkReplaceable(abs: string, target: string, what: string): Promise<void> {
  const st = await statOrNull(abs);
  if (st === null) return;
  if (!st.isDirectory) {
    throw new UserError(`${what}=${target} is a file, not a directory; ${fixFor(what)}`);
  }
  const cwd = resolve(".");
  if (cwd === abs || cwd.startsWith(abs.endsWith("/") ? abs : abs + "/")) {
    throw new UserError(`${what}=${target} contains the current directory; choose a directory of its own`);
  }
  const names = [...Deno.readDirSync(abs)].map((e) => e.name);
  if (names.length && !names.includes(MARKER) && !names.includes("config.json")) {
    throw new UserError(
      `${what}=${target} exists and is not the output of an earlier run (no config.json in it); a run replaces ` +
        `its whole ${what} directory, so choose a new or empty one`,
    );
  }
}

/** After a process died: an `.old-<pid>` without target is renamed back; other leftovers are removed. */
async function recoverLeftovers(abs: string): Promise<void> {
  const parent = dirname(abs), base = basename(abs);
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(old|partial)-(\\d+)$`);
  for (const e of [...Deno.readDirSync(parent)]) {
    const m = re.exec(e.name);
    if (!m) continue;
    const path = join(parent, e.name);
    if (m[1] === "old" && (await statOrNull(abs)) === null) {
      await Deno.rename(path, abs);
      console.error(`notice: restored ${abs} from ${e.name}, left by a run that died while replacing it`);
    } else {
      await Deno.remove(path, { recursive: true });
    }
  }
}

/**
 * Opens a coherent run directory for `target`: takes `<target>.lock` (a live holder -> UserError naming its
 * pid; a dead one's lock is taken over with a notice), cleans leftovers of dead runs, and creates the staging
 * dir `<target>.partial-<pid>` where the run writes all its files. commit() swaps it in as `target` (replacing
 * every file of the previous run), abort() removes it; Ctrl-C or SIGTERM aborts. `opts.what` names the option
 * in messages (default "--out"). An existing `target` must be an earlier run's output (holding config.json).
 */
export async function openRunDir(target: string, opts: { what?: string } = {}): Promise<RunDir> {
  const what = opts.what ?? "--out";
  target = target.length > 1 ? target.replace(/\/+$/, "") : target;
  const abs = resolve(target);
  await checkReplaceable(abs, target, what);
  try {
    await assertWritableDir(dirname(abs), what);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw new UserError(
      err.message.replace(`${what}=${dirname(abs)}:`, `${what}=${target}: its parent directory:`),
    );
  }
  const lockPath = `${abs}.lock`;
  const got = await tryLock(lockPath, (h) =>
    console.error(
      `notice: taking over ${lockPath}` +
        (h ? ` of ${describeHolder(h)}, which no longer runs` : " (unreadable)"),
    ));
  if (!isLock(got)) {
    throw new UserError(
      `another run (${describeHolder(got)}) is writing to ${target}; wait for it or pass another ${what} ` +
        `(if no such process runs, delete ${lockPath})`,
    );
  }
  const staging = `${abs}.partial-${Deno.pid}`;
  const id = rand();
  try {
    await recoverLeftovers(abs);
    await checkReplaceable(abs, target, what);
    await Deno.mkdir(staging);
    await Deno.writeTextFile(join(staging, MARKER), await Deno.readTextFile(lockPath));
    await guardAdd(id, { staging, lock: lockPath, lockRaw: await Deno.readTextFile(lockPath), target });
  } catch (err) {
    await got.release();
    const reason = osReason(err);
    if (reason === null) throw err;
    throw new UserError(`${what}=${target}: cannot prepare the run directory (${reason}); ${fixFor(what)}`, {
      cause: err,
    });
  }
  let done = false;
  const finish = async () => {
    done = true;
    guardRemove(id);
    await got.release();
  };
  return {
    target,
    path: staging,
    commit: async () => {
      if (done) return;
      const old = `${abs}.old-${Deno.pid}`;
      let signal = 0;
      try {
        signal = await critical(async () => {
          await Deno.remove(old, { recursive: true }).catch(() => {});
          let moved = false;
          if ((await statOrNull(abs)) !== null) {
            await Deno.rename(abs, old);
            moved = true;
          }
          try {
            await Deno.rename(staging, abs);
          } catch (err) {
            if (moved) await Deno.rename(old, abs).catch(() => {});
            throw err;
          }
          await Deno.remove(old, { recursive: true }).catch(() => {}); // else the next run removes it
        });
      } catch (err) {
        const reason = osReason(err);
        if (reason === null) throw err;
        throw new UserError(
          `cannot move the finished run into ${target} (${reason}); its files are in ${staging}`,
          { cause: err },
        );
      } finally {
        await finish();
      }
      if (signal !== 0) {
        console.error(`interrupted: ${target} holds the finished run`);
        Deno.exit(signal);
      }
    },
    abort: async () => {
      if (done) return;
      try {
        await Deno.remove(staging, { recursive: true }).catch(() => {});
      } finally {
        await finish();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Run metadata.

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
  /** The CPU model and core count this run had, e.g. "AMD EPYC, 2 cores" (machineName()). */
  machine?: string;
  /** A run over several seeds (--seeds): which seeds, and what a seed varies. */
  seeds?: SeedsInfo;
}

/** The CPU model (from /proc/cpuinfo where there is one) and the core count: "AMD EPYC, 2 cores". */
export function machineName(): string {
  let model = "";
  try {
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) => l.startsWith("model name"));
    model = line?.split(":")[1]?.trim() ?? "";
  } catch {
    model = "";
  }
  const cores = navigator.hardwareConcurrency;
  return `${model || `${Deno.build.os} ${Deno.build.arch}`}, ${cores} core${cores === 1 ? "" : "s"}`;
}

/** What a run over several seeds (--seeds=N) ran: the seeds, in order, and what changing the seed changes. */
export interface SeedsInfo {
  n: number;
  values: number[];
  varies: string;
}

/**
 * Writes `<dir>/config.json` = {config, meta} atomically and returns the meta.
 * `info.tfjs` is the tfjs version (omit for code that does not use tfjs, e.g. the theory).
 */
export async function writeRunConfig(
  dir: string,
  config: unknown,
  info: { backend?: string; seed: number; preset?: string; tfjs?: string; seeds?: SeedsInfo },
): Promise<RunMeta> {
  const meta: RunMeta = {
    gitCommit: await gitCommit(),
    machine: machineName(),
    deno: Deno.version.deno,
    tfjs: info.tfjs ?? null,
    backend: info.backend ?? null,
    seed: info.seed,
    preset: info.preset ?? null,
    startedAt: new Date().toISOString(),
    argv: Deno.args,
    ...(info.seeds ? { seeds: info.seeds } : {}),
  };
  await writeJsonAtomic(join(dir, "config.json"), { config, meta });
  return meta;
}
