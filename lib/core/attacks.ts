// One PGD loop with its threat model and objective as values: adversarial examples (eq. 6), robust evaluation,
// adversarial training and representation matching (eq. 5) differ only in the objective they ascend.
import * as tf from "@tensorflow/tfjs";
import { fakeRelu, representationPreActivation, type ZooModel } from "./models.ts";
import { Progress } from "../util/progress.ts";
import { gather, imageSize, sliceSplit } from "../data/batch.ts";
import type { Split } from "../data/registry.ts";
import { Registry } from "../util/registry.ts";
import { createRng, deriveSeed, type Rng } from "../util/rng.ts";
import { l2StepProjectClip } from "../backend/fused.ts";

/** A perturbation set: how to start inside it, take a steepest-ascent step and project back. */
export interface ThreatModel {
  name: string;
  /** Per-example norm of delta [batch, h, w, c] -> [batch]. */
  norm(delta: tf.Tensor4D): tf.Tensor1D;
  /** Projects delta onto the eps-ball (eps = Infinity: no constraint). */
  project(delta: tf.Tensor4D, eps: number): tf.Tensor4D;
  /** The steepest-ascent step of length `stepSize` for gradient g (normalized for l2, sign for linf). */
  step(g: tf.Tensor4D, stepSize: number): tf.Tensor4D;
  /** A random start inside the eps-ball. */
  randomInit(shape: number[], eps: number, seed: number): tf.Tensor4D;
  /**
   * Optional: clip(x + project(delta + step(g, stepSize), eps), 0, 1) - x, the whole PGD update, in fewer
   * kernels; null when it cannot here (pgd() then composes step and project).
   */
  stepProjectClip?(x: tf.Tensor4D, delta: tf.Tensor4D, g: tf.Tensor4D, stepSize: number, eps: number):
    | tf.Tensor4D
    | null;
}

const perExample = (t: tf.Tensor4D) => t.reshape([t.shape[0], -1]) as tf.Tensor2D;
const l2norm = (d: tf.Tensor4D) => perExample(d).square().sum(1).sqrt() as tf.Tensor1D;
const perEx = (v: tf.Tensor1D) => v.reshape([-1, 1, 1, 1]);

const l2Project: ThreatModel["project"] = (d, eps) =>
  d.mul(perEx(tf.minimum(1, tf.div(eps, l2norm(d).add(1e-12)))));
const l2Step: ThreatModel["step"] = (g, s) => g.mul(perEx(tf.div(s, l2norm(g).add(1e-12))));

/** The threat models, keyed by config name (`l2`, `linf`); a fork may register its own. */
export const THREAT_MODELS = new Registry<ThreatModel>("threat model", {
  l2: {
    name: "l2",
    norm: l2norm,
    project: l2Project,
    step: l2Step,
    // one native kernel on the fast backend, where the composed ops run about 20; a copy of l2 with its own
    // step or project (`{ ...l2, project }` in a fork) composes those instead
    stepProjectClip(x, delta, g, s, eps) {
      if (this.step !== l2Step || this.project !== l2Project) return null;
      return l2StepProjectClip(x, delta, g, s, eps) as tf.Tensor4D | null;
    },
    randomInit(shape, eps, seed) {
      const dir = tf.randomNormal(
        shape as [number, number, number, number],
        0,
        1,
        "float32",
        seed,
      ) as tf.Tensor4D;
      const dim = shape.slice(1).reduce((a, b) => a * b, 1);
      const r = tf.randomUniform([shape[0]], 0, 1, "float32", seed + 1).pow(1 / dim).mul(eps) as tf.Tensor1D;
      return dir.mul(perEx(r.div(l2norm(dir).add(1e-12)))) as tf.Tensor4D;
    },
  },
  linf: {
    name: "linf",
    norm: (d) => perExample(d).abs().max(1) as tf.Tensor1D,
    project: (d, eps) => d.clipByValue(-eps, eps) as tf.Tensor4D,
    step: (g, s) => g.sign().mul(s),
    randomInit: (shape, eps, seed) =>
      tf.randomUniform(shape as [number, number, number, number], -eps, eps, "float32", seed) as tf.Tensor4D,
  },
});

/** Looks up a threat model by name (a RangeError listing the choices), or passes a ThreatModel value through. */
export function threatModel(t: string | ThreatModel): ThreatModel {
  return typeof t === "string" ? THREAT_MODELS.get(t) : t;
}

/**
 * What PGD ascends. `value` is per example and differentiable in x; `success` (optional) marks examples whose
 * goal is reached, so restarts and the best iterate prefer them.
 */
