"""Reports over one run or a sweep of runs: ``fedsl-sim report DIR``.

``DIR`` is a run directory (it has ``summary.json``) or a sweep directory (it has
``sweep.csv`` and ``runs/<run_id>/``). Runs are grouped by configuration (the ``case`` column
of ``sweep.csv``: the overrides other than the seed); of each configuration the report gives
the mean over its seeds with a two-sided 95 % Student-t confidence interval,

    mean ± t_{0.975, n-1} · s / √n        (s: sample standard deviation, ddof = 1),

and no interval where n = 1. Only runs with status ``done`` count. Everything is read from
the per-run files (``summary.json``, ``rounds.csv``, ``events.csv``, ``devices.csv``).

Latency breakdown ("per round"): the **critical path** of each round — walking back from the
round's end, the event that ends at the current instant (preferring the same device, then the
server), then the event that ends where that one started, and so on back to the round's start;
stretches covered by no event are booked as ``wait (no event)``. Each round's segments sum to
the round's duration, so a configuration's stacked bar is its mean simulated time per round,
split by what the round was waiting for (a device computing, a transmission, the server's
queue, ...). The part of a transmission spent paused in outage (``wait``) or in failed
blocks (``harq``/``drop``) is its own category, ``outage``, so a slow link and a deep fade
are told apart.

Accuracy band: each seed's evaluated (simulated time, test accuracy) points are linearly
interpolated on a common grid spanning only the time where every seed has evaluations (from
the latest first evaluation to the earliest last one); the mean and the 95 % t-interval are
taken across seeds at each grid point. Outside that span each seed is drawn as a thin line.

Outputs (``<DIR>/report/`` by default, replaced as a whole): ``report.csv``, ``report.json``,
``report.md`` and the figures ``accuracy_vs_time.png``, ``time_to_target.png``,
``latency_breakdown.png``, ``energy_per_device.png``, ``pareto.png``.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import stats

from fedsl_sim.errors import ScenarioError
from fedsl_sim.report.writers import write_csv
from fedsl_sim.rundir import staged_dir
from fedsl_sim.sim.recorder import (
    AGGREGATION,
    BACKHAUL,
    CLIENT_BACKWARD,
    CLIENT_FORWARD,
    DOWNLINK,
    LOST_KINDS,
    MODEL_DOWNLOAD,
    MODEL_UPLOAD,
    SERVER_COMPUTE,
    SERVER_QUEUE,
    UPLINK,
)

CONFIDENCE = 0.95
STATUSES = ("done", "failed", "pending")
SWEEP_COLUMNS = ("run_id", "case", "seed", "status", "run_dir")
FIGURES = (
    "accuracy_vs_time.png",
    "time_to_target.png",
    "latency_breakdown.png",
    "energy_per_device.png",
    "pareto.png",
)

# (key, label, unit) of the per-run headline metrics, in table order
METRICS: tuple[tuple[str, str, str], ...] = (
    ("final_test_accuracy", "final test accuracy", ""),
    ("best_test_accuracy", "best test accuracy", ""),
    ("sim_time_s", "simulated time", "s"),
    ("sim_time_per_round_s", "simulated time per round", "s"),
    ("time_to_target_s", "time to target", "s"),
    ("energy_total_j", "device energy", "J"),
    ("energy_compute_j", "compute energy", "J"),
    ("energy_transmit_j", "transmit energy", "J"),
    ("uplink_bits", "uplink", "bits"),
    ("downlink_bits", "downlink", "bits"),
)
METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Accuracy", ("final_test_accuracy", "best_test_accuracy")),
    ("Time", ("sim_time_s", "sim_time_per_round_s", "time_to_target_s")),
    ("Energy (all devices)", ("energy_total_j", "energy_compute_j", "energy_transmit_j")),
    ("Communication", ("uplink_bits", "downlink_bits")),
)
ENERGY_PER_DEVICE = (
    ("energy_per_device_compute_j", "compute"),
    ("energy_per_device_transmit_j", "transmit"),
)

# Critical-path categories of the latency breakdown: (key, label, event kinds)
LATENCY_CATEGORIES: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("device_compute", "device compute", frozenset({CLIENT_FORWARD, CLIENT_BACKWARD})),
    ("uplink", "uplink", frozenset({UPLINK})),
    ("server_queue", "server queue", frozenset({SERVER_QUEUE})),
    ("server_compute", "server compute", frozenset({SERVER_COMPUTE})),
    ("downlink", "downlink", frozenset({DOWNLINK})),
    ("model_upload", "model upload", frozenset({MODEL_UPLOAD})),
    ("aggregation", "aggregation", frozenset({AGGREGATION})),
    ("model_download", "model download", frozenset({MODEL_DOWNLOAD})),
    ("backhaul", "backhaul", frozenset({BACKHAUL})),
    ("lost", "lost to outage/handover", LOST_KINDS),
    ("outage", "outage (paused / failed blocks)", frozenset()),
    ("other", "other events", frozenset()),
    ("wait", "wait (no event)", frozenset()),
)
LATENCY_LABELS = {key: label for key, label, _ in LATENCY_CATEGORIES}
_KIND_CATEGORY = {kind: key for key, _, kinds in LATENCY_CATEGORIES for kind in kinds}
GRID_POINTS = 200


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Interval:
    """Mean of n values with its two-sided t confidence interval (None where undefined)."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "half_width": self.half_width,
            "n": self.n,
        }


