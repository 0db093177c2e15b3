"""Run directories are claimed before the simulation: a taken or unwritable --out is refused
at once (exit 2), two runs never share a directory, and what a run killed before its first
checkpoint leaves can be resumed (from round 0) or reused."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from simtools import make_scenario

from fedsl_sim import engine
from fedsl_sim.cli import main
from fedsl_sim.rundir import claim_path, claim_run_dir
from fedsl_sim.scenario import ScenarioError


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a simulation starts."""

    def refuse(*a, **k):
        raise AssertionError("the simulation ran before the output directory was checked")

    monkeypatch.setattr(engine.Simulation, "run_rounds", refuse)


def test_an_out_held_by_a_live_run_is_refused_at_once(tmp_path, no_simulation):
    out = tmp_path / "out"
    claim_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    with pytest.raises(ScenarioError, match="is being written by another fedsl-sim run"):
        engine.run(make_scenario(), out_dir=out, plots=False)
    assert not out.exists()


def test_a_claim_left_by_a_killed_run_is_taken_over(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    out = tmp_path / "out"
    claim_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": int(proc.stdout)}))
    res = engine.run(make_scenario(), out_dir=out, plots=False)
    assert (res.out_dir / "summary.json").exists()
    assert not claim_path(out).exists()  # released at the end


def test_two_runs_with_the_same_default_name_get_two_directories(tmp_path):
    taken = tmp_path / "results" / "tiny" / "20260101-000000-seed1"
    names = iter([taken, taken.with_name(taken.name + "-2")])
    taken.mkdir(parents=True)  # another run created it between the name and the claim
    claim = claim_run_dir(taken, explicit=False, next_name=lambda: next(names))
    assert claim.run_dir.name.endswith("-2") and claim.created
    claim.release()


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_unwritable_out_is_refused_before_simulating(tmp_path, capsys, where):
    if where == "proc":
        out = Path("/proc/fedsl-sim-out")
    else:
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "run"
    scenario = tmp_path / "s.yaml"
    import yaml
    from simtools import TINY

    scenario.write_text(yaml.safe_dump(TINY))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine.Simulation, "run_rounds", lambda *a, **k: pytest.fail("simulated"))
        assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "error: --out: cannot" in err and "Traceback" not in err


def dead_run_dir(tmp_path: Path) -> Path:
    """What SIGKILL before the first checkpoint leaves (scenario, settings, no checkpoint)."""
    out = tmp_path / "dead"
    (out / "checkpoint").mkdir(parents=True)
    (out / "scenario.yaml").write_text(make_scenario(stop__max_rounds=2).to_yaml())
    (out / "checkpoint" / "settings.json").write_text(
        json.dumps({"checkpoint_every": 1, "source": "s.yaml"})
    )
    return out


def test_a_run_killed_before_its_first_checkpoint_resumes_from_round_0(tmp_path, capsys):
    out = dead_run_dir(tmp_path)
    assert main(["run", "--resume", str(out), "--quiet", "--no-plots"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rounds_completed"] == 2
    assert not (out / "checkpoint").exists()
    ref = engine.run(make_scenario(stop__max_rounds=2), out_dir=tmp_path / "ref", plots=False)
    for name in ("rounds.csv", "events.csv", "devices.csv"):
        assert (out / name).read_bytes() == (ref.out_dir / name).read_bytes()


def test_a_run_killed_before_its_first_checkpoint_can_be_rerun_in_place(tmp_path):
    out = dead_run_dir(tmp_path)
    res = engine.run(
        make_scenario(stop__max_rounds=1), out_dir=out, plots=False, checkpoint_every=1
    )
    assert res.out_dir == out and (out / "summary.json").exists()


def test_a_resume_of_a_run_in_progress_is_refused(tmp_path):
    out = dead_run_dir(tmp_path)
    claim_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    with pytest.raises(ScenarioError, match="being written by another fedsl-sim run"):
        engine.resume(out)


def test_diverging_training_ends_the_run_cleanly(tmp_path, capsys):
    import yaml
    from simtools import TINY

    data = {**TINY, "stop": {"max_rounds": 6}}
    data["learning"] = {**TINY["learning"], "optimizer": {"kind": "sgd", "lr": 1.0e30}}
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "warning: training diverged" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged"
    rows = (out / "rounds.csv").read_text().splitlines()
    assert len(rows) - 1 == summary["rounds_completed"] < 6


def test_summary_json_is_strict_json(tmp_path):
    from fedsl_sim.report.writers import summary_json

    text = summary_json({"a": float("inf"), "b": {"c": float("nan"), "d": [1.0, -float("inf")]}})
    assert json.loads(text) == {"a": None, "b": {"c": None, "d": [1.0, None]}}


def test_two_checkpointed_runs_started_in_the_same_second_get_two_directories(
    tmp_path, monkeypatch, capsys
):
    import time as time_mod

    import yaml
    from simtools import TINY

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time_mod, "strftime", lambda fmt: "20260101-000000")
    taken = tmp_path / "results" / "tiny" / "20260101-000000-seed1"
    taken.mkdir(parents=True)  # the other run's directory, still running
    claim_path(taken).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump({**TINY, "stop": {"max_rounds": 1}}))
    assert main(["run", str(scenario), "--checkpoint-every", "1", "--quiet", "--no-plots"]) == 0
    assert (taken.with_name(taken.name + "-2") / "summary.json").is_file()
    assert list(taken.iterdir()) == []  # the other run's directory was left alone
