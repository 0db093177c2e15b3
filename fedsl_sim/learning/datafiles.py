"""Real image datasets read from local files in their official formats, and their download.

* CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html), in either official format:

  - binary, ``cifar-10-batches-bin/data_batch_1.bin`` … ``data_batch_5.bin`` and
    ``test_batch.bin``: records of 1 label byte followed by 3072 pixel bytes (the R, G and B
    planes of a 32×32 image, each row-major);
  - Python, ``cifar-10-batches-py/data_batch_1`` … ``data_batch_5`` and ``test_batch``: pickled
    dicts whose ``b"data"`` is a uint8 array (N, 3072) laid out as above and whose
    ``b"labels"`` is a list of N ints. They are read by a restricted unpickler that resolves
    only the few numpy globals an array needs: anything else is refused before it can run.

  ``root`` may be the folder holding ``cifar-10-batches-*``, one of those folders, or hold (or
  be) an archive as downloaded (``cifar-10-binary.tar.gz``, ``cifar-10-python.tar.gz``),
  which is then read in place without being extracted.

* MNIST and Fashion-MNIST, from IDX files ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, plain
  or gzipped (``.gz``), in ``root``, ``root/<name>`` or torchvision's ``root/MNIST/raw`` /
  ``root/FashionMNIST/raw``. Magic numbers, dimensions and file sizes are checked.

Missing or corrupt files raise :class:`DataFilesError`, a :class:`ScenarioError` at
``learning.dataset.root`` (``fedsl-sim`` exits 2 with its message). Only
:func:`download_dataset` (``fedsl-sim data NAME --download DIR``) uses the network.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import math
import pickle
import shutil
import struct
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from fedsl_sim.errors import ScenarioError

__all__ = [
    "DOWNLOADS",
    "NORMALISATION",
    "DataFilesError",
    "DownloadError",
    "RawSplits",
    "Remote",
    "check_dataset",
    "download_dataset",
    "download_file",
    "load_cifar_python_batch",
    "parse_cifar_binary",
    "parse_idx",
    "read_cifar10",
    "read_idx_dataset",
    "safe_extract",
]

NUM_CLASSES = 10
ROOT_FIELD = "learning.dataset.root"

# Per-channel mean and standard deviation of the training pixels scaled to [0, 1], as
# published and used throughout the literature. CIFAR-10: the statistics over all 50000
# training images (not the 0.2023/0.1994/0.2010 often copied, which average per-image stds);
# MNIST: the PyTorch examples' values; Fashion-MNIST: 72.94/255 and 90.02/255.
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
}

CIFAR_FOLDERS = {"binary": "cifar-10-batches-bin", "python": "cifar-10-batches-py"}
CIFAR_ARCHIVES = {"binary": "cifar-10-binary.tar.gz", "python": "cifar-10-python.tar.gz"}
CIFAR_TRAIN = {
    "binary": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "python": tuple(f"data_batch_{i}" for i in range(1, 6)),
}
CIFAR_TEST = {"binary": "test_batch.bin", "python": "test_batch"}
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_SUBFOLDERS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion_mnist": ("fashion_mnist", "FashionMNIST/raw"),
}
TITLES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


class DataFilesError(ScenarioError, ValueError):
    """Missing, corrupt or refused data files: invalid input (``fedsl-sim`` exits 2).

    ``source`` is the file, folder or URL at fault; ``path`` the scenario field
    (``learning.dataset.root`` unless said otherwise).
    """

    def __init__(self, source: str, message: str, path: str | None = ROOT_FIELD) -> None:
        super().__init__(source, message, path=path)


class DownloadError(RuntimeError):
    """The network failed on every mirror (not invalid input: ``fedsl-sim`` exits 1)."""


# --------------------------------------------------------------------------- download table
@dataclass(frozen=True)
class Remote:
    """One file to download: its name, its published MD5, and base URLs to try in order."""

    filename: str
    md5: str
    mirrors: tuple[str, ...]

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(m.rstrip("/") + "/" + self.filename for m in self.mirrors)


_CIFAR_BASE = ("https://www.cs.toronto.edu/~kriz/",)
# torchvision's mirrors and checksums (torchvision/datasets/mnist.py); the Fashion-MNIST
# files are also in the Zalando repository itself.
_MNIST_BASE = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_BASE = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)

#: dataset -> format -> files to fetch. Data, so that tests can point it at file:// URLs.
DOWNLOADS: dict[str, dict[str, tuple[Remote, ...]]] = {
    "cifar10": {
        "binary": (
            Remote("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", _CIFAR_BASE),
        ),
        "python": (
            Remote("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", _CIFAR_BASE),
        ),
    },
    "mnist": {
        "idx": (
            Remote("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", _MNIST_BASE),
            Remote("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", _MNIST_BASE),
            Remote("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", _MNIST_BASE),
            Remote("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", _MNIST_BASE),
        ),
    },
    "fashion_mnist": {
        "idx": (
            Remote("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", _FASHION_BASE),
            Remote("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", _FASHION_BASE),
            Remote("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", _FASHION_BASE),
            Remote("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", _FASHION_BASE),
        ),
    },
}


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class RawSplits:
    """Images and labels as stored: ``*_x`` uint8 (N, C, H, W), ``*_y`` int64 (N,).

    ``where`` is the folder or archive read, ``format`` the CIFAR format (``"idx"`` for
    MNIST-like data).
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    where: str
    format: str


