"""channels.placement.uniform_disc: annulus support, radial and angular distribution."""

import math

import numpy as np
import pytest
from scipy import stats

from channels.placement import uniform_disc


def test_radial_cdf_ks_annulus():
    r0, big_r = 10.0, 300.0
    p = uniform_disc(np.random.default_rng(21), 100_000, big_r, min_distance_m=r0)
    assert p.shape == (100_000, 2)
    r = np.hypot(p[:, 0], p[:, 1])
    assert r.min() >= r0 - 1e-9 and r.max() <= big_r + 1e-9

    def area_cdf(x):  # uniform in area: (r² - r0²) / (R² - r0²)
        return np.clip((x**2 - r0**2) / (big_r**2 - r0**2), 0.0, 1.0)

    assert stats.kstest(r, area_cdf).pvalue > 0.01
    # guard: a uniform-in-radius law is rejected by the same test
    assert stats.kstest(r, stats.uniform(r0, big_r - r0).cdf).pvalue < 1e-6
    theta = np.arctan2(p[:, 1], p[:, 0])
    assert stats.kstest(theta, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 0.01


def test_full_disc_radial_cdf():
    p = uniform_disc(np.random.default_rng(3), 50_000, 1.0)
    r = np.hypot(p[:, 0], p[:, 1])
    assert stats.kstest(r, lambda x: np.clip(x, 0, 1) ** 2).pvalue > 0.01


def test_degenerate_annulus_is_the_circle_and_zero_points():
    p = uniform_disc(np.random.default_rng(0), 20, 5.0, min_distance_m=5.0)
    np.testing.assert_allclose(np.hypot(p[:, 0], p[:, 1]), 5.0, rtol=1e-12)
    assert uniform_disc(np.random.default_rng(0), 0, 5.0).shape == (0, 2)


def test_deterministic_given_seed():
    a = uniform_disc(np.random.default_rng(9), 10, 100.0, 5.0)
    b = uniform_disc(np.random.default_rng(9), 10, 100.0, 5.0)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("n", "radius_m", "min_distance_m", "field"),
    [
        (-1, 10.0, 0.0, "n must be an integer >= 0"),
        (3, 0.0, 0.0, "radius_m"),
        (3, -5.0, 0.0, "radius_m"),
        (3, 10.0, -1.0, "min_distance_m"),
        (3, 10.0, 11.0, "min_distance_m must be <= radius_m"),
    ],
)
def test_invalid(n, radius_m, min_distance_m, field):
    with pytest.raises(ValueError, match=field):
        uniform_disc(np.random.default_rng(0), n, radius_m, min_distance_m)
