"""Checkpoint trust: a checkpoint is a pickle, so only checkpoints signed with the running
user's key are loaded. A tampered payload (with its SHA-256 recomputed) or a checkpoint from
another key is refused before anything is unpickled; --trust-checkpoint overrides the check."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import pytest
from simtools import make_scenario

from fedsl_sim import engine
from fedsl_sim.checkpoint import MAGIC, checkpoint_key, checkpoint_path, config_dir
from fedsl_sim.cli import main


class Killed(BaseException):
    pass


@pytest.fixture
def interrupted(tmp_path: Path) -> Path:
    """A run stopped dead right after its first checkpoint."""
    sc = make_scenario(stop__max_rounds=3)
    real = engine.save_checkpoint

    def save_then_die(path, sim, **kw):
        real(path, sim, **kw)
        raise Killed

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "save_checkpoint", save_then_die)
        with pytest.raises(Killed):
            engine.run(sc, tmp_path / "run", plots=False, checkpoint_every=1)
    return tmp_path / "run"


class Pwn:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_tampered_payload_with_a_recomputed_checksum_is_refused(interrupted, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    f = checkpoint_path(interrupted)
    blob = f.read_bytes()
    head = json.loads(blob[len(MAGIC) :].split(b"\n", 1)[0])
    payload = pickle.dumps(Pwn(marker))
    head["payload_bytes"] = len(payload)
    head["payload_sha256"] = hashlib.sha256(payload).hexdigest()  # what an attacker can do
    f.write_bytes(MAGIC + json.dumps(head).encode() + b"\n" + payload)
    assert main(["run", "--resume", str(interrupted), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert f"error: {f}: refused: its signature does not match your checkpoint key" in err
    assert "--trust-checkpoint" in err and "Traceback" not in err
    assert not marker.exists()


def test_a_checkpoint_from_another_key_needs_explicit_trust(interrupted, tmp_path, capsys):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FEDSL_SIM_CONFIG_DIR", str(tmp_path / "someone-else"))
        assert main(["run", "--resume", str(interrupted), "--quiet", "--no-plots"]) == 2
        assert "refused" in capsys.readouterr().err
        assert not (interrupted / "summary.json").exists()
        code = main(
            ["run", "--resume", str(interrupted), "--quiet", "--no-plots", "--trust-checkpoint"]
        )
        assert code == 0
    assert json.loads((interrupted / "summary.json").read_text())["rounds_completed"] == 3


def test_the_key_is_private_and_stable():
    key, path = checkpoint_key()
    assert path.parent == config_dir()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert checkpoint_key()[0] == key and len(key) == 32


def test_trust_is_only_for_resume(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("name: x\n")
    assert main(["run", str(tmp_path / "s.yaml"), "--trust-checkpoint", "--quiet"]) == 2
    assert "--trust-checkpoint: expected only with --resume" in capsys.readouterr().err
