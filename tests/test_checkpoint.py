"""Checkpoint and resume: a run interrupted after a checkpoint and resumed writes the same
files, byte for byte, as the run left alone."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from simtools import make_scenario

from fedsl_sim import engine
from fedsl_sim.checkpoint import (
    FORMAT_VERSION,
    MAGIC,
    CheckpointError,
    CheckpointStateError,
    checkpoint_path,
    read_header,
    save_checkpoint,
)
from fedsl_sim.cli import main
from fedsl_sim.engine import Simulation, resume, run
from fedsl_sim.scenario import load_scenario

FILES = ("rounds.csv", "events.csv", "devices.csv", "decisions.csv", "scenario.yaml")

# three devices, a few rounds: cheap enough to run each case three times
FEW = dict(
    devices__count=3,
    devices__placement={"kind": "uniform_disc", "radius_m": 200, "min_distance_m": 35},
    learning__eval_every_rounds=2,
    learning__aggregation_interval=2,
    learning__optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
    learning__batch_size=16,
)
BLOCK_HARQ = {
    "fading": {"kind": "rayleigh", "coherence_s": 0.01},
    "outage": {"snr_threshold_db": 5, "policy": "harq", "max_retransmissions": 1},
}
LIGHTWEIGHT_JAKES = dict(
    FEW,
    scheme="lightweight_fedsl",
    stop__max_rounds=6,
    compression={
        "pruning": {
            "rate": 0.3,
            "schedule": {"kind": "ramp", "end_round": 4, "update_every_rounds": 2},
        },
        "quantization": {"bits": 8, "targets": ["split_gradient", "activations", "model_upload"]},
        "dropout": {"rate": 0.25},
    },
    devices__mobility={"kind": "random_waypoint", "speed_mps": [10, 20]},
    network={
        "pathloss": {"kind": "uma", "clamp": True},
        "fading": {"kind": "rayleigh", "time": "continuous"},
    },
)
# (scenario, checkpoint every, interrupted after round): interruptions between aggregations
CASES = {
    "lightweight-jakes-mobility": (LIGHTWEIGHT_JAKES, 1, 3),
    "fl": (dict(FEW, scheme="fl", stop__max_rounds=4, network=BLOCK_HARQ), 1, 3),
    "sfl_v1": (dict(FEW, scheme="sfl_v1", stop__max_rounds=4, network=BLOCK_HARQ), 2, 2),
    "sl": (dict(FEW, scheme="sl", stop__max_rounds=4, network=BLOCK_HARQ), 1, 3),
    "bernoulli-random-deadline": (
        dict(
            FEW,
            scheme="sfl_v2",
            stop__max_rounds=6,
            network={"fading": {"kind": "rayleigh", "coherence_s": 0.01}},
            rounds={
                "deadline_s": 0.06,
                "participation": {"kind": "random", "fraction": 0.67},
                "availability": {"kind": "bernoulli", "p_unavailable": 0.3},
            },
        ),
        2,
        4,
    ),
    # a control policy moving split layers and compressing per device
    "adaptive-split": (
        dict(
            LIGHTWEIGHT_JAKES,
            control={"kind": "adaptive_split", "split_layers": [1, 3]},
        ),
        1,
        3,
    ),
    "deadline-aware": (
        dict(
            LIGHTWEIGHT_JAKES,
            control={
                "kind": "deadline_aware",
                "deadline_s": 0.5,
                "levels": [{"quant_bits": 16}, {"quant_bits": 4, "dropout_rate": 0.5}],
            },
        ),
        1,
        3,
    ),
}


class Killed(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way handles it."""