def t_interval(values: Iterable[float | None], confidence: float = CONFIDENCE) -> Interval:
    """Mean and Student-t interval ``mean ± t_{(1+c)/2, n-1} · s/√n`` of the non-missing
    values; n = 0 gives no mean, n = 1 no interval."""
    x = np.array([float(v) for v in values if v is not None], dtype=float)
    n = len(x)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, None, None, 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the points that no other point dominates (every coordinate minimized: no
    other point is ≤ in all and < in one)."""
    front = []
    for i, p in enumerate(points):
        dominated = any(
            all(b <= a for a, b in zip(p, q, strict=True))
            and any(b < a for a, b in zip(p, q, strict=True))
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front


# --------------------------------------------------------------------------- reading
def _read_table(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file with a header that has every ``required`` column."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if header is None:
                raise ScenarioError(str(path), "empty file: expected a CSV header")
            missing = [c for c in required if c not in header]
            if missing:
                raise ScenarioError(
                    str(path), f"expected the columns {list(required)}, missing {missing}"
                )
            rows = []
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise ScenarioError(
                        str(path),
                        f"line {reader.line_num}: expected {len(header)} cells as in the header",
                    )
                rows.append(row)
            return rows
    except FileNotFoundError:
        raise ScenarioError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError(str(path), f"cannot read: {exc}") from None


def _number(path: Path, line: int, column: str, text: str, optional: bool = True) -> float | None:
    if text == "" and optional:
        return None
    try:
        return float(text)
    except ValueError:
        raise ScenarioError(
            str(path), f"line {line}: column {column}: expected a number, got {text!r}"
        ) from None


def _column(path: Path, rows: list[dict[str, str]], column: str, optional: bool = True) -> list:
    # header is line 1, so data row i is line i + 2
    return [_number(path, i + 2, column, r[column], optional) for i, r in enumerate(rows)]


@dataclass
class RunData:
    """What the report needs of one run, read from its directory."""

    run_id: str
    case: str
    seed: int | None
    path: Path
    summary: dict[str, Any]
    round_end_s: np.ndarray  # sim_time_s at each round's end
    evals: list[tuple[float, float]]  # (sim_time_s, test_accuracy) of evaluated rounds
    energy_compute_j: np.ndarray  # per device
    energy_transmit_j: np.ndarray
    latency: dict[str, float]  # critical-path seconds per category, summed over rounds
    target_accuracy: float | None = None
    time_to_target_s: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    #: a control policy's decisions per round (decisions.csv): ``round`` and, per knob, its
    #: mean over the devices that took part (``take_part``: their fraction of the candidates)
    decisions: dict[str, np.ndarray] | None = None
    #: the decisions.csv columns that changed over the rounds for some device
    decisions_varied: set[str] = field(default_factory=set)


#: decisions.csv's columns the report follows over the rounds
DECISION_KNOBS = (
    "take_part",
    "cpu_hz",
    "tx_power_dbm",
    "bandwidth_weight",
    "split_layer",
    "pruning_rate",
    "quant_bits",
    "dropout_rate",
)


def _decisions(path: Path, last_round: int) -> tuple[dict[str, np.ndarray] | None, set[str]]:
    """Per round up to ``last_round``, the fraction of candidates taking part and each
    knob's mean over those that did (NaN: nobody did), from ``decisions.csv`` (None: no such
    file, or no rows); and the columns that changed over the rounds for some device (a
    policy's decisions, or the scenario's pruning schedule)."""
    if not path.exists():
        return None, set()
    rows = _read_table(path, ("round", "device", "take_part"))
    knobs = [k for k in DECISION_KNOBS if rows and k in rows[0]]
    columns = {k: _column(path, rows, k) for k in ("round", "device", *knobs)}
    rounds = np.array(columns["round"], dtype=float)
    kept = rounds <= last_round  # dispatches after the last average belong to no round
    if not kept.any():
        return None, set()
    rounds = rounds[kept]
    devices = np.array(columns["device"], dtype=float)[kept]
    varied = set()
    for k in knobs:
        values = np.array([math.nan if v is None else float(v) for v in columns[k]])[kept]
        for d in np.unique(devices):
            mine = values[(devices == d) & np.isfinite(values)]
            if len(mine) and mine.min() != mine.max():
                varied.add(k)
                break
    take = np.array([1.0 if v else 0.0 for v in columns["take_part"]])[kept]
    order = np.unique(rounds)
    out: dict[str, np.ndarray] = {"round": order}
    for k in knobs:
        values = np.array([math.nan if v is None else float(v) for v in columns[k]])[kept]
        means = []
        for r in order:
            here = rounds == r
            if k == "take_part":
                means.append(float(take[here].mean()))
            else:
                chosen = values[here & (take > 0)]
                means.append(float(chosen.mean()) if len(chosen) else math.nan)
        out[k] = np.array(means)
    return out, varied


def _summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(str(path), "file not found: not a finished run directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot read JSON: {exc}") from None
    need = {
        "rounds_completed": (int,),
        "sim_time_s": (int, float),
        "final_test_accuracy": (int, float, type(None)),
        "best_test_accuracy": (int, float, type(None)),
        "time_to_target_s": (int, float, type(None)),
        "energy_j": (dict,),
        "bits": (dict,),
    }
    if not isinstance(data, dict):
        raise ScenarioError(str(path), f"expected a JSON object, got {type(data).__name__}")
    for key, types in need.items():
        if key not in data:
            raise ScenarioError(str(path), f"missing key {key!r}")
        if not isinstance(data[key], types) or isinstance(data[key], bool):
            raise ScenarioError(
                str(path),
                f"{key}: expected {'/'.join(t.__name__ for t in types)}, got {data[key]!r}",
            )
    for key, sub in (
        ("energy_j", ("total", "compute", "transmit")),
        ("bits", ("uplink", "downlink")),
    ):
        for s in sub:
            if not isinstance(data[key].get(s), (int, float)):
                raise ScenarioError(str(path), f"{key}.{s}: expected a number")
    return data


def load_run(path: Path, run_id: str, case: str, seed: int | None, target: float | None) -> RunData:
    """Read one run directory; ``target`` (if given) replaces the run's target accuracy, the
    time to reach it recomputed from ``rounds.csv``."""
    summary = _summary(path / "summary.json")
    rounds_path = path / "rounds.csv"
    rounds = _read_table(rounds_path, ("round", "sim_time_s", "test_accuracy"))
    end_s = np.array(_column(rounds_path, rounds, "sim_time_s", optional=False), dtype=float)
    acc = _column(rounds_path, rounds, "test_accuracy")
    evals = [(float(t), float(a)) for t, a in zip(end_s, acc, strict=True) if a is not None]
    dev_path = path / "devices.csv"
    devices = _read_table(dev_path, ("device", "energy_compute_j", "energy_transmit_j"))
    ec = np.array(_column(dev_path, devices, "energy_compute_j", optional=False), dtype=float)
    et = np.array(_column(dev_path, devices, "energy_transmit_j", optional=False), dtype=float)
    ev_path = path / "events.csv"
    events = _read_table(ev_path, ("t_start_s", "t_end_s", "device", "kind"))
    t0 = _column(ev_path, events, "t_start_s", optional=False)
    t1 = _column(ev_path, events, "t_end_s", optional=False)
    dev = _column(ev_path, events, "device")
    kinds = [r["kind"] for r in events]
    # runs written before transmissions carried their outage time have no such column
    outage = _column(ev_path, events, "outage_s") if events and "outage_s" in events[0] else None
    latency = critical_path_s(t0, t1, dev, kinds, end_s, outage)

    run = RunData(run_id, case, seed, path, summary, end_s, evals, ec, et, latency)
    last = int(max(_column(rounds_path, rounds, "round", optional=False), default=-1))
    run.decisions, run.decisions_varied = _decisions(path / "decisions.csv", last)
    if target is None:
        run.target_accuracy = summary.get("target_accuracy")
        run.time_to_target_s = summary["time_to_target_s"]
    else:
        run.target_accuracy = target
        run.time_to_target_s = next((t for t, a in evals if a >= target), None)
    e, b = summary["energy_j"], summary["bits"]
    n_rounds = summary["rounds_completed"]
    run.metrics = {
        "final_test_accuracy": summary["final_test_accuracy"],
        "best_test_accuracy": summary["best_test_accuracy"],
        "sim_time_s": summary["sim_time_s"],
        "sim_time_per_round_s": summary["sim_time_s"] / n_rounds if n_rounds else None,
        "time_to_target_s": run.time_to_target_s,
        "energy_total_j": e["total"],
        "energy_compute_j": e["compute"],
        "energy_transmit_j": e["transmit"],
        "uplink_bits": b["uplink"],
        "downlink_bits": b["downlink"],
        "energy_per_device_compute_j": float(ec.mean()) if len(ec) else None,
        "energy_per_device_transmit_j": float(et.mean()) if len(et) else None,
        **{
            f"latency_{key}_s": (latency.get(key, 0.0) / n_rounds if n_rounds else None)
            for key, _, _ in LATENCY_CATEGORIES
        },
    }
    return run


# --------------------------------------------------------------------------- latency
def critical_path_s(
    t_start_s: Sequence[float],
    t_end_s: Sequence[float],
    device: Sequence[float | None],
    kind: Sequence[str],
    round_end_s: Sequence[float],
    outage_s: Sequence[float | None] | None = None,
) -> dict[str, float]:
    """Seconds of the rounds' critical paths per latency category, summed over rounds.

    Round r spans (end of round r-1, end of round r] (round 0 starts at 0). From the round's
    end the walk takes the event that ends at the current instant — of the device of the
    event taken last if it has one ending there, else the server's, else the longest —, books
    its duration (clipped to the round) to the event's category and moves to its start; where
    no event ends at the current instant, the stretch back to the latest earlier event end is
    booked as ``wait``. Zero-length events are skipped: they take no time. A transmission's
    time paused in outage or spent in failed blocks (``outage_s``) is booked as ``outage``,
    the rest to its kind's category (in proportion when the event is clipped to the round).
    """
    keep = [i for i in range(len(kind)) if t_end_s[i] > t_start_s[i]]
    keep.sort(key=lambda i: t_end_s[i])
    ends = [t_end_s[i] for i in keep]
    out: dict[str, float] = {}

    def book(key: str, seconds: float) -> None:
        out[key] = out.get(key, 0.0) + seconds

    begin = 0.0
    for end in round_end_s:
        t, last_device = end, None
        while t > begin:
            tol = 1e-12 * max(1.0, abs(t))
            lo, hi = bisect.bisect_left(ends, t - tol), bisect.bisect_right(ends, t + tol)
            cands = [keep[j] for j in range(lo, hi) if t_start_s[keep[j]] < t - tol]
            if cands:
                i = min(
                    cands,
                    key=lambda i: (
                        device[i] != last_device or last_device is None,
                        device[i] is not None,
                        -(t_end_s[i] - t_start_s[i]),
                        device[i] if device[i] is not None else -1.0,
                    ),
                )
                start = max(t_start_s[i], begin)
                stalled = (outage_s[i] or 0.0) if outage_s is not None else 0.0
                if stalled > 0:
                    stalled *= (t - start) / (t_end_s[i] - t_start_s[i])
                    book("outage", stalled)
                book(_KIND_CATEGORY.get(kind[i], "other"), t - start - stalled)
                t, last_device = start, device[i]
            else:
                prev = max(ends[lo - 1] if lo > 0 else begin, begin)
                book("wait", t - prev)
                t, last_device = prev, None
        begin = end
    return out


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One configuration: its done runs and what was skipped."""

    id: str
    label: str
    runs: list[RunData] = field(default_factory=list)
    failed: int = 0
    pending: int = 0
    stats: dict[str, Interval] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def reached(self) -> int:
        return sum(r.time_to_target_s is not None for r in self.runs)

    @property
    def targets(self) -> list[float]:
        return sorted({r.target_accuracy for r in self.runs if r.target_accuracy is not None})


