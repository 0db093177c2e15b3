"""channels.link: 3GPP CQI rates, OFDMA bandwidth shares, TDMA rates."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import link

# TS 38.214 Table 5.2.2.1-2 (CQI Table 1, 64QAM), CQI 0..15: (Qm, code rate x 1024, efficiency)
TABLE_64QAM = [
    (0, 0, 0.0),
    (2, 78, 0.1523),
    (2, 120, 0.2344),
    (2, 193, 0.3770),
    (2, 308, 0.6016),
    (2, 449, 0.8770),
    (2, 602, 1.1758),
    (4, 378, 1.4766),
    (4, 490, 1.9141),
    (4, 616, 2.4063),
    (6, 466, 2.7305),
    (6, 567, 3.3223),
    (6, 666, 3.9023),
    (6, 772, 4.5234),
    (6, 873, 5.1152),
    (6, 948, 5.5547),
]
# TS 38.214 Table 5.2.2.1-3 (CQI Table 2, 256QAM)
TABLE_256QAM = [
    (0, 0, 0.0),
    (2, 78, 0.1523),
    (2, 193, 0.3770),
    (2, 449, 0.8770),
    (4, 378, 1.4766),
    (4, 490, 1.9141),
    (4, 616, 2.4063),
    (6, 466, 2.7305),
    (6, 567, 3.3223),
    (6, 666, 3.9023),
    (6, 772, 4.5234),
    (6, 873, 5.1152),
    (8, 711, 5.5547),
    (8, 797, 6.2266),
    (8, 885, 6.9141),
    (8, 948, 7.4063),
]


@pytest.mark.parametrize(("name", "expected"), [("64qam", TABLE_64QAM), ("256qam", TABLE_256QAM)])
def test_cqi_tables_as_in_38214(name, expected):
    rows = link.CQI_TABLES[name]
    assert [r.cqi for r in rows] == list(range(16))
    assert [(r.bits_per_symbol, r.code_rate_x1024, r.efficiency) for r in rows] == expected
    assert rows[0].modulation == "out of range"
    names = {2: "QPSK", 4: "16QAM", 6: "64QAM", 8: "256QAM"}
    assert all(r.modulation == names[r.bits_per_symbol] for r in rows[1:])
    # the printed efficiency is Qm·R/1024 rounded half-up to 4 decimals (2.40625 -> 2.4063)
    for r in rows[1:]:
        exact = r.bits_per_symbol * r.code_rate_x1024 / 1024
        assert r.efficiency == math.floor(exact * 1e4 + 0.5) / 1e4
    with pytest.raises(TypeError):
        link.CQI_TABLES["64qam"] = ()  # read-only data


def test_default_thresholds_are_efficiency_matched():
    # 10·log10(2^eff - 1): CQI 1: 2^0.1523 - 1 = 0.111340 -> -9.53350 dB; CQI 5 (0.8770):
    # 0.836433 -> -0.77507 dB; CQI 11 (3.3223): 9.00153 -> 9.54367 dB;
    # CQI 15 (5.5547): 46.0003 -> 16.62792 dB; 256QAM CQI 15 (7.4063): 168.624 -> 22.26951 dB
    thr = link.cqi_snr_thresholds_db("64qam")
    assert thr.shape == (15,) and np.all(np.diff(thr) > 0)
    np.testing.assert_allclose(
        thr[[0, 4, 10, 14]], [-9.53350, -0.77507, 9.54367, 16.62792], atol=5e-5
    )
    assert link.cqi_snr_thresholds_db("256qam")[14] == pytest.approx(22.26951, abs=5e-5)
    np.testing.assert_allclose(link.cqi_snr_thresholds_db("64qam", gap_db=2.5), thr + 2.5)


# (snr_linear, table, gap_db, expected CQI, expected bit/s at 20 MHz, derivation)
CQI_CASES = [
    (0.0, "64qam", 0.0, 0, 0.0),  # no signal: outage
    (0.1, "64qam", 0.0, 0, 0.0),  # log2(1.1) = 0.1375 < 0.1523: outage
    (2**0.1523 - 1, "64qam", 0.0, 1, 20e6 * 0.1523),  # exactly at the CQI 1 threshold
    (1.0, "64qam", 0.0, 5, 20e6 * 0.8770),  # log2(2) = 1 -> CQI 5 (0.8770): 17.54 Mbit/s
    (10.0, "64qam", 0.0, 11, 20e6 * 3.3223),  # log2(11) = 3.4594 -> CQI 11: 66.446 Mbit/s
    (100.0, "64qam", 0.0, 15, 20e6 * 5.5547),  # log2(101) = 6.658 -> top CQI: 111.094 Mbit/s
    (100.0, "256qam", 0.0, 13, 20e6 * 6.2266),  # 6.658 < 6.9141 -> CQI 13: 124.532 Mbit/s
    (1000.0, "256qam", 0.0, 15, 20e6 * 7.4063),  # log2(1001) = 9.967 -> CQI 15: 148.126 Mbit/s
    (10.0, "64qam", 3.0, 9, 20e6 * 2.4063),  # log2(1 + 10/10^0.3) = 2.588 -> CQI 9 (2.4063)
]


@pytest.mark.parametrize(("snr", "table", "gap_db", "cqi", "rate"), CQI_CASES)
def test_cqi_rate_reference(snr, table, gap_db, cqi, rate):
    assert link.cqi_index(snr, table=table, gap_db=gap_db) == cqi
    got = link.cqi_rate_bps(20e6, snr, table=table, gap_db=gap_db)
    assert got == pytest.approx(rate, rel=1e-15, abs=0.0)


def test_cqi_rate_vectorized_and_broadcast():
    snr = np.array([[0.1, 1.0], [10.0, 100.0]])
    b = np.array([10e6, 20e6])  # broadcast along the last axis
    expected = np.array([[0.0, 20e6 * 0.8770], [10e6 * 3.3223, 20e6 * 5.5547]])
    np.testing.assert_allclose(link.cqi_rate_bps(b, snr), expected, rtol=1e-15)
    np.testing.assert_array_equal(link.cqi_index(snr), [[0, 5], [11, 15]])


def test_cqi_custom_thresholds():
    # an arbitrary increasing list (dB): at 10 dB the highest threshold reached is 8.1 (CQI 8)
    thr = [-6.7, -4.7, -2.3, 0.2, 2.4, 4.3, 5.9, 8.1, 10.3, 11.7, 14.1, 16.3, 18.7, 21.0, 22.7]
    snr = 10.0 ** (np.array([-7.0, 10.0, 25.0]) / 10)
    np.testing.assert_array_equal(link.cqi_index(snr, snr_thresholds_db=thr), [0, 8, 15])
    got = link.cqi_rate_bps(1e6, snr, table="256qam", snr_thresholds_db=thr)
    np.testing.assert_allclose(got, [0.0, 1e6 * 3.3223, 1e6 * 7.4063], rtol=1e-15)


@given(
    snr=st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=2, max_size=20),
    table=st.sampled_from(["64qam", "256qam"]),
)
def test_cqi_rate_monotone_and_below_shannon(snr, table):
    s = np.sort(np.asarray(snr))
    r = link.cqi_rate_bps(1e6, s, table=table)
    assert np.all(np.diff(r) >= 0.0)
    # efficiency-matched thresholds with no gap never exceed capacity
    assert np.all(r <= link.shannon_rate_bps(1e6, s) * (1 + 1e-12))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: link.cqi_rate_bps(1e6, 1.0, table="16qam"), r"table must be one of '64qam'"),
        (lambda: link.cqi_rate_bps(-1.0, 1.0), "bandwidth_hz"),
        (lambda: link.cqi_rate_bps(1e6, -1.0), "snr_linear"),
        (lambda: link.cqi_rate_bps(1e6, 1.0, gap_db=-1.0), "gap_db must be finite and >= 0"),
        (lambda: link.cqi_rate_bps(1e6, 1.0, snr_thresholds_db=[0.0] * 14), "15 finite"),
        (lambda: link.cqi_rate_bps(1e6, 1.0, snr_thresholds_db=list(range(15))[::-1]), "non-dec"),
        (lambda: link.cqi_index(1.0, snr_thresholds_db=[math.nan] * 15), "snr_thresholds_db"),
        (
            lambda: link.cqi_index(1.0, snr_thresholds_db=list(range(15)), gap_db=1.0),
            "gap_db only shifts the default thresholds",
        ),
        (lambda: link.cqi_snr_thresholds_db("64QAM"), "table must be one of"),
    ],
)
def test_cqi_invalid(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- OFDMA shares and TDMA ------------------------------------------------------------------


def test_share_bandwidth_equal():
    # 3 of 4 active: 20 MHz / 3 = 6.666667 MHz each, 0 for the idle link
    got = link.share_bandwidth(20e6, [True, False, True, True])
    np.testing.assert_allclose(got, [20e6 / 3, 0.0, 20e6 / 3, 20e6 / 3], rtol=1e-15)
    assert got.sum() == pytest.approx(20e6, rel=1e-15)
    np.testing.assert_array_equal(link.share_bandwidth(20e6, [False, False]), [0.0, 0.0])
    np.testing.assert_array_equal(link.share_bandwidth(5.0, [1, 0]), [5.0, 0.0])  # 0/1 mask


def test_share_bandwidth_proportional():
    # weights (1, 5, 3, 2), link 1 idle: active total 1 + 3 + 2 = 6 -> 10 MHz · (1, 0, 3, 2)/6
    got = link.share_bandwidth(10e6, [True, False, True, True], "proportional", [1, 5, 3, 2])
    np.testing.assert_allclose(got, [10e6 / 6, 0.0, 5e6, 10e6 / 3], rtol=1e-15)
    assert got.sum() == pytest.approx(10e6, rel=1e-15)
    # a zero weight on an active link gets nothing while others are active
    got = link.share_bandwidth(1.0, [True, True], "proportional", [0.0, 2.0])
    np.testing.assert_array_equal(got, [0.0, 1.0])


@given(
    mask=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=6),
    weights=st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=5, max_size=5),
    b=st.floats(min_value=1.0, max_value=1e9),
)
def test_share_bandwidth_batched_sums_to_band(mask, weights, b):
    m = np.array(mask)
    bands = b * np.arange(1, len(m) + 1)  # a different band per row
    for kind, w in (("equal", None), ("proportional", weights)):
        got = link.share_bandwidth(bands, m, kind=kind, weights=w)
        assert got.shape == m.shape
        assert np.all(got[~m] == 0.0) and np.all(got[m] > 0.0)
        expected = np.where(m.any(axis=1), bands, 0.0)
        np.testing.assert_allclose(got.sum(axis=1), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: link.share_bandwidth(1.0, [True], kind="fair"), "kind must be 'equal' or"),
        (lambda: link.share_bandwidth(1.0, [True], weights=[1.0]), "weights is only used"),
        (lambda: link.share_bandwidth(1.0, [True], kind="proportional"), "needs weights"),
        (
            lambda: link.share_bandwidth(1.0, [True, True], "proportional", [0.0, 0.0]),
            "weights of the active links must not all be 0",
        ),
        (lambda: link.share_bandwidth(1.0, [True], "proportional", [-1.0]), "weights must be"),
        (lambda: link.share_bandwidth(-1.0, [True]), "bandwidth_hz"),
        (
            lambda: link.share_bandwidth(1.0, [True, True], "proportional", [1.0, 2.0, 3.0]),
            r"weights must broadcast against active_mask of shape \(2,\), got shape \(3,\)",
        ),
        (lambda: link.share_bandwidth(1.0, [0, 2]), "active_mask must be an array"),
        (lambda: link.share_bandwidth(1.0, True), "active_mask must be an array"),
    ],
)
def test_share_bandwidth_invalid(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_tdma_rate():
    # whole 10 MHz band for a quarter of the time at SNR 15: 0.25 · 10e6 · log2(16) = 10 Mbit/s
    assert link.tdma_rate_bps(10e6, 15.0, 0.25) == pytest.approx(10e6, rel=1e-15)
    # with gap Γ = 3 (4.771 dB): 0.5 · 1e6 · log2(1 + 9/3) = 1 Mbit/s
    assert link.tdma_rate_bps(1e6, 9.0, 0.5, gap_db=10 * math.log10(3.0)) == pytest.approx(
        1e6, rel=1e-12
    )
    # equal time fractions from share_bandwidth(1, mask): the rates add up to one full-band link
    phi = link.share_bandwidth(1.0, [True, True, False, True])
    rates = link.tdma_rate_bps(20e6, 7.0, phi)
    assert rates.sum() == pytest.approx(link.shannon_rate_bps(20e6, 7.0), rel=1e-14)
    with pytest.raises(ValueError, match=r"time_fraction must be in \[0, 1\], got 1.5"):
        link.tdma_rate_bps(1e6, 1.0, 1.5)
    with pytest.raises(ValueError, match="time_fraction"):
        link.tdma_rate_bps(1e6, 1.0, -0.1)
