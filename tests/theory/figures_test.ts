// Tests for theory/figures.ts: Figure 4's window holds every ellipse (the eps = 2 ones too) and arrow, and the
// theory charts use the report's colours for the standard and robust model and colours of their own for the classes.
import assert from "node:assert/strict";
import { Matrix } from "../../theory/linalg.ts";
import { figure4Spec, symmetricBound, THEORY_COLORS, worstCosineSpec } from "../../theory/figures.ts";
import { COLORS } from "../../lib/report/colors.ts";

type Layer = {
  data: { values: Record<string, number>[] };
  encoding: { x: { scale?: { domain: number[] } } };
};

Deno.test("figure4Spec(): every panel's window holds every point, ellipse and arrow tip, the eps = 2 ellipses too", () => {
  const sigmaStar = new Matrix([[1.6, 0.6], [0.6, 0.35]]), muStar = [1.2, 0.3];
  const spec = figure4Spec({ muStar, sigmaStar, eps: [0, 0.5, 1, 2], seed: 0 }) as {
    concat: { title: string; layer: Layer[] }[];
    columns: number;
  };
  assert.equal(spec.columns, 2, "two panels a row, legible on a narrow screen");
  assert.deepEqual(spec.concat.map((p) => p.title), [
    "standard (eps = 0)",
    "robust, eps = 0.5",
    "robust, eps = 1",
    "robust, eps = 2",
  ]);
  for (const panel of spec.concat) {
    const [lo, hi] = panel.layer[0].encoding.x.scale!.domain;
    for (const layer of panel.layer) {
      for (const v of layer.data.values) {
        for (const k of ["x", "y", "x2", "y2"]) {
          if (k in v) {
            assert.ok(v[k] >= lo && v[k] <= hi, `${panel.title}: ${k} = ${v[k]} outside [${lo}, ${hi}]`);
          }
        }
      }
    }
  }
  assert.equal(symmetricBound([{ x: -4.6, y: 1 }, { x: 2, y: 3.1 }]), 5);
});

Deno.test("theory charts: standard and robust in the report's colours, the classes in colours no other chart uses", () => {
  assert.equal(THEORY_COLORS.standard, COLORS.standard);
  assert.equal(THEORY_COLORS.robust, COLORS.robust);
  const lib = new Set<string>(Object.values(COLORS));
  assert.ok(
    !lib.has(THEORY_COLORS["y = +1"]) && !lib.has(THEORY_COLORS["y = -1"]) && !lib.has(THEORY_COLORS.line),
  );
  const cos = worstCosineSpec(new Matrix([[1.6, 0.6], [0.6, 0.35]]), [0, 1]) as {
    encoding: { color: { scale: { domain: string[]; range: string[] } } };
  };
  assert.deepEqual(cos.encoding.color.scale, {
    domain: ["standard", "robust"],
    range: [COLORS.standard, COLORS.robust],
  });
});