@dataclass
class Report:
    """A study report: its configurations (with their runs' statistics) and its source."""

    source: Path
    kind: str  # "sweep" | "run"
    name: str
    base: str | None
    cases: list[Case]
    skipped_cases: list[Case]
    counts: dict[str, int]
    target_override: float | None
    pareto_x: str = "sim_time_s"
    pareto: list[str] = field(default_factory=list)

    @property
    def decisions_varied(self) -> list[str]:
        """The decisions.csv columns that changed over the rounds for some device of some
        run, in column order (then the report draws ``decisions.png``)."""
        varied = set().union(*(r.decisions_varied for r in self.runs))
        return [k for k in DECISION_KNOBS if k in varied]

    @property
    def decisions_vary(self) -> bool:
        return bool(self.decisions_varied)

    @property
    def figures(self) -> list[str]:
        """The figures this report draws."""
        return [*FIGURES, *(["decisions.png"] if self.decisions_vary else [])]

    @property
    def runs(self) -> list[RunData]:
        return [r for c in self.cases for r in c.runs]


def _sweep_meta(path: Path) -> tuple[str, str | None]:
    """(sweep name, base scenario) from ``sweep.yaml`` where it says so."""
    name, base = path.parent.resolve().name, None
    if not path.exists():
        return name, base
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(str(path), f"cannot read YAML: {exc}") from None
    if isinstance(data, dict):
        if isinstance(data.get("name"), str):
            name = data["name"]
        for key in ("base", "scenario", "base_scenario"):
            if isinstance(data.get(key), str):
                base = data[key]
                break
    return name, base


