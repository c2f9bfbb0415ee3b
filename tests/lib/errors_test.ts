// Tests for lib/errors.ts: runMain prints a one-line error without a stack for user mistakes.
import assert from "node:assert/strict";

async function runSnippet(code: string): Promise<{ code: number; stderr: string }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  const url = new URL("../../lib/errors.ts", import.meta.url).href;
  await Deno.writeTextFile(file, `import { runMain, UserError } from "${url}";\n${code}`);
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", file], stderr: "piped" })
    .output();
  await Deno.remove(file);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("runMain() turns a UserError into one line and exit code 2, without a stack", async () => {
  const r = await runSnippet(`runMain(async () => { throw new UserError("data missing: run X"); });`);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), "error: data missing: run X");
});

Deno.test("runMain() shows the stack of an unexpected error and exits 1", async () => {
  const r = await runSnippet(`runMain(async () => { throw new Error("bug"); });`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, / {4}at /);
});

Deno.test("runMain() uses a returned number as the exit code", async () => {
  assert.equal((await runSnippet(`runMain(async () => 3);`)).code, 3);
});