#: images in one CIFAR-10 batch file (the official ones hold exactly this many)
CIFAR_MAX_PER_BATCH = 10_000
#: largest data file (or archive member, decompressed) read, bytes: the largest genuine one
#: (MNIST's training images) is 47 MB, a CIFAR-10 batch 31 MB
MAX_DATA_FILE_BYTES = 512 * 2**20


def _read_bounded(fh: IO[bytes], where: str) -> bytes:
    """All of ``fh``, refused past :data:`MAX_DATA_FILE_BYTES` (a decompression bomb, or not
    the file its name says) before it exhausts the memory."""
    data = fh.read(MAX_DATA_FILE_BYTES + 1)
    if len(data) > MAX_DATA_FILE_BYTES:
        raise DataFilesError(
            where,
            f"larger than {MAX_DATA_FILE_BYTES // 2**20} MiB (decompressed): not a genuine "
            "data file",
        )
    return data


def _hint(name: str, root: Path) -> str:
    return f"to download {TITLES[name]} there: fedsl-sim data {name} --download {root}"


def _check_labels(y: np.ndarray, where: str) -> None:
    bad = np.flatnonzero((y < 0) | (y >= NUM_CLASSES))
    if bad.size:
        raise DataFilesError(
            where,
            f"label {int(y[bad[0]])} of sample {int(bad[0])} is not a class in 0..9; "
            "the file is corrupt",
        )


