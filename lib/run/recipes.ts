// Recipes several sections share (training recipes, the relabelling attack, the robust model), as config values
// with their CLI key specs: equal recipes give equal cache keys, so sections reuse each other's artifacts.
import type { KeySpec } from "./config.ts";
import type { DatasetKeys } from "./experiment.ts";
import { MATCH_TARGETS } from "../core/attacks.ts";
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

/** Key specs `specs` each stored under `prefix` (`under("source", { lr })` -> `source.lr`). */
export function under(prefix: string, specs: Record<string, KeySpec>): Record<string, KeySpec> {
  return Object.fromEntries(Object.entries(specs).map(([k, spec]) => [`${prefix}.${k}`, spec]));
}

/** Key specs of a TrainConfig stored under `prefix` (e.g. "source"). */
export function trainKeys(prefix: string, what: string): Record<string, KeySpec> {
  return under(prefix, {
    arch: { help: `architecture of the ${what}`, choices: ARCHITECTURES },
    epochs: { help: `training epochs of the ${what}`, above: 0 },
    batchSize: { help: "batch size", integer: true, min: 1 },
    optimizer: { help: "optimizer", choices: OPTIMIZERS.names() },
    lr: { help: "initial learning rate", above: 0 },
    momentum: { help: "SGD momentum", min: 0, max: 1 },
    weightDecay: { help: "L2 weight decay", min: 0 },
    schedule: { help: "learning-rate schedule", choices: ["step", "cosine", "constant"] },
    augment: { help: "random crop + flip (CIFAR-10)" },
    inputNoise: { help: "std of Gaussian input noise during training", min: 0 },
    init: {
      help: "weight initialization: torch (PyTorch's defaults) or he (He normal)",
      choices: INITS,
    },
  });
}

/**
 * Checks a config's list of more architectures (`key`) beside the one a recipe already names (`beside`: that
 * key and its value): each once, and not that one again; a RangeError names both keys.
 */
export function checkArchList(archs: string[], opts: { key: string; beside: [string, string] }): void {
  const [key, arch] = opts.beside;
  const repeated = archs.find((a, i) => a === arch || archs.indexOf(a) !== i);
  if (repeated) {
    throw new RangeError(
      `--${opts.key} lists "${repeated}" twice or beside --${key}=${arch}; give each architecture once`,
    );
  }
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
  return under(prefix, {
    eps: { help: `L2 radius of ${what} (pixels in [0,1])`, above: 0 },
    steps: { help: "PGD steps", integer: true, min: 1 },
    stepSize: { help: "L2 length of each PGD step", above: 0 },
    batchSize: { help: "attack batch size", integer: true, min: 1 },
    "eot.samples": {
      help: "random transformations averaged per PGD step (1 = plain PGD when no transformation is set)",
      integer: true,
      min: 1,
    },
    "eot.translate": { help: "EOT: random shift of up to this many pixels", integer: true, min: 0 },
    "eot.flip": { help: "EOT: random horizontal flips" },
    "eot.noise": { help: "EOT: std of Gaussian noise added to x + delta", min: 0 },
    "finish.steps": {
      help: "finishing attack: plain PGD steps (no EOT) for the examples not yet at their target (0 = none)",
      integer: true,
      min: 0,
    },
    "finish.stepSize": { help: "finishing attack: L2 length of each step", above: 0 },
    failures: {
      help: "examples the attack did not bring to their target: keep them relabelled (paper) or drop them",
      choices: FAILURE_POLICIES,
    },
  });
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

/** The paper's adversarially trained source model (CIFAR-10): its recipe with L2 PGD of eps 0.5, 7 steps of 0.1. */
export const ROBUST_PAPER: RobustConfig = { ...PAPER_RECIPE, eps: 0.5, steps: 7, stepSize: 0.1 };

/** Key specs of a RobustConfig stored under `prefix`: the recipe's, then the L2 PGD of adversarial training. */
export function robustKeys(prefix: string, what: string): Record<string, KeySpec> {
  return {
    ...trainKeys(prefix, what),
    ...under(prefix, {
      eps: { help: "L2 radius of adversarial training", above: 0 },
      steps: { help: "PGD steps of adversarial training", integer: true, min: 1 },
      stepSize: { help: "PGD step of adversarial training", above: 0 },
    }),
  };
}

/**
 * The two source models Sections 2 and 3.1 share through the cache, under the config keys `standard` and
 * `robust`: their quick and paper values, key specs and the keys --dataset adapts. Both sections compose this one
 * declaration, so their recipes (and cached models) cannot drift apart.
 */
export const SOURCE_PAIR = {
  quick: { standard: SOURCE_QUICK, robust: ROBUST_QUICK },
  paper: { standard: PAPER_RECIPE, robust: ROBUST_PAPER },
  keys: {
    ...trainKeys("standard", "standard source model"),
    ...robustKeys("robust", "adversarially trained source model"),
  },
  datasetKeys: {
    eps: ["robust.eps", "robust.stepSize"],
    arch: ["standard.arch", "robust.arch"],
    epochs: ["standard.epochs", "robust.epochs"],
  } satisfies DatasetKeys,
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

/** Key specs of a MatchConfig (lib/run/pipeline.ts, eq. 5's representation matching) stored under `prefix`. */
export function matchKeys(prefix: string): Record<string, KeySpec> {
  return under(prefix, {
    size: {
      help: "examples in D_R and D_NR and the control (0 = every training image)",
      integer: true,
      min: 0,
    },
    steps: { help: "normalized gradient steps of eq. 5", integer: true, min: 1 },
    stepSize: { help: "L2 length of each step (pixels)", above: 0 },
    schedule: {
      help: `step length over the steps: constant, or cosine-decayed from ${prefix}.stepSize to 0`,
      choices: ["constant", "cosine"],
    },
    start: {
      help: "x0: another training image (paper) or uniform noise (App. D.1)",
      choices: ["image", "noise"],
    },
    batchSize: { help: "batch size of the construction", integer: true, min: 1 },
    target: {
      help:
        "what eq. 5 matches: relu (g, true gradient), fake-relu (g, the last ReLU passes its gradient, as " +
        "the authors' code), preact (g's pre-activation)",
      choices: MATCH_TARGETS,
    },
  });
}

/** Robust evaluation (lib/run/robustness.ts): untargeted L2 PGD at each eps of `curve`, then Auto-PGD
 * (cross-entropy and DLR loss, `strongSteps` steps x `restarts`) on what PGD left (strongSteps 0 = PGD alone);
 * the headline eps is chosen by `headlineMax`. */
export interface EvalAttackConfig {
  steps: number;
  curve: number[];
  headlineMax: number;
  strongSteps: number;
  restarts: number;
}

/** Key specs of an EvalAttackConfig stored under `prefix`. */
export function evalAttackKeys(prefix: string): Record<string, KeySpec> {
  return under(prefix, {
    steps: {
      help: "PGD steps of the evaluation (step size 2.5 eps / steps)",
      integer: true,
      min: 1,
    },
    curve: { help: "eps values of the robust-accuracy curve", above: 0 },
    strongSteps: {
      help: "Auto-PGD steps (cross-entropy and DLR loss) on the examples PGD did not break (0 = PGD alone)",
      integer: true,
      min: 0,
    },
    restarts: { help: "random starts of each Auto-PGD attack", integer: true, min: 1 },
    headlineMax: {
      help: "headline eps = the smallest eps of the curve where the standard model is at most this accurate",
      min: 0,
      max: 1,
    },
  });
}
