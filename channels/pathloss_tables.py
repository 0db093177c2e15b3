"""Coefficient tables of the 3GPP path-loss models of :mod:`channels.pathloss` (data only,
read-only): TR 36.814 macro-cell model 1 and TR 38.901 §7.4.1 / §7.4.2."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

TR36814_MACRO: Mapping[str, float] = MappingProxyType(
    {
        # TR 36.814 Table A.2.1.1.2-3, macro-cell model 1: PL = 128.1 + 37.6·log10(R[km]),
        # for a 2 GHz carrier and a BS antenna 15 m above the rooftops.
        "pl_1km_db": 128.1,
        "slope_db_per_decade": 37.6,
        "fc_ref_hz": 2.0e9,
        # TR 36.942 §4.5.2, the formula 36.814 specialises: ... + 21·log10(f[MHz]) + 80 dB.
        "fc_slope_db_per_decade": 21.0,
        # TR 36.814 Table A.2.1.1-1: minimum distance between UE and (macro) cell >= 35 m.
        "min_distance_m": 35.0,
        "metres_per_km": 1000.0,
    }
)
"""Coefficients of :class:`Macro36814` (read-only)."""

SPEED_OF_LIGHT_3GPP_MPS = 3.0e8
"""Propagation speed used by TR 38.901 Table 7.4.1-1 (its note 1: c = 3.0·10^8 m/s); it enters
the breakpoint distances only (the Friis term of RMa is written as 40π·d·fc/3 with fc in GHz,
the same constant)."""

_HZ_PER_GHZ = 1.0e9


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(
        {k: _frozen(v) if isinstance(v, Mapping) else v for k, v in table.items()}
    )


# Each path-loss term "a + b·log10(d3D) + c·log10(fc/GHz) + d·(h_UT - h_ut_ref_m)"; the LOS
# far term also subtracts "e·log10(d'_BP² + (h_BS - h_UT)²)". Ranges are closed intervals.
TR38901: Mapping[str, Mapping[str, Any]] = _frozen(
    {
        "rma": {
            "fc_range_hz": (0.5e9, 30.0e9),  # RMa validated up to 30 GHz (ns-3 enforces same)
            "h_bs_range_m": (10.0, 150.0),
            "h_ut_range_m": (1.0, 10.0),
            "h_range_m": (5.0, 50.0),  # average building height
            "w_range_m": (5.0, 50.0),  # average street width
            "d2d_range_m": {"los": (10.0, 10_000.0), "nlos": (10.0, 5_000.0)},
            "bp_factor": 2.0 * math.pi,  # note 5: d_BP = 2π·h_BS·h_UT·fc/c
            "los": {  # PL1 = 20log10(40π·d3D·fc/3) + min(k1·h^x, m1)·log10(d3D)
                #       - min(k2·h^x, m2) + k3·log10(h)·d3D;  PL2 = PL1(d_BP) + s2·log10(d3D/d_BP)
                "k1": 0.03,
                "m1": 10.0,
                "k2": 0.044,
                "m2": 14.77,
                "h_exp": 1.72,
                "k3": 0.002,
                "far_slope": 40.0,
            },
            "nlos": {  # PL' = a - w·log10(W) + h·log10(h) - (hb1 - hb2·(h/h_BS)²)·log10(h_BS)
                #      + (d1 - d2·log10(h_BS))·(log10(d3D) - 3) + c·log10(fc)
                #      - (u1·(log10(u2·h_UT))² - u3)
                "a": 161.04,
                "w": 7.1,
                "h": 7.5,
                "hb1": 24.37,
                "hb2": 3.7,
                "d1": 43.42,
                "d2": 3.1,
                "d_ref_log10_m": 3.0,
                "c": 20.0,
                "u1": 3.2,
                "u2": 11.75,
                "u3": 4.97,
            },
            "sf_std_db": {"los": 4.0, "los_far": 6.0, "nlos": 8.0},
            "sf_corr_distance_m": {"los": 37.0, "nlos": 120.0},  # Table 7.5-6 part 1
            "los_corr_distance_m": 60.0,  # Table 7.6.3.1-2, LOS/NLOS state
            "p_los": {"d0_m": 10.0, "decay_m": 1000.0},  # Table 7.4.2-1
        },
        "uma": {
            "fc_range_hz": (0.5e9, 100.0e9),
            "h_bs_range_m": (25.0, 25.0),
            "h_ut_range_m": (1.5, 22.5),
            "d2d_range_m": {"los": (10.0, 5_000.0), "nlos": (10.0, 5_000.0)},
            "bp_factor": 4.0,  # note 1: d'_BP = 4·h'_BS·h'_UT·fc/c, h' = h - h_E
            "h_e_m": 1.0,
            "h_e": {  # note 1: h_E = 1 m w.p. 1/(1 + C(d2D, h_UT)), else uniform on
                #        {12, 15, ..., h_UT - 1.5}
                "min_m": 12.0,
                "step_m": 3.0,
                "ut_margin_m": 1.5,
            },
            # g(d2D) = g_scale·(d2D/g_ref_m)³·exp(-d2D/g_decay_m) for d2D > g_d0_m, else 0;
            # C = ((h_UT - c_h0_m)/c_scale_m)^c_exp · g for h_UT >= c_h0_m, else 0.
            # (The same g and C' (h_UT) enter the LOS probability of Table 7.4.2-1.)
            "g": {"d0_m": 18.0, "scale": 1.25, "ref_m": 100.0, "decay_m": 150.0},
            "c": {"h0_m": 13.0, "scale_m": 10.0, "exp": 1.5},
            "los_near": {"a": 28.0, "b": 22.0, "c": 20.0},
            "los_far": {"a": 28.0, "b": 40.0, "c": 20.0, "e": 9.0},
            "nlos": {"a": 13.54, "b": 39.08, "c": 20.0, "d": -0.6, "h_ut_ref_m": 1.5},
            "nlos_simplified": {"a": 32.4, "b": 30.0, "c": 20.0},
            "sf_std_db": {"los": 4.0, "nlos": 6.0, "nlos_simplified": 7.8},
            "sf_corr_distance_m": {"los": 37.0, "nlos": 50.0},
            "los_corr_distance_m": 50.0,
            "p_los": {"d1_m": 18.0, "d2_m": 63.0},
        },
        "umi": {
            "fc_range_hz": (0.5e9, 100.0e9),
            "h_bs_range_m": (10.0, 10.0),
            "h_ut_range_m": (1.5, 22.5),
            "d2d_range_m": {"los": (10.0, 5_000.0), "nlos": (10.0, 5_000.0)},
            "bp_factor": 4.0,
            "h_e_m": 1.0,
            "los_near": {"a": 32.4, "b": 21.0, "c": 20.0},
            "los_far": {"a": 32.4, "b": 40.0, "c": 20.0, "e": 9.5},
            "nlos": {"a": 22.4, "b": 35.3, "c": 21.3, "d": -0.3, "h_ut_ref_m": 1.5},
            "nlos_simplified": {"a": 32.4, "b": 31.9, "c": 20.0},
            "sf_std_db": {"los": 4.0, "nlos": 7.82, "nlos_simplified": 8.2},
            "sf_corr_distance_m": {"los": 10.0, "nlos": 13.0},
            "los_corr_distance_m": 50.0,
            "p_los": {"d1_m": 18.0, "d2_m": 36.0},
        },
        "inh": {
            "fc_range_hz": (0.5e9, 100.0e9),
            "d3d_range_m": {"los": (1.0, 150.0), "nlos": (1.0, 150.0)},
            "los": {"a": 32.4, "b": 17.3, "c": 20.0},
            "nlos": {"a": 17.3, "b": 38.3, "c": 24.9},
            "nlos_simplified": {"a": 32.4, "b": 31.9, "c": 20.0},
            "sf_std_db": {"los": 3.0, "nlos": 8.03, "nlos_simplified": 8.29},
            "sf_corr_distance_m": {"los": 10.0, "nlos": 6.0},
            "los_corr_distance_m": 10.0,
            # P = 1 (d <= d0); exp(-(d - d0)/s1) (d0 < d < d1, "open": d <= d1);
            # p1·exp(-(d - d1)/s2) beyond.
            "p_los": {
                "mixed": {"d0_m": 1.2, "s1_m": 4.7, "d1_m": 6.5, "s2_m": 32.6, "p1": 0.32},
                "open": {"d0_m": 5.0, "s1_m": 70.8, "d1_m": 49.0, "s2_m": 211.7, "p1": 0.54},
            },
        },
    }
)
"""TR 38.901 coefficients by scenario (read-only): Table 7.4.1-1 (path loss, shadow-fading std,
validity), Table 7.4.2-1 (LOS probability), Table 7.5-6 part 1 (shadow-fading correlation
distances), Table 7.6.3.1-2 (LOS-state correlation distance)."""
