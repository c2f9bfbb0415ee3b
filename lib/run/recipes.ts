// Recipes several sections share (training recipes, the relabelling attack, the robust model), as config values
// with their CLI key specs: equal recipes give equal cache keys, so sections reuse each other's artifacts.
import type { KeySpec } from "./config.ts";
import { ARCHITECTURES, INITS } from "../core/models.ts";
import { OPTIMIZERS } from "../core/optimizers.ts";
import type { TrainOptions } from "../core/train.ts";

/** A training recipe as it appears in an experiment config. */
export interface TrainConfig {
  arch: string;
  epochs: number;
  batchSize: number;
  /** A registered optimizer (lib/core/optimizers.ts): sgd, adam. */
  optimizer: string;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: "step" | "cosine" | "constant";
  augment: boolean;
  inputNoise: number;
  /** Weight initialization (lib/core/models.ts INITS): "torch" (PyTorch's defaults, the authors') or "he". */
  init: string;
}

/** The default recipe of the quick presets (reference CNN, Adam 1e-3, cosine schedule). */
export const TRAIN_DEFAULTS: TrainConfig = {
  arch: "cnn",
  epochs: 3,
  batchSize: 128,
  optimizer: "adam",
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "cosine",
  augment: false,
  inputNoise: 0,
  init: "torch",
};

/** The authors' CIFAR-10 recipe (robustness library defaults): ResNet-50, SGD 0.1, momentum 0.9, weight decay
 * 5e-4, batch 128, 150 epochs with lr x0.1 steps, random crop + flip. Used by every `paper` preset. */
export const PAPER_RECIPE: TrainConfig = {
  arch: "resnet50",
  epochs: 150,
  batchSize: 128,
  optimizer: "sgd",
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: "step",
  augment: true,
  inputNoise: 0,
  init: "torch",
};

/** Key specs of a TrainConfig stored under `prefix` (e.g. "source"). */
export function trainKeys(prefix: string, what: string): Record<string, KeySpec> {
  const p = prefix;
  return {
    [`${p}.arch`]: { help: `architecture of the ${what}`, choices: ARCHITECTURES },
    [`${p}.epochs`]: { help: `training epochs of the ${what}`, above: 0 },
    [`${p}.batchSize`]: { help: "batch size", integer: true, min: 1 },
    [`${p}.optimizer`]: { help: "optimizer", choices: OPTIMIZERS.names() },
    [`${p}.lr`]: { help: "initial learning rate", above: 0 },
    [`${p}.momentum`]: { help: "SGD momentum", min: 0, max: 1 },
    [`${p}.weightDecay`]: { help: "L2 weight decay", min: 0 },
    [`${p}.schedule`]: { help: "learning-rate schedule", choices: ["step", "cosine", "constant"] },
    [`${p}.augment`]: { help: "random crop + flip (CIFAR-10)" },
    [`${p}.inputNoise`]: { help: "std of Gaussian input noise during training", min: 0 },
    [`${p}.init`]: {
      help: "weight initialization: torch (PyTorch's defaults) or he (He normal)",
      choices: INITS,
    },
  };
}

/** trainModel options for a config recipe; `key` is its config prefix, named in errors (--source.lr). */
export function trainOptions(t: TrainConfig, seed: number, label: string, key?: string): TrainOptions {
  const { arch: _arch, ...rest } = t;
  return { ...rest, seed, label, configKey: key };
}

/** Expectation over transformations in the relabelling attack: each PGD step averages the loss over `samples`
 * random transformations of x + delta (shift up to `translate` pixels, mirror when `flip`, Gaussian noise of std
 * `noise`). samples 1 with no transformation is the plain attack of eq. 6. */
export interface EotConfig {
  samples: number;
  translate: number;
  flip: boolean;
  noise: number;
}

/** What a relabelled set does with the examples the attack did not bring to their target: keep them under the
 * new label (the paper's procedure relabels every example) or drop them (a deviation: a smaller set). */
export const FAILURE_POLICIES = ["keep", "drop"] as const;
export type FailurePolicy = typeof FAILURE_POLICIES[number];

/** Targeted L2 PGD of eq. 6 (pixel units in [0,1]). */
export interface AttackConfig {
  eps: number;
  steps: number;
  stepSize: number;
  batchSize: number;
  eot: EotConfig;
  /** The finishing attack (perturbSplit's `finish`): examples not at their target after the attack get `steps`
   * more plain steps of `stepSize` in the same ball (0 = none). */
  finish: { steps: number; stepSize: number };
  /** The examples still not at their target (a relabelled set's composition, not its construction). */
  failures: FailurePolicy;
}

/** No finishing attack. */
export const NO_FINISH: AttackConfig["finish"] = { steps: 0, stepSize: 0.1 };

