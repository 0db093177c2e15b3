"""Faults at process boundaries: every exception fedsl-sim raises survives pickling, and one
run failing inside a sweep's worker process is recorded with its real cause while the other
runs complete (a re-run retries only the failed one)."""

from __future__ import annotations

import copy
import csv
import pickle
from pathlib import Path

import pytest
import yaml
from simtools import TINY

from fedsl_sim.checkpoint import CheckpointError, CheckpointStateError
from fedsl_sim.learning.datafiles import DataFilesError, DownloadError
from fedsl_sim.scenario import ScenarioError, _FieldError
from fedsl_sim.sim.medium import SimulationError
from fedsl_sim.sweep import RunError, portable_exception, run_sweep

ERRORS = [
    ScenarioError("a.yaml", "expected x, got y", path="devices.count"),
    ScenarioError("a.yaml", "no field"),
    CheckpointError("/tmp/run/checkpoint/latest.ckpt", "corrupt checkpoint"),
    DataFilesError("/data/cifar", "missing data_batch_1.bin"),
    DataFilesError("/data/cifar", "bad", path="learning.dataset.format"),
    _FieldError(("a", "b"), "expected 1"),
    SimulationError("devices [3] are in permanent outage"),
    CheckpointStateError("a process is alive"),
    DownloadError("every mirror failed"),
    RunError("ValueError: boom"),
]


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_survives_pickling(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert back.__dict__ == exc.__dict__


def test_an_unpicklable_exception_becomes_a_run_error_with_its_message():
    class Odd(Exception):
        def __init__(self, a, b):  # pickling calls Odd(msg): fails
            super().__init__(f"{a}/{b}")

    safe = portable_exception(Odd(1, 2))
    assert isinstance(safe, RunError) and str(safe) == "Odd: 1/2"
    ok = ScenarioError("f", "m")
    assert portable_exception(ok) is ok


def test_one_failing_run_does_not_lose_the_sweep(tmp_path: Path):
    base = copy.deepcopy(TINY)
    base["stop"] = {"max_rounds": 1}
    base["devices"] = {
        "count": 2,
        "placement": {"kind": "uniform_disc", "radius_m": 150.0},
        "mobility": {"kind": "static"},
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    sweep = tmp_path / "sweep.yaml"
    # 2000 devices > 1438 digits training samples: an input error inside the worker
    sweep.write_text(yaml.safe_dump({"base": "base.yaml", "grid": {"devices.count": [2000, 2, 3]}}))
    out, rows = run_sweep(sweep, out_dir=tmp_path / "out", workers=2)
    status = {r["case"]: r["status"] for r in rows}
    assert status == {
        "devices.count=2000": "failed",
        "devices.count=2": "done",
        "devices.count=3": "done",
    }
    failed = next(r for r in rows if r["status"] == "failed")
    text = (out / "runs" / f"{failed['run_id']}.error.txt").read_text()
    assert "n_devices must be an int in [1, 1438]; got 2000" in text
    assert "BrokenProcessPool" not in text
    with (out / "sweep.csv").open() as fh:
        assert [r["status"] for r in csv.DictReader(fh)].count("done") == 2
    # a second run retries only the failed one (and it fails again, for the same reason)
    done_dirs = {
        r["run_id"]: (out / "runs" / r["run_id"] / "summary.json").stat().st_mtime_ns
        for r in rows
        if r["status"] == "done"
    }
    _, again = run_sweep(sweep, out_dir=out, workers=2)
    assert [r["status"] for r in again] == [r["status"] for r in rows]
    for run_id, mtime in done_dirs.items():
        assert (out / "runs" / run_id / "summary.json").stat().st_mtime_ns == mtime
