"""Partitioners: disjoint, covering, sizes, label skew, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsl_sim.learning.partition import PARTITIONS, dirichlet, iid, partition, shards

LABELS = np.repeat(np.arange(10), 100)  # 1 000 samples, 100 per class


def assert_disjoint_cover(parts: list[np.ndarray], n_samples: int) -> None:
    for p in parts:
        assert p.dtype == np.int64
        assert np.all(np.diff(p) > 0)  # sorted, no duplicates
    merged = np.concatenate(parts)
    assert merged.size == n_samples  # disjoint (given the cover below)
    assert np.array_equal(np.sort(merged), np.arange(n_samples))


def label_skew(parts: list[np.ndarray], labels: np.ndarray) -> float:
    """Mean total-variation distance between a device's label mix and the global one."""
    k = labels.max() + 1
    glob = np.bincount(labels, minlength=k) / labels.size
    tv = [0.5 * np.abs(np.bincount(labels[p], minlength=k) / p.size - glob).sum() for p in parts]
    return float(np.mean(tv))


def test_registry() -> None:
    assert PARTITIONS.names() == ["dirichlet", "iid", "shards"]
    parts = partition("dirichlet", LABELS, 5, np.random.default_rng(0), alpha=1.0)
    assert len(parts) == 5
    assert_disjoint_cover(parts, LABELS.size)


def test_iid_sizes() -> None:
    labels = np.zeros(103, dtype=np.int64)
    parts = iid(labels, 10, np.random.default_rng(0))
    # 103 = 3·11 + 7·10
    assert sorted(p.size for p in parts) == [10] * 7 + [11] * 3
    assert_disjoint_cover(parts, 103)


def test_iid_mixes_labels() -> None:
    parts = iid(LABELS, 10, np.random.default_rng(0))
    assert label_skew(parts, LABELS) < 0.2


@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(1, 300),
    n_classes=st.integers(1, 6),
    n_devices=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_iid_and_shards_disjoint_cover(
    n_samples: int, n_classes: int, n_devices: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_samples)
    n_devices = min(n_devices, n_samples)
    parts = iid(labels, n_devices, rng)
    assert len(parts) == n_devices
    assert_disjoint_cover(parts, n_samples)
    k = max(1, n_samples // (2 * n_devices))
    parts = shards(labels, n_devices, k, rng)
    assert len(parts) == n_devices
    assert_disjoint_cover(parts, n_samples)


@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(20, 300),
    n_classes=st.integers(1, 6),
    n_devices=st.integers(1, 10),
    alpha=st.floats(0.05, 100.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_dirichlet_disjoint_cover(
    n_samples: int, n_classes: int, n_devices: int, alpha: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_samples)
    parts = dirichlet(labels, n_devices, alpha, rng, min_samples=0)
    assert len(parts) == n_devices
    assert_disjoint_cover(parts, n_samples)


def test_dirichlet_min_samples_is_met() -> None:
    parts = dirichlet(LABELS, 20, 0.3, np.random.default_rng(1), min_samples=10)
    assert min(p.size for p in parts) >= 10
    assert_disjoint_cover(parts, LABELS.size)


def test_dirichlet_skew_grows_as_alpha_shrinks() -> None:
    def mean_skew(alpha: float) -> float:
        return np.mean(
            [
                label_skew(dirichlet(LABELS, 10, alpha, np.random.default_rng(s)), LABELS)
                for s in range(5)
            ]
        )

    skews = [mean_skew(a) for a in (100.0, 1.0, 0.1)]
    assert skews[0] < skews[1] < skews[2]
    # α = 100: each device near the global mix; α = 0.1: mostly one or two classes per device
    assert skews[0] < 0.15 and skews[2] > 0.5


def test_dirichlet_impossible_min_samples() -> None:
    labels = np.repeat(np.arange(2), 10)
    # α = 0.01 puts almost each class on one device: 10 devices cannot all get >= 2
    with pytest.raises(ValueError, match=r"alpha=0.01.*min_samples=2|min_samples=2.*alpha=0.01"):
        dirichlet(labels, 10, 0.01, np.random.default_rng(0), min_samples=2, max_attempts=50)
    with pytest.raises(ValueError, match="needs 30 samples; the dataset has 20"):
        dirichlet(labels, 10, 1.0, np.random.default_rng(0), min_samples=3)


def test_shards_give_few_labels_per_device() -> None:
    parts = shards(LABELS, 5, 2, np.random.default_rng(0))
    # 1 000 samples sorted by label → 10 shards of 100, each one class; 2 shards per device
    assert [p.size for p in parts] == [200] * 5
    assert all(np.unique(LABELS[p]).size <= 2 for p in parts)
    assert_disjoint_cover(parts, LABELS.size)


@pytest.mark.parametrize(
    ("fn", "kwargs"),
    [
        (iid, {}),
        (dirichlet, {"alpha": 0.5}),
        (shards, {"shards_per_device": 3}),
    ],
)
def test_deterministic_given_rng(fn, kwargs: dict) -> None:
    a = fn(LABELS, 7, rng=np.random.default_rng(11), **kwargs)
    b = fn(LABELS, 7, rng=np.random.default_rng(11), **kwargs)
    c = fn(LABELS, 7, rng=np.random.default_rng(12), **kwargs)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_invalid_parameters() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"n_devices must be an int in \[1, 1000\]; got 0"):
        iid(LABELS, 0, rng)
    with pytest.raises(ValueError, match=r"n_devices must be an int in \[1, 1000\]; got 1001"):
        iid(LABELS, 1001, rng)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0; got 0"):
        dirichlet(LABELS, 3, 0, rng)
    with pytest.raises(ValueError, match=r"shards_per_device must be an int >= 1; got 0"):
        shards(LABELS, 3, 0, rng)
    with pytest.raises(ValueError, match=r"<= the number of samples \(1000\); got 10·101"):
        shards(LABELS, 10, 101, rng)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        iid(np.zeros((2, 2)), 1, rng)
