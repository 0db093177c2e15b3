"""Real datasets from files: exact round-trips of each on-disk format, normalisation,
stratified subsets, clear errors for missing / corrupt / malicious files, safe extraction,
checksum-verified downloads (file:// URLs) and two-round runs on CIFAR-10 and MNIST."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import pickletools
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from datafixtures import (
    cifar_arrays,
    idx_bytes,
    make_tar_gz,
    mnist_arrays,
    py2_pickle,
    write_cifar_binary,
    write_cifar_python,
    write_idx_set,
)

import fedsl_sim
from fedsl_sim.build import check_scenario
from fedsl_sim.learning import datafiles
from fedsl_sim.learning.data import DATASETS, load_dataset, stratified_subset
from fedsl_sim.learning.datafiles import (
    DataFilesError,
    DownloadError,
    Remote,
    download_dataset,
    download_file,
    read_cifar10,
    read_idx_dataset,
    safe_extract,
)
from fedsl_sim.scenario import ScenarioError, validate_scenario

CIFAR = cifar_arrays()
MNIST = mnist_arrays()


def assert_same(raw: datafiles.RawSplits, a) -> None:
    assert raw.train_x.dtype == np.uint8 and raw.train_y.dtype == np.int64
    np.testing.assert_array_equal(raw.train_x, a.train_x)
    np.testing.assert_array_equal(raw.train_y, a.train_y)
    np.testing.assert_array_equal(raw.test_x, a.test_x)
    np.testing.assert_array_equal(raw.test_y, a.test_y)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- CIFAR-10 formats
def test_registry_has_the_file_datasets() -> None:
    assert {"cifar10", "mnist", "fashion_mnist"} <= set(DATASETS.names())


def test_cifar_binary_round_trip_from_parent_and_from_the_folder(tmp_path: Path) -> None:
    folder = write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)
    for root in (tmp_path, folder):
        raw = read_cifar10(root)
        assert_same(raw, CIFAR)
        assert raw.format == "binary" and raw.where == str(folder)


def test_cifar_binary_layout_written_by_hand(tmp_path: Path) -> None:
    # one record: label 7, then the R plane (all 10 but row 1, column 2 = 99), G (20), B (30)
    planes = bytearray([10] * 1024 + [20] * 1024 + [30] * 1024)
    planes[1 * 32 + 2] = 99
    record = bytes([7]) + bytes(planes)
    for name in [*datafiles.CIFAR_TRAIN["binary"], "test_batch.bin"]:
        (tmp_path / name).write_bytes(record * 2)
    raw = read_cifar10(tmp_path)
    assert raw.train_y.tolist() == [7] * 10 and raw.train_x.shape == (10, 3, 32, 32)
    x = raw.test_x[1]
    assert x[0, 1, 2] == 99 and (x[0] == 10).sum() == 1023
    assert (x[1] == 20).all() and (x[2] == 30).all()


def test_py2_fixture_is_shaped_like_the_official_pickles() -> None:
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(py2_pickle({b"data": CIFAR.test_x}))]
    globals_ = [arg for name, arg in ops if name == "GLOBAL"]
    assert globals_ == ["numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"]
    assert ("SHORT_BINSTRING", "data") in [(n, a) for n, a in ops]  # Python 2 str, not bytes


@pytest.mark.parametrize("protocol", ["py2", 2, 4, 5])
def test_cifar_python_round_trip(tmp_path: Path, protocol: int | str) -> None:
    folder = write_cifar_python(tmp_path / "cifar-10-batches-py", CIFAR, protocol=protocol)
    for root in (tmp_path, folder):
        raw = read_cifar10(root)
        assert_same(raw, CIFAR)
        assert raw.format == "python"


def test_auto_prefers_binary_and_format_forces_one(tmp_path: Path) -> None:
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)
    write_cifar_python(tmp_path / "cifar-10-batches-py", cifar_arrays(seed=1))
    assert read_cifar10(tmp_path).format == "binary"
    raw = read_cifar10(tmp_path, "python")
    assert raw.format == "python"
    assert_same(raw, cifar_arrays(seed=1))


@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_cifar_archive_is_read_in_place(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src" / datafiles.CIFAR_FOLDERS[fmt]
    (write_cifar_binary if fmt == "binary" else write_cifar_python)(src, CIFAR)
    root = tmp_path / "root"
    root.mkdir()
    archive = make_tar_gz(root / datafiles.CIFAR_ARCHIVES[fmt], src)
    for where in (root, archive):
        raw = read_cifar10(where)
        assert_same(raw, CIFAR)
        assert raw.format == fmt and raw.where == str(archive)
    assert sorted(p.name for p in root.iterdir()) == [archive.name]  # nothing extracted


# --------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    write_idx_set(tmp_path, MNIST, gz=gz)
    raw = read_idx_dataset(tmp_path, "mnist")
    assert_same(raw, MNIST)
    assert raw.train_x.shape == (60, 1, 28, 28)


@pytest.mark.parametrize(
    "name, sub", [("mnist", "mnist"), ("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw")]
)
def test_idx_subfolders_are_searched(tmp_path: Path, name: str, sub: str) -> None:
    write_idx_set(tmp_path / sub, MNIST, gz=True)
    raw = read_idx_dataset(tmp_path, name)
    assert_same(raw, MNIST)
    assert raw.where == str(tmp_path / sub)


def test_idx_header_is_big_endian_with_the_magic_number() -> None:
    data = idx_bytes(MNIST.train_x[:, 0])
    assert data[:4] == b"\x00\x00\x08\x03" and data[4:8] == (60).to_bytes(4, "big")
    np.testing.assert_array_equal(datafiles.parse_idx(data, "x", 3), MNIST.train_x[:, 0])


# --------------------------------------------------------------------------- normalisation
def test_cifar_pixels_are_scaled_then_normalised_per_channel(tmp_path: Path) -> None:
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)
    ds = load_dataset("cifar10", np.random.default_rng(0), root=str(tmp_path))
    assert ds.in_shape == (3, 32, 32) and ds.num_classes == 10 and ds.name == "cifar10"
    assert ds.train_x.dtype == torch.float32 and (ds.n_train, ds.n_test) == (100, 20)
    mean = torch.tensor([0.4914, 0.4822, 0.4465])[:, None, None]
    std = torch.tensor([0.2470, 0.2435, 0.2616])[:, None, None]
    expected = (torch.from_numpy(CIFAR.train_x).float() / 255 - mean) / std
    torch.testing.assert_close(ds.train_x, expected, rtol=0, atol=1e-6)
    assert torch.equal(ds.train_y, torch.from_numpy(CIFAR.train_y))
    # pixel 0 of channel R is (0 - 0.4914) / 0.2470 = -1.98947; 255 in channel B:
    # (1 - 0.4465) / 0.2616 = 2.11583
    assert ds.train_x[0, 0, 0, 0].item() == pytest.approx(-1.98947, abs=1e-5)
    assert ds.train_x[:, 2].max().item() == pytest.approx(2.11583, abs=1e-5)


@pytest.mark.parametrize(
    "name, mean, std", [("mnist", 0.1307, 0.3081), ("fashion_mnist", 0.2860, 0.3530)]
)
def test_idx_normalisation(tmp_path: Path, name: str, mean: float, std: float) -> None:
    write_idx_set(tmp_path, MNIST)
    ds = load_dataset(name, np.random.default_rng(0), root=str(tmp_path))
    assert ds.in_shape == (1, 28, 28) and ds.name == name
    expected = (torch.from_numpy(MNIST.test_x).float() / 255 - mean) / std
    torch.testing.assert_close(ds.test_x, expected, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- subsets
def test_stratified_subset_quotas_by_largest_remainder() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    rng = np.random.default_rng(0)
    idx = stratified_subset(labels, 10, rng)
    assert np.bincount(labels[idx]).tolist() == [5, 3, 2]
    # 7 · (0.5, 0.3, 0.2) = (3.5, 2.1, 1.4): floors (3, 2, 1), the spare place to class 0
    idx = stratified_subset(labels, 7, rng)
    assert np.bincount(labels[idx]).tolist() == [4, 2, 1]
    assert np.all(np.diff(idx) > 0)
    with pytest.raises(ValueError, match="1..100"):
        stratified_subset(labels, 101, rng)


def test_subsets_are_stratified_seeded_and_drawn_from_the_data(tmp_path: Path) -> None:
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)

    def load(seed: int):
        return load_dataset(
            "cifar10",
            np.random.default_rng(seed),
            root=str(tmp_path),
            train_subset=30,
            test_subset=10,
        )

    a, b, c = load(3), load(3), load(4)
    assert (a.n_train, a.n_test) == (30, 10)
    assert torch.bincount(a.train_y, minlength=10).tolist() == [3] * 10
    assert torch.bincount(a.test_y, minlength=10).tolist() == [1] * 10
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    full = load_dataset("cifar10", np.random.default_rng(0), root=str(tmp_path))
    rows = {full.train_x[i].numpy().tobytes(): int(full.train_y[i]) for i in range(100)}
    for x, y in zip(a.train_x, a.train_y, strict=True):
        assert rows[x.numpy().tobytes()] == int(y)  # a genuine sample with its own label


def test_subset_larger_than_the_data_names_the_field(tmp_path: Path) -> None:
    write_idx_set(tmp_path, MNIST)
    with pytest.raises(ScenarioError) as err:
        load_dataset("mnist", np.random.default_rng(0), root=str(tmp_path), test_subset=21)
    assert err.value.path == "learning.dataset.test_subset"
    assert "test_subset <= 20" in str(err.value) and "got 21" in str(err.value)


# --------------------------------------------------------------------------- missing data
def test_missing_cifar_names_files_folder_and_the_download_command(tmp_path: Path) -> None:
    with pytest.raises(DataFilesError) as err:
        read_cifar10(tmp_path)
    e = err.value
    assert isinstance(e, ScenarioError) and e.path == "learning.dataset.root"
    msg = str(e)
    for words in (
        "data_batch_1.bin",
        "test_batch.bin",
        "cifar-10-batches-py",
        "cifar-10-binary.tar.gz",
        str(tmp_path),
        f"fedsl-sim data cifar10 --download {tmp_path}",
    ):
        assert words in msg


def test_partial_cifar_folder_says_which_files_are_missing(tmp_path: Path) -> None:
    folder = write_cifar_binary(tmp_path / "cifar-10-batches-bin", CIFAR)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(DataFilesError, match=r"lacks data_batch_3\.bin"):
        read_cifar10(tmp_path)
    with pytest.raises(DataFilesError, match="does not exist"):
        read_cifar10(tmp_path / "nowhere")


def test_missing_mnist_lists_the_idx_files_and_folders(tmp_path: Path) -> None:
    write_idx_set(tmp_path, MNIST)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataFilesError) as err:
        read_idx_dataset(tmp_path, "fashion_mnist")
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "lacks t10k-labels-idx1-ubyte" in msg
    assert str(tmp_path / "FashionMNIST/raw") in msg
    assert "fedsl-sim data fashion_mnist --download" in msg


# --------------------------------------------------------------------------- corrupt data
def test_corrupt_cifar_binary(tmp_path: Path) -> None:
    folder = write_cifar_binary(tmp_path, CIFAR)
    f = folder / "data_batch_2.bin"
    good = f.read_bytes()
    f.write_bytes(good[:-5])
    with pytest.raises(DataFilesError) as err:
        read_cifar10(tmp_path)
    assert str(f) in str(err.value) and "3073-byte records" in str(err.value)
    assert f"got {20 * 3073 - 5} bytes" in str(err.value)
    bad_label = bytearray(good)
    bad_label[3073 * 4] = 12  # the label byte of record 4
    f.write_bytes(bytes(bad_label))
    with pytest.raises(DataFilesError, match="label 12 of sample 4 is not a class"):
        read_cifar10(tmp_path)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda b: b"\x00\x00\x08\x01" + b[4:], "bad magic number 0x00000801: expected 0x00000803"),
        (
            lambda b: b[:-1],
            "expected 47056 bytes for an IDX array of shape (60, 28, 28), got 47055",
        ),
        (lambda b: b[:10], "truncated IDX header"),
    ],
)
def test_corrupt_idx(tmp_path: Path, corrupt, message: str) -> None:
    write_idx_set(tmp_path, MNIST)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(corrupt(f.read_bytes()))
    with pytest.raises(DataFilesError) as err:
        read_idx_dataset(tmp_path, "mnist")
    assert message in str(err.value) and str(f) in str(err.value)
    assert err.value.path == "learning.dataset.root"


def test_idx_consistency_checks(tmp_path: Path) -> None:
    write_idx_set(tmp_path, MNIST)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(MNIST.test_y[:19].astype(np.uint8)))
    with pytest.raises(DataFilesError, match="19 test labels for 20 images"):
        read_idx_dataset(tmp_path, "mnist")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataFilesError, match="cannot read the file"):
        read_idx_dataset(tmp_path, "mnist")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((60, 27, 28), np.uint8)))
    with pytest.raises(DataFilesError, match="expected 28x28 images, got 27x28"):
        read_idx_dataset(tmp_path, "mnist")


def test_corrupt_or_foreign_archives(tmp_path: Path) -> None:
    src = write_cifar_binary(tmp_path / "src" / "cifar-10-batches-bin", CIFAR)
    root = tmp_path / "root"
    root.mkdir()
    archive = make_tar_gz(root / "cifar-10-binary.tar.gz", src)
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(DataFilesError, match="cannot read the archive"):
        read_cifar10(root)
    (src / "test_batch.bin").unlink()
    make_tar_gz(archive, src)
    with pytest.raises(DataFilesError, match=r"lacks cifar-10-batches-bin/test_batch\.bin"):
        read_cifar10(root)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({b"data": [[1, 2]], b"labels": [0]}, "expected data as a uint8 array (N, 3072), got list"),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
            "expected 2 integer labels",
        ),
        ([1, 2, 3], "expected a pickled dict with data and labels, got list"),
    ],
)
def test_python_batch_with_the_wrong_structure(tmp_path: Path, payload, message: str) -> None:
    folder = write_cifar_python(tmp_path, CIFAR)
    (folder / "data_batch_4").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataFilesError) as err:
        read_cifar10(tmp_path)
    assert message in str(err.value) and str(folder / "data_batch_4") in str(err.value)
    (folder / "data_batch_4").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataFilesError, match="cannot unpickle it"):
        read_cifar10(tmp_path)


# --------------------------------------------------------------------------- malicious pickle
class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _OpensFile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize(
    "evil, refused",
    [(_RunsShell, f"{os.system.__module__}.system"), (_OpensFile, f"{open.__module__}.open")],
)
@pytest.mark.parametrize("nested", [False, True])
def test_malicious_pickle_is_refused_and_never_runs(
    tmp_path: Path, evil: type, refused: str, nested: bool
) -> None:
    folder = write_cifar_python(tmp_path / "cifar-10-batches-py", CIFAR)
    marker = tmp_path / "pwned"
    obj = evil(marker)
    if nested:  # hidden inside an otherwise genuine batch
        obj = {b"labels": [0], b"data": np.zeros((1, 3072), np.uint8), b"extra": obj}
    (folder / "data_batch_2").write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(DataFilesError) as err:
        read_cifar10(tmp_path)
    msg = str(err.value)
    assert (
        str(folder / "data_batch_2") in msg and f"refused to unpickle the global {refused}" in msg
    )
    assert err.value.path == "learning.dataset.root"
    assert not marker.exists()
    with pytest.raises(DataFilesError):  # also through the registered dataset
        load_dataset("cifar10", np.random.default_rng(0), root=str(tmp_path), format="python")
    assert not marker.exists()


def test_the_crafted_payload_is_real() -> None:
    # the test above could not fail if the payload did nothing under a plain unpickler
    buf = io.BytesIO(pickle.dumps(_OpensFile(Path(os.devnull)), protocol=2))
    f = pickle.load(buf)  # opens /dev/null for writing: the payload runs
    assert not f.closed
    f.close()


# --------------------------------------------------------------------------- extraction
def _tar_with(archive: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(archive, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return archive


def test_safe_extract_writes_regular_members(tmp_path: Path) -> None:
    folder = tarfile.TarInfo("a")
    folder.type = tarfile.DIRTYPE
    archive = _tar_with(
        tmp_path / "ok.tar.gz", [(folder, None), (tarfile.TarInfo("./a/b.txt"), b"hi")]
    )
    written = safe_extract(archive, tmp_path / "out")
    assert written == [(tmp_path / "out" / "a" / "b.txt").resolve()]
    assert written[0].read_text() == "hi"


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "evil, why",
    [
        (tarfile.TarInfo("../escape.txt"), "'..' in the path"),
        (tarfile.TarInfo("x/../../escape.txt"), "'..' in the path"),
        (tarfile.TarInfo("/tmp/abs-escape.txt"), "absolute path"),
        (_link("link", "/etc/passwd", tarfile.SYMTYPE), "a link or device"),
        (_link("hard", "/etc/passwd", tarfile.LNKTYPE), "a link or device"),
    ],
)
def test_safe_extract_refuses_traversal_and_links(
    tmp_path: Path, evil: tarfile.TarInfo, why: str
) -> None:
    data = None if evil.type in (tarfile.SYMTYPE, tarfile.LNKTYPE) else b"evil"
    archive = _tar_with(
        tmp_path / "bad.tar.gz", [(tarfile.TarInfo("good.txt"), b"good"), (evil, data)]
    )
    out = tmp_path / "deep" / "out"
    with pytest.raises(DataFilesError) as err:
        safe_extract(archive, out)
    assert f"refused to extract the member {evil.name!r}" in str(err.value)
    assert why in str(err.value) and "nothing was extracted" in str(err.value)
    assert str(archive) in str(err.value)
    assert list(out.iterdir()) == []  # nothing, not even the good member
    assert not (tmp_path / "deep" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


# --------------------------------------------------------------------------- download
def test_download_file_verifies_the_checksum(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload" * 1000)
    dest = tmp_path / "dl" / "file.bin"
    dest.parent.mkdir()
    assert download_file(src.as_uri(), dest, md5(src)) == dest
    assert dest.read_bytes() == src.read_bytes()
    dest.unlink()
    with pytest.raises(DataFilesError) as err:
        download_file(src.as_uri(), dest, "0" * 32)
    assert f"expected md5 {'0' * 32}, got {md5(src)}" in str(err.value)
    assert list(dest.parent.iterdir()) == []  # neither the file nor a .part is left
    with pytest.raises(DownloadError, match="cannot download"):
        download_file((tmp_path / "absent").as_uri(), dest, md5(src))
    assert list(dest.parent.iterdir()) == []


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file:// mirror with both CIFAR archives and the gzipped MNIST files; DOWNLOADS points
    at it (a dead mirror first, to exercise the fallback)."""
    site = tmp_path / "site"
    site.mkdir()
    stage = tmp_path / "stage"
    make_tar_gz(
        site / "cifar-10-binary.tar.gz", write_cifar_binary(stage / "cifar-10-batches-bin", CIFAR)
    )
    make_tar_gz(
        site / "cifar-10-python.tar.gz", write_cifar_python(stage / "cifar-10-batches-py", CIFAR)
    )
    write_idx_set(site, MNIST, gz=True)
    mirrors = ((tmp_path / "dead").as_uri() + "/", site.as_uri() + "/")
    table = {
        name: {
            fmt: tuple(Remote(r.filename, md5(site / r.filename), mirrors) for r in remotes)
            for fmt, remotes in formats.items()
        }
        for name, formats in datafiles.DOWNLOADS.items()
    }
    monkeypatch.setattr(datafiles, "DOWNLOADS", table)
    return site