def _seed(path: Path, line: int, text: str) -> int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ScenarioError(
            str(path), f"line {line}: column seed: expected an integer, got {text!r}"
        ) from None


def build_report(src: str | Path, target: float | None = None) -> Report:
    """Read a run or sweep directory and compute every number of the report."""
    src = Path(src)
    if target is not None and not 0.0 <= target <= 1.0:
        raise ScenarioError("--target", f"expected an accuracy in [0, 1], got {target}")
    if (src / "sweep.csv").is_file():
        report = _read_sweep(src, target)
    elif (src / "summary.json").is_file():
        run = load_run(src, src.resolve().name, "", None, target)
        run.seed = run.summary.get("seed")
        case = Case("C1", "", [run])
        report = Report(
            src,
            "run",
            src.resolve().name,
            run.summary.get("scenario"),
            [case],
            [],
            {"total": 1, "done": 1, "failed": 0, "pending": 0},
            target,
        )
    elif src.is_dir():
        raise ScenarioError(
            str(src), "not a run directory (no summary.json) nor a sweep directory (no sweep.csv)"
        )
    else:
        raise ScenarioError(str(src), "no such directory")
    for case in report.cases:
        keys = [k for k, _, _ in METRICS] + [k for k, _ in ENERGY_PER_DEVICE]
        keys += [f"latency_{k}_s" for k, _, _ in LATENCY_CATEGORIES]
        case.stats = {k: t_interval(r.metrics[k] for r in case.runs) for k in keys}
    _pareto(report)
    return report


