// Probe behind docs/exploration.md row M: what in a planted relabelled set's perturbations teaches the pattern.
//
// Reads one Section 3.2 run on planted data (its config.json and exported <set>_x.npy / <set>_y.npy), rebuilds the
// run's planted images, splits each perturbation delta = x_adv - x into its part in the span of the class patterns,
// its part in the span of the target's pattern shifted by up to 2 pixels, and the rest; prints how the energy
// divides and what a fresh model of the run's recipe learns from x plus each part (on the run's evaluation split).
// With --sources=1,2 it also trains source models of other seeds on the same data, builds the set again from each
// (the run's targets and attack seeds) and says what that set teaches: the data's share against the source's.
//
//   deno run -A docs/probes/planted_delta.ts --run=out/sec3_2_plant/seeds/0 [--set=d_det] [--sources=1,2]
import { parseArgs } from "node:util";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/mod.ts";
import { readNpy } from "../../lib/data/npy.ts";
import { accuracy, predict } from "../../lib/core/train.ts";
import { buildRelabelled, type DataRef, trainRecipe, trainSourceModel } from "../../lib/run/pipeline.ts";
import { loadRunData, runSplits } from "../../lib/run/experiment.ts";
import type { Config } from "../../experiments/sec3_2.ts";

const { values: args } = parseArgs({
  options: {
    run: { type: "string" },
    set: { type: "string", default: "d_det" },
    sources: { type: "string" },
  },
});
/** A user's mistake: the message and exit status 2, no stack trace. */
function fail(message: string): never {
  console.error(`planted_delta: ${message}`);
  Deno.exit(2);
}
if (!args.run) fail("--run=DIR is required: the out dir of a sec3_2 run on planted data (its config.json)");
const run = args.run;
const configText = await Deno.readTextFile(join(run, "config.json")).catch((e: Error) =>
  fail(`cannot read ${join(run, "config.json")} (${e.message}); give --run the out dir of a sec3_2 run`)
);
const config = JSON.parse(configText).config as Config;
if (!(config.plant?.norm > 0)) {
  fail(
    `${run} is not a sec3_2 run on planted data (plant.norm ${config.plant?.norm}); run sec3_2 --plant.norm=0.5`,
  );
}
if (config.attack.failures !== "keep") {
  fail(
    `${run} dropped the attack's failures (--attack.failures=drop): its set no longer lines up with the images`,
  );
}
await initBackend(config.backend, { quiet: true });
// the run's planted images, training set and evaluation split, as the run itself built them
const { data, planted } = await loadRunData(config);
const C = data.info.numClasses, [H, W, ch] = data.train.shape, d = H * W * ch;
const { train: trainRef, test: evalSplit } = runSplits(data, config.evalOn, config);
const train = trainRef.split;
const exported = async (what: "x" | "y") =>
  (await readNpy(join(run, `${args.set}_${what}.npy`)).catch((e: Error) =>
    fail(`no exported set "${args.set}" in ${run} (${e.message}); --set names one of the run's --variants`)
  )).data;
const xAdv = await exported("x") as Float32Array, t = await exported("y") as Uint8Array;
if (t.length !== train.n) fail(`${args.set} holds ${t.length} images, the run trained on ${train.n}`);

// orthonormal bases (Gram-Schmidt, twice): the patterns, and per class its shifted copies minus that span
const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[j] * b[j];
  return s;
};
function orthonormal(vs: Float64Array[], against: Float64Array[] = []): Float64Array[] {
  const out: Float64Array[] = [];
  for (const v0 of vs) {
    const v = Float64Array.from(v0), n0 = Math.sqrt(dot(v, v));
    for (let pass = 0; pass < 2; pass++) {
      for (const b of [...against, ...out]) {
        const s = dot(v, b);
        for (let j = 0; j < d; j++) v[j] -= s * b[j];
      }
    }
    const n = Math.sqrt(dot(v, v));
    if (n < 1e-3 * n0) continue;
    out.push(v.map((x) => x / n));
  }
  return out;
}
const shift = (p: Float32Array, dy: number, dx: number) => {
  const o = new Float64Array(d);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const rr = r - dy, cc = c - dx;
      if (rr < 0 || rr >= H || cc < 0 || cc >= W) continue;
      for (let k = 0; k < ch; k++) o[(r * W + c) * ch + k] = p[(rr * W + cc) * ch + k];
    }
  }
  return o;
};
const SHIFTS = [-2, -1, 0, 1, 2].flatMap((dy) => [-2, -1, 0, 1, 2].map((dx) => [dy, dx])).filter(([a, b]) =>
  a || b
);
const patterns = planted!.patterns; // --plant.norm > 0 was checked above
const span = orthonormal(patterns.map((p) => Float64Array.from(p)));
const shifted = patterns.map((p) => orthonormal(SHIFTS.map(([dy, dx]) => shift(p, dy, dx)), span));
/** Adds the projection of v on the basis B to out (when given) and returns its squared norm. */
const project = (v: Float64Array, B: Float64Array[], out?: Float64Array) => {
  let e = 0;
  for (const b of B) {
    const s = dot(v, b);
    e += s * s;
    if (out) { for (let j = 0; j < d; j++) out[j] += s * b[j]; }
  }
  return e;
};

