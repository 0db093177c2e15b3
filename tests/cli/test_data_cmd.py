"""``fedsl-sim data``: checking a folder, downloading (file:// mirrors) with checksum
verification, and ``fedsl-sim run`` on missing or corrupt data (exit 2, no traceback; the
CLI is called in process to keep the tests fast)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from datafixtures import (
    cifar_arrays,
    make_tar_gz,
    mnist_arrays,
    write_cifar_binary,
    write_cifar_python,
    write_idx_set,
)

from fedsl_sim.cli import main
from fedsl_sim.learning import datafiles
from fedsl_sim.learning.datafiles import Remote

CIFAR = cifar_arrays()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_check_reports_counts_per_split_and_the_scenario_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)
    assert main(["data", "cifar10", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"CIFAR-10 (binary format) in {tmp_path / 'cifar-10-batches-bin'}" in out
    assert "train: 100 images; per class [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]" in out
    assert "test: 20 images; per class [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]" in out
    assert f"dataset: {{kind: cifar10, root: {tmp_path.resolve()}}}" in out
    write_idx_set(tmp_path / "fm", mnist_arrays(), gz=True)
    assert main(["data", "fashion_mnist", str(tmp_path / "fm")]) == 0
    assert "Fashion-MNIST in" in capsys.readouterr().out


def test_check_of_a_folder_without_data_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "mnist", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: learning.dataset.root: no MNIST data found")
    assert "train-images-idx3-ubyte" in err and f"fedsl-sim data mnist --download {tmp_path}" in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["data", "cifar10"], "expected a folder to check or --download DIR"),
        (["data", "cifar10", "a", "--download", "b"], "expected a folder to check or --download"),
        (["data", "mnist", "a", "--format", "binary"], "only cifar10 has formats"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], words: str, capsys) -> None:
    assert main(argv) == 2
    assert words in capsys.readouterr().err


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file:// mirror of the CIFAR archives, the download table pointed at it."""
    site = tmp_path / "site"
    site.mkdir()
    stage = tmp_path / "stage"
    for fmt, write in (("binary", write_cifar_binary), ("python", write_cifar_python)):
        folder = write(stage / datafiles.CIFAR_FOLDERS[fmt], CIFAR)
        archive = make_tar_gz(site / datafiles.CIFAR_ARCHIVES[fmt], folder)
        remote = Remote(archive.name, md5(archive), (site.as_uri(),))
        monkeypatch.setitem(datafiles.DOWNLOADS["cifar10"], fmt, (remote,))
    return site


@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_download_then_use(tmp_path: Path, site: Path, fmt: str, capsys) -> None:
    root = tmp_path / "data"
    assert main(["data", "cifar10", "--download", str(root), "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert f"downloading {site.as_uri()}/cifar-10-" in captured.err
    assert f"CIFAR-10 ({fmt} format) in {root / datafiles.CIFAR_FOLDERS[fmt]}" in captured.out
    assert f"dataset: {{kind: cifar10, root: {root.resolve()}}}" in captured.out
    assert [p.name for p in root.iterdir()] == [datafiles.CIFAR_FOLDERS[fmt]]
    assert main(["data", "cifar10", str(root), "--format", fmt]) == 0


def test_download_with_a_checksum_mismatch_exits_2_and_removes_it(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (good,) = datafiles.DOWNLOADS["cifar10"]["binary"]
    bad = Remote(good.filename, "0123456789abcdef0123456789abcdef", good.mirrors)
    monkeypatch.setitem(datafiles.DOWNLOADS["cifar10"], "binary", (bad,))
    root = tmp_path / "data"
    assert main(["data", "cifar10", "--download", str(root)]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch for cifar-10-binary.tar.gz" in err
    assert f"expected md5 {bad.md5}, got {good.md5}" in err
    assert list(root.iterdir()) == []


def test_download_with_no_reachable_mirror_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    dead = Remote("cifar-10-binary.tar.gz", "0" * 32, ((tmp_path / "nowhere").as_uri(),))
    monkeypatch.setitem(datafiles.DOWNLOADS["cifar10"], "binary", (dead,))
    assert main(["data", "cifar10", "--download", str(tmp_path / "d")]) == 1
    assert "cannot download" in capsys.readouterr().err


def _scenario(tmp_path: Path, dataset: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "files",
                "stop": {"max_rounds": 1},
                "learning": {"dataset": dataset, "partition": {"kind": "iid"}},
                "devices": {"count": 2},
            }
        )
    )
    return path


def test_run_on_corrupt_data_exits_2_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_cifar_binary(tmp_path / "data" / "cifar-10-batches-bin", CIFAR)
    f = folder / "test_batch.bin"
    f.write_bytes(f.read_bytes()[:100])
    path = _scenario(tmp_path, {"kind": "cifar10", "root": "data"})
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {f}: learning.dataset.root: expected a CIFAR-10 binary batch")
    assert not (tmp_path / "out").exists()


def test_run_on_missing_data_exits_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, {"kind": "cifar10", "root": "no-data", "train_subset": 10})
    monkeypatch.chdir(tmp_path / "..")  # the root is relative to the scenario, not the cwd
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{tmp_path / 'no-data'}: learning.dataset.root: the directory" in err
    assert f"fedsl-sim data cifar10 --download {tmp_path / 'no-data'}" in err
