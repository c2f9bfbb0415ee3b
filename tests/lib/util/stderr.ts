// Test helper: what a function writes to stderr (Deno.stderr.writeSync and console.error), captured, not shown.

/** Runs `fn` and returns what it wrote to stderr, with its result. */
export async function captureStderr<T>(fn: () => Promise<T>): Promise<{ text: string; value: T }> {
  const chunks: string[] = [], dec = new TextDecoder();
  const writeSync = Deno.stderr.writeSync, error = console.error;
  Deno.stderr.writeSync = (b: Uint8Array) => (chunks.push(dec.decode(b)), b.length);
  console.error = (...a: unknown[]) => chunks.push(a.map(String).join(" ") + "\n");
  try {
    const value = await fn();
    return { text: chunks.join(""), value };
  } finally {
    Deno.stderr.writeSync = writeSync;
    console.error = error;
  }
}
