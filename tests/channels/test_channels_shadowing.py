"""channels.shadowing: zero-mean Gaussian in dB, off switch, validation."""

import math

import numpy as np
import pytest
from scipy import stats

from channels.shadowing import LogNormalShadowing


def test_zero_std_gives_exact_zeros_and_consumes_no_randomness():
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    x = LogNormalShadowing(0.0).sample_db(rng, (4, 5))
    assert x.shape == (4, 5) and np.all(x == 0.0)
    assert rng.bit_generator.state == state


def test_distribution_matches_normal():
    rng = np.random.default_rng(11)
    x = LogNormalShadowing(8.0).sample_db(rng, 100_000)
    assert x.shape == (100_000,)
    # mean 0 ± 5·8/sqrt(1e5) = ±0.127 dB; std 8 ± 5·8/sqrt(2e5) = ±0.09 dB
    assert abs(x.mean()) < 0.127
    assert abs(x.std() - 8.0) < 0.09
    assert stats.kstest(x, stats.norm(0.0, 8.0).cdf).pvalue > 0.01
    # a wrong spread is detected by the same test
    assert stats.kstest(x, stats.norm(0.0, 6.0).cdf).pvalue < 1e-6


def test_same_seed_same_draws():
    a = LogNormalShadowing(4.0).sample_db(np.random.default_rng(5), 10)
    b = LogNormalShadowing(4.0).sample_db(np.random.default_rng(5), 10)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_invalid_std(bad):
    with pytest.raises(ValueError, match="std_db must be finite and >= 0"):
        LogNormalShadowing(bad)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        LogNormalShadowing(4.0).sample_db(42, 3)
