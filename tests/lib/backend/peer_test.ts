// The PyTorch peer of `deno task bench --vs=torch`: interpreter search, the one-line hint without torch, ratios,
// and (where python3-torch is installed) a real run of bench/torch_peer.py on every 28x28 zoo model.
import assert from "node:assert/strict";
import {
  findTorch,
  medianRates,
  PEER_RATES,
  pythonCandidates,
  ratios,
  runTorchPeer,
  TORCH_SETUP,
} from "../../../lib/backend/peer.ts";
import { SMALL_ARCHITECTURES } from "../../../lib/core/models.ts";

Deno.test("pythonCandidates(): $PYTHON first, then python3 and Debian's /usr/bin/python3, without repeats", () => {
  assert.deepEqual(pythonCandidates("/opt/py/bin/python3"), [
    "/opt/py/bin/python3",
    "python3",
    "/usr/bin/python3",
  ]);
  assert.deepEqual(pythonCandidates(undefined), ["python3", "/usr/bin/python3"]);
  assert.deepEqual(pythonCandidates("python3"), ["python3", "/usr/bin/python3"]);
});

Deno.test("findTorch(): no interpreter that imports torch -> null; the hint is one line with the apt-get command", () => {
  assert.equal(findTorch(["/nonexistent/python3", "false"]), null);
  assert.match(TORCH_SETUP, /^[^\n]*sudo apt-get install python3-torch[^\n]*$/);
});

Deno.test("ratios(): ours / theirs per rate", () => {
  const r = ratios(
    { trainImgPerSec: 300, inputGradImgPerSec: 100, forwardImgPerSec: 50 },
    { trainImgPerSec: 200, inputGradImgPerSec: 400, forwardImgPerSec: 50 },
  );
  assert.deepEqual(r, { trainImgPerSec: 1.5, inputGradImgPerSec: 0.25, forwardImgPerSec: 1 });
});

Deno.test("medianRates(): the per-rate median of rounds (odd and even counts)", () => {
  const r = (t: number, i: number, f: number) => ({
    trainImgPerSec: t,
    inputGradImgPerSec: i,
    forwardImgPerSec: f,
  });
  assert.deepEqual(medianRates([r(1, 9, 5), r(3, 1, 5), r(2, 5, 100)]), r(2, 5, 5));
  assert.deepEqual(medianRates([r(1, 2, 3), r(3, 4, 7)]), r(2, 3, 5));
});

const torch = findTorch();
Deno.test({
  name: "runTorchPeer(): bench/torch_peer.py builds every 28x28 zoo model and times its three steps",
  ignore: !torch,
  fn: () => {
    const r = runTorchPeer(torch!.python, SMALL_ARCHITECTURES, {
      batch: 2,
      threads: 1,
      warmup: 0,
      repeats: 1,
      shape: [28, 28, 1],
    });
    assert.deepEqual(Object.keys(r), SMALL_ARCHITECTURES);
    for (const [arch, rates] of Object.entries(r)) {
      for (const k of PEER_RATES) {
        assert.ok(Number.isFinite(rates[k]) && rates[k] > 0, `${arch} ${k}: ${rates[k]}`);
      }
    }
    assert.throws(
      () =>
        runTorchPeer(torch!.python, ["nosuch"], {
          batch: 2,
          threads: 1,
          warmup: 0,
          repeats: 1,
          shape: [28, 28, 1],
        }),
      /torch_peer\.py failed \(exit 1\): .*unknown architecture 'nosuch'/,
    );
  },
});
