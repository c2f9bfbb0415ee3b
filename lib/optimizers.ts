// Optimizers as values, registered by name (sgd, adam): trainModel() gets a factory, never a backend internal.
import * as tf from "@tensorflow/tfjs";
import { FastAdam } from "./backend/adam.ts";
import { Registry } from "./registry.ts";

/** Hyper-parameters an optimizer factory may read. */
export interface OptimizerParams {
  lr: number;
  momentum: number;
}

/** Builds a fresh optimizer; its `learningRate` field is set by the schedule before every step. */
export type OptimizerFactory = (p: OptimizerParams) => tf.Optimizer;

/** The registered optimizers: `sgd` (with momentum), `adam` (one native kernel per weight on the fast backend,
 * tfjs's own Adam elsewhere, same results). A fork may register its own. */
export const OPTIMIZERS = new Registry<OptimizerFactory>("optimizer", {
  sgd: (p) => tf.train.momentum(p.lr, p.momentum),
  adam: (p) => new FastAdam(p.lr),
});
