"""Tests of split-layer activation dropout: mask statistics, unbiasedness, gradient rule,
identity when off, payload accounting."""

from __future__ import annotations

import math

import pytest
import torch

from fedsl_sim.compression import ActivationDropout


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, math.nan, "0.2", True])
def test_invalid_rate(rate: object) -> None:
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\), got"):
        ActivationDropout(rate)  # type: ignore[arg-type]


def test_off_is_identity_and_consumes_no_randomness() -> None:
    d = ActivationDropout(0.0)
    g = gen(3)
    before = g.get_state()
    mask = d.sample_mask((4, 5), g)
    assert mask is None
    assert torch.equal(g.get_state(), before)
    x = torch.randn(4, 5, generator=gen(1))
    assert d.apply(x, mask) is x
    assert d.grad_to_client(x, mask) is x
    assert d.kept(mask, 20) == 20
    assert d.payload_bits(mask, 20) == 640  # 20 * 32


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.9])
def test_keep_fraction(rate: float) -> None:
    n = 1_000_000
    mask = ActivationDropout(rate).sample_mask((1000, 1000), gen(7))
    assert mask is not None and mask.dtype == torch.bool and mask.shape == (1000, 1000)
    frac = mask.double().mean().item()
    # Binomial(n, 1-p)/n: standard error sqrt(p(1-p)/n), ~4.3e-4 at p = 0.25
    assert abs(frac - (1 - rate)) <= 5 * math.sqrt(rate * (1 - rate) / n)


def test_mask_regenerated_from_shared_seed() -> None:
    d = ActivationDropout(0.3)
    device_mask = d.sample_mask((32, 64), gen(42))
    server_mask = d.sample_mask((32, 64), gen(42))
    assert device_mask is not None and server_mask is not None
    assert torch.equal(device_mask, server_mask)
    assert not torch.equal(device_mask, d.sample_mask((32, 64), gen(43)))


@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_apply_is_unbiased(rate: float) -> None:
    n_draws = 20_000
    x = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0, -0.25], dtype=torch.float64)
    d = ActivationDropout(rate)
    mask = d.sample_mask((n_draws, x.numel()), gen(5))
    out = d.apply(x.expand(n_draws, -1), mask)
    # each entry is x/(1-p) w.p. 1-p else 0: variance x^2 p/(1-p)
    se = x.abs() * math.sqrt(rate / (1 - rate) / n_draws)
    assert bool(((out.mean(0) - x).abs() <= 5 * se + 1e-12).all())
    kept_values = out[mask]
    expected = (x.expand(n_draws, -1) / (1 - rate))[mask]
    assert torch.equal(kept_values, expected)
    assert bool((out[~mask] == 0).all())


def test_grad_to_client_matches_autograd() -> None:
    d = ActivationDropout(0.3)
    x = torch.randn(8, 16, generator=gen(0), requires_grad=True)
    mask = d.sample_mask(x.shape, gen(1))
    g = torch.randn(8, 16, generator=gen(2))
    d.apply(x, mask).backward(g)
    assert x.grad is not None
    assert torch.equal(x.grad, d.grad_to_client(g, mask))
    assert bool((x.grad[~mask] == 0).all())


def test_kept_and_payload_bits_reference() -> None:
    d = ActivationDropout(0.5)
    mask = torch.tensor([[True, False, True], [False, False, True]])
    assert d.kept(mask, 6) == 3
    assert d.payload_bits(mask, 6) == 96  # 3 kept * 32 bits, the mask is free
    assert d.payload_bits(mask, 6, value_bits=8) == 24  # 3 * 8
    with pytest.raises(ValueError, match="numel"):
        d.kept(mask, 5)
    with pytest.raises(ValueError, match="value_bits"):
        d.payload_bits(mask, 6, value_bits=0)


def test_shape_mismatch_raises() -> None:
    d = ActivationDropout(0.5)
    mask = torch.ones(3, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="mask shape"):
        d.apply(torch.zeros(4, 3), mask)
    with pytest.raises(ValueError, match="mask shape"):
        d.grad_to_client(torch.zeros(12), mask)
