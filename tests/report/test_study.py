"""``fedsl-sim report``: a real sweep directory (2 configurations × 2–3 seeds, plus a failed
and a pending row) and a real single run; the report's numbers are checked against values
computed here from each run's own files, the t quantiles written out by hand."""

from __future__ import annotations

import csv
import json
import math
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from simtools import make_scenario

from fedsl_sim.cli import main
from fedsl_sim.report import figures, study
from fedsl_sim.report.study import (
    FIGURES,
    critical_path_s,
    format_interval,
    pareto_front,
    write_report,
)
from fedsl_sim.sweep import COLUMNS

# two-sided 95 % Student-t quantiles t_{0.975, df} (tables)
T975 = {1: 12.706, 2: 4.303}

SWEEP_COLUMNS = COLUMNS  # the documented sweep.csv layout, as `fedsl-sim sweep` writes it
# case label -> (overrides, seeds)
CASES = {
    "compression.pruning.rate=0.0, compression.quantization.bits=32": (
        {"compression.pruning.rate": 0.0, "compression.quantization.bits": 32},
        (0, 1, 2),
    ),
    "compression.pruning.rate=0.3, compression.quantization.bits=4": (
        {"compression.pruning.rate": 0.3, "compression.quantization.bits": 4},
        (0, 1),
    ),
}
BASE = {
    "scheme": "lightweight_fedsl",
    "devices__count": 2,
    "devices__placement__positions_m": [[100.0, 0.0], [180.0, 0.0]],
    "network__shadowing__std_db": 3.0,  # a different channel per seed: times vary
    "stop__max_rounds": 4,
    "stop__target_accuracy": 0.3,
    "learning__aggregation_interval": 2,
    "learning__eval_every_rounds": 1,
    "learning__local_steps": 2,
    "learning__optimizer__kind": "adam",
    "learning__optimizer__lr": 0.003,
}


