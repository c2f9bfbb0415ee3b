// User-facing errors and the entry-point wrapper that prints them without a stack trace.

/** An error caused by the user's input or environment (bad flag, missing data); printed without a stack. */
export class UserError extends Error {
  override name = "UserError";
}

const OS_REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "not a directory (a file is in the way)",
  EISDIR: "is a directory",
  EEXIST: "a file of that name already exists",
  ENOENT: "no such file or directory",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  EBUSY: "device or resource busy",
};

/**
 * The OS fault behind `err` (or behind its `cause` chain) in plain words, e.g. "read-only file system", or null
 * when the error did not come from the operating system (a bug, a bad value).
 */
export function osReason(err: unknown): string | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
      return OS_REASONS[code] ?? e.message.replace(/\s*\(os error \d+\).*$/s, "").toLowerCase();
    }
    if (e instanceof Deno.errors.NotCapable) return "Deno lacks the permission (run with -A)";
    if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  }
  return null;
}

/** True for errors whose message alone is the right thing to show a user. */
export function isUserFacing(err: unknown): err is Error {
  return err instanceof UserError || err instanceof RangeError || err instanceof TypeError;
}

/**
 * Runs an entry point: a returned number becomes the exit code; a UserError, RangeError or validation
 * TypeError prints `error: <message>` (stack only with DEBUG=1) and exits with code 2; anything else prints
 * its stack and exits with code 1.
 */
export async function runMain(fn: () => Promise<number | void>): Promise<never> {
  try {
    const code = await fn();
    Deno.exit(typeof code === "number" ? code : 0);
  } catch (err) {
    const debug = Deno.env.get("DEBUG") === "1";
    if (isUserFacing(err) && !debug) {
      // one line: what was wrong and how to fix it (DEBUG=1 shows where it was raised)
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    Deno.exit(1);
  }
}
