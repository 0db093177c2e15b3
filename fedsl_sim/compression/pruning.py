"""Unstructured weight pruning: methods, schedules, a mask tracker and model payload sizes.

The prunable parameters of a module are the ``weight`` of every ``nn.Conv2d`` and
``nn.Linear`` in ``module.named_modules()`` order (biases and normalisation layers are never
pruned). A mask is a bool tensor of the weight's shape, True = kept.

Pruning is "dynamic": at each update round of a :class:`PruningSchedule` the mask is
recomputed from the current weights (:meth:`Pruner.update`), so weights pruned earlier that
regrew (e.g. through FedAvg) can come back and others be pruned; between updates,
:meth:`Pruner.apply` after every optimizer step keeps pruned weights at exactly zero.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported where tensors are coded: checking a scenario's
    # codecs (building them) does not need it
    from torch import Tensor, nn

from fedsl_registry import Registry

__all__ = [
    "METHODS",
    "MagnitudePruning",
    "Pruner",
    "PruningMethod",
    "PruningSchedule",
    "model_payload_bits",
    "n_pruned",
    "prunable_parameters",
]

_FLOOR_REL_TOL = 1e-12
"""Relative slack in floor(rate * n) so that e.g. 0.29 * 100 = 28.999999999999996 gives 29."""


def _check_rate(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
    return float(rate)


def n_pruned(rate: float, n: int) -> int:
    """Number of entries pruned out of ``n`` at ``rate``: ``floor(rate * n)``.

    The product gets a ``1e-12`` relative slack against binary rounding of ``rate``.
    """
    rate = _check_rate(rate)
    return min(n, math.floor(rate * n * (1.0 + _FLOOR_REL_TOL)))


def prunable_parameters(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(qualified name, weight)`` of every ``nn.Conv2d`` / ``nn.Linear``, in
    ``module.named_modules()`` order (shared submodules once)."""
    from torch import nn

    out: list[tuple[str, nn.Parameter]] = []
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Conv2d, nn.Linear)):
            out.append((f"{name}.weight" if name else "weight", sub.weight))
    return out


class PruningMethod(ABC):
    """A pruning criterion: one method, :meth:`compute_mask`."""

    @abstractmethod
    def compute_mask(self, weights: Sequence[Tensor], rate: float) -> list[Tensor]:
        """Bool keep-masks (True = kept), one per tensor of ``weights``, same shapes.

        ``rate`` in ``[0, 1)`` is the fraction of weights to prune.
        """


METHODS: Registry[PruningMethod] = Registry("pruning method")


@METHODS.register("magnitude")
class MagnitudePruning(PruningMethod):
    """Prune the ``floor(rate * n)`` weights of smallest ``|w|``.

    Parameters
    ----------
    scope : {"global", "layer"}
        ``"global"``: one ranking over all tensors together (``n`` = total count; layers
        can end up with different densities); ``"layer"``: each tensor ``l`` separately
        loses ``floor(rate * n_l)``.

    Notes
    -----
    Ties in ``|w|`` are broken by flat index (lowest first; in ``"global"`` scope the
    index runs over the tensors concatenated in order), via a stable sort, so masks are
    deterministic.
    """

    def __init__(self, scope: Literal["global", "layer"] = "global") -> None:
        if scope not in ("global", "layer"):
            raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
        self.scope: Literal["global", "layer"] = scope

    def __repr__(self) -> str:
        return f"MagnitudePruning(scope={self.scope!r})"

    @staticmethod
    def _mask_flat(magnitudes: Tensor, k: int) -> Tensor:
        import torch

        keep = torch.ones(magnitudes.numel(), dtype=torch.bool, device=magnitudes.device)
        if k > 0:
            order = torch.sort(magnitudes, stable=True).indices
            keep[order[:k]] = False
        return keep

    def compute_mask(self, weights: Sequence[Tensor], rate: float) -> list[Tensor]:
        import torch

        rate = _check_rate(rate)
        if rate == 0.0 or not weights:
            return [torch.ones(w.shape, dtype=torch.bool, device=w.device) for w in weights]
        with torch.no_grad():
            if self.scope == "layer":
                return [
                    self._mask_flat(w.detach().abs().flatten(), n_pruned(rate, w.numel())).view(
                        w.shape
                    )
                    for w in weights
                ]
            device = weights[0].device
            flat = torch.cat([w.detach().abs().flatten().to(device) for w in weights])
            keep = self._mask_flat(flat, n_pruned(rate, flat.numel()))
            parts = torch.split(keep, [w.numel() for w in weights])
            return [p.view(w.shape).to(w.device) for p, w in zip(parts, weights, strict=True)]


