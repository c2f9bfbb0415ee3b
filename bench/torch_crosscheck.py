#!/usr/bin/env python3
"""Independent cross-check of Section 3.1 (claim 2) in PyTorch: our models under PyTorch's attacks, PyTorch's
trainer on our exported sets.

Two halves, so a gap between our pipeline and an independent one can be located (the claim-2 issue's item f):
  attack: loads the fresh cnn models our run trained on D_R and on the size-matched control (tfjs model.json +
          weights.bin from out/cache/model), checks that PyTorch reproduces their clean accuracy, and measures
          robust accuracy with our evaluation (L2 PGD, 20 steps of 2.5 eps / 20, no restart) and a stronger one
          (cross-entropy and margin loss, more steps, random restarts; an example counts as robust only if
          every attack fails on it).
  train:  trains the same cnn layers in PyTorch (Adam 1e-3, cosine, batch 128, like our fresh recipe) on the
          run's exported d_r and control sets (out/sec3_1/{d_r,control}_{x,y}.npy) and evaluates them the same
          way.
Prints one JSON object. Debian: apt-get install python3-torch python3-numpy.

  /usr/bin/python3 bench/torch_crosscheck.py --run=out/sec3_1 --cache=out/cache --eps=0.5,1 --seeds=0,1,2
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    """An IDX file (gzip or plain) as a numpy array."""
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def tf_same_pad(x, k, s):
    """tfjs 'same' padding: the odd extra row and column go to the bottom and right."""
    h, w = x.shape[2], x.shape[3]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class Cnn(nn.Module):
    """lib/core/models.ts `cnn`: conv 32 3x3, conv 64 3x3 /2, conv 64 3x3 /2 (relu, 'same'), dense 128 relu, dense k.
    Takes NHWC images in [0,1] and flattens in NHWC order, so tfjs weights load unchanged."""

    def __init__(self, h=28, w=28, c=1, k=10):
        super().__init__()
        self.c0 = nn.Conv2d(c, 32, 3)
        self.c1 = nn.Conv2d(32, 64, 3, 2)
        self.c2 = nn.Conv2d(64, 64, 3, 2)
        oh, ow = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
        self.d0 = nn.Linear(oh * ow * 64, 128)
        self.d1 = nn.Linear(128, k)

    def forward(self, x):  # x: [n, h, w, c]
        x = x.permute(0, 3, 1, 2)
        x = F.relu(self.c0(tf_same_pad(x, 3, 1)))
        x = F.relu(self.c1(tf_same_pad(x, 3, 2)))
        x = F.relu(self.c2(tf_same_pad(x, 3, 2)))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.d1(F.relu(self.d0(x)))


def load_tfjs_cnn(d):
    """A cnn saved by lib/run/checkpoint.ts saveModel (model.json + weights.bin) as a PyTorch Cnn."""
    j = json.load(open(os.path.join(d, "model.json")))
    raw = np.fromfile(os.path.join(d, "weights.bin"), dtype=np.float32)
    ws, off = {}, 0
    for spec in j["weightsManifest"][0]["weights"]:
        n = int(np.prod(spec["shape"]))
        ws[spec["name"]] = raw[off:off + n].reshape(spec["shape"])
        off += n
    assert off == raw.size, f"{d}: {raw.size} floats, the manifest names {off}"
    names = sorted({k.split("/")[0] for k in ws}, key=lambda s: int(s.split("_")[1]))
    convs, denses = [n for n in names if n.startswith("conv")], [n for n in names if n.startswith("dense")]
    k = ws[denses[-1] + "/kernel"].shape[1]
    m = Cnn(k=k)
    with torch.no_grad():
        for layer, n in zip([m.c0, m.c1, m.c2], convs):
            layer.weight.copy_(torch.from_numpy(ws[n + "/kernel"]).permute(3, 2, 0, 1))  # HWIO -> OIHW
            layer.bias.copy_(torch.from_numpy(ws[n + "/bias"]))
        for layer, n in zip([m.d0, m.d1], denses):
            layer.weight.copy_(torch.from_numpy(ws[n + "/kernel"]).t())
            layer.bias.copy_(torch.from_numpy(ws[n + "/bias"]))
    return m.eval()


def l2n(v):
    return v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)


def margin_loss(logits, y):
    """Largest other logit minus the true one (ascending it pushes towards a misclassification)."""
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.clone()
    other.scatter_(1, y[:, None], -1e9)
    return other.max(1).values - true


def pgd_l2(model, x, y, eps, steps, step, loss="ce", random_start=False, gen=None):
    """Untargeted L2 PGD in [0,1]; returns the boolean 'still correct at the last iterate or any earlier one
    that was misclassified' per example (an example is broken if any iterate is misclassified)."""
    delta = torch.zeros_like(x)
    if random_start:
        r = torch.randn(x.shape, generator=gen)
        u = torch.rand(x.shape[0], generator=gen) ** (1 / x[0].numel())
        delta = r / l2n(r) * (u * eps).view(-1, 1, 1, 1)
        delta = (x + delta).clamp(0, 1) - x
    broken = torch.zeros(x.shape[0], dtype=torch.bool)
    for _ in range(steps):
        delta.requires_grad_(True)
        logits = model(x + delta)
        broken |= (logits.argmax(1) != y).detach()
        val = F.cross_entropy(logits, y, reduction="sum") if loss == "ce" else margin_loss(logits, y).sum()
        (g,) = torch.autograd.grad(val, delta)
        with torch.no_grad():
            d = delta + step * g / l2n(g)
            d = d * torch.clamp(eps / l2n(d), max=1.0)
            delta = (x + d).clamp(0, 1) - x
    with torch.no_grad():
        broken |= model(x + delta).argmax(1) != y
    return ~broken


