"""Unit conversions (dB, dBm, watts) and thermal noise: every conversion lives here.

All functions accept a scalar or an array and return the same (a numpy scalar for a scalar
input, an array of the input's shape otherwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from channels import _validate

SPEED_OF_LIGHT_MPS = 299_792_458.0
"""Speed of light in vacuum, m/s (exact by definition of the metre)."""

_DBM_OFFSET_DB = 30.0  # 1 W = 30 dBm


def db_to_linear(x_db: ArrayLike) -> Any:
    """Power ratio in dB -> linear: ``10**(x_db / 10)``. Valid for any real x_db."""
    return np.power(10.0, np.asarray(x_db, dtype=np.float64) / 10.0)


def linear_to_db(x: ArrayLike) -> Any:
    """Linear power ratio -> dB: ``10·log10(x)``.

    Valid for x >= 0 (x = 0 gives -inf); a negative or NaN x raises ``ValueError``.
    """
    values = np.asarray(x, dtype=np.float64)
    bad = ~(values >= 0.0)
    if np.any(bad):
        raise ValueError(f"x must be >= 0 to convert to dB, got {values[bad].flat[0]!r}")
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(values)


def dbm_to_w(p_dbm: ArrayLike) -> Any:
    """Power in dBm -> watts: ``10**((p_dbm - 30) / 10)``."""
    return db_to_linear(np.asarray(p_dbm, dtype=np.float64) - _DBM_OFFSET_DB)


def w_to_dbm(p_w: ArrayLike) -> Any:
    """Power in watts -> dBm: ``10·log10(p_w) + 30``. Valid for p_w >= 0 (0 W gives -inf)."""
    return linear_to_db(p_w) + _DBM_OFFSET_DB


def noise_power_w(
    bandwidth_hz: ArrayLike, noise_figure_db: ArrayLike, n0_dbm_per_hz: ArrayLike = -174.0
) -> Any:
    """Thermal noise power ``N0·B·NF`` in watts.

    Parameters
    ----------
    bandwidth_hz : float or array
        Receiver bandwidth, Hz, > 0.
    noise_figure_db : float or array
        Receiver noise figure, dB.
    n0_dbm_per_hz : float or array
        Noise power spectral density, dBm/Hz (-174 dBm/Hz is kT at 290 K).

    Returns
    -------
    float or array
        ``dbm_to_w(n0_dbm_per_hz + 10·log10(bandwidth_hz) + noise_figure_db)``, watts.
    """
    b_hz = _validate.positive_array("bandwidth_hz", bandwidth_hz)
    nf_db = np.asarray(noise_figure_db, dtype=np.float64)
    n0 = np.asarray(n0_dbm_per_hz, dtype=np.float64)
    return dbm_to_w(n0 + 10.0 * np.log10(b_hz) + nf_db)