@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_download_cifar_extracts_checks_and_removes_the_archive(
    tmp_path: Path, mirror: Path, fmt: str
) -> None:
    root = tmp_path / "data"
    logs: list[str] = []
    raw = download_dataset("cifar10", root, fmt, log=logs.append)
    assert_same(raw, CIFAR)
    assert sorted(p.name for p in root.iterdir()) == [datafiles.CIFAR_FOLDERS[fmt]]
    assert any("failed" in line for line in logs)  # the dead mirror was tried first
    n_logs = len(logs)
    again = download_dataset("cifar10", root, fmt, log=logs.append)  # nothing fetched
    assert_same(again, CIFAR)
    assert len(logs) == n_logs + 1 and "already in place" in logs[-1]


def test_download_mnist_keeps_the_gz_files(tmp_path: Path, mirror: Path) -> None:
    raw = download_dataset("mnist", tmp_path / "data", log=lambda s: None)
    assert_same(raw, MNIST)
    assert len(list((tmp_path / "data" / "mnist").glob("*.gz"))) == 4
    assert_same(read_idx_dataset(tmp_path / "data", "mnist"), MNIST)


def test_download_with_a_wrong_checksum_removes_the_file(
    tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (good,) = datafiles.DOWNLOADS["cifar10"]["binary"]
    monkeypatch.setitem(
        datafiles.DOWNLOADS["cifar10"], "binary", (Remote(good.filename, "f" * 32, good.mirrors),)
    )
    root = tmp_path / "data"
    with pytest.raises(DataFilesError, match=f"expected md5 {'f' * 32}, got {good.md5}"):
        download_dataset("cifar10", root, "binary", log=lambda s: None)
    assert list(root.iterdir()) == []


# --------------------------------------------------------------------------- scenarios
SCENARIO = {
    "name": "files",
    "seed": 3,
    "scheme": "fedsl",
    "stop": {"max_rounds": 2},
    "learning": {
        "partition": {"kind": "iid"},
        "model": {"kind": "small_cnn"},
        "split_layer": 2,
        "batch_size": 10,
        "aggregation_interval": 1,
        "eval_every_rounds": 1,
    },
    "devices": {
        "count": 2,
        "placement": {"kind": "fixed", "positions_m": [[100.0, 0.0], [150.0, 0.0]]},
        "mobility": {"kind": "static"},
    },
    "network": {"shadowing": {"std_db": 0.0}, "fading": {"kind": "none"}},
}


def _write_scenario(tmp_path: Path, dataset: dict) -> Path:
    data = yaml.safe_load(yaml.safe_dump(SCENARIO))
    data["learning"]["dataset"] = dataset
    path = tmp_path / "scenarios" / "files.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "dataset, write",
    [
        (
            {"kind": "cifar10", "root": "../data", "train_subset": 60, "test_subset": 10},
            lambda d: write_cifar_binary(d / "cifar-10-batches-bin", CIFAR),
        ),
        ({"kind": "mnist", "root": "../data"}, lambda d: write_idx_set(d, MNIST, gz=True)),
    ],
)
def test_two_rounds_on_file_datasets(tmp_path: Path, dataset: dict, write) -> None:
    write(tmp_path / "data")
    path = _write_scenario(tmp_path, dataset)
    sc = fedsl_sim.load_scenario(path)
    assert sc.learning.dataset.root == str(tmp_path / "scenarios" / ".." / "data")
    res = fedsl_sim.run(sc, out_dir=tmp_path / "out", plots=False)
    assert res.summary["rounds_completed"] == 2
    assert 0.0 <= res.summary["final_test_accuracy"] <= 1.0
    saved = yaml.safe_load((res.out_dir / "scenario.yaml").read_text())
    assert Path(saved["learning"]["dataset"]["root"]).is_absolute()  # reloadable from anywhere


