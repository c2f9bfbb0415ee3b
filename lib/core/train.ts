// Standard and adversarial training (optimizer and schedule as values) and evaluation; reads are asynchronous.
import * as tf from "@tensorflow/tfjs";
import type { ZooModel } from "./models.ts";
import { apgd, checkAttackOptions, perturbSplit, pgd } from "./attacks.ts";
import { augment, batchIndices, gather, subset } from "../data/batch.ts";
import { type OptimizerFactory, OPTIMIZERS } from "./optimizers.ts";
import type { Split } from "../data/registry.ts";
import { type Metrics, Progress, showing } from "../util/progress.ts";
import { createRng, deriveSeed } from "../util/rng.ts";

/** Training hyper-parameters. Learning rates are per step; epochs may be fractional. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** A registered optimizer name (`sgd`, `adam`) or a factory. */
  optimizer: string | OptimizerFactory;
  lr: number;
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  /** L2 weight decay on kernels (PyTorch's weight_decay: adds wd * w to the gradient). */
  weightDecay: number;
  /** "step": lr x0.1 at 50% and 75% of training; "cosine"; "constant". */
  schedule: "step" | "cosine" | "constant";
  /** Random crop (pad 4) + horizontal flip, for CIFAR-10. */
  augment?: boolean;
  /** Std of Gaussian noise added to each training input (0 = none), clipped to [0,1]. */
  inputNoise?: number;
  /** Adversarial training: PGD examples replace the clean batch. */
  adversarial?: { threat: string; eps: number; steps: number; stepSize: number } | null;
  seed: number;
  /** Weight initialization of the model this recipe trains (lib/core/models.ts INITS; read by the pipeline). */
  init?: string;
  /** Progress label; no bar when undefined. */
  label?: string;
  /** The config prefix of this recipe (e.g. "source"), so errors name the keys to change (--source.lr). */
  configKey?: string;
}

/** Per-epoch training history. */
export interface TrainHistory {
  loss: number[];
  acc: number[];
  seconds: number;
}