export interface Objective {
  name: string;
  /** [batch, h, w, c] -> [batch] */
  value(model: ZooModel, x: tf.Tensor4D): tf.Tensor1D;
  /** [batch, h, w, c] -> [batch] of 0/1 */
  success?(model: ZooModel, x: tf.Tensor4D): tf.Tensor1D;
}

const crossEntropy = (logits: tf.Tensor2D, labels: tf.Tensor1D) =>
  tf.losses.softmaxCrossEntropy(
    tf.oneHot(labels.toInt(), logits.shape[1]),
    logits,
    undefined,
    undefined,
    tf.Reduction.NONE,
  ) as tf.Tensor1D;

/** Untargeted: ascend the cross-entropy of the true labels y [batch]; success = misclassified. */
export function untargeted(y: tf.Tensor1D): Objective {
  return {
    name: "untargeted cross-entropy",
    value: (m, x) => crossEntropy(m.logits(x), y),
    success: (m, x) => m.logits(x).argMax(1).notEqual(y.toInt()).toFloat() as tf.Tensor1D,
  };
}

/**
 * Untargeted difference-of-logits ratio (Croce & Hein 2020): (max_{i != y} z_i - z_y) / (z_pi1 - z_pi3), where
 * z_pi1 >= z_pi2 >= z_pi3 are the largest logits. Invariant to the logits' scale and shift, so a model whose
 * softmax saturates (cross-entropy gradient 0 in float32) still gives a direction; success = misclassified.
 * Needs at least 3 classes.
 */
export function dlr(y: tf.Tensor1D): Objective {
  return {
    name: "untargeted DLR",
    value: (m, x) => dlrOfLogits(m.logits(x), y),
    success: (m, x) => m.logits(x).argMax(1).notEqual(y.toInt()).toFloat() as tf.Tensor1D,
  };
}

/**
 * The DLR loss of logits [batch, k] for labels y [batch] (see dlr()), with its gradient written out (tfjs has
 * none for topk): with N = z_o - z_y (o the largest other logit) and D = z_pi1 - z_pi3, dN/dz = e_o - e_y and
 * dD/dz = e_pi1 - e_pi3, so d(N / D)/dz = (e_o - e_y) / D - N (e_pi1 - e_pi3) / D^2.
 */
function dlrOfLogits(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  const k = z.shape[1];
  if (k < 3) throw new RangeError(`the DLR loss needs at least 3 classes, the model has ${k}`);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const z2 = args[0] as tf.Tensor2D, save = args[1] as tf.GradSaveFunc;
    const eY = tf.oneHot(y.toInt(), k);
    const eO = tf.oneHot(z2.sub(eY.mul(1e9)).argMax(1), k);
    const top = tf.topk(z2, 3).indices;
    const e1 = tf.oneHot(top.slice([0, 0], [-1, 1]).reshape([-1]), k);
    const e3 = tf.oneHot(top.slice([0, 2], [-1, 1]).reshape([-1]), k);
    const num = z2.mul(eO.sub(eY)).sum(1);
    const den = z2.mul(e1.sub(e3)).sum(1).add(1e-12);
    save([eO.sub(eY), e1.sub(e3), num, den]);
    return {
      value: num.div(den),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dN, dD, n, d] = saved;
        const g = dN.div(d.reshape([-1, 1])).sub(dD.mul(n.div(d.square()).reshape([-1, 1])));
        return g.mul(dy.reshape([-1, 1]));
      },
    };
  });
  return f(z) as tf.Tensor1D;
}

/** Targeted (eq. 6): descend the cross-entropy of the targets t [batch]; success = classified as t. */
export function targeted(t: tf.Tensor1D): Objective {
  return {
    name: "targeted cross-entropy",
    value: (m, x) => crossEntropy(m.logits(x), t).neg() as tf.Tensor1D,
    success: (m, x) => m.logits(x).argMax(1).equal(t.toInt()).toFloat() as tf.Tensor1D,
  };
}

/**
 * Representation matching (eq. 5): ascend -||g(x) - target||^2, target = g(x_target) [batch, k]. The squared
 * distance has the distance's gradient direction and stays finite at distance 0.
 */
export function matchObjective(
  target: tf.Tensor2D,
  g?: (m: ZooModel, x: tf.Tensor4D) => tf.Tensor2D,
): Objective {
  const rep = g ?? ((m: ZooModel, x: tf.Tensor4D) => m.representation(x));
  return {
    name: "representation distance",
    value: (m, x) => rep(m, x).sub(target).square().sum(1).neg() as tf.Tensor1D,
  };
}

/** What representation matching (eq. 5) matches and how its gradient flows: "relu" (g itself, the true
 * gradient), "fake-relu" (g, with the last ReLU's gradient passed through as in the authors' code), "preact"
 * (the pre-activation of g's last ReLU). */