class PruningSchedule:
    """Pruning rate per round and the rounds at which masks are recomputed.

    Parameters
    ----------
    kind : {"fixed", "ramp"}
        ``"fixed"``: ``rate`` from ``start_round`` on. ``"ramp"``: linear from 0 at
        ``start_round`` to ``rate`` at ``end_round``, then ``rate``.
    rate : float
        Target pruning rate in ``[0, 1)``.
    start_round : int
        First round (>= 0) with pruning; the rate is 0 before it.
    end_round : int or None
        ``"ramp"`` only (required, ``> start_round``); must be None for ``"fixed"``.
    update_every_rounds : int
        Masks are recomputed every this many rounds (>= 1) from ``start_round`` on.
    """

    def __init__(
        self,
        kind: Literal["fixed", "ramp"],
        rate: float,
        start_round: int = 0,
        end_round: int | None = None,
        update_every_rounds: int = 1,
    ) -> None:
        if kind not in ("fixed", "ramp"):
            raise ValueError(f"kind must be 'fixed' or 'ramp', got {kind!r}")
        self.rate = _check_rate(rate)
        if not _is_int(start_round) or start_round < 0:
            raise ValueError(f"start_round must be an integer >= 0, got {start_round!r}")
        if kind == "ramp":
            if end_round is None or not _is_int(end_round) or end_round <= start_round:
                raise ValueError(
                    f"end_round must be an integer > start_round = {start_round} for "
                    f"kind='ramp', got {end_round!r}"
                )
        elif end_round is not None:
            raise ValueError(f"end_round must be None for kind='fixed', got {end_round!r}")
        if not _is_int(update_every_rounds) or update_every_rounds < 1:
            raise ValueError(
                f"update_every_rounds must be an integer >= 1, got {update_every_rounds!r}"
            )
        self.kind: Literal["fixed", "ramp"] = kind
        self.start_round = start_round
        self.end_round = end_round
        self.update_every_rounds = update_every_rounds

    def __repr__(self) -> str:
        return (
            f"PruningSchedule(kind={self.kind!r}, rate={self.rate}, start_round="
            f"{self.start_round}, end_round={self.end_round}, "
            f"update_every_rounds={self.update_every_rounds})"
        )

    def rate_at(self, round: int) -> float:
        """Pruning rate at ``round`` (>= 0).

        fixed: ``0`` if ``round < start`` else ``rate``; ramp: ``0`` before ``start``,
        ``rate * (round - start) / (end - start)`` up to ``end``, then ``rate``.
        """
        if not _is_int(round) or round < 0:
            raise ValueError(f"round must be an integer >= 0, got {round!r}")
        if round < self.start_round:
            return 0.0
        if self.kind == "fixed" or self.end_round is None or round >= self.end_round:
            return self.rate
        return self.rate * (round - self.start_round) / (self.end_round - self.start_round)

    def is_update_round(self, round: int) -> bool:
        """True when masks are recomputed at ``round``: ``round >= start`` and
        ``(round - start) % update_every_rounds == 0`` (for both kinds, so pruning stays
        dynamic after the target rate is reached)."""
        if not _is_int(round) or round < 0:
            raise ValueError(f"round must be an integer >= 0, got {round!r}")
        return (
            round >= self.start_round and (round - self.start_round) % self.update_every_rounds == 0
        )


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Pruner:
    """Tracks and enforces keep-masks on a module's prunable weights.

    Parameters
    ----------
    method : PruningMethod
        Criterion used by :meth:`update`.

    Notes
    -----
    ``masks`` is None (dense) before the first :meth:`update` and after an update at rate
    0; then :meth:`apply` does nothing at all.
    """

    def __init__(self, method: PruningMethod) -> None:
        self.method = method
        self._masks: list[Tensor] | None = None

    def __repr__(self) -> str:
        return f"Pruner(method={self.method!r})"

    @property
    def masks(self) -> list[Tensor] | None:
        """Keep-masks per prunable weight (order of :func:`prunable_parameters`), or None."""
        return None if self._masks is None else list(self._masks)

    @masks.setter
    def masks(self, masks: list[Tensor] | None) -> None:
        """Restore masks (e.g. from a snapshot): as :attr:`masks` returned them, or None."""
        self._masks = None if masks is None else [m.detach() for m in masks]

    def update(self, module: nn.Module, rate: float) -> None:
        """Recompute the masks from ``module``'s current weights at ``rate``, then apply.

        At ``rate == 0`` the masks are cleared (dense) and ``module`` is left untouched.
        """
        rate = _check_rate(rate)
        if rate == 0.0:
            self._masks = None
            return
        weights = [p for _, p in prunable_parameters(module)]
        self._masks = [m.detach() for m in self.method.compute_mask(weights, rate)]
        self.apply(module)

    def _checked(self, module: nn.Module) -> list[tuple[nn.Parameter, Tensor]]:
        assert self._masks is not None
        params = [p for _, p in prunable_parameters(module)]
        return _pair_masks(params, self._masks)

    def apply(self, module: nn.Module) -> None:
        """Zero the pruned weights of ``module`` in place (no autograd); no-op when dense.

        Call after every optimizer step: momentum or weight decay would otherwise regrow
        them.
        """
        import torch

        if self._masks is None:
            return
        with torch.no_grad():
            for p, m in self._checked(module):
                p.masked_fill_(~m, 0.0)

    def densities(self, module: nn.Module) -> list[float]:
        """Fraction of kept weights per prunable layer, in order (all 1.0 when dense)."""
        if self._masks is None:
            return [1.0 for _ in prunable_parameters(module)]
        return [int(m.sum()) / m.numel() if m.numel() else 1.0 for _, m in self._checked(module)]


