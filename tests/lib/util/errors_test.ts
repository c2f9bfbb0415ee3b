// Tests for lib/util/errors.ts: runMain prints a one-line error without a stack for user mistakes.
import assert from "node:assert/strict";
import { osReason, UserError } from "../../../lib/util/errors.ts";

async function runSnippet(code: string): Promise<{ code: number; stderr: string }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  const url = new URL("../../../lib/util/errors.ts", import.meta.url).href;
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

Deno.test("osReason() words real OS errors plainly, follows causes, and is null for other errors", async () => {
  const caught = async (f: () => Promise<unknown>) => await f().then(() => null, (e) => e);
  assert.equal(
    osReason(await caught(() => Deno.writeTextFile("/dev/full", "x"))),
    "no space left on the device",
  );
  assert.equal(osReason(await caught(() => Deno.readTextFile("/no/such/file"))), "no such file or directory");
  const file = await Deno.makeTempFile();
  assert.equal(
    osReason(await caught(() => Deno.mkdir(`${file}/sub`))),
    "not a directory (a file is in the way)",
  );
  await Deno.remove(file);
  const inner = await caught(() => Deno.writeTextFile("/dev/full", "x"));
  assert.equal(osReason(new UserError("cannot save", { cause: inner })), "no space left on the device");
  assert.equal(osReason(new Error("a bug")), null);
  assert.equal(osReason("not an error"), null);
});