def _read_sweep(src: Path, target: float | None) -> Report:
    table = src / "sweep.csv"
    rows = _read_table(table, SWEEP_COLUMNS)
    name, base = _sweep_meta(src / "sweep.yaml")
    counts = dict.fromkeys(STATUSES, 0)
    cases: dict[str, Case] = {}
    for i, row in enumerate(rows):
        line = i + 2
        status = row["status"]
        if status not in STATUSES:
            raise ScenarioError(
                str(table),
                f"line {line}: column status: expected one of {STATUSES}, got {status!r}",
            )
        counts[status] += 1
        case = cases.setdefault(row["case"], Case("", row["case"]))
        if status == "failed":
            case.failed += 1
        elif status == "pending":
            case.pending += 1
        else:
            if not row["run_dir"]:
                raise ScenarioError(str(table), f"line {line}: done run without a run_dir")
            seed = _seed(table, line, row["seed"])
            case.runs.append(
                load_run(src / row["run_dir"], row["run_id"], row["case"], seed, target)
            )
    if counts["done"] == 0:
        raise ScenarioError(
            str(table),
            f"no run with status done ({counts['failed']} failed, {counts['pending']} pending): "
            "nothing to report",
        )
    done = [c for c in cases.values() if c.runs]
    for k, c in enumerate(done):
        c.id = f"C{k + 1}"
    return Report(
        src,
        "sweep",
        name,
        base,
        done,
        [c for c in cases.values() if not c.runs],
        {"total": len(rows), **counts},
        target,
    )