def _pair_masks(params: Sequence[Tensor], masks: Sequence[Tensor]) -> list[tuple[Tensor, Tensor]]:
    import torch

    if len(masks) != len(params):
        raise ValueError(
            f"masks must have one entry per prunable weight ({len(params)}), got {len(masks)}"
        )
    for i, (p, m) in enumerate(zip(params, masks, strict=True)):
        if m.shape != p.shape or m.dtype != torch.bool:
            raise ValueError(
                f"masks[{i}] must be a bool tensor of shape {tuple(p.shape)}, "
                f"got {m.dtype} of shape {tuple(m.shape)}"
            )
    return list(zip(params, masks, strict=True))


def position_bits(n: int, nnz: int) -> int:
    """Bits locating the ``nnz`` kept entries of an ``n``-entry pruned tensor: the cheaper of
    a bitmask (``n``) and a list of indices (``nnz * ceil(log2 n)``); 0 when nothing is pruned.
    """
    if nnz >= n:
        return 0
    # ceil(log2 n) == (n - 1).bit_length() for n >= 1, in exact integers.
    return min(n, nnz * (n - 1).bit_length())


def model_payload_bits(
    module: nn.Module, masks: Sequence[Tensor] | None, value_bits: int = 32
) -> int:
    """Exact bits to send ``module``'s parameters and floating-point buffers.

    Dense tensor of ``n`` entries: ``value_bits * n``. A pruned weight (mask with at least
    one False) with ``nnz`` kept entries: ``value_bits * nnz + min(n, nnz * ceil(log2 n))``,
    the cheaper of a bitmask and a list of indices. Integer buffers (e.g. BatchNorm's
    ``num_batches_tracked``) are not sent; BatchNorm running statistics are.

    Parameters
    ----------
    module : nn.Module
        The model (or model part) to send.
    masks : sequence of Tensor or None
        Keep-masks in :func:`prunable_parameters` order (as :attr:`Pruner.masks`), or None
        for a dense model.
    value_bits : int
        Bits per sent value (>= 1), 32 for float32.
    """
    if not _is_int(value_bits) or value_bits < 1:
        raise ValueError(f"value_bits must be an integer >= 1, got {value_bits!r}")
    by_param: dict[int, Tensor] = {}
    if masks is not None:
        params = [p for _, p in prunable_parameters(module)]
        by_param = {id(p): m for p, m in _pair_masks(params, masks)}
    total = 0
    for p in module.parameters():
        n = p.numel()
        mask = by_param.get(id(p))
        nnz = n if mask is None else int(mask.sum())
        total += value_bits * nnz + position_bits(n, nnz)
    for b in module.buffers():
        if b.is_floating_point():
            total += value_bits * b.numel()
    return total