/** Validates training options before any work starts. */
export function checkTrainOptions(o: TrainOptions): void {
  if (!(o.epochs > 0)) throw new RangeError(`train epochs must be > 0, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) {
    throw new RangeError(`train batchSize must be an integer >= 1, got ${o.batchSize}`);
  }
  if (!(o.lr > 0)) throw new RangeError(`train lr must be > 0, got ${o.lr}`);
  if (typeof o.optimizer === "string") OPTIMIZERS.get(o.optimizer);
  if (!["step", "cosine", "constant"].includes(o.schedule)) {
    throw new RangeError(`unknown lr schedule "${o.schedule}"; accepted: step, cosine, constant`);
  }
  if (o.adversarial) checkAttackOptions(o.adversarial);
}

/** Checks that labels fit the model and images fit its input. */
export function checkSplitFits(model: ZooModel, split: Split): void {
  const [, h, w, c] = model.model.inputs[0].shape as number[];
  const [sh, sw, sc] = split.shape;
  if (sh !== h || sw !== w || sc !== c) {
    throw new RangeError(`${model.arch} expects images ${h}x${w}x${c}, the data has ${sh}x${sw}x${sc}`);
  }
  const k = model.model.outputs[0].shape[1] as number;
  for (let i = 0; i < split.n; i++) {
    if (split.y[i] >= k) {
      throw new RangeError(`label ${split.y[i]} at index ${i} is out of range for ${k} classes`);
    }
  }
}

/** Learning rate at training progress p in [0, 1). */
export function lrAt(o: Pick<TrainOptions, "lr" | "schedule">, p: number): number {
  if (o.schedule === "cosine") return o.lr * 0.5 * (1 + Math.cos(Math.PI * p));
  if (o.schedule === "step") return o.lr * (p < 0.5 ? 1 : p < 0.75 ? 0.1 : 0.01);
  return o.lr;
}

/** A training loss above this multiple of ln(numClasses) (the loss of a uniform guess) counts as exploded. */
export const EXPLODED_LOSS_FACTOR = 1000;

/** The error for a diverged training run, naming the config keys that control it. */
function divergedError(
  loss: number,
  at: { epoch: number; step: number; lr: number },
  o: TrainOptions,
): Error {
  const k = o.configKey ? `--${o.configKey}.` : "the ";
  const what = Number.isFinite(loss) ? `exploded (loss ${loss.toExponential(2)})` : `diverged (loss ${loss})`;
  const other = o.optimizer === "adam" ? "sgd" : "adam";
  return new RangeError(
    `training ${o.configKey ? `of ${o.configKey} ` : ""}${what} at epoch ${at.epoch}, step ${at.step}, ` +
      `learning rate ${at.lr}; lower ${k}lr (now ${o.lr})` +
      (typeof o.optimizer === "string" ? ` or try ${k}optimizer=${other}` : ""),
  );
}

/**
 * Trains `model` on `split` in place. Stops with a RangeError on a non-finite or exploding loss, naming
 * epoch, step, learning rate and the config keys to change.
 */
export async function trainModel(model: ZooModel, split: Split, opts: TrainOptions): Promise<TrainHistory> {
  checkTrainOptions(opts);
  checkSplitFits(model, split);
  const factory = typeof opts.optimizer === "string" ? OPTIMIZERS.get(opts.optimizer) : opts.optimizer;
  const scheduled = factory({ lr: opts.lr, momentum: opts.momentum }), opt = scheduled.optimizer;
  const kernels = model.model.trainableWeights.filter((w) => /kernel/.test(w.originalName)).map((w) =>
    w.read()
  );
  const numClasses = model.model.outputs[0].shape[1] as number;
  const maxLoss = EXPLODED_LOSS_FACTOR * Math.log(Math.max(2, numClasses));
  const rng = createRng(deriveSeed(opts.seed, "train-aug"));
  const fullEpochs = Math.ceil(opts.epochs);
  const stepsPerEpoch = Math.ceil(split.n / opts.batchSize);
  const totalSteps = Math.max(1, Math.round(opts.epochs * stepsPerEpoch));
  const bar = opts.label
    ? new Progress(opts.label, Math.round(opts.epochs * split.n), { unit: "img" })
    : null;
  const history: TrainHistory = { loss: [], acc: [], seconds: 0 };
  const t0 = performance.now();
  let step = 0;
  try {
    for (let epoch = 0; epoch < fullEpochs && step < totalSteps; epoch++) {
      let lossSum = 0, correct = 0, seen = 0;
      for (
        const idx of batchIndices(split.n, opts.batchSize, { seed: deriveSeed(opts.seed, `epoch${epoch}`) })
      ) {
        if (step >= totalSteps) break;
        const lr = lrAt(opts, step / totalSteps);
        scheduled.setLearningRate(lr);
        const b = gather(split, idx);
        if (opts.augment) augment(b.x, split.shape, { cropPad: 4, flip: true }, rng);
        if (opts.inputNoise) {
          for (let i = 0; i < b.x.length; i++) {
            b.x[i] = Math.min(1, Math.max(0, b.x[i] + opts.inputNoise * rng.normal()));
          }
        }
        const stats = tf.tidy(() => {
          let x = tf.tensor4d(b.x, [idx.length, ...split.shape]);
          const y = tf.tensor1d(b.y, "int32");
          if (opts.adversarial) {
            x = pgd(model, x, {
              ...opts.adversarial,
              y,
              randomStart: true,
              seed: deriveSeed(opts.seed, `adv${step}`),
            }).xAdv;
          }
          const onehot = tf.oneHot(y, numClasses);
          let nCorrect: tf.Tensor | null = null;
          const loss = opt.minimize(() => {
            const logits = model.logits(x, true);
            nCorrect = tf.keep(logits.argMax(1).equal(y).sum());
            let l = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
            if (opts.weightDecay > 0) {
              l = l.add(
                tf.addN(kernels.map((k) => k.square().sum())).mul(opts.weightDecay / 2),
              );
            }
            return l;
          }, true) as tf.Scalar;
          // one read per step: [loss, correct]; nCorrect was kept out of minimize()'s scope
          const kept = nCorrect as unknown as tf.Tensor;
          const both = tf.keep(tf.stack([loss, kept.toFloat()]));
          kept.dispose();
          return both;
        });
        const [lossV, corr] = await stats.data();
        tf.dispose(stats);
        if (!Number.isFinite(lossV) || lossV > maxLoss) {
          throw divergedError(lossV, { epoch: epoch + 1, step: step + 1, lr }, opts);
        }
        lossSum += lossV * idx.length;
        correct += corr;
        seen += idx.length;
        step++;
        bar?.tick(idx.length, {
          epoch: `${epoch + 1}/${fullEpochs}`,
          loss: lossSum / seen,
          acc: { pct: correct / seen },
        });
      }
      history.loss.push(lossSum / seen);
      history.acc.push(correct / seen);
    }
  } finally {
    scheduled.dispose();
  }
  bar?.done();
  history.seconds = (performance.now() - t0) / 1000;
  return history;
}

/** Predicted classes [n] of every example of a split. */
export async function predict(
  model: ZooModel,
  split: Split,
  opts: { batchSize?: number } = {},
): Promise<Uint8Array> {
  const bs = opts.batchSize ?? 500, d = split.shape[0] * split.shape[1] * split.shape[2];
  const out = new Uint8Array(split.n);
  for (let s = 0; s < split.n; s += bs) {
    const k = Math.min(bs, split.n - s);
    const pred = tf.tidy(() =>
      model.logits(tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape])).argMax(1)
    );
    out.set(await pred.data(), s);
    pred.dispose();
  }
  return out;
}

/** Fraction of `pred` equal to `labels`. */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) c++;
  return c / Math.max(1, pred.length);
}

/** An untargeted robust-accuracy evaluation (L2 PGD of `steps` steps of `stepSize` at radius `eps`). */
export interface EvalAttack {
  threat: string;
  eps: number;
  steps: number;
  stepSize: number;
  randomStart?: boolean;
  seed: number;
  /**
   * The stronger evaluation on top (L2 only): the examples PGD did not break are attacked again by Auto-PGD
   * with the cross-entropy and with the scale-invariant DLR loss, `restarts` random starts of `steps` steps
   * each; an example is robust only if every attack fails (as AutoAttack's APGD-CE + APGD-DLR). null = off.
   */
  strong?: { steps: number; restarts: number } | null;
}

/** What evaluate() measured (fractions). */
export interface EvalResult {
  acc: number;
  /** Robust accuracy under every attack run (PGD, and Auto-PGD CE + DLR when `strong`). */
  robustAcc?: number;
  /** Robust accuracy under the PGD attack alone (differs from robustAcc only with `strong`). */
  pgdRobustAcc?: number;
  /** Per example, 1 where it is still classified correctly after every attack (robustAcc is their mean). */
  robust?: Uint8Array;
  /** Per example, 1 where it is still classified correctly after PGD (pgdRobustAcc is their mean). */
  pgdRobust?: Uint8Array;
}

/** Standard accuracy, and robust accuracy under an untargeted attack when `attack` is given. */
export async function evaluate(model: ZooModel, split: Split, opts: {
  batchSize?: number;
  attack?: EvalAttack | null;
  label?: string;
} = {}): Promise<EvalResult> {
  checkSplitFits(model, split);
  const acc = accuracy(await predict(model, split, opts), split.y);
  if (!opts.attack) return { acc };
  checkAttackOptions(opts.attack);
  const bs = opts.batchSize ?? 250;
  // the attack's bar reports its success; an evaluation measures the examples it left correct
  const attack = opts.attack;
  const r = await showing(
    (m): Metrics => (typeof m.success === "number" ? { "robust acc": { pct: 1 - m.success } } : {}),
    () => perturbSplit(model, split, { ...attack, batchSize: bs, label: opts.label }),
  );
  const pgdRobust = r.success.map((v) => 1 - v);
  const pgdRobustAcc = pgdRobust.reduce((s, v) => s + v, 0) / split.n;
  const strong = opts.attack.strong;
  if (!strong) return { acc, robustAcc: pgdRobustAcc, pgdRobustAcc, robust: pgdRobust, pgdRobust };
  if (opts.attack.threat !== "l2") {
    throw new RangeError(
      `the strong evaluation (Auto-PGD) is L2 only; the attack's threat is ${opts.attack.threat}`,
    );
  }
  const survivors = Array.from(r.success.keys()).filter((i) => !r.success[i]);
  if (!survivors.length) return { acc, robustAcc: 0, pgdRobustAcc, robust: pgdRobust.slice(), pgdRobust };
  const broken = await apgdSplit(model, subset(split, survivors), {
    eps: opts.attack.eps,
    steps: strong.steps,
    restarts: strong.restarts,
    seed: deriveSeed(opts.attack.seed, "strong"),
    batchSize: bs,
    label: opts.label ? `${opts.label}, Auto-PGD CE + DLR on ${survivors.length} left` : undefined,
  });
  const robust = pgdRobust.slice();
  survivors.forEach((i, j) => robust[i] = 1 - broken[j]);
  const robustAcc = robust.reduce((s, v) => s + v, 0) / split.n;
  return { acc, robustAcc, pgdRobustAcc, robust, pgdRobust };
}

