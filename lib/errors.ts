// User-facing errors and the entry-point wrapper that prints them without a stack trace.

/** An error caused by the user's input or environment (bad flag, missing data); printed without a stack. */
export class UserError extends Error {
  override name = "UserError";
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
      console.error(`error: ${err.message}`);
      if (!(err instanceof UserError)) console.error("(run with DEBUG=1 to see where it was raised)");
      Deno.exit(2);
    }
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    Deno.exit(1);
  }
}
