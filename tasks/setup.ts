// First-run setup for `deno task demo`: makes sure the system pieces exist (OpenBLAS, a C compiler and oneDNN for
// the fast backend, Fashion-MNIST), installing the Debian packages when possible and saying exactly what to do
// otherwise.
import { loadBlas } from "../lib/backend/blas.ts";
import { loadNativeOps } from "../lib/backend/native.ts";
import { loadDnnl } from "../lib/backend/dnnl.ts";
import { runMain } from "../lib/util/errors.ts";
import { aptInstall } from "../lib/data/fetch.ts";
import { loadDataset } from "../lib/data/registry.ts";

if (import.meta.main) {
  runMain(async () => {
    if (loadBlas().warning) {
      console.error("setup: OpenBLAS not found; installing libopenblas0-pthread (fast CPU backend)");
      if (!(await aptInstall(["libopenblas0-pthread"]))) {
        console.error(
          "setup: could not install it; run `sudo apt-get install libopenblas0-pthread` (macOS: Accelerate is used). Continuing with the slow fallback.",
        );
      }
    }
    if (loadNativeOps().warning) {
      console.error(
        "setup: no working C compiler; installing gcc (builds the fast backend's native helpers)",
      );
      if (!(await aptInstall(["gcc", "libc6-dev"]))) {
        console.error(
          "setup: could not install it; run `sudo apt-get install gcc libc6-dev` (macOS: xcode-select --install). Continuing with the slower TypeScript helpers.",
        );
      }
    }
    const dnnlWarning = loadDnnl().warning;
    if (dnnlWarning) {
      console.error(`setup: ${dnnlWarning.split(". ")[0]}; installing libdnnl-dev (oneDNN convolutions)`);
      if (!(await aptInstall(["libdnnl-dev"]))) {
        console.error(
          "setup: could not install it; run `sudo apt-get install libdnnl-dev`. Continuing with the slower im2col + sgemm convolutions.",
        );
      }
    }
    const ds = await loadDataset("fashion-mnist");
    const native = loadNativeOps(), dnnl = loadDnnl();
    console.error(
      `setup: ok (OpenBLAS: ${loadBlas().source}; helpers: ${
        native.warning ? "typescript" : native.ops.source
      }; convolutions: ${dnnl.conv ? dnnl.source : "im2col + sgemm"}; ` +
        `Fashion-MNIST: ${ds.dir})`,
    );
  });
}
