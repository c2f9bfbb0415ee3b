// Backend selection, the BLAS fallback, whole-model agreement across backends, and no leaks over 1,000 steps.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { backendLine, initBackend } from "../../../lib/backend/mod.ts";
import { betterCoreType, loadBlas, tsSgemm } from "../../../lib/backend/blas.ts";
import { createModel, SMALL_ARCHITECTURES } from "../../../lib/core/models.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose } from "./assert_close.ts";

Deno.test("initBackend(): auto falls through to fast when tfjs-node(-gpu) is absent, saying why", async () => {
  const info = await initBackend("auto", { quiet: true });
  assert.equal(info.name, "fast");
  assert.match(info.reason, /skipped (.*, )?tensorflow \(tfjs-node-gpu\/tfjs-node not installed\)/);
  assert.equal(tf.getBackend(), "wasm");
});

Deno.test("backendLine(): the backend and its parts in one short line, without kernel lists, paths or skipped ones", async () => {
  const info = await initBackend("auto", { quiet: true });
  assert.equal(info.line, backendLine(info));
  assert.ok(info.line!.length <= 120, `${info.line!.length} characters: ${info.line}`);
  assert.ok(info.reason.length > info.line!.length);
  assert.equal(
    backendLine({
      name: "fast",
      reason: "backend: fast (wasm + our Add, Sub kernels; ...); skipped webgpu (no GPU device)",
      blas: "/usr/lib/x86_64-linux-gnu/libopenblas.so.0 (Haswell kernels), split over threads by fastops",
      ops: "/home/u/.cache/native/fastops-0708.so (2 threads)",
      conv: "/home/u/.cache/native/dnnlops-76eb.so (oneDNN 2.6.3)",
    }),
    "backend: fast (sgemm libopenblas.so.0, oneDNN 2.6.3 convolutions, native helpers, 2 threads)",
  );
  assert.equal(
    backendLine({ name: "fast", reason: "", blas: "typescript", ops: "typescript", conv: "none" }),
    "backend: fast (sgemm typescript, im2col + sgemm convolutions, TypeScript helpers)",
  );
  assert.equal(
    backendLine({
      name: "cpu",
      reason: "backend: cpu (plain JavaScript; slow); skipped webgpu (no GPU device)",
    }),
    "backend: cpu (plain JavaScript; slow)",
  );
  assert.equal(
    backendLine({ name: "webgpu", adapter: "NVIDIA H200", reason: "" }),
    "backend: webgpu (NVIDIA H200)",
  );
});

Deno.test("initBackend(): an unknown name lists the choices; tensorflow without the package gives setup steps", async () => {
  await assert.rejects(
    () => initBackend("bogus"),
    /unknown backend "bogus"; accepted: auto, tensorflow, fast, wasm, cpu/,
  );
  await assert.rejects(
    () => initBackend("tensorflow"),
    /--backend=tensorflow: tfjs-node-gpu is not installed.*CUDA 11\.2 \+ cuDNN 8\.1.*--allow-scripts/,
  );
});

Deno.test("loadBlas(): a missing library falls back to the TypeScript GEMM with a warning, never a crash", () => {
  const b = loadBlas({ path: "/nonexistent/libopenblas.so.0" });
  assert.equal(b.source, "typescript");
  assert.match(b.warning!, /no BLAS library found.*apt-get install libopenblas0-pthread/);
});

Deno.test("betterCoreType(): forces a vector kernel set only when OpenBLAS's detection cannot use the CPU's units", () => {
  const avx512 = new Set([
    "sse3",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512cd",
  ]);
  const avx2 = new Set(["sse3", "avx", "avx2", "fma"]);
  assert.equal(betterCoreType("Prescott", avx512), "SkylakeX");
  assert.equal(betterCoreType("Haswell", avx512), "SkylakeX");
  assert.equal(betterCoreType("Prescott", avx2), "Haswell");
  assert.equal(betterCoreType("Sandybridge", avx2), "Haswell");
  for (const ok of ["SkylakeX", "Cooperlake", "SapphireRapids"]) {
    assert.equal(betterCoreType(ok, avx512), null);
  }
  for (const ok of ["Haswell", "Zen", "SkylakeX"]) assert.equal(betterCoreType(ok, avx2), null);
  assert.equal(
    betterCoreType("Prescott", new Set(["sse3", "avx"])),
    null,
    "no AVX2: nothing better to force",
  );
  assert.equal(
    betterCoreType("Prescott", new Set(["avx2"])),
    null,
    "AVX2 without FMA: Haswell kernels need both",
  );
  assert.equal(betterCoreType(null, avx512), null, "not OpenBLAS: leave it alone");
});

