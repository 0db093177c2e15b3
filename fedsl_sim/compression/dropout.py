"""Random dropout of split-layer activations (SplitFC-style, Oh et al. 2023).

Each activation entry is kept with probability ``1 - p`` and kept entries are scaled by
``1 / (1 - p)``, so ``E[apply(x, mask)] = x``. Only the kept entries go on air: the server
regenerates the same mask from a seed shared with the device (both sides draw from
generators derived from the same seed tree), so **the mask itself costs no bits**; the
caller accounts ``kept * value_bits`` for the activations. The gradient of a dropped entry
is zero, so the downlink split-layer gradient shrinks the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["ActivationDropout"]


class ActivationDropout:
    """Activation dropout at rate ``p`` with inverse scaling.

    Parameters
    ----------
    rate : float
        Drop probability ``p`` of each entry, ``0 <= p < 1``. ``p == 0`` is off: no mask,
        no randomness consumed, tensors returned unchanged.
    """

    def __init__(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def __repr__(self) -> str:
        return f"ActivationDropout(rate={self.rate})"

    @property
    def is_off(self) -> bool:
        """True when ``rate == 0``."""
        return self.rate == 0.0

    def sample_mask(
        self,
        shape: Sequence[int] | torch.Size,
        generator: torch.Generator,
        device: torch.device | str | None = None,
    ) -> Tensor | None:
        """Bool keep-mask of ``shape``: each entry True with probability ``1 - p``.

        ``mask = U < 1 - p`` with ``U ~ Uniform[0, 1)`` drawn (float64, one per entry) on
        the generator's device, then moved to ``device`` (default: the generator's). Returns
        None when ``p == 0``, without touching ``generator``.
        """
        if self.is_off:
            return None
        draws = torch.rand(
            tuple(shape), generator=generator, dtype=torch.float64, device=generator.device
        )
        mask = draws < (1.0 - self.rate)
        return mask if device is None else mask.to(device)

    def _check(self, t: Tensor, mask: Tensor, name: str) -> None:
        if mask.shape != t.shape:
            raise ValueError(
                f"mask shape must equal {name} shape {tuple(t.shape)}, got {tuple(mask.shape)}"
            )

    def apply(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """Dropped-and-rescaled activations ``x * mask / (1 - p)``, shape of ``x``.

        Returns ``x`` itself when ``mask`` is None. Differentiable in ``x``.
        """
        if mask is None:
            return x
        self._check(x, mask, "x")
        return x * mask / (1.0 - self.rate)

    def grad_to_client(self, grad: Tensor, mask: Tensor | None) -> Tensor:
        """Gradient w.r.t. the pre-dropout activations: ``grad * mask / (1 - p)``.

        ``grad`` is the gradient w.r.t. ``apply(x, mask)`` (what the server computes); this
        is the chain rule through :meth:`apply`. Returns ``grad`` itself when ``mask`` is
        None.
        """
        if mask is None:
            return grad
        self._check(grad, mask, "grad")
        return grad * mask / (1.0 - self.rate)

    @staticmethod
    def kept(mask: Tensor | None, numel: int) -> int:
        """Number of kept entries: ``mask.sum()``, or ``numel`` when ``mask`` is None."""
        if mask is None:
            return numel
        if mask.numel() != numel:
            raise ValueError(f"numel must equal mask.numel() = {mask.numel()}, got {numel}")
        return int(mask.sum())

    @classmethod
    def payload_bits(cls, mask: Tensor | None, numel: int, value_bits: int = 32) -> int:
        """Bits on air for the kept entries: ``kept * value_bits`` (the mask is free)."""
        if isinstance(value_bits, bool) or not isinstance(value_bits, int) or value_bits < 1:
            raise ValueError(f"value_bits must be an integer >= 1, got {value_bits!r}")
        return cls.kept(mask, numel) * value_bits