def _pareto(report: Report) -> None:
    """Pareto front of the cases' means over accuracy, time and energy. When every run of
    every case reached its target, over (time to target, total energy): the accuracy is the
    target's. Otherwise over (simulated time, total energy, final accuracy): no other
    configuration is at least as fast, as frugal and as accurate and better in one (a mean
    time to target over only the runs that reached it would flatter the configurations that
    often miss it)."""
    all_reached = all(c.reached == c.n for c in report.cases)
    report.pareto_x = "time_to_target_s" if all_reached else "sim_time_s"
    pts: list[list[float | None]] = [
        [c.stats[report.pareto_x].mean, c.stats["energy_total_j"].mean] for c in report.cases
    ]
    if not all_reached:  # accuracy maximized; a case never evaluated is the least accurate
        for p, c in zip(pts, report.cases, strict=True):
            acc = c.stats["final_test_accuracy"].mean
            p.append(math.inf if acc is None else -acc)
    ok = [i for i, p in enumerate(pts) if all(v is not None for v in p)]
    front = pareto_front([pts[i] for i in ok])  # type: ignore[misc]
    report.pareto = [report.cases[ok[j]].id for j in front]


# --------------------------------------------------------------------------- tables
def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def format_interval(iv: Interval) -> str:
    """``mean ± half-width`` (4 significant digits); ``± n/a`` where n = 1, ``–`` for n = 0."""
    if iv.mean is None:
        return "–"
    if iv.half_width is None:
        return f"{_fmt(iv.mean)} ± n/a"
    return f"{_fmt(iv.mean)} ± {_fmt(iv.half_width)}"


def _case_label(report: Report, case: Case) -> str:
    if case.label:
        return case.label
    return f"single run {report.name}" if report.kind == "run" else "base scenario"


def _csv_keys(report: Report) -> list[str]:
    keys = [k for k, _, _ in METRICS] + [k for k, _ in ENERGY_PER_DEVICE]
    return keys + [f"latency_{k}_s" for k in _latency_keys(report)]


def _latency_keys(report: Report) -> list[str]:
    """Categories that occur on some run's critical path."""
    return [
        k for k, _, _ in LATENCY_CATEGORIES if any(r.latency.get(k, 0.0) > 0 for r in report.runs)
    ]


