"""`fedsl-sim link`: Monte Carlo over the scenario's fading against the distribution."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import integrate, stats
from simtools import make_scenario

from fedsl_sim.linkbudget import ergodic_rate_bps, link_budget

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


@pytest.mark.parametrize(
    "fading",
    [
        {"kind": "rayleigh"},
        {"kind": "rician", "k_db": 6.0},
        {"kind": "nakagami", "m": 2.0},
    ],
    ids=lambda f: f["kind"],
)
def test_monte_carlo_matches_the_distribution(fading):
    sc = make_scenario(
        devices__count=4,
        devices__placement={"kind": "uniform_disc", "radius_m": 300.0},
        network__shadowing={"std_db": 8.0},
        network__fading=fading,
        network__outage={"snr_threshold_db": 5.0},
    )
    for row in link_budget(sc):
        for d in ("uplink", "downlink"):
            p = row[f"{d}_outage_exact"]
            # binomial standard error of 20000 draws, 5 sigma
            assert abs(row[f"{d}_outage_mc"] - p) <= 5 * math.sqrt(p * (1 - p) / 20000) + 1e-4
            assert row[f"{d}_rate_mc_bps"] == pytest.approx(row[f"{d}_rate_exact_bps"], rel=0.02)


def test_rayleigh_ergodic_closed_form_equals_the_integral():
    # B e^{1/g} E1(1/g) / ln 2 == B * integral of log2(1 + x g) e^{-x} dx
    sc = make_scenario(network__fading={"kind": "rayleigh"})
    for snr in (0.1, 1.0, 10.0, 1000.0):
        integral, _ = integrate.quad(
            lambda x, g=snr: math.log2(1 + x * g) * stats.expon.pdf(x), 0, math.inf
        )
        assert ergodic_rate_bps(sc, 1e6, snr) == pytest.approx(1e6 * integral, rel=1e-9)


def test_no_fading_is_the_shannon_rate():
    sc = make_scenario()  # one device at 100 m, no fading, no shadowing, no outage
    row = link_budget(sc)[0]
    assert row["distance_m"] == pytest.approx(100.0)
    assert row["shadowing_db"] == 0.0
    snr = 10 ** (row["uplink_mean_snr_db"] / 10)
    assert row["uplink_rate_exact_bps"] == pytest.approx(20e6 * math.log2(1 + snr))
    assert row["uplink_rate_mc_bps"] == pytest.approx(row["uplink_rate_exact_bps"])
    assert row["uplink_outage_mc"] is None


def test_cli_table_and_json():
    cmd = [sys.executable, "-m", "fedsl_sim", "link", str(QUICKSTART)]
    table = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    assert "UL out MC/exact" in table.stdout and len(table.stdout.splitlines()) == 12
    js = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    rows = json.loads(js.stdout)
    assert [r["device"] for r in rows] == list(range(10))
    bad = subprocess.run(
        [*cmd, "--set", "devices.count=0"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "devices.count" in bad.stderr
