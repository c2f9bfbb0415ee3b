// `deno task report`: collects out/*/results.json into one self-contained page, out/report.html (images
// embedded, no network), with every result beside the paper's, the figures, and each run's config.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { runMain } from "../errors.ts";
import { writeFileAtomic } from "../output.ts";
import { encodeBase64 } from "./base64.ts";
import { renderChart } from "./charts.ts";
import { formatPct } from "./table.ts";

type Json = Record<string, unknown>;

/** A section of the report: which experiment, how to run it, which results fields it needs. */
interface SectionDef {
  id: string;
  title: string;
  command: string;
  claim: string;
  required: string[];
  body: (r: Json) => Promise<string>;
}

const esc = (s: unknown) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const get = (o: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((a, k) => (a as Json | undefined)?.[k], o);
const pct = (v: unknown) => formatPct(typeof v === "number" ? v : null);

function table(headers: string[], rows: unknown[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")
  }</tbody></table>`;
}

async function chart(spec: Json): Promise<string> {
  const { svg } = await renderChart(spec);
  return `<img class="chart" alt="chart" src="data:image/svg+xml;base64,${
    encodeBase64(new TextEncoder().encode(svg))
  }">`;
}

/** Grouped bars of ours vs paper. values: {label, source: "ours" | "paper", value (%)} */
function barsSpec(
  title: string,
  values: { label: string; source: string; value: number }[],
  yTitle: string,
): Json {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    width: { step: 22 },
    height: 200,
    mark: "bar",
    encoding: {
      column: {
        field: "label",
        type: "nominal",
        title: null,
        sort: [...new Set(values.map((v) => v.label))],
      },
      x: { field: "source", type: "nominal", axis: null },
      y: { field: "value", type: "quantitative", title: yTitle },
      color: { field: "source", type: "nominal", title: null, scale: { domain: ["ours", "paper"] } },
    },
  };
}

const SECTIONS: SectionDef[] = [
  {
    id: "sec3_2",
    title: "Section 3.2 / Table 1: non-robust features suffice for standard classification",
    command: "deno task sec3_2",
    claim:
      "Models trained on adversarially relabelled data (D_rand, D_det) generalize to the original test set.",
    required: ["testAcc.d", "testAcc.d_rand", "testAcc.d_det", "attackSuccess.d_rand", "meanDeltaL2.d_rand"],
    body: async (r) => {
      const paper = { d: 0.953, d_rand: 0.633, d_det: 0.437 };
      const rows = (["d", "d_rand", "d_det"] as const).map((
        k,
      ) => [
        k === "d" ? "D" : k,
        pct(get(r, `testAcc.${k}`)),
        k === "d" ? "-" : pct(get(r, `attackSuccess.${k}`)),
        k === "d" ? "-" : Number(get(r, `meanDeltaL2.${k}`)).toFixed(3),
        pct(paper[k]),
      ]);
      const values = (["d", "d_rand", "d_det"] as const).flatMap((k) => [
        { label: k, source: "ours", value: 100 * Number(get(r, `testAcc.${k}`)) },
        { label: k, source: "paper", value: 100 * paper[k] },
      ]);
      return table([
        "training set",
        "test acc (ours)",
        "attack success",
        "mean L2 of delta",
        "paper (CIFAR-10)",
      ], rows) +
        `<p>eps ${esc(r.eps)}, ${esc(r.steps)} steps; chance = 10%.</p>` +
        (await chart(
          barsSpec("Table 1: test accuracy on the original test set", values, "test accuracy (%)"),
        ));
    },
  },
  {
    id: "sec3_1",
    title: "Section 3.1 / Figure 2: robust and non-robust datasets",
    command: "deno task sec3_1",
    claim:
      "Standard training on D_R gives robustness; standard training on D_NR gives accuracy without robustness.",
    required: [
      "models.standard.stdAcc",
      "models.robust.robustAcc",
      "models.d_r.robustAcc",
      "models.d_nr.stdAcc",
    ],
    body: async (r) => {
      const paper: Json = {
        standard: [0.953, 0.045],
        robust: [0.9, 0.7],
        d_r: [0.84, 0.48],
        d_nr: [0.88, 0],
      };
      const names = ["standard", "robust", "d_r", "d_nr"];
      const rows = names.map((
        n,
      ) => [
        n,
        pct(get(r, `models.${n}.stdAcc`)),
        pct(get(r, `models.${n}.robustAcc`)),
        pct((paper[n] as number[])[0]),
        pct((paper[n] as number[])[1]),
      ]);
      const values = names.flatMap((n) => [
        { label: n, source: "ours", value: 100 * Number(get(r, `models.${n}.robustAcc`)) },
        { label: n, source: "paper", value: 100 * (paper[n] as number[])[1] },
      ]);
      return table([
        "model",
        "std acc (ours)",
        `robust acc (ours, eps ${r.evalEps})`,
        "std acc (paper)",
        "robust acc (paper, eps 0.25)",
      ], rows) +
        (await chart(barsSpec("Figure 2b: robust accuracy", values, "robust accuracy (%)")));
    },
  },
  {
    id: "sec3_3",
    title: "Section 3.3 / Figure 3: transferability arises from non-robust features",
    command: "deno task sec3_3",
    claim:
      "Architectures that learn better from D_det are more vulnerable to transfer attacks from the source model.",
    required: ["architectures", "correlation.spearman", "correlation.pearson"],
    body: (r) => {
      const archs = r.architectures as Record<string, Json>;
      const rows = Object.entries(archs).map((
        [a, v],
      ) => [a, pct(v.testAccOnDdet), pct(v.transferRate), pct(v.stdAcc)]);
      return Promise.resolve(
        table(["architecture", "acc trained on D_det", "transfer rate", "std acc"], rows) +
          `<p>Spearman ${Number(get(r, "correlation.spearman")).toFixed(3)}, Pearson ${
            Number(get(r, "correlation.pearson")).toFixed(3)
          } ` +
          `(paper, CIFAR-10: same order for all five: ResNet-50 44.7/100, DenseNet 41.7/93, ResNet-18 40.9/92, Inception-v3 39.4/83, VGG-16 27.9/65.5).</p>`,
      );
    },
  },
  {
    id: "theory",
    title: "Section 4: the Gaussian model (Theorems 1-3, Figure 4)",
    command: "deno task theory",
    claim: "Closed forms of the paper checked against independent numerical computations.",
    required: ["claims"],
    body: (r) => {
      const claims = r.claims as Json[];
      const f = (
        v: unknown,
      ) => (typeof v === "number"
        ? (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toPrecision(6))
        : String(v));
      return Promise.resolve(
        table(
          ["claim", "closed form", "numerical", "error", "tolerance", "result"],
          claims.map((
            c,
          ) => [
            c.claim,
            f(c.closedForm),
            f(c.numerical),
            f(c.error),
            f(c.tolerance),
            c.pass ? "pass" : "FAIL",
          ]),
        ),
      );
    },
  },
];

