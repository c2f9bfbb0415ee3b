// Charts: vega-lite spec -> vega SVG (headless, no network) -> PNG with resvg (system fonts).
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { Resvg } from "@resvg/resvg-js";
import { join } from "node:path";
import { writeFileAtomic } from "../run/output.ts";

/** A vega-lite specification as plain JSON (data inline); checked by the vega-lite compiler at render time. */
export type ChartSpec = Record<string, unknown>;

const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

/** Renders an SVG string to PNG bytes (white background, `scale`x resolution). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const r = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return r.render().asPng();
}

/** Compiles and renders a vega-lite spec headlessly; returns the SVG and a 2x PNG. */
export async function renderChart(spec: ChartSpec): Promise<{ svg: string; png: Uint8Array }> {
  if (/"url"\s*:/.test(JSON.stringify(spec))) {
    throw new TypeError(
      "renderChart: external data (a `url`) is not allowed; inline the values (charts render offline)",
    );
  }
  const withConfig = {
    ...spec,
    // legend labels are never cut short ("std training on D_NR", not "std training on D_...")
    config: {
      font: FONT,
      background: "white",
      legend: { labelLimit: 0 },
      ...(spec as { config?: object }).config,
    },
  } as unknown as TopLevelSpec;
  const vg = compile(withConfig).spec;
  const loader = vega.loader({ mode: "file" });
  loader.load = () => Promise.reject(new Error("charts: external data is not allowed; inline the values"));
  const view = new vega.View(vega.parse(vg), { renderer: "none", loader });
  const svg = await view.toSVG();
  view.finalize();
  return { svg, png: svgToPng(svg) };
}

/** Renders a chart and writes `<dir>/<name>.svg` and `<dir>/<name>.png` atomically. */
export async function saveChart(
  dir: string,
  name: string,
  spec: ChartSpec,
): Promise<{ svg: string; png: string }> {
  const { svg, png } = await renderChart(spec);
  const paths = { svg: join(dir, `${name}.svg`), png: join(dir, `${name}.png`) };
  await writeFileAtomic(paths.svg, svg);
  await writeFileAtomic(paths.png, png);
  return paths;
}