def _dotted(overrides: dict) -> dict:
    return {k.replace(".", "__"): v for k, v in overrides.items()}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one torch thread is fastest, and far faster on a loaded machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import fedsl_sim

    out = tmp_path_factory.mktemp("study") / "sweep"
    (out / "runs").mkdir(parents=True)
    (out / "sweep.yaml").write_text("name: tiny-study\nbase: tests/simtools.py TINY\n")
    rows = []
    for c, (case, (overrides, seeds)) in enumerate(CASES.items()):
        for seed in seeds:
            run_id = f"c{c}-s{seed}"
            sc = make_scenario(seed=seed, **BASE, **_dotted(overrides))
            s = fedsl_sim.run(sc, out_dir=out / "runs" / run_id, plots=False).summary
            rows.append(
                [run_id, case, seed, "done", json.dumps({**overrides, "seed": seed})]
                + [s["rounds_completed"], s["sim_time_s"], s["final_test_accuracy"]]
                + [s["best_test_accuracy"], s["time_to_target_s"] or ""]
                + [s["energy_j"][k] for k in ("total", "compute", "transmit")]
                + [s["bits"]["uplink"], s["bits"]["downlink"], s["wall_time_s"]]
                + [f"runs/{run_id}"]
            )
    first = next(iter(CASES))
    rows.append(["c0-s3", first, 3, "failed", "{}"] + [""] * 11 + ["runs/c0-s3"])
    rows.append(["c1-s2", list(CASES)[1], 2, "pending", "{}"] + [""] * 11 + [""])
    with (out / "sweep.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SWEEP_COLUMNS)
        w.writerows(rows)
    return out


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One device: every event is on the critical path."""
    import fedsl_sim

    out = tmp_path_factory.mktemp("single") / "run"
    sc = make_scenario(
        stop__max_rounds=3, stop__target_accuracy=0.15, learning__aggregation_interval=2
    )
    fedsl_sim.run(sc, out_dir=out, plots=False)
    return out


@pytest.fixture(scope="module")
def reported(sweep: Path) -> Path:
    out, _ = write_report(sweep)
    return out


def _summaries(sweep: Path) -> dict[str, list[dict]]:
    """Case label -> summaries of its done runs, read without the report module."""
    by_case: dict[str, list[dict]] = {}
    with (sweep / "sweep.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["status"] == "done":
                s = json.loads((sweep / row["run_dir"] / "summary.json").read_text())
                by_case.setdefault(row["case"], []).append(s)
    return by_case


def _expected(values: list[float]) -> tuple[float, float | None, int]:
    n = len(values)
    mean = sum(values) / n
    half = T975[n - 1] * statistics.stdev(values) / math.sqrt(n) if n > 1 else None
    return mean, half, n


def _per_run(s: dict) -> dict[str, float | None]:
    return {
        "final_test_accuracy": s["final_test_accuracy"],
        "best_test_accuracy": s["best_test_accuracy"],
        "sim_time_s": s["sim_time_s"],
        "sim_time_per_round_s": s["sim_time_s"] / s["rounds_completed"],
        "time_to_target_s": s["time_to_target_s"],
        "energy_total_j": s["energy_j"]["total"],
        "energy_compute_j": s["energy_j"]["compute"],
        "energy_transmit_j": s["energy_j"]["transmit"],
        "uplink_bits": s["bits"]["uplink"],
        "downlink_bits": s["bits"]["downlink"],
    }


def _check_interval(got: dict, values: list, label: str) -> None:
    values = [v for v in values if v is not None]
    assert got["n"] == len(values), label
    if not values:
        assert got["mean"] is None, label
        return
    mean, half, _ = _expected(values)
    assert got["mean"] == pytest.approx(mean, rel=1e-12), label
    if half is None:
        assert got["ci_low"] is None and got["ci_high"] is None, label
    else:
        # the table quantiles have 4-5 digits
        assert got["half_width"] == pytest.approx(half, rel=2e-4, abs=1e-15), label
        assert got["ci_low"] == pytest.approx(mean - got["half_width"], rel=1e-9), label
        assert got["ci_high"] == pytest.approx(mean + got["half_width"], rel=1e-9), label


def test_report_numbers_match_the_run_summaries(sweep: Path, reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    by_case = _summaries(sweep)
    assert [c["case"] for c in rep["cases"]] == list(CASES)
    assert [c["id"] for c in rep["cases"]] == ["C1", "C2"]
    assert [c["n"] for c in rep["cases"]] == [3, 2]
    # the sims differ between seeds, so the intervals are not degenerate
    assert len({s["sim_time_s"] for s in by_case[list(CASES)[0]]}) == 3
    for case in rep["cases"]:
        runs = [_per_run(s) for s in by_case[case["case"]]]
        for key in runs[0]:
            _check_interval(case["metrics"][key], [r[key] for r in runs], f"{case['id']} {key}")
        assert case["reached_target"] == sum(r["time_to_target_s"] is not None for r in runs)
    # report.csv: the same numbers, one row per case
    with (reported / "report.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["case"] for r in rows] == list(CASES)
    for row, case in zip(rows, rep["cases"], strict=True):
        for key in ("sim_time_s", "energy_total_j", "final_test_accuracy"):
            m = case["metrics"][key]
            assert float(row[f"{key}_mean"]) == m["mean"]
            assert float(row[f"{key}_ci_low"]) == m["ci_low"]
            assert float(row[f"{key}_ci_high"]) == m["ci_high"]
            assert int(row[f"{key}_n"]) == m["n"]


def test_energy_per_device_from_devices_csv(sweep: Path, reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    for case in rep["cases"]:
        comp, tx = [], []
        for run_id in case["run_ids"]:
            with (sweep / "runs" / run_id / "devices.csv").open() as fh:
                devs = list(csv.DictReader(fh))
            comp.append(sum(float(d["energy_compute_j"]) for d in devs) / len(devs))
            tx.append(sum(float(d["energy_transmit_j"]) for d in devs) / len(devs))
        _check_interval(case["metrics"]["energy_per_device_compute_j"], comp, "compute")
        _check_interval(case["metrics"]["energy_per_device_transmit_j"], tx, "transmit")


def test_failed_and_pending_rows_are_skipped_and_counted(reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    assert rep["runs"] == {"total": 7, "done": 5, "failed": 1, "pending": 1}
    assert rep["skipped_runs"] == 2
    assert [(c["failed"], c["pending"]) for c in rep["cases"]] == [(1, 0), (0, 1)]
    md = (reported / "report.md").read_text()
    assert "sweep.csv: 7 — 5 done, 1 failed, 1 pending; 2 skipped as failed/pending" in md
    assert "Sweep `tiny-study`" in md and "`tests/simtools.py TINY`" in md


def test_time_to_target_override_recomputed_from_rounds(sweep: Path, tmp_path: Path) -> None:
    # a target between the runs' best accuracies: some runs reach it, some do not
    best = sorted({s["best_test_accuracy"] for ss in _summaries(sweep).values() for s in ss})
    assert len(best) >= 2, "the runs should not all reach the same accuracy"
    target = (best[0] + best[-1]) / 2
    out, _ = write_report(sweep, tmp_path / "r", target=target)
    rep = json.loads((out / "report.json").read_text())
    assert rep["target_override"] == target
    reached_total = 0
    for case in rep["cases"]:
        times = []
        for run_id in case["run_ids"]:
            with (sweep / "runs" / run_id / "rounds.csv").open() as fh:
                hits = [
                    float(r["sim_time_s"])
                    for r in csv.DictReader(fh)
                    if r["test_accuracy"] and float(r["test_accuracy"]) >= target
                ]
            times.append(hits[0] if hits else None)
        _check_interval(case["metrics"]["time_to_target_s"], times, case["id"])
        assert case["reached_target"] == sum(t is not None for t in times)
        assert case["target_accuracy"] == [target]
        reached_total += case["reached_target"]
    assert 0 < reached_total < 5
    assert f"Target accuracy: {target:g} (`--target`" in (out / "report.md").read_text()


def _event_sums(run_dir: Path) -> dict[str, float]:
    """Seconds per latency category summed over events.csv."""
    cat = {
        "client_forward": "device_compute",
        "client_backward": "device_compute",
        "uplink": "uplink",
        "server_queue": "server_queue",
        "server_compute": "server_compute",
        "downlink": "downlink",
        "model_upload": "model_upload",
        "aggregation": "aggregation",
        "model_download": "model_download",
    }
    out: dict[str, float] = {}
    with (run_dir / "events.csv").open() as fh:
        for e in csv.DictReader(fh):
            key = cat[e["kind"]]
            out[key] = out.get(key, 0.0) + float(e["t_end_s"]) - float(e["t_start_s"])
    return out


def test_single_run_latency_is_the_sum_of_its_events_and_has_no_intervals(
    single: Path,
) -> None:
    out, _ = write_report(single)
    assert out == single / "report"
    rep = json.loads((out / "report.json").read_text())
    assert rep["kind"] == "run" and rep["runs"]["done"] == 1
    (case,) = rep["cases"]
    summary = json.loads((single / "summary.json").read_text())
    rounds = summary["rounds_completed"]
    sums = _event_sums(single)  # one device: everything is on the critical path
    assert set(sums) >= {"device_compute", "uplink", "model_upload", "aggregation"}
    for key, total in sums.items():
        # categories that never take time are not reported
        got = case["metrics"].get(f"latency_{key}_s", {"mean": 0.0})
        assert got["mean"] == pytest.approx(total / rounds, rel=1e-9, abs=1e-15), key
    assert case["metrics"].get("latency_wait_s") is None  # no gaps: not a column
    for key, m in case["metrics"].items():
        assert m["ci_low"] is None and m["ci_high"] is None and m["n"] <= 1, key
    assert case["metrics"]["sim_time_s"]["mean"] == summary["sim_time_s"]
    with (out / "report.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["sim_time_s_ci_low"] == "" and row["sim_time_s_n"] == "1"
    md = (out / "report.md").read_text()
    assert f"{summary['sim_time_s']:.4g} ± n/a" in md
    assert "n = 1: no confidence intervals" in md
    for f in FIGURES:
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_breakdown_sums_to_time_per_round(sweep: Path, reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    for case in rep["cases"]:
        m = case["metrics"]
        lat = {k: v["mean"] for k, v in m.items() if k.startswith("latency_")}
        assert sum(lat.values()) == pytest.approx(m["sim_time_per_round_s"]["mean"], rel=1e-9)
        # the critical path never takes more of a kind than the devices spent in it
        for run_id in case["run_ids"]:
            run_dir = sweep / "runs" / run_id
            rounds = json.loads((run_dir / "summary.json").read_text())["rounds_completed"]
            single = study.load_run(run_dir, run_id, "", None, None)
            for key, total in _event_sums(run_dir).items():
                assert single.latency.get(key, 0.0) <= total + 1e-12, key
            assert sum(single.latency.values()) / rounds == pytest.approx(
                single.metrics["sim_time_per_round_s"], rel=1e-9
            )
        assert lat["latency_uplink_s"] > 0 and lat["latency_device_compute_s"] > 0


def test_critical_path_exact_trace() -> None:
    # round 0 ends at 10: device 1 (slower uplink) sets the pace; device 0's events are off
    # the path. Round 1 (10..20) has a gap 12..13 covered by no event, then aggregation.
    events = [
        # t_start, t_end, device, kind
        (0.0, 1.0, 0, "client_forward"),
        (0.0, 1.0, 1, "client_forward"),
        (1.0, 3.0, 0, "uplink"),
        (1.0, 6.0, 1, "uplink"),
        (6.0, 6.0, 1, "server_queue"),  # zero length: skipped
        (6.0, 7.0, 1, "server_compute"),
        (7.0, 8.0, 1, "downlink"),
        (8.0, 10.0, 1, "client_backward"),
        (3.0, 8.0, 0, "server_queue"),
        (10.0, 12.0, 0, "model_upload"),
        (13.0, 14.0, None, "server_queue"),
        (14.0, 15.0, None, "aggregation"),
        (15.0, 20.0, 0, "model_download"),
        (15.0, 17.0, 1, "model_download"),
        (16.0, 16.0, 1, "handover"),
    ]
    t0, t1, dev, kind = (list(x) for x in zip(*events, strict=True))
    got = critical_path_s(t0, t1, dev, kind, [10.0, 20.0])
    assert got == {
        "device_compute": 1.0 + 2.0,
        "uplink": 5.0,
        "server_compute": 1.0,
        "downlink": 1.0,
        "model_upload": 2.0,
        "wait": 1.0,
        "server_queue": 1.0,
        "aggregation": 1.0,
        "model_download": 5.0,
    }
    assert sum(got.values()) == 20.0


def test_accuracy_band_on_the_common_span() -> None:
    # seed a: (1, 0.1) -> (3, 0.5); seed b: (2, 0.2) -> (4, 0.6); common span [2, 3]
    a = SimpleNamespace(evals=[(1.0, 0.1), (3.0, 0.5)])
    b = SimpleNamespace(evals=[(2.0, 0.2), (4.0, 0.6)])
    grid, mean, low, high = figures.accuracy_band([a, b], points=3)
    assert grid.tolist() == [2.0, 2.5, 3.0]
    # at t = 2: a 0.3, b 0.2; at t = 3: a 0.5, b 0.4
    assert mean[[0, -1]].tolist() == pytest.approx([0.25, 0.45])
    half = T975[1] * statistics.stdev([0.3, 0.2]) / math.sqrt(2)
    assert high[0] - mean[0] == pytest.approx(half, rel=1e-4)
    assert mean[0] - low[0] == pytest.approx(half, rel=1e-4)
    assert figures.accuracy_band([a]) is None  # one seed: no band
    late = SimpleNamespace(evals=[(5.0, 0.1), (6.0, 0.2)])
    assert figures.accuracy_band([a, late]) is None  # no time where both have data


def test_pareto_front_and_t_interval() -> None:
    assert pareto_front([(1, 5), (2, 2), (3, 3), (5, 1), (2, 2.5), (1, 6)]) == [0, 1, 3]
    iv = study.t_interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.n == 3
    assert iv.half_width == pytest.approx(T975[2] * 1.0 / math.sqrt(3), rel=1e-4)
    assert study.t_interval([4.0]).ci_low is None
    assert study.t_interval([None, 4.0]).n == 1
    assert study.t_interval([]).mean is None


def test_pareto_cases_match_the_means(reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    x = rep["pareto"]["x"]
    pts = [
        (
            c["metrics"][x]["mean"],
            c["metrics"]["energy_total_j"]["mean"],
            # without the target for every run, the final accuracy too (maximized)
            *([] if x == "time_to_target_s" else [-c["metrics"]["final_test_accuracy"]["mean"]]),
        )
        for c in rep["cases"]
    ]
    assert rep["pareto"]["cases"] == [rep["cases"][i]["id"] for i in pareto_front(pts)]


def test_the_pareto_front_weighs_accuracy_too() -> None:
    # (time, energy, -accuracy): the slower, costlier configuration 1 is more accurate
    pts = [(1.0, 1.0, -0.80), (2.0, 2.0, -0.90), (2.0, 2.0, -0.85), (3.0, 1.0, -0.80)]
    assert pareto_front(pts) == [0, 1]


def test_decisions_over_time_are_drawn_when_a_policy_changes_something(
    single: Path, tmp_path: Path
) -> None:
    import shutil

    out, _ = write_report(single, tmp_path / "static")
    assert not (out / "decisions.png").exists()  # the static policy decides nothing
    assert "decisions.png" not in json.loads((out / "report.json").read_text())["figures"]
    run = tmp_path / "run"
    shutil.copytree(single, run, ignore=shutil.ignore_patterns("report"))
    with (run / "decisions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:  # as a policy slowing the clock round after round would have decided
        row["cpu_hz"] = str(1e9 / (1 + int(row["round"])))
    with (run / "decisions.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out, report = write_report(run, tmp_path / "varied")
    assert (out / "decisions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![control decisions per round](decisions.png)" in (out / "report.md").read_text()
    (only,) = report.runs
    assert list(only.decisions["cpu_hz"]) == [1e9 / (1 + r) for r in range(len(rows))]
    assert list(only.decisions["take_part"]) == [1.0] * len(rows)


def test_markdown_links_every_figure_and_holds_the_table_numbers(reported: Path) -> None:
    rep = json.loads((reported / "report.json").read_text())
    md = (reported / "report.md").read_text()
    for f in FIGURES:
        assert (reported / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({f})" in md
    for case in rep["cases"]:
        assert f"| {case['id']} | {case['case']} | {case['n']} |" in md
        for key in ("final_test_accuracy", "sim_time_s", "energy_total_j", "uplink_bits"):
            m = case["metrics"][key]
            cell = f"{m['mean']:.4g} ± {m['half_width']:.4g}"
            assert cell in md, (key, cell)
            assert cell == format_interval(study.Interval(m["mean"], m["ci_low"], m["ci_high"], 2))
    assert "## Pareto-optimal configurations" in md
    assert all(f"{cid} (" in md for cid in rep["pareto"]["cases"])


def test_overwrite_is_atomic(sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rep"
    write_report(sweep, out)
    (out / "stale.txt").write_text("from an earlier report")
    write_report(sweep, out)  # replaced as a whole
    assert not (out / "stale.txt").exists() and (out / "report.md").exists()
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(figures, "plot_pareto", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(sweep, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old one intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no partial directory left


def test_cli(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["report", str(sweep), "--out", str(out), "--target", "0.15"]) == 0
    assert json.loads((out / "report.json").read_text())["target_override"] == 0.15
    assert str(out) in capsys.readouterr().out
    # a directory that is neither a run nor a sweep
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "empty") in err and "not a run directory" in err
    assert not (tmp_path / "empty" / "report").exists()
    # --out onto a directory that is not a previous report: refused, untouched
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "data.txt").write_text("mine")
    assert main(["report", str(sweep), "--out", str(tmp_path / "keep")]) == 2
    assert "not a previous report" in capsys.readouterr().err
    assert (tmp_path / "keep" / "data.txt").read_text() == "mine"
    assert main(["report", str(sweep), "--target", "1.5"]) == 2
    assert "--target" in capsys.readouterr().err


def _copy_sweep(sweep: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(sweep, dst, ignore=shutil.ignore_patterns("report"))
    return dst


@pytest.mark.parametrize(
    ("mutate", "file", "words"),
    [
        (
            lambda d: (d / "sweep.csv").write_text(
                "run_id,case,seed,status,run_dir\nx,,0,failed,\ny,,1,pending,\n"
            ),
            "sweep.csv",
            "no run with status done (1 failed, 1 pending)",
        ),
        (
            lambda d: (d / "sweep.csv").write_text("run_id,case,seed\nx,,0\n"),
            "sweep.csv",
            "missing ['status', 'run_dir']",
        ),
        (
            lambda d: (d / "sweep.csv").write_text(
                "run_id,case,seed,status,run_dir\nx,,0,finished,runs/c0-s0\n"
            ),
            "sweep.csv",
            "line 2: column status",
        ),
        (
            lambda d: (d / "runs" / "c0-s1" / "rounds.csv").write_text(
                "round,sim_time_s,test_accuracy\n0,soon,0.5\n"
            ),
            "runs/c0-s1/rounds.csv",
            "line 2: column sim_time_s: expected a number, got 'soon'",
        ),
        (
            lambda d: (d / "runs" / "c1-s0" / "summary.json").write_text("{not json"),
            "runs/c1-s0/summary.json",
            "cannot read JSON",
        ),
        (
            lambda d: (d / "runs" / "c1-s1" / "events.csv").unlink(),
            "runs/c1-s1/events.csv",
            "file not found",
        ),
    ],
    ids=["no-done-runs", "missing-columns", "bad-status", "bad-number", "bad-json", "no-events"],
)
def test_bad_input_names_the_file(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, file, words
) -> None:
    d = _copy_sweep(sweep, tmp_path / "bad")
    mutate(d)
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert f"{d / file}: " in err and words in err and "Traceback" not in err
    assert not (d / "report").exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".report")]


def test_cli_subprocess_no_traceback(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "fedsl_sim", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.startswith(f"error: {tmp_path}: ") and "Traceback" not in bad.stderr
    assert not (tmp_path / "report").exists()


def test_no_decisions_figure_for_a_static_asynchronous_run(tmp_path: Path) -> None:
    # devices of different clocks dispatched in a different mix each round: the per-round
    # means move, but no device's values do
    import fedsl_sim

    sc = make_scenario(
        devices__count=4,
        devices__placement__positions_m=[[100, 0], [0, 100], [-100, 0], [0, -100]],
        devices__compute__cpu_hz=[1e9, 1e9, 1e8, 1e8],
        stop__max_rounds=5,
        aggregation__asynchronous={"buffer_size": 2, "max_round_s": 100.0},
    )
    run = fedsl_sim.run(sc, out_dir=tmp_path / "run", plots=False).out_dir
    out, report = write_report(run, tmp_path / "report")
    (only,) = report.runs
    assert only.decisions is not None and only.decisions_varied == set()
    assert not (out / "decisions.png").exists()
    # decisions.csv may hold dispatches after the last average: not a round of the report
    assert only.decisions["round"].max() <= 4
