"""Tests of the stochastic uniform quantizer: payload sizes, identity when off, unbiasedness,
grid membership, variance and error scaling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fedsl_sim.compression import QuantizedTensor, StochasticQuantizer

EPS32 = float(torch.finfo(torch.float32).eps)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- payload sizes (reference)


@pytest.mark.parametrize(
    ("bits", "scale", "n", "expected"),
    [
        (8, "range", 1000, 8064),  # 8*1000 + lo,hi as float32 (2*32)
        (8, "norm", 1000, 8032),  # 8*1000 + norm as float32 (32)
        (1, "range", 10, 74),  # 1*10 + 64
        (2, "norm", 5, 42),  # 2*5 + 32
        (4, "range", 0, 64),  # scales are sent even for an empty tensor
        (32, "range", 1000, 32000),  # off: dense float32, 32*1000
        (32, "norm", 7, 224),  # off: 32*7, no norm sent
        (16, "norm", 3, 80),  # 16*3 + 32
    ],
)
def test_payload_bits_reference(bits: int, scale: str, n: int, expected: int) -> None:
    q = StochasticQuantizer(bits, scale)  # type: ignore[arg-type]
    assert q.payload_bits(n) == expected
    enc = q.encode(torch.linspace(-1.0, 2.0, n), gen(0))
    assert enc.payload_bits == expected
    assert isinstance(enc.payload_bits, int)


def test_payload_bits_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="n_elements"):
        StochasticQuantizer(8).payload_bits(-1)


# ---------------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    ("bits", "scale", "pattern"),
    [
        (0, "range", r"bits must be an integer in \[1, 32\].*got 0"),
        (33, "range", r"bits must be an integer in \[1, 32\].*got 33"),
        (1, "norm", r"bits must be an integer in \[2, 32\].*got 1"),
        (8.0, "range", r"bits.*got 8\.0"),
        (True, "range", r"bits.*got True"),
    ],
)
def test_invalid_bits(bits: object, scale: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        StochasticQuantizer(bits, scale)  # type: ignore[arg-type]


def test_invalid_scale() -> None:
    with pytest.raises(ValueError, match="scale must be 'range' or 'norm', got 'max'"):
        StochasticQuantizer(8, "max")  # type: ignore[arg-type]


def test_rejects_non_float_and_non_finite() -> None:
    q = StochasticQuantizer(8)
    with pytest.raises(ValueError, match="floating-point"):
        q.encode(torch.arange(4), gen(0))
    with pytest.raises(ValueError, match="finite"):
        q.encode(torch.tensor([0.0, math.inf]), gen(0))
    with pytest.raises(ValueError, match="finite"):
        StochasticQuantizer(4, "norm").encode(torch.tensor([math.nan, 1.0]), gen(0))


# ---------------------------------------------------------------- off is exactly the identity


@settings(max_examples=40, deadline=None)
@given(
    values=arrays("float32", st.integers(0, 50)),  # any float32 bits, nan and inf included
    scale=st.sampled_from(["range", "norm"]),
)
def test_off_is_bitwise_identity_and_consumes_no_randomness(values, scale: str) -> None:
    x = torch.from_numpy(values)
    q = StochasticQuantizer(32, scale)  # type: ignore[arg-type]
    g = gen(123)
    before = g.get_state()
    enc = q.encode(x, g)
    out = q.decode(enc)
    assert torch.equal(g.get_state(), before)
    assert out is x
    assert torch.equal(out.view(torch.int32), x.view(torch.int32))
    assert enc.mode == "off" and enc.payload_bits == 32 * x.numel()
    y, bits = q.quantize(x, g)
    assert y is x and bits == 32 * x.numel()
    assert torch.equal(g.get_state(), before)


def test_off_keeps_autograd_graph() -> None:
    x = torch.randn(5, generator=gen(1), requires_grad=True)
    y, _ = StochasticQuantizer(32).quantize(x, gen(0))
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.ones(5))


# ---------------------------------------------------------------- randomness consumption


@pytest.mark.parametrize("scale", ["range", "norm"])
def test_consumes_exactly_one_uniform_per_entry(scale: str) -> None:
    x = torch.randn(3, 7, generator=gen(5))
    g, ref = gen(9), gen(9)
    StochasticQuantizer(6, scale).encode(x, g)  # type: ignore[arg-type]
    torch.rand(21, generator=ref, dtype=torch.float64)
    assert torch.equal(g.get_state(), ref.get_state())


@pytest.mark.parametrize("scale", ["range", "norm"])
def test_same_seed_same_levels(scale: str) -> None:
    x = torch.randn(100, generator=gen(5))
    q = StochasticQuantizer(3, scale)  # type: ignore[arg-type]
    a, b = q.encode(x, gen(1)), q.encode(x, gen(1))
    assert torch.equal(a.levels, b.levels) and a.scale == b.scale
    assert not torch.equal(a.levels, q.encode(x, gen(2)).levels)


def test_constant_and_zero_tensors_are_exact_without_draws() -> None:
    c = torch.full((4, 3), -2.5)
    g = gen(0)
    before = g.get_state()
    out, _ = StochasticQuantizer(3).quantize(c, g)
    assert torch.equal(out, c)
    z = torch.zeros(6)
    outz, _ = StochasticQuantizer(3, "norm").quantize(z, g)
    assert torch.equal(outz, z)
    assert torch.equal(g.get_state(), before)


# ---------------------------------------------------------------- what goes on air


@pytest.mark.parametrize(
    ("bits", "scale", "dtype", "lo", "hi"),
    [
        (8, "range", torch.uint8, 0, 255),
        (16, "range", torch.int32, 0, 65535),
        (8, "norm", torch.int8, -127, 127),
        (3, "norm", torch.int8, -3, 3),
        (12, "norm", torch.int32, -2047, 2047),
    ],
)
def test_levels_dtype_and_range(bits: int, scale: str, dtype, lo: int, hi: int) -> None:
    x = torch.randn(2, 500, generator=gen(3))
    enc = StochasticQuantizer(bits, scale).encode(x, gen(4))  # type: ignore[arg-type]
    assert isinstance(enc, QuantizedTensor)
    assert enc.levels.dtype == dtype and enc.levels.shape == x.shape
    assert int(enc.levels.min()) >= lo and int(enc.levels.max()) <= hi
    assert enc.shape == x.shape and enc.dtype == torch.float32 and enc.numel == 1000
    if scale == "range":  # both ends of the grid are reached by the min and max entries
        assert int(enc.levels.min()) == lo and int(enc.levels.max()) == hi


def test_shape_and_dtype_preserved() -> None:
    x = torch.randn(3, 4, 5, generator=gen(2), dtype=torch.float64)
    for q in (StochasticQuantizer(5), StochasticQuantizer(5, "norm")):
        out, _ = q.quantize(x, gen(0))
        assert out.shape == x.shape and out.dtype == torch.float64


# ---------------------------------------------------------------- grid membership (property)


finite32 = arrays(
    "float32",
    st.integers(1, 60),
    elements=st.floats(-1e4, 1e4, allow_nan=False, width=32),
)


@settings(max_examples=60, deadline=None)
@given(values=finite32, bits=st.sampled_from([1, 2, 3, 8, 16]), seed=st.integers(0, 2**31))
def test_range_values_on_grid_within_bounds_and_ends_exact(values, bits: int, seed: int) -> None:
    x = torch.from_numpy(values)
    out, _ = StochasticQuantizer(bits).quantize(x, gen(seed))
    lo, hi = float(x.min()), float(x.max())
    assert float(out.min()) >= lo and float(out.max()) <= hi
    # entries at the ends of the range are reconstructed exactly
    assert torch.equal(out[x == x.min()], x[x == x.min()])
    assert torch.equal(out[x == x.max()], x[x == x.max()])
    if hi > lo:
        step = (hi - lo) / (2**bits - 1)
        k = (out.double() - lo) / step
        # float32 output rounding: at most one ulp of the largest magnitude, in steps
        tol = 2 * EPS32 * max(abs(lo), abs(hi)) / step + 1e-9
        assert float((k - k.round()).abs().max()) <= tol
        assert float(k.round().min()) >= 0 and float(k.round().max()) <= 2**bits - 1


@settings(max_examples=60, deadline=None)
@given(values=finite32, bits=st.sampled_from([2, 3, 8, 16]), seed=st.integers(0, 2**31))
def test_norm_values_on_grid_and_sign_preserved(values, bits: int, seed: int) -> None:
    x = torch.from_numpy(values)
    quantizer = StochasticQuantizer(bits, "norm")
    q = quantizer.encode(x, gen(seed))
    out = quantizer.decode(q)
    if float(torch.linalg.vector_norm(x.double())) == 0.0:
        assert torch.equal(out, torch.zeros_like(x))
        return
    # the grid is the one the receiver knows: the transmitted float32 norm
    (norm,) = q.scale
    s = 2 ** (bits - 1) - 1
    k = out.double() / (norm / s)
    # float32 rounding of the output, in levels: relative 2 eps, or the absolute spacing of
    # subnormal floats (1.4e-45) when the values are that small
    tol = 2 * EPS32 * s + 1e-6 + 1.5e-45 / (norm / s)
    assert float((k - k.round()).abs().max()) <= tol
    assert float(k.abs().max()) <= s + tol
    assert bool(((out == 0) | (torch.sign(out) == torch.sign(x))).all())


def test_31_bit_range_is_nearly_lossless() -> None:
    x = torch.randn(1000, generator=gen(8))
    out, bits = StochasticQuantizer(31).quantize(x, gen(1))
    assert bits == 31 * 1000 + 64
    # step = (hi - lo) / (2^31 - 1) ~ 3e-9; float32 rounding of x itself dominates
    assert float((out - x).abs().max()) <= 4 * EPS32 * float(x.abs().max())


# ---------------------------------------------------------------- unbiasedness (statistical)

N_DRAWS = 20_000


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_range_unbiased(bits: int) -> None:
    # Tiling x keeps lo and hi unchanged, so one encode of the tiled tensor gives N_DRAWS
    # independent quantizations of every entry of x.
    x = torch.randn(16, generator=gen(11)) * 3.0
    tiled = x.repeat(N_DRAWS, 1)
    q = StochasticQuantizer(bits)
    out = q.decode(q.encode(tiled, gen(bits))).double()
    mean = out.mean(0)
    se = out.std(0) / math.sqrt(N_DRAWS)
    # 5 standard errors; entries with zero variance (lo, hi) must be exact up to float32
    assert bool(((mean - x.double()).abs() <= 5 * se + 1e-6).all())
    # empirical squared error per draw matches the exact conditional variance (rel. 5 %)
    mse = float(((out - x.double()) ** 2).sum(1).mean())
    assert mse == pytest.approx(q.error_variance(x), rel=0.05)
    assert q.error_variance(x) <= q.variance_bound(x)


@pytest.mark.parametrize("bits", [2, 3, 6])
def test_norm_unbiased(bits: int) -> None:
    x = torch.tensor([0.9, -0.3, 0.05, 0.0, -1.7, 0.6, 0.2, -0.01])
    q = StochasticQuantizer(bits, "norm")
    g = gen(bits)
    out = torch.stack([q.decode(q.encode(x, g)) for _ in range(N_DRAWS)]).double()
    mean = out.mean(0)
    se = out.std(0) / math.sqrt(N_DRAWS)
    assert bool(((mean - x.double()).abs() <= 5 * se + 1e-6).all())
    assert torch.equal(out[:, 3], torch.zeros(N_DRAWS, dtype=torch.float64))
    mse = float(((out - x.double()) ** 2).sum(1).mean())
    assert mse == pytest.approx(q.error_variance(x), rel=0.05)
    assert q.error_variance(x) <= q.variance_bound(x)


# ---------------------------------------------------------------- error shrinks with bits


@pytest.mark.parametrize(
    ("scale", "bit_widths"), [("range", [1, 2, 4, 6, 8, 12]), ("norm", [2, 3, 4, 6, 8, 12])]
)
def test_error_shrinks_as_bits_grow(scale: str, bit_widths: list[int]) -> None:
    x = torch.randn(4096, generator=gen(21))
    errs = []
    for b in bit_widths:
        q = StochasticQuantizer(b, scale)  # type: ignore[arg-type]
        out, _ = q.quantize(x, gen(b))
        err = float(((out - x) ** 2).sum())
        errs.append(err)
        # one draw over 4096 entries concentrates near the exact conditional variance
        assert err <= 1.2 * q.variance_bound(x)
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False))
    # each extra bit roughly halves the step, i.e. quarters the error; 2 bits >= 8x less
    assert errs[-1] < errs[-2] / 8
