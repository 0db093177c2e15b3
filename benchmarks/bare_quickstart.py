"""The quickstart's training, end to end, against an independent bare PyTorch loop.

The co-simulator runs ``scenarios/quickstart.yaml`` (lightweight FedSL, small CNN on the
digits, 10 devices, split after layer 2, batch 32, SGD 0.05 with momentum 0.9 on both sides,
pruning ramped to 0.3, 8-bit stochastic quantization of the split-layer gradient, activation
dropout 0.25, FedAvg every 5 rounds, evaluation every 5 rounds) for ``--rounds`` rounds with
``fedsl_sim.run`` (world, channel, medium, queueing, recorder and CSV outputs included; no
plots). The bare loop does the same steps with its own code — it imports nothing of
fedsl_sim: its own model, data split, dropout, quantizer, magnitude pruning and FedAvg — so it
is what a researcher would write by hand without a network simulator: the same number of
split steps, the same tensor shapes and the same work per step, not the same random draws.

Both run with one torch thread; the walls are the best of ``--repeats`` alternated runs after
one untimed warm-up each. Prints both walls and last ``ratio <co-sim wall / bare wall>``
(target <= 1.10).

Usage::

    .venv/bin/python benchmarks/bare_quickstart.py [--rounds 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEVICES, SPLIT, BATCH, LR, MOMENTUM = 10, 2, 32, 0.05, 0.9
PRUNE_RATE, PRUNE_RAMP_END, PRUNE_EVERY = 0.3, 30, 5
BITS, DROPOUT, INTERVAL, EVAL_EVERY, ALPHA = 8, 0.25, 5, 5, 0.5


def small_cnn(seed: int) -> list[nn.Module]:
    torch.manual_seed(seed)  # PyTorch's default initialisation, seeded
    return [
        nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU()),
        nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU()),
        nn.Sequential(nn.Linear(128, 10)),
    ]


def digits(rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.int64)
    order = rng.permutation(len(y))
    cut = int(0.8 * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def dirichlet_shards(y: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    shards: list[list[int]] = [[] for _ in range(DEVICES)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = (np.cumsum(rng.dirichlet([ALPHA] * DEVICES))[:-1] * len(idx)).astype(int)
        for k, part in enumerate(np.split(idx, cuts)):
            shards[k].extend(part.tolist())
    return [rng.permutation(np.asarray(s if s else [0])) for s in shards]


def quantize(g: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unbiased stochastic uniform quantization on [min, max] with 2**BITS levels."""
    lo, hi = float(g.min()), float(g.max())
    if hi == lo:
        return g.clone()
    step = (hi - lo) / (2**BITS - 1)
    u = (g - lo) / step
    low = torch.floor(u)
    up = torch.rand(u.shape, generator=generator) < (u - low)
    return lo + (low + up) * step


def prune_masks(model: nn.Module, rate: float) -> list[torch.Tensor]:
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    flat = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(rate * flat.numel())
    if k == 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    threshold = torch.kthvalue(flat, k).values
    return [w.detach().abs() > threshold for w in weights]


def apply_masks(model: nn.Module, masks: list[torch.Tensor]) -> None:
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    with torch.no_grad():
        for w, m in zip(weights, masks, strict=True):
            w.mul_(m)


def bare_loop(rounds: int, seed: int = 7) -> float:
    """The quickstart's arithmetic without simulation; returns the last test accuracy."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y, test_x, test_y = digits(rng)
    shards = dirichlet_shards(train_y.numpy(), rng)
    layers = small_cnn(seed)
    global_client = nn.Sequential(*layers[:SPLIT])
    server = nn.Sequential(*layers[SPLIT:])
    server_opt = torch.optim.SGD(server.parameters(), lr=LR, momentum=MOMENTUM)
    clients = [copy.deepcopy(global_client) for _ in range(DEVICES)]
    opts = [torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM) for m in clients]
    masks: list[list[torch.Tensor] | None] = [None] * DEVICES
    cursor = [0] * DEVICES
    sizes = np.array([len(s) for s in shards], dtype=float)
    acc = math.nan
    for r in range(rounds):
        if r % PRUNE_EVERY == 0:
            rate = PRUNE_RATE * min(1.0, r / PRUNE_RAMP_END)
            masks = [prune_masks(m, rate) for m in clients]
        for k in range(DEVICES):
            shard = shards[k]
            idx = [shard[(cursor[k] + i) % len(shard)] for i in range(BATCH)]
            cursor[k] += BATCH
            x, y = train_x[idx], train_y[idx]
            clients[k].train()
            acts = clients[k](x)
            keep = torch.rand(acts.shape, generator=gen) >= DROPOUT
            sent = torch.where(keep, acts.detach() / (1 - DROPOUT), 0.0).requires_grad_(True)
            server_opt.zero_grad()
            loss = F.cross_entropy(server(sent), y)
            loss.backward()
            server_opt.step()
            assert sent.grad is not None
            grad = torch.zeros_like(sent.grad)
            grad[keep] = quantize(sent.grad[keep], gen)
            opts[k].zero_grad()
            acts.backward(torch.where(keep, grad / (1 - DROPOUT), 0.0))
            opts[k].step()
            mask = masks[k]
            if mask is not None:
                apply_masks(clients[k], mask)
        if (r + 1) % INTERVAL == 0:
            states = [m.state_dict() for m in clients]
            weights = sizes / sizes.sum()
            avg = {
                key: sum(float(w) * s[key] for w, s in zip(weights, states, strict=True))
                for key in states[0]
            }
            global_client.load_state_dict(avg)
            for m in clients:
                m.load_state_dict(avg)
        if (r + 1) % EVAL_EVERY == 0:
            with torch.no_grad():
                global_client.eval()
                server.eval()
                logits = server(global_client(test_x))
                acc = float((logits.argmax(1) == test_y).float().mean())
    return acc


def co_sim(rounds: int, out: Path) -> float:
    import fedsl_sim

    sc = fedsl_sim.load_scenario(
        "scenarios/quickstart.yaml",
        overrides={"stop.max_rounds": rounds, "stop.target_accuracy": None},
    )
    res = fedsl_sim.run(sc, out_dir=out, plots=False)
    return float(res.summary["final_test_accuracy"] or math.nan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    co_times, bare_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        co_sim(2, Path(tmp) / "warm")
        bare_loop(2)
        for i in range(args.repeats):
            t0 = time.perf_counter()
            co_acc = co_sim(args.rounds, Path(tmp) / f"run{i}")
            co_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare_acc = bare_loop(args.rounds)
            bare_times.append(time.perf_counter() - t0)
    co, bare = min(co_times), min(bare_times)
    print(f"co-sim wall  {co:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in co_times)})")
    print(f"bare wall    {bare:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare_times)})")
    print(f"final test accuracy: co-sim {co_acc:.3f}, bare loop {bare_acc:.3f}")
    print(f"ratio {co / bare:.3f}")


if __name__ == "__main__":
    main()
