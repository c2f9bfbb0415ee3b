// A worked fork (docs/forking.md): Section 3.2 with one more relabelling rule, t = (y + 2) mod C, beside D_det.
//
// Only the rule is new, so this file registers it and reuses Section 3.2's procedure under SPEC.extend(): every
// field of sec3_2's spec carries over (keys, presets, the --dataset adaptation) and the id (out/d_shift2/, the
// report section) comes from this file's name. To change the procedure, copy experiments/sec3_2.ts instead.
import { cli, registerRelabelRule, type RunOptions } from "../../lib/mod.ts";
import * as sec3_2 from "../sec3_2.ts";

/** t = (y + 2) mod C: like D_det a fixed permutation of the classes, but two classes over. */
registerRelabelRule("d_shift2", (y, numClasses) => Uint8Array.from(y, (v) => (v + 2) % numClasses));

export type Config = sec3_2.Config;

/** Section 3.2's spec under this file's id, with the new rule beside D_det. */
export const SPEC = sec3_2.SPEC.extend(import.meta.url, {
  description: "Section 3.2 with t = (y + 2) mod C (d_shift2) beside D_det: a worked fork",
  defaults: { variants: ["d_det", "d_shift2"] },
});
export const { defaults: DEFAULTS, presets: PRESETS } = SPEC;

/** Runs Section 3.2's procedure under this experiment's id. */
export function main(config: Config, opts: RunOptions = {}): Promise<sec3_2.Results> {
  return sec3_2.main(config, opts, SPEC);
}

if (import.meta.main) cli(SPEC, main);
