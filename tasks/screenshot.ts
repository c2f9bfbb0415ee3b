// `deno task screenshot`: a PNG of the HTML report in headless chromium (out/report.html -> docs/report.png, the
// README's picture), at a desktop width; the top of the page (the claims table) unless --full.
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { runMain, UserError } from "../lib/util/errors.ts";
import { assertWritableDir, writeFileAtomic } from "../lib/run/output.ts";
import { findChromium, openPage } from "../lib/report/browser.ts";

/** Options of screenshotReport(). */
export interface ScreenshotOptions {
  /** Viewport width and height in CSS pixels (default 1400 x 1000). */
  width?: number;
  height?: number;
  /** The whole page instead of its top. */
  full?: boolean;
}

/** Renders the report `html` (a file) in headless chromium and writes a PNG of it to `png` (atomically). */
export async function screenshotReport(
  html: string,
  png: string,
  opts: ScreenshotOptions = {},
): Promise<number> {
  try {
    if (!(await Deno.stat(html)).isFile) throw new Error();
  } catch {
    throw new UserError(`no report at ${html}: run \`deno task report\` first (or pass --in=FILE)`);
  }
  if (!findChromium()) {
    throw new UserError(
      "no chromium at /usr/bin/chromium, chromium-browser or google-chrome: install it " +
        "(`sudo apt-get install chromium` on Debian/Ubuntu) and rerun",
    );
  }
  await assertWritableDir(dirname(png), "--out");
  const page = await openPage(`file://${resolve(html)}`, {
    width: opts.width ?? 1400,
    height: opts.height ?? 1000,
  });
  try {
    const bytes = await page.screenshot({ fullPage: opts.full ?? false });
    await writeFileAtomic(png, bytes);
    return bytes.length;
  } finally {
    await page.close();
  }
}

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        in: { type: "string", default: "out/report.html" },
        out: { type: "string", default: "docs/report.png" },
        width: { type: "string", default: "1400" },
        height: { type: "string", default: "1000" },
        full: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      return void console.log(
        "deno task screenshot [--in=out/report.html] [--out=docs/report.png] [--width=1400] [--height=1000] " +
          "[--full]:\na PNG of the report in headless chromium: the top of the page (the claims table), or all of " +
          "it with --full",
      );
    }
    const size = (key: "width" | "height") => {
      const v = Number(values[key]);
      if (!Number.isInteger(v) || v < 200 || v > 4000) {
        throw new RangeError(
          `--${key} must be a whole number of pixels from 200 to 4000, got "${values[key]}"`,
        );
      }
      return v;
    };
    const bytes = await screenshotReport(values.in!, values.out!, {
      width: size("width"),
      height: size("height"),
      full: values.full,
    });
    console.log(`wrote ${values.out} (${Math.round(bytes / 1024)} KiB) from ${values.in}`);
  });
}
