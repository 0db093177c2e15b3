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


def test_the_server_receives_the_devices_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a real split step the server trains on the device's dropped activations: exactly
    the entries the device's mask dropped are zero, the kept ones are scaled by 1/(1-p), and
    the gradient that comes back to the client is zero on the dropped entries."""
    from simtools import make_scenario

    import fedsl_sim.schemes.split_fed as split_fed
    from fedsl_sim.engine import Simulation

    rate = 0.5
    sim = Simulation.build(
        make_scenario(scheme="lightweight_fedsl", compression={"dropout": {"rate": rate}})
    )
    seen: dict[str, list[torch.Tensor]] = {"mask": [], "acts": [], "server_in": [], "grad": []}
    scheme = sim.scheme
    sample, apply = scheme.dropout.sample_mask, scheme.dropout.apply

    def spy_mask(*args: object, **kw: object) -> torch.Tensor | None:
        mask = sample(*args, **kw)  # type: ignore[arg-type]
        seen["mask"].append(mask)
        return mask

    def spy_apply(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        seen["acts"].append(x.detach().clone())
        return apply(x, mask)

    real_gradients, real_backward = split_fed.server_gradients, split_fed.client_backward

    def spy_gradients(model, acts, y):  # type: ignore[no-untyped-def]
        seen["server_in"].append(acts.detach().clone())
        return real_gradients(model, acts, y)

    def spy_backward(acts, grad, opt):  # type: ignore[no-untyped-def]
        seen["grad"].append(grad.detach().clone())
        return real_backward(acts, grad, opt)

    monkeypatch.setattr(scheme.dropout, "sample_mask", spy_mask)
    monkeypatch.setattr(scheme.dropout, "apply", spy_apply)
    monkeypatch.setattr(split_fed, "server_gradients", spy_gradients)
    monkeypatch.setattr(split_fed, "client_backward", spy_backward)
    sim.run_rounds()
    assert len(seen["server_in"]) == len(seen["grad"]) == 1
    mask, acts, got = seen["mask"][0], seen["acts"][0], seen["server_in"][0]
    assert mask is not None and 0.3 < mask.double().mean().item() < 0.7
    assert bool((got[~mask] == 0).all())
    assert torch.equal(got[mask], acts[mask] / (1 - rate))
    assert bool((got[mask] != 0).any())
    grad = seen["grad"][0]
    assert bool((grad[~mask] == 0).all()) and bool((grad[mask] != 0).any())


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
