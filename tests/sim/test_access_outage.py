"""The medium's strategies — multiple access and outage policy — and the link kernels it
calls, as components."""

from __future__ import annotations

import math

import numpy as np
import pytest

from channels.link import downlink_sinr, shannon_rate_bps, shannon_rate_kernel, uplink_sinr
from channels.scheduling import uplink_cap_fraction
from fedsl_sim.sim.access import ACCESS, Links, Ofdma, Tdma
from fedsl_sim.sim.outage import OUTAGE_POLICIES, OutagePolicy

N0 = 4e-21  # W/Hz


def test_the_kernels_are_the_checked_functions():
    b, snr = np.array([1e6, 2e7, 0.0]), np.array([0.5, 1e-12, 30.0])
    assert np.array_equal(shannon_rate_kernel(b, snr), shannon_rate_bps(b, snr))
    assert np.array_equal(
        shannon_rate_kernel(b, snr, 10**0.3), shannon_rate_bps(b, snr, gap_db=3.0)
    )
    # log1p keeps a tiny SNR's rate accurate: B snr / ln 2
    assert shannon_rate_kernel(np.array(1.0), np.array(1e-12)) == pytest.approx(
        1e-12 / math.log(2), rel=1e-12
    )
    assert uplink_sinr(2e-12, N0, 1e6, 1e-15) == pytest.approx(2e-12 / (N0 * 1e6 + 1e-15))
    assert downlink_sinr(10.0, 1e-10, N0, 2e7, 1e-12) == pytest.approx(
        10.0 * 1e-10 / (N0 * 2e7 + 10.0 * 1e-12)
    )


def test_ofdma_and_tdma_turn_a_share_into_rate_and_time_on_air():
    band, frac, snr = np.array([1e7, 1e7]), np.array([0.25, 0.75]), np.array([3.0, 7.0])
    ofdma, tdma = ACCESS.make("ofdma"), ACCESS.make("tdma")
    assert isinstance(ofdma, Ofdma) and isinstance(tdma, Tdma)
    assert np.array_equal(ofdma.part_hz(band, frac), band * frac)
    assert np.array_equal(tdma.part_hz(band, frac), band)
    assert np.allclose(ofdma.rate_bps(shannon_rate_kernel, band, frac, snr), band * frac * [2, 3])
    assert np.allclose(tdma.rate_bps(shannon_rate_kernel, band, frac, snr), frac * band * [2, 3])
    assert np.array_equal(ofdma.on_air(frac, (3, 2)), np.ones((3, 2)))
    assert np.array_equal(tdma.on_air(frac, (3, 2)), np.tile(frac, (3, 1)))


def test_the_scheduler_caps_of_each_access_scheme():
    uplink = np.array([True, False])
    rx_w, band = np.array([1e-13, 0.0]), np.array([1e7, 1e7])
    dl = np.array([0.0, 5.0])
    gamma = 2.0
    caps = ACCESS.make("ofdma").caps(Links(uplink, rx_w, N0, band, 0.0, dl, dl), gamma)
    assert caps[0] == pytest.approx(uplink_cap_fraction(rx_w[0], N0, band[0], gamma))
    assert caps[1] == math.inf  # the downlink SINR does not depend on the part
    nominal = np.array([1.0, 1.5])
    links = Links(uplink, rx_w, N0, band, 0.0, nominal, dl)
    assert list(ACCESS.make("tdma").caps(links, gamma)) == [0.0, 0.0]
    assert list(ACCESS.make("ofdma").min_fraction(uplink, 180e3, band)) == [0.018, 0.0]
    assert list(ACCESS.make("tdma").min_fraction(uplink, 180e3, band)) == [0.0, 0.0]


def test_outage_policies():
    wait = OUTAGE_POLICIES.make("wait", max_retransmissions=3, chase_combining=True)
    harq = OUTAGE_POLICIES.make("harq", max_retransmissions=3, chase_combining=True)
    drop = OUTAGE_POLICIES.make("drop", max_retransmissions=3, chase_combining=True)
    assert (wait.blind, wait.chase) == (False, False)
    assert (harq.blind, harq.budget, harq.chase) == (True, 3, True)
    assert (drop.blind, drop.budget, drop.chase) == (True, 0, False)
    sinr = np.array([[0.5], [0.6], [2.0], [0.3]])
    failed, _ = drop.failed_blocks(sinr, 1.0, [0.0])
    assert failed[:, 0].tolist() == [True, True, False, True]
    # Chase: 0.5 fails, 0.5 + 0.6 >= 1 decodes; 0.3 fails and carries 0.3 out
    failed, carry = harq.failed_blocks(sinr, 1.0, [0.0])
    assert failed[:, 0].tolist() == [True, False, False, True]
    assert carry[:, 0].tolist() == [0.5, 0.0, 0.0, 0.3]
    # a carry from an earlier segment joins a failure at its first block
    failed, _ = harq.failed_blocks(sinr, 1.0, [0.6])
    assert failed[:, 0].tolist() == [False, True, False, True]
    assert not wait.failed_blocks(sinr, None, [0.0])[0].any()  # no threshold: no outage
    with pytest.raises(ValueError, match="blind"):
        OutagePolicy("odd", blind=False, chase=True)
    with pytest.raises(ValueError, match="budget"):
        OutagePolicy("odd", blind=True, budget=-1)
