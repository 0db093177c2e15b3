"""Invalid scenarios: exit code 2, one clear message naming the file and the dotted field
path, no traceback, and no result directory left behind.

The cases run the command line in-process (``main(argv)``, stdout and stderr captured); a
few run it as the real ``python -m fedsl_sim`` process, to prove the entry point itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedsl_sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, cwd=...)``: ``main(args)`` in this process, in ``cwd``; returns its exit
    code and what it printed, like ``run_cli``."""
    from fedsl_sim.cli import main

    def call(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()  # what earlier calls printed
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return call


def with_change(path: str, value: object) -> dict:
    """The quickstart scenario with one dotted field replaced."""
    data = yaml.safe_load(yaml.safe_dump(QUICKSTART))
    node = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    return data


# (case id, scenario mapping, dotted path expected in the message, words expected)
BAD_FIELDS = [
    ("unknown-key", {**QUICKSTART, "colour": "blue"}, "colour", "unknown field"),
    (
        "unknown-nested-key",
        with_change("network.bandwdth_hz", 1e6),
        "network.bandwdth_hz",
        "unknown field",
    ),
    ("wrong-type", with_change("learning.batch_size", "thirty"), "learning.batch_size", "integer"),
    (
        "negative-bandwidth",
        with_change("network.bandwidth_hz", -20e6),
        "network.bandwidth_hz",
        "greater than or equal to 1000",
    ),
    (
        "pruning-rate-1",
        with_change("compression.pruning.rate", 1.0),
        "compression.pruning.rate",
        "less than 1",
    ),
    (
        "zero-bits",
        with_change("compression.quantization.bits", 0),
        "compression.quantization.bits",
        "greater than or equal to 1",
    ),
    (
        "split-beyond-model",
        with_change("learning.split_layer", 5),
        "learning.split_layer",
        "split_layer <= 4",
    ),
    (
        "zero-devices",
        with_change("devices.count", 0),
        "devices.count",
        "greater than or equal to 1",
    ),
    (
        "unknown-fading",
        with_change("network.fading", {"kind": "rayleig"}),
        "network.fading",
        "rayleig",
    ),
    (
        "nested-union-field",
        with_change("network.fading", {"kind": "rician", "k_db": "high"}),
        "network.fading.k_db",
        "number",
    ),
    (
        "infinite-value",
        with_change("server.flops_per_s", float("inf")),
        "server.flops_per_s",
        "finite",
    ),
    (
        "model-too-big-for-images",
        with_change("learning.model", {"kind": "vgg11"}),
        "learning.model.kind",
        "needs at least 32x32",
    ),
    (
        "mobility-disc-too-small",
        with_change("devices.mobility.radius_m", 100.0),
        "devices.mobility.radius_m",
        "radius >= 300",
    ),
    (
        "rician-k-out-of-range",
        with_change("network.fading", {"kind": "rician", "k_db": 1e6}),
        "network.fading.k_db",
        "less than or equal to 50",
    ),
    (
        "ramp-ends-before-start",
        with_change(
            "compression.pruning.schedule", {"kind": "ramp", "start_round": 10, "end_round": 5}
        ),
        "compression.pruning.schedule.end_round",
        "end_round > start_round",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "path", "words"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS]
)
def test_bad_field_exits_2_naming_file_and_path(cli, tmp_path, case, data, path, words):
    f = tmp_path / f"{case}.yaml"
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    proc = cli("run", str(f), "--out", str(out), "--quiet", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    msg = proc.stderr.strip()
    assert str(f) in msg
    assert f"{path}:" in msg
    assert words in msg
    assert not out.exists()
    assert not (tmp_path / "results").exists()


RAW_FILES = [
    ("yaml-syntax", b"name: x\nlearning: {batch_size: 3\n", "YAML syntax error at line"),
    ("empty", b"", "empty"),
    ("only-comments", b"# nothing here\n", "no YAML document"),
    ("binary", bytes(range(256)) * 4, "binary"),
    ("not-a-mapping", b"- 1\n- 2\n", "expected a mapping"),
]


@pytest.mark.parametrize(("case", "content", "words"), RAW_FILES, ids=[c[0] for c in RAW_FILES])
def test_unreadable_files_exit_2(cli, tmp_path, case, content, words):
    f = tmp_path / f"{case}.yaml"
    f.write_bytes(content)
    for cmd in (["run", str(f), "--quiet"], ["validate", str(f)]):
        proc = cli(*cmd, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert str(f) in proc.stderr and words in proc.stderr
    assert not (tmp_path / "results").exists()


def test_missing_file_exits_2(tmp_path):
    proc = run_cli("run", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr and "file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_override_names_the_path(cli, tmp_path):
    proc = cli(
        "run",
        str(ROOT / "scenarios" / "quickstart.yaml"),
        "--set",
        "learning.split_layer=9",
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "learning.split_layer:" in proc.stderr and "got 9" in proc.stderr
    proc = cli(
        "run",
        str(ROOT / "scenarios" / "quickstart.yaml"),
        "--set",
        "seed.x=1",
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "seed" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli(
        "run", str(ROOT / "scenarios" / "quickstart.yaml"), "--set", "noequals", cwd=tmp_path
    )
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr


def test_refuses_non_empty_out_dir(cli, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = cli(
        "run",
        str(ROOT / "scenarios" / "quickstart.yaml"),
        "--out",
        str(out),
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "not an empty directory" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_validate_reports_every_file(cli, tmp_path):
    good = ROOT / "scenarios" / "quickstart.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_change("devices.count", 0)))
    proc = cli("validate", str(good), str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"ok: {good}" in proc.stdout
    assert f"{bad}: devices.count:" in proc.stderr


def test_the_real_process_exits_2_without_a_traceback(tmp_path):
    """The entry point as users run it: a bad field and an unreadable file."""
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(with_change("learning.batch_size", "thirty")))
    for args in (["run", str(f), "--quiet"], ["validate", str(f)]):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"{f}: learning.batch_size:" in proc.stderr
    assert not (tmp_path / "results").exists()
