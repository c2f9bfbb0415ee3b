// Tests for lib/data/fetch.ts: the manual instructions, the apt-get command lines, the MD5 helper and what
// ensureDataset() says when the download fails and a fallback works (or does not).
import assert from "node:assert/strict";
import { aptCommands, ensureDataset, instructions, md5Hex } from "../../../lib/data/fetch.ts";
import { DATASETS } from "../../../lib/data/registry.ts";
import { captureStderr } from "../util/stderr.ts";

Deno.test("instructions: exact commands for each dataset", () => {
  assert.match(instructions(DATASETS["fashion-mnist"]), /`sudo apt-get install dataset-fashion-mnist`/);
  assert.match(instructions(DATASETS["fashion-mnist"]), /data\/fashion-mnist\//);
  assert.match(instructions(DATASETS.mnist), /train-images-idx3-ubyte\.gz.*data\/mnist\//);
  const c = instructions(DATASETS.cifar10);
  assert.match(c, /cifar-10-binary\.tar\.gz/);
  assert.match(c, /tar -xzf cifar-10-binary\.tar\.gz -C data\/cifar10/);
  assert.match(c, /data\/cifar10\/cifar-10-batches-bin\/data_batch_1\.bin/);
  const c100 = instructions(DATASETS.cifar100);
  assert.match(c100, /tar -xzf cifar-100-binary\.tar\.gz -C data\/cifar100/);
  assert.match(c100, /data\/cifar100\/cifar-100-binary\/train\.bin/);
  assert.match(instructions(DATASETS.rimagenet), /train\/ and val\/.*wnid.*data\/imagenet\//);
});

Deno.test("aptCommands: non-interactive install/update, sudo -n only when not root", () => {
  const root = aptCommands({ sudo: false });
  assert.deepEqual(root.install, [
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "install",
    "-y",
    "-q",
    "dataset-fashion-mnist",
  ]);
  assert.deepEqual(root.update, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"]);
  const user = aptCommands({ sudo: true });
  assert.deepEqual(user.install.slice(0, 2), ["sudo", "-n"]);
  assert.deepEqual(user.install.slice(2), root.install);
});

Deno.test("md5Hex: RFC 1321 test vectors", () => {
  const enc = new TextEncoder();
  assert.equal(md5Hex(new Uint8Array(0)), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(md5Hex(enc.encode("abc")), "900150983cd24fb0d6963f7d28e17f72");
});

Deno.test("ensureDataset(): a failed download is not announced when the Debian package works; it says what it used", async () => {
  const info = DATASETS["fashion-mnist"];
  const failed = () => Promise.resolve({ failed: "connect timed out after 4000 ms" });
  const r = await captureStderr(() =>
    ensureDataset(info, {
      download: failed,
      apt: () => Promise.resolve({ dir: "/usr/share/datasets/fashion-mnist", pkg: "dataset-fashion-mnist" }),
    })
  );
  assert.equal(r.value, "/usr/share/datasets/fashion-mnist");
  assert.equal(
    r.text,
    "fashion-mnist: using the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)\n",
  );
  // nothing worked: the error carries the download's failure and the commands
  const none = await captureStderr(() =>
    ensureDataset(info, { download: failed, apt: () => Promise.resolve(null) }).catch((e: Error) => e.message)
  );
  assert.match(
    none.value,
    /^dataset fashion-mnist not found in data\/fashion-mnist or \/usr\/share\/datasets\/fashion-mnist and its download failed \(connect timed out after 4000 ms\): install it with/,
  );
  assert.equal(none.text, "");
  const ok = await ensureDataset(info, {
    download: () => Promise.resolve({ dir: "data/fashion-mnist" }),
    apt: () => Promise.reject(new Error("not reached")),
  });
  assert.equal(ok, "data/fashion-mnist");
});
