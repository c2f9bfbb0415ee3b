// Data identity: sha256 of every file a dataset load reads, remembered by path + size + mtime in a memo file.
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the checksum memo lives by default: `.cache/checksums.json` at the repository root. */
export const DEFAULT_MEMO_PATH = fileURLToPath(new URL("../../.cache/checksums.json", import.meta.url));

interface MemoEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Hex sha256 of bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * File checksums remembered by absolute path, size and mtime. A missing, unreadable or corrupt memo file
 * is treated as empty; a memo that cannot be written is skipped (the checksums are just recomputed).
 */
export class ChecksumMemo {
  readonly path: string | null;
  #entries = new Map<string, MemoEntry>();
  #dirty = false;
  /** Files hashed (not found in the memo) since this memo was opened. */
  hashed = 0;
  /** Files whose checksum came from the memo. */
  hits = 0;

  /** `path` null keeps the memo in memory only. */
  constructor(path: string | null = DEFAULT_MEMO_PATH) {
    this.path = path;
    if (path) this.#entries = readMemo(path);
  }

  /**
   * The sha256 of the file at `path`. `bytes`, when given, are its content as just read (hashed on a
   * memo miss instead of reading the file again). The stat is taken before `bytes` is used, so a file that
   * changes later has a new mtime and is hashed again.
   */
  async checksum(path: string, bytes?: Uint8Array, stat?: Deno.FileInfo): Promise<string> {
    const abs = resolve(path);
    const st = stat ?? await Deno.stat(abs);
    const known = this.lookup(abs, st);
    if (known) return known;
    const mtimeMs = st.mtime?.getTime() ?? 0;
    const sha256 = sha256Hex(bytes ?? await Deno.readFile(abs));
    this.hashed++;
    this.#entries.set(abs, { size: st.size, mtimeMs, sha256 });
    this.#dirty = true;
    return sha256;
  }

  /** The remembered sha256 of `path` when its size and mtime in `stat` match the memo, else null. */
  lookup(path: string, stat: Deno.FileInfo): string | null {
    const e = this.#entries.get(resolve(path));
    if (e && e.size === stat.size && e.mtimeMs === (stat.mtime?.getTime() ?? 0)) {
      this.hits++;
      return e.sha256;
    }
    return null;
  }

  /** Writes the memo atomically (merged with entries other processes wrote meanwhile); never throws. */
  async save(): Promise<void> {
    if (!this.path || !this.#dirty) return;
    try {
      const merged = readMemo(this.path);
      for (const [k, v] of this.#entries) merged.set(k, v);
      for (const k of merged.keys()) if (!exists(k)) merged.delete(k); // deleted files (e.g. test fixtures)
      await Deno.mkdir(dirname(this.path), { recursive: true });
      const tmp = join(dirname(this.path), `.checksums.${crypto.randomUUID()}.tmp`);
      try {
        await Deno.writeTextFile(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(merged) }));
        await Deno.rename(tmp, this.path);
      } catch (err) {
        await Deno.remove(tmp).catch(() => {});
        throw err;
      }
      this.#dirty = false;
    } catch {
      // read-only or full disk: the memo is an optimization only
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readMemo(path: string): Map<string, MemoEntry> {
  try {
    const obj = JSON.parse(Deno.readTextFileSync(path));
    if (obj?.version !== 1 || typeof obj.entries !== "object") return new Map();
    const out = new Map<string, MemoEntry>();
    for (const [k, v] of Object.entries(obj.entries as Record<string, MemoEntry>)) {
      if (typeof v?.sha256 === "string" && typeof v.size === "number" && typeof v.mtimeMs === "number") {
        out.set(k, v);
      }
    }
    return out;
  } catch {
    return new Map();
  }
}

/**
 * Accumulates a dataset's identity: named file checksums (names relative to the dataset, so the same
 * files in another directory give the same fingerprint) and facts such as the format and shapes.
 */
export class Fingerprint {
  readonly memo: ChecksumMemo;
  #parts: string[] = [];

  constructor(memo: ChecksumMemo) {
    this.memo = memo;
  }

  /** Adds the file at `path` under `name`; `bytes` are its content when the caller has just read it. */
  async file(name: string, path: string, bytes?: Uint8Array, stat?: Deno.FileInfo): Promise<void> {
    this.checksum(name, await this.memo.checksum(path, bytes, stat));
  }

  /** Adds a checksum already known (e.g. from ChecksumMemo.lookup) under `name`. */
  checksum(name: string, sha256: string): void {
    this.#parts.push(`file ${name} ${sha256}`);
  }

  /** Reads a file and adds it under `name`; returns its bytes. */
  async read(name: string, path: string): Promise<Uint8Array> {
    const stat = await Deno.stat(path);
    const bytes = await Deno.readFile(path);
    await this.file(name, path, bytes, stat);
    return bytes;
  }

  /** Adds a fact (format, shape, option) that the data's meaning depends on. */
  fact(key: string, value: unknown): void {
    this.#parts.push(`fact ${key} ${JSON.stringify(value)}`);
  }

  /** The hex sha256 over everything added, in order. */
  digest(): string {
    return sha256Hex(this.#parts.join("\n"));
  }
}
