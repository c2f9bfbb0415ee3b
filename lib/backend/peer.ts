// The PyTorch peer of `deno task bench --vs=torch`: finds a Python with torch, runs bench/torch_peer.py (the zoo
// models layer for layer, same batch, threads, warm-up and median of repeats) and sets its rates beside ours.
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.ts";
import { passiveOpenMp } from "./native.ts";

/** The peer script (part of the project). */
export const PEER_SCRIPT = fileURLToPath(new URL("../../bench/torch_peer.py", import.meta.url));

/** What to run when PyTorch is missing (one line, printed instead of the comparison). */
export const TORCH_SETUP =
  "PyTorch not found for the comparison; install it: sudo apt-get install python3-torch " +
  "(or set PYTHON to a python3 that can `import torch`)";

/** The rates both sides measure (images/s). */
export const PEER_RATES = ["trainImgPerSec", "inputGradImgPerSec", "forwardImgPerSec"] as const;
/** One model's rates. */
export type Rates = Record<(typeof PEER_RATES)[number], number>;

/** The interpreters tried in order: $PYTHON, then python3 on the PATH, then Debian's (python3-torch's home). */
export function pythonCandidates(env: string | undefined = Deno.env.get("PYTHON")): string[] {
  return [...new Set([env, "python3", "/usr/bin/python3"].filter((p): p is string => !!p))];
}

/** The first of `candidates` that imports torch, with torch's version; null when none does. */
export function findTorch(candidates = pythonCandidates()): { python: string; version: string } | null {
  for (const python of candidates) {
    try {
      const out = new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      if (out.success) return { python, version: new TextDecoder().decode(out.stdout).trim() };
    } catch { /* not installed or not runnable: try the next */ }
  }
  return null;
}

/** Options of runTorchPeer (the same protocol as ours). */
export interface PeerOptions {
  batch: number;
  threads: number;
  warmup: number;
  repeats: number;
  /** [h, w, c] of one image. */
  shape: [number, number, number];
}

/**
 * Runs the peer on `models` with `python`; its per-model rates. PyTorch's OpenMP runs with our wait policy
 * (passive unless the user set OMP_WAIT_POLICY): with libgomp's default, spinning threads made its steps up to
 * 25x slower on the loaded 2-core machine. Throws a UserError with the script's stderr tail.
 */
export function runTorchPeer(python: string, models: string[], o: PeerOptions): Record<string, Rates> {
  const out = new Deno.Command(python, {
    env: { OMP_WAIT_POLICY: passiveOpenMp() },
    args: [
      PEER_SCRIPT,
      `--models=${models.join(",")}`,
      `--shape=${o.shape.join(",")}`,
      `--batch=${o.batch}`,
      `--threads=${o.threads}`,
      `--warmup=${o.warmup}`,
      `--repeats=${o.repeats}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder();
  if (!out.success) {
    const tail = text.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    throw new UserError(`${python} ${PEER_SCRIPT} failed (exit ${out.code}): ${tail}`);
  }
  return JSON.parse(text.decode(out.stdout)).models as Record<string, Rates>;
}

/** The per-rate median of several measurements (rounds of the same model). */
export function medianRates(list: Rates[]): Rates {
  const med = (v: number[]) => {
    const s = v.slice().sort((a, b) => a - b), h = Math.floor(s.length / 2);
    return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  };
  return Object.fromEntries(PEER_RATES.map((k) => [k, med(list.map((r) => r[k]))])) as Rates;
}

/** Ours / theirs for each rate (above 1: we are faster). */
export function ratios(ours: Rates, theirs: Rates): Rates {
  return Object.fromEntries(PEER_RATES.map((k) => [k, ours[k] / theirs[k]])) as Rates;
}