/** Loads and validates `<dir>/results.json`; returns the results or the reason it was skipped. */
export async function readResults(
  dir: string,
  required: string[],
): Promise<{ results?: Json; config?: Json; skipped?: string }> {
  const path = join(dir, "results.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return {};
  }
  let results: Json;
  try {
    results = JSON.parse(text);
  } catch (err) {
    return { skipped: `${path}: not valid JSON (${(err as Error).message}); rerun the experiment` };
  }
  const missing = required.filter((k) => get(results, k) === undefined);
  if (missing.length) {
    return {
      skipped: `${path}: missing ${missing.join(", ")} (written by an older version?); rerun the experiment`,
    };
  }
  let config: Json | undefined;
  try {
    config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  } catch {
    config = undefined;
  }
  return { results, config };
}

async function figures(dir: string): Promise<string> {
  const out: string[] = [];
  for (
    const e of [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".png")).sort((a, b) =>
      a.name.localeCompare(b.name)
    )
  ) {
    const bytes = await Deno.readFile(join(dir, e.name));
    out.push(
      `<figure><img alt="${esc(e.name)}" src="data:image/png;base64,${encodeBase64(bytes)}"><figcaption>${
        esc(e.name)
      }</figcaption></figure>`,
    );
  }
  return out.join("");
}

/** Builds the report HTML from an out/ directory. */
export async function buildReport(
  outRoot: string,
): Promise<{ html: string; sections: { id: string; status: string }[] }> {
  const parts: string[] = [], status: { id: string; status: string }[] = [];
  for (const s of SECTIONS) {
    const dir = join(outRoot, s.id);
    const { results, config, skipped } = await readResults(dir, s.required);
    parts.push(`<section id="${s.id}"><h2>${esc(s.title)}</h2><p class="claim">${esc(s.claim)}</p>`);
    if (skipped) {
      parts.push(`<p class="warn">skipped: ${esc(skipped)}</p>`);
      status.push({ id: s.id, status: "skipped" });
    } else if (!results) {
      parts.push(`<p class="missing">not run yet: <code>${esc(s.command)}</code></p>`);
      status.push({ id: s.id, status: "missing" });
    } else {
      const meta = (config?.meta ?? {}) as Json;
      parts.push(
        `<p class="meta">dataset ${esc(results.dataset ?? get(config, "config.dataset") ?? "-")}, preset ${
          esc(results.preset ?? meta.preset ?? "-")
        }, backend ${esc(results.backend ?? meta.backend ?? "-")}, run time ${
          esc(results.runSeconds ?? "-")
        } s, commit ${esc(results.gitCommit ?? meta.gitCommit ?? "-")}</p>`,
      );
      parts.push(await s.body(results));
      parts.push(await figures(dir));
      if (config) {
        parts.push(
          `<details><summary>config.json</summary><pre>${
            esc(JSON.stringify(config, null, 2))
          }</pre></details>`,
        );
      }
      status.push({ id: s.id, status: "ok" });
    }
    parts.push("</section>");
  }
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Adversarial Examples are not Bugs, they are Features: reproduction report</title>
<style>body{font-family:system-ui,DejaVu Sans,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.claim{font-style:italic}.meta{color:#555;font-size:90%}.missing,.warn{background:#fff4d6;padding:6px}figure{display:inline-block;margin:0.5em}figure img,img.chart{max-width:100%;border:1px solid #eee}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:80%}</style></head><body>
<h1>Adversarial Examples are not Bugs, they are Features: reproduction report</h1><p>Generated ${
      esc(new Date().toISOString())
    } from <code>${esc(outRoot)}/</code>. Our numbers beside the paper's (Ilyas et al., NeurIPS 2019).</p>
${parts.join("\n")}</body></html>`;
  return { html, sections: status };
}

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        out: { type: "string", default: "out/report.html" },
        dir: { type: "string", default: "out" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      return void console.log(
        "deno task report [--out=out/report.html] [--dir=out]: one self-contained HTML page of every result",
      );
    }
    const { html, sections } = await buildReport(values.dir!);
    await writeFileAtomic(values.out!, html);
    console.log(
      `wrote ${values.out} (${(html.length / 1024).toFixed(0)} KiB): ${
        sections.map((s) => `${s.id} ${s.status}`).join(", ")
      }`,
    );
  });
}
