"""Batched device work: can one call for many devices beat the sequential per-device loop?

The question behind ``execution: batched`` (issue: >= 3x faster than sequential on 100
devices, small CNN, FL, CPU). Each of ``--devices`` devices holds its own copy of the small
CNN (the shipped ``small_cnn`` architecture, rebuilt here with plain torch) and takes one
local SGD step on its own mini-batch. Three ways, same arithmetic up to float reassociation:

* ``sequential``: a loop over the devices — forward, backward, ``torch.optim.SGD`` step
  (what fedsl-sim and every peer do);
* ``vmap``: ``torch.func.vmap(grad_and_value(functional_call(...)))`` over the devices'
  stacked parameters, then each device's optimizer step;
* ``grouped``: the devices' convolutions as one grouped convolution (``groups=devices``), the
  linear layers as batched matrix products, one backward, one stacked SGD update.

It imports nothing of fedsl_sim. Prints the per-round wall of each (best of ``--repeats``
alternated runs after a warm-up) and last ``ratio vmap <seq/vmap> grouped <seq/grouped>``
(> 1: batched is faster).

Usage::

    .venv/bin/python benchmarks/batched_steps.py [--devices 100] [--batch 32] [--hw 8]
        [--channels 1] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

LR = 0.05


def small_cnn(c: int, hw: int) -> nn.Sequential:
    flat = 64 * (hw // 4) * (hw // 4)
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hw", type=int, default=8, help="image height and width (digits: 8)")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d, b, c, hw = args.devices, args.batch, args.channels, args.hw
    models = [small_cnn(c, hw) for _ in range(d)]
    opts = [torch.optim.SGD(m.parameters(), lr=LR) for m in models]
    x = torch.randn(d, b, c, hw, hw)
    y = torch.randint(0, 10, (d, b))

    def sequential() -> None:
        for k in range(d):
            opts[k].zero_grad(set_to_none=True)
            F.cross_entropy(models[k](x[k]), y[k]).backward()
            opts[k].step()

    template = small_cnn(c, hw)
    names = [n for n, _ in template.named_parameters()]

    def loss_of(
        params: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor
    ) -> torch.Tensor:
        return F.cross_entropy(functional_call(template, params, (xb,)), yb)

    per_device = vmap(grad_and_value(loss_of))

    def vmapped() -> None:
        with torch.no_grad():
            stacked = {
                n: torch.stack([dict(m.named_parameters())[n] for m in models]) for n in names
            }
        grads, _ = per_device(stacked, x, y)
        for k in range(d):
            for n, p in models[k].named_parameters():
                p.grad = grads[n][k]
            opts[k].step()

    # grouped: the devices' parameters stacked once (a batched engine would keep them so)
    flat = 64 * (hw // 4) * (hw // 4)
    shapes = [(16, c, 3, 3), (16,), (32, 16, 3, 3), (32,), (64, 32, 3, 3), (64,)]
    shapes += [(128, flat), (128,), (10, 128), (10,)]
    weights = [(torch.randn(d, *s) * 0.05).requires_grad_() for s in shapes]

    def conv(h: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            h, w.reshape(-1, *w.shape[2:]), bias.reshape(-1), padding=1, groups=w.shape[0]
        )

    def grouped() -> None:
        w = weights
        h = x.transpose(0, 1).reshape(b, d * c, hw, hw)
        h = F.relu(conv(h, w[0], w[1]))
        h = F.max_pool2d(F.relu(conv(h, w[2], w[3])), 2)
        h = F.max_pool2d(F.relu(conv(h, w[4], w[5])), 2)
        h = h.reshape(b, d, -1).transpose(0, 1)  # (devices, batch, flat)
        h = F.relu(torch.baddbmm(w[7][:, None, :], h, w[6].transpose(1, 2)))
        out = torch.baddbmm(w[9][:, None, :], h, w[8].transpose(1, 2))
        # the sum over devices of each device's mean loss: each device's own gradient
        loss = F.cross_entropy(out.reshape(d * b, 10), y.reshape(-1), reduction="sum") / b
        grads = torch.autograd.grad(loss, w)
        with torch.no_grad():
            for p, g in zip(w, grads, strict=True):
                p.sub_(LR * g)

    ways: dict[str, Callable[[], None]] = {
        "sequential": sequential,
        "vmap": vmapped,
        "grouped": grouped,
    }
    for fn in ways.values():  # warm-up
        fn()
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(args.repeats):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, wall in best.items():
        print(f"{name:10s} {wall * 1e3:8.1f} ms per step of {d} devices")
    seq = best["sequential"]
    print(f"ratio vmap {seq / best['vmap']:.2f} grouped {seq / best['grouped']:.2f}")


if __name__ == "__main__":
    main()
