// The native helpers (native/fastops.c) agree with the TypeScript ones; building is cached, atomic, verified by
// checksum (a damaged library is rebuilt, never loaded), prunes old builds, and falls back to TypeScript with a
// warning that says what failed when there is no working compiler.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  buildNative,
  fnv1a64,
  loadNativeOps,
  openNative,
  passiveOpenMp,
} from "../../../lib/backend/native.ts";
import { sha256File } from "../../../lib/backend/build.ts";
import { evalInChild } from "./child.ts";
import { loadBlas } from "../../../lib/backend/blas.ts";
import { activationCode, ACTIVATIONS, tsOps } from "../../../lib/backend/ops.ts";
import { createRng } from "../../../lib/util/rng.ts";

function rand(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const native = loadNativeOps();

Deno.test("loadNativeOps(): builds and loads the native helpers here (CI installs gcc)", () => {
  assert.equal(native.warning, undefined, `native helpers did not load: ${native.warning}`);
  assert.match(native.ops.source, /fastops-[0-9a-f]{16}\.(so|dylib) \(\d+ threads\)$/);
});

const geometries: {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number;
  pad: "same" | "valid";
}[] = [
  { x: [3, 7, 5, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { x: [4, 9, 8, 1], f: [3, 3, 1, 5], s: 2, pad: "same" },
  { x: [3, 8, 11, 6], f: [3, 2, 6, 7], s: 2, pad: "valid" },
  { x: [2, 6, 5, 40], f: [5, 5, 40, 4], s: 1, pad: "same" },
];

for (const g of geometries) {
  Deno.test(`native im2col/col2im equal the TypeScript ones exactly: x ${g.x} filter ${g.f} stride ${g.s} ${g.pad}`, () => {
    const ci = tf.backend_util.computeConv2DInfo(g.x, g.f, g.s, 1, g.pad);
    const N = g.x[0], K = g.f[0] * g.f[1] * g.f[2], P = ci.outHeight * ci.outWidth;
    const x = rand(N * g.x[1] * g.x[2] * g.x[3], 1);
    // images [1, N) only: the chunked calls the kernels make
    const colsTs = new Float32Array((N - 1) * P * K).fill(NaN), colsC = colsTs.slice();
    tsOps.im2col(x, colsTs, ci, 1, N);
    native.ops.im2col(x, colsC, ci, 1, N);
    assert.ok(!colsTs.some(Number.isNaN), "im2col wrote every entry");
    assert.deepEqual(colsC, colsTs);
    const cols = rand(colsTs.length, 2);
    const dxTs = new Float32Array(x.length).fill(7), dxC = dxTs.slice();
    tsOps.col2im(cols, dxTs, ci, 1, N);
    native.ops.col2im(cols, dxC, ci, 1, N);
    const img = x.length / N;
    assert.ok(dxTs.subarray(0, img).every((v) => v === 7), "images outside [n0, n1) are left alone");
    assert.ok(dxTs.subarray(img).some((v) => v !== 7), "col2im wrote the chunk's images");
    assert.deepEqual(dxC, dxTs);
    // col2im is the adjoint of im2col: <im2col(x), cols> = <x, col2im(cols)> over the chunk's images
    let lhs = 0, rhs = 0;
    for (let i = 0; i < cols.length; i++) lhs += colsTs[i] * cols[i];
    for (let i = img; i < x.length; i++) rhs += x[i] * dxTs[i];
    assert.ok(Math.abs(lhs - rhs) <= 1e-3 * Math.abs(lhs), `adjoint: ${lhs} vs ${rhs}`);
  });
}

Deno.test("native biasAct and sumRows agree with the TypeScript ones (every activation, bias form)", () => {
  const rows = 37, n = 6, v0 = rand(rows * n, 3).map((v) => 4 * v), bias = rand(n, 4);
  const close = (got: Float32Array, want: Float32Array, what: string) =>
    want.forEach((w, i) =>
      assert.ok(Math.abs(got[i] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `${what} [${i}]: ${got[i]} vs ${w}`)
    );
  for (let act = 0; act < ACTIVATIONS.length; act++) {
    for (const b of [null, bias, bias.subarray(0, 1)]) {
      const what = `${ACTIVATIONS[act]} bias ${b?.length ?? 0}`;
      const a = v0.slice(), c = v0.slice();
      tsOps.biasAct(a, b, n, act, 0.2);
      native.ops.biasAct(c, b, n, act, 0.2);
      close(c, a, `biasAct ${what}`);
    }
  }
  assert.throws(() => native.ops.biasAct(v0.slice(), bias.subarray(0, 4), n, 0, 0), /bias of length 4 for 6/);
  for (const mean of [false, true]) {
    const a = new Float32Array(n), c = new Float32Array(n);
    tsOps.sumRows(v0, a, n, mean);
    native.ops.sumRows(v0, c, n, mean);
    a.forEach((want, i) =>
      assert.ok(Math.abs(c[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `sum [${i}]`)
    );
  }
});

Deno.test("native sumRows and moments match a float64 reference on narrow and wide rows (grouped and leftover rows)", () => {
  // cols < 64 are summed in groups of k = floor(128 / cols) rows; rows not a multiple of k leave some over;
  // 100,003 x 6 and 4,099 x 16 take the threaded path
  const shapes = [[1, 1], [5, 1], [37, 6], [100003, 6], [4099, 16], [65, 63], [300, 64], [129, 100]];
  shapes.forEach(([rows, cols], i) => {
    const x = rand(rows * cols, 60 + i).map((v) => v + 3);
    const sum = new Float64Array(cols), sq = new Float64Array(cols);
    for (let j = 0; j < x.length; j++) sum[j % cols] += x[j];
    const mean = sum.map((v) => v / rows);
    for (let j = 0; j < x.length; j++) sq[j % cols] += (x[j] - Math.fround(mean[j % cols])) ** 2;
    const close = (got: Float32Array, want: Float64Array, what: string) =>
      want.forEach((w, c) =>
        assert.ok(
          Math.abs(got[c] - w) <= 1e-6 * Math.abs(w),
          `${what} [${rows}, ${cols}] col ${c}: ${got[c]} vs ${w}`,
        )
      );
    for (const m of [false, true]) {
      const out = new Float32Array(cols).fill(NaN);
      native.ops.sumRows(x, out, cols, m);
      close(out, m ? mean : sum, m ? "mean" : "sum");
    }
    const mo = new Float32Array(cols).fill(NaN), va = new Float32Array(cols).fill(NaN);
    native.ops.moments!(x, mo, va);
    close(mo, mean, "moments' mean");
    close(va, sq.map((v) => v / rows), "moments' variance");
  });
});

Deno.test("activationCode(): an unsupported fused activation names the kernel and lists the supported ones", () => {
  assert.equal(ACTIVATIONS[activationCode("relu", "K")], "relu");
  assert.throws(
    () => activationCode("gelu", "FusedConv2D"),
    /FusedConv2D does not support fused activation "gelu"; supported: linear, relu/,
  );
});

Deno.test("loadNativeOps(): no compiler -> the TypeScript helpers and a warning with the install command", () => {
  const r = loadNativeOps({ cc: "/nonexistent/cc", cacheDir: Deno.makeTempDirSync() });
  assert.equal(r.ops, tsOps);
  assert.match(r.warning!, /no C compiler found \(\/nonexistent\/cc\).*apt-get install gcc/);
  const off = loadNativeOps({ disable: true });
  assert.equal(off.ops, tsOps);
  assert.equal(off.warning, undefined);
  assert.equal(off.parallelSgemm(loadBlas()), null);
});

Deno.test("loadNativeOps(): a compiler that fails -> its error in the warning, no library left behind", () => {
  const dir = Deno.makeTempDirSync();
  const cc = `${dir}/cc`;
  Deno.writeTextFileSync(cc, "#!/bin/sh\necho 'fastops.c:1: error: no can do' >&2\nexit 1\n");
  Deno.chmodSync(cc, 0o755);
  const r = loadNativeOps({ cc, cacheDir: `${dir}/cache` });
  assert.equal(r.ops, tsOps);
  assert.match(r.warning!, /could not build .*fastops\.c: fastops\.c:1: error: no can do/);
  assert.deepEqual([...Deno.readDirSync(`${dir}/cache`)], []);
});

Deno.test("buildNative(): builds once per inputs (a second call reuses the library), prunes older builds", () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/fastops-0123456789abcdef.so`, "a build of an older source");
  Deno.writeTextFileSync(`${dir}/notes.txt`, "not ours");
  const lib = buildNative("cc", dir);
  const before = Deno.statSync(lib).mtime!.getTime();
  assert.equal(buildNative("cc", dir), lib);
  assert.equal(Deno.statSync(lib).mtime!.getTime(), before);
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
    [lib.split("/").pop(), `${lib.split("/").pop()}.sha256`, "notes.txt"].sort(),
    "no temporary files; the older build is pruned, other files are left alone",
  );
  assert.equal(Deno.readTextFileSync(`${lib}.sha256`).trim(), sha256File(lib));
  assert.match(openNative(lib).ops.source, /threads/);
});

Deno.test("passiveOpenMp(): sets OMP_WAIT_POLICY=passive unless the user chose one, and returns the one in use", () => {
  const saved = Deno.env.get("OMP_WAIT_POLICY");
  try {
    Deno.env.delete("OMP_WAIT_POLICY");
    assert.equal(passiveOpenMp(), "passive");
    assert.equal(Deno.env.get("OMP_WAIT_POLICY"), "passive");
    Deno.env.set("OMP_WAIT_POLICY", "active");
    assert.equal(passiveOpenMp(), "active", "a user's setting wins");
  } finally {
    if (saved === undefined) Deno.env.delete("OMP_WAIT_POLICY");
    else Deno.env.set("OMP_WAIT_POLICY", saved);
  }
});

Deno.test("fnv1a64(): the published FNV-1a 64-bit test vectors", () => {
  assert.equal(fnv1a64(""), "cbf29ce484222325");
  assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
  assert.equal(fnv1a64("foobar"), "85944171f73967e8");
});

Deno.test("parallel sgemm driver: every transpose, split (rows, columns, reduction), beta and stride is exact", () => {
  const sgemm = native.parallelSgemm(loadBlas());
  assert.ok(sgemm, "the driver is available here (OpenBLAS, 2 threads)");
  // [m, n, k]: one call (small), split over rows of C, over columns of C, over the reduction
  const shapes = [[5, 4, 3], [300, 20, 64], [20, 300, 64], [12, 10, 4000]];
  let seed = 10;
  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      for (const beta of [0, 1]) {
        const lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3;
        const a = rand((ta ? k : m) * lda, seed++),
          b = rand((tb ? n : k) * ldb, seed++),
          c0 = rand(m * ldc, seed++);
        const A = (i: number, p: number) => (ta ? a[p * lda + i] : a[i * lda + p]);
        const B = (p: number, j: number) => (tb ? b[j * ldb + p] : b[p * ldb + j]);
        const c = c0.slice();
        sgemm!(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < ldc; j++) {
            const what = `m=${m} n=${n} k=${k} ta=${ta} tb=${tb} beta=${beta} [${i},${j}]`;
            if (j >= n) {
              assert.equal(c[i * ldc + j], c0[i * ldc + j], `${what}: outside C is untouched`);
              continue;
            }
            let want = beta * c0[i * ldc + j];
            for (let p = 0; p < k; p++) want += A(i, p) * B(p, j);
            assert.ok(
              Math.abs(c[i * ldc + j] - want) <= 1e-4 * Math.sqrt(k),
              `${what}: ${c[i * ldc + j]} vs ${want}`,
            );
          }
        }
      }
    }
  }
});

/**
 * Loads the helpers from `cacheDir` in a fresh process (a damaged library must not kill this one) and runs one
 * native op; its exit code, stderr and the op's result.
 */
function loadInChild(cacheDir: string) {
  const native = new URL("../../../lib/backend/native.ts", import.meta.url).href;
  const code = `import { loadNativeOps } from "${native}";
    const r = loadNativeOps({ cacheDir: ${JSON.stringify(cacheDir)} });
    const out = new Float32Array(3);
    r.ops.binary(0, Float32Array.of(1, 2, 3), Float32Array.of(10, 20, 30), out);
    console.log(JSON.stringify({ warning: r.warning ?? null, source: r.ops.source, out: [...out] }));`;
  return evalInChild(code);
}

const damages: [string, (lib: string) => void][] = [
  ["truncated to 20,000 bytes", (lib) => Deno.truncateSync(lib, 20000)],
  ["with flipped bytes in its code", (lib) => {
    const b = Deno.readFileSync(lib);
    for (let i = 4096; i < b.length; i += 97) b[i] ^= 0xff;
    Deno.writeFileSync(lib, b);
  }],
  ["replaced by garbage", (lib) => Deno.writeTextFileSync(lib, "garbage, not a shared library\n")],
  ["without its checksum file", (lib) => Deno.removeSync(`${lib}.sha256`)],
];

for (const [what, damage] of damages) {
  Deno.test(`loadNativeOps(): a library ${what} is rebuilt before loading, and works (no crash by signal)`, () => {
    const dir = Deno.makeTempDirSync();
    const lib = buildNative("cc", dir);
    const good = sha256File(lib);
    damage(lib);
    const r = loadInChild(dir);
    assert.equal(r.code, 0, `the child died (exit ${r.code}): ${r.stderr.slice(-500)}`);
    assert.equal(r.result!.warning, null);
    assert.deepEqual(r.result!.out, [11, 22, 33]);
    assert.match(r.result!.source as string, /fastops-[0-9a-f]{16}\.so \(\d+ threads\)/);
    assert.equal(sha256File(lib), good, "the same library was built again");
    assert.equal(Deno.readTextFileSync(`${lib}.sha256`).trim(), good);
    Deno.removeSync(dir, { recursive: true });
  });
}

Deno.test("loadNativeOps(): a missing header names it and the package that has it (not 'install a compiler')", () => {
  const dir = Deno.makeTempDirSync();
  const cc = `${dir}/cc`;
  Deno.writeTextFileSync(
    cc,
    "#!/bin/sh\necho 'fastops.c:9:10: fatal error: omp.h: No such file or directory' >&2\n" +
      "echo 'compilation terminated.' >&2\nexit 1\n",
  );
  Deno.chmodSync(cc, 0o755);
  const r = loadNativeOps({ cc, cacheDir: `${dir}/cache` });
  assert.equal(r.ops, tsOps);
  assert.match(
    r.warning!,
    /could not build .*fastops\.c: header omp\.h not found; install it: sudo apt-get install gcc/,
  );
  assert.doesNotMatch(r.warning!, /install a compiler/i);
  Deno.writeTextFileSync(cc, "#!/bin/sh\necho '/usr/bin/ld: cannot find -lm: No such file' >&2\nexit 1\n");
  const l = loadNativeOps({ cc, cacheDir: `${dir}/cache` });
  assert.match(l.warning!, /library -lm not found; install it: sudo apt-get install libc6-dev/);
  Deno.writeTextFileSync(
    cc,
    "#!/bin/sh\necho 'x.c:1: error: first' >&2\necho 'a' >&2\necho 'b' >&2\nexit 1\n",
  );
  const t = loadNativeOps({ cc, cacheDir: `${dir}/cache` });
  assert.match(
    t.warning!,
    /fastops\.c: x\.c:1: error: first \| a \| b\./,
    "first error line and stderr tail",
  );
});
