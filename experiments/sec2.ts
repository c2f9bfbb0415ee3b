// Section 2: which features of a standard and of an adversarially trained model are useful, robustly useful and
// useful but non-robust, measured with the paper's definitions (eq. 1 and 2), which the paper never measures.
//
// Features: the representation units g (the penultimate layer eq. 5 matches) of sec3_1's two source models
// (shared through the cache), each standardized to mean 0, variance 1 on the training set. Binary tasks:
// one-vs-rest, y = +1 for class c and -1 otherwise, for the classes of --classes. Each (task, unit) pair is one
// feature s f, oriented (s = +-1) by its correlation on the training set. On the evaluation (test) set:
// rho = E[y s f(x)] and gamma(eps) = E[min over ||delta||_2 <= eps of y s f(x + delta)], the inner minimum by
// L2 PGD on that single feature (each (unit, example) with its own delta).
import { cli, defineExperiment, type ExperimentConfig } from "../lib/run/experiment.ts";
import { runExperiment, type RunOptions, takeFirst } from "../lib/run/experiment.ts";
import { measureFeatures, type ModelFeatures, parseClasses } from "../lib/run/features.ts";
import { sourceRef, trainSourcePair } from "../lib/run/pipeline.ts";
import { SMOKE, SOURCE_PAIR, TRAIN_SIZE_QUICK } from "../lib/run/recipes.ts";
import { key } from "../lib/run/schema.ts";
import { saveChart } from "../lib/report/charts.ts";
import { distributionSpec, rhoGammaSpec, robustCountSpec } from "../lib/report/features.ts";
import { type ModelName, MODELS, type Results, summarize } from "../lib/report/sec2.ts";
import { phase } from "../lib/util/progress.ts";

export { MODELS, type Results, summarize } from "../lib/report/sec2.ts";

/** The experiment's keys after the common ones, each declared once (lib/run/schema.ts); defaults = the quick
 * preset (Fashion-MNIST), whose source models are sec3_1's quick ones. */
const SCHEMA = {
  /** Training examples of the source models, also the set each unit is standardized on (0 = all). */
  trainSize: key(TRAIN_SIZE_QUICK, {
    help: "training examples of the source models and of the standardization (0 = all)",
    integer: true,
    min: 0,
  }),
  /** Test examples rho and gamma are measured on (0 = all). */
  testSize: key(100, {
    help: "test examples rho and gamma are measured on (0 = all)",
    integer: true,
    min: 0,
  }),
  // `standard` and `robust`: sec3_1's two source models (one declaration in lib/run/recipes.ts, one cache entry
  // each; sec3_1's standard = sec3_2's source recipe)
  ...SOURCE_PAIR.keys,
  /** One-vs-rest tasks: "all" or a comma list of class indices (e.g. "0,6"). */
  classes: key("all", {
    help: 'one-vs-rest binary tasks (y = +1 for the class, -1 otherwise): "all" or class indices, e.g. 0,6',
    check: (v) => {
      if (!/^(all|\d+(\s*,\s*\d+)*)$/.test(String(v))) {
        throw new RangeError(
          `"${v}" is neither "all" nor a comma list of class indices (e.g. --classes=0,6)`,
        );
      }
    },
  }),
  /** L2 PGD on each single feature: radii, steps (step size 2.5 eps / steps), problems per batch. 5 steps: on a
   * cnn (2 epochs on 10,000 images; 20 test images, all classes), 10 and 20 steps lowered the mean gamma at eps 1
   * by 3.4% and 4.7% and raised the count of useful non-robust features from 409 to 411 of 426 useful; 100
   * images x 3 eps keep the PGD part of quick at about 7 minutes on the shared 2-core machine. */
  attack: {
    eps: key([0.5, 1, 2], {
      help: "L2 radii of the worst case in gamma (pixels in [0,1])",
      above: 0,
      role: "eps",
    }),
    steps: key(5, { help: "PGD steps per feature (step size 2.5 eps / steps)", integer: true, min: 1 }),
    batchSize: key(512, { help: "(unit, example) problems per PGD batch", integer: true, min: 1 }),
  },
  /** Useful: rho >= rho0; robustly useful: gamma >= gamma0; headline counts at eps = headlineEps. */
  thresholds: {
    rho0: key(0.2, { help: "a feature is useful when rho >= rho0", above: 0 }),
    gamma0: key(0.1, { help: "a feature is robustly useful when gamma >= gamma0", above: 0 }),
    headlineEps: key(1, { help: "the eps of the headline counts (one of --attack.eps)", above: 0 }),
  },
};

