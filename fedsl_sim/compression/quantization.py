"""Unbiased stochastic uniform quantization (QSGD-style) with exact payload sizes.

Two scalings are offered:

``"range"``
    ``lo = min(x)``, ``hi = max(x)``, ``L = 2**b - 1`` intervals, ``step = (hi - lo) / L``.
    Each entry ``u = (x - lo) / step`` is rounded to ``floor(u) + Bernoulli(u - floor(u))``
    and reconstructed as ``lo + level * step``. On air: ``b`` bits per entry plus ``lo`` and
    ``hi`` as float32, i.e. ``b * n + 64`` bits.
``"norm"`` (QSGD, Alistarh et al. 2017)
    ``s = 2**(b - 1) - 1`` magnitude levels and a sign bit. ``|x| / ||x||_2 * s`` is rounded
    stochastically in the same way and reconstructed as ``sign * level * ||x||_2 / s``.
    On air: ``b * n + 32`` bits (the norm as float32).

``bits == 32`` means off: the tensor travels as dense float32 (``32 * n`` bits), is returned
bit for bit unchanged, and no randomness is consumed.

Both scalings are unbiased, ``E[decode(encode(x))] = x``: for ``f = u - floor(u)``,
``E[level] = floor(u) + f = u``. The conditional error variance of one entry is
``step**2 * f * (1 - f) <= step**2 / 4`` (see :meth:`StochasticQuantizer.error_variance`
and :meth:`StochasticQuantizer.variance_bound`); it shrinks by about 4x per extra bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported where tensors are coded: checking a scenario's
    # codecs (building them) does not need it
    import torch
    from torch import Tensor

__all__ = ["QuantizedTensor", "StochasticQuantizer"]

OFF_BITS = 32
"""Bit width that switches quantization off (dense float32 on air)."""

SCALE_BITS = 32
"""Bits of one float32 scale parameter sent with a quantized tensor."""

QuantMode = Literal["range", "norm", "off"]


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """What goes on air for one quantized tensor.

    Attributes
    ----------
    levels : Tensor
        Integer levels, shape ``shape``: in ``[0, 2**bits - 1]`` for ``"range"`` (uint8 for
        ``bits <= 8``, else int32), signed in ``[-s, s]`` with ``s = 2**(bits - 1) - 1`` for
        ``"norm"`` (int8 for ``bits <= 8``, else int32). When ``mode == "off"`` this is the
        original tensor itself (no copy).
    scale : tuple of float
        Float32-representable scale parameters: ``(lo, hi)`` for ``"range"``, ``(norm,)``
        for ``"norm"``, ``()`` for ``"off"``.
    mode : {"range", "norm", "off"}
        The codec that produced ``levels``.
    shape : torch.Size
        Shape of the original tensor.
    dtype : torch.dtype
        Dtype of the original tensor (and of the decoded one).
    bits : int
        Bits per entry, ``b``.
    payload_bits : int
        Exact size on air in bits (``b * n + 64``, ``b * n + 32`` or ``32 * n``).
    """

    levels: Tensor
    scale: tuple[float, ...]
    mode: QuantMode
    shape: torch.Size
    dtype: torch.dtype
    bits: int
    payload_bits: int

    @property
    def numel(self) -> int:
        """Number of entries, ``n``."""
        return math.prod(self.shape)


def _f32_down(v: float) -> float:
    """Largest float32 value ``<= v`` (as a Python float, which holds it exactly)."""
    import torch

    t = torch.tensor(v, dtype=torch.float32)
    if float(t) > v:
        t = torch.nextafter(t, torch.tensor(-math.inf, dtype=torch.float32))
    return float(t)


def _f32_up(v: float) -> float:
    """Smallest float32 value ``>= v``."""
    import torch

    t = torch.tensor(v, dtype=torch.float32)
    if float(t) < v:
        t = torch.nextafter(t, torch.tensor(math.inf, dtype=torch.float32))
    return float(t)


def _stochastic_round(u: Tensor, generator: torch.Generator) -> Tensor:
    """``floor(u) + Bernoulli(u - floor(u))`` with uniforms drawn from ``generator``.

    ``u`` is float64 and non-negative; one uniform is drawn per entry, on the generator's
    device, so the stream does not depend on where ``u`` lives.
    """
    import torch

    low = torch.floor(u)
    draws = torch.rand(u.shape, generator=generator, dtype=torch.float64, device=generator.device)
    return low + (draws.to(u.device) < (u - low)).to(torch.float64)


class StochasticQuantizer:
    """Unbiased stochastic uniform quantizer with ``bits`` bits per entry.

    Parameters
    ----------
    bits : int
        Bits per entry ``b``: ``1 <= b <= 32`` for ``"range"``, ``2 <= b <= 32`` for
        ``"norm"`` (one bit is the sign). ``b == 32`` switches quantization off.
    scale : {"range", "norm"}
        ``"range"``: uniform grid of ``2**b`` levels on ``[min(x), max(x)]``;
        ``"norm"``: QSGD grid of ``2**(b-1) - 1`` magnitude levels on ``[0, ||x||_2]``
        plus a sign.

    Notes
    -----
    Levels are computed in float64 from the float32 scale parameters that are sent, so the
    reconstruction is unbiased with respect to what the receiver actually knows; decoded
    values are cast back to the input dtype. For ``"range"`` the entries equal to ``lo``
    and ``hi`` are reconstructed exactly. The quantized path works on ``x.detach()``; the
    off path returns ``x`` itself (autograd graph included).
    """

    def __init__(self, bits: int, scale: Literal["range", "norm"] = "range") -> None:
        if scale not in ("range", "norm"):
            raise ValueError(f"scale must be 'range' or 'norm', got {scale!r}")
        min_bits = 1 if scale == "range" else 2
        if isinstance(bits, bool) or not isinstance(bits, int) or not min_bits <= bits <= OFF_BITS:
            raise ValueError(
                f"bits must be an integer in [{min_bits}, {OFF_BITS}] for scale={scale!r}, "
                f"got {bits!r}"
            )
        self.bits = bits
        self.scale: Literal["range", "norm"] = scale

    def __repr__(self) -> str:
        return f"StochasticQuantizer(bits={self.bits}, scale={self.scale!r})"

    @property
    def is_off(self) -> bool:
        """True when ``bits == 32``: encode/decode are the identity."""
        return self.bits == OFF_BITS

    @property
    def levels(self) -> int:
        """Grid size parameter: ``L = 2**b - 1`` intervals (range) or ``s = 2**(b-1) - 1``
        magnitude levels (norm). Meaningless when off."""
        return 2**self.bits - 1 if self.scale == "range" else 2 ** (self.bits - 1) - 1

    def payload_bits(self, n_elements: int) -> int:
        """Exact bits on air for a tensor of ``n_elements`` entries.

        ``32 * n`` when off; ``b * n + 64`` for range (lo, hi as float32);
        ``b * n + 32`` for norm (the norm as float32).
        """
        if isinstance(n_elements, bool) or not isinstance(n_elements, int) or n_elements < 0:
            raise ValueError(f"n_elements must be an integer >= 0, got {n_elements!r}")
        if self.is_off:
            return OFF_BITS * n_elements
        n_scales = 2 if self.scale == "range" else 1
        return self.bits * n_elements + n_scales * SCALE_BITS

    def _level_dtype(self) -> torch.dtype:
        import torch

        if self.bits <= 8:
            return torch.uint8 if self.scale == "range" else torch.int8
        return torch.int32

    def encode(self, x: Tensor, generator: torch.Generator) -> QuantizedTensor:
        """Quantize ``x`` (any shape, floating dtype) with uniforms from ``generator``.

        Consumes exactly ``x.numel()`` float64 uniforms from ``generator``, except when off,
        when ``x`` is constant (range) or zero (norm): then none.

        Raises
        ------
        ValueError
            If ``x`` is not floating point, or (when quantizing) not finite.
        """
        import torch

        if not x.is_floating_point():
            raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        payload = self.payload_bits(x.numel())
        if self.is_off:
            return QuantizedTensor(x, (), "off", x.shape, x.dtype, self.bits, payload)
        v = x.detach().to(torch.float64)
        if not bool(torch.isfinite(v).all()):
            raise ValueError("x must be finite to be quantized (found inf or nan)")
        scale = self._scale_params(v)
        u = self._grid_position(v, scale)
        dtype = self._level_dtype()
        if u is None:
            levels = torch.zeros(x.shape, dtype=dtype, device=x.device)
        else:
            levels = _stochastic_round(u, generator)
            if self.scale == "norm":
                levels = torch.sign(v) * levels
            levels = levels.to(dtype)
        return QuantizedTensor(levels, scale, self.scale, x.shape, x.dtype, self.bits, payload)

    def _scale_params(self, v: Tensor) -> tuple[float, ...]:
        """Float32 scale parameters of float64 ``v``: ``(lo, hi)`` or ``(norm,)``.

        ``lo`` is rounded down, ``hi`` and the norm up to float32, so every entry lies on the
        grid's span and the top level is never clipped (clipping would bias).
        """
        import torch

        if self.scale == "range":
            if v.numel() == 0:
                return (0.0, 0.0)
            return (_f32_down(float(v.min())), _f32_up(float(v.max())))
        norm_64 = float(torch.linalg.vector_norm(v)) if v.numel() else 0.0
        norm = _f32_up(norm_64)
        if math.isinf(norm):
            raise ValueError(f"the L2 norm of x overflows float32 (got {norm_64})")
        return (norm,)

    def _grid_position(self, v: Tensor, scale: tuple[float, ...]) -> Tensor | None:
        """Position ``u`` of float64 ``v`` on the grid, in steps, in ``[0, levels]``.

        ``(v - lo) / step`` (range; entries equal to ``hi`` sit exactly on ``L``) or
        ``|v| / step`` (norm). None when the span is zero (exact encoding, no draws).
        """
        import torch

        top = float(self.levels)
        if self.scale == "range":
            lo, hi = scale
            if hi == lo:
                return None
            u = ((v - lo) / ((hi - lo) / top)).clamp_(0.0, top)
            return torch.where(v == hi, top, u)
        (norm,) = scale
        if norm == 0.0:
            return None
        return (v.abs() / (norm / top)).clamp_(0.0, top)

    def decode(self, q: QuantizedTensor) -> Tensor:
        """Reconstruct the tensor the receiver sees, shape ``q.shape``, dtype ``q.dtype``.

        ``lo + level * (hi - lo) / L`` (range, with the top level mapped exactly to ``hi``),
        ``level * norm / s`` (norm), or ``q.levels`` itself (off).
        """
        import torch

        if q.mode == "off":
            return q.levels
        lv = q.levels.to(torch.float64)
        if q.mode == "range":
            lo, hi = q.scale
            big_l = 2**q.bits - 1
            out = lo + lv * ((hi - lo) / big_l)
            out = torch.where(q.levels.to(torch.int64) == big_l, hi, out).clamp_(lo, hi)
        elif q.mode == "norm":
            (norm,) = q.scale
            out = lv * (norm / (2 ** (q.bits - 1) - 1))
        else:
            raise ValueError(f"q.mode must be 'range', 'norm' or 'off', got {q.mode!r}")
        return out.to(q.dtype)

    def quantize(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, int]:
        """``(decode(encode(x, generator)), payload_bits)``: the receiver's tensor and bits."""
        q = self.encode(x, generator)
        return self.decode(q), q.payload_bits

    def _position_and_step(self, x: Tensor) -> tuple[Tensor | None, float]:
        import torch

        v = x.detach().to(torch.float64)
        scale = self._scale_params(v)
        u = self._grid_position(v, scale)
        if u is None:
            return None, 0.0
        if self.scale == "range":
            return u, (scale[1] - scale[0]) / self.levels
        return u, scale[0] / self.levels

    def error_variance(self, x: Tensor) -> float:
        """Exact ``E||decode(encode(x)) - x||^2`` given ``x``, in squared units of ``x``.

        ``step**2 * sum_i f_i (1 - f_i)`` with ``f_i`` the fractional grid position of
        entry ``i``; ``step = (hi - lo) / L`` (range) or ``||x|| / s`` (norm); 0 when off.
        """
        import torch

        if self.is_off:
            return 0.0
        u, step = self._position_and_step(x)
        if u is None:
            return 0.0
        f = u - torch.floor(u)
        return float(step**2 * (f * (1.0 - f)).sum())

    def variance_bound(self, x: Tensor) -> float:
        """Upper bound on :meth:`error_variance`, in squared units of ``x``.

        range: ``n * (hi - lo)**2 / (4 L**2)``;
        norm: ``min(n / (4 s**2), sqrt(n) / s) * ||x||**2`` (QSGD Lemma 3.1 form, from
        ``f(1-f) <= min(1/4, f)`` and ``sum_i |x_i| <= sqrt(n) ||x||``); 0 when off.
        """
        if self.is_off:
            return 0.0
        u, step = self._position_and_step(x)
        if u is None:
            return 0.0
        n = x.numel()
        if self.scale == "range":
            return n * step**2 / 4.0
        s = self.levels
        return min(n / (4.0 * s**2), math.sqrt(n) / s) * (step * s) ** 2
