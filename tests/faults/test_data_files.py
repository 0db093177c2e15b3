"""Hostile dataset files: sizes are checked against the file before anything is allocated,
the CIFAR unpickler cannot be made to walk a self-referencing structure, and decompression is
bounded."""

from __future__ import annotations

import gzip
import io
import struct

import numpy as np
import pytest
from datafixtures import py2_pickle

from fedsl_sim.learning import datafiles
from fedsl_sim.learning.datafiles import (
    DataFilesError,
    load_cifar_python_batch,
    parse_idx,
)


def test_idx_dimensions_whose_product_wraps_are_refused():
    # 2^31 * 2^31 * 4 = 2^64: wraps to 0 in int64, which matched an empty body
    header = struct.pack(">I", 0x0803) + struct.pack(">3I", 2**31, 2**31, 4)
    with pytest.raises(DataFilesError, match="expected .* bytes for an IDX array of shape"):
        parse_idx(header, "images.idx", 3)


def test_a_self_referencing_label_list_is_refused_at_once():
    # a 1000-wide list of itself: numpy would walk it to its maximum depth (MemoryError after
    # tens of seconds); the pickle is a few KB
    labels: list = []
    labels.extend([labels] * 1000)
    blob = py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": labels})
    assert len(blob) < 10_000
    with pytest.raises(DataFilesError, match="expected 1 integer labels, got list of length 1000"):
        load_cifar_python_batch(io.BytesIO(blob), "data_batch_1")


def test_a_genuine_label_list_still_reads():
    blob = py2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 7]})
    x, y = load_cifar_python_batch(io.BytesIO(blob), "data_batch_1")
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 7]


def test_decompression_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(datafiles, "MAX_DATA_FILE_BYTES", 10_000)
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(bytes(50_000)))
    with pytest.raises(DataFilesError, match="larger than"):
        datafiles._read_maybe_gz(bomb)
