"""A full disk: one clear message (exit 1), no traceback, no partial outputs, and a sweep's
sweep.csv stays a complete, readable index."""

from __future__ import annotations

import copy
import csv
import errno

import yaml
from simtools import TINY

from fedsl_sim.cli import main
from fedsl_sim.report import writers


def enospc(path):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def scenario_file(tmp_path):
    data = copy.deepcopy(TINY)
    data["stop"] = {"max_rounds": 1}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


def test_a_full_disk_while_writing_a_run(tmp_path, capsys, monkeypatch):
    f = scenario_file(tmp_path)
    monkeypatch.setattr(writers, "write_csv", lambda path, *a, **k: enospc(path))
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "error: file system error: No space left on device" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # nothing partial


def test_a_full_disk_while_checkpointing(tmp_path, capsys, monkeypatch):
    from fedsl_sim import engine

    f = scenario_file(tmp_path)
    monkeypatch.setattr(engine, "save_checkpoint", lambda path, *a, **k: enospc(path))
    data = yaml.safe_load(f.read_text())
    data["stop"] = {"max_rounds": 3}
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    code = main(["run", str(f), "--out", str(out), "--quiet", "--checkpoint-every", "1"])
    assert code == 1
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists()


def test_a_full_disk_in_a_sweep_keeps_sweep_csv_complete(tmp_path, capsys, monkeypatch):
    base = copy.deepcopy(TINY)
    base["stop"] = {"max_rounds": 1}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump({"base": "base.yaml", "grid": {"learning.batch_size": [8, 16]}})
    )
    real, calls = writers.write_csv, {"n": 0}

    def fail_later(path, *a, **k):
        calls["n"] += 1
        if path.name.startswith(".sweep.csv") and calls["n"] > 2:
            enospc(path)
        return real(path, *a, **k)

    monkeypatch.setattr(writers, "write_csv", fail_later)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    with (out / "sweep.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(r["status"] in ("pending", "done") for r in rows)
    assert not list(out.glob(".sweep.csv.tmp-*"))
    monkeypatch.setattr(writers, "write_csv", real)
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"]) == 0


def test_a_full_disk_while_writing_a_report(tmp_path, capsys, monkeypatch):
    f = scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-plots"]) == 0
    capsys.readouterr()
    from fedsl_sim.report import study

    monkeypatch.setattr(study, "write_csv", lambda path, *a, **k: enospc(path))
    assert main(["report", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert not (out / "report").exists()
    assert not list(out.glob(".report.partial-*"))
