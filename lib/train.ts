// Standard and adversarial training (SGD+momentum / Adam, step or cosine schedule) and evaluation.
import * as tf from "@tensorflow/tfjs";
import type { ZooModel } from "./models.ts";
import { checkAttackOptions, pgd } from "./attacks.ts";
import { FastAdam } from "./backend/adam.ts";
import { augment, batchIndices, gather } from "./data/batch.ts";
import type { Split } from "./data/registry.ts";
import { Progress } from "./progress.ts";
import { createRng, deriveSeed } from "./rng.ts";

/** Training hyper-parameters. Learning rates are per step; epochs may be fractional. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: "sgd" | "adam";
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
  /** Progress label; no bar when undefined. */
  label?: string;
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
  if (!["sgd", "adam"].includes(o.optimizer)) {
    throw new RangeError(`unknown optimizer "${o.optimizer}"; accepted: sgd, adam`);
  }
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

/** Trains `model` on `split` in place. Throws on a NaN/Inf loss naming epoch, step and learning rate. */
export function trainModel(model: ZooModel, split: Split, opts: TrainOptions): TrainHistory {
  checkTrainOptions(opts);
  checkSplitFits(model, split);
  const opt = opts.optimizer === "adam" ? new FastAdam(opts.lr) : tf.train.momentum(opts.lr, opts.momentum);
  const setLr = (lr: number) => ((opt as unknown as { learningRate: number }).learningRate = lr);
  const kernels = model.model.trainableWeights.filter((w) => /kernel/.test(w.originalName)).map((w) =>
    w.read()
  );
  const numClasses = model.model.outputs[0].shape[1] as number;
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
  for (let epoch = 0; epoch < fullEpochs && step < totalSteps; epoch++) {
    let lossSum = 0, correct = 0, seen = 0;
    for (
      const idx of batchIndices(split.n, opts.batchSize, { seed: deriveSeed(opts.seed, `epoch${epoch}`) })
    ) {
      if (step >= totalSteps) break;
      const lr = lrAt(opts, step / totalSteps);
      setLr(lr);
      const b = gather(split, idx);
      if (opts.augment) augment(b.x, split.shape, { cropPad: 4, flip: true }, rng);
      if (opts.inputNoise) {
        for (let i = 0; i < b.x.length; i++) {
          b.x[i] = Math.min(1, Math.max(0, b.x[i] + opts.inputNoise * rng.normal()));
        }
      }
      const [lossV, corr] = tf.tidy(() => {
        let x = tf.tensor4d(b.x, [idx.length, ...split.shape]);
        const y = tf.tensor1d(b.y, "int32");
        if (opts.adversarial) {
          const r = pgd(model, x, {
            ...opts.adversarial,
            y,
            randomStart: true,
            seed: deriveSeed(opts.seed, `adv${step}`),
          });
          x = r.xAdv;
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
        const kept = nCorrect as unknown as tf.Tensor;
        const c = kept.dataSync()[0];
        kept.dispose();
        return [loss.dataSync()[0], c];
      });
      if (!Number.isFinite(lossV)) {
        throw new RangeError(
          `training diverged: loss is ${lossV} at epoch ${epoch + 1}, step ${
            step + 1
          }, learning rate ${lr}; ` +
            `lower --train.lr (or the lr of this phase) or use --train.optimizer=adam`,
        );
      }
      lossSum += lossV * idx.length;
      correct += corr;
      seen += idx.length;
      step++;
      bar?.tick(idx.length, {
        epoch: `${epoch + 1}/${fullEpochs}`,
        loss: lossSum / seen,
        acc: correct / seen,
      });
    }
    history.loss.push(lossSum / seen);
    history.acc.push(correct / seen);
  }
  opt.dispose();
  bar?.done();
  history.seconds = (performance.now() - t0) / 1000;
  return history;
}

/** Predicted classes [n] of every example of a split. */
export function predict(model: ZooModel, split: Split, opts: { batchSize?: number } = {}): Uint8Array {
  const bs = opts.batchSize ?? 500, d = split.shape[0] * split.shape[1] * split.shape[2];
  const out = new Uint8Array(split.n);
  for (let s = 0; s < split.n; s += bs) {
    const k = Math.min(bs, split.n - s);
    tf.tidy(() => {
      const x = tf.tensor4d(split.x.subarray(s * d, (s + k) * d), [k, ...split.shape]);
      out.set(model.logits(x).argMax(1).dataSync(), s);
    });
  }
  return out;
}

/** Fraction of `pred` equal to `labels`. */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) c++;
  return c / Math.max(1, pred.length);
}

/** Standard accuracy, and robust accuracy under an untargeted attack when `attack` is given. */
export function evaluate(model: ZooModel, split: Split, opts: {
  batchSize?: number;
  attack?: {
    threat: string;
    eps: number;
    steps: number;
    stepSize: number;
    randomStart?: boolean;
    seed: number;
  } | null;
  label?: string;
} = {}): { acc: number; robustAcc?: number } {
  checkSplitFits(model, split);
  const acc = accuracy(predict(model, split, opts), split.y);
  if (!opts.attack) return { acc };
  checkAttackOptions(opts.attack);
  const bs = opts.batchSize ?? 250;
  const bar = opts.label ? new Progress(opts.label, split.n, { unit: "img" }) : null;
  let robust = 0;
  for (let s = 0; s < split.n; s += bs) {
    const k = Math.min(bs, split.n - s);
    const idx = Int32Array.from({ length: k }, (_, i) => s + i);
    const b = gather(split, idx);
    robust += tf.tidy(() => {
      const x = tf.tensor4d(b.x, [k, ...split.shape]), y = tf.tensor1d(b.y, "int32");
      const r = pgd(model, x, { ...opts.attack!, y, seed: deriveSeed(opts.attack!.seed, `eval${s}`) });
      return k - r.success.sum().dataSync()[0];
    });
    bar?.tick(k, { robustAcc: robust / (s + k) });
  }
  bar?.done();
  return { acc, robustAcc: robust / split.n };
}
