// Threat models (l2, linf), PGD (targeted/untargeted, random start, restarts) and representation matching (eq. 5).
import * as tf from "@tensorflow/tfjs";
import { suggest } from "./config.ts";
import type { ZooModel } from "./models.ts";
import { Progress } from "./progress.ts";
import { gather, imageSize } from "./data/batch.ts";
import type { Split } from "./data/registry.ts";
import { deriveSeed } from "./rng.ts";

/** A perturbation set: how to start inside it, take a steepest-ascent step and project back. */
export interface ThreatModel {
  name: string;
  /** Per-example norm of delta [batch, h, w, c] -> [batch]. */
  norm(delta: tf.Tensor4D): tf.Tensor1D;
  /** Projects delta onto the eps-ball. */
  project(delta: tf.Tensor4D, eps: number): tf.Tensor4D;
  /** The steepest-ascent step of length `stepSize` for gradient g (normalized for l2, sign for linf). */
  step(g: tf.Tensor4D, stepSize: number): tf.Tensor4D;
  /** A random start inside the eps-ball. */
  randomInit(shape: number[], eps: number, seed: number): tf.Tensor4D;
}

const perExample = (t: tf.Tensor4D) => t.reshape([t.shape[0], -1]) as tf.Tensor2D;
const l2norm = (d: tf.Tensor4D) => perExample(d).square().sum(1).sqrt() as tf.Tensor1D;
const perEx = (v: tf.Tensor1D) => v.reshape([-1, 1, 1, 1]);

