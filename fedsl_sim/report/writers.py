"""Write a run's files: scenario.yaml, rounds.csv, events.csv, devices.csv, summary.json, PNGs.

Numbers are written with Python's shortest round-trip ``repr``, so the same run gives
byte-identical CSV files; missing values (no evaluation this round, no rate for an empty
message, no SNR for a transmission that never had a signal) are empty cells: no output holds
NaN or infinity.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fedsl_sim.control.base import DECISION_COLUMNS
from fedsl_sim.sim.recorder import (
    EVENT_COLUMNS,
    EVENT_KINDS,
    HANDOVER,
    OUTAGE_KINDS,
    ROUND_COLUMNS,
    Recorder,
)

NOT_DEVICE_BUSY = ("aggregation", HANDOVER)

DEVICE_COLUMNS = (
    "device",
    "n_samples",
    "initial_distance_m",
    "uplink_bits",
    "downlink_bits",
    "energy_compute_j",
    "energy_transmit_j",
    "energy_total_j",
    *(f"busy_{kind}_s" for kind in EVENT_KINDS if kind not in NOT_DEVICE_BUSY),
    # the part of each transmission kind's busy time paused in outage or in failed blocks
    *(f"busy_{kind}_outage_s" for kind in OUTAGE_KINDS),
    "handovers",
)


#: the per-run totals that index tables (compare.csv, sweep.csv) take from summary.json
SUMMARY_METRICS = (
    "rounds_completed",
    "sim_time_s",
    "final_test_accuracy",
    "best_test_accuracy",
    "time_to_target_s",
    "energy_total_j",
    "energy_compute_j",
    "energy_transmit_j",
    "uplink_bits",
    "downlink_bits",
    "wall_time_s",
)


def summary_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The :data:`SUMMARY_METRICS` of a run's summary, flattened."""
    e, b = summary["energy_j"], summary["bits"]
    flat = {
        **summary,
        "energy_total_j": e["total"],
        "energy_compute_j": e["compute"],
        "energy_transmit_j": e["transmit"],
        "uplink_bits": b["uplink"],
        "downlink_bits": b["downlink"],
    }
    return {k: flat[k] for k in SUMMARY_METRICS}


def _cell(x: Any) -> Any:
    if x is None:
        return ""
    if isinstance(x, float):  # also numpy floats, whose repr would be "np.float64(...)"
        x = float(x)
        return repr(x) if math.isfinite(x) else ""  # no NaN or infinity in any output
    return x


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``rows`` under ``header`` to ``path`` (missing and non-finite values empty)."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow([_cell(x) for x in row])


def device_rows(
    rec: Recorder, n_samples: np.ndarray, initial_distance_m: np.ndarray
) -> list[tuple[Any, ...]]:
    """``devices.csv``'s rows: per device its samples, distance at t = 0 (m), bits, energy
    (J), busy times (s) and handovers."""
    rows = []
    for k in range(rec.n):
        busy = [float(rec.busy_s[kind][k]) for kind in EVENT_KINDS if kind not in NOT_DEVICE_BUSY]
        busy += [float(rec.outage_s[kind][k]) for kind in OUTAGE_KINDS]
        handovers = sum(1 for e in rec.events if e.kind == HANDOVER and e.device == k)
        ec, et = float(rec.compute_energy_j[k]), float(rec.transmit_energy_j[k])
        rows.append(
            (
                k,
                int(n_samples[k]),
                float(initial_distance_m[k]),
                int(rec.uplink_bits[k]),
                int(rec.downlink_bits[k]),
                ec,
                et,
                ec + et,
                *busy,
                handovers,
            )
        )
    return rows


def write_run(
    out: Path,
    *,
    scenario_yaml: str,
    title: str,
    recorder: Recorder,
    n_samples: np.ndarray,
    initial_distance_m: np.ndarray,
    summary: dict[str, Any],
    plots: bool = True,
    decisions: Iterable[tuple[object, ...]] = (),
) -> None:
    """Write every output file of a finished simulation into ``out`` (created if needed): the
    resolved scenario (``scenario_yaml``), the recorder's rounds, events and per-device
    totals (with each device's ``n_samples`` and ``initial_distance_m``), the control
    policy's ``decisions`` (``decisions.csv``), the figures (titled ``title``) and
    ``summary.json``, last."""
    out.mkdir(parents=True, exist_ok=True)
    rec = recorder
    (out / "scenario.yaml").write_text(scenario_yaml)
    write_csv(out / "rounds.csv", ROUND_COLUMNS, (r.row() for r in rec.rounds))
    # completion order; handovers (booked at round ends) slot in at their time
    events = sorted(rec.events, key=lambda e: e.t_end_s)
    write_csv(out / "events.csv", EVENT_COLUMNS, (e.row() for e in events))
    write_csv(out / "devices.csv", DEVICE_COLUMNS, device_rows(rec, n_samples, initial_distance_m))
    write_csv(out / "decisions.csv", DECISION_COLUMNS, decisions)
    if plots:
        from fedsl_sim.report.plots import plot_accuracy_vs_time, plot_device_time_breakdown

        plot_accuracy_vs_time(rec.rounds, out / "accuracy_vs_time.png", title=title)
        plot_device_time_breakdown(rec, out / "device_time_breakdown.png", title=title)
    # written last: its presence marks a complete run directory
    (out / "summary.json").write_text(summary_json(summary))


def json_safe(x: Any) -> Any:
    """``x`` with every non-finite float (NaN, infinity) replaced by None, recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def summary_json(summary: dict[str, Any]) -> str:
    """``summary.json``'s text: strict JSON (a non-finite number becomes null)."""
    return json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n"


def format_summary(summary: dict[str, Any]) -> str:
    """A small plain-text table of the headline numbers."""

    def num(x: Any, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    e, b = summary["energy_j"], summary["bits"]
    rows = [
        ("scenario", summary["scenario"]),
        ("scheme / seed", f"{summary['scheme']} / {summary['seed']}"),
        ("rounds", f"{summary['rounds_completed']} ({summary['stop_reason']})"),
        ("simulated time", f"{num(summary['sim_time_s'], '.4g')} s"),
        ("final test accuracy", num(summary["final_test_accuracy"], ".4f")),
        ("best test accuracy", num(summary["best_test_accuracy"], ".4f")),
        (
            "time to target",
            f"{num(summary['time_to_target_s'], '.4g')} s"
            f" (target {num(summary['target_accuracy'], '.3g')})",
        ),
        (
            "device energy",
            f"{e['total']:.4g} J (compute {e['compute']:.4g}, transmit {e['transmit']:.4g})",
        ),
        ("bits up / down", f"{b['uplink']:.4g} / {b['downlink']:.4g}"),
        ("wall time", f"{summary['wall_time_s']:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
