// `deno task data`: make a dataset available and print per-split counts per class and pixel statistics.
import { parseArgs } from "node:util";
import { runMain } from "../errors.ts";
import { DATASETS, loadDataset, type Split } from "./registry.ts";

function stats(split: Split): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < split.x.length; i++) (s += split.x[i], s2 += split.x[i] * split.x[i]);
  const mean = s / split.x.length;
  return { mean, std: Math.sqrt(Math.max(0, s2 / split.x.length - mean * mean)) };
}

const HELP = `deno task data [--dataset=NAME] [--dir=PATH]

Makes a dataset available (download, or the Debian package for Fashion-MNIST) and prints per split the
number of examples, the count per class and the pixel mean/std.
  --dataset=NAME  one of: ${Object.keys(DATASETS).join(", ")} (default fashion-mnist)
  --dir=PATH      read the files only from this directory (it must exist)`;

if (import.meta.main) {
  runMain(async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        dataset: { type: "string", default: "fashion-mnist" },
        dir: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) return void console.log(HELP);
    const ds = await loadDataset(values.dataset!, { dir: values.dir });
    console.log(
      `${ds.name}: ${ds.info.shape.join("x")} images, ${ds.info.numClasses} classes, from ${ds.dir}`,
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
  });
}
