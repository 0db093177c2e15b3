"""Cases from a hostile-input review of the reliability work, each kept fixed here."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import yaml
from datafixtures import py2_pickle
from simtools import TINY, make_scenario

from fedsl_sim import engine
from fedsl_sim.cli import main
from fedsl_sim.learning.datafiles import DataFilesError, load_cifar_python_batch
from fedsl_sim.rundir import claim_path
from fedsl_sim.scenario import ScenarioError


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump({**TINY, "stop": {"max_rounds": 1}}))
    return f


@pytest.fixture
def no_simulation(monkeypatch):
    monkeypatch.setattr(
        engine.Simulation, "run_rounds", lambda *a, **k: pytest.fail("simulated first")
    )


def test_an_out_holding_the_users_own_scenario_is_not_emptied(tmp_path, capsys, no_simulation):
    out = tmp_path / "exp"
    out.mkdir()
    mine = "# my notes\n" + yaml.safe_dump({**TINY, "stop": {"max_rounds": 1}})
    (out / "scenario.yaml").write_text(mine)
    assert main(["run", str(out / "scenario.yaml"), "--out", str(out), "--quiet"]) == 2
    assert "exists and is not an empty directory" in capsys.readouterr().err
    assert (out / "scenario.yaml").read_text() == mine
    assert main(["run", "--resume", str(out), "--quiet"]) == 2  # no checkpoint, no restart
    assert (out / "scenario.yaml").read_text() == mine


def test_an_unreadable_claim_is_taken_over(tmp_path, tiny):
    out = tmp_path / "out"
    claim_path(out).write_text('{"host": "')  # its writer died while writing it
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--no-plots"]) == 0
    assert not claim_path(out).exists()


def test_a_claim_of_another_machine_names_the_file_to_delete(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    claim_path(out).write_text(json.dumps({"host": "elsewhere", "pid": 4242}))
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert f"delete {claim_path(out)}" in err and not out.exists()


def test_huge_integers_and_deep_values_are_input_errors(tmp_path, tiny, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(TINY) + "extra: " + "9" * 5000 + "\n")
    assert main(["validate", str(big)]) == 2
    assert main(["validate", str(tiny)]) == 0
    deep = "[" * 900 + "]" * 900
    assert main(["run", str(tiny), "--set", f"learning.batch_size={deep}", "--quiet"]) == 2
    assert main(["run", str(tiny), "--set", "seed=" + "9" * 5000, "--quiet"]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("settings", ['{"checkpoint_every": Infinity, "source": "x"}', "[" * 5000])
def test_a_bad_settings_file_is_refused_naming_it(tmp_path, capsys, settings):
    out = tmp_path / "dead"
    (out / "checkpoint").mkdir(parents=True)
    (out / "scenario.yaml").write_text(make_scenario(stop__max_rounds=1).to_yaml())
    (out / "checkpoint" / "settings.json").write_text(settings)
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "settings.json" in err and "Traceback" not in err


def test_a_cifar_batch_cannot_allocate_more_than_a_batch():
    class Huge:
        def __reduce__(self):
            return (np.ndarray, ((20_000, 3072), "u1"))

    blob = py2_pickle({b"data": Huge(), b"labels": [0] * 20_000})
    with pytest.raises(DataFilesError, match="expected at most 10000 images in a batch"):
        load_cifar_python_batch(__import__("io").BytesIO(blob), "data_batch_1")


def test_a_sweep_directory_in_use_is_refused(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**TINY, "stop": {"max_rounds": 1}}))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"base": "base.yaml", "seeds": [1, 2]}))
    out = tmp_path / "out"
    out.mkdir()
    claim_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    assert main(["sweep", str(sweep), "--out", str(out), "--quiet"]) == 2
    assert "is being written by another fedsl-sim run" in capsys.readouterr().err
    assert not (out / "runs").exists()


def test_compare_refuses_an_out_with_a_scenario_in_it_before_running(
    tmp_path, capsys, no_simulation
):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "scenario.yaml").write_text(yaml.safe_dump(TINY))
    code = main(["compare", str(out / "scenario.yaml"), "--schemes", "fedsl", "--out", str(out)])
    assert code == 2 and "neither empty nor a sweep directory" in capsys.readouterr().err


def test_a_symbolic_link_as_out_is_refused_at_once(tmp_path, tiny, capsys, no_simulation):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert main(["run", str(tiny), "--out", str(tmp_path / "link"), "--quiet"]) == 2
    assert "is a symbolic link" in capsys.readouterr().err


def test_sweep_messages_quote_bounded_values(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"base": "base.yaml", "grid": {"name": ["x" * 300_000]}}))
    assert main(["validate", str(sweep)]) == 2
    assert len(capsys.readouterr().err) < 3000


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        (
            {"devices__placement": {"kind": "fixed", "positions_m": [[True, False]]}},
            "devices.placement.positions_m",
            "a boolean",
        ),
        ({"learning__split_layer": [True]}, "learning.split_layer", "a boolean"),
        ({"name": True}, "name", "string"),
        ({"learning__split_layer": None}, "learning.split_layer", "integer"),
    ],
)
def test_booleans_in_lists_and_messages_for_other_types(overrides, path, words):
    with pytest.raises(ScenarioError) as exc:
        make_scenario(**overrides)
    assert exc.value.path == path and words in exc.value.message