Deno.test({
  name: "loadBlas(): OpenBLAS reports its kernel set, which uses the CPU's widest vector units",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    const b = loadBlas();
    assert.notEqual(
      b.source,
      "typescript",
      "OpenBLAS must be installed for this test (libopenblas0-pthread)",
    );
    assert.ok(b.core, "openblas_get_corename gave no name");
    // a user's OPENBLAS_CORETYPE is respected (loadBlas does not override it): then the kernels are the ones asked
    const asked = Deno.env.get("OPENBLAS_CORETYPE");
    if (asked !== undefined) {
      assert.equal(b.core.toLowerCase(), asked.toLowerCase(), `OPENBLAS_CORETYPE=${asked}, loaded ${b.core}`);
      return;
    }
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) => l.startsWith("flags")) ?? "";
    assert.equal(betterCoreType(b.core, new Set(line.split(/\s+/))), null, `loaded with ${b.core} kernels`);
  },
});

Deno.test("tsSgemm() and the native sgemm agree with a naive triple loop for every transpose combination", () => {
  const rng = createRng(2), m = 5, n = 4, k = 3;
  const a = Float32Array.from({ length: m * k }, () => rng.normal()),
    b = Float32Array.from({ length: k * n }, () => rng.normal());
  const native = loadBlas();
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const A = (i: number, p: number) => (ta ? a[p * m + i] : a[i * k + p]);
    const B = (p: number, j: number) => (tb ? b[j * k + p] : b[p * n + j]);
    const ref = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j] += A(i, p) * B(p, j);
    }
    for (const gemm of [tsSgemm, native.sgemm]) {
      const c = new Float32Array(m * n).fill(7);
      gemm(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, 0, c, n);
      c.forEach((v, i) =>
        assert.ok(Math.abs(v - ref[i]) < 1e-5, `ta=${ta} tb=${tb} [${i}] ${v} vs ${ref[i]}`)
      );
    }
  }
});

// Every 28x28 zoo model (convolutions on oneDNN when it is installed): mlp: dense layers only; lenet: 5x5 and
// valid convs, max pooling; cnn: plain and stride-2 convs; resnet_small: batch norm and residual adds; vgg_small:
// max pooling; densenet_small: concatenations, average pooling and batch norm on every layer
for (const arch of SMALL_ARCHITECTURES) {
  Deno.test(`${arch}: loss, weight gradients and input gradient agree between the fast and the cpu backend; no tensors left`, async () => {
    const rng = createRng(5);
    const xd = Float32Array.from({ length: 4 * 784 }, () => rng.next()), yd = Int32Array.from([1, 7, 3, 0]);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const m = createModel(arch, { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
      const out = tf.tidy(() => {
        const x = tf.tensor4d(xd, [4, 28, 28, 1]), y = tf.oneHot(tf.tensor1d(yd, "int32"), 10);
        const f = () => tf.losses.softmaxCrossEntropy(y, m.logits(x, true)) as tf.Scalar;
        const { value, grads } = tf.variableGrads(f);
        const gx = tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.logits(xx as tf.Tensor4D)))(
          x,
        );
        return {
          loss: value.dataSync()[0],
          grads: Object.values(grads).map((g) => g.dataSync() as Float32Array),
          gx: gx.dataSync() as Float32Array,
        };
      });
      m.model.dispose();
      return out;
    };
    const ref = await run("cpu");
    await initBackend("fast", { quiet: true }); // also when this test runs alone (--filter)
    const before = tf.memory().numTensors;
    const got = await run("wasm");
    assert.equal(tf.memory().numTensors, before, "tensors left behind on the fast backend");
    assert.ok(Math.abs(ref.loss - got.loss) <= 1e-4 * Math.abs(ref.loss));
    assert.equal(got.grads.length, ref.grads.length);
    ref.grads.forEach((g, i) => assertClose(g, got.grads[i], `weight gradient ${i}`));
    assertClose(ref.gx, got.gx, "input gradient");
  });
}

Deno.test("fast backend: 1,000 training steps keep tf.memory().numTensors flat", async () => {
  await tf.setBackend("wasm");
  const m = createModel("cnn", { inputShape: [8, 8, 1], numClasses: 3, seed: 1 });
  const opt = tf.train.momentum(0.01, 0.9);
  const x = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 1),
    y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3);
  const step = () =>
    tf.tidy(() =>
      void opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.logits(x as tf.Tensor4D, true)) as tf.Scalar)
    );
  step();
  const start = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) step();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, y]);
  opt.dispose();
});
