"""channels.link: Shannon rate, SNR, received power; an end-to-end link budget."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import link, pathloss, units

# (bandwidth_hz, snr_linear, gap_db, expected_bps, rel tolerance)
SHANNON = [
    (20e6, 1.0, 0.0, 20e6, 1e-15),  # 20e6·log2(1 + 1) = 20e6
    (1e6, 3.0, 0.0, 2e6, 1e-15),  # 1e6·log2(4)
    (1e6, 15.0, 0.0, 4e6, 1e-15),  # 1e6·log2(16)
    (1e6, 3.0, 10 * math.log10(3.0), 1e6, 1e-12),  # Γ = 3: 1e6·log2(1 + 3/3)
    (1e6, 0.0, 0.0, 0.0, 0.0),  # no signal
    (0.0, 100.0, 0.0, 0.0, 0.0),  # empty bandwidth share
]


@pytest.mark.parametrize(("b", "snr", "gap", "expected", "rel"), SHANNON)
def test_shannon_reference(b, snr, gap, expected, rel):
    assert link.shannon_rate_bps(b, snr, gap_db=gap) == pytest.approx(expected, rel=rel, abs=0)


def test_snr_and_received_power_reference():
    assert link.snr_linear(1e-12, 1e-13) == pytest.approx(10.0, rel=1e-15)
    # 0.2 W · 10**(-100/10) = 2e-11 W
    assert link.received_power_w(0.2, -100.0) == pytest.approx(2e-11, rel=1e-14)
    got = link.received_power_w(np.array([1.0, 2.0]), np.array([-10.0, -20.0]))
    np.testing.assert_allclose(got, [0.1, 0.02], rtol=1e-14)


def test_end_to_end_link_budget():
    # 23 dBm, free space 3.5 GHz at 100 m (83.32914410888889 dB), no shadowing:
    #   rx = 23 - 83.32914410888889 = -60.32914410888889 dBm
    # noise 20 MHz, NF 7 dB = -93.98970004336019 dBm -> SNR = 33.660555934471304 dB
    # rate = 20e6·log2(1 + 10**3.3660555934471304) = 223648311.0059 bit/s
    pl_db = pathloss.make("free_space", fc_hz=3.5e9).loss_db(100.0)
    p_rx_w = link.received_power_w(units.dbm_to_w(23.0), -pl_db)
    snr = link.snr_linear(p_rx_w, units.noise_power_w(20e6, 7.0))
    assert units.linear_to_db(snr) == pytest.approx(33.660555934471304, abs=1e-9)
    assert link.shannon_rate_bps(20e6, snr) == pytest.approx(223648311.00591543, rel=1e-10)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: link.shannon_rate_bps(-1.0, 1.0), "bandwidth_hz"),
        (lambda: link.shannon_rate_bps(1e6, -1.0), "snr_linear"),
        (lambda: link.shannon_rate_bps(1e6, 1.0, gap_db=-1.0), "gap_db"),
        (lambda: link.snr_linear(1.0, 0.0), "noise_w"),
        (lambda: link.snr_linear(-1.0, 1.0), "p_rx_w"),
        (lambda: link.received_power_w(-0.1, -80.0), "p_tx_w"),
    ],
)
def test_invalid(call, field):
    with pytest.raises(ValueError, match=field):
        call()


@given(
    b=st.floats(min_value=1.0, max_value=1e9),
    snr=st.lists(st.floats(min_value=0.0, max_value=1e9), min_size=2, max_size=10),
    gap_db=st.floats(min_value=0.0, max_value=15.0),
)
def test_rate_nonnegative_monotone_and_below_capacity(b, snr, gap_db):
    s = np.sort(np.asarray(snr))
    r = link.shannon_rate_bps(b, s, gap_db=gap_db)
    assert np.all(r >= 0.0)
    assert np.all(np.diff(r) >= 0.0)
    assert np.all(r <= link.shannon_rate_bps(b, s) * (1 + 1e-12))
