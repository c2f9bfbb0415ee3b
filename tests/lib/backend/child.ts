// Runs a snippet in a fresh Deno process, for tests whose fault (a damaged native library) must not reach theirs.

/** Runs `code` (a module body) with `deno eval`; its exit code, stderr and stdout parsed as JSON (null on failure). */
export function evalInChild(
  code: string,
): { code: number; stderr: string; result: Record<string, unknown> | null } {
  const p = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped", stderr: "piped" })
    .outputSync();
  const text = new TextDecoder();
  return {
    code: p.code,
    stderr: text.decode(p.stderr),
    result: p.success ? JSON.parse(text.decode(p.stdout)) : null,
  };
}
