"""The training arithmetic of split learning, as plain functions.

The engine calls these at the simulated instants where each step happens; the overhead
benchmark calls the very same functions in a bare loop. Nothing here knows about time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fedsl_sim.scenario import OptimizerConfig


def make_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """An optimizer from its scenario block (``sgd`` with momentum, or ``adam``)."""
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def client_forward(model: nn.Module, x: Tensor) -> Tensor:
    """Forward pass of the client-side part; the graph is kept for :func:`client_backward`."""
    model.train()
    return model(x)


def server_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, acts: Tensor, y: Tensor
) -> tuple[float, Tensor]:
    """Server forward, cross-entropy loss, backward and optimizer step.

    Parameters
    ----------
    acts : (B, ...) split-layer activations as received (already dropout-reconstructed).
    y : (B,) int64 labels.

    Returns
    -------
    loss : mean cross-entropy of the batch before the step.
    grad : (B, ...) gradient of the loss with respect to ``acts``.
    """
    model.train()
    inp = acts.detach().requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(inp), y)
    loss.backward()
    optimizer.step()
    assert inp.grad is not None
    return float(loss.detach()), inp.grad


def client_backward(acts: Tensor, grad: Tensor, optimizer: torch.optim.Optimizer) -> None:
    """Back-propagate the received split-layer gradient through the client part and step."""
    optimizer.zero_grad(set_to_none=True)
    acts.backward(grad)
    optimizer.step()


def local_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor) -> float:
    """One local SGD step of an unsplit model (FL): forward, cross-entropy, backward, step.
    Returns the batch's mean loss before the step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def fedavg(states: Sequence[dict[str, Tensor]], weights: Sequence[float]) -> dict[str, Tensor]:
    """Weighted average of state dicts (FedAvg).

    Floating tensors (parameters, BatchNorm statistics) are averaged with ``weights``
    normalised to sum 1; integer buffers (``num_batches_tracked``) take the maximum.
    """
    if not states:
        raise ValueError("fedavg needs at least one state")
    if len(states) != len(weights):
        raise ValueError(f"fedavg: {len(states)} states but {len(weights)} weights")
    total = float(sum(weights))
    if total <= 0:
        raise ValueError(f"fedavg: weights must sum to > 0, got {total}")
    coeffs = [w / total for w in weights]
    out: dict[str, Tensor] = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            acc = first.detach().clone().mul_(coeffs[0])
            for state, c in zip(states[1:], coeffs[1:], strict=True):
                acc.add_(state[key].detach(), alpha=c)
            out[key] = acc
        else:
            out[key] = torch.stack([s[key] for s in states]).max(0).values.clone()
    return out


@torch.no_grad()
def evaluate(
    client: nn.Module, server: nn.Module, x: Tensor, y: Tensor, batch_size: int
) -> tuple[float, float]:
    """Test accuracy (fraction in [0, 1]) and mean cross-entropy of client∘server on (x, y)."""
    client.eval()
    server.eval()
    correct = 0
    loss_sum = 0.0
    for start in range(0, len(y), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = server(client(xb))
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    n = len(y)
    return correct / n, loss_sum / n
