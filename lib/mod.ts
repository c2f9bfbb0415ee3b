// The one import face a fork uses (docs/forking.md): the experiment skeleton, the extension points (relabelling
// rules, objectives, threat models, optimizers, transforms), the shared recipes and the cached pipeline steps.
//
// The layers behind it: lib/core/ (the science), lib/run/ (orchestration), lib/data/, lib/report/,
// lib/backend/ and lib/util/. Import a module directly for anything not re-exported here.

// Orchestration: declare and run an experiment.
export {
  cli,
  type CommonConfig,
  defineExperiment,
  type ExperimentConfig,
  type ExperimentDef,
  type ExperimentSpec,
  type Outcome,
  type Run,
  runExperiment,
  type RunOptions,
  type SchemaDef,
  type SpecOverrides,
} from "./run/experiment.ts";
export type { DeepPartial, KeySpec } from "./run/config.ts";
export { type ConfigOf, type DatasetRole, key, type Schema, withDefaults } from "./run/schema.ts";
export {
  type AttackConfig,
  attackKeys,
  type EotConfig,
  EVAL_ATTACK_KEYS,
  type EvalAttackConfig,
  MATCH_KEYS,
  type MatchConfig,
  PAPER_RECIPE,
  RELABEL_ATTACK_FULL,
  RELABEL_ATTACK_PAPER,
  RELABEL_ATTACK_QUICK,
  ROBUST_PAPER,
  ROBUST_QUICK,
  type RobustConfig,
  robustKeys,
  SMOKE,
  SOURCE_PAIR,
  SOURCE_QUICK,
  SOURCE_RELABEL,
  TRAIN_DEFAULTS,
  TRAIN_SIZE_QUICK,
  type TrainConfig,
  trainKeys,
  trainOptions,
} from "./run/recipes.ts";
export {
  buildMatched,
  buildRelabelled,
  type DataRef,
  derivedRef,
  sourceRef,
  trainCached,
  trainRecipe,
  trainSourceModel,
  trainSourcePair,
} from "./run/pipeline.ts";
export { cached, sourceHash, valueHash } from "./run/cache.ts";
export { exportDataset } from "./run/export.ts";
export { writeFileAtomic } from "./run/output.ts";
export {
  type Cell,
  type Claim,
  numCell,
  oursVsPaperBars,
  pct,
  pctCell,
  scatterPanels,
  type SectionSummary,
  type SummaryTable,
  type Verdict,
} from "./run/summary.ts";
export { FIG2B, FIG3, TABLE1 } from "./run/paper.ts";

// The science: models, attacks, training, relabelling, features.
export { ARCHITECTURES, createModel, SMALL_ARCHITECTURES, type ZooModel } from "./core/models.ts";
export {
  expectationOverTransforms,
  flip,
  gaussianNoise,
  MATCH_TARGETS,
  matchObjective,
  type Objective,
  perturbSplit,
  pgd,
  targeted,
  THREAT_MODELS,
  type ThreatModel,
  type Transform,
  translate,
  untargeted,
} from "./core/attacks.ts";
export { type OptimizerFactory, OPTIMIZERS } from "./core/optimizers.ts";
export { accuracy, evaluate, predict, trainModel, type TrainOptions } from "./core/train.ts";
export { registerRelabelRule, relabel, RELABEL_RULES, type RelabelRule } from "./core/relabel.ts";

// Data, utilities and report helpers.
export { type Dataset, DATASETS, FORMATS, loadDataset, type Split } from "./data/registry.ts";
export { firstN, imageSize, subset, validationSplit } from "./data/batch.ts";
export { createRng, deriveSeed, type Rng } from "./util/rng.ts";
export { UserError } from "./util/errors.ts";
export { phase } from "./util/progress.ts";
export { meanInterval95, meanSd, rankCorrelation } from "./util/stats.ts";
export { saveChart } from "./report/charts.ts";
export { imageGrid, relabelGrid } from "./report/grid.ts";