/** Key specs of an AttackConfig stored under `prefix`. */
export function attackKeys(prefix: string, what: string): Record<string, KeySpec> {
  const p = prefix;
  return {
    [`${p}.eps`]: { help: `L2 radius of ${what} (pixels in [0,1])`, above: 0 },
    [`${p}.steps`]: { help: "PGD steps", integer: true, min: 1 },
    [`${p}.stepSize`]: { help: "L2 length of each PGD step", above: 0 },
    [`${p}.batchSize`]: { help: "attack batch size", integer: true, min: 1 },
    [`${p}.eot.samples`]: {
      help: "random transformations averaged per PGD step (1 = plain PGD when no transformation is set)",
      integer: true,
      min: 1,
    },
    [`${p}.eot.translate`]: { help: "EOT: random shift of up to this many pixels", integer: true, min: 0 },
    [`${p}.eot.flip`]: { help: "EOT: random horizontal flips" },
    [`${p}.eot.noise`]: { help: "EOT: std of Gaussian noise added to x + delta", min: 0 },
    [`${p}.finish.steps`]: {
      help: "finishing attack: plain PGD steps (no EOT) for the examples not yet at their target (0 = none)",
      integer: true,
      min: 0,
    },
    [`${p}.finish.stepSize`]: { help: "finishing attack: L2 length of each step", above: 0 },
    [`${p}.failures`]: {
      help: "examples the attack did not bring to their target: keep them relabelled (paper) or drop them",
      choices: FAILURE_POLICIES,
    },
  };
}

/** How an attack's EOT reads in a caption: "" for plain PGD, else ", each step's loss averaged over ...". */
export function eotText(e: EotConfig | undefined): string {
  if (!e || (e.samples === 1 && !e.translate && !e.flip && !e.noise)) return "";
  const t = [
    e.translate ? `shifts up to ${e.translate} px` : "",
    e.flip ? "flips" : "",
    e.noise ? `noise ${e.noise}` : "",
  ].filter((x) => x).join(", ");
  return `, each step's loss averaged over ${e.samples} random transformations (${t || "none"})`;
}

/** How a finishing attack reads in a caption: "" when there is none, else ", then N plain steps of s ...". */
export function finishText(f: AttackConfig["finish"] | undefined): string {
  if (!f || f.steps === 0) return "";
  return `, then ${f.steps} plain steps of ${f.stepSize} for the examples not yet at their target`;
}

/** No expectation over transformations: the plain attack. */
export const NO_EOT: EotConfig = { samples: 1, translate: 0, flip: false, noise: 0 };

/** The quick presets' standard source model (shared by sec3_1, sec3_2, sec3_3 through the cache). */
export const SOURCE_QUICK: TrainConfig = { ...TRAIN_DEFAULTS, epochs: 5 };
/** A robust recipe: a training recipe plus the L2 PGD of adversarial training inside its loop. */
export type RobustConfig = TrainConfig & { eps: number; steps: number; stepSize: number };

/** The quick presets' adversarially trained source model (sec3_1, sec2 share it through the cache). */
export const ROBUST_QUICK: RobustConfig = {
  ...TRAIN_DEFAULTS,
  epochs: 3,
  eps: 2.5,
  steps: 5,
  stepSize: 1.25,
};

/** The quick presets' relabelling attack (sec3_2's D_rand / D_det, reused by sec3_3). eps 4: D_det 27.5% vs
 * 21.0% at eps 2.5 and 22.4% at eps 6; EOT over 2 transformations (shift <= 2 px, noise 0.05): 38.0%. The EOT
 * attack alone leaves 11% / 16% of D_rand / D_det off target; 20 plain finishing steps of 0.5 bring 98.3% /
 * 97.1% to their target (10 steps: 98.0 / 96.5%) for about 15% more gradient steps (docs/exploration.md). */
export const RELABEL_ATTACK_QUICK: AttackConfig = {
  eps: 4,
  steps: 10,
  stepSize: 1,
  batchSize: 250,
  eot: { samples: 2, translate: 2, flip: false, noise: 0.05 },
  finish: { steps: 20, stepSize: 0.5 },
  failures: "keep",
};
/** Training images of the quick presets. */
export const TRAIN_SIZE_QUICK = 20000;
/** The full presets' relabelling attack (sec3_2 and sec3_3 on all 60,000 images, so they share D_det): the
 * quick attack on three times the images. EOT over 4 transformations instead of 2 was measured on 20,000
 * images and is not better (D_det 33.4% with 4, 38.0% with 2, 27.5% with none) at 3.3x the attack time
 * (docs/exploration.md), so the full presets keep 2. */
export const RELABEL_ATTACK_FULL: AttackConfig = RELABEL_ATTACK_QUICK;

/** The smoke presets' shared parts (seconds; the tests). */
export const SMOKE = {
  trainSize: 300,
  source: { epochs: 2 },
  attack: { eps: 2.0, steps: 3, stepSize: 1.5, batchSize: 150 },
} as const;

/** The paper's relabelling attack (CIFAR-10): eps 0.5, 100 steps of 0.1. */
export const RELABEL_ATTACK_PAPER: AttackConfig = {
  eps: 0.5,
  steps: 100,
  stepSize: 0.1,
  batchSize: 128,
  eot: NO_EOT,
  finish: NO_FINISH,
  failures: "keep",
};

/** Restricted ImageNet (9 superclasses, 224x224; GPU only): ResNet-50 with the paper recipe, images resized to
 * 224. The L2 radius 3.0 is the one of the authors' robust Restricted ImageNet models; the main text does not give
 * the relabelling attack's radius for this dataset, so it is ours to state: eps 3, 100 steps of 0.1 x eps x 2.5. */
export const RIMAGENET = {
  dataset: "rimagenet",
  imageSize: 224,
  eps: 3.0,
  attack: {
    eps: 3.0,
    steps: 100,
    stepSize: 0.075,
    batchSize: 64,
    eot: NO_EOT,
    finish: NO_FINISH,
    failures: "keep",
  } as AttackConfig,
  recipe: { ...PAPER_RECIPE, batchSize: 64 } as TrainConfig,
} as const;
