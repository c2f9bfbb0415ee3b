// The oneDNN convolutions (native/dnnlops.c) agree with tfjs's cpu kernels on random geometries (relative error
// <= 1e-4), and their library is built, verified and explained like fastops (a damaged build is rebuilt).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { CONV_KINDS, dnnlGeometry, DNNLOPS, loadDnnl } from "../../../lib/backend/dnnl.ts";
import { buildLibrary, sha256File } from "../../../lib/backend/build.ts";
import { createRng } from "../../../lib/util/rng.ts";
import { assertClose } from "./assert_close.ts";
import { evalInChild } from "./child.ts";

await tf.setBackend("cpu");
const dnnl = loadDnnl();

Deno.test("loadDnnl(): builds and loads the oneDNN convolutions here (CI installs libdnnl-dev)", () => {
  assert.equal(dnnl.warning, undefined, `oneDNN convolutions did not load: ${dnnl.warning}`);
  assert.match(dnnl.source, /dnnlops-[0-9a-f]{16}\.so \(oneDNN \d+\.\d+\.\d+\)$/);
});

type Case = {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number;
  pad: "same" | "valid";
};

/** Hand-picked edge cases, then seeded random ones (odd sizes, strides 1/2, same/valid, 1 to many channels). */
const cases: Case[] = [
  { x: [1, 9, 8, 1], f: [3, 3, 1, 5], s: 2, pad: "same" }, // batch 1, one input channel, asymmetric padding
  { x: [2, 7, 5, 3], f: [3, 3, 3, 1], s: 1, pad: "same" }, // one output channel
  { x: [3, 8, 11, 6], f: [3, 2, 6, 7], s: 2, pad: "valid" }, // non-square filter
  { x: [2, 6, 6, 16], f: [1, 1, 16, 8], s: 1, pad: "valid" }, // pointwise
  { x: [2, 7, 7, 8], f: [1, 1, 8, 16], s: 2, pad: "same" }, // strided pointwise (ResNet shortcut)
  { x: [1, 5, 5, 4], f: [5, 5, 4, 3], s: 1, pad: "same" }, // filter as large as the image
  { x: [2, 14, 14, 64], f: [3, 3, 64, 64], s: 1, pad: "same" }, // many channels
  { x: [3, 28, 28, 1], f: [5, 5, 1, 6], s: 1, pad: "same" }, // lenet's first layer
];
const rng = createRng(11);
for (let i = 0; i < 12; i++) {
  const s = 1 + rng.int(2), k = [1, 2, 3, 5][rng.int(4)], pad = rng.int(2) ? "same" : "valid";
  const h = k + rng.int(9), w = k + rng.int(9);
  cases.push({ x: [1 + rng.int(4), h, w, 1 + rng.int(20)], f: [k, k, 0, 1 + rng.int(20)], s, pad });
  cases[cases.length - 1].f[2] = cases[cases.length - 1].x[3];
}

function rand(shape: number[], seed: number): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal());
}

for (const c of cases) {
  Deno.test(`dn_conv forward, backward data and backward weights match tfjs cpu: x ${c.x} filter ${c.f} stride ${c.s} ${c.pad}`, () => {
    const start = tf.memory().numTensors;
    const ci = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad);
    const xd = rand(c.x, 1), wd = rand(c.f, 2), dyd = rand(ci.outShape, 3);
    const [yRef, dxRef, dwRef] = tf.tidy(() => {
      const x = tf.tensor4d(xd, c.x), w = tf.tensor4d(wd, c.f), dy = tf.tensor4d(dyd, ci.outShape);
      return [
        tf.conv2d(x, w, c.s, c.pad),
        tf.conv2dTranspose(dy, w, c.x, c.s, c.pad),
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: "NHWC",
          dilations: 1,
          filterShape: c.f,
        }) as tf.Tensor,
      ].map((t) => t.dataSync() as Float32Array);
    });
    assert.equal(tf.memory().numTensors, start);
    const conv = dnnl.conv!;
    const y = new Float32Array(yRef.length).fill(NaN),
      dx = new Float32Array(xd.length).fill(NaN),
      dw = new Float32Array(wd.length).fill(NaN);
    for (let rep = 0; rep < 2; rep++) { // the second call reuses the cached primitive
      assert.equal(conv(CONV_KINDS.forward, ci, xd, wd, y), 0, "forward status");
      assert.equal(conv(CONV_KINDS.backwardData, ci, dyd, wd, dx), 0, "backward data status");
      assert.equal(conv(CONV_KINDS.backwardWeights, ci, xd, dyd, dw), 0, "backward weights status");
      assertClose(yRef, y, "forward");
      assertClose(dxRef, dx, "backward data");
      assertClose(dwRef, dw, "backward weights");
    }
  });
}

Deno.test("dnnlGeometry(): tfjs's asymmetric 'same' padding goes to oneDNN as top/left and bottom/right", () => {
  const ci = tf.backend_util.computeConv2DInfo([2, 28, 28, 32], [3, 3, 32, 64], 2, 1, "same");
  assert.deepEqual([...dnnlGeometry(ci)], [2, 28, 28, 32, 14, 14, 3, 3, 2, 2, 0, 0, 1, 1, 64]);
});

Deno.test("dn_conv: an unknown kind is refused with a status, not a crash", () => {
  const ci = tf.backend_util.computeConv2DInfo([1, 4, 4, 1], [3, 3, 1, 1], 1, 1, "same");
  const a = new Float32Array(16), b = new Float32Array(9), out = new Float32Array(16);
  assert.notEqual(dnnl.conv!(7, ci, a, b, out), 0);
});

Deno.test("loadDnnl(): without libdnnl-dev's header the warning names it and the apt-get line", () => {
  const dir = Deno.makeTempDirSync();
  const cc = `${dir}/cc`;
  Deno.writeTextFileSync(
    cc,
    "#!/bin/sh\necho 'dnnlops.c:8:10: fatal error: oneapi/dnnl/dnnl.h: No such file or directory' >&2\nexit 1\n",
  );
  Deno.chmodSync(cc, 0o755);
  const r = loadDnnl({ cc, cacheDir: `${dir}/cache` });
  assert.equal(r.conv, null);
  assert.match(
    r.warning!,
    /header oneapi\/dnnl\/dnnl\.h not found; install it: sudo apt-get install libdnnl-dev/,
  );
  assert.match(r.warning!, /im2col \+ sgemm/);
  const off = loadDnnl({ disable: true });
  assert.equal(off.conv, null);
  assert.equal(off.warning, undefined);
});

Deno.test("loadDnnl(): a truncated library is rebuilt before loading and works, in a fresh process", () => {
  const dir = Deno.makeTempDirSync();
  const lib = buildLibrary(DNNLOPS, "cc", dir);
  const good = sha256File(lib);
  Deno.truncateSync(lib, 20000);
  const url = new URL("../../../lib/backend/dnnl.ts", import.meta.url).href;
  const code = `import { loadDnnl } from "${url}";
    const r = loadDnnl({ cacheDir: ${JSON.stringify(dir)} });
    console.log(JSON.stringify({ warning: r.warning ?? null, source: r.source }));`;
  const r = evalInChild(code);
  assert.equal(r.code, 0, r.stderr.slice(-500));
  assert.equal(r.result!.warning, null);
  assert.match(r.result!.source as string, /oneDNN/);
  assert.equal(sha256File(lib), good);
  Deno.removeSync(dir, { recursive: true });
});
