"""Partition a training set over devices (pure numpy).

Every partitioner returns a list of ``n_devices`` int64 index arrays, each sorted, pairwise
disjoint; ``iid`` and ``dirichlet`` use every sample, ``shards`` too (shard sizes differ by
at most one). All randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fedsl_registry import Registry

__all__ = ["PARTITIONS", "dirichlet", "iid", "partition", "shards"]

PARTITIONS: Registry[list[np.ndarray]] = Registry("partition")


def _labels(labels: Any) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array; got shape {y.shape}")
    return y


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        rng_txt = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an int {rng_txt}; got {value!r}")
    return int(value)


def _finish(parts: list[np.ndarray]) -> list[np.ndarray]:
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


@PARTITIONS.register("iid")
def iid(labels: np.ndarray, n_devices: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random equal-size shards: sizes ``⌊N/n⌋`` or ``⌈N/n⌉``, labels ignored.

    Parameters
    ----------
    labels : array of int, shape (N,)
    n_devices : int
        Number of devices, in ``[1, N]``.
    rng : np.random.Generator
    """
    y = _labels(labels)
    n = _check_int("n_devices", n_devices, 1, y.size)
    return _finish(np.array_split(rng.permutation(y.size), n))


@PARTITIONS.register("dirichlet")
def dirichlet(
    labels: np.ndarray,
    n_devices: int,
    alpha: float,
    rng: np.random.Generator,
    min_samples: int = 1,
    max_attempts: int = 1000,
) -> list[np.ndarray]:
    """Label-skewed split: per class, device proportions ``p ~ Dir(alpha·1_n)``.

    For each class (increasing label order) its indices are shuffled and cut at
    ``⌊cumsum(p)·n_c⌋``. The whole draw is repeated until every device holds at least
    ``min_samples`` samples. Smaller ``alpha`` ⇒ more skew; ``alpha → ∞`` ⇒ iid-like.

    Parameters
    ----------
    labels : array of int, shape (N,)
    n_devices : int
        Number of devices, >= 1.
    alpha : float
        Dirichlet concentration, > 0.
    rng : np.random.Generator
    min_samples : int
        Minimum samples per device, >= 0, with ``n_devices·min_samples <= N``.
    max_attempts : int
        Redraws before giving up with ValueError (>= 1).
    """
    y = _labels(labels)
    n = _check_int("n_devices", n_devices, 1)
    if not (isinstance(alpha, numbers.Real) and alpha > 0 and np.isfinite(alpha)):
        raise ValueError(f"alpha must be a finite number > 0; got {alpha!r}")
    min_samples = _check_int("min_samples", min_samples, 0)
    max_attempts = _check_int("max_attempts", max_attempts, 1)
    if n * min_samples > y.size:
        raise ValueError(
            f"min_samples={min_samples} for n_devices={n} needs {n * min_samples} samples; "
            f"the dataset has {y.size}"
        )
    classes = np.unique(y)
    by_class = [np.flatnonzero(y == c) for c in classes]
    smallest = 0
    for _ in range(max_attempts):
        parts: list[list[np.ndarray]] = [[] for _ in range(n)]
        for idx in by_class:
            idx = rng.permutation(idx)
            p = rng.dirichlet(np.full(n, float(alpha)))
            cuts = (np.cumsum(p)[:-1] * idx.size).astype(np.int64)
            for k, piece in enumerate(np.split(idx, cuts)):
                parts[k].append(piece)
        merged = [np.concatenate(pk) for pk in parts]
        smallest = min(m.size for m in merged)
        if smallest >= min_samples:
            return _finish(merged)
    raise ValueError(
        f"dirichlet partition: no draw in {max_attempts} attempts gave every device "
        f">= min_samples={min_samples} samples (last draw's smallest device: {smallest}) "
        f"with alpha={alpha}, n_devices={n}, {y.size} samples in {classes.size} classes; "
        "raise alpha, lower min_samples or n_devices, or use more data"
    )


@PARTITIONS.register("shards")
def shards(
    labels: np.ndarray, n_devices: int, shards_per_device: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Pathological non-iid split (McMahan et al. 2017): sort by label, deal out shards.

    Indices are sorted by label (stable, so ties keep index order), cut into
    ``n_devices·shards_per_device`` contiguous shards (sizes differ by at most one), and
    each device receives ``shards_per_device`` shards chosen by a random permutation.

    Parameters
    ----------
    labels : array of int, shape (N,)
    n_devices : int
        >= 1.
    shards_per_device : int
        >= 1, with ``n_devices·shards_per_device <= N``.
    rng : np.random.Generator
    """
    y = _labels(labels)
    n = _check_int("n_devices", n_devices, 1)
    k = _check_int("shards_per_device", shards_per_device, 1)
    if n * k > y.size:
        raise ValueError(
            f"n_devices·shards_per_device must be <= the number of samples ({y.size}); "
            f"got {n}·{k} = {n * k}"
        )
    cut = np.array_split(np.argsort(y, kind="stable"), n * k)
    order = rng.permutation(n * k)
    return _finish([np.concatenate([cut[s] for s in order[i * k : (i + 1) * k]]) for i in range(n)])


def partition(
    kind: str, labels: np.ndarray, n_devices: int, rng: np.random.Generator, **params: Any
) -> list[np.ndarray]:
    """Run the partitioner registered as ``kind`` (``PARTITIONS.names()``) with ``params``."""
    return PARTITIONS.make(kind, labels=labels, n_devices=n_devices, rng=rng, **params)
