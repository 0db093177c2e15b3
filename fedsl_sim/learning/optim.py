"""Plain SGD with momentum: torch.optim.SGD's arithmetic on the CPU, without its machinery.

:class:`SGD` performs exactly the operations of ``torch.optim.SGD``'s single-tensor path (the
one torch takes for CPU tensors; dampening 0, no Nesterov) in the same order, so a run is
bit-identical with either (tested). It exists because torch.optim imports torch's compiler
(``torch._dynamo``, about 1 s of start-up) on first use and wraps every step in hooks,
profiler records and compiler guards (about 0.25 ms a step); a co-simulation takes thousands
of small steps. Adam stays torch's (``torch.optim.Adam``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch
from torch import Tensor, nn


class Optimizer(Protocol):
    """What the training functions need of an optimizer (torch's or :class:`SGD`)."""

    def step(self) -> Any: ...

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


class SGD:
    """``p -= lr * b`` with ``b = g`` at the first step and ``b = momentum * b + g`` after,
    ``g`` the gradient plus ``weight_decay * p`` (L2).

    Parameters
    ----------
    params : the parameters to optimise (a parameter without a gradient is skipped).
    lr : learning rate, > 0.
    momentum : momentum factor in [0, 1] (0: plain SGD, no buffers).
    weight_decay : L2 penalty, >= 0.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr > 0 or not 0 <= momentum <= 1 or not weight_decay >= 0:
            raise ValueError(
                f"expected lr > 0, 0 <= momentum <= 1, weight_decay >= 0; got lr={lr}, "
                f"momentum={momentum}, weight_decay={weight_decay}"
            )
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.momentum_buffers: list[Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            if self.weight_decay != 0:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = grad.detach().clone()
                    self.momentum_buffers[i] = buf
                else:
                    buf.mul_(self.momentum).add_(grad, alpha=1)
                grad = buf
            param.add_(grad, alpha=-self.lr)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for param in self.params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_()
                param.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """The state in torch's layout: ``state`` maps a parameter's position to its
        ``momentum_buffer`` (a reference, as torch's optimizers return theirs; only the
        buffers that exist), ``param_groups`` holds the settings."""
        return {
            "state": {
                i: {"momentum_buffer": buf}
                for i, buf in enumerate(self.momentum_buffers)
                if buf is not None
            },
            "param_groups": [
                {
                    "lr": self.lr,
                    "momentum": self.momentum,
                    "dampening": 0.0,
                    "weight_decay": self.weight_decay,
                    "nesterov": False,
                    "params": list(range(len(self.params))),
                }
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the momentum buffers of a :meth:`state_dict` of the same parameters."""
        groups = state_dict["param_groups"]
        n = sum(len(g["params"]) for g in groups)
        if n != len(self.params):
            raise ValueError(f"expected the state of {len(self.params)} parameters, got {n}")
        state = state_dict["state"]
        self.momentum_buffers = [state.get(i, {}).get("momentum_buffer") for i in range(n)]
