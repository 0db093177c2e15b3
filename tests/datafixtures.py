"""Tiny datasets written in the real on-disk formats: CIFAR-10 binary and Python batches, IDX
files (plain or gzipped) and tar.gz archives laid out like the official downloads."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CIFAR_PER_BATCH = 20  # 5 train batches -> 100 train images, 20 test images
MNIST_TRAIN, MNIST_TEST = 60, 20


@dataclass(frozen=True)
class Arrays:
    """uint8 images (N, C, H, W) and int64 labels of a fixture."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def _images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    x[:, 0, 0, 0] = 0  # every value of 0..255 occurs (normalisation end points are tested)
    x[:, 0, 0, 1] = 255
    return x


def _balanced(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.permutation(np.arange(n, dtype=np.int64) % 10)


def cifar_arrays(seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    n_train = 5 * CIFAR_PER_BATCH
    return Arrays(
        _images(rng, n_train, (3, 32, 32)),
        _balanced(rng, n_train),
        _images(rng, CIFAR_PER_BATCH, (3, 32, 32)),
        _balanced(rng, CIFAR_PER_BATCH),
    )


def mnist_arrays(seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    return Arrays(
        _images(rng, MNIST_TRAIN, (1, 28, 28)),
        _balanced(rng, MNIST_TRAIN),
        _images(rng, MNIST_TEST, (1, 28, 28)),
        _balanced(rng, MNIST_TEST),
    )


def _batches(a: Arrays) -> list[tuple[str, np.ndarray, np.ndarray]]:
    k = CIFAR_PER_BATCH
    out = [
        (f"data_batch_{i + 1}", a.train_x[i * k : (i + 1) * k], a.train_y[i * k : (i + 1) * k])
        for i in range(5)
    ]
    return [*out, ("test_batch", a.test_x, a.test_y)]


def write_cifar_binary(folder: Path, a: Arrays) -> Path:
    """``folder`` gets data_batch_1..5.bin and test_batch.bin (label byte + R, G, B planes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, x, y in _batches(a):
        rec = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(y), -1)], axis=1)
        (folder / f"{name}.bin").write_bytes(rec.tobytes())
    return folder


class _Py2Pickler(pickle._Pickler):  # type: ignore[misc,name-defined]
    """Writes bytes as Python 2 ``str`` (SHORT_BINSTRING / BINSTRING), as the cPickle that
    made the official batches did, instead of Python 3's ``_codecs.encode`` calls."""

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]
    dispatch[bytes] = save_bytes


def py2_pickle(obj: object) -> bytes:
    """``obj`` pickled as Python 2 with numpy 1.x wrote it (protocol 2, ``numpy.core``)."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"cnumpy._core.", b"cnumpy.core.")


def write_cifar_python(folder: Path, a: Arrays, protocol: int | str = 2) -> Path:
    """``folder`` gets data_batch_1..5 and test_batch: the genuine dict structure, pickled
    with ``protocol`` (``"py2"``: as the official files, see :func:`py2_pickle`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, x, y in _batches(a):
        batch = {
            b"batch_label": f"{name} of 6".encode(),
            b"labels": [int(v) for v in y],
            b"data": x.reshape(len(y), 3072).copy(),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(y))],
        }
        if protocol == "py2":
            (folder / name).write_bytes(py2_pickle(batch))
        else:
            (folder / name).write_bytes(pickle.dumps(batch, protocol=int(protocol)))
    return folder


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000080<ndim>, big-endian dims, data."""
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_idx_set(folder: Path, a: Arrays, gz: bool = False) -> Path:
    """The four MNIST files in ``folder`` (``.gz`` when ``gz``)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": a.train_x[:, 0],
        "train-labels-idx1-ubyte": a.train_y.astype(np.uint8),
        "t10k-images-idx3-ubyte": a.test_x[:, 0],
        "t10k-labels-idx1-ubyte": a.test_y.astype(np.uint8),
    }
    for name, arr in files.items():
        data = idx_bytes(arr)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


def make_tar_gz(archive: Path, folder: Path) -> Path:
    """``archive`` holding ``folder`` under its own name, as the official archives do."""
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=folder.name)
    return archive
