"""One fading entry carries its block draw, its continuous-time process, its density and its
ergodic rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import channels

PARAMS = {"none": {}, "rayleigh": {}, "rician": {"k_db": 6.0}, "nakagami": {"m": 2.5}}


def test_every_registered_fading_model_is_covered():
    assert sorted(PARAMS) == channels.fading.MODELS.names()


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_the_process_is_the_registered_one_with_the_same_parameters(name):
    model = channels.fading.make(name, **PARAMS[name])
    assert model.process_name == name and name in channels.doppler.PROCESSES
    rng = np.random.default_rng(3)
    proc = model.process(2000, 3.5e9, rng)
    ref = channels.doppler.make(name, 2000, 3.5e9, np.random.default_rng(3), **PARAMS[name])
    travelled = np.full(2000, 7.3)
    assert np.array_equal(proc.power(travelled), ref.power(travelled))
    assert np.mean(proc.power(travelled)) == pytest.approx(1.0, abs=0.08)  # unit mean


@pytest.mark.parametrize("name", ["rayleigh", "rician", "nakagami"])
def test_the_density_is_the_distribution_of_the_draws(name):
    model = channels.fading.make(name, **PARAMS[name])
    pdf = model.power_pdf()
    total, _ = integrate.quad(pdf, 0, np.inf)
    mean, _ = integrate.quad(lambda x: x * pdf(x), 0, np.inf)
    assert total == pytest.approx(1.0, abs=1e-7) and mean == pytest.approx(1.0, abs=1e-7)
    cdf_at_1, _ = integrate.quad(pdf, 0, 1.0)
    assert cdf_at_1 == pytest.approx(float(model.power_cdf(1.0)), abs=1e-7)


def test_ergodic_rates():
    none = channels.fading.make("none")
    assert none.power_pdf() is None and none.ergodic_rate_bps(1e6, 3.0) == 2e6
    ray = channels.fading.make("rayleigh")
    # the closed form against the generic integral of the density
    numeric = super(type(ray), ray).ergodic_rate_bps(1e6, 10.0)
    assert ray.ergodic_rate_bps(1e6, 10.0) == pytest.approx(numeric, rel=1e-8)
    assert ray.ergodic_rate_bps(1e6, 0.0) == 0.0
    # Jensen: fading never raises the mean rate above the AWGN one
    for name in ("rayleigh", "rician", "nakagami"):
        r = channels.fading.make(name, **PARAMS[name]).ergodic_rate_bps(1e6, 10.0)
        assert 0 < r < 1e6 * math.log2(11)
