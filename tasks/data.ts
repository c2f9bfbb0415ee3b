// `deno task data`: make a dataset available and print per-split counts per class, pixel statistics and the
// dataset's fingerprint.
import { parseArgs } from "node:util";
import { runMain } from "../lib/util/errors.ts";
import { DIR_FORMS } from "../lib/data/info.ts";
import { DATASETS, loadDataset, type Split } from "../lib/data/registry.ts";

function stats(split: Split): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < split.x.length; i++) (s += split.x[i], s2 += split.x[i] * split.x[i]);
  const mean = s / split.x.length;
  return { mean, std: Math.sqrt(Math.max(0, s2 / split.x.length - mean * mean)) };
}

const HELP =
  `deno task data [--dataset=NAME] [--dir=PATH] [--imageSize=N] [--trainFrom=PREFIX] [--cacheDir=PATH]

Makes a dataset available (download, or the Debian package for Fashion-MNIST) and prints per split the
number of examples, the count per class, the pixel mean/std, and the dataset's fingerprint.
  --dataset=NAME      one of: ${Object.keys(DATASETS).join(", ")} (default fashion-mnist),
                      or ${Object.values(DIR_FORMS).join(",\n                      or ")}
  --dir=PATH          read a registered dataset only from this directory (it must exist)
  --imageSize=N       image folders: resize every image to N x N (shorter side, then centre crop)
  --trainFrom=PREFIX  read the train split from an export (PREFIX_x.npy, PREFIX_y.npy), e.g. out/sec3_2/d_det
  --cacheDir=PATH     image folders: where decoded arrays are kept (default .cache/datasets; "" = none)`;

/** Parses a positive integer option; a bad value is a RangeError naming the option. */
function intOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`--${name} expects a positive integer, got "${raw}"`);
  }
  return v;
}

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        dataset: { type: "string", default: "fashion-mnist" },
        dir: { type: "string" },
        imageSize: { type: "string" },
        trainFrom: { type: "string" },
        cacheDir: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) return void console.log(HELP);
    const ds = await loadDataset(values.dataset!, {
      dir: values.dir,
      imageSize: intOption("imageSize", values.imageSize),
      trainFrom: values.trainFrom,
      ...(values.cacheDir !== undefined ? { cacheDir: values.cacheDir === "" ? null : values.cacheDir } : {}),
    });
    console.log(
      `${ds.name}: ${ds.info.shape.join("x")} images, ${ds.info.numClasses} classes, from ${ds.dir}` +
        (ds.trainFrom ? `, train split from ${ds.trainFrom}` : ""),
    );
    for (const [name, split] of [["train", ds.train], ["test", ds.test]] as const) {
      const counts = new Array(ds.info.numClasses).fill(0);
      for (const y of split.y) counts[y]++;
      const { mean, std } = stats(split);
      console.log(
        `${name}: ${split.n.toLocaleString("en-US")} examples, pixel mean ${mean.toFixed(4)} std ${
          std.toFixed(4)
        }`,
      );
      console.log(
        "  per class: " +
          counts.map((c, i) => `${ds.info.classNames[i]} ${c.toLocaleString("en-US")}`).join(", "),
      );
    }
    console.log(`fingerprint: ${ds.fingerprint}`);
  });
}
