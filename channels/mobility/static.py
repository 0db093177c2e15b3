"""Static devices."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.mobility.base import MODELS, MobilityModel, _positions_array, _times_array


@MODELS.register("static")
class Static(MobilityModel):
    """Devices that never move.

    Parameters
    ----------
    positions_m : array (n, 2)
        Positions, metres (finite).
    """

    def __init__(self, positions_m: ArrayLike) -> None:
        self._positions_m = _positions_array("positions_m", positions_m)
        self._positions_m.flags.writeable = False
        self.n = self._positions_m.shape[0]

    def position(self, t_s: float) -> NDArray[np.float64]:
        _validate.nonnegative("t_s", t_s)
        return self._positions_m.copy()

    def speed(self, t_s: float) -> NDArray[np.float64]:
        _validate.nonnegative("t_s", t_s)
        return np.zeros(self.n, dtype=np.float64)

    def travelled_m(self, t_s: float) -> NDArray[np.float64]:
        _validate.nonnegative("t_s", t_s)
        return np.zeros(self.n, dtype=np.float64)

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        times = _times_array(times_s)
        return np.broadcast_to(self._positions_m, (len(times), self.n, 2)).copy()

    def speeds(self, times_s: ArrayLike) -> NDArray[np.float64]:
        return np.zeros((len(_times_array(times_s)), self.n))

    def travelled(self, times_s: ArrayLike) -> NDArray[np.float64]:
        return np.zeros((len(_times_array(times_s)), self.n))

    def __repr__(self) -> str:
        return f"Static(n={self.n})"
