"""Reference values for channels.units (hand calculation next to each number)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import units

# (input, expected, abs tolerance)
DB_TO_LINEAR = [
    (0.0, 1.0, 1e-15),  # 10**0
    (10.0, 10.0, 1e-12),  # 10**1
    (-30.0, 1e-3, 1e-18),  # 10**-3
    (3.0, 1.9952623149688795, 1e-12),  # 10**0.3, the usual "3 dB = x2"
]
DBM_TO_W = [
    (30.0, 1.0, 1e-15),  # 30 dBm = 1 W by definition
    (0.0, 1e-3, 1e-18),  # 0 dBm = 1 mW
    (23.0, 0.19952623149688786, 1e-14),  # 10**((23-30)/10) = 10**-0.7 W (device tx)
    (43.0, 19.952623149688797, 1e-11),  # 10**1.3 W (base station tx)
]


@pytest.mark.parametrize(("x_db", "expected", "tol"), DB_TO_LINEAR)
def test_db_to_linear_reference(x_db, expected, tol):
    assert units.db_to_linear(x_db) == pytest.approx(expected, abs=tol)
    assert units.linear_to_db(expected) == pytest.approx(x_db, abs=1e-12)


@pytest.mark.parametrize(("p_dbm", "expected", "tol"), DBM_TO_W)
def test_dbm_to_w_reference(p_dbm, expected, tol):
    assert units.dbm_to_w(p_dbm) == pytest.approx(expected, abs=tol)
    assert units.w_to_dbm(expected) == pytest.approx(p_dbm, abs=1e-12)


def test_noise_power_20mhz_nf7():
    # -174 dBm/Hz + 10·log10(20e6) + 7 dB = -174 + 73.01029995663981 + 7 = -93.98970004336019 dBm
    # = 10**((-93.98970004336019 - 30) / 10) W = 3.9905246299377665e-13 W
    n_w = units.noise_power_w(20e6, 7.0)
    assert units.w_to_dbm(n_w) == pytest.approx(-93.98970004336019, abs=1e-9)
    assert n_w == pytest.approx(3.9905246299377665e-13, rel=1e-12)


def test_noise_power_custom_n0_and_arrays():
    # N0 = -170 dBm/Hz, B = 1 Hz, NF = 0 -> -170 dBm = 1e-20 W; B = 10 Hz -> 1e-19 W
    got = units.noise_power_w(np.array([1.0, 10.0]), 0.0, n0_dbm_per_hz=-170.0)
    np.testing.assert_allclose(got, [1e-20, 1e-19], rtol=1e-12)
    assert got.shape == (2,)


def test_scalars_in_scalars_out_arrays_keep_shape():
    assert np.ndim(units.db_to_linear(3.0)) == 0
    x = np.arange(6.0).reshape(2, 3)
    assert units.db_to_linear(x).shape == (2, 3)
    assert units.dbm_to_w(x).shape == (2, 3)


def test_zero_power_is_minus_infinity_db():
    assert units.linear_to_db(0.0) == -math.inf
    assert units.w_to_dbm(0.0) == -math.inf


@pytest.mark.parametrize("bad", [-1.0, math.nan, [1.0, -2.0]])
def test_linear_to_db_rejects_negative_and_nan(bad):
    with pytest.raises(ValueError, match="x must be >= 0"):
        units.linear_to_db(bad)


@pytest.mark.parametrize("bad", [0.0, -20e6, math.inf, math.nan])
def test_noise_power_rejects_bad_bandwidth(bad):
    with pytest.raises(ValueError, match="bandwidth_hz"):
        units.noise_power_w(bad, 7.0)


def test_speed_of_light():
    assert units.SPEED_OF_LIGHT_MPS == 299_792_458.0


@given(st.floats(min_value=-300.0, max_value=300.0))
def test_db_round_trips(x_db):
    assert units.linear_to_db(units.db_to_linear(x_db)) == pytest.approx(x_db, abs=1e-9)
    assert units.w_to_dbm(units.dbm_to_w(x_db)) == pytest.approx(x_db, abs=1e-9)
