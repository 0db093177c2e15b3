"""Evaluating every link at one instant: 10,000 moving devices in a 3GPP UMa cell.

The devices start uniform in the annulus 35 m <= r <= 500 m around the base station and move
by random waypoint (1-3 m/s, no pause) in the 500 m disc. Each link has a stochastic LOS state
(:class:`channels.pathloss.LosState`), Gudmundson-correlated shadowing (a unit-variance
:class:`channels.shadowing.CorrelatedShadowing` along the travelled distance, scaled by the
UMa σ_SF of the link's LOS state, as the engine does) and Jakes fading (the ``"rayleigh"``
sum-of-sinusoids process of :mod:`channels.doppler`, a function of the travelled distance).
One instant t is everything the engine computes per link per instant, through the public
``channels`` API only:

    positions -> distances -> travelled distances -> LOS update -> path loss -> shadowing
    -> fading power -> uplink SNR on one 180 kHz resource block (23 dBm, -174 dBm/Hz, NF 7 dB)
    -> Shannon rate

The instants are increasing (the LOS and shadowing processes are sequential): a few untimed
warm-up instants in [0, t0), then ``--evals`` timed ones at t0, t0 + dt, ... Prints the
median and the 95th percentile in ms per instant, the median of each stage, and a final line
``per_instant_ms <median>``; exits with status 1 if the median exceeds ``--budget-ms``.

Usage::

    .venv/bin/python benchmarks/links.py [--n 10000] [--evals 200] [--dt 0.01] [--seed 1]
        [--n-paths 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import channels
from channels.pathloss import UMa

RADIUS_M = 500.0
MIN_DISTANCE_M = 35.0
SPEED_MPS = (1.0, 3.0)
CARRIER_HZ = 3.5e9
TX_POWER_DBM = 23.0
RB_BANDWIDTH_HZ = 180e3
N0_DBM_PER_HZ = -174.0
NOISE_FIGURE_DB = 7.0
STAGES = (
    "positions",
    "distances",
    "travelled",
    "los",
    "pathloss",
    "shadowing",
    "fading",
    "snr",
    "rate",
)


class Links:
    """The n links of one cell, evaluated one instant at a time (increasing instants)."""

    def __init__(self, n: int, seed: int, n_paths: int = 16) -> None:
        rng_place, rng_mob, rng_los, rng_sh, rng_fad = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
        )
        start_m = channels.placement.uniform_disc(
            rng_place, n, RADIUS_M, min_distance_m=MIN_DISTANCE_M
        )
        self.mobility = channels.mobility.make(
            "random_waypoint",
            n=n,
            rng=rng_mob,
            speed_mps=SPEED_MPS,
            radius_m=RADIUS_M,
            initial_positions_m=start_m,
        )
        # clamp: random waypoint in the disc can bring a device closer than UMa's 10 m minimum
        self.pathloss = UMa(CARRIER_HZ, clamp=True)
        self.los_state = channels.pathloss.LosState(self.pathloss, n, rng_los)
        los0 = self.los_state.update(start_m)
        self.shadowing = channels.shadowing.CorrelatedShadowing(
            1.0, self.pathloss.shadowing_corr_distance_m(los0), n, rng_sh
        )
        self.fading = channels.doppler.make(
            "rayleigh", n_links=n, fc_hz=CARRIER_HZ, rng=rng_fad, n_paths=n_paths
        )
        self.tx_power_w = float(channels.units.dbm_to_w(TX_POWER_DBM))
        self.noise_w = float(channels.units.noise_power_w(RB_BANDWIDTH_HZ, NOISE_FIGURE_DB))
        self.stage_ns = dict.fromkeys(STAGES, 0)

    def evaluate(self, t_s: float) -> np.ndarray:
        """Shannon rate of every link at ``t_s``, bit/s (n,); stage times in ``stage_ns``."""
        clock = time.perf_counter_ns
        ns = self.stage_ns
        c0 = clock()
        pos_m = self.mobility.position(t_s)
        c1 = clock()
        d2d_m = np.hypot(pos_m[:, 0], pos_m[:, 1])
        c2 = clock()
        travelled_m = self.mobility.travelled_m(t_s)
        c3 = clock()
        los = self.los_state.update(pos_m)
        c4 = clock()
        pl_db = self.pathloss.loss_db(d2d_m, los=los)
        c5 = clock()
        sh_db = self.pathloss.shadowing_std_db(los) * self.shadowing.sample_db(travelled_m)
        c6 = clock()
        fading = self.fading.power(travelled_m)
        c7 = clock()
        p_rx_w = channels.link.received_power_w(self.tx_power_w, sh_db - pl_db) * fading
        snr = channels.link.snr_linear(p_rx_w, self.noise_w)
        c8 = clock()
        rate_bps = channels.link.shannon_rate_bps(RB_BANDWIDTH_HZ, snr)
        c9 = clock()
        marks = (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9)
        for stage, a, b in zip(STAGES, marks[:-1], marks[1:], strict=True):
            ns[stage] = b - a
        return rate_bps


def run(
    n: int, evals: int, warmup: int, t0_s: float, dt_s: float, seed: int, n_paths: int = 16
) -> dict[str, Any]:
    """Time ``evals`` instants after ``warmup`` untimed ones; times in ms per instant."""
    links = Links(n, seed, n_paths)
    for t in np.linspace(0.0, t0_s, warmup, endpoint=False):
        links.evaluate(float(t))
    total_ms = np.empty(evals)
    stages_ms = {stage: np.empty(evals) for stage in STAGES}
    rate_bps = np.empty(0)
    for k in range(evals):
        t_s = t0_s + k * dt_s
        start = time.perf_counter_ns()
        rate_bps = links.evaluate(t_s)
        total_ms[k] = (time.perf_counter_ns() - start) / 1e6
        for stage in STAGES:
            stages_ms[stage][k] = links.stage_ns[stage] / 1e6
    return {"total_ms": total_ms, "stages_ms": stages_ms, "rate_bps": rate_bps}


def _report(result: dict[str, Any], print_: Callable[[str], None] = print) -> float:
    total = result["total_ms"]
    median = float(np.median(total))
    print_(
        f"per instant: median {median:.3f} ms, p95 {np.percentile(total, 95):.3f} ms, "
        f"min {total.min():.3f} ms, max {total.max():.3f} ms ({len(total)} instants)"
    )
    print_("stage        median ms    p95 ms   share of median sum")
    medians = {s: float(np.median(v)) for s, v in result["stages_ms"].items()}
    total_of_medians = sum(medians.values())
    for stage, v in result["stages_ms"].items():
        print_(
            f"{stage:<12} {medians[stage]:9.3f} {np.percentile(v, 95):9.3f}   "
            f"{100 * medians[stage] / total_of_medians:5.1f} %"
        )
    rate = result["rate_bps"]
    print_(f"check: median rate {np.median(rate) / 1e6:.3f} Mbit/s over {len(rate)} links")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of links (devices)")
    parser.add_argument("--evals", type=int, default=200, help="timed instants")
    parser.add_argument("--warmup", type=int, default=10, help="untimed instants in [0, t0)")
    parser.add_argument("--t0", type=float, default=1.0, help="first timed instant, s")
    parser.add_argument("--dt", type=float, default=0.01, help="step between instants, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--n-paths", type=int, default=16, help="sinusoids per quadrature of the Jakes process"
    )
    parser.add_argument("--budget-ms", type=float, default=5.0, help="limit on the median")
    args = parser.parse_args(argv)
    result = run(args.n, args.evals, args.warmup, args.t0, args.dt, args.seed, args.n_paths)
    median = _report(result)
    print(f"per_instant_ms {median:.3f}")
    return 0 if median <= args.budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())
