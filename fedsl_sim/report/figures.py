"""Figures of a study report (see :mod:`fedsl_sim.report.study`): accuracy bands, time to
target, latency breakdown on the critical path, energy per device and the Pareto front,
drawn with matplotlib's object API (no pyplot global state)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from scipy import stats

from fedsl_sim.report.study import (
    CONFIDENCE,
    GRID_POINTS,
    LATENCY_LABELS,
    Interval,
    Report,
    RunData,
    _latency_keys,
    t_interval,
)


def _log_time(ax: Any, times: Sequence[float]) -> bool:
    log = bool(times) and min(times) > 0 and max(times) / min(times) > 10
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    return log


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def accuracy_band(
    runs: Sequence[RunData], points: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(grid, mean, ci_low, ci_high) across seeds on the span where every seed has
    evaluations; None with fewer than two seeds or no common span."""
    curves = [r.evals for r in runs if r.evals]
    if len(curves) < 2 or len(curves) != len(runs):
        return None
    lo = max(c[0][0] for c in curves)
    hi = min(c[-1][0] for c in curves)
    if not hi > lo:
        return None
    grid = np.linspace(lo, hi, points)
    ys = np.array([np.interp(grid, [t for t, _ in c], [a for _, a in c]) for c in curves])
    n = len(curves)
    mean = ys.mean(axis=0)
    half = stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * ys.std(axis=0, ddof=1) / math.sqrt(n)
    return grid, mean, mean - half, mean + half


