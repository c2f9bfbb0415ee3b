// Probe behind docs/exploration.md rows L and P: how far the relabelling attack's success can go at a given eps.
//
// Takes the quick preset's source model for a seed (through the cache, so it is the one `deno task sec3_2 --seed=S`
// trains), the first --n training images with D_det's targets t = y + 1, and runs attack variants one after the
// other on the same images: the quick preset's attack, plain PGD with more and smaller steps, random restarts,
// a cosine step schedule, and a margin loss. For each: the share brought to its target, where the failures end
// (how many on the edge of the L2 ball, i.e. out of budget rather than out of the optimizer's reach), the time.
//
//   deno run -A docs/probes/relabel_attack.ts [--seed=0] [--n=2000] [--eps=4] [--restarts]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { loadDataset } from "../../lib/data/registry.ts";
import { firstN } from "../../lib/data/batch.ts";
import { type Objective, perturbSplit, type PerturbSplitOptions } from "../../lib/core/attacks.ts";
import { relabelObjective, trainSourceModel } from "../../lib/run/pipeline.ts";
import { runSplits } from "../../lib/run/experiment.ts";
import { NO_EOT, RELABEL_ATTACK_QUICK, SOURCE_RELABEL, TRAIN_SIZE_QUICK } from "../../lib/run/recipes.ts";

const { values: args } = parseArgs({
  options: {
    seed: { type: "string", default: "0" },
    n: { type: "string", default: "2000" },
    eps: { type: "string", default: "4" },
    restarts: { type: "boolean", default: false },
  },
});
const seed = Number(args.seed), n = Number(args.n), eps = Number(args.eps);
if (!(Number.isInteger(seed) && Number.isInteger(n) && n > 0 && n <= TRAIN_SIZE_QUICK && eps > 0)) {
  console.error(
    `relabel_attack: --seed must be an integer, --n one of 1..${TRAIN_SIZE_QUICK}, --eps above 0; got --seed=${args.seed} ` +
      `--n=${args.n} --eps=${args.eps}`,
  );
  Deno.exit(2);
}
await initBackend("auto", { quiet: true });
const data = await loadDataset("fashion-mnist");
// the quick preset's training set (its cache identity too) and the validation images of `--evalOn=val`
const { train, test: val } = runSplits(data, "val", { trainSize: TRAIN_SIZE_QUICK, testSize: 5000 });
const source = await trainSourceModel(train, val, {
  recipe: SOURCE_RELABEL,
  role: "source",
  key: "source",
  numClasses: data.info.numClasses,
  seed,
  cache: true,
});
const images = firstN(train.split, n), C = data.info.numClasses;
const targets = Uint8Array.from(images.y, (y) => (y + 1) % C);

/** Targeted margin loss: ascend z_t - max_{j != t} z_j (it does not saturate as the cross-entropy does). */
const margin = (t: tf.Tensor1D): Objective => ({
  name: "targeted margin",
  value: (m, x) =>
    tf.tidy(() => {
      const z = m.logits(x), onT = tf.oneHot(t.toInt(), C);
      return z.mul(onT).sum(1).sub(z.sub(onT.mul(1e9)).max(1)) as tf.Tensor1D;
    }),
  success: (m, x) => m.logits(x).argMax(1).equal(t.toInt()).toFloat() as tf.Tensor1D,
});
const A = RELABEL_ATTACK_QUICK, scale = eps / A.eps;
type Variant = { name: string; opts: Partial<PerturbSplitOptions> & { steps: number; stepSize: number } };
const plain = (b: { targets?: tf.Tensor1D; seed: number }) => relabelObjective(b.targets!, NO_EOT, b.seed);
const variants: Variant[] = [
  {
    name: `the quick preset (EOT ${A.steps} x ${
      A.stepSize * scale
    }, finish ${A.finish.steps} x ${A.finish.stepSize})`,
    opts: {
      steps: A.steps,
      stepSize: A.stepSize * scale,
      objective: (b) => relabelObjective(b.targets!, A.eot, b.seed),
      finish: A.finish,
    },
  },
  { name: "plain PGD, 10 steps of eps / 4", opts: { steps: 10, stepSize: eps / 4, objective: plain } },
  { name: "plain PGD, 50 steps of eps / 10", opts: { steps: 50, stepSize: eps / 10, objective: plain } },
  {
    name: "plain PGD, 100 steps of eps / 5 (the paper's)",
    opts: { steps: 100, stepSize: eps / 5, objective: plain },
  },
  { name: "plain PGD, 100 steps of eps / 20", opts: { steps: 100, stepSize: eps / 20, objective: plain } },
  ...(args.restarts
    ? [{
      name: "plain PGD, 50 steps of eps / 10, 5 random restarts",
      opts: {
        steps: 50,
        stepSize: eps / 10,
        objective: plain,
        restarts: 5,
        randomStart: true,
        bestIterate: true,
      },
    }]
    : []),
  {
    name: "plain PGD, 100 steps, cosine schedule from eps / 2",
    opts: { steps: 100, stepSize: eps / 2, stepSchedule: "cosine", bestIterate: true, objective: plain },
  },
  {
    name: "margin loss, 100 steps, cosine schedule from eps / 2",
    opts: {
      steps: 100,
      stepSize: eps / 2,
      stepSchedule: "cosine",
      bestIterate: true,
      objective: (b) => margin(b.targets!),
    },
  },
];
console.log(
  `source of seed ${seed} (${
    (100 * source.testAcc).toFixed(1)
  }% on the validation split), ${n} images, t = y + 1, ` +
    `L2 eps ${eps}`,
);
for (const v of variants) {
  const t0 = performance.now();
  const r = await perturbSplit(source.model, images, {
    threat: "l2",
    eps,
    batchSize: A.batchSize,
    targets,
    seed: 7 + seed,
    ...v.opts,
  });
  let hits = 0, atEdge = 0, failNorm = 0;
  for (let i = 0; i < n; i++) {
    hits += r.success[i];
    if (r.success[i]) continue;
    failNorm += r.deltaL2[i];
    if (r.deltaL2[i] > 0.98 * eps) atEdge++;
  }
  const fails = n - hits;
  console.log(
    `${v.name.padEnd(58)} success ${(100 * hits / n).toFixed(1)}%; of ${fails} failures ${
      (100 * atEdge / Math.max(1, fails)).toFixed(0)
    }% on the ball's edge (mean ||delta|| ${(failNorm / Math.max(1, fails)).toFixed(2)}); ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s`,
  );
}
source.model.model.dispose();
