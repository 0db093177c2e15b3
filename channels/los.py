"""Spatially consistent LOS/NLOS state per link (for the 3GPP models of
:mod:`channels.pathloss`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate

if TYPE_CHECKING:
    pass


class LosState:
    """LOS/NLOS state of each link, kept while the device moves less than a correlation distance.

    A simple spatially consistent procedure in the spirit of TR 38.901 §7.6.3 (there: a
    spatially correlated uniform variable compared with the LOS probability, correlation
    distance of Table 7.6.3.1-2): on the first :meth:`update` every link draws its state,
    LOS with probability ``model.los_probability(d2D)``; afterwards a link keeps its state and
    re-draws it (fresh uniform, probability at the *current* distance) only once its device
    is more than ``corr_distance_m`` (straight-line displacement) away from where it last
    drew. So a device moving at speed v re-draws about every ``corr_distance_m / v`` seconds,
    and one that wanders inside a ``corr_distance_m`` disc keeps its state.

    Parameters
    ----------
    model : path-loss model
        Anything with ``los_probability(d2d_m)`` (e.g. :class:`UMa`); its
        ``los_corr_distance_m`` is the default correlation distance.
    n_links : int
        Number of links (devices), >= 1.
    rng : numpy.random.Generator
        Source of the draws: one uniform per link that (re-)draws, in link order.
    corr_distance_m : float or None
        Correlation distance, metres, > 0; ``None`` = ``model.los_corr_distance_m``.
    """

    def __init__(
        self,
        model: Any,
        n_links: int,
        rng: np.random.Generator,
        corr_distance_m: float | None = None,
    ) -> None:
        if not callable(getattr(model, "los_probability", None)):
            raise TypeError(f"model must have a los_probability method, got {model!r}")
        self.model = model
        self.n_links = _validate.integer("n_links", n_links, 1)
        self.rng = _validate.generator("rng", rng)
        if corr_distance_m is None:
            corr_distance_m = getattr(model, "los_corr_distance_m", None)
            if corr_distance_m is None:
                raise ValueError(
                    f"corr_distance_m must be given (finite, > 0 m): {model!r} has no "
                    "los_corr_distance_m, got None"
                )
        self.corr_distance_m = _validate.positive("corr_distance_m", corr_distance_m)
        self._los = np.zeros(self.n_links, dtype=bool)
        self._anchor_m = np.zeros((self.n_links, 2))
        self._drawn = False

    @property
    def los(self) -> NDArray[np.bool_]:
        """Current state per link (a copy), shape (n_links,); all False before any update."""
        return self._los.copy()

    def update(
        self, positions_m: ArrayLike, bs_position_m: ArrayLike = (0.0, 0.0)
    ) -> NDArray[np.bool_]:
        """Advance to the devices' ``positions_m`` (n_links, 2) metres; return the LOS states.

        ``bs_position_m`` : (2,) metres, the BS the 2-D distances are measured to.
        Returns a bool array of shape (n_links,) (True = LOS).
        """
        pos = np.asarray(positions_m, dtype=np.float64)
        if pos.shape != (self.n_links, 2) or not np.all(np.isfinite(pos)):
            raise ValueError(
                f"positions_m must be a finite array of shape ({self.n_links}, 2) metres, "
                f"got shape {pos.shape}"
                + ("" if np.all(np.isfinite(pos)) else " with non-finite values")
            )
        bs = np.asarray(bs_position_m, dtype=np.float64)
        if bs.shape != (2,) or not np.all(np.isfinite(bs)):
            raise ValueError(f"bs_position_m must be 2 finite metres (x, y), got {bs_position_m!r}")
        if self._drawn:
            moved = np.hypot(*(pos - self._anchor_m).T)
            redraw = np.flatnonzero(moved > self.corr_distance_m)
        else:
            redraw = np.arange(self.n_links)
            self._drawn = True
        if redraw.size:
            d2d = np.hypot(*(pos[redraw] - bs).T)
            p_los = np.asarray(self.model.los_probability(d2d), dtype=np.float64)
            self._los[redraw] = self.rng.random(redraw.size) < p_los
            self._anchor_m[redraw] = pos[redraw]
        return self._los.copy()

    def __repr__(self) -> str:
        return (
            f"LosState(model={self.model!r}, n_links={self.n_links!r}, "
            f"corr_distance_m={self.corr_distance_m!r})"
        )