# --------------------------------------------------------------------------- CIFAR-10 binary
def parse_cifar_binary(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary CIFAR-10 batch: ``x`` uint8 (N, 3, 32, 32), ``y`` int64 (N,).

    ``where`` names the file in error messages.
    """
    if len(data) == 0 or len(data) % CIFAR_RECORD_BYTES:
        raise DataFilesError(
            where,
            f"expected a CIFAR-10 binary batch, a whole number of {CIFAR_RECORD_BYTES}-byte "
            f"records (1 label byte + 3072 pixel bytes; 30730000 bytes for 10000 images), "
            f"got {len(data)} bytes",
        )
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    y = rec[:, 0].astype(np.int64)
    _check_labels(y, where)
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), y


# --------------------------------------------------------------------------- CIFAR-10 python
def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # What a Python 3 pickle of protocol 2 uses to rebuild bytes; no other codec is needed.
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refused codec {encoding!r} in _codecs.encode")
    return text.encode("latin-1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickled numpy array needs, whichever numpy wrote it (1.x: ``numpy.core``,
    2.x: ``numpy._core``), mapped to the objects of the numpy installed here."""
    core = getattr(np, "_core", None)
    if core is None:  # numpy 1.x
        core = np.core
    reconstruct = core.multiarray._reconstruct
    frombuffer = core.numeric._frombuffer
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for pkg in ("numpy.core", "numpy._core"):
        allowed[(f"{pkg}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{pkg}.numeric", "_frombuffer")] = frombuffer  # protocol-5 pickles
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    """Resolves only numpy-array globals; any other global is refused before it can be called,
    so a crafted file cannot run code."""

    def __init__(self, file: IO[bytes], where: str) -> None:
        super().__init__(file, encoding="bytes")
        self._where = where
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise DataFilesError(
                self._where,
                f"refused to unpickle the global {module}.{name}: a CIFAR-10 Python batch "
                "holds only numpy arrays, lists and bytes, so this file is not a genuine "
                "batch (nothing in it was executed); delete it and download the data again",
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataFilesError(self._where, "refused a persistent id: not a CIFAR-10 batch")


def _get(d: dict[Any, Any], key: str) -> Any:
    if key.encode() in d:
        return d[key.encode()]
    return d.get(key)


def load_cifar_python_batch(file: IO[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """One Python-format CIFAR-10 batch read with the restricted unpickler.

    Returns ``x`` uint8 (N, 3, 32, 32) and ``y`` int64 (N,); ``where`` names the file.
    """
    try:
        obj = _CifarUnpickler(file, where).load()
    except DataFilesError:
        raise
    except Exception as exc:  # any malformed stream: pickle raises many types
        raise DataFilesError(
            where, f"not a CIFAR-10 Python batch: cannot unpickle it ({exc})"
        ) from None
    if not isinstance(obj, dict):
        raise DataFilesError(
            where, f"expected a pickled dict with data and labels, got {type(obj).__name__}"
        )
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataFilesError(where, f"expected data as a uint8 array (N, 3072), got {got}")
    if data.shape[0] > CIFAR_MAX_PER_BATCH:  # before anything touches (copies) its memory
        raise DataFilesError(
            where,
            f"expected at most {CIFAR_MAX_PER_BATCH} images in a batch, got {data.shape[0]}",
        )
    # a list of plain ints only: anything else (e.g. a list that contains itself) is refused
    # before numpy walks it
    if isinstance(labels, list) and all(type(v) is int for v in labels):
        try:
            y = np.asarray(labels, dtype=np.int64)
        except OverflowError:
            y = np.empty(0)
    elif isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.ndim == 1:
        y = labels.astype(np.int64)
    else:
        y = np.empty(0)
    if y.shape != (data.shape[0],):
        got = type(labels).__name__
        if hasattr(labels, "__len__"):
            got += f" of length {len(labels)}"
        raise DataFilesError(where, f"expected {data.shape[0]} integer labels, got {got}")
    _check_labels(y, where)
    return data.reshape(-1, 3, 32, 32).copy(), y


# --------------------------------------------------------------------------- CIFAR-10 sources
@dataclass(frozen=True)
class _Source:
    """A complete candidate: a folder with every batch file, or an archive."""

    fmt: str
    path: Path
    archive: bool

    def where(self, fname: str) -> str:
        if self.archive:
            return f"{self.path}:{CIFAR_FOLDERS[self.fmt]}/{fname}"
        return str(self.path / fname)

    def batches(self) -> Iterator[tuple[str, bytes]]:
        """``(where, content)`` of data_batch_1 … 5 then test_batch."""
        names = [*CIFAR_TRAIN[self.fmt], CIFAR_TEST[self.fmt]]
        if not self.archive:
            for fname in names:
                try:
                    with (self.path / fname).open("rb") as fh:
                        yield self.where(fname), _read_bounded(fh, self.where(fname))
                except OSError as exc:
                    raise DataFilesError(self.where(fname), f"cannot read it ({exc})") from None
            return
        content = self._read_archive(names)
        for fname in names:
            yield self.where(fname), content[fname]

    def _read_archive(self, names: list[str]) -> dict[str, bytes]:
        # One pass in archive order: seeking back in a gzip stream would decompress again.
        folder = CIFAR_FOLDERS[self.fmt]
        wanted = {f"{folder}/{f}": f for f in names}
        content: dict[str, bytes] = {}
        try:
            with tarfile.open(self.path, "r:gz") as tf:
                for m in tf:
                    fname = wanted.get(str(PurePosixPath(m.name)))
                    if fname is not None and m.isfile():
                        f = tf.extractfile(m)
                        assert f is not None  # a regular file
                        content[fname] = _read_bounded(f, self.where(fname))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataFilesError(
                str(self.path), f"cannot read the archive, truncated or corrupt ({exc})"
            ) from None
        missing = [m for m, f in wanted.items() if f not in content]
        if missing:
            raise DataFilesError(
                str(self.path),
                f"the archive lacks {', '.join(missing)}; it is not the official "
                f"{CIFAR_ARCHIVES[self.fmt]}",
            )
        return content


def _archive_format(path: Path) -> str | None:
    for fmt, archive in CIFAR_ARCHIVES.items():
        if path.name == archive:
            return fmt
    return None


def _find_cifar(root: Path, fmt: str) -> _Source:
    formats = ("binary", "python") if fmt == "auto" else (fmt,)
    if root.is_file():
        afmt = _archive_format(root) or (formats[0] if len(formats) == 1 else None)
        if afmt is None or afmt not in formats:
            raise DataFilesError(
                str(root),
                f"expected a folder or an archive named {' or '.join(CIFAR_ARCHIVES.values())}",
            )
        return _Source(afmt, root, archive=True)
    if not root.is_dir():
        raise DataFilesError(
            str(root), f"the directory {root} does not exist; {_hint('cifar10', root)}"
        )
    partial: list[str] = []
    for f in formats:
        want = [*CIFAR_TRAIN[f], CIFAR_TEST[f]]
        dirs = [root] if root.name == CIFAR_FOLDERS[f] else [root, root / CIFAR_FOLDERS[f]]
        for d in dirs:
            present = [w for w in want if (d / w).is_file()]
            if len(present) == len(want):
                return _Source(f, d, archive=False)
            if present:
                missing = [w for w in want if w not in present]
                partial.append(f"{d} has {', '.join(present)} but lacks {', '.join(missing)}")
    for f in formats:
        if (root / CIFAR_ARCHIVES[f]).is_file():
            return _Source(f, root / CIFAR_ARCHIVES[f], archive=True)
    expected = []
    if "binary" in formats:
        expected.append(
            f"data_batch_1.bin … data_batch_5.bin and test_batch.bin (binary format) in {root}"
            f" or {root / CIFAR_FOLDERS['binary']}"
        )
    if "python" in formats:
        expected.append(
            f"data_batch_1 … data_batch_5 and test_batch (Python format) in "
            f"{root / CIFAR_FOLDERS['python']}"
        )
    archives = " or ".join(CIFAR_ARCHIVES[f] for f in formats)
    found = ("; " + "; ".join(partial)) if partial else ""
    raise DataFilesError(
        str(root),
        f"no CIFAR-10 data found: expected {', or '.join(expected)}, or the archive "
        f"{archives} in {root}{found}; {_hint('cifar10', root)}",
    )


def read_cifar10(root: str | Path, format: str = "auto") -> RawSplits:
    """Read CIFAR-10 from ``root`` (see the module docstring for where files may lie).

    Parameters
    ----------
    root : folder (or archive) path.
    format : ``"auto"`` (binary folder, Python folder, binary archive, Python archive, first
        found), ``"binary"`` or ``"python"``.
    """
    if format not in ("auto", "binary", "python"):
        raise DataFilesError(
            "cifar10",
            f"expected format auto, binary or python, got {format!r}",
            path="learning.dataset.format",
        )
    src = _find_cifar(Path(root).expanduser(), format)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for where, content in src.batches():
        if src.fmt == "binary":
            parts.append(parse_cifar_binary(content, where))
        else:
            parts.append(load_cifar_python_batch(io.BytesIO(content), where))
    train_x = np.concatenate([p[0] for p in parts[:-1]])
    train_y = np.concatenate([p[1] for p in parts[:-1]])
    return RawSplits("cifar10", train_x, train_y, *parts[-1], where=str(src.path), format=src.fmt)


# --------------------------------------------------------------------------- IDX
def parse_idx(data: bytes, where: str, ndim: int) -> np.ndarray:
    """An IDX array of unsigned bytes with ``ndim`` dimensions (magic ``0x0000080<ndim>``).

    Checks the magic number and that the file holds exactly the bytes its header announces.
    """
    magic_expected = 0x0800 | ndim
    if len(data) < 4:
        raise DataFilesError(where, f"expected an IDX file, got {len(data)} bytes")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != magic_expected:
        kind = "images" if ndim == 3 else "labels"
        raise DataFilesError(
            where,
            f"bad magic number 0x{magic:08x}: expected 0x{magic_expected:08x} (IDX {kind}: "
            f"unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); the file is corrupt "
            "or not the one its name says",
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFilesError(where, f"truncated IDX header: {len(data)} bytes")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    size = header + math.prod(dims)  # exact: dimensions up to 2^32 each must not wrap
    if len(data) != size:
        raise DataFilesError(
            where,
            f"expected {size} bytes for an IDX array of shape {tuple(dims)}, got {len(data)} "
            "(truncated or corrupt)",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_maybe_gz(path: Path) -> bytes:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            return _read_bounded(f, str(path))  # type: ignore[arg-type]
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFilesError(str(path), f"cannot read the file ({exc})") from None


def _find_idx(root: Path, name: str) -> tuple[Path, dict[str, Path]]:
    title = TITLES[name]
    bases = [b for pair in IDX_FILES.values() for b in pair]
    if not root.is_dir():
        raise DataFilesError(str(root), f"the directory {root} does not exist; {_hint(name, root)}")
    dirs = [root, *(root / s for s in IDX_SUBFOLDERS[name])]
    partial = []
    for d in dirs:
        found: dict[str, Path] = {}
        for b in bases:
            for cand in (d / b, d / f"{b}.gz"):
                if cand.is_file():
                    found[b] = cand
                    break
        if len(found) == len(bases):
            return d, found
        if found:
            lacks = [b for b in bases if b not in found]
            partial.append(f"{d} lacks {', '.join(lacks)}")
    found_s = ("; " + "; ".join(partial)) if partial else ""
    raise DataFilesError(
        str(root),
        f"no {title} data found: expected {', '.join(bases)} (each plain or .gz) in one of "
        f"{', '.join(str(d) for d in dirs)}{found_s}; {_hint(name, root)}",
    )


def read_idx_dataset(root: str | Path, name: str) -> RawSplits:
    """Read MNIST or Fashion-MNIST (``name``) from IDX files under ``root``."""
    if name not in IDX_SUBFOLDERS:
        raise ValueError(f"expected mnist or fashion_mnist, got {name!r}")
    folder, files = _find_idx(Path(root).expanduser(), name)
    out: list[np.ndarray] = []
    for split, (img_name, lbl_name) in IDX_FILES.items():
        x = parse_idx(_read_maybe_gz(files[img_name]), str(files[img_name]), 3)
        y = parse_idx(_read_maybe_gz(files[lbl_name]), str(files[lbl_name]), 1).astype(np.int64)
        if x.shape[1:] != (28, 28):
            raise DataFilesError(
                str(files[img_name]), f"expected 28x28 images, got {x.shape[1]}x{x.shape[2]}"
            )
        if x.shape[0] != y.shape[0]:
            raise DataFilesError(
                str(files[lbl_name]),
                f"{y.shape[0]} {split} labels for {x.shape[0]} images in {files[img_name].name}",
            )
        _check_labels(y, str(files[lbl_name]))
        out += [x.reshape(-1, 1, 28, 28).copy(), y]
    return RawSplits(name, *out, where=str(folder), format="idx")


# --------------------------------------------------------------------------- archives
def _unsafe_reason(member: tarfile.TarInfo, dest: Path) -> str | None:
    name = member.name
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or (p.parts and ":" in p.parts[0]):
        return "absolute path"
    if ".." in p.parts:
        return "'..' in the path"
    if not (member.isfile() or member.isdir()):
        return "a link or device: only regular files and folders are extracted"
    target = (dest / p).resolve()
    if target != dest and dest not in target.parents:
        return "it would land outside the destination"
    return None


def safe_extract(archive: str | Path, dest: str | Path) -> list[Path]:
    """Extract a tar archive into ``dest``, refusing it whole (nothing written) if any member
    has an absolute path, a ``..`` component, or is a link or device. Returns the files
    written."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    written: list[Path] = []
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()
            for m in members:
                why = _unsafe_reason(m, dest)
                if why is not None:
                    raise DataFilesError(
                        str(archive),
                        f"refused to extract the member {m.name!r} ({why}); nothing was extracted",
                        path=None,
                    )
            for m in members:
                target = dest / PurePosixPath(m.name.replace("\\", "/"))
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                assert src is not None
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
                written.append(target)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataFilesError(str(archive), f"cannot read the archive ({exc})", path=None) from None
    return written


# --------------------------------------------------------------------------- download
def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str, dest: str | Path, md5: str, log: Callable[[str], None] | None = None
) -> Path:
    """Download ``url`` to ``dest`` and check its MD5.

    A mismatch deletes the download and raises :class:`DataFilesError` naming the expected
    and the computed checksum; a network failure raises :class:`DownloadError`.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if log is not None:
        log(f"downloading {url}")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, part.open("wb") as out:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"cannot download {url}: {exc}") from None
    got = digest.hexdigest()
    if got != md5:
        part.unlink(missing_ok=True)
        raise DataFilesError(
            url,
            f"checksum mismatch for {dest.name}: expected md5 {md5}, got {got}; the download "
            "was deleted",
            path=None,
        )
    part.replace(dest)
    return dest


def _fetch(remote: Remote, folder: Path, log: Callable[[str], None]) -> Path:
    dest = folder / remote.filename
    if dest.is_file() and _md5(dest) == remote.md5:
        log(f"{dest} already downloaded (md5 ok)")
        return dest
    failures = []
    for url in remote.urls:
        try:
            return download_file(url, dest, remote.md5, log)
        except DownloadError as exc:
            failures.append(str(exc))
            log(f"  failed: {exc}")
    raise DownloadError("; ".join(failures))


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def download_dataset(
    name: str,
    root: str | Path,
    format: str | None = None,
    log: Callable[[str], None] = _stderr,
) -> RawSplits:
    """Download dataset ``name`` into ``root``, verify it and return what was read back.

    CIFAR-10 (``format`` ``binary``, the default, or ``python``): the archive is fetched,
    checked, safely extracted to ``root/cifar-10-batches-*`` and deleted. MNIST and
    Fashion-MNIST: the four ``.gz`` IDX files go to ``root/mnist`` or ``root/fashion_mnist``.
    Files already in place are not fetched again.
    """
    root = Path(root).expanduser()
    if name not in DOWNLOADS:
        raise DataFilesError(name, f"expected one of {sorted(DOWNLOADS)}", path=None)
    if name == "cifar10":
        fmt = format or "binary"
        if fmt not in DOWNLOADS[name]:
            raise DataFilesError("--format", f"expected binary or python, got {fmt!r}", path=None)
        folder = root / CIFAR_FOLDERS[fmt]
        if all((folder / f).is_file() for f in [*CIFAR_TRAIN[fmt], CIFAR_TEST[fmt]]):
            log(f"{folder} is already in place; checking it")
            return read_cifar10(root, fmt)
        root.mkdir(parents=True, exist_ok=True)
        (remote,) = DOWNLOADS[name][fmt]
        archive = _fetch(remote, root, log)
        log(f"extracting {archive.name}")
        safe_extract(archive, root)
        raw = read_cifar10(root, fmt)  # before deleting the archive: it must hold the data
        archive.unlink()
        return raw
    if format is not None:
        raise DataFilesError("--format", f"only cifar10 has formats; {name} is IDX", path=None)
    folder = root / IDX_SUBFOLDERS[name][0]
    folder.mkdir(parents=True, exist_ok=True)
    for remote in DOWNLOADS[name]["idx"]:
        _fetch(remote, folder, log)
    return read_idx_dataset(folder, name)


def check_dataset(name: str, root: str | Path, format: str | None = None) -> RawSplits:
    """Read dataset ``name`` under ``root`` (every file checked), or raise
    :class:`DataFilesError` saying what is missing or wrong."""
    if name == "cifar10":
        return read_cifar10(root, format or "auto")
    if format is not None:
        raise DataFilesError("--format", f"only cifar10 has formats; {name} is IDX", path=None)
    return read_idx_dataset(root, name)


def describe(raw: RawSplits, root: str | Path) -> str:
    """What was found, per split and class, and the scenario line that uses it."""
    fmt = f" ({raw.format} format)" if raw.name == "cifar10" else ""
    lines = [f"{TITLES[raw.name]}{fmt} in {raw.where}"]
    for split, y in (("train", raw.train_y), ("test", raw.test_y)):
        counts = np.bincount(y, minlength=NUM_CLASSES).tolist()
        lines.append(f"  {split}: {y.size} images; per class {counts}")
    root_abs = Path(root).expanduser().resolve()
    lines += [
        "use it in a scenario (a relative root is relative to the scenario file):",
        "  learning:",
        f"    dataset: {{kind: {raw.name}, root: {root_abs}}}",
    ]
    return "\n".join(lines)