// x plus each part of its delta, one image set per part
const [inSpanSet, restSet, shiftsOfT, restWithoutShifts] = [0, 1, 2, 3].map(() =>
  new Float32Array(train.n * d)
);
const energy = { inSpan: 0, rest: 0, shiftsT: 0, shiftsY: 0, shiftsOther: 0 };
for (let i = 0; i < train.n; i++) {
  const o = i * d, delta = new Float64Array(d), inSpan = new Float64Array(d), inShifts = new Float64Array(d);
  for (let j = 0; j < d; j++) delta[j] = xAdv[o + j] - train.x[o + j];
  energy.inSpan += project(delta, span, inSpan);
  const rest = delta.map((v, j) => v - inSpan[j]);
  energy.rest += dot(rest, rest);
  energy.shiftsT += project(rest, shifted[t[i]], inShifts);
  energy.shiftsY += project(rest, shifted[train.y[i]]);
  for (let c = 0; c < C; c++) {
    if (c !== t[i] && c !== train.y[i]) energy.shiftsOther += project(rest, shifted[c]) / (C - 2);
  }
  for (let j = 0; j < d; j++) {
    const x = train.x[o + j];
    inSpanSet[o + j] = x + inSpan[j];
    restSet[o + j] = x + rest[j];
    shiftsOfT[o + j] = x + inShifts[j];
    restWithoutShifts[o + j] = x + rest[j] - inShifts[j];
  }
}
const share = (e: number) => `${(100 * e / energy.rest).toFixed(1)}%`;
console.log(
  `${run} (${args.set}, seed ${config.seed}): mean ||delta||^2 in the patterns' span ${
    (energy.inSpan / train.n).toFixed(2)
  }, outside ${(energy.rest / train.n).toFixed(2)}; of the outside part, in the target's shifted pattern ${
    share(energy.shiftsT)
  }, the original class's ${share(energy.shiftsY)}, another class's ${share(energy.shiftsOther)} (a random ` +
    `direction: ${(100 * shifted[0].length / (d - C)).toFixed(1)}%)`,
);

const ref = (name: string, x: Float32Array): DataRef => ({
  split: { x, y: t, n: train.n, shape: train.shape },
  id: { data: data.fingerprint, name: `probe:${name}`, n: train.n },
});
const teaches = async (set: DataRef) => {
  const fresh = await trainRecipe(set, {
    recipe: config.fresh,
    role: `fresh_${args.set}`,
    key: "fresh",
    numClasses: C,
    seed: config.seed,
    cache: false,
    title: `fresh ${config.fresh.arch}`,
  });
  const acc = accuracy(await predict(fresh.model, evalSplit), evalSplit.y);
  fresh.model.model.dispose();
  return `${(100 * acc).toFixed(1)}%`;
};
const rows: [string, Float32Array][] = [
  ["x + delta (the set as built)", xAdv],
  ["x + delta's part in the patterns' span", inSpanSet],
  ["x + delta's part outside the span", restSet],
  ["x + (outside part) in the target's shifted pattern", shiftsOfT],
  ["x + (outside part) without it", restWithoutShifts],
];
for (const [name, x] of rows) {
  console.log(
    `${name}: a fresh ${config.fresh.arch} scores ${await teaches(ref(name, x))} (${config.evalOn})`,
  );
}

// the same data, sources of other seeds: does the data or the source decide?
for (const s of (args.sources ?? "").split(",").filter((v) => v !== "").map(Number)) {
  const src = await trainSourceModel(trainRef, evalSplit, {
    recipe: config.source,
    role: "source",
    key: "source",
    numClasses: C,
    seed: s,
    cache: false,
  });
  const built = await buildRelabelled(
    { model: src.model, hash: `probe_source_${s}` },
    trainRef,
    {
      rule: args.set,
      attack: config.attack,
      seed: config.seed,
      numClasses: C,
      cache: false,
    },
  );
  console.log(
    `the run's data, a source of seed ${s} (${(100 * src.testAcc).toFixed(1)}%): attack success ${
      (100 * built.attackSuccess).toFixed(1)
    }%, its ${args.set} teaches ${await teaches(built.ref)}`,
  );
  src.model.model.dispose();
}