export const MATCH_TARGETS = ["relu", "fake-relu", "preact"] as const;
/** One of MATCH_TARGETS. */
export type MatchTarget = typeof MATCH_TARGETS[number];

/** The function matched and the one its target comes from, for a MatchTarget (RangeError where g has no
 * dense + ReLU end). */
export function matchFunctions(model: ZooModel, how: MatchTarget): {
  g: (m: ZooModel, x: tf.Tensor4D) => tf.Tensor2D;
  target: (x: tf.Tensor4D) => tf.Tensor2D;
} {
  if (how === "relu") return { g: (m, x) => m.representation(x), target: (x) => model.representation(x) };
  const pre = representationPreActivation(model);
  if (!pre) {
    throw new RangeError(
      `match target "${how}" needs a representation that ends in a dense layer with a ReLU (mlp, lenet, cnn, ` +
        `vgg_small); ${model.arch} has none; use --match.target=relu`,
    );
  }
  if (how === "preact") return { g: (_m, x) => pre(x), target: pre };
  if (how === "fake-relu") return { g: (_m, x) => fakeRelu(pre(x)), target: (x) => model.representation(x) };
  throw new RangeError(`unknown match target "${how}"; accepted: ${MATCH_TARGETS.join(", ")}`);
}

/** A random, differentiable transformation of a batch (expectation over transformations). */
export interface Transform {
  name: string;
  /** Draws its random parameters from `rng`. [batch, h, w, c] -> same shape */
  apply(x: tf.Tensor4D, rng: Rng): tf.Tensor4D;
}

/** Shifts the batch by a random (dy, dx) in [-pixels, pixels]^2 (zero fill); one shift per call. */
export function translate(pixels: number): Transform {
  return {
    name: `translate(${pixels})`,
    apply(x, rng) {
      if (pixels <= 0) return x;
      const [, h, w] = x.shape;
      const dy = rng.int(2 * pixels + 1) - pixels, dx = rng.int(2 * pixels + 1) - pixels;
      const padded = x.pad([[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]]);
      return padded.slice([0, pixels - dy, pixels - dx, 0], [-1, h, w, -1]) as tf.Tensor4D;
    },
  };
}

/** Mirrors the batch left-right with probability 1/2. */
export const flip: Transform = {
  name: "flip",
  apply: (x, rng) => (rng.next() < 0.5 ? x : (x.reverse(2) as tf.Tensor4D)),
};

/** Adds Gaussian noise of standard deviation `std` to every pixel. */
export function gaussianNoise(std: number): Transform {
  return {
    name: `noise(${std})`,
    apply: (x, rng) =>
      std > 0 ? x.add(tf.randomNormal(x.shape, 0, std, "float32", rng.seed())) as tf.Tensor4D : x,
  };
}

/**
 * Expectation over transformations: each evaluation of `value` averages `base` over `samples` random draws of
 * the composed transforms, so the perturbation PGD finds survives them. `success` is judged on x itself.
 */
export function expectationOverTransforms(
  base: Objective,
  opts: { samples: number; transforms: Transform[]; seed: number },
): Objective {
  if (!(Number.isInteger(opts.samples) && opts.samples >= 1)) {
    throw new RangeError(`EOT samples must be an integer >= 1, got ${opts.samples}`);
  }
  const rng = createRng(opts.seed);
  return {
    name: `E[${base.name}] over ${opts.samples} x ${opts.transforms.map((t) => t.name).join(" + ") || "id"}`,
    value(m, x) {
      const vals = Array.from({ length: opts.samples }, () => {
        const xt = opts.transforms.reduce((acc, t) => t.apply(acc, rng), x);
        return base.value(m, xt);
      });
      return (vals.length === 1 ? vals[0] : tf.addN(vals).div(vals.length)) as tf.Tensor1D;
    },
    success: base.success,
  };
}

/** Options of pgd(). Distances are in [0,1] pixel units. */
export interface PgdOptions {
  /** True labels [batch]: the default objective is untargeted(y) (or targeted(targets)). */
  y?: tf.Tensor1D;
  threat: string | ThreatModel;
  /** Radius of the ball around x; Infinity leaves delta unconstrained (x + delta stays in [0,1]). */
  eps: number;
  steps: number;
  stepSize: number;
  /** Step length over the iterations: "constant" (default) or "cosine" (stepSize decayed to 0, stepLength()). */
  stepSchedule?: StepSchedule;
  /** Targeted attack toward `targets` [batch] (the default objective becomes targeted(targets)). */
  targeted?: boolean;
  targets?: tf.Tensor1D;
  /** What to ascend; overrides the y / targets default. */
  objective?: Objective;
  /** Start at a random point of the ball (default false). */
  randomStart?: boolean;
  /** Independent random restarts; the best result per example is kept (default 1). */
  restarts?: number;
  /** Keep the best iterate seen per example instead of the last (default false). */
  bestIterate?: boolean;
  /** Where the first restart starts [batch, h, w, c] (projected into the ball around x and [0,1]); a warm start
   * that continues an earlier attack. Default x (or a random point with randomStart). */
  init?: tf.Tensor4D;
  seed?: number;
}