/** The threat models, keyed by config name. */
export const THREAT_MODELS: Record<string, ThreatModel> = {
  l2: {
    name: "l2",
    norm: l2norm,
    project: (d, eps) => d.mul(perEx(tf.minimum(1, tf.div(eps, l2norm(d).add(1e-12))))),
    step: (g, s) => g.mul(perEx(tf.div(s, l2norm(g).add(1e-12)))),
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
};

/** Looks up a threat model; unknown names are a RangeError listing the choices. */
export function threatModel(name: string): ThreatModel {
  const t = THREAT_MODELS[name];
  if (!t) {
    const names = Object.keys(THREAT_MODELS);
    throw new RangeError(
      `unknown threat model "${name}"; accepted: ${names.join(", ")}${suggest(name, names)}`,
    );
  }
  return t;
}

/** Options of pgd(). Distances are in [0,1] pixel units. */
export interface PgdOptions {
  /** True labels [batch] (untargeted: move away from them). */
  y: tf.Tensor1D;
  threat: string;
  eps: number;
  steps: number;
  stepSize: number;
  /** Targeted attack: move toward `targets` [batch]. */
  targeted?: boolean;
  targets?: tf.Tensor1D;
  /** Start at a random point of the ball (default false). */
  randomStart?: boolean;
  /** Independent random restarts; the worst case per example is kept (default 1). */
  restarts?: number;
  /** Keep the best iterate seen per example instead of the last (default false). */
  bestIterate?: boolean;
  seed?: number;
}

/** Validates attack hyper-parameters before any work (RangeError naming the value). */
export function checkAttackOptions(
  o: { threat: string; eps: number; steps: number; stepSize: number },
): void {
  threatModel(o.threat);
  if (!(o.eps > 0)) throw new RangeError(`attack eps must be > 0, got ${o.eps}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) {
    throw new RangeError(`attack steps must be an integer >= 1, got ${o.steps}`);
  }
  if (!(o.stepSize > 0)) throw new RangeError(`attack stepSize must be > 0, got ${o.stepSize}`);
}

/** Per-example objective that PGD ascends: CE(y) untargeted, -CE(t) targeted. [batch] */
function objective(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted: boolean): tf.Tensor1D {
  const ce = tf.losses.softmaxCrossEntropy(
    tf.oneHot(labels.toInt(), logits.shape[1]),
    logits,
    undefined,
    undefined,
    tf.Reduction.NONE,
  ) as tf.Tensor1D;
  return targeted ? ce.neg() : ce;
}

/** Result of pgd(): adversarial images and per-example success and loss (the ascended objective). */
export interface PgdResult {
  xAdv: tf.Tensor4D;
  /** 1 where the attack succeeded (untargeted: misclassified; targeted: classified as the target). */
  success: tf.Tensor1D;
  /** Cross-entropy w.r.t. y (untargeted) or the target (targeted) at xAdv. */
  loss: tf.Tensor1D;
}

/**
 * Projected gradient descent on the input. x [batch, h, w, c] in [0,1]; the result stays in the eps-ball
 * around x and in [0,1]. Caller disposes the returned tensors.
 */
export function pgd(model: ZooModel, x: tf.Tensor4D, opts: PgdOptions): PgdResult {
  checkAttackOptions(opts);
  const threat = threatModel(opts.threat);
  const targeted = opts.targeted ?? false;
  if (targeted && !opts.targets) throw new TypeError("pgd: targeted attack needs `targets`");
  const labels = targeted ? opts.targets! : opts.y;
  const restarts = Math.max(1, opts.restarts ?? 1);
  const seed = opts.seed ?? 0;
  const score = (xa: tf.Tensor4D) =>
    tf.tidy(() => {
      const logits = model.logits(xa);
      const obj = objective(logits, labels, targeted);
      const pred = logits.argMax(1);
      const success = (targeted ? pred.equal(labels.toInt()) : pred.notEqual(labels.toInt()))
        .toFloat() as tf.Tensor1D;
      // rank: success first, then objective
      return { obj, success, rank: success.mul(1e6).add(obj) as tf.Tensor1D };
    });
  const grad = tf.grad((xa: tf.Tensor) => objective(model.logits(xa as tf.Tensor4D), labels, targeted).sum());
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
  for (let r = 0; r < restarts; r++) {
    let delta = tf.tidy(() =>
      opts.randomStart
        ? tf.clipByValue(x.add(threat.randomInit(x.shape, opts.eps, deriveSeed(seed, `start${r}`))), 0, 1)
          .sub(x)
        : tf.zerosLike(x)
    ) as tf.Tensor4D;
    for (let i = 0; i < opts.steps; i++) {
      const next = tf.tidy(() => {
        const g = grad(x.add(delta) as tf.Tensor4D) as tf.Tensor4D;
        const d = threat.project(delta.add(threat.step(g, opts.stepSize)) as tf.Tensor4D, opts.eps);
        return x.add(d).clipByValue(0, 1).sub(x) as tf.Tensor4D;
      });
      delta.dispose();
      delta = next;
      if (opts.bestIterate) tf.tidy(() => keepBetter(x.add(delta) as tf.Tensor4D));
    }
    if (!opts.bestIterate) tf.tidy(() => keepBetter(x.add(delta) as tf.Tensor4D));
    delta.dispose();
  }
  const final = best! as { x: tf.Tensor4D; rank: tf.Tensor1D };
  final.rank.dispose();
  // hand back an ordinary (not kept) tensor, so a caller's tf.tidy disposes it like any other result
  const xAdv = final.x.clone();
  final.x.dispose();
  const s = score(xAdv);
  s.rank.dispose();
  return {
    xAdv,
    success: s.success,
    loss: targeted ? tf.tidy(() => s.obj.neg() as tf.Tensor1D) : s.obj,
  };
}

/** Options of attackSplit(): pgd options without tensors, plus batching. */
export interface AttackSplitOptions {
  threat: string;
  eps: number;
  steps: number;
  stepSize: number;
  /** Targets [n] for a targeted attack (omit for untargeted). */
  targets?: Uint8Array;
  randomStart?: boolean;
  restarts?: number;
  batchSize: number;
  seed: number;
  /** Progress label; no bar when undefined. */
  label?: string;
}

/** Attacks every example of a split in batches. Returns images [n, h, w, c], success [n] and ||delta||_2 [n]. */
export function attackSplit(model: ZooModel, split: Split, opts: AttackSplitOptions): {
  x: Float32Array;
  success: Uint8Array;
  deltaL2: Float32Array;
} {
  checkAttackOptions(opts);
  const d = imageSize(split);
  const out = new Float32Array(split.n * d),
    success = new Uint8Array(split.n),
    deltaL2 = new Float32Array(split.n);
  const bar = opts.label ? new Progress(opts.label, split.n, { unit: "img" }) : null;
  let ok = 0;
  for (let s = 0; s < split.n; s += opts.batchSize) {
    const idx = Int32Array.from({ length: Math.min(opts.batchSize, split.n - s) }, (_, i) => s + i);
    const b = gather(split, idx);
    tf.tidy(() => {
      const x = tf.tensor4d(b.x, [idx.length, ...split.shape]);
      const y = tf.tensor1d(b.y, "int32");
      const targets = opts.targets
        ? tf.tensor1d(opts.targets.subarray(s, s + idx.length), "int32")
        : undefined;
      const r = pgd(model, x, {
        ...opts,
        y,
        targets,
        targeted: !!opts.targets,
        seed: deriveSeed(opts.seed, `batch${s}`),
      });
      out.set(r.xAdv.dataSync(), s * d);
      const succ = r.success.dataSync();
      const norms = l2norm(r.xAdv.sub(x) as tf.Tensor4D).dataSync();
      for (let i = 0; i < idx.length; i++) {
        (success[s + i] = succ[i], deltaL2[s + i] = norms[i], ok += succ[i]);
      }
    });
    bar?.tick(idx.length, { success: ok / (s + idx.length) });
  }
  bar?.done();
  return { x: out, success, deltaL2 };
}

/** Options of matchRepresentation(). */
export interface MatchOptions {
  /** Starting images x0 [batch, h, w, c] (another image, or noise). */
  x0: tf.Tensor4D;
  steps: number;
  /** L2 length of each normalized gradient step, in pixel units. */
  stepSize: number;
}

/**
 * Eq. 5: minimizes ||g(x_r) - g(x)||_2 over x_r in [0,1] from x0 by L2-normalized gradient steps. Returns
 * x_r and the final distance per example (absolute and relative to ||g(x)||). Caller disposes.
 */
export function matchRepresentation(model: ZooModel, x: tf.Tensor4D, opts: MatchOptions): {
  xr: tf.Tensor4D;
  distance: tf.Tensor1D;
  relDistance: tf.Tensor1D;
} {
  if (!(Number.isInteger(opts.steps) && opts.steps >= 1)) {
    throw new RangeError(`steps must be an integer >= 1, got ${opts.steps}`);
  }
  if (!(opts.stepSize > 0)) throw new RangeError(`stepSize must be > 0, got ${opts.stepSize}`);
  const target = tf.tidy(() => model.representation(x));
  // gradient of the squared distance: same direction as the distance's, and finite at distance 0
  const grad = tf.grad((xr: tf.Tensor) => model.representation(xr as tf.Tensor4D).sub(target).square().sum());
  let xr = opts.x0.clone();
  for (let i = 0; i < opts.steps; i++) {
    const next = tf.tidy(() =>
      xr.sub(THREAT_MODELS.l2.step(grad(xr) as tf.Tensor4D, opts.stepSize)).clipByValue(0, 1) as tf.Tensor4D
    );
    xr.dispose();
    xr = next;
  }
  const [distance, relDistance] = tf.tidy(() => {
    const dist = model.representation(xr).sub(target).square().sum(1).sqrt() as tf.Tensor1D;
    return [dist, dist.div(target.square().sum(1).sqrt().add(1e-12)) as tf.Tensor1D];
  });
  target.dispose();
  return { xr, distance, relDistance };
}

/** Runs matchRepresentation over a split in batches; x0 [n, h, w, c] gives each example's start. */
export function matchRepresentationSplit(model: ZooModel, split: Split, opts: {
  x0: Float32Array;
  steps: number;
  stepSize: number;
  batchSize: number;
  label?: string;
}): { x: Float32Array; distance: Float32Array; relDistance: Float32Array } {
  const d = imageSize(split);
  if (opts.x0.length !== split.n * d) {
    throw new RangeError(`x0 holds ${opts.x0.length / d} images, split has ${split.n}`);
  }
  const out = new Float32Array(split.n * d),
    distance = new Float32Array(split.n),
    rel = new Float32Array(split.n);
  const bar = opts.label ? new Progress(opts.label, split.n, { unit: "img" }) : null;
  let relSum = 0;
  for (let s = 0; s < split.n; s += opts.batchSize) {
    const k = Math.min(opts.batchSize, split.n - s);
    const x = tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape]);
    const x0 = tf.tensor4d(opts.x0.subarray(s * d, (s + k) * d), [k, ...split.shape]);
    const r = matchRepresentation(model, x, { x0, steps: opts.steps, stepSize: opts.stepSize });
    out.set(r.xr.dataSync(), s * d);
    distance.set(r.distance.dataSync(), s);
    const rd = r.relDistance.dataSync();
    rel.set(rd, s);
    for (const v of rd) relSum += v;
    tf.dispose([x, x0, r.xr, r.distance, r.relDistance]);
    bar?.tick(k, { relDist: relSum / (s + k) });
  }
  bar?.done();
  return { x: out, distance, relDistance: rel };
}