def robust_acc(model, x, y, eps, attacks, bs=500, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ok = torch.ones(x.shape[0], dtype=torch.bool)
    for s in range(0, x.shape[0], bs):
        xb, yb = x[s:s + bs], y[s:s + bs]
        with torch.no_grad():
            okb = model(xb).argmax(1) == yb
        for a in attacks:
            if eps > 0:
                okb &= pgd_l2(model, xb, yb, eps, a["steps"], a["rel"] * eps / a["steps"], a["loss"],
                              a["random_start"], gen)
        ok[s:s + bs] = okb
    return ok.float().mean().item()


OURS = [dict(steps=20, rel=2.5, loss="ce", random_start=False)]
STRONG = [dict(steps=20, rel=2.5, loss="ce", random_start=False),
          dict(steps=50, rel=2.5, loss="ce", random_start=True),
          dict(steps=50, rel=2.5, loss="margin", random_start=False)]


def curve(model, x, y, eps_list, strong=False):
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
    out = {"clean": clean}
    for e in eps_list:
        out[f"pgd20@{e}"] = robust_acc(model, x, y, e, OURS)
        if strong:
            out[f"strong@{e}"] = robust_acc(model, x, y, e, STRONG)
    return out


def he_init(m):
    """lib/core/models.ts's initializers: He normal for the ReLU layers, Glorot uniform for the logits, zero biases."""
    with torch.no_grad():
        for layer in [m.c0, m.c1, m.c2, m.d0]:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            layer.bias.zero_()
        nn.init.xavier_uniform_(m.d1.weight)
        m.d1.bias.zero_()


def train_cnn(x, y, seed, epochs=10, bs=128, lr=1e-3, init="torch"):
    torch.manual_seed(seed)
    m = Cnn(k=int(y.max()) + 1)
    if init == "he":
        he_init(m)
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    n = x.shape[0]
    steps, t = epochs * math.ceil(n / bs), 0
    g = torch.Generator().manual_seed(seed)
    m.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            for pg in opt.param_groups:
                pg["lr"] = lr * 0.5 * (1 + math.cos(math.pi * t / steps))
            loss = F.cross_entropy(m(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            t += 1
    return m.eval()


def find_fresh(cache, arch="cnn"):
    """The cached fresh models of a sec3_1 run: {set name: dir}, the newest of each (role fresh_<set>)."""
    out = {}
    root = os.path.join(cache, "model")
    for h in os.listdir(root):
        mf = os.path.join(root, h, "manifest.json")
        if not os.path.exists(mf):
            continue
        m = json.load(open(mf))
        key = m["key"]
        name = str(key.get("data", {}).get("name", ""))
        if key.get("arch") != arch:
            continue
        for s in ["d_r", "d_nr", "random_subset"]:
            if name.startswith(s + "("):
                if s not in out or m["createdAt"] > out[s][1]:
                    out[s] = (os.path.join(root, h), m["createdAt"], name)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="out/sec3_1")
    ap.add_argument("--cache", default="out/cache")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--testSize", type=int, default=500)
    ap.add_argument("--eps", default="0.5,1")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--halves", default="attack,train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strong", action="store_true", help="also the stronger attack (slow: 6x PGD-20)")
    ap.add_argument("--sets", default="d_r,control,d_nr", help="exported sets the train half trains on")
    ap.add_argument("--init", default="torch", choices=["torch", "he"],
                    help="weight init of the train half: PyTorch's default, or ours (He normal, zero biases)")
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    eps = [float(e) for e in a.eps.split(",")]
    xt = torch.from_numpy(read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))[:a.testSize]
                          .astype(np.float32)[..., None] / 255)
    yt = torch.from_numpy(read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz"))[:a.testSize]
                          .astype(np.int64))
    report = {"testSize": int(xt.shape[0]), "eps": eps, "init": a.init, "epochs": a.epochs,
              "strongAttack": STRONG if a.strong else None}
    t0 = time.time()
    if "attack" in a.halves:
        found = find_fresh(a.cache)
        report["ours"] = {}
        for s, (d, created, name) in sorted(found.items()):
            print(f"attack half: {s} <- {d} ({name}, {created})", file=sys.stderr)
            report["ours"][s] = {"dir": d, **curve(load_tfjs_cnn(d), xt, yt, eps, a.strong)}
            print(json.dumps(report["ours"][s]), file=sys.stderr)
    if "train" in a.halves:
        report["torch"] = {}
        for s in a.sets.split(","):
            px = os.path.join(a.run, f"{s}_x.npy")
            if not os.path.exists(px):
                print(f"train half: no {px}; skipped", file=sys.stderr)
                continue
            x = torch.from_numpy(np.load(px).astype(np.float32))
            y = torch.from_numpy(np.load(os.path.join(a.run, f"{s}_y.npy")).astype(np.int64))
            for seed in [int(v) for v in a.seeds.split(",")]:
                m = train_cnn(x, y, seed, epochs=a.epochs, init=a.init)
                r = curve(m, xt, yt, eps, a.strong)
                report["torch"][f"{s}/seed{seed}"] = r
                print(f"train half: {s} seed {seed}: {json.dumps(r)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
