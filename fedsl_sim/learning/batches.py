"""Endless mini-batch index stream for one device."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["BatchStream"]


class BatchStream:
    """Endless stream of mini-batches of dataset indices, reshuffled every epoch.

    Each epoch is a permutation of ``indices`` drawn from ``rng``; it yields
    ``len(indices) // b`` consecutive full batches of ``b = min(batch_size, len(indices))``
    indices, and the incomplete tail is dropped (the next epoch reshuffles everything). The
    sequence of batches depends only on ``(indices, batch_size)`` and the state of ``rng``
    at construction: the stream owns ``rng`` and must be its only user. The first epoch is
    shuffled at construction, later epochs when the previous one is exhausted.

    Parameters
    ----------
    indices : np.ndarray
        1-D, non-empty dataset indices (e.g. one device's partition).
    batch_size : int
        >= 1; capped at ``len(indices)``.
    rng : np.random.Generator

    Attributes
    ----------
    epoch : int
        0-based epoch of the most recently returned batch (0 before the first call).
    """

    def __init__(self, indices: np.ndarray, batch_size: int, rng: np.random.Generator) -> None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                f"indices must be a non-empty 1-D integer array; got {idx.dtype} {idx.shape}"
            )
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
            or (batch_size < 1)
        ):
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        self._indices = idx.astype(np.int64, copy=True)
        self._rng = rng
        self.batch_size = min(int(batch_size), idx.size)
        self.epoch = 0
        self._order = self._rng.permutation(self._indices)
        self._pos = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full batches per epoch, ``len(indices) // batch_size``."""
        return self._indices.size // self.batch_size

    def next(self) -> np.ndarray:
        """The next batch: int64 array of ``batch_size`` distinct dataset indices."""
        if self._pos + self.batch_size > self._order.size:
            self._order = self._rng.permutation(self._indices)
            self._pos = 0
            self.epoch += 1
        batch = self._order[self._pos : self._pos + self.batch_size].copy()
        self._pos += self.batch_size
        return batch

    __next__ = next

    def __iter__(self) -> BatchStream:
        return self
