"""Log-normal shadowing in dB: independent draws, or correlated along each trajectory."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

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


def _per_link(name: str, value: ArrayLike, n_links: int, positive: bool) -> NDArray[np.float64]:
    """``value`` (a float or an (n_links,) array) as an (n_links,) float64 array, validated."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        x = _validate.positive(name, value) if positive else _validate.nonnegative(name, value)
        return np.full(n_links, x)
    if arr.shape != (n_links,):
        raise ValueError(
            f"{name} must be a float or an array of shape ({n_links},), got shape {arr.shape}"
        )
    if positive:
        return _validate.positive_array(name, arr).copy()
    return _validate.nonnegative_array(name, arr).copy()


class CorrelatedShadowing:
    """Log-normal shadowing correlated along each device's trajectory (Gudmundson, 1991).

    Per link, an AR(1) process in the distance travelled: the first draw is ``N(0, σ²)``;
    after a link has moved ``Δd > 0`` metres,
    ``S_new = ρ·S_old + sqrt(1 - ρ²)·σ·N(0, 1)`` with ``ρ = exp(-Δd / d_corr)``, so
    ``corr(S(d), S(d + Δd)) = exp(-Δd / d_corr)`` and the marginal stays ``N(0, σ²)``.
    A link with ``Δd = 0`` (or σ = 0) keeps its value and consumes no randomness.
    This is also how ns-3's ``ThreeGppPropagationLossModel`` updates its shadowing.

    Parameters
    ----------
    std_db : float or array (n_links,)
        σ, dB, >= 0 (e.g. ``model.shadowing_std_db(los)``); 0 switches a link off.
    corr_distance_m : float or array (n_links,)
        Decorrelation distance d_corr, metres, > 0 (e.g. TR 38.901 Table 7.5-6:
        ``model.shadowing_corr_distance_m(los)``).
    n_links : int
        Number of links, >= 1.
    rng : numpy.random.Generator
        Source of the draws: one standard normal per link that draws, in link order.
    """

    def __init__(
        self,
        std_db: ArrayLike,
        corr_distance_m: ArrayLike,
        n_links: int,
        rng: np.random.Generator,
    ) -> None:
        self.n_links = _validate.integer("n_links", n_links, 1)
        self.std_db = _per_link("std_db", std_db, self.n_links, positive=False)
        self.corr_distance_m = _per_link(
            "corr_distance_m", corr_distance_m, self.n_links, positive=True
        )
        self.rng = _validate.generator("rng", rng)
        self._value_db: NDArray[np.float64] | None = None
        self._travelled_m = np.zeros(self.n_links)

    def _check_travelled(self, travelled_m: ArrayLike, ndim: int) -> NDArray[np.float64]:
        """``travelled_m`` as a (T, n_links) array (T = 1 for ``ndim == 1``), validated."""
        t = np.asarray(travelled_m, dtype=np.float64)
        shape = "(n_links,)" if ndim == 1 else "(T, n_links)"
        if t.ndim != ndim or t.shape[-1] != self.n_links:
            raise ValueError(
                f"travelled_m must have shape {shape} = {'(T, ' if ndim == 2 else '('}"
                f"{self.n_links}) (metres), got shape {t.shape}"
            )
        t = _validate.nonnegative_array("travelled_m", t).reshape(-1, self.n_links)
        if t.shape[0] == 0:
            return t
        start = self._travelled_m if self._value_db is not None else t[0]
        if np.any(np.diff(t, axis=0, prepend=start[None, :]) < 0.0):
            raise ValueError(
                "travelled_m must be non-decreasing per link (cumulative distance travelled, "
                "metres) from row to row and from call to call, got a decrease"
            )
        return t

    def _draw_mask(self, travelled_m: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Links that draw a normal when advancing to ``travelled_m`` (n_links,)."""
        if self._value_db is None:
            return self.std_db > 0.0
        return (travelled_m > self._travelled_m) & (self.std_db > 0.0)

    def _step(self, travelled_m: NDArray[np.float64], z: NDArray[np.float64]) -> None:
        """Advance to ``travelled_m`` (n_links,) with one normal in ``z`` per drawing link."""
        draw = self._draw_mask(travelled_m)
        sigma = self.std_db[draw]
        if self._value_db is None:
            value = np.zeros(self.n_links)
            value[draw] = sigma * z
        else:
            x = (travelled_m[draw] - self._travelled_m[draw]) / self.corr_distance_m[draw]
            value = self._value_db.copy()
            # sqrt(1 - ρ²) as sqrt(-expm1(-2x)): accurate for short steps
            value[draw] = np.exp(-x) * value[draw] + np.sqrt(-np.expm1(-2.0 * x)) * (sigma * z)
        self._value_db = value
        self._travelled_m = travelled_m.copy()

    def sample_db(self, travelled_m: ArrayLike) -> NDArray[np.float64]:
        """Shadowing, dB, shape (n_links,), once each link has travelled ``travelled_m``.

        ``travelled_m`` : (n_links,) cumulative distance each device has travelled, metres,
        >= 0 and non-decreasing from call to call (the first call only sets the origin).
        """
        t = self._check_travelled(travelled_m, ndim=1)[0]
        self._step(t, self.rng.standard_normal(int(self._draw_mask(t).sum())))
        return np.array(self._value_db, dtype=np.float64)

    def sample_path_db(self, travelled_m: ArrayLike) -> NDArray[np.float64]:
        """Shadowing, dB, shape (T, n_links), along a whole sequence of travelled distances.

        ``travelled_m`` : (T, n_links) metres, non-decreasing down each column (and from the
        previous call). Same values and same random stream as T successive
        :meth:`sample_db` calls, row by row: the normals of all rows are drawn in one call,
        then the recursion runs over T, each step vectorized over the links.
        """
        t = self._check_travelled(travelled_m, ndim=2)
        out = np.empty(t.shape)
        if t.shape[0] == 0:
            return out
        # which links draw on which row is known in advance: a strict increase and sigma > 0
        prev = self._travelled_m if self._value_db is not None else t[0]
        masks = np.diff(t, axis=0, prepend=prev[None, :]) > 0.0
        if self._value_db is None:
            masks[0] = True
        masks &= self.std_db > 0.0
        counts = masks.sum(axis=1)
        ends = np.cumsum(counts)
        z = self.rng.standard_normal(int(ends[-1]))
        for i in range(t.shape[0]):
            self._step(t[i], z[ends[i] - counts[i] : ends[i]])
            out[i] = self._value_db
        return out

    def __repr__(self) -> str:
        return (
            f"CorrelatedShadowing(std_db={self.std_db!r}, "
            f"corr_distance_m={self.corr_distance_m!r}, n_links={self.n_links!r})"
        )
