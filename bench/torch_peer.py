#!/usr/bin/env python3
"""PyTorch peer of `deno task bench --vs=torch`: the zoo models of lib/core/models.ts, layer for layer, timed the same way.

Prints one JSON object: {"torch": version, "ompWaitPolicy": ..., "threads": n, "models": {arch: {trainImgPerSec, inputGradImgPerSec,
forwardImgPerSec}}}. Same protocol as bench/bench.ts: a fixed random batch, Adam (lr 1e-3) train step in
training mode, input gradient of the softmax cross-entropy in eval mode, forward in eval mode without autograd;
`warmup` untimed calls, then the median of `repeats` timed ones. Debian: apt-get install python3-torch.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


def same_pad(k):
    """Padding of a 'same' convolution (tfjs pads the odd extra row at the bottom; the cost is the same)."""
    return k // 2


class ConvBn(nn.Module):
    """conv (no bias) + batch norm (+ relu): the ResNet unit of lib/core/models.ts."""

    def __init__(self, cin, cout, k, s=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, same_pad(k), bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.relu = relu

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) if self.relu else y


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.a = ConvBn(cin, cout, 3, s)
        self.b = ConvBn(cout, cout, 3, 1, relu=False)
        self.short = ConvBn(cin, cout, 1, s, relu=False) if s != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + (self.short(x) if self.short else x))


class Bottleneck(nn.Module):
    def __init__(self, cin, w, s):
        super().__init__()
        out = 4 * w
        self.body = nn.Sequential(ConvBn(cin, w, 1), ConvBn(w, w, 3, s), ConvBn(w, out, 1, relu=False))
        self.short = ConvBn(cin, out, 1, s, relu=False) if s != 1 or cin != out else None

    def forward(self, x):
        return F.relu(self.body(x) + (self.short(x) if self.short else x))


def resnet(cin, widths, blocks, block, classes):
    expansion = 4 if block is Bottleneck else 1
    layers = [ConvBn(cin, widths[0], 3)]
    c = widths[0]
    for stage, w in enumerate(widths):
        for b in range(blocks[stage]):
            layers.append(block(c, w, 2 if b == 0 and stage > 0 else 1))
            c = w * expansion
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin, eps=1e-5, momentum=0.1)
        self.conv = nn.Conv2d(cin, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], 1)


def densenet_small(cin, classes):
    layers = [nn.Conv2d(cin, 24, 3, 1, 1, bias=False)]
    c = 24
    for _ in range(3):
        layers.append(DenseLayer(c, 12))
        c += 12
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, 48, 1, bias=False), nn.AvgPool2d(2)]
    c = 48
    for _ in range(3):
        layers.append(DenseLayer(c, 12))
        c += 12
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


def conv(cin, cout, k, s=1, pad=True):
    return [nn.Conv2d(cin, cout, k, s, same_pad(k) if pad else 0), nn.ReLU()]


def vgg16(cin, hw, classes):
    layers, c = [], cin
    for n, w in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
        for _ in range(n):
            layers += [*conv(c, w, 3), nn.BatchNorm2d(w)]
            c = w
        layers.append(nn.MaxPool2d(2))
        hw //= 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * hw * hw, classes))


def build(arch, shape, classes=10):
    """The zoo model `arch` of lib/core/models.ts for inputs [h, w, c] (NCHW in PyTorch)."""
    h, w, c = shape
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(h * w * c, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, classes))
    if arch == "lenet":
        return nn.Sequential(*conv(c, 6, 5), nn.MaxPool2d(2), *conv(6, 16, 5, pad=False), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(16 * ((h // 2 - 4) // 2) ** 2, 120), nn.ReLU(),
                             nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes))
    if arch == "cnn":
        return nn.Sequential(*conv(c, 32, 3), *conv(32, 64, 3, 2), *conv(64, 64, 3, 2), nn.Flatten(),
                             nn.Linear(64 * ((h + 3) // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, classes))
    if arch == "vgg_small":
        return nn.Sequential(*conv(c, 32, 3), *conv(32, 32, 3), nn.MaxPool2d(2), *conv(32, 64, 3), *conv(64, 64, 3),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * (h // 4) ** 2, 256), nn.ReLU(),
                             nn.Linear(256, classes))
    if arch == "resnet_small":
        return resnet(c, [16, 32, 64], [1, 1, 1], BasicBlock, classes)
    if arch == "densenet_small":
        return densenet_small(c, classes)
    if arch == "resnet18":
        return resnet(c, [64, 128, 256, 512], [2, 2, 2, 2], BasicBlock, classes)
    if arch == "resnet50":
        return resnet(c, [64, 128, 256, 512], [3, 4, 6, 3], Bottleneck, classes)
    if arch == "vgg16":
        return vgg16(c, h, classes)
    raise SystemExit(f"torch_peer.py: unknown architecture {arch!r}")


def median_time(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        t.append(time.perf_counter() - s)
    return statistics.median(t)


def bench(arch, shape, batch, warmup, repeats, seed=0):
    torch.manual_seed(seed)
    m = build(arch, shape)
    h, w, c = shape
    x = torch.rand(batch, c, h, w)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)

    def train():
        m.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        opt.step()

    def input_grad():
        m.eval()
        xx = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(m(xx), y), xx)
        return g.numpy()

    def forward():
        m.eval()
        with torch.no_grad():
            return m(x).numpy()

    return {
        "trainImgPerSec": batch / median_time(train, warmup, repeats),
        "inputGradImgPerSec": batch / median_time(input_grad, warmup, repeats),
        "forwardImgPerSec": batch / median_time(forward, warmup, repeats),
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="cnn")
    p.add_argument("--shape", default="28,28,1", help="h,w,c of one image")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=9)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    shape = tuple(int(v) for v in a.shape.split(","))
    out = {
        "torch": torch.__version__,
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "threads": torch.get_num_threads(),
        "onednn": torch.backends.mkldnn.is_available(),
        "models": {arch: bench(arch, shape, a.batch, a.warmup, a.repeats) for arch in a.models.split(",")},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
