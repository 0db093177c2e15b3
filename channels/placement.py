"""Initial device placement around a base station at the origin."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from channels import _validate


def uniform_disc(
    rng: np.random.Generator, n: int, radius_m: float, min_distance_m: float = 0.0
) -> NDArray[np.float64]:
    """``n`` points uniform over the annulus ``min_distance_m <= r <= radius_m`` (origin centre).

    Uniform in area: the radius has CDF ``(r² - r0²) / (R² - r0²)``, the angle is uniform.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draws (2·n uniforms).
    n : int
        Number of points, >= 0.
    radius_m : float
        Outer radius R, metres, > 0.
    min_distance_m : float
        Inner radius r0 (e.g. the minimum distance to the base station), metres,
        0 <= r0 <= R.

    Returns
    -------
    ndarray (n, 2)
        Positions, metres.
    """
    _validate.generator("rng", rng)
    n = _validate.integer("n", n, 0)
    r_out = _validate.positive("radius_m", radius_m)
    r_in = _validate.nonnegative("min_distance_m", min_distance_m)
    if r_in > r_out:
        raise ValueError(f"min_distance_m must be <= radius_m={r_out!r}, got {min_distance_m!r}")
    u = rng.uniform(0.0, 1.0, (n, 2))
    r = np.sqrt(r_in**2 + u[:, 0] * (r_out**2 - r_in**2))
    theta = 2.0 * math.pi * u[:, 1]
    return np.column_stack((r * np.cos(theta), r * np.sin(theta)))