/** Auto-PGD with the cross-entropy and with the DLR loss over a split: 1 per example either broke. */
async function apgdSplit(model: ZooModel, split: Split, o: {
  eps: number;
  steps: number;
  restarts: number;
  seed: number;
  batchSize: number;
  label?: string;
}): Promise<Uint8Array> {
  const out = new Uint8Array(split.n), d = split.shape[0] * split.shape[1] * split.shape[2];
  const bar = o.label ? new Progress(o.label, split.n, { unit: "img" }) : null;
  let left = 0;
  for (let s = 0; s < split.n; s += o.batchSize) {
    const k = Math.min(o.batchSize, split.n - s);
    const broken = tf.tidy(() => {
      const x = tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape]);
      const y = tf.tensor1d(split.y.subarray(s, s + k), "int32");
      let any = tf.zeros([k]) as tf.Tensor1D;
      for (const loss of ["ce", "dlr"] as const) {
        const seed = deriveSeed(o.seed, `${loss}${s}`);
        // apgd() keeps its results out of any tidy scope: dispose them here
        const a = apgd(model, x, { y, loss, eps: o.eps, steps: o.steps, restarts: o.restarts, seed });
        any = tf.maximum(any, a.broken) as tf.Tensor1D;
        tf.dispose([a.broken, a.xAdv]);
      }
      return any;
    });
    const b = await broken.data();
    broken.dispose();
    for (let i = 0; i < k; i++) left += 1 - (out[s + i] = b[i]);
    bar?.tick(k, { "still robust": { pct: left / (s + k) } });
  }
  bar?.done();
  return out;
}
