"""channels.pathloss: reference values, clamping, registry, validation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import pathloss
from channels.units import SPEED_OF_LIGHT_MPS

# (fc_hz, d_m, expected_db, abs tolerance);  PL = 20·log10(4π·d·fc / c)
FREE_SPACE = [
    # 4π·1·3.5e9 / 299792458 = 146.70915153661772 -> 20·log10 = 43.32914410888889
    (3.5e9, 1.0, 43.32914410888889, 1e-9),
    # 100x farther: +40 dB -> 83.32914410888889
    (3.5e9, 100.0, 83.32914410888889, 1e-9),
    # 4π·100·2.4e9 / c = 10060.056105368074 -> 80.0520080561155 (= 20log d + 20log f - 147.55)
    (2.4e9, 100.0, 80.0520080561155, 1e-9),
    # 4π·10·28e9 / c = 11736.732122929418 -> 81.39094384872776
    (28e9, 10.0, 81.39094384872776, 1e-9),
    # below 1 m the distance is clamped to 1 m: same as the 3.5 GHz, 1 m value
    (3.5e9, 0.5, 43.32914410888889, 1e-9),
    (3.5e9, 0.0, 43.32914410888889, 1e-9),
]


@pytest.mark.parametrize(("fc_hz", "d_m", "expected", "tol"), FREE_SPACE)
def test_free_space_reference(fc_hz, d_m, expected, tol):
    pl = pathloss.make("free_space", fc_hz=fc_hz)
    assert float(pl.loss_db(d_m)) == pytest.approx(expected, abs=tol)


# (params, d_m, expected_db, abs tolerance);  PL = PL0 + 10·n·log10(d / d0)
LOG_DISTANCE = [
    # PL0 = Friis(1 m, 3.5 GHz) = 43.32914410888889; + 35·log10(100) = +70 -> 113.32914410888889
    ({"fc_hz": 3.5e9, "exponent": 3.5}, 100.0, 113.32914410888889, 1e-9),
    # + 35·log10(1000) = +105 -> 148.3291441088889
    ({"fc_hz": 3.5e9, "exponent": 3.5}, 1000.0, 148.3291441088889, 1e-9),
    # d0 = 10 m: PL0 = Friis(10 m) = 63.32914410888889; + 35·log10(100/10) = +35 -> 98.329...
    ({"fc_hz": 3.5e9, "exponent": 3.5, "d0_m": 10.0}, 100.0, 98.32914410888889, 1e-9),
    # d = 5 m < d0 = 10 m is clamped to d0 -> PL0 = 63.32914410888889
    ({"fc_hz": 3.5e9, "exponent": 3.5, "d0_m": 10.0}, 5.0, 63.32914410888889, 1e-9),
    ({"fc_hz": 3.5e9, "exponent": 3.5, "d0_m": 10.0}, 0.0, 63.32914410888889, 1e-9),
    # explicit PL0 = 40 dB at d0 = 1 m, n = 2: 40 + 20·log10(10) = 60
    ({"fc_hz": 2.0e9, "exponent": 2.0, "pl0_db": 40.0}, 10.0, 60.0, 1e-12),
    # n = 4, d0 = 2 m, PL0 = 50: 50 + 40·log10(200/2) = 50 + 80 = 130
    ({"fc_hz": 2.0e9, "exponent": 4.0, "d0_m": 2.0, "pl0_db": 50.0}, 200.0, 130.0, 1e-12),
]


@pytest.mark.parametrize(("params", "d_m", "expected", "tol"), LOG_DISTANCE)
def test_log_distance_reference(params, d_m, expected, tol):
    pl = pathloss.make("log_distance", **params)
    assert float(pl.loss_db(d_m)) == pytest.approx(expected, abs=tol)


def test_loss_is_vectorized_and_keeps_shape():
    pl = pathloss.make("log_distance", fc_hz=3.5e9, exponent=3.5)
    d = np.array([[1.0, 10.0], [100.0, 1000.0]])
    got = pl.loss_db(d)
    assert isinstance(got, np.ndarray) and got.shape == (2, 2)
    # 43.329... + 35·[0, 1, 2, 3]
    np.testing.assert_allclose(got.ravel(), 43.32914410888889 + 35.0 * np.arange(4), atol=1e-9)
    assert isinstance(pl.loss_db(5.0), np.ndarray) and pl.loss_db(5.0).shape == ()


def test_los_probability_is_one_for_models_without_los():
    for pl in (
        pathloss.make("free_space", fc_hz=3.5e9),
        pathloss.make("log_distance", fc_hz=3.5e9, exponent=3.0),
    ):
        p = pl.los_probability(np.array([0.0, 10.0, 1e4]))
        np.testing.assert_array_equal(p, [1.0, 1.0, 1.0])
        # the los flag is ignored by these models
        assert float(pl.loss_db(50.0, los=False)) == float(pl.loss_db(50.0, los=True))


def test_registry():
    assert {"free_space", "log_distance"} <= set(pathloss.MODELS.names())
    assert isinstance(pathloss.make("free_space", fc_hz=1e9), pathloss.FreeSpace)
    with pytest.raises(KeyError, match="unknown path-loss model 'nope'"):
        pathloss.make("nope")


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("free_space", {"fc_hz": 0.0}, "fc_hz"),
        ("free_space", {"fc_hz": -3.5e9}, "fc_hz"),
        ("free_space", {"fc_hz": math.nan}, "fc_hz"),
        ("log_distance", {"fc_hz": 0.0, "exponent": 3.0}, "fc_hz"),
        ("log_distance", {"fc_hz": 3.5e9, "exponent": 0.0}, "exponent"),
        ("log_distance", {"fc_hz": 3.5e9, "exponent": -2.0}, "exponent"),
        ("log_distance", {"fc_hz": 3.5e9, "exponent": 3.0, "d0_m": 0.0}, "d0_m"),
        ("log_distance", {"fc_hz": 3.5e9, "exponent": 3.0, "pl0_db": math.inf}, "pl0_db"),
    ],
)
def test_invalid_parameters(name, params, field):
    with pytest.raises(ValueError, match=field):
        pathloss.make(name, **params)


@pytest.mark.parametrize("bad", [-1.0, math.nan, [10.0, -0.5]])
def test_invalid_distances(bad):
    pl = pathloss.make("free_space", fc_hz=3.5e9)
    with pytest.raises(ValueError, match="d2d_m must be finite and >= 0"):
        pl.loss_db(bad)
    with pytest.raises(ValueError, match="d2d_m"):
        pl.los_probability(bad)


def test_error_message_names_value():
    with pytest.raises(ValueError, match=r"exponent must be finite and > 0, got -2"):
        pathloss.make("log_distance", fc_hz=3.5e9, exponent=-2)


@given(
    fc_hz=st.floats(min_value=1e8, max_value=1e11),
    d_m=st.floats(min_value=1.0, max_value=1e5),
)
def test_log_distance_with_exponent_2_is_free_space(fc_hz, d_m):
    fs = pathloss.make("free_space", fc_hz=fc_hz)
    ld = pathloss.make("log_distance", fc_hz=fc_hz, exponent=2.0)
    expected = 20.0 * math.log10(4.0 * math.pi * d_m * fc_hz / SPEED_OF_LIGHT_MPS)
    assert float(fs.loss_db(d_m)) == pytest.approx(expected, abs=1e-9)
    assert float(ld.loss_db(d_m)) == pytest.approx(expected, abs=1e-9)


@given(
    exponent=st.floats(min_value=0.5, max_value=6.0),
    d0_m=st.floats(min_value=0.1, max_value=50.0),
    d=st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=2, max_size=20),
)
def test_loss_is_nondecreasing_in_distance(exponent, d0_m, d):
    pl = pathloss.make("log_distance", fc_hz=3.5e9, exponent=exponent, d0_m=d0_m)
    loss = pl.loss_db(np.sort(d))
    assert np.all(np.diff(loss) >= -1e-9)
    assert np.all(loss >= pl.pl0_db - 1e-9)
