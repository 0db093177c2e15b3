"""Log-normal shadowing: a zero-mean Gaussian term in dB added to the path gain."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from channels import _validate


class LogNormalShadowing:
    """Log-normal shadowing, ``X ~ N(0, std_db²)`` in dB.

    Parameters
    ----------
    std_db : float
        Standard deviation, dB, >= 0 (0 switches shadowing off; typical 4-10 dB).
    """

    def __init__(self, std_db: float) -> None:
        self.std_db = _validate.nonnegative("std_db", std_db)

    def sample_db(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Draw shadowing values, dB, array of shape ``size``.

        With ``std_db == 0`` returns exact zeros and consumes no randomness from ``rng``.
        """
        _validate.generator("rng", rng)
        if self.std_db == 0.0:
            return np.zeros(size, dtype=np.float64)
        return rng.normal(0.0, self.std_db, size)

    def __repr__(self) -> str:
        return f"LogNormalShadowing(std_db={self.std_db!r})"
