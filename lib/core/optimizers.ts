// Optimizers as values, registered by name (sgd, adam): trainModel() gets a factory, never a backend internal.
import * as tf from "@tensorflow/tfjs";
import { FastAdam } from "../backend/adam.ts";
import { Registry } from "../util/registry.ts";

/** Hyper-parameters an optimizer factory may read. */
export interface OptimizerParams {
  lr: number;
  momentum: number;
}

/** An optimizer with the two things a learning-rate schedule needs: set the rate, and free every tensor. */
export interface ScheduledOptimizer {
  optimizer: tf.Optimizer;
  setLearningRate(lr: number): void;
  dispose(): void;
}

/** Builds a fresh optimizer for one training run. */
export type OptimizerFactory = (p: OptimizerParams) => ScheduledOptimizer;

/** tfjs's SGD/momentum keeps the rate as a scalar tensor `c`: only setLearningRate() changes what the step uses,
 * and MomentumOptimizer.dispose() (tfjs 4.22) frees its accumulators but not `c`. */
function sgd(p: OptimizerParams): ScheduledOptimizer {
  const o = tf.train.momentum(p.lr, p.momentum);
  const c = () => (o as unknown as { c?: tf.Tensor }).c;
  return {
    optimizer: o,
    setLearningRate: (lr) => o.setLearningRate(lr),
    dispose: () => {
      o.dispose();
      if (c() && !c()!.isDisposed) c()!.dispose();
    },
  };
}

/** Adam reads its `learningRate` field (a number) at every step. */
function adam(p: OptimizerParams): ScheduledOptimizer {
  const o = new FastAdam(p.lr);
  return {
    optimizer: o,
    setLearningRate: (lr) => ((o as unknown as { learningRate: number }).learningRate = lr),
    dispose: () => o.dispose(),
  };
}

/** The registered optimizers: `sgd` (with momentum), `adam` (one native kernel per weight on the fast backend,
 * tfjs's own Adam elsewhere, same results). A fork may register its own. */
export const OPTIMIZERS = new Registry<OptimizerFactory>("optimizer", { sgd, adam });
