// `deno task report`: renders every out/*/results.json into one self-contained page, out/report.html (results
// beside the paper's, figures, each run's config); --page also writes the markdown results page (docs/results.md).
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { runMain, UserError } from "../lib/util/errors.ts";
import { assertWritableDir, writeFileAtomic } from "../lib/run/output.ts";
import { buildReport, writePage } from "../lib/report/page.ts";

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        out: { type: "string", default: "out/report.html" },
        dir: { type: "string", default: "out" },
        page: { type: "string" },
        rerender: { type: "boolean" },
        fresh: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      return void console.log(
        "deno task report [--out=out/report.html] [--dir=out] [--page=docs/results.md]: one self-contained HTML\n" +
          "page of every result; --page also records every run of --dir into <page dir>/results/ (replacing the\n" +
          "recorded run of the same name, keeping the others; --fresh keeps only --dir's) and writes the markdown\n" +
          "results page from the record (the README quotes it); --rerender renders each shipped section's summary\n" +
          "again from its recorded numbers with today's code (a --seeds=N run keeps its recorded summary, which\n" +
          "aggregates its runs')",
      );
    }
    if (values.fresh && !values.page) {
      throw new UserError(
        "--fresh was given without --page: it says which recorded runs --page keeps; add --page=docs/results.md",
      );
    }
    if (values.page) {
      await writePage(values.dir!, values.page, { rerender: values.rerender, fresh: values.fresh });
    }
    await assertWritableDir(dirname(values.out!), "--out");
    const { html, sections } = await buildReport(values.dir!);
    await writeFileAtomic(values.out!, html);
    console.log(
      `wrote ${values.out} (${(html.length / 1024).toFixed(0)} KiB): ${
        sections.map((s) => `${s.id} ${s.status}`).join(", ")
      }`,
    );
  });
}