/** Configuration of the Section 2 experiment. */
export type Config = ExperimentConfig<typeof SCHEMA>;

/** CLI description; the experiment id is this file's name. */
export const SPEC = defineExperiment(import.meta.url, {
  section: { of: "sec2", label: "Section 2", order: 20 },
  description:
    "Section 2: useful, robustly useful and useful non-robust features (representation units) of a standard " +
    "and a robust model",
  schema: SCHEMA,
  // smoke (tests), quick (default), paper (CIFAR-10, ResNet-50)
  presets: {
    // the mlp: the cnn's 128 units x 60 images x 2 eps took 72 s under load, too slow for the test suite
    smoke: {
      trainSize: SMOKE.trainSize,
      testSize: 40,
      standard: { ...SMOKE.source, arch: "mlp" },
      robust: { arch: "mlp", epochs: 1, steps: 2, stepSize: 1.5 },
      classes: "0,1",
      attack: { eps: [1, 2], steps: 2 },
      thresholds: { headlineEps: 2 },
      cache: false,
    },
    quick: {},
    paper: {
      dataset: "cifar10",
      trainSize: 0,
      testSize: 1000,
      ...SOURCE_PAIR.paper,
      attack: { eps: [0.125, 0.25, 0.5, 1], steps: 20, batchSize: 256 },
      thresholds: { headlineEps: 0.25 },
    },
  },
});
/** Defaults (the quick preset) and the named presets, derived from the schema. */
export const { defaults: DEFAULTS, presets: PRESETS } = SPEC;

/** Runs the experiment and writes out/<id>/. */
export function main(config: Config, opts: RunOptions = {}): Promise<Results> {
  const eps = [...config.attack.eps].sort((a, b) => a - b);
  if (!eps.includes(config.thresholds.headlineEps)) {
    const msg = `--thresholds.headlineEps=${config.thresholds.headlineEps} is not one of ` +
      `--attack.eps=${eps.join(",")}; pick one of them`;
    return Promise.reject(new RangeError(msg));
  }
  return runExperiment(SPEC, config, opts, async (run) => {
    const classes = parseClasses(config.classes, run.data.info.numClasses);
    const train = sourceRef(run.data, takeFirst(run.data.train, config.trainSize, "trainSize"));
    const test = takeFirst(run.data.test, config.testSize, "testSize");
    // the standard and the adversarially trained source models (cached, shared with sec3_1)
    const { standard, robust } = await trainSourcePair(train, test, { ...run.common, recipes: config });
    const sources = { standard: run.track(standard), robust: run.track(robust) };
    const models = {} as Record<ModelName, ModelFeatures>;
    const pgdSeconds = {} as Record<ModelName, number>;
    for (const name of MODELS) {
      const t0 = performance.now();
      models[name] = await measureFeatures(
        sources[name],
        { name, train, test, testData: run.data.fingerprint, classes, eps },
        { attack: config.attack, thresholds: config.thresholds, cache: config.cache },
      );
      pgdSeconds[name] = Math.round((performance.now() - t0) / 100) / 10;
      run.release(sources[name]);
    }
    const results: Results = {
      classes,
      eps,
      thresholds: config.thresholds,
      evalSize: test.n,
      models,
      pgdSeconds,
    };
    phase("figures");
    await saveChart(run.outDir, "rho_gamma", rhoGammaSpec(results, config.dataset));
    await saveChart(run.outDir, "robust_count", robustCountSpec(results));
    await saveChart(run.outDir, "distribution", distributionSpec(results));
    return { results, summary: summarize(results, config) };
  });
}

if (import.meta.main) cli(SPEC, main);