def write_report_csv(report: Report, path: Path) -> None:
    """``report.csv``: one row per configuration and metric (mean, CI, n)."""
    keys = _csv_keys(report)
    header = ["case_id", "case", "n", "failed", "pending", "target_accuracy", "reached_target"]
    header += [f"{k}_{s}" for k in keys for s in ("mean", "ci_low", "ci_high", "n")]
    rows = []
    for c in report.cases:
        row: list[Any] = [c.id, c.label, c.n, c.failed, c.pending]
        row += [";".join(repr(t) for t in c.targets), c.reached]
        for k in keys:
            iv = c.stats[k]
            row += [iv.mean, iv.ci_low, iv.ci_high, iv.n]
        rows.append(row)
    write_csv(path, header, rows)


def report_dict(report: Report) -> dict[str, Any]:
    """``report.json``'s content."""
    keys = _csv_keys(report)
    return {
        "source": str(report.source),
        "kind": report.kind,
        "name": report.name,
        "base_scenario": report.base,
        "scenarios": sorted({str(r.summary.get("scenario")) for r in report.runs}),
        "schemes": sorted({str(r.summary.get("scheme")) for r in report.runs}),
        "runs": report.counts,
        "skipped_runs": report.counts["failed"] + report.counts["pending"],
        "confidence": CONFIDENCE,
        "interval": "two-sided Student t over seeds: mean ± t_{0.975,n-1}·s/sqrt(n); "
        "none where n = 1",
        "target_override": report.target_override,
        "latency_breakdown": "critical path of each round, seconds per round",
        "cases": [
            {
                "id": c.id,
                "case": c.label,
                "n": c.n,
                "failed": c.failed,
                "pending": c.pending,
                "run_ids": [r.run_id for r in c.runs],
                "seeds": [r.seed for r in c.runs],
                "target_accuracy": c.targets,
                "reached_target": c.reached,
                "metrics": {k: c.stats[k].as_dict() for k in keys},
            }
            for c in report.cases
        ],
        "cases_without_done_runs": [
            {"case": c.label, "failed": c.failed, "pending": c.pending}
            for c in report.skipped_cases
        ],
        "pareto": {
            "x": report.pareto_x,
            "y": "energy_total_j",
            "z": None if report.pareto_x == "time_to_target_s" else "final_test_accuracy",
            "cases": report.pareto,
        },
        "figures": report.figures,
    }


# --------------------------------------------------------------------------- writing
def _check_out(final: Path, src: Path) -> None:
    """Refuse an output that is the source, holds it, or is a directory other than a
    previous report (replacing it would delete someone's files)."""
    f, s = final.resolve(), src.resolve()
    if f == s or f in s.parents:
        raise ScenarioError("--out", f"{final} contains the directory being reported on")
    if final.exists():
        if not final.is_dir():
            raise ScenarioError("--out", f"{final} exists and is not a directory")
        if any(final.iterdir()) and not (final / "report.json").is_file():
            raise ScenarioError(
                "--out", f"{final} exists and is not a previous report (no report.json)"
            )


def write_report(
    src: str | Path, out: str | Path | None = None, target: float | None = None
) -> tuple[Path, Report]:
    """Compute the report of ``src`` (a run or sweep directory) and write it to ``out``
    (default ``<src>/report/``), replacing a previous report there. Files are written to a
    hidden sibling directory and renamed into place only when complete."""
    from fedsl_sim.report.figures import (
        plot_accuracy,
        plot_decisions,
        plot_energy_per_device,
        plot_latency,
        plot_pareto,
        plot_time_to_target,
    )
    from fedsl_sim.report.markdown import report_markdown

    src = Path(src)
    report = build_report(src, target)
    final = Path(out) if out is not None else src / "report"
    _check_out(final, src)
    with staged_dir(final, replace=True) as partial:  # replaces a previous report at once
        write_report_csv(report, partial / "report.csv")
        (partial / "report.json").write_text(json.dumps(report_dict(report), indent=2) + "\n")
        plot_accuracy(report, partial / "accuracy_vs_time.png")
        plot_time_to_target(report, partial / "time_to_target.png")
        plot_latency(report, partial / "latency_breakdown.png")
        plot_energy_per_device(report, partial / "energy_per_device.png")
        plot_pareto(report, partial / "pareto.png")
        if report.decisions_vary:
            plot_decisions(report, partial / "decisions.png")
        (partial / "report.md").write_text(report_markdown(report) + "\n")
    return final, report