/** How the PGD step length evolves over the iterations. */
export type StepSchedule = "constant" | "cosine";

/** Length of step `i` of `steps`: `stepSize`, or for "cosine" stepSize * (1 + cos(pi i / steps)) / 2. */
export function stepLength(
  stepSize: number,
  i: number,
  steps: number,
  schedule: StepSchedule = "constant",
): number {
  if (schedule === "constant") return stepSize;
  if (schedule === "cosine") return stepSize * 0.5 * (1 + Math.cos((Math.PI * i) / steps));
  throw new RangeError(`unknown step schedule "${schedule}"; accepted: constant, cosine`);
}

/** Validates attack hyper-parameters before any work (RangeError naming the value). */
export function checkAttackOptions(
  o: { threat: string | ThreatModel; eps: number; steps: number; stepSize: number },
): void {
  threatModel(o.threat);
  if (!(o.eps > 0)) throw new RangeError(`attack eps must be > 0, got ${o.eps}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) {
    throw new RangeError(`attack steps must be an integer >= 1, got ${o.steps}`);
  }
  if (!(o.stepSize > 0)) throw new RangeError(`attack stepSize must be > 0, got ${o.stepSize}`);
}

/** The objective pgd() ascends for these options. */
function objectiveOf(opts: PgdOptions): Objective {
  if (opts.objective) return opts.objective;
  if (opts.targeted) {
    if (!opts.targets) throw new TypeError("pgd: a targeted attack needs `targets`");
    return targeted(opts.targets);
  }
  if (!opts.y) throw new TypeError("pgd: needs `y` (untargeted), `targets` (targeted) or an `objective`");
  return untargeted(opts.y);
}

/** Result of pgd(): perturbed images, per-example success (0 when the objective has none) and objective. */
export interface PgdResult {
  xAdv: tf.Tensor4D;
  /** 1 where the objective's goal is reached (untargeted: misclassified; targeted: classified as the target). */
  success: tf.Tensor1D;
  /** The objective's value at xAdv [batch] (untargeted: CE(y); targeted: -CE(t); matching: -distance^2). */
  value: tf.Tensor1D;
}

/**
 * Projected gradient ascent of an objective on the input. x [batch, h, w, c] in [0,1]; the result stays in the
 * eps-ball around x (threat model) and in [0,1]. Caller disposes the returned tensors. `success` and `value` are
 * computed when first read (while xAdv is alive), in the tf scope of that read.
 */
export function pgd(model: ZooModel, x: tf.Tensor4D, opts: PgdOptions): PgdResult {
  checkAttackOptions(opts);
  const threat = threatModel(opts.threat);
  const objective = objectiveOf(opts);
  const restarts = Math.max(1, opts.restarts ?? 1);
  const seed = opts.seed ?? 0;
  const score = (xa: tf.Tensor4D) =>
    tf.tidy(() => {
      const value = objective.value(model, xa);
      const success = objective.success ? objective.success(model, xa) : tf.zerosLike(value) as tf.Tensor1D;
      // rank: success first, then the objective
      return { value, success, rank: success.mul(1e6).add(value) as tf.Tensor1D };
    });
  const grad = tf.grad((xa: tf.Tensor) => objective.value(model, xa as tf.Tensor4D).sum());
  let best: { x: tf.Tensor4D; rank: tf.Tensor1D } | null = null;
  const keepBetter = (cand: tf.Tensor4D) => {
    const s = score(cand);
    if (!best) {
      best = { x: tf.keep(cand.clone()), rank: tf.keep(s.rank) };
    } else {
      const b: { x: tf.Tensor4D; rank: tf.Tensor1D } = best;
      const better = s.rank.greater(b.rank);
      const nx = tf.keep(
        tf.where(perEx(better.toFloat() as tf.Tensor1D).cast("bool").broadcastTo(cand.shape), cand, b.x),
      ) as tf.Tensor4D;
      const nr = tf.keep(tf.maximum(s.rank, b.rank)) as tf.Tensor1D;
      b.x.dispose();
      b.rank.dispose();
      best = { x: nx, rank: nr };
    }
  };
  const single = restarts === 1 && !opts.bestIterate;
  let last: tf.Tensor4D | null = null;
  for (let r = 0; r < restarts; r++) {
    let delta = tf.tidy(() =>
      r === 0 && opts.init
        ? x.add(threat.project(opts.init.sub(x) as tf.Tensor4D, opts.eps)).clipByValue(0, 1).sub(x)
        : opts.randomStart
        ? tf.clipByValue(x.add(threat.randomInit(x.shape, opts.eps, deriveSeed(seed, `start${r}`))), 0, 1)
          .sub(x)
        : tf.zerosLike(x)
    ) as tf.Tensor4D;
    for (let i = 0; i < opts.steps; i++) {
      const next = tf.tidy(() => {
        const g = grad(x.add(delta) as tf.Tensor4D) as tf.Tensor4D;
        const len = stepLength(opts.stepSize, i, opts.steps, opts.stepSchedule);
        const fused = threat.stepProjectClip?.(x, delta, g, len, opts.eps);
        if (fused) return fused;
        const d = threat.project(delta.add(threat.step(g, len)) as tf.Tensor4D, opts.eps);
        return x.add(d).clipByValue(0, 1).sub(x) as tf.Tensor4D;
      });
      delta.dispose();
      delta = next;
      if (opts.bestIterate) tf.tidy(() => keepBetter(x.add(delta) as tf.Tensor4D));
    }
    if (single) last = x.add(delta) as tf.Tensor4D;
    else if (!opts.bestIterate) tf.tidy(() => keepBetter(x.add(delta) as tf.Tensor4D));
    delta.dispose();
  }
  let xAdv: tf.Tensor4D;
  if (single) xAdv = last!;
  else {
    const final = best! as { x: tf.Tensor4D; rank: tf.Tensor1D };
    final.rank.dispose();
    // hand back an ordinary (not kept) tensor, so a caller's tf.tidy disposes it like any other result
    xAdv = final.x.clone();
    final.x.dispose();
  }
  // success and value at xAdv cost one more forward pass (two for the built-in objectives): computed on first
  // read, in the tf scope of that read, so a caller that reads only xAdv (adversarial training) skips them
  let scored: { success: tf.Tensor1D; value: tf.Tensor1D } | null = null;
  const scoreOnce = () => {
    if (!scored) {
      const s = score(xAdv);
      s.rank.dispose();
      scored = { success: s.success, value: s.value };
    }
    return scored;
  };
  return {
    xAdv,
    get success() {
      return scoreOnce().success;
    },
    get value() {
      return scoreOnce().value;
    },
  };
}

/** A batch handed to an objective factory: images and labels of examples [start, start + n). */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** Targets of this batch when the split has them. */
  targets?: tf.Tensor1D;
  start: number;
  seed: number;
}

/** Options of perturbSplit(): pgd options without tensors, plus batching. */
export interface PerturbSplitOptions {
  threat: string | ThreatModel;
  eps: number;
  steps: number;
  stepSize: number;
  stepSchedule?: StepSchedule;
  /** Targets [n] (a targeted attack unless `objective` says otherwise). */
  targets?: Uint8Array;
  /** Per-batch objective; default untargeted(y) or targeted(targets). */
  objective?: (batch: Batch) => Objective;
  /** Base points PGD perturbs [n, h, w, c] (default the split's images); the objective still sees batch.x. */
  start?: Float32Array;
  randomStart?: boolean;
  restarts?: number;
  bestIterate?: boolean;
  /** A finishing attack per batch: the examples that have not reached the objective's goal get `steps` more
   * steps of length `stepSize` (best iterate kept) from where the attack left them, in the same ball, with the
   * plain objective (targeted(targets) or untargeted(y): no EOT); a finished example replaces the first result
   * only where it succeeds. steps 0 = none. */
  finish?: { steps: number; stepSize: number };
  batchSize: number;
  seed: number;
  /**
   * Index of the split's first example in the set it was cut from (default 0): batch seeds and Batch.start count
   * from it, so a slice of whole batches (a shard, lib/run/shard.ts) gets the bytes it has in the full set.
   */
  offset?: number;
  /** Progress label; no bar when undefined. */
  label?: string;
}

/** What perturbSplit() returns: images [n, h, w, c], success [n], ||x_out - start||_2 [n], objective [n]. */
export interface PerturbedSplit {
  x: Float32Array;
  success: Uint8Array;
  deltaL2: Float32Array;
  value: Float32Array;
}

/** Runs pgd() over every example of a split in batches (reads results back asynchronously). */
export async function perturbSplit(
  model: ZooModel,
  split: Split,
  opts: PerturbSplitOptions,
): Promise<PerturbedSplit> {
  checkAttackOptions(opts);
  const d = imageSize(split);
  if (opts.start && opts.start.length !== split.n * d) {
    throw new RangeError(`start holds ${opts.start.length / d} images, the split has ${split.n}`);
  }
  if (opts.targets && opts.targets.length !== split.n) {
    throw new RangeError(`targets holds ${opts.targets.length} labels, the split has ${split.n}`);
  }
  if (opts.finish && opts.finish.steps > 0) {
    if (opts.start) {
      throw new RangeError("a finishing attack perturbs the split's images; it takes no `start`");
    }
    checkAttackOptions({ ...opts, ...opts.finish });
  }
  const out: PerturbedSplit = {
    x: new Float32Array(split.n * d),
    success: new Uint8Array(split.n),
    deltaL2: new Float32Array(split.n),
    value: new Float32Array(split.n),
  };
  const bar = opts.label ? new Progress(opts.label, split.n, { unit: "img" }) : null;
  let ok = 0;
  const offset = opts.offset ?? 0;
  for (let s = 0; s < split.n; s += opts.batchSize) {
    const k = Math.min(opts.batchSize, split.n - s);
    const seed = deriveSeed(opts.seed, `batch${offset + s}`);
    const [xAdv, success, norms, value] = tf.tidy(() => {
      const x = tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape]);
      const base = opts.start ? tf.tensor4d(opts.start.subarray(s * d, (s + k) * d), [k, ...split.shape]) : x;
      const y = tf.tensor1d(split.y.subarray(s, s + k), "int32");
      const targets = opts.targets ? tf.tensor1d(opts.targets.subarray(s, s + k), "int32") : undefined;
      const objective = opts.objective
        ? opts.objective({ x, y, targets, start: offset + s, seed })
        : targets
        ? targeted(targets)
        : untargeted(y);
      const r = pgd(model, base, {
        threat: opts.threat,
        eps: opts.eps,
        steps: opts.steps,
        stepSize: opts.stepSize,
        stepSchedule: opts.stepSchedule,
        objective,
        randomStart: opts.randomStart,
        restarts: opts.restarts,
        bestIterate: opts.bestIterate,
        seed,
      });
      return [r.xAdv, r.success, l2norm(r.xAdv.sub(base) as tf.Tensor4D), r.value];
    });
    const [xv, sv, nv, vv] = await Promise.all([xAdv.data(), success.data(), norms.data(), value.data()]);
    tf.dispose([xAdv, success, norms, value]);
    if (opts.finish && opts.finish.steps > 0) {
      await finishBatch(model, split, opts, s, {
        x: xv as Float32Array,
        success: sv,
        deltaL2: nv,
        value: vv,
      });
    }
    out.x.set(xv as Float32Array, s * d);
    out.deltaL2.set(nv as Float32Array, s);
    out.value.set(vv as Float32Array, s);
    for (let i = 0; i < k; i++) ok += out.success[s + i] = sv[i];
    bar?.tick(k, { success: ok / (s + k) });
  }
  bar?.done();
  return out;
}

/**
 * perturbSplit()'s finishing attack on the batch that starts at example `s`: the failures of `batch` (its
 * arrays, updated in place) get opts.finish.steps more plain steps from where they are; each one that then
 * succeeds takes the new image, its ||delta||_2 (from the split's image) and the plain objective's value.
 */
async function finishBatch(
  model: ZooModel,
  split: Split,
  opts: PerturbSplitOptions,
  s: number,
  batch: { x: Float32Array; success: tf.TypedArray; deltaL2: tf.TypedArray; value: tf.TypedArray },
): Promise<void> {
  const d = imageSize(split);
  const idx = Array.from(batch.success, (v, i) => (v ? -1 : i)).filter((i) => i >= 0);
  if (idx.length === 0) return;
  // the failures' images and labels, and where the attack left them (the batch's x in place of the split's)
  const here = sliceSplit(split, s, s + batch.success.length);
  const failed = gather(here, idx), left = gather({ ...here, x: batch.x }, idx).x;
  const [xAdv, success, norms, value] = tf.tidy(() => {
    const shape = [idx.length, ...split.shape] as [number, number, number, number];
    const x = tf.tensor4d(failed.x, shape);
    const init = tf.tensor4d(left, shape);
    const objective = opts.targets
      ? targeted(tf.tensor1d(Int32Array.from(idx, (i) => opts.targets![s + i])))
      : untargeted(tf.tensor1d(Int32Array.from(failed.y)));
    const r = pgd(model, x, {
      threat: opts.threat,
      eps: opts.eps,
      steps: opts.finish!.steps,
      stepSize: opts.finish!.stepSize,
      objective,
      init,
      bestIterate: true,
    });
    return [r.xAdv, r.success, l2norm(r.xAdv.sub(x) as tf.Tensor4D), r.value];
  });
  const [xv, sv, nv, vv] = await Promise.all([xAdv.data(), success.data(), norms.data(), value.data()]);
  tf.dispose([xAdv, success, norms, value]);
  idx.forEach((i, j) => {
    if (!sv[j]) return;
    batch.x.set((xv as Float32Array).subarray(j * d, (j + 1) * d), i * d);
    batch.success[i] = 1;
    batch.deltaL2[i] = nv[j];
    batch.value[i] = vv[j];
  });
}

/** Options of matchRepresentationSplit(). */
export interface MatchSplitOptions {
  /** Starting images x0 [n, h, w, c] (another image, or noise). */
  x0: Float32Array;
  steps: number;
  /** L2 length of each normalized gradient step, in pixel units (the first one for the "cosine" schedule). */
  stepSize: number;
  stepSchedule?: StepSchedule;
  batchSize: number;
  /** What is matched (default "relu": g itself with its true gradient). */
  target?: MatchTarget;
  seed?: number;
  label?: string;
}

/**
 * Eq. 5 over a split: from x0, minimizes ||g(x_r) - g(x)||_2 over x_r in [0,1] by L2-normalized steps (pgd()
 * with the representation objective, unconstrained). Returns x_r [n, h, w, c] and the final distance [n],
 * absolute and relative to ||g(x)||.
 */
export async function matchRepresentationSplit(
  model: ZooModel,
  split: Split,
  opts: MatchSplitOptions,
): Promise<{
  x: Float32Array;
  distance: Float32Array;
  relDistance: Float32Array;
}> {
  const fns = matchFunctions(model, opts.target ?? "relu");
  const r = await perturbSplit(model, split, {
    threat: "l2",
    eps: Infinity,
    steps: opts.steps,
    stepSize: opts.stepSize,
    stepSchedule: opts.stepSchedule,
    start: opts.x0,
    objective: (b) => matchObjective(fns.target(b.x), fns.g),
    batchSize: opts.batchSize,
    seed: opts.seed ?? 0,
    label: opts.label,
  });
  const targetNorm = await representationNorms(fns.target, split, opts.batchSize);
  const distance = r.value.map((v) => Math.sqrt(Math.max(0, -v)));
  return { x: r.x, distance, relDistance: distance.map((v, i) => v / (targetNorm[i] + 1e-12)) };
}

/** ||g(x)||_2 of every example of a split [n]. */
async function representationNorms(
  g: (x: tf.Tensor4D) => tf.Tensor2D,
  split: Split,
  batchSize: number,
): Promise<Float32Array> {
  const d = imageSize(split), out = new Float32Array(split.n);
  for (let s = 0; s < split.n; s += batchSize) {
    const k = Math.min(batchSize, split.n - s);
    const norms = tf.tidy(() =>
      g(tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape])).square()
        .sum(1).sqrt()
    );
    out.set(await norms.data() as Float32Array, s);
    norms.dispose();
  }
  return out;
}

/** Options of apgd(): an untargeted L2 attack with the step-size schedule of Auto-PGD. */
export interface ApgdOptions {
  /** True labels [batch]. */
  y: tf.Tensor1D;
  /** What to ascend: "ce" (cross-entropy) or "dlr" (difference-of-logits ratio, scale invariant). */
  loss: "ce" | "dlr";
  eps: number;
  steps: number;
  /** Random starts; an example counts as broken when any of them breaks it (default 1). */
  restarts?: number;
  seed: number;
}

/** The iterations at which Auto-PGD checks its progress: p_0 = 0, p_1 = 0.22, p_j+1 = p_j + max(p_j - p_j-1 -
 * 0.03, 0.06), times the number of steps (Croce & Hein 2020, section 3). */
export function apgdCheckpoints(steps: number): number[] {
  const p = [0, 0.22];
  while (p[p.length - 1] < 1) {
    p.push(p[p.length - 1] + Math.max(p[p.length - 1] - p[p.length - 2] - 0.03, 0.06));
  }
  // the tolerance keeps float sums such as 0.41 + 0.16 = 0.5700000000000001 from rounding up a whole step
  return [...new Set(p.slice(1).map((v) => Math.ceil(v * steps - 1e-9)).filter((v) => v < steps))];
}

/**
 * Auto-PGD (Croce & Hein 2020) for the L2 ball, untargeted: momentum 0.75, a per-example step length that
 * starts at 2 eps and halves at a checkpoint when fewer than 75% of the steps since the last one raised the
 * loss (or when neither the step nor the best loss changed), restarting that example from its best point; a
 * random start per restart. x [batch, h, w, c] in [0,1]. Returns 1 per example that some iterate of some
 * restart misclassified [batch] (an example is robust only when every iterate is classified as y) and the
 * last restart's best point. No tensors leak; the caller disposes the two results.
 */
export function apgd(
  model: ZooModel,
  x: tf.Tensor4D,
  opts: ApgdOptions,
): { broken: tf.Tensor1D; xAdv: tf.Tensor4D } {
  checkAttackOptions({ threat: "l2", eps: opts.eps, steps: opts.steps, stepSize: opts.eps });
  const lossOf = (z: tf.Tensor2D) => opts.loss === "dlr" ? dlrOfLogits(z, opts.y) : crossEntropy(z, opts.y);
  const l2 = THREAT_MODELS.get("l2"), eps = opts.eps, n = x.shape[0];
  const checkpoints = new Set(apgdCheckpoints(opts.steps));
  const grad = tf.grad((xa: tf.Tensor) => lossOf(model.logits(xa as tf.Tensor4D)).sum());
  const proj = (xa: tf.Tensor4D) =>
    x.add(l2.project(xa.sub(x) as tf.Tensor4D, eps)).clipByValue(0, 1) as tf.Tensor4D;
  const yInt = tf.tidy(() => opts.y.toInt());
  // one forward pass: the loss per example and whether the model misclassifies
  const look = (xa: tf.Tensor4D) =>
    tf.tidy(() => {
      const z = model.logits(xa);
      return { v: lossOf(z), wrong: z.argMax(1).notEqual(yInt).toFloat() as tf.Tensor1D };
    });
  let broken = tf.keep(tf.zeros([n])) as tf.Tensor1D;
  let best: tf.Tensor4D | null = null;
  const swap = <T extends tf.Tensor>(old: T, next: T): T => (old.dispose(), tf.keep(next));
  for (let r = 0; r < Math.max(1, opts.restarts ?? 1); r++) {
    let cur = tf.tidy(() =>
      proj(x.add(l2.randomInit(x.shape, eps, deriveSeed(opts.seed, `apgd${r}`))) as tf.Tensor4D)
    );
    let prev = tf.keep(cur.clone());
    let xBest = tf.keep(cur.clone());
    let { v: fCur, wrong } = look(cur);
    broken = swap(broken, tf.maximum(broken, wrong));
    wrong.dispose();
    let fBest = tf.keep(fCur.clone());
    let eta = tf.keep(tf.fill([n], 2 * eps)) as tf.Tensor1D;
    let incr = tf.keep(tf.zeros([n])) as tf.Tensor1D;
    let etaAtCk = tf.keep(eta.clone()), fBestAtCk = tf.keep(fBest.clone());
    let lastCk = 0;
    for (let k = 0; k < opts.steps; k++) {
      const next = tf.tidy(() => {
        const g = grad(cur) as tf.Tensor4D;
        const gn = g.reshape([n, -1]).square().sum(1).sqrt().add(1e-12);
        const step = g.mul(eta.div(gn).reshape([-1, 1, 1, 1]));
        const z = proj(cur.add(step) as tf.Tensor4D);
        if (k === 0) return z;
        return proj(cur.add(z.sub(cur).mul(0.75)).add(cur.sub(prev).mul(0.25)) as tf.Tensor4D);
      });
      prev = swap(prev, cur);
      cur = next;
      const seen = look(cur);
      broken = swap(broken, tf.maximum(broken, seen.wrong));
      incr = swap(incr, tf.tidy(() => incr.add(seen.v.greater(fCur).toFloat())));
      const better = tf.tidy(() => seen.v.greater(fBest));
      xBest = swap(
        xBest,
        tf.tidy(() => tf.where(better.reshape([-1, 1, 1, 1]).broadcastTo(cur.shape), cur, xBest)),
      );
      fBest = swap(fBest, tf.maximum(fBest, seen.v));
      better.dispose();
      fCur = swap(fCur, seen.v);
      seen.wrong.dispose();
      if (checkpoints.has(k + 1)) {
        const span = k + 1 - lastCk;
        const halve = tf.tidy(() =>
          incr.less(0.75 * span).logicalOr(eta.equal(etaAtCk).logicalAnd(fBest.equal(fBestAtCk)))
        );
        eta = swap(eta, tf.tidy(() => tf.where(halve, eta.div(2), eta)));
        const h4 = tf.tidy(() => halve.reshape([-1, 1, 1, 1]).broadcastTo(cur.shape));
        cur = swap(cur, tf.where(h4, xBest, cur));
        prev = swap(prev, tf.where(h4, xBest, prev));
        fCur = swap(fCur, tf.where(halve, fBest, fCur));
        tf.dispose([halve, h4]);
        etaAtCk = swap(etaAtCk, eta.clone());
        fBestAtCk = swap(fBestAtCk, fBest.clone());
        incr = swap(incr, tf.zerosLike(incr));
        lastCk = k + 1;
      }
    }
    tf.dispose([cur, prev, fCur, fBest, eta, incr, etaAtCk, fBestAtCk]);
    best?.dispose();
    best = xBest;
  }
  yInt.dispose();
  return { broken, xAdv: best! };
}
