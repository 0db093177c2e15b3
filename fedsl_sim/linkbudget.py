"""Link budget of a scenario: per device, what its channel gives on average and in outage.

For each device at t = 0: distance, path loss, shadowing, mean SNR, outage probability and
ergodic rate on the uplink and the downlink, by Monte Carlo over the scenario's small-scale
fading and, beside it, from the fading's distribution:

* outage P(|h|²·SNR̄ < threshold) from the closed-form CDF (Rayleigh, Rician, Nakagami);
* ergodic rate B·E[log2(1 + |h|²·SNR̄)]: for Rayleigh the closed form
  B·e^{1/SNR̄}·E1(1/SNR̄)/ln 2; for Rician and Nakagami the expectation integrated numerically
  over the closed-form density (no elementary closed form).

The uplink share is the band divided equally among all devices (every device transmitting);
the downlink SNR does not depend on the share (see :mod:`fedsl_sim.sim.medium`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import channels
from channels.units import noise_power_w
from fedsl_sim.build.radio import build_channel
from fedsl_sim.scenario import Scenario
from fedsl_sim.sim.streams import Streams

MC_DRAWS = 20_000


def ergodic_rate_bps(scenario: Scenario, bandwidth_hz: float, snr_mean: float) -> float:
    """B·E[log2(1 + |h|²·snr_mean)] of the scenario's fading model (see module docstring)."""
    f = scenario.network.fading
    return channels.fading.make(f.kind, **f.distribution_params).ergodic_rate_bps(
        bandwidth_hz, snr_mean
    )


def link_budget(scenario: Scenario) -> list[dict[str, Any]]:
    """One row per device (see module docstring); powers in dB/dBm, rates in bit/s."""
    streams = Streams(scenario.seed)
    channel = build_channel(scenario, streams)
    net, n = scenario.network, scenario.devices.count
    state = channel.components(0)  # the large-scale state at t = 0
    dist, pl_db, sh_db = state["distance_m"], state["pathloss_db"], state["shadowing_db"]
    gain_db = -pl_db + sh_db
    share_ul = net.bandwidth_hz / n
    noise_ul_dbm = 10 * math.log10(noise_power_w(share_ul, net.noise_figure_db) * 1e3)
    noise_dl_dbm = 10 * math.log10(noise_power_w(net.bandwidth_hz, net.noise_figure_db) * 1e3)
    snr_ul = 10 ** ((scenario.devices.tx_power_dbm + gain_db - noise_ul_dbm) / 10)
    snr_dl = 10 ** ((scenario.server.tx_power_dbm + gain_db - noise_dl_dbm) / 10)
    thr_db = net.outage.snr_threshold_db
    thr = None if thr_db is None else 10 ** (thr_db / 10)
    # the marginal distribution of |h|² is the same for block and continuous fading
    fading = channels.fading.make(net.fading.kind, **net.fading.distribution_params)
    draws = fading.sample_power(streams.numpy("link_budget"), (MC_DRAWS, n))
    rows = []
    for k in range(n):
        row: dict[str, Any] = {
            "device": k,
            "distance_m": float(dist[k]),
            "pathloss_db": float(pl_db[k]),
            "los": bool(state["los"][k]),
            "shadowing_db": float(sh_db[k]),
        }
        for name, snr, band in (
            ("uplink", snr_ul[k], share_ul),
            ("downlink", snr_dl[k], net.bandwidth_hz),
        ):
            inst = draws[:, k] * snr
            row[f"{name}_mean_snr_db"] = float(10 * math.log10(snr))
            row[f"{name}_outage_mc"] = None if thr is None else float(np.mean(inst < thr))
            row[f"{name}_outage_exact"] = (
                None if thr is None else float(fading.outage_probability(snr, thr))
            )
            row[f"{name}_rate_mc_bps"] = float(band * np.mean(np.log2(1 + inst)))
            row[f"{name}_rate_exact_bps"] = float(ergodic_rate_bps(scenario, band, snr))
        rows.append(row)
    return rows


def format_link_budget(scenario: Scenario, rows: list[dict[str, Any]]) -> str:
    """A plain-text table of :func:`link_budget` rows."""
    net = scenario.network
    head = (
        f"{scenario.name}: {net.pathloss.kind} path loss, shadowing {net.shadowing.std_db} dB, "
        f"{net.fading.kind} fading, uplink share {net.bandwidth_hz / len(rows) / 1e6:.3g} MHz "
        f"of {net.bandwidth_hz / 1e6:.3g} MHz, outage threshold "
        f"{net.outage.snr_threshold_db} dB; Monte Carlo {MC_DRAWS} draws vs exact"
    )
    cols = (
        "dev",
        "dist m",
        "PL dB",
        "SF dB",
        "UL SNR dB",
        "UL out MC/exact",
        "UL Mbps MC/exact",
        "DL SNR dB",
        "DL out MC/exact",
        "DL Mbps MC/exact",
    )

    def out(r: dict[str, Any], d: str) -> str:
        mc, ex = r[f"{d}_outage_mc"], r[f"{d}_outage_exact"]
        return "-" if mc is None else f"{mc:.3f}/{ex:.3f}"

    lines = [head, "  ".join(f"{c:>16}" if i > 3 else f"{c:>8}" for i, c in enumerate(cols))]
    for r in rows:
        cells = [
            f"{r['device']:>8}",
            f"{r['distance_m']:>8.1f}",
            f"{r['pathloss_db']:>8.1f}",
            f"{r['shadowing_db']:>8.1f}",
        ]
        for d in ("uplink", "downlink"):
            cells += [
                f"{r[f'{d}_mean_snr_db']:>16.1f}",
                f"{out(r, d):>16}",
                f"{r[f'{d}_rate_mc_bps'] / 1e6:>7.3f}/{r[f'{d}_rate_exact_bps'] / 1e6:<8.3f}",
            ]
        lines.append("  ".join(cells))
    return "\n".join(lines)