def interrupt(sc, run_dir: Path, every: int, after: int) -> None:
    """Run ``sc`` with a checkpoint every ``every`` rounds and stop it dead right after the
    checkpoint of round ``after`` is written."""
    real = engine.save_checkpoint

    def save_then_die(path, sim, **kw):
        size = real(path, sim, **kw)
        if len(sim.world.recorder.rounds) == after:
            raise Killed
        return size

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "save_checkpoint", save_then_die)
        with pytest.raises(Killed):
            run(sc, run_dir, plots=False, checkpoint_every=every)
    # an interrupted run directory holds only what is needed to resume, never summary.json
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint", "scenario.yaml"]
    saved = sorted(p.name for p in (run_dir / "checkpoint").iterdir())
    assert saved == ["latest.ckpt", "settings.json"]
    assert read_header(checkpoint_path(run_dir))["rounds_completed"] == after


def assert_same_run(ref: Path, other: Path) -> None:
    for name in FILES:
        assert (other / name).read_bytes() == (ref / name).read_bytes(), name
    a, b = (json.loads((d / "summary.json").read_text()) for d in (ref, other))
    a.pop("wall_time_s"), b.pop("wall_time_s")
    assert a == b
    assert not (other / "checkpoint").exists()  # deleted once the run is complete
    assert not list(other.glob(".*"))  # no staging left behind


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (no checkpoints) of a case, made once."""
    done: dict[str, Path] = {}

    def get(case: str) -> Path:
        if case not in done:
            done[case] = tmp_path_factory.mktemp("ref") / case
            run(make_scenario(**CASES[case][0]), done[case], plots=False)
        return done[case]

    return get


@pytest.mark.parametrize("case", list(CASES))
def test_interrupted_and_resumed_run_is_byte_identical(tmp_path, reference, case):
    overrides, every, after = CASES[case]
    sc = make_scenario(**overrides)
    with (reference(case) / "rounds.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert after < len(rows) == sc.stop.max_rounds
    if case.startswith("bernoulli"):  # the case exercises what it names
        assert min(int(r["participants"]) for r in rows) < 3
        assert any(int(r["dropped"]) for r in rows)
    interrupt(sc, tmp_path / "run", every, after)
    res = resume(tmp_path / "run", plots=False)
    assert res.out_dir == tmp_path / "run"
    assert_same_run(reference(case), tmp_path / "run")


def test_device_failures_and_handovers_survive_a_resume(tmp_path):
    # trace availability (device 1 goes down during round 0, loses its work and misses the
    # average, then fetches it when back), two cells with handovers, CQI rates
    trace = tmp_path / "down.csv"
    trace.write_text("device,t_down_s,t_up_s\n1,0.01,0.04\n")
    overrides = {
        **FEW,
        "scheme": "fedsl",
        "stop__max_rounds": 5,
        # just inside cell 1, moving: they hand over to cell 0 in the first rounds
        "devices__placement": {
            "kind": "fixed",
            "positions_m": [[75.5, 0], [75.5, 20], [75.5, -20]],
        },
        "devices__mobility": {"kind": "random_waypoint", "speed_mps": [30, 40], "radius_m": 200},
    }
    sc = make_scenario(
        **overrides,
        network={
            "shadowing": {"std_db": 0},
            "fading": {"kind": "rayleigh", "coherence_s": 0.01},
            "rate": {"kind": "cqi"},
            "cells": [{"position_m": [0, 0]}, {"position_m": [150, 0]}],
            "handover": {"hysteresis_db": 0},
        },
        rounds={"availability": {"kind": "trace", "path": str(trace)}},
    )
    ref = run(sc, tmp_path / "ref", plots=False)
    events = ref.recorder.events
    assert any(e.kind == "handover" and e.t_end_s > ref.rounds[0].sim_time_s for e in events)
    assert ref.rounds[0].dropped  # device 1 went down in round 0
    fetch = [e for e in events if e.kind == "model_download" and e.device == 1]
    assert fetch[0].round > 1  # it fetched the average it missed when it came back
    interrupt(sc, tmp_path / "run", 1, 2)
    resume(tmp_path / "run", plots=False)
    assert_same_run(tmp_path / "ref", tmp_path / "run")


def test_resuming_one_checkpoint_twice_gives_the_same_run(tmp_path, reference):
    sc = make_scenario(**CASES["sfl_v1"][0])
    interrupt(sc, tmp_path / "first", 2, 2)
    shutil.copytree(tmp_path / "first", tmp_path / "second")
    resume(tmp_path / "first", plots=False)
    # another checkpoint interval on resume: saving more often changes nothing
    resume(tmp_path / "second", plots=False, checkpoint_every=1)
    assert_same_run(reference("sfl_v1"), tmp_path / "first")
    assert_same_run(reference("sfl_v1"), tmp_path / "second")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_process_resumes_in_a_new_one(tmp_path, reference):
    """The run is SIGKILLed (no cleanup of any kind) right after its second checkpoint; a new
    process resumes it through the CLI; the result equals this process's uninterrupted run."""
    path = tmp_path / "sc.yaml"
    path.write_text(make_scenario(**LIGHTWEIGHT_JAKES).to_yaml())
    out = tmp_path / "run"
    die = (
        "import os, signal, sys\n"
        "from fedsl_sim import cli, engine\n"
        "real = engine.save_checkpoint\n"
        "def save(p, sim, **kw):\n"
        "    real(p, sim, **kw)\n"
        "    if len(sim.world.recorder.rounds) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "engine.save_checkpoint = save\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    cmd = [sys.executable, "-c", die, "run", str(path), "--out", str(out)]
    proc = subprocess.run([*cmd, "--checkpoint-every", "1", "--quiet", "--no-plots"])
    assert proc.returncode == -9
    assert not (out / "summary.json").exists()
    assert read_header(checkpoint_path(out))["rounds_completed"] == 2
    args = ["run", "--resume", str(out), "--quiet", "--no-plots"]
    proc = subprocess.run([sys.executable, "-m", "fedsl_sim", *args], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert load_scenario(path) == make_scenario(**LIGHTWEIGHT_JAKES)
    assert_same_run(reference("lightweight-jakes-mobility"), out)


# ------------------------------------------------------------------------------ errors
SHORT = dict(stop__max_rounds=3, learning__eval_every_rounds=3)


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> Path:
    """A run of TINY stopped after the first of its three rounds (checkpoint every round)."""
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    interrupt(make_scenario(**SHORT), run_dir, 1, 1)
    return run_dir


def resume_cli(run_dir: Path, *extra: str) -> list[str]:
    return ["run", "--resume", str(run_dir), "--quiet", "--no-plots", *extra]


def test_the_checkpoint_records_the_scenario_and_its_format(interrupted_run):
    header = read_header(checkpoint_path(interrupted_run))
    assert header["format_version"] == FORMAT_VERSION
    assert header["scenario"] == make_scenario(**SHORT).model_dump(mode="json")
    assert header["checkpoint_every"] == 1 and header["rounds_completed"] == 1
    assert (interrupted_run / "scenario.yaml").read_text() == make_scenario(**SHORT).to_yaml()


def bad_copy(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    f = checkpoint_path(dst)
    f.write_bytes(edit(f.read_bytes()))
    return dst


def other_version(blob: bytes) -> bytes:
    head, rest = blob[len(MAGIC) :].split(b"\n", 1)
    header = json.loads(head)
    header["format_version"] = FORMAT_VERSION + 1
    return MAGIC + json.dumps(header).encode() + b"\n" + rest


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b[:-100], "corrupt checkpoint: the payload does not match its checksum"),
        (lambda b: b[:-50] + bytes(50), "corrupt checkpoint: the payload does not match"),
        (lambda b: b"PK\x03\x04" + b[4:], "not a fedsl-sim checkpoint"),
        (lambda b: MAGIC + b"{not json\n", "corrupt checkpoint: unreadable header"),
        (other_version, f"checkpoint format version {FORMAT_VERSION + 1}"),
    ],
    ids=["truncated", "altered", "not-a-checkpoint", "bad-header", "other-version"],
)
def test_a_bad_checkpoint_is_refused_naming_the_file(
    interrupted_run, tmp_path, capsys, edit, message
):
    run_dir = bad_copy(interrupted_run, tmp_path / "bad", edit)
    assert main(resume_cli(run_dir)) == 2
    err = capsys.readouterr().err
    assert f"error: {checkpoint_path(run_dir)}: " in err and message in err
    assert "Traceback" not in err
    assert not (run_dir / "summary.json").exists()


