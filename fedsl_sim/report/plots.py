"""Figures of one run, drawn with matplotlib's object API (no pyplot global state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fedsl_sim.sim.recorder import EVENT_KINDS, OUTAGE_KINDS, Recorder, RoundRow


def plot_accuracy_vs_time(rounds: Sequence[RoundRow], path: Path, title: str = "") -> None:
    """Test accuracy against simulated time (evaluated rounds only)."""
    pts = [(r.sim_time_s, r.test_accuracy) for r in rounds if r.test_accuracy is not None]
    fig = Figure(figsize=(6, 4), dpi=110)
    ax = fig.add_subplot()
    if pts:
        t, acc = zip(*pts, strict=True)
        ax.plot(t, acc, marker="o", ms=3)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}: accuracy vs simulated time" if title else "accuracy vs simulated time")
    fig.tight_layout()
    fig.savefig(path)


def plot_device_time_breakdown(rec: Recorder, path: Path, title: str = "") -> None:
    """Per device, the simulated time spent in each kind of event (stacked bars), with the
    server's aggregation time as its own bar. The time transmissions spent paused in outage
    or in failed blocks is taken out of their kinds and drawn as its own category."""
    n = rec.n
    fig = Figure(figsize=(max(6, 0.5 * n + 3), 4), dpi=110)
    ax = fig.add_subplot()
    labels = [str(k) for k in range(n)] + ["server"]
    bottom = np.zeros(n + 1)
    outage = np.zeros(n + 1)
    for kind in OUTAGE_KINDS:
        outage[:n] += rec.outage_s[kind]
    for kind in EVENT_KINDS:
        vals = np.append(rec.busy_s[kind], rec.server_busy_s[kind] if kind == "aggregation" else 0)
        if kind in OUTAGE_KINDS:
            vals[:n] = np.maximum(vals[:n] - rec.outage_s[kind], 0.0)
        if not vals.any():
            continue
        ax.bar(labels, vals, bottom=bottom, label=kind)
        bottom += vals
    if outage.any():
        ax.bar(labels, outage, bottom=bottom, label="outage (paused / failed blocks)", hatch="//")
        bottom += outage
    ax.set_xlabel("device")
    ax.set_ylabel("simulated time (s)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"{title}: latency breakdown" if title else "latency breakdown")
    fig.tight_layout()
    fig.savefig(path)
