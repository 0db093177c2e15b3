"""Per-sample FLOP profile of a layer list, computed analytically from module attributes.

Counting rules (per sample, one FLOP = one floating-point add, multiply or comparison):

==============  ===============================================================  =========
module          FLOPs                                                            kind
==============  ===============================================================  =========
Conv2d          2·(C_in/groups)·k_h·k_w·C_out·H_out·W_out, + C_out·H_out·W_out    mac
                if it has a bias (one add per output element)
Linear          2·in·out per input row, + out if it has a bias                   mac
BatchNorm2d     2 per element (folded scale and shift ``a·x + b``)               other
ReLU            1 per element (one comparison)                                   other
MaxPool2d       k_h·k_w per output element (comparisons over the window)         other
Flatten         0 (a view)                                                       other
Identity        0                                                                other
==============  ===============================================================  =========

``mac`` FLOPs are the multiply-accumulates that weight pruning removes; ``other`` FLOPs are
not affected by pruning. Time never enters: costs come from shapes only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

__all__ = ["LayerCost", "backward_flops", "forward_flops", "profile_layers"]


@dataclass(frozen=True)
class LayerCost:
    """Per-sample cost of one layer (block) of a split-able model.

    Attributes
    ----------
    mac_flops : int
        FLOPs of the Conv2d/Linear multiply-accumulates (2 per MAC) plus their bias adds.
    other_flops : int
        FLOPs of BatchNorm2d, ReLU, MaxPool2d (see the module docstring for the rules).
    out_shape : tuple of int
        Per-sample output shape (no batch dimension), e.g. ``(64, 16, 16)`` or ``(512,)``.
    n_params : int
        Number of trainable parameters (elements) of the layer; buffers excluded.
    prunable : bool
        Whether the layer holds a Conv2d or Linear weight.
    """

    mac_flops: int
    other_flops: int
    out_shape: tuple[int, ...]
    n_params: int
    prunable: bool

    @property
    def out_numel(self) -> int:
        """Number of output elements per sample (activation size at a split here)."""
        return math.prod(self.out_shape)


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    if len(v) == 1:
        return int(v[0]), int(v[0])
    return int(v[0]), int(v[1])


def _pool_len(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    # torch's formula, including its ceil_mode rule that the last window must start inside
    # the (left-padded) input.
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = span // s + 1
    return out


def _conv(m: nn.Conv2d, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    if len(shape) != 3 or shape[0] != m.in_channels:
        raise ValueError(
            f"Conv2d expects a per-sample input of shape ({m.in_channels}, H, W); got {shape}"
        )
    _, h, w = shape
    kh, kw = _pair(m.kernel_size)
    sh, sw = _pair(m.stride)
    dh, dw = _pair(m.dilation)
    if isinstance(m.padding, str):
        if m.padding == "same":
            h_out, w_out = h, w
        else:  # "valid"
            h_out = _pool_len(h, kh, sh, 0, dh, False)
            w_out = _pool_len(w, kw, sw, 0, dw, False)
    else:
        ph, pw = _pair(m.padding)
        h_out = _pool_len(h, kh, sh, ph, dh, False)
        w_out = _pool_len(w, kw, sw, pw, dw, False)
    if h_out < 1 or w_out < 1:
        raise ValueError(f"Conv2d output would be empty for input {shape}")
    n_out = m.out_channels * h_out * w_out
    macs = (m.in_channels // m.groups) * kh * kw * n_out
    flops = 2 * macs + (n_out if m.bias is not None else 0)
    return flops, (m.out_channels, h_out, w_out)


def _linear(m: nn.Linear, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    if len(shape) < 1 or shape[-1] != m.in_features:
        raise ValueError(
            f"Linear expects a per-sample input with last dimension {m.in_features}; got {shape}"
        )
    rows = math.prod(shape[:-1])
    bias_adds = m.out_features if m.bias is not None else 0
    flops = rows * (2 * m.in_features * m.out_features + bias_adds)
    return flops, (*shape[:-1], m.out_features)


def _maxpool(m: nn.MaxPool2d, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    if len(shape) != 3:
        raise ValueError(f"MaxPool2d expects a per-sample input (C, H, W); got {shape}")
    c, h, w = shape
    kh, kw = _pair(m.kernel_size)
    sh, sw = _pair(m.stride if m.stride is not None else m.kernel_size)
    ph, pw = _pair(m.padding)
    dh, dw = _pair(m.dilation)
    h_out = _pool_len(h, kh, sh, ph, dh, m.ceil_mode)
    w_out = _pool_len(w, kw, sw, pw, dw, m.ceil_mode)
    if h_out < 1 or w_out < 1:
        raise ValueError(f"MaxPool2d output would be empty for input {shape}")
    return kh * kw * c * h_out * w_out, (c, h_out, w_out)


def _flatten(m: nn.Flatten, shape: tuple[int, ...]) -> tuple[int, ...]:
    full = (1, *shape)  # torch's dims count the batch dimension
    start = m.start_dim % len(full)
    end = m.end_dim % len(full)
    if start == 0:
        raise ValueError("Flatten with start_dim=0 would merge the batch dimension")
    if end < start:
        return shape
    merged = math.prod(full[start : end + 1])
    return (*full[1:start], merged, *full[end + 1 :])


def _walk(
    module: nn.Module, shape: tuple[int, ...], acc: list[int]
) -> tuple[tuple[int, ...], bool]:
    """Advance ``shape`` through ``module``; add mac/other FLOPs to ``acc``; say if prunable."""
    if isinstance(module, nn.Sequential):
        prunable = False
        for child in module:
            shape, p = _walk(child, shape, acc)
            prunable = prunable or p
        return shape, prunable
    n = math.prod(shape)
    if isinstance(module, nn.Conv2d):
        flops, shape = _conv(module, shape)
        acc[0] += flops
        return shape, True
    if isinstance(module, nn.Linear):
        flops, shape = _linear(module, shape)
        acc[0] += flops
        return shape, True
    if isinstance(module, nn.BatchNorm2d):
        if len(shape) != 3 or shape[0] != module.num_features:
            raise ValueError(
                f"BatchNorm2d expects a per-sample input ({module.num_features}, H, W); got {shape}"
            )
        acc[1] += 2 * n
        return shape, False
    if isinstance(module, nn.ReLU):
        acc[1] += n
        return shape, False
    if isinstance(module, nn.MaxPool2d):
        flops, shape = _maxpool(module, shape)
        acc[1] += flops
        return shape, False
    if isinstance(module, nn.Flatten):
        return _flatten(module, shape), False
    if isinstance(module, nn.Identity):
        return shape, False
    raise ValueError(
        f"cannot profile module type {type(module).__name__}; supported: Sequential, "
        "Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, Flatten, Identity"
    )


def profile_layers(layers: Sequence[nn.Module], in_shape: tuple[int, ...]) -> list[LayerCost]:
    """Per-sample cost of each layer, chaining output shapes from ``in_shape``.

    Parameters
    ----------
    layers : sequence of nn.Module
        Blocks (usually ``nn.Sequential``) of Conv2d, Linear, BatchNorm2d, ReLU,
        MaxPool2d, Flatten, Identity (nested Sequentials allowed).
    in_shape : tuple of int
        Per-sample input shape without the batch dimension, e.g. ``(3, 32, 32)``.

    Returns
    -------
    list of LayerCost
        One entry per layer; ``costs[i].out_shape`` is the input shape of layer ``i + 1``.

    Raises
    ------
    ValueError
        An unsupported module type (named in the message) or mismatched shapes.
    """
    shape = tuple(int(d) for d in in_shape)
    costs: list[LayerCost] = []
    for layer in layers:
        acc = [0, 0]
        shape, prunable = _walk(layer, shape, acc)
        n_params = sum(p.numel() for p in layer.parameters())
        costs.append(LayerCost(acc[0], acc[1], shape, n_params, prunable))
    return costs


def _densities(costs: Sequence[LayerCost], densities: Sequence[float] | None) -> np.ndarray:
    if densities is None:
        return np.ones(len(costs))
    d = np.asarray(densities, dtype=float)
    if d.shape != (len(costs),):
        raise ValueError(
            f"densities must have one entry per layer ({len(costs)}); got shape {d.shape}"
        )
    if not np.all((d >= 0.0) & (d <= 1.0)):
        raise ValueError(f"densities must lie in [0, 1]; got {d.tolist()}")
    return d


def forward_flops(costs: Sequence[LayerCost], densities: Sequence[float] | None = None) -> float:
    """Forward FLOPs per sample, pruning-aware: ``Σ_i density_i·mac_i + other_i``.

    Parameters
    ----------
    costs : sequence of LayerCost
        Layers actually executed (e.g. the client part ``costs[:s]``).
    densities : sequence of float, optional
        Fraction of unpruned weights per layer, in [0, 1] (default 1.0 everywhere). Only
        multiply-adds are scaled: sparse kernels are assumed to skip pruned weights.

    Returns
    -------
    float
        FLOPs per sample.
    """
    d = _densities(costs, densities)
    return float(sum(di * c.mac_flops + c.other_flops for di, c in zip(d, costs, strict=True)))


def backward_flops(costs: Sequence[LayerCost], densities: Sequence[float] | None = None) -> float:
    """Backward FLOPs per sample, by convention ``2 × forward_flops(costs, densities)``.

    The backward pass of a layer computes the gradient w.r.t. its input and the gradient
    w.r.t. its weights, each costing about one forward pass. The convention is applied to
    every layer, including the first (whose input gradient a real run may skip).
    """
    return 2.0 * forward_flops(costs, densities)
