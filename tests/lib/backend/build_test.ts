// Native library builds: the sha256 of a file, and failed builds explained by what failed (a missing header or
// library with its Debian package, else the compiler's first error and the tail of its stderr).
import assert from "node:assert/strict";
import {
  explainBuildFailure,
  fnv1a64,
  type LibrarySpec,
  PACKAGE_OF,
  sha256File,
} from "../../../lib/backend/build.ts";

const spec: LibrarySpec = { name: "x", source: "/src/x.c", flagSets: [["-O2"]], libs: [] };

Deno.test("sha256File(): the published SHA-256 of 'abc'", () => {
  const f = Deno.makeTempFileSync();
  Deno.writeTextFileSync(f, "abc");
  assert.equal(sha256File(f), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Deno.removeSync(f);
});

Deno.test("explainBuildFailure(): a missing header or library names it and the apt-get line", () => {
  assert.equal(
    explainBuildFailure(
      "cc",
      spec,
      "x.c:8:10: fatal error: oneapi/dnnl/dnnl.h: No such file or directory\n",
      1,
    ),
    "cc could not build /src/x.c: header oneapi/dnnl/dnnl.h not found; install it: sudo apt-get install libdnnl-dev",
  );
  assert.equal(
    explainBuildFailure("cc", spec, "/usr/bin/ld: cannot find -ldnnl: No such file or directory\n", 1),
    "cc could not build /src/x.c: library -ldnnl not found; install it: sudo apt-get install libdnnl-dev",
  );
  assert.equal(
    explainBuildFailure("cc", spec, "x.c:1:10: fatal error: zzz.h: No such file or directory\n", 1),
    "cc could not build /src/x.c: header zzz.h not found",
    "no package known: no guessed apt-get line",
  );
  for (const pkg of Object.values(PACKAGE_OF)) assert.match(pkg, /^[a-z0-9.+-]+$/);
});

Deno.test("explainBuildFailure(): otherwise the first error line and the stderr tail, or the exit code", () => {
  const err =
    "x.c: In function 'f':\nx.c:3:1: error: expected ';'\n  3 | }\n    | ^\ncompilation terminated.\n";
  assert.equal(
    explainBuildFailure("gcc", spec, err, 1),
    "gcc could not build /src/x.c: x.c:3:1: error: expected ';' |   3 | } |     | ^ | compilation terminated.",
  );
  assert.equal(
    explainBuildFailure("cc", spec, "", 139),
    "cc could not build /src/x.c: exit code 139, no message",
  );
});

Deno.test("fnv1a64(): the published FNV-1a 64-bit test vectors", () => {
  assert.equal(fnv1a64(""), "cbf29ce484222325");
  assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
});
