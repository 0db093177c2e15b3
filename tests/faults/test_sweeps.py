"""Sweep files that would silently change the experiment or exhaust the machine, and sweep
directories damaged between two invocations."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import yaml
from simtools import TINY

from fedsl_sim.scenario import ScenarioError
from fedsl_sim.sweep import load_sweep, run_sweep


def write(tmp_path: Path, sweep: dict, base: dict | None = None) -> Path:
    b = copy.deepcopy(TINY if base is None else base)
    b["stop"] = {"max_rounds": 1}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(b))
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump({"base": "base.yaml", **sweep}))
    return f


def test_a_huge_grid_is_counted_not_expanded(tmp_path):
    grid = {
        "learning.optimizer.lr": [0.01 * (i + 1) for i in range(1000)],
        "learning.batch_size": list(range(1, 1001)),
        "seed_free.x": list(range(1000)),
    }
    f = write(tmp_path, {"grid": grid})
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"expands to 1,000,000,000 runs, more than"):
        load_sweep(f)
    assert time.perf_counter() - t0 < 5


def test_overlapping_overrides_are_refused(tmp_path):
    f = write(
        tmp_path,
        {
            "set": {"learning.optimizer.lr": 0.001},
            "grid": {"learning.optimizer": [{"kind": "sgd", "lr": 0.1}, {"kind": "adam"}]},
        },
    )
    with pytest.raises(
        ScenarioError, match="'learning.optimizer.lr' is inside 'learning.optimizer'"
    ):
        load_sweep(f)


def test_a_mapping_in_set_is_not_shared_between_runs(tmp_path):
    f = write(
        tmp_path,
        {
            "set": {"learning.optimizer": {"kind": "sgd", "lr": 0.01}},
            "grid": {"learning.batch_size": [8, 16]},
        },
    )
    runs = load_sweep(f)
    runs[0].overrides["learning.optimizer"]["lr"] = 99.0
    assert runs[1].overrides["learning.optimizer"]["lr"] == 0.01
    assert all(r.scenario.learning.optimizer.lr == 0.01 for r in runs)


def test_grid_values_that_are_the_same_scenario_are_refused(tmp_path):
    f = write(tmp_path, {"grid": {"compression.dropout.rate": [0, 0.0]}})
    with pytest.raises(ScenarioError, match="are the same scenario"):
        load_sweep(f)


@pytest.mark.parametrize("damage", ["corrupt-summary", "file-instead-of-dir"])
def test_a_damaged_run_is_done_again(tmp_path, damage):
    f = write(tmp_path, {"grid": {"learning.batch_size": [8, 16]}})
    out, rows = run_sweep(f, out_dir=tmp_path / "out", workers=1)
    assert [r["status"] for r in rows] == ["done", "done"]
    victim = out / "runs" / rows[0]["run_id"]
    if damage == "corrupt-summary":
        (victim / "summary.json").write_text("{not json")
    else:
        import shutil

        shutil.rmtree(victim)
        victim.write_text("oops")
    with pytest.warns(UserWarning, match="the run is done again"):
        _, again = run_sweep(f, out_dir=out, workers=1)
    assert [r["status"] for r in again] == ["done", "done"]
    assert (victim / "summary.json").is_file()
