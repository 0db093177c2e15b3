"""The torch thread count is a run setting (``execution.threads``, ``--threads``): fixed by
default, so the outputs do not depend on the machine or the caller's own setting; used for
the whole run, recorded in the outputs, the caller's count restored."""

from __future__ import annotations

import json

import pytest
import torch
from simtools import make_scenario

from fedsl_sim import engine
from fedsl_sim.cli import main
from fedsl_sim.engine import run

FILES = ("rounds.csv", "events.csv", "devices.csv")
SMALL = dict(
    devices__count=2,
    devices__placement={"kind": "uniform_disc", "radius_m": 200, "min_distance_m": 35},
    stop__max_rounds=2,
    learning__batch_size=8,
)


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_default_outputs_do_not_depend_on_the_callers_thread_count(tmp_path, caller_threads):
    sc = make_scenario(**SMALL)
    assert sc.execution.threads == 1
    torch.set_num_threads(1)
    a = run(sc, tmp_path / "a", plots=False)
    torch.set_num_threads(3)
    b = run(sc, tmp_path / "b", plots=False)
    assert torch.get_num_threads() == 3  # the caller's count is restored
    for name in FILES:
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    assert a.summary["threads"] == b.summary["threads"] == 1


def test_a_run_uses_its_thread_count_throughout_and_records_it(
    tmp_path, caller_threads, monkeypatch
):
    seen = []
    real = engine.Simulation.run_rounds

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(engine.Simulation, "run_rounds", spy)
    torch.set_num_threads(1)
    sc = make_scenario(**SMALL, execution={"threads": 2})
    res = run(sc, tmp_path / "r", plots=False, checkpoint_every=1)
    assert seen == [2] and torch.get_num_threads() == 1
    assert json.loads((res.out_dir / "summary.json").read_text())["threads"] == 2
    assert "threads: 2" in (res.out_dir / "scenario.yaml").read_text()


def test_the_command_line_sets_and_refuses_threads(tmp_path, capsys, caller_threads):
    sc = make_scenario(**SMALL)
    path = tmp_path / "s.yaml"
    path.write_text(sc.to_yaml())
    out = tmp_path / "run"
    assert (
        main(["run", str(path), "--threads", "2", "--quiet", "--no-plots", "--out", str(out)]) == 0
    )
    assert json.loads((out / "summary.json").read_text())["threads"] == 2
    assert main(["run", str(path), "--threads", "0", "--quiet", "--out", str(tmp_path / "x")]) == 2
    assert "execution.threads" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["run", "--resume", str(out), "--threads", "2"]) == 2
    assert "--threads cannot be given with --resume" in capsys.readouterr().err
