"""The band schedulers of channels.scheduling: the uplink cap against its formula, the water
filling against hand calculations, and its invariants (sums, caps, monotonicity)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.scheduling import nominal_fractions, uplink_cap_fraction, water_fill_fractions


def test_uplink_cap_reaches_the_threshold_exactly():
    # P g = 1e-12 W, N0 = 1e-20 W/Hz, B = 20 MHz, gamma = 10, I = 1e-14 W:
    # f* = (1e-13 - 1e-14) / (1e-20 * 2e7) = 0.45
    f = uplink_cap_fraction(1e-12, 1e-20, 20e6, 10.0, 1e-14)
    assert f == pytest.approx(0.45, rel=1e-12)
    sinr = 1e-12 / (1e-20 * f * 20e6 + 1e-14)
    assert sinr == pytest.approx(10.0, rel=1e-12)
    # interference alone above P g / gamma: no part reaches the threshold
    assert uplink_cap_fraction(1e-12, 1e-20, 20e6, 10.0, 2e-13) < 0


def test_without_binding_caps_the_shares_are_the_nominal_ones():
    w = np.array([1.0, 3.0, 4.0])
    got = water_fill_fractions(w, np.full((2, 3), math.inf))
    assert np.array_equal(got, np.broadcast_to(w / w.sum(), (2, 3)))
    assert np.array_equal(nominal_fractions(w), w / w.sum())


def test_water_filling_by_hand():
    w = np.ones(4)
    cap = np.array(
        [
            [0.1, math.inf, math.inf, 0.0],  # one narrowed, one waits: 0.1, 0.45, 0.45, 0
            [0.02, 0.3, math.inf, math.inf],  # 0.02 < min 0.05: waits; 0.3, 0.35, 0.35
            [0.1, 0.1, 0.1, 0.1],  # all capped: 0.4 of the band used
        ]
    )
    got = water_fill_fractions(w, cap, min_fraction=0.05)
    np.testing.assert_allclose(
        got,
        [[0.1, 0.45, 0.45, 0.0], [0.0, 0.3, 0.35, 0.35], [0.1, 0.1, 0.1, 0.1]],
        rtol=1e-12,
    )


def test_the_minimum_part_does_not_depend_on_the_company():
    # 4 transmissions, min part 0.5 > nominal 0.25: a cap of 0.3 waits (one resource block,
    # time-shared or not, does not reach the threshold); a minimum above the band is the band
    got = water_fill_fractions(np.ones(4), np.array([[0.3, 0.3, 1.0, 1.0]]), min_fraction=0.5)
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.5, 0.5]])
    got = water_fill_fractions(np.ones(1), np.array([[1.0]]), min_fraction=5.0)
    np.testing.assert_allclose(got, [[1.0]])


@given(
    st.lists(st.floats(0.1, 10.0), min_size=1, max_size=6),
    st.lists(st.one_of(st.floats(0.0, 1.5), st.just(math.inf)), min_size=6, max_size=6),
    st.floats(0.0, 0.3),
)
def test_water_filling_invariants(weights, caps, min_fraction):
    w = np.array(weights)
    m = len(w)
    cap = np.array(caps[:m])[None, :]
    f = water_fill_fractions(w, cap, min_fraction)[0]
    assert np.all(f >= 0) and f.sum() <= 1 + 1e-12
    assert np.all(f <= cap[0] + 1e-12)
    # a transmission that gets a part never gets less than its nominal share unless capped
    nominal = w / w.sum()
    for i in range(m):
        if f[i] > 0 and f[i] < cap[0, i] - 1e-12:
            assert f[i] >= nominal[i] - 1e-12
    # nobody is worse off when one transmission leaves the band
    for leave in range(m):
        keep = [i for i in range(m) if i != leave]
        if not keep:
            continue
        g = water_fill_fractions(w[keep], cap[:, keep], min_fraction)[0]
        for j, i in enumerate(keep):
            if f[i] > 0:
                assert g[j] >= f[i] - 1e-12


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="weights"):
        water_fill_fractions([0.0, 1.0], np.ones((1, 2)))
    with pytest.raises(ValueError, match="cap must be"):
        water_fill_fractions([1.0, 1.0], np.ones((1, 3)))
    with pytest.raises(ValueError, match="snr_threshold_linear"):
        uplink_cap_fraction(1.0, 1.0, 1.0, 0.0)