def test_missing_checkpoints_and_directories_are_refused(tmp_path, capsys):
    assert main(resume_cli(tmp_path / "nowhere")) == 2
    assert f"{tmp_path / 'nowhere'}: no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(resume_cli(tmp_path / "empty")) == 2
    err = capsys.readouterr().err
    assert f"{checkpoint_path(tmp_path / 'empty')}: no checkpoint" in err


def test_a_complete_run_is_not_resumed(interrupted_run, tmp_path, capsys):
    shutil.copytree(interrupted_run, tmp_path / "run")
    assert main(resume_cli(tmp_path / "run")) == 0
    assert (tmp_path / "run" / "summary.json").exists()
    assert not (tmp_path / "run" / "checkpoint").exists()
    before = (tmp_path / "run" / "rounds.csv").read_bytes()
    assert main(resume_cli(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run' / 'summary.json'}: the run is already complete" in err
    assert (tmp_path / "run" / "rounds.csv").read_bytes() == before
    with pytest.raises(CheckpointError):  # the same from the Python API
        resume(tmp_path / "run")


@pytest.mark.parametrize(
    "extra",
    [["--set", "seed=3"], ["--seed", "3"], ["--out", "elsewhere"], ["scenarios/quickstart.yaml"]],
    ids=["set", "seed", "out", "scenario"],
)
def test_resume_takes_everything_from_the_checkpoint(interrupted_run, capsys, extra):
    assert main(resume_cli(interrupted_run, *extra)) == 2
    err = capsys.readouterr().err
    assert "error: --resume: " in err and "cannot be given with --resume" in err
    assert (extra[0] if extra[0].startswith("--") else "SCENARIO") in err


def test_run_argument_errors(tmp_path, capsys):
    assert main(["run", "--quiet"]) == 2
    assert "expected a SCENARIO file or --resume RUN_DIR" in capsys.readouterr().err
    args = ["run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "r")]
    assert main([*args, "--checkpoint-every", "0"]) == 2
    assert "--checkpoint-every: expected an integer >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_interrupting_the_cli_says_how_to_resume(tmp_path, capsys):
    real = engine.save_checkpoint

    def save_then_interrupt(path, sim, **kw):
        real(path, sim, **kw)
        raise KeyboardInterrupt

    path = tmp_path / "sc.yaml"
    path.write_text(make_scenario(**SHORT).to_yaml())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "save_checkpoint", save_then_interrupt)
        code = main(["run", str(path), "--out", str(tmp_path / "r"), "--checkpoint-every", "2"])
    assert code == 130
    assert f"fedsl-sim run --resume {tmp_path / 'r'}" in capsys.readouterr().err
    assert checkpoint_path(tmp_path / "r").exists()


def test_a_failure_before_the_first_checkpoint_leaves_nothing(tmp_path):
    def fail(self, progress=False, on_round_end=None):
        raise Killed

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Simulation, "run_rounds", fail)
        with pytest.raises(Killed):
            run(make_scenario(**SHORT), tmp_path / "new", checkpoint_every=1)
        (tmp_path / "empty").mkdir()
        with pytest.raises(Killed):
            run(make_scenario(**SHORT), tmp_path / "empty", checkpoint_every=1)
    assert not (tmp_path / "new").exists()
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_live_process_between_rounds_cannot_be_saved(tmp_path):
    sim = Simulation.build(make_scenario())
    env = sim.world.env

    def background():
        yield env.timeout(1.0)

    env.process(background())
    env.run(until=0.5)
    with pytest.raises(CheckpointStateError, match="live callbacks"):
        save_checkpoint(
            tmp_path / "c.ckpt", sim, checkpoint_every=1, wall_time_s=0.0, source="test"
        )
    assert not list(tmp_path.iterdir())