def test_scenario_validates_without_the_data_and_resolves_root(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(SCENARIO))
    data["learning"]["dataset"] = {"kind": "fashion_mnist", "root": "d"}
    sc = validate_scenario(data, "s.yaml", base_dir=tmp_path)
    assert sc.learning.dataset.root == str(tmp_path / "d") and sc.learning.dataset.image_hw == 28
    data["learning"]["dataset"] = {"kind": "cifar10", "root": "/abs", "format": "binary"}
    assert validate_scenario(data, "s.yaml").learning.dataset.image_hw == 32
    data["learning"]["dataset"] = {"kind": "cifar10", "root": "/abs", "format": "png"}
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "s.yaml")
    assert err.value.path == "learning.dataset.format"
    data["learning"]["dataset"] = {"kind": "mnist", "root": "/abs"}
    data["learning"]["model"] = {"kind": "vgg11"}
    sc = validate_scenario(data, "s.yaml")  # the schema does not know the architectures
    with pytest.raises(ScenarioError, match="28x28 mnist") as err:
        check_scenario(sc, "s.yaml")
    assert err.value.path == "learning.model.kind"


def test_run_with_missing_data_is_a_scenario_error(tmp_path: Path) -> None:
    path = _write_scenario(tmp_path, {"kind": "cifar10", "root": "nothing-here"})
    sc = fedsl_sim.load_scenario(path)
    with pytest.raises(ScenarioError) as err:
        fedsl_sim.run(sc, out_dir=tmp_path / "out", plots=False)
    assert err.value.path == "learning.dataset.root"
    assert "fedsl-sim data cifar10 --download" in str(err.value)
    assert not (tmp_path / "out").exists()
