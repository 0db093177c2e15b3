"""Large-scale path-loss models behind one protocol, and their registry.

A model is built by name (``make("log_distance", fc_hz=3.5e9, exponent=3.5)``); callers use
the public ``loss_db`` / ``los_probability``, subclasses override ``_loss_db`` (and
``los_probability`` when they distinguish LOS from NLOS). Adding a model is one subclass plus
``@MODELS.register("name")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.registry import Registry
from channels.units import SPEED_OF_LIGHT_MPS

MODELS: Registry[PathLossModel] = Registry("path-loss model")


def make(name: str, /, **params: Any) -> PathLossModel:
    """Build the path-loss model registered as ``name`` (see ``MODELS.names()``)."""
    return MODELS.make(name, **params)


def friis_loss_db(d_m: ArrayLike, fc_hz: float) -> Any:
    """Free-space (Friis) loss ``20·log10(4π·d·fc / c)``, dB, without any distance clamp.

    ``d_m`` in metres (> 0), ``fc_hz`` in Hz (> 0).
    """
    d = np.asarray(d_m, dtype=np.float64)
    return 20.0 * np.log10(4.0 * np.pi * d * fc_hz / SPEED_OF_LIGHT_MPS)


class PathLossModel:
    """Base class: distance -> path loss in dB.

    Subclasses implement ``_loss_db``; the public ``loss_db`` validates the distances first.
    """

    def loss_db(self, d2d_m: ArrayLike, los: ArrayLike = True) -> NDArray[np.float64]:
        """Path loss, dB (positive = attenuation).

        Parameters
        ----------
        d2d_m : float or array
            Horizontal transmitter-receiver distance, metres, >= 0 (see each model for the
            clamp applied at short range).
        los : bool or bool array
            Line-of-sight state, broadcast against ``d2d_m``; ignored by models that do not
            distinguish LOS and NLOS.

        Returns
        -------
        ndarray
            Same shape as ``d2d_m`` (0-d for a scalar), dB.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        return np.asarray(self._loss_db(d, np.asarray(los, dtype=bool)), dtype=np.float64)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        raise NotImplementedError

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Probability of line of sight at horizontal distance ``d2d_m`` (metres, >= 0).

        Returns an array of ``d2d_m``'s shape; 1.0 everywhere for models without LOS/NLOS.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        return np.ones_like(d)


@MODELS.register("free_space")
class FreeSpace(PathLossModel):
    """Friis free-space loss ``PL(d) = 20·log10(4π·d·fc / c)`` dB.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0.

    Distances below ``MIN_DISTANCE_M`` (1 m) are clamped to 1 m: the far-field formula
    would otherwise predict a gain (negative loss) and -inf at 0 m.
    """

    MIN_DISTANCE_M = 1.0

    def __init__(self, fc_hz: float) -> None:
        self.fc_hz = _validate.positive("fc_hz", fc_hz)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        return friis_loss_db(np.maximum(d2d_m, self.MIN_DISTANCE_M), self.fc_hz)

    def __repr__(self) -> str:
        return f"FreeSpace(fc_hz={self.fc_hz!r})"


@MODELS.register("log_distance")
class LogDistance(PathLossModel):
    """Log-distance loss ``PL(d) = PL0 + 10·n·log10(d / d0)`` dB.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0 (used for the default ``pl0_db``).
    exponent : float
        Path-loss exponent n, > 0 (2 = free space, 2.7-3.5 urban, 3-5 shadowed urban).
    d0_m : float
        Reference distance, metres, > 0. Distances below d0 are clamped to d0 (the model is
        only valid in the far field beyond the reference distance).
    pl0_db : float or None
        Loss at d0, dB; ``None`` = free-space (Friis) loss at d0 and ``fc_hz``.
    """

    def __init__(
        self, fc_hz: float, exponent: float, d0_m: float = 1.0, pl0_db: float | None = None
    ) -> None:
        self.fc_hz = _validate.positive("fc_hz", fc_hz)
        self.exponent = _validate.positive("exponent", exponent)
        self.d0_m = _validate.positive("d0_m", d0_m)
        self.pl0_db = (
            float(friis_loss_db(self.d0_m, self.fc_hz))
            if pl0_db is None
            else _validate.finite("pl0_db", pl0_db)
        )

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        d = np.maximum(d2d_m, self.d0_m)
        return self.pl0_db + 10.0 * self.exponent * np.log10(d / self.d0_m)

    def __repr__(self) -> str:
        return (
            f"LogDistance(fc_hz={self.fc_hz!r}, exponent={self.exponent!r}, "
            f"d0_m={self.d0_m!r}, pl0_db={self.pl0_db!r})"
        )
