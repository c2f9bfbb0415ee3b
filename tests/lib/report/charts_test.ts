// Tests for lib/report charts, grids and tables: real PNGs with content, axis text in the SVG, alignment.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { renderChart } from "../../../lib/report/charts.ts";
import { encodePng, imageGrid } from "../../../lib/report/grid.ts";
import { formatPct, markdownTable } from "../../../lib/report/table.ts";

const decode = (bytes: Uint8Array) =>
  PNG.sync.read(Buffer.from(bytes)) as unknown as { width: number; height: number; data: Uint8Array };
/** Number of distinct RGBA colours. */
function colours(png: { data: Uint8Array }): number {
  const set = new Set<number>();
  const v = new DataView(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  for (let i = 0; i < png.data.length; i += 4) set.add(v.getUint32(i));
  return set.size;
}

Deno.test("renderChart() renders vega-lite to an SVG with the axis title and a non-blank 2x PNG", async () => {
  const { svg, png } = await renderChart({
    data: { values: [{ a: "x", b: 1 }, { a: "y", b: 3 }] },
    mark: "bar",
    width: 100,
    height: 80,
    encoding: {
      x: { field: "a", type: "nominal", title: "Model name" },
      y: { field: "b", type: "quantitative" },
    },
  });
  assert.match(svg, /Model name/);
  const img = decode(png);
  assert.ok(img.width > 200 && img.height > 160, `size ${img.width}x${img.height}`);
  assert.ok(colours(img) > 3, "the PNG is not one flat colour");
});

Deno.test("renderChart() refuses external data (no network)", async () => {
  await assert.rejects(() => renderChart({ data: { url: "https://example.com/x.json" }, mark: "bar" }));
});

Deno.test("encodePng() upscales nearest-neighbour; imageGrid() lays out cells with captions", () => {
  const img = Float32Array.from({ length: 4 }, (_, i) => i / 3);
  const p = decode(encodePng(img, 2, 2, 1, 3));
  assert.equal(p.width, 6);
  assert.equal(p.data[0], 0);
  assert.equal(p.data[(5 * 6 + 5) * 4], 255);
  const g = decode(
    imageGrid([[{ image: img, h: 2, w: 2, c: 1, caption: "y=bag" }]], { title: "t", scale: 10 }),
  );
  assert.ok(g.width >= 20 && g.height >= 20 && colours(g) > 3);
});

Deno.test("markdownTable() right-aligns numbers, left-aligns text; formatPct() formats fractions", () => {
  const t = markdownTable(["name", "acc"], [["D", "63.3%"], ["D_det", "4.0%"]]);
  assert.equal(t.split("\n")[1], "| ----- | ----: |");
  assert.equal(t.split("\n")[3], "| D_det |  4.0% |");
  assert.equal(formatPct(0.6331), "63.3%");
  assert.equal(formatPct(undefined), "-");
});

Deno.test("imageGrid(): a long bold title fits inside the image (its first and last pixel columns stay white)", () => {
  const img = new Float32Array(4).fill(0.5);
  const title = "Figure 2a: D_R keeps the robust model's features, D_NR the standard one's";
  const g = decode(
    imageGrid([[{ image: img, h: 2, w: 2, c: 1, caption: "x" }, { image: img, h: 2, w: 2, c: 1 }]], {
      title,
      scale: 10,
    }),
  );
  for (const x of [0, 1, g.width - 2, g.width - 1]) {
    for (let y = 0; y < 26; y++) {
      const i = (y * g.width + x) * 4;
      assert.ok(g.data[i] > 200, `title band pixel (${x}, ${y}) is ${g.data[i]}: the title is clipped`);
    }
  }
});

Deno.test("renderChart(): legend labels are not truncated", async () => {
  const label = "standard training on the non-robust dataset D_NR";
  const { svg } = await renderChart({
    data: { values: [{ x: 1, y: 2, m: label }, { x: 2, y: 3, m: "short" }] },
    mark: "line",
    encoding: {
      x: { field: "x", type: "quantitative" },
      y: { field: "y", type: "quantitative" },
      color: { field: "m", type: "nominal" },
    },
  });
  assert.ok(svg.includes(label), "the full legend label is in the SVG");
  assert.ok(!svg.includes("…"), "no ellipsis");
});