def plot_accuracy(report: Report, path: Path) -> None:
    """``accuracy_vs_time.png``: each configuration's mean test accuracy vs simulated time."""
    fig = Figure(figsize=(7, 4.5), dpi=110)
    ax = fig.add_subplot()
    times: list[float] = []
    for c, color in zip(report.cases, _colors(len(report.cases)), strict=True):
        band = accuracy_band(c.runs)
        for r in c.runs:
            if r.evals:
                t, a = zip(*r.evals, strict=True)
                times += t
                ax.plot(t, a, color=color, lw=0.7, alpha=0.35 if band else 0.9, marker=".", ms=3)
        if band is not None:
            grid, mean, low, high = band
            ax.plot(grid, mean, color=color, lw=1.8, label=f"{c.id} (n={c.n})")
            ax.fill_between(grid, low, high, color=color, alpha=0.2, lw=0)
        else:
            ax.plot([], [], color=color, label=f"{c.id} (n={c.n})")
    log = _log_time(ax, times)
    ax.set_xlabel("simulated time (s, log)" if log else "simulated time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("accuracy vs simulated time: mean and 95 % t-band over seeds")
    fig.tight_layout()
    fig.savefig(path)


def _err(ivs: Sequence[Interval]) -> list[float]:
    return [iv.half_width or 0.0 for iv in ivs]


def plot_time_to_target(report: Report, path: Path) -> None:
    """``time_to_target.png``: each configuration's simulated time to the target accuracy."""
    fig = Figure(figsize=(max(5, 0.7 * len(report.cases) + 3), 4), dpi=110)
    ax = fig.add_subplot()
    ids = [c.id for c in report.cases]
    ivs = [c.stats["time_to_target_s"] for c in report.cases]
    heights = [iv.mean if iv.mean is not None else 0.0 for iv in ivs]
    ax.bar(ids, heights, yerr=_err(ivs), capsize=4, color="tab:blue")
    top = max(heights, default=0.0)
    for k, (c, iv) in enumerate(zip(report.cases, ivs, strict=True)):
        text = f"{c.reached}/{c.n}" if iv.mean is not None else "not reached"
        if not c.targets:
            text = "no target"
        ax.annotate(
            text,
            ((k + 0.2) if iv.half_width else k, iv.mean or 0.0),  # beside the error bar
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    if top == 0.0:
        ax.set_ylim(0, 1)
    ax.set_ylabel("time to target (s)")
    targets = sorted({t for c in report.cases for t in c.targets})
    which = f" {', '.join(f'{t:g}' for t in targets)}" if targets else ""
    ax.set_title(f"time to target accuracy{which} (mean, 95 % CI; reached/runs)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def plot_latency(report: Report, path: Path) -> None:
    """``latency_breakdown.png``: each configuration's critical path per round, by category."""
    fig = Figure(figsize=(max(6, 0.7 * len(report.cases) + 4), 4.5), dpi=110)
    ax = fig.add_subplot()
    ids = [c.id for c in report.cases]
    bottom = np.zeros(len(ids))
    for key in _latency_keys(report):
        vals = np.array([c.stats[f"latency_{key}_s"].mean or 0.0 for c in report.cases])
        ax.bar(ids, vals, bottom=bottom, label=LATENCY_LABELS[key])
        bottom += vals
    total = [c.stats["sim_time_per_round_s"] for c in report.cases]
    ax.errorbar(ids, bottom, yerr=_err(total), fmt="none", ecolor="black", capsize=4)
    ax.set_ylabel("simulated time per round (s)")
    ax.set_title("latency per round on the critical path (mean; CI of the total)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def plot_energy_per_device(report: Report, path: Path) -> None:
    """``energy_per_device.png``: each configuration's device energy, compute and transmit."""
    fig = Figure(figsize=(max(9, 1.2 * len(report.cases) + 5), 4), dpi=110)
    ax, ax_d = fig.subplots(1, 2)
    ids = [c.id for c in report.cases]
    comp = [c.stats["energy_per_device_compute_j"].mean or 0.0 for c in report.cases]
    tx = [c.stats["energy_per_device_transmit_j"].mean or 0.0 for c in report.cases]
    ax.bar(ids, comp, label="compute")
    ax.bar(ids, tx, bottom=comp, label="transmit")
    per_dev_total = [
        t_interval(float(r.energy_compute_j.mean() + r.energy_transmit_j.mean()) for r in c.runs)
        for c in report.cases
    ]
    ax.errorbar(
        ids, np.add(comp, tx), yerr=_err(per_dev_total), fmt="none", ecolor="black", capsize=4
    )
    ax.set_ylabel("energy per device (J)")
    ax.set_title("mean energy per device (CI of the total)")
    ax.legend(fontsize=7)
    # spread across devices: each device's energy, averaged over the case's seeds
    for k, c in enumerate(report.cases):
        sizes = {len(r.energy_compute_j) for r in c.runs}
        if len(sizes) != 1:
            continue
        per_dev = np.mean([r.energy_compute_j + r.energy_transmit_j for r in c.runs], axis=0)
        ax_d.scatter(np.full(len(per_dev), k), per_dev, s=12, alpha=0.7)
    ax_d.set_xticks(range(len(ids)), ids)
    ax_d.set_ylabel("energy of each device (J)")
    ax_d.set_title("per device (mean over seeds)")
    ax_d.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def plot_pareto(report: Report, path: Path) -> None:
    """``pareto.png``: simulated time against device energy, the Pareto front marked."""
    fig = Figure(figsize=(6.5, 4.5), dpi=110)
    ax = fig.add_subplot()
    xk = report.pareto_x
    pts = []
    for c in report.cases:
        x, y = c.stats[xk], c.stats["energy_total_j"]
        if x.mean is None or y.mean is None:
            continue
        front = c.id in report.pareto
        ax.errorbar(
            x.mean,
            y.mean,
            xerr=x.half_width or 0.0,
            yerr=y.half_width or 0.0,
            fmt="o",
            color="tab:red" if front else "tab:gray",
            ms=7 if front else 5,
            capsize=3,
        )
        acc = c.stats["final_test_accuracy"].mean
        label = c.id if acc is None else f"{c.id} ({acc:.3f})"
        ax.annotate(label, (x.mean, y.mean), xytext=(4, 4), textcoords="offset points", fontsize=8)
        if front:
            pts.append((x.mean, y.mean))
    if pts:
        pts.sort()
        ax.plot(*zip(*pts, strict=True), color="tab:red", lw=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel("time to target (s)" if xk == "time_to_target_s" else "simulated time (s)")
    ax.set_ylabel("total device energy (J)")
    ax.set_title("time vs energy (final accuracy), mean and 95 % CI", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


#: decisions.png's panels: (decisions key, axis label, scale)
_DECISION_PANELS = (
    ("take_part", "taking part (fraction)", 1.0),
    ("cpu_hz", "CPU clock (GHz)", 1e-9),
    ("tx_power_dbm", "transmit power (dBm)", 1.0),
    ("bandwidth_weight", "band weight", 1.0),
    ("split_layer", "split layer", 1.0),
    ("pruning_rate", "pruning rate", 1.0),
    ("quant_bits", "split-layer bits", 1.0),
    ("dropout_rate", "dropout rate", 1.0),
)


def plot_decisions(report: Report, path: Path) -> None:
    """``decisions.png``: per configuration, what its control policy decided round by round —
    the fraction of candidates taking part and, over those that did, the mean of each knob
    that changed over the rounds for some device (the mean over seeds)."""
    varied = set(report.decisions_varied) | {"take_part"}
    panels = [(key, label, scale) for key, label, scale in _DECISION_PANELS if key in varied]
    fig = Figure(figsize=(7.5, 1.9 * len(panels) + 0.8), dpi=110)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    colors = _colors(len(report.cases))
    for c, color in zip(report.cases, colors, strict=True):
        runs = [r.decisions for r in c.runs if r.decisions]
        if not runs:
            continue
        rounds = np.unique(np.concatenate([d["round"] for d in runs]))
        for ax, (key, _, scale) in zip(axes, panels, strict=True):
            grid = np.full((len(runs), len(rounds)), np.nan)
            for i, d in enumerate(runs):
                if key in d:
                    grid[i, np.searchsorted(rounds, d["round"])] = d[key] * scale
            with np.errstate(all="ignore"):
                seen = np.isfinite(grid).any(axis=0)
                mean = np.where(
                    seen, np.nanmean(np.where(np.isfinite(grid), grid, 0), axis=0), np.nan
                )
                counts = np.isfinite(grid).sum(axis=0)
                mean = np.where(seen, np.nansum(grid, axis=0) / np.maximum(counts, 1), np.nan)
            ax.plot(rounds, mean, color=color, lw=1.2, label=c.id)
    for ax, (_, label, _) in zip(axes, panels, strict=True):
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("round")
    fig.suptitle("control decisions per round (mean over the devices taking part)", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)) or 1, fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
