"""channels.fading: distributions (KS vs scipy), unit mean, closed-form outage, validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from channels import fading

N_DRAWS = 100_000


def _k(k_db: float) -> float:
    return 10.0 ** (k_db / 10.0)


# (name, params, scipy reference distribution of |h|², variance of |h|²)
#   rayleigh:  Exp(1), var 1
#   rician:    |h|² = χ'²(2, 2K) / (2(K+1)), var (1 + 2K) / (K+1)²
#   nakagami:  Gamma(m, scale 1/m), var 1/m
CASES = [
    ("rayleigh", {}, stats.expon(), 1.0),
    *[
        (
            "rician",
            {"k_db": k_db},
            stats.ncx2(2.0, 2.0 * _k(k_db), scale=1.0 / (2.0 * (_k(k_db) + 1.0))),
            (1.0 + 2.0 * _k(k_db)) / (_k(k_db) + 1.0) ** 2,
        )
        for k_db in (9.0, 0.0, -20.0)
    ],
    *[("nakagami", {"m": m}, stats.gamma(m, scale=1.0 / m), 1.0 / m) for m in (0.5, 1.0, 2.5)],
]
IDS = [f"{name}{params}" for name, params, _, _ in CASES]


@pytest.mark.parametrize(("name", "params", "dist", "var"), CASES, ids=IDS)
def test_sample_power_unit_mean_and_ks(name, params, dist, var):
    model = fading.make(name, **params)
    x = model.sample_power(np.random.default_rng(2024), N_DRAWS)
    assert x.shape == (N_DRAWS,) and x.dtype == np.float64
    # E[|h|²] = 1 within 5 standard errors: 5·sqrt(var / N)
    assert abs(x.mean() - 1.0) < 5.0 * math.sqrt(var / N_DRAWS)
    assert stats.kstest(x, dist.cdf).pvalue > 0.01
    # and the model's own CDF is the same function as scipy's
    grid = np.array([0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(model.power_cdf(grid), dist.cdf(grid), atol=1e-10)


def test_ks_detects_a_wrong_distribution():
    # guard: the KS check above is able to fail (Nakagami m=2.5 is not Exp(1))
    x = fading.make("nakagami", m=2.5).sample_power(np.random.default_rng(2024), N_DRAWS)
    assert stats.kstest(x, stats.expon().cdf).pvalue < 1e-6


@pytest.mark.parametrize(("name", "params", "dist", "var"), CASES, ids=IDS)
def test_empirical_outage_matches_closed_form(name, params, dist, var):
    model = fading.make(name, **params)
    h2 = model.sample_power(np.random.default_rng(77), N_DRAWS)
    snr_mean = np.array([10.0, 3.0, 1.0])  # 10 dB, ~4.8 dB, 0 dB
    threshold = 1.0  # 0 dB
    p = model.outage_probability(snr_mean, threshold)
    assert p.shape == (3,)
    for s, p_k in zip(snr_mean, p, strict=True):
        empirical = np.mean(h2 * s < threshold)
        # binomial standard error sqrt(p(1-p)/N), 5 sigma (+ tiny floor for p ≈ 0)
        assert abs(empirical - p_k) < 5.0 * math.sqrt(p_k * (1 - p_k) / N_DRAWS) + 1e-4


# (name, params, snr_mean, threshold, expected outage, abs tolerance)
OUTAGE_REFERENCE = [
    # Rayleigh: 1 - exp(-thr/snr) = 1 - exp(-0.1) = 0.09516258196404048
    ("rayleigh", {}, 10.0, 1.0, 0.09516258196404048, 1e-15),
    # Nakagami m=1 is Rayleigh
    ("nakagami", {"m": 1.0}, 10.0, 1.0, 0.09516258196404048, 1e-14),
    # Nakagami m=2, x = 0.1: P(2, 0.2) = 1 - e^-0.2·(1 + 0.2) = 0.017523096306421904
    ("nakagami", {"m": 2.0}, 10.0, 1.0, 0.017523096306421904, 1e-14),
    # Rician K = 0 (k_db = -inf) is exactly Rayleigh
    ("rician", {"k_db": -math.inf}, 10.0, 1.0, 0.09516258196404048, 1e-15),
    # Rician K = 1e-10 (k_db = -100): Rayleigh up to O(K)
    ("rician", {"k_db": -100.0}, 10.0, 1.0, 0.09516258196404048, 1e-8),
    # No fading: step function, strict inequality (snr = thr is not an outage)
    ("none", {}, 10.0, 1.0, 0.0, 0.0),
    ("none", {}, 0.5, 1.0, 1.0, 0.0),
    ("none", {}, 1.0, 1.0, 0.0, 0.0),
    # edge cases: zero mean SNR is always an outage, zero threshold never
    ("rayleigh", {}, 0.0, 1.0, 1.0, 0.0),
    ("rayleigh", {}, 0.0, 0.0, 0.0, 0.0),
    ("rician", {"k_db": 9.0}, 0.0, 1.0, 1.0, 1e-15),
    ("nakagami", {"m": 3.0}, 5.0, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("name", "params", "snr", "thr", "expected", "tol"), OUTAGE_REFERENCE)
def test_outage_reference(name, params, snr, thr, expected, tol):
    got = fading.make(name, **params).outage_probability(snr, thr)
    assert float(got) == pytest.approx(expected, abs=tol)


def _marcum_q1(a: float, b: float, terms: int = 200) -> float:
    # Q1(a, b) = exp(-(a² + b²)/2) · Σ_{k>=0} (a/b)^k · I_k(a·b)   (valid for b > 0)
    k = np.arange(terms)
    return float(math.exp(-(a * a + b * b) / 2.0) * np.sum((a / b) ** k * special.iv(k, a * b)))


@pytest.mark.parametrize("k_db", [0.0, 6.0, 9.0])
@pytest.mark.parametrize("x", [0.05, 0.3, 1.0])
def test_rician_outage_matches_marcum_q(k_db, x):
    # P(|h|² < x) = 1 - Q1(sqrt(2K), sqrt(2(K+1)·x)), computed by an independent series
    k = _k(k_db)
    expected = 1.0 - _marcum_q1(math.sqrt(2.0 * k), math.sqrt(2.0 * (k + 1.0) * x))
    got = fading.make("rician", k_db=k_db).outage_probability(1.0, x)
    assert float(got) == pytest.approx(expected, abs=1e-10)


def test_very_negative_k_is_rayleigh_in_distribution():
    x = fading.make("rician", k_db=-300.0).sample_power(np.random.default_rng(1), N_DRAWS)
    assert stats.kstest(x, stats.expon().cdf).pvalue > 0.01


def test_none_is_ones_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    x = fading.make("none").sample_power(rng, (3, 4))
    assert x.shape == (3, 4) and np.all(x == 1.0)
    assert rng.bit_generator.state == state


def test_same_seed_same_draws_and_shapes():
    for name, params, _, _ in CASES:
        model = fading.make(name, **params)
        a = model.sample_power(np.random.default_rng(9), (7, 3))
        b = model.sample_power(np.random.default_rng(9), (7, 3))
        assert a.shape == (7, 3)
        np.testing.assert_array_equal(a, b)


def test_registry():
    assert set(fading.MODELS.names()) >= {"none", "rayleigh", "rician", "nakagami"}
    with pytest.raises(KeyError, match="unknown fading model"):
        fading.make("weibull")


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("rician", {"k_db": math.nan}, "k_db"),
        ("rician", {"k_db": math.inf}, "k_db"),
        ("nakagami", {"m": 0.49}, "m must be finite and >= 0.5"),
        ("nakagami", {"m": math.inf}, "m must be finite"),
        ("nakagami", {"m": -1.0}, "m must be finite and >= 0.5"),
    ],
)
def test_invalid_parameters(name, params, field):
    with pytest.raises(ValueError, match=field):
        fading.make(name, **params)


@pytest.mark.parametrize(
    ("snr", "thr", "field"),
    [(-1.0, 1.0, "snr_mean_linear"), (1.0, -1.0, "threshold_linear"), (math.nan, 1.0, "snr")],
)
def test_invalid_outage_arguments(snr, thr, field):
    with pytest.raises(ValueError, match=field):
        fading.make("rayleigh").outage_probability(snr, thr)


def test_sample_power_requires_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        fading.make("rayleigh").sample_power(None, 3)


@settings(max_examples=30, deadline=None)
@given(
    m=st.floats(min_value=0.5, max_value=20.0),
    k_db=st.floats(min_value=-30.0, max_value=25.0),
    snr=st.lists(st.floats(min_value=1e-3, max_value=1e4), min_size=2, max_size=10),
)
def test_outage_is_a_probability_decreasing_in_snr(m, k_db, snr):
    snr_sorted = np.sort(snr)
    for model in (fading.make("nakagami", m=m), fading.make("rician", k_db=k_db)):
        p = model.outage_probability(snr_sorted, 1.0)
        assert np.all((p >= 0.0) & (p <= 1.0))
        assert np.all(np.diff(p) <= 1e-12)
