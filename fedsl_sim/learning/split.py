"""The training arithmetic of split learning, as plain functions.

The engine calls these at the simulated instants where each step happens; the overhead
benchmark calls the very same functions in a bare loop. Nothing here knows about time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fedsl_sim.learning.optim import SGD, Optimizer


class DivergedError(ArithmeticError):
    """Training diverged: a loss or a split-layer activation is not finite (e.g. a learning
    rate far too large). The engine ends the run cleanly (``stop_reason: diverged``)."""


def check_finite(x: Tensor | float, what: str) -> None:
    """Raise :class:`DivergedError` if ``x`` (a loss or a tensor) holds NaN or infinity."""
    ok = math.isfinite(x) if isinstance(x, float) else bool(torch.isfinite(x).all())
    if not ok:
        raise DivergedError(f"training diverged: the {what} is not finite")


def resolve_device(name: str) -> torch.device:
    """The torch device of ``learning.compute_device``: ``cpu``, ``cuda[:N]`` or ``auto``
    (the current CUDA device when available, else the CPU).

    Raises
    ------
    ValueError
        CUDA asked for but not available, or no such CUDA device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"expected a machine with CUDA for {name!r} (torch {torch.__version__} sees "
                "none); use 'auto' to fall back to the CPU"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"expected a CUDA device index < {torch.cuda.device_count()}, got {name!r}"
            )
    return device


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer: ``sgd`` (with ``momentum``) or ``adam``; learning rate ``lr``, L2
    ``weight_decay``."""

    name: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ("sgd", "adam"):
            raise ValueError(f"optimizer: expected sgd or adam, got {self.name!r}")
        if not self.lr > 0 or not 0 <= self.momentum <= 1 or not self.weight_decay >= 0:
            raise ValueError(f"optimizer: invalid hyper-parameters {self}")


def make_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerSpec) -> Optimizer:
    """An optimizer of spec ``cfg``: ``sgd`` with momentum (:class:`~fedsl_sim.learning.optim.SGD`,
    torch.optim.SGD's arithmetic), or ``adam`` (``torch.optim.Adam``)."""
    if cfg.name == "sgd":
        return SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def client_forward(model: nn.Module, x: Tensor) -> Tensor:
    """Forward pass of the client-side part; the graph is kept for :func:`client_backward`."""
    model.train()
    return model(x)


def server_gradients(
    model: nn.Module, acts: Tensor, y: Tensor
) -> tuple[float, Tensor, list[Tensor | None]]:
    """Server forward, cross-entropy loss and backward against the model as it is now; the
    model is not changed (its parameters' gradients are handed back, not left in place).

    Parameters
    ----------
    acts : (B, ...) split-layer activations as received (already dropout-reconstructed).
    y : (B,) int64 labels.

    Returns
    -------
    loss : mean cross-entropy of the batch.
    grad : (B, ...) gradient of the loss with respect to ``acts``.
    param_grads : gradient of each of ``model.parameters()`` (None where it gets none).
    """
    model.train()
    params = list(model.parameters())
    for p in params:
        p.grad = None
    inp = acts.detach().requires_grad_(True)
    loss = F.cross_entropy(model(inp), y)
    check_finite(float(loss.detach()), "server's loss")
    loss.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = None
    assert inp.grad is not None
    return float(loss.detach()), inp.grad, grads


def apply_gradients(model: nn.Module, optimizer: Optimizer, grads: Sequence[Tensor | None]) -> None:
    """One optimizer step of ``model`` with the given gradients of its parameters (as
    :func:`server_gradients` returned them, possibly computed against an earlier state)."""
    optimizer.zero_grad(set_to_none=True)
    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def server_step(
    model: nn.Module, optimizer: Optimizer, acts: Tensor, y: Tensor
) -> tuple[float, Tensor]:
    """Server forward, cross-entropy loss, backward and optimizer step at once
    (:func:`server_gradients` then :func:`apply_gradients`). Returns the loss before the
    step and the gradient with respect to ``acts``."""
    loss, grad, grads = server_gradients(model, acts, y)
    apply_gradients(model, optimizer, grads)
    return loss, grad


def client_backward(acts: Tensor, grad: Tensor, optimizer: Optimizer) -> None:
    """Back-propagate the received split-layer gradient through the client part and step."""
    optimizer.zero_grad(set_to_none=True)
    acts.backward(grad)
    optimizer.step()


def local_step(model: nn.Module, optimizer: Optimizer, x: Tensor, y: Tensor) -> float:
    """One local SGD step of an unsplit model (FL): forward, cross-entropy, backward, step.
    Returns the batch's mean loss before the step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    check_finite(float(loss.detach()), "device's loss")
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def fedavg(states: Sequence[Mapping[str, Tensor]], weights: Sequence[float]) -> dict[str, Tensor]:
    """Weighted average of state dicts (FedAvg), key by key over the states that hold the key.

    Floating tensors (parameters, BatchNorm statistics) are averaged with the weights of the
    states holding the key, normalised to sum 1; integer buffers (``num_batches_tracked``)
    take the maximum. When every state holds every key this is plain FedAvg; partial states
    average a model whose parts are held by different subsets (per-device split layers:
    each layer over the copies that trained it). Keys come out in order of first appearance.
    """
    if not states:
        raise ValueError("fedavg needs at least one state")
    if len(states) != len(weights):
        raise ValueError(f"fedavg: {len(states)} states but {len(weights)} weights")
    holders: dict[str, list[int]] = {}
    for i, state in enumerate(states):
        for key in state:
            holders.setdefault(key, []).append(i)
    out: dict[str, Tensor] = {}
    for key, idx in holders.items():
        total = float(sum(weights[i] for i in idx))
        if total <= 0:
            raise ValueError(f"fedavg: weights of the states holding {key!r} sum to {total}")
        first = states[idx[0]][key]
        if first.is_floating_point():
            acc = first.detach().clone().mul_(weights[idx[0]] / total)
            for i in idx[1:]:
                acc.add_(states[i][key].detach(), alpha=weights[i] / total)
            out[key] = acc
        else:
            out[key] = torch.stack([states[i][key] for i in idx]).max(0).values.clone()
    return out


@torch.no_grad()
def evaluate(
    client: nn.Module, server: nn.Module, x: Tensor, y: Tensor, batch_size: int
) -> tuple[float, float]:
    """Test accuracy (fraction in [0, 1]) and mean cross-entropy of client∘server on (x, y)."""
    client.eval()
    server.eval()
    device = next((p.device for p in client.parameters()), x.device)
    correct = 0
    loss_sum = 0.0
    for start in range(0, len(y), batch_size):
        xb = x[start : start + batch_size].to(device)
        yb = y[start : start + batch_size].to(device)
        logits = server(client(xb))
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    n = len(y)
    return correct / n, loss_sum / n
