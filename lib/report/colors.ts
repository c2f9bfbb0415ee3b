// The report's chart style: one colour per meaning (ours vs the paper's, the standard vs the robust model, the
// derived training sets, Section 2's kinds of features; theory/figures.ts keeps its own, tested against these),
// and panel headers that stay legible when panels stack on a narrow screen.

/** The colour of each meaning (Kelly's colours of maximum contrast); no colour stands for two things. */
export const COLORS = {
  /** Our numbers. */
  ours: "#0067a5",
  /** The paper's numbers. */
  paper: "#848482",
  /** The standard model, standard training on D. */
  standard: "#f38400",
  /** The adversarially trained (robust) model. */
  robust: "#008856",
  /** Standard training on D_R. */
  d_r: "#875692",
  /** Standard training on D_NR. */
  d_nr: "#882d17",
  /** Standard training on the size-matched random subset of D (the control). */
  control: "#e68fac",
  /** Section 2: robustly useful features (gamma >= gamma0). */
  robustlyUseful: "#8db600",
  /** Section 2: useful features with 0 <= gamma < gamma0. */
  weaklyRobust: "#c2b280",
  /** Section 2: useful, non-robust features (gamma < 0). */
  usefulNonRobust: "#be0032",
  /** Section 2: features that are not useful. */
  notUseful: "#d0d0d0",
} as const;

/** A meaning with a colour. */
export type Meaning = keyof typeof COLORS;

/** A vega-lite colour scale showing each label in the colour of its meaning: [label, meaning] pairs in order. */
export function colorScale(entries: [string, Meaning][]): { domain: string[]; range: string[] } {
  return { domain: entries.map(([l]) => l), range: entries.map(([, m]) => COLORS[m]) };
}

/** The header of stacked panels (a facet's rows): the panel's name above it, left-aligned, not rotated. */
export const PANEL_HEADER = {
  labelAngle: 0,
  labelOrient: "top",
  labelAnchor: "start",
  labelFontWeight: "bold",
};
