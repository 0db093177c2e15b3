"""channels.pathloss: 3GPP TR 38.901 / TR 36.814 models, LOS probability, LosState.

Reference losses: ns-3's ThreeGppPropagationLossModel test vectors
(src/propagation/test/three-gpp-propagation-loss-model-test-suite.cc, nsnam/ns-3-dev-git):
received power for 0 dBm transmitted, shadowing off, BS at (0, 0, h_BS), UT at (d, 0, 1.5 m),
5 GHz; so PL = -P_rx. ns-3 checks them to 0.05 dB; we hold them to 0.01 dB.
fc in GHz inside formulas; c = 3e8 m/s in breakpoint distances (TR 38.901 Table 7.4.1-1).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import pathloss
from channels.pathloss import InH, LosState, Macro36814, RMa, UMa, UMi

NS3_TOL_DB = 0.01

# RMa, h_BS = 35 m, h_UT = 1.5 m, h = 5 m, W = 20 m; d_BP = 2π·35·1.5·5e9/3e8 = 5497.8 m.
# e.g. LOS 10 m: d3D = hypot(10, 33.5) = 34.9607; 20log10(40π·34.9607·5/3) = 77.2928,
#   + min(0.03·5^1.72, 10)·log10(d3D) = 0.47791·1.54358 = 0.73771, - min(0.044·5^1.72, 14.77)
#   = -0.70094, + 0.002·log10(5)·d3D = +0.04887  ->  77.3784.
# NLOS 1000 m: 161.04 - 9.23731 + 5.24228 - 37.51235 + 0.00941 + 13.97940 + 0.00092 = 133.5223
# (above LOS 108.5577). NLOS 10 m: PL' < PL_LOS, so max() gives the LOS 77.3784.
RMA_NS3 = [
    (10.0, True, 77.3784),
    (100.0, True, 87.2965),
    (1000.0, True, 108.5577),
    (10000.0, True, 140.3896),  # beyond d_BP: PL1(d_BP) + 40·log10(d3D/d_BP)
    (10.0, False, 77.3784),
    (100.0, False, 95.7718),
    (1000.0, False, 133.5223),
    (5000.0, False, 160.5169),
]

# UMa, h_BS = 25 m, h_UT = 1.5 m, h_E = 1 m: d'_BP = 4·24·0.5·5e9/3e8 = 800 m.
# LOS 100 m: d3D = 102.7241; 28 + 22·2.011673 + 20·log10(5) = 28 + 44.25681 + 13.97940 = 86.2362.
# LOS 1000 m (PL2): d3D = 1000.2761; 28 + 40·3.000120 + 13.97940 - 9·log10(800² + 23.5²)
#   = 28 + 120.00480 + 13.97940 - 9·5.806554 = 109.7252.
# NLOS 1000 m: 13.54 + 39.08·3.000120 + 13.97940 - 0.6·0 = 144.7641.
UMA_NS3 = [
    (10.0, True, 72.9380),
    (100.0, True, 86.2362),
    (1000.0, True, 109.7252),
    (5000.0, True, 137.6794),
    (10.0, False, 82.5131),
    (100.0, False, 106.1356),
    (1000.0, False, 144.7641),
    (5000.0, False, 172.0753),
]

# UMi-SC, h_BS = 10 m, h_UT = 1.5 m: d'_BP = 4·9·0.5·5e9/3e8 = 300 m.
# LOS 1000 m (PL2): d3D = 1000.0361; 32.4 + 40·3.0000157 + 13.97940 - 9.5·log10(300² + 8.5²)
#   = 32.4 + 120.00063 + 13.97940 - 9.5·4.954591 = 119.3114.
# NLOS 100 m: d3D = 100.3606; 22.4 + 35.3·2.001562 + 21.3·log10(5) = 107.9432.
# (ns-3 lists all eight but, through a missing Add(), checks only the first two.)
UMI_NS3 = [
    (10.0, True, 69.8591),
    (100.0, True, 88.4122),
    (1000.0, True, 119.3114),
    (5000.0, True, 147.2696),
    (10.0, False, 76.7563),
    (100.0, False, 107.9432),
    (1000.0, False, 143.1886),
    (5000.0, False, 167.8617),
]

# InH-Office, h_BS = 3 m, h_UT = 1.5 m. 10 m: d3D = hypot(10, 1.5) = 10.11187;
# LOS 32.4 + 17.3·1.004832 + 13.97940 = 63.7630; NLOS 17.3 + 38.3·1.004832 + 24.9·0.69897
# = 73.1894. At 1 m (d3D = 1.80278) NLOS' is below LOS, so NLOS = LOS = 50.8072.
INH_NS3 = [
    (1.0, True, 50.8072),
    (10.0, True, 63.7630),
    (50.0, True, 75.7750),
    (100.0, True, 80.9802),
    (1.0, False, 50.8072),
    (10.0, False, 73.1894),
    (50.0, False, 99.7824),
    (100.0, False, 111.3062),
]

NS3_CASES = (
    [("rma", 35.0, *v) for v in RMA_NS3]
    + [("uma", 25.0, *v) for v in UMA_NS3]
    + [("umi", 10.0, *v) for v in UMI_NS3]
    + [("inh", 3.0, *v) for v in INH_NS3]
)


@pytest.mark.parametrize(("name", "h_bs_m", "d_m", "los", "expected"), NS3_CASES)
def test_ns3_reference_vectors(name, h_bs_m, d_m, los, expected):
    pl = pathloss.make(name, fc_hz=5.0e9, h_bs_m=h_bs_m, h_ut_m=1.5)
    assert float(pl.loss_db(d_m, los=los)) == pytest.approx(expected, abs=NS3_TOL_DB)


def test_ns3_vectors_vectorized_in_one_call():
    d, los, expected = (np.array(col) for col in zip(*UMA_NS3, strict=True))
    pl = pathloss.make("uma", fc_hz=5.0e9, h_bs_m=25.0, h_ut_m=1.5)
    np.testing.assert_allclose(pl.loss_db(d, los=los), expected, atol=NS3_TOL_DB)


def test_design_api_example():
    pl = pathloss.make("uma", fc_hz=3.5e9, h_bs_m=25.0, h_ut_m=1.5)
    d = np.array([100.0, 100.0])
    # d3D = hypot(100, 23.5) = 102.72415; 20·log10(3.5) = 10.88136
    # LOS: 28 + 22·2.0116725 + 10.88136 = 83.13816 (d'_BP = 4·24·0.5·3.5e9/3e8 = 560 m)
    # NLOS: 13.54 + 39.08·2.0116725 + 10.88136 = 103.03752
    np.testing.assert_allclose(pl.loss_db(d, los=[True, False]), [83.13816, 103.03752], atol=1e-4)
    assert float(pl.loss_db(100.0, los=True)) == pytest.approx(83.13816, abs=1e-4)
    # 18/100 + exp(-100/63)·(1 - 18/100) = 0.18 + 0.2044766·0.82 = 0.3476708
    assert float(pl.los_probability(100.0)) == pytest.approx(0.3476708368, abs=1e-9)


# simplified (optional) NLOS formulas of Table 7.4.1-1, fc = 3.5 GHz (20·log10 3.5 = 10.88136)
SIMPLIFIED = [
    # UMa: d3D = hypot(200, 23.5) = 201.37589; 32.4 + 10.88136 + 30·2.304006 = 112.40159
    ("uma", {"h_bs_m": 25.0, "h_ut_m": 1.5}, 200.0, 112.40159),
    # UMi: d3D = hypot(200, 8.5) = 200.18054; 32.4 + 10.88136 + 31.9·2.301422 = 116.69672
    ("umi", {"h_bs_m": 10.0, "h_ut_m": 1.5}, 200.0, 116.69672),
    # InH: d3D = hypot(20, 2) = 20.09975; 32.4 + 10.88136 + 31.9·1.303191 = 84.85314
    ("inh", {"h_bs_m": 3.0, "h_ut_m": 1.0}, 20.0, 84.85314),
]


@pytest.mark.parametrize(("name", "heights", "d_m", "expected"), SIMPLIFIED)
def test_simplified_nlos(name, heights, d_m, expected):
    pl = pathloss.make(name, fc_hz=3.5e9, simplified_nlos=True, **heights)
    assert float(pl.loss_db(d_m, los=False)) == pytest.approx(expected, abs=1e-4)
    full = pathloss.make(name, fc_hz=3.5e9, **heights)
    # the LOS loss does not depend on the flag
    assert float(pl.loss_db(d_m, los=True)) == float(full.loss_db(d_m, los=True))


def test_simplified_nlos_never_below_los():
    # UMi at 0.5 GHz, 5 km: the optional NLOS formula (144.41 dB) falls below the LOS PL2
    # (d'_BP = 4·9·0.5·0.5e9/3e8 = 30 m; 32.4 + 40·3.69897 - 6.0206 - 9.5·log10(30² + 8.5²)
    # = 145.96 dB); NLOS is bounded below by LOS, as for the full formula.
    pl = UMi(fc_hz=0.5e9, simplified_nlos=True)
    assert float(pl.loss_db(5000.0, los=True)) == pytest.approx(145.96, abs=0.01)
    assert float(pl.loss_db(5000.0, los=False)) == float(pl.loss_db(5000.0, los=True))


def test_uma_effective_environment_height():
    # h_UT = 22.5 m, fc = 0.5 GHz, d2D = 2000 m, d3D = hypot(2000, 2.5) = 2000.0016
    pl = UMa(fc_hz=0.5e9, h_ut_m=22.5)
    # h_E = 1: d'_BP = 4·24·21.5·0.5e9/3e8 = 3440 m > d2D -> PL1 = 28 + 22·3.3010303 - 6.0206
    #   = 94.60207
    assert float(pl.loss_db(2000.0)) == pytest.approx(94.60207, abs=1e-4)
    # h_E = 12: d'_BP = 4·13·10.5·0.5e9/3e8 = 910 m < d2D -> PL2 = 28 + 40·3.3010303 - 6.0206
    #   - 9·log10(910² + 2.5²) = 28 + 132.04121 - 6.0206 - 53.26277 = 100.75784
    got = pl.loss_db(np.array([2000.0, 2000.0]), h_e_m=np.array([1.0, 12.0]))
    np.testing.assert_allclose(got, [94.60207, 100.75784], atol=1e-4)
    with pytest.raises(ValueError, match=r"h_e_m must be in \[0, h_ut_m\)"):
        pl.loss_db(100.0, h_e_m=22.5)
    with pytest.raises(ValueError, match="h_e_m"):
        pl.loss_db(100.0, h_e_m=-1.0)


def test_uma_h_e_draws_follow_note_1():
    pl = UMa(fc_hz=3.5e9, h_ut_m=22.5)
    rng = np.random.default_rng(8)
    n = 40_000
    h_e = pl.sample_h_e_m(np.full(n, 200.0), rng)
    # g(200) = 1.25·2³·exp(-4/3) = 2.635971; C = ((22.5-13)/10)^1.5·g = 0.925945·2.635971
    # = 2.440766; P(h_E = 1) = 1/(1 + C) = 0.290633; ± 5·sqrt(p(1-p)/n) = ±0.0113
    assert abs(np.mean(h_e == 1.0) - 0.290633) < 0.0113
    # otherwise uniform on {12, 15, 18, 21} (h_UT - 1.5 = 21)
    others = h_e[h_e != 1.0]
    assert set(np.unique(others)) == {12.0, 15.0, 18.0, 21.0}
    counts = np.array([np.sum(others == v) for v in (12.0, 15.0, 18.0, 21.0)])
    assert np.all(np.abs(counts / others.size - 0.25) < 0.02)
    # within 18 m, g = 0 so h_E = 1 always
    np.testing.assert_array_equal(pl.sample_h_e_m(np.full(100, 18.0), rng), 1.0)


def test_uma_h_e_low_ut_is_deterministic_and_draws_nothing():
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    h_e = UMa(fc_hz=3.5e9, h_ut_m=1.5).sample_h_e_m(np.array([50.0, 500.0]), rng)
    np.testing.assert_array_equal(h_e, [1.0, 1.0])
    assert rng.bit_generator.state == state


# (model, d2D, expected P_LOS) per Table 7.4.2-1
LOS_PROBABILITY = [
    (UMa(fc_hz=3.5e9), 10.0, 1.0),  # d <= 18 m
    (UMa(fc_hz=3.5e9), 18.0, 1.0),
    # 0.18 + exp(-100/63)·0.82 = 0.18 + 0.2044766·0.82
    (UMa(fc_hz=3.5e9), 100.0, 0.3476708368),
    # h_UT = 18.5 m: C' = (5.5/10)^1.5 = 0.4078909; 5/4·1³·exp(-100/150) = 0.6417714;
    # 0.3476708·(1 + 0.4078909·0.6417714) = 0.4386816
    (UMa(fc_hz=3.5e9, h_ut_m=18.5), 100.0, 0.4386815789),
    # d = 200: 0.09 + exp(-200/63)·0.91 = 0.1280477; 5/4·8·exp(-4/3) = 2.635971;
    # 0.1280477·(1 + 0.4078909·2.635971) = 0.2657232
    (UMa(fc_hz=3.5e9, h_ut_m=18.5), 200.0, 0.2657232131),
    # h_UT = 13 m: C' = 0 (only above 13 m)
    (UMa(fc_hz=3.5e9, h_ut_m=13.0), 100.0, 0.3476708368),
    (UMi(fc_hz=3.5e9), 18.0, 1.0),
    # 0.18 + exp(-100/36)·0.82 = 0.18 + 0.0621765·0.82
    (UMi(fc_hz=3.5e9), 100.0, 0.2309847497),
    (RMa(fc_hz=3.5e9), 10.0, 1.0),
    (RMa(fc_hz=3.5e9), 510.0, math.exp(-0.5)),  # exp(-(510 - 10)/1000)
    (InH(fc_hz=3.5e9, office="mixed"), 1.2, 1.0),
    (InH(fc_hz=3.5e9, office="mixed"), 3.55, math.exp(-0.5)),  # exp(-(3.55 - 1.2)/4.7)
    (InH(fc_hz=3.5e9, office="mixed"), 6.5, 0.32),  # 0.32·exp(0): second branch from 6.5 m
    (InH(fc_hz=3.5e9, office="mixed"), 39.1, 0.32 * math.exp(-1.0)),  # (39.1-6.5)/32.6 = 1
    (InH(fc_hz=3.5e9, office="open"), 5.0, 1.0),
    (InH(fc_hz=3.5e9, office="open"), 40.4, math.exp(-0.5)),  # (40.4 - 5)/70.8 = 0.5
    (InH(fc_hz=3.5e9, office="open"), 49.0, math.exp(-44.0 / 70.8)),  # still exp branch
    (InH(fc_hz=3.5e9, office="open"), 260.7, 0.54 * math.exp(-1.0)),  # (260.7 - 49)/211.7
]


@pytest.mark.parametrize(("pl", "d_m", "expected"), LOS_PROBABILITY)
def test_los_probability_reference(pl, d_m, expected):
    assert float(pl.los_probability(d_m)) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "pl", [UMa(fc_hz=3.5e9, h_ut_m=22.5), UMi(fc_hz=3.5e9), RMa(fc_hz=3.5e9), InH(fc_hz=3.5e9)]
)
def test_los_probability_shape_and_range(pl):
    d = np.linspace(0.0, 5000.0, 2001).reshape(1, -1)
    p = pl.los_probability(d)
    assert p.shape == d.shape
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert p[0, 0] == 1.0
    with pytest.raises(ValueError, match="d2d_m must be finite and >= 0"):
        pl.los_probability(-1.0)


# TR 36.814 macro: 128.1 + 37.6·log10(d/1 km), d >= 35 m
MACRO_36814 = [
    (1000.0, 128.1),  # log10(1) = 0
    (100.0, 90.5),  # 128.1 - 37.6
    (2000.0, 139.41872784),  # 128.1 + 37.6·0.30103
    (35.0, 73.35695847),  # 128.1 + 37.6·log10(0.035) = 128.1 - 37.6·1.455932
    (10.0, 73.35695847),  # clamped to 35 m
    (0.0, 73.35695847),
]


@pytest.mark.parametrize(("d_m", "expected"), MACRO_36814)
def test_macro_36814_reference(d_m, expected):
    pl = pathloss.make("macro_36814")
    assert pl.fc_hz == 2.0e9
    assert float(pl.loss_db(d_m)) == pytest.approx(expected, abs=1e-6)
    assert float(pl.loss_db(d_m, los=True)) == float(pl.loss_db(d_m, los=False))


def test_macro_36814_frequency_term():
    # TR 36.942 frequency term: 21·log10(0.9/2) = -7.28254 -> 120.82 at 1 km, 900 MHz
    # (TR 36.942 §4.5.2 quotes 120.9 + 37.6·log10(R) for 900 MHz, rounded from Dhb = 15 m)
    pl = Macro36814(fc_hz=0.9e9)
    assert float(pl.loss_db(1000.0)) == pytest.approx(120.81746, abs=1e-5)
    np.testing.assert_array_equal(pl.los_probability([10.0, 1e4]), [1.0, 1.0])
    with pytest.raises(ValueError, match="fc_hz must be finite and > 0"):
        Macro36814(fc_hz=0.0)


def test_registry_names():
    assert {"macro_36814", "uma", "umi", "rma", "inh"} <= set(pathloss.MODELS.names())
    assert isinstance(pathloss.make("rma", fc_hz=3.5e9), RMa)
    assert isinstance(pathloss.make("inh", fc_hz=28e9, office="open"), InH)


@pytest.mark.parametrize(
    ("pl", "los", "below", "above"),
    [
        (RMa(fc_hz=3.5e9), True, 9.99, 10_000.01),
        (RMa(fc_hz=3.5e9), False, 9.99, 5_000.01),
        (UMa(fc_hz=3.5e9), True, 9.99, 5_000.01),
        (UMa(fc_hz=3.5e9), False, 9.99, 5_000.01),
        (UMi(fc_hz=3.5e9), True, 9.99, 5_000.01),
        (UMi(fc_hz=3.5e9), False, 9.99, 5_000.01),
        # InH: h_BS - h_UT = 2 m, so d3D >= 1 always; d3D <= 150 -> d2D <= sqrt(150² - 4)
        (InH(fc_hz=3.5e9), True, None, math.sqrt(150.0**2 - 4.0) + 0.01),
    ],
)
def test_validity_range_and_clamp(pl, los, below, above):
    lo, hi = pl.d2d_range_m(los)
    assert float(pl.loss_db(hi, los=los)) > float(pl.loss_db(lo, los=los))
    bad = [above] if below is None else [below, above]
    for d in bad:
        with pytest.raises(ValueError, match=r"d2d_m must be in \[.*\] m for TR 38.901 .*clamp"):
            pl.loss_db(np.array([lo, d]), los=los)
    clamped = type(pl)(fc_hz=3.5e9, clamp=True)
    edge = {lo: lo, hi: hi} if below is None else {below: lo, above: hi}
    for d, edge_d in edge.items():
        assert float(clamped.loss_db(d, los=los)) == float(pl.loss_db(edge_d, los=los))
    # clamping only touches out-of-range distances
    mid = 0.5 * (lo + hi)
    assert float(clamped.loss_db(mid, los=los)) == float(pl.loss_db(mid, los=los))


def test_inh_short_range_limit_from_d3d():
    # equal heights: d3D = d2D, so d2D must be >= 1 m
    pl = InH(fc_hz=3.5e9, h_bs_m=1.5, h_ut_m=1.5)
    assert pl.d2d_range_m(True) == (1.0, 150.0)
    with pytest.raises(ValueError, match=r"d2d_m must be in \[1, 150\] m"):
        pl.loss_db(0.5)
    clamped = InH(fc_hz=3.5e9, h_bs_m=1.5, h_ut_m=1.5, clamp=True)
    # 32.4 + 17.3·0 + 20·log10(3.5) = 43.28136
    assert float(clamped.loss_db(0.5)) == pytest.approx(43.28136, abs=1e-5)


def test_error_names_the_state_and_range():
    pl = RMa(fc_hz=3.5e9)
    # 7000 m is valid for LOS (<= 10 km) but not NLOS (<= 5 km)
    pl.loss_db(7000.0, los=True)
    with pytest.raises(ValueError, match=r"\[10, 5000\] m for TR 38.901 RMa NLOS, got 7000.0"):
        pl.loss_db(np.array([7000.0, 7000.0]), los=np.array([True, False]))


@pytest.mark.parametrize(
    ("cls", "params", "field"),
    [
        (UMa, {"fc_hz": 0.4e9}, r"fc_hz must be in \[5e\+08, 1e\+11\] Hz for TR 38.901 UMa"),
        (UMa, {"fc_hz": 3.5e9, "h_bs_m": 30.0}, "h_bs_m must be 25 m for TR 38.901 UMa, got 30"),
        (UMa, {"fc_hz": 3.5e9, "h_ut_m": 1.0}, r"h_ut_m must be in \[1.5, 22.5\] m"),
        (UMa, {"fc_hz": 3.5e9, "h_ut_m": 23.0}, "h_ut_m"),
        (UMi, {"fc_hz": 3.5e9, "h_bs_m": 25.0}, "h_bs_m must be 10 m"),
        (UMi, {"fc_hz": 101e9}, "fc_hz"),
        (RMa, {"fc_hz": 31e9}, r"fc_hz must be in \[5e\+08, 3e\+10\] Hz for TR 38.901 RMa"),
        (RMa, {"fc_hz": 3.5e9, "h_bs_m": 9.0}, r"h_bs_m must be in \[10, 150\] m"),
        (RMa, {"fc_hz": 3.5e9, "h_ut_m": 11.0}, r"h_ut_m must be in \[1, 10\] m"),
        (RMa, {"fc_hz": 3.5e9, "h_m": 4.0}, r"h_m must be in \[5, 50\] m"),
        (RMa, {"fc_hz": 3.5e9, "w_m": 51.0}, r"w_m must be in \[5, 50\] m"),
        (InH, {"fc_hz": 3.5e9, "h_bs_m": 0.0}, "h_bs_m must be finite and > 0"),
        (InH, {"fc_hz": 3.5e9, "office": "cubicle"}, "office must be one of mixed, open"),
        (UMa, {"fc_hz": math.nan}, "fc_hz must be finite"),
        (UMa, {"fc_hz": 3.5e9, "clamp": "yes"}, "clamp must be a bool"),
        (UMi, {"fc_hz": 3.5e9, "simplified_nlos": 1}, "simplified_nlos must be a bool"),
    ],
)
def test_invalid_construction(cls, params, field):
    with pytest.raises(ValueError, match=field):
        cls(**params)


def test_los_broadcasts_against_distance():
    pl = UMi(fc_hz=28e9)
    d = np.array([20.0, 200.0, 2000.0])
    los = np.array([[True], [False]])
    got = pl.loss_db(d, los=los)
    assert got.shape == (2, 3)
    for i, state in enumerate((True, False)):
        for j, dj in enumerate(d):
            assert got[i, j] == float(pl.loss_db(dj, los=state))
    assert np.all(got[1] > got[0])


@given(
    name=st.sampled_from(["uma", "umi", "rma", "inh"]),
    fc_ghz=st.floats(min_value=0.5, max_value=30.0),
    d=st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=2, max_size=10),
)
def test_nlos_at_least_los_and_monotone(name, fc_ghz, d):
    pl = pathloss.make(name, fc_hz=fc_ghz * 1e9, clamp=True)
    d = np.sort(d)
    los, nlos = pl.loss_db(d, los=True), pl.loss_db(d, los=False)
    assert np.all(nlos >= los)
    assert np.all(np.diff(los) >= -1e-9) and np.all(np.diff(nlos) >= -1e-9)


def test_shadowing_parameters():
    los = np.array([True, False])
    # Table 7.4.1-1 σ_SF
    np.testing.assert_array_equal(UMa(fc_hz=3.5e9).shadowing_std_db(los), [4.0, 6.0])
    np.testing.assert_array_equal(
        UMa(fc_hz=3.5e9, simplified_nlos=True).shadowing_std_db(los), [4.0, 7.8]
    )
    np.testing.assert_array_equal(UMi(fc_hz=3.5e9).shadowing_std_db(los), [4.0, 7.82])
    np.testing.assert_array_equal(
        UMi(fc_hz=3.5e9, simplified_nlos=True).shadowing_std_db(los), [4.0, 8.2]
    )
    np.testing.assert_array_equal(InH(fc_hz=3.5e9).shadowing_std_db(los), [3.0, 8.03])
    np.testing.assert_array_equal(
        InH(fc_hz=3.5e9, simplified_nlos=True).shadowing_std_db(los), [3.0, 8.29]
    )
    # RMa LOS: 4 dB up to d_BP = 2π·35·1.5·3.5e9/3e8 = 3848.45 m, 6 dB beyond; NLOS 8 dB
    rma = RMa(fc_hz=3.5e9)
    np.testing.assert_array_equal(
        rma.shadowing_std_db([True, True, False], d2d_m=[3848.0, 3849.0, 100.0]), [4.0, 6.0, 8.0]
    )
    np.testing.assert_array_equal(rma.shadowing_std_db([False, False]), [8.0, 8.0])
    with pytest.raises(ValueError, match="d2d_m is required for the RMa LOS"):
        rma.shadowing_std_db(True)
    # Table 7.5-6 part 1: SF correlation distances (LOS, NLOS)
    for pl, expected in [
        (UMa(fc_hz=3.5e9), [37.0, 50.0]),
        (UMi(fc_hz=3.5e9), [10.0, 13.0]),
        (RMa(fc_hz=3.5e9), [37.0, 120.0]),
        (InH(fc_hz=3.5e9), [10.0, 6.0]),
    ]:
        np.testing.assert_array_equal(pl.shadowing_corr_distance_m(los), expected)
    # Table 7.6.3.1-2: LOS/NLOS-state correlation distance
    assert [
        m.los_corr_distance_m
        for m in (UMa(fc_hz=3.5e9), UMi(fc_hz=3.5e9), RMa(fc_hz=3.5e9), InH(fc_hz=3.5e9))
    ] == [50.0, 50.0, 60.0, 10.0]


def test_coefficient_tables_are_read_only():
    with pytest.raises(TypeError):
        pathloss.TR38901["uma"]["los_near"]["a"] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError):
        pathloss.TR36814_MACRO["pl_1km_db"] = 0.0  # type: ignore[index]


def test_repr_round_trips_parameters():
    pl = UMa(fc_hz=3.5e9, h_ut_m=2.0, simplified_nlos=True, clamp=True)
    assert repr(pl) == (
        "UMa(fc_hz=3500000000.0, h_bs_m=25.0, h_ut_m=2.0, simplified_nlos=True, clamp=True)"
    )


# ------------------------------------------------------------------------------ LosState


class _ConstantLos:
    """A stand-in model with a distance-independent LOS probability."""

    def __init__(self, p: float, corr_m: float) -> None:
        self.p = p
        self.los_corr_distance_m = corr_m

    def los_probability(self, d2d_m):
        return np.full(np.shape(d2d_m), self.p)


def test_los_state_first_draw_matches_probability():
    n = 40_000
    pl = UMa(fc_hz=3.5e9)
    state = LosState(pl, n, np.random.default_rng(2))
    assert state.corr_distance_m == 50.0
    los = state.update(np.column_stack([np.full(n, 60.0), np.full(n, 80.0)]))
    assert los.dtype == bool and los.shape == (n,)
    # d2D = 100 m: P_LOS = 0.3476708; ± 5·sqrt(p(1-p)/n) = ±0.0119
    assert abs(los.mean() - 0.3476708) < 0.0119
    # the BS position matters: the same devices 10 m from a BS at (60, 70) are all LOS
    other = LosState(pl, n, np.random.default_rng(2))
    xy = np.column_stack([np.full(n, 60.0), np.full(n, 80.0)])
    assert other.update(xy, bs_position_m=(60.0, 70.0)).all()


def test_los_state_kept_while_moving_less_than_corr_distance():
    n = 500
    rng = np.random.default_rng(4)
    state = LosState(UMa(fc_hz=3.5e9), n, rng)
    start = np.column_stack([np.linspace(20.0, 1000.0, n), np.zeros(n)])
    first = state.update(start)
    snapshot = rng.bit_generator.state
    angles = np.linspace(0.0, 2.0 * np.pi, n)
    for r in (10.0, 30.0, 49.99, 20.0, 45.0):  # displacement from the draw point < 50 m
        moved = start + r * np.column_stack([np.cos(angles), np.sin(angles)])
        np.testing.assert_array_equal(state.update(moved), first)
    assert rng.bit_generator.state == snapshot  # no draws at all


def test_los_state_redraws_once_per_corr_distance():
    n, p, corr, step = 40_000, 0.3, 10.0, 4.0
    state = LosState(_ConstantLos(p, corr), n, np.random.default_rng(6))
    prev = state.update(np.zeros((n, 2)))
    redraw_steps = []
    for k in range(1, 13):
        now = state.update(np.column_stack([np.full(n, k * step), np.zeros(n)]))
        flipped = np.mean(now != prev)
        if flipped > 0.0:
            redraw_steps.append(k)
            # a fresh independent draw: P(flip) = 2p(1-p) = 0.42, P(LOS) = 0.3 (± ~5 sigma)
            assert abs(flipped - 2 * p * (1 - p)) < 0.013
            assert abs(now.mean() - p) < 0.012
        prev = now
    # displacement since the last draw exceeds 10 m at 12 m, i.e. every third 4 m step
    assert redraw_steps == [3, 6, 9, 12]


def test_los_state_redraw_uses_current_distance():
    n = 20_000
    state = LosState(UMa(fc_hz=3.5e9), n, np.random.default_rng(9))
    assert state.update(np.tile([5.0, 0.0], (n, 1))).all()  # P_LOS = 1 within 18 m
    far = state.update(np.tile([2000.0, 0.0], (n, 1)))
    # P_LOS(2000) = 18/2000 + exp(-2000/63)·(1 - 0.009) = 0.009; ± 5·sqrt(p(1-p)/n) = ±0.0033
    assert abs(far.mean() - 0.009) < 0.0034


def test_los_state_reproducible_and_validated():
    xy = np.random.default_rng(0).uniform(-500, 500, (50, 2))
    a = LosState(UMi(fc_hz=3.5e9), 50, np.random.default_rng(3)).update(xy)
    b = LosState(UMi(fc_hz=3.5e9), 50, np.random.default_rng(3)).update(xy)
    np.testing.assert_array_equal(a, b)
    state = LosState(UMi(fc_hz=3.5e9), 50, np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"positions_m must be a finite array of shape \(50, 2\)"):
        state.update(xy[:10])
    with pytest.raises(ValueError, match="positions_m"):
        state.update(np.full((50, 2), np.nan))
    with pytest.raises(ValueError, match="bs_position_m must be 2 finite metres"):
        state.update(xy, bs_position_m=(0.0, 0.0, 25.0))
    with pytest.raises(ValueError, match="n_links must be an integer >= 1"):
        LosState(UMi(fc_hz=3.5e9), 0, np.random.default_rng(3))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        LosState(UMi(fc_hz=3.5e9), 5, 3)
    with pytest.raises(ValueError, match="corr_distance_m must be given"):
        LosState(pathloss.make("free_space", fc_hz=3.5e9), 5, np.random.default_rng(3))
    with pytest.raises(ValueError, match="corr_distance_m must be finite and > 0"):
        LosState(UMi(fc_hz=3.5e9), 5, np.random.default_rng(3), corr_distance_m=0.0)
    # a model without LOS/NLOS is always LOS once given a correlation distance
    fs = LosState(pathloss.make("free_space", fc_hz=3.5e9), 5, np.random.default_rng(3), 20.0)
    assert fs.update(np.zeros((5, 2))).all()
