"""Mobility models: device positions, speeds and travelled distances over time; their registry.

A model is built by name (``make("random_waypoint", n=10, area_m=(500, 500),
speed_mps=(1, 3), rng=rng)``). ``position(t_s)``, ``speed(t_s)`` and ``travelled_m(t_s)`` may
be queried at any t_s >= 0 in any order and are deterministic given the construction
arguments; ``positions``, ``speeds`` and ``travelled`` are the same over an array of times
(equal to stacking the scalar queries).

Models: ``static``, ``random_waypoint``, ``random_direction``, ``gauss_markov``,
``manhattan_grid`` and ``trace`` (replay of a CSV trace). The random models give each device
its own child generator spawned from ``rng`` at construction and generate its trajectory
lazily, in fixed batches, from that child only: a device's trajectory depends neither on the
query pattern nor on the other devices. Regions are the rectangle ``[0, W] x [0, H]``
(``area_m=(W, H)``) or the disc of radius R centred at the origin (``radius_m=R``).

Cost: the moving models keep each device's current straight segment in arrays, so a query
at one instant is vectorized over the devices; only devices whose segment does not hold at
the queried time are re-located one by one (at non-decreasing times, those whose segment has
just ended). Any query order gives the same values, bit for bit.

Adding a model is one ``MobilityModel`` subclass plus ``@MODELS.register("name")``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.registry import Registry

MODELS: Registry[MobilityModel] = Registry("mobility model")


def make(name: str, /, **params: Any) -> MobilityModel:
    """Build the mobility model registered as ``name`` (see ``MODELS.names()``)."""
    return MODELS.make(name, **params)


class MobilityModel:
    """Base class: positions (metres, 2-D plane) and speeds of ``n`` devices over time."""

    n: int

    def position(self, t_s: float) -> NDArray[np.float64]:
        """Positions at time ``t_s`` (seconds, finite, >= 0): array (n, 2), metres."""
        raise NotImplementedError

    def speed(self, t_s: float) -> NDArray[np.float64]:
        """Speeds at time ``t_s`` (seconds, finite, >= 0): array (n,), m/s."""
        raise NotImplementedError

    def travelled_m(self, t_s: float) -> NDArray[np.float64]:
        """Distance each device has moved between t = 0 and ``t_s``: array (n,), metres.

        0 at t = 0, non-decreasing in ``t_s``: the integral of :meth:`speed` over [0, t_s].
        """
        raise NotImplementedError

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """Positions at each of ``times_s`` (T,) seconds: array (T, n, 2), metres.

        Equal to stacking :meth:`position` over the times; models override it to vectorize.
        """
        return self._stacked(self.position, times_s, (self.n, 2))

    def speeds(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """Speeds at each of ``times_s`` (T,) seconds: array (T, n), m/s (stacked :meth:`speed`)."""
        return self._stacked(self.speed, times_s, (self.n,))

    def travelled(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """:meth:`travelled_m` at each of ``times_s`` (T,) seconds: array (T, n), metres."""
        return self._stacked(self.travelled_m, times_s, (self.n,))

    @staticmethod
    def _stacked(
        at: Callable[[float], NDArray[np.float64]], times_s: ArrayLike, shape: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """``at(t)`` for each of ``times_s``, stacked: array (T, *shape)."""
        times = _times_array(times_s)
        out = np.empty((len(times), *shape))
        for j, t in enumerate(times):
            out[j] = at(float(t))
        return out


def _times_array(times_s: ArrayLike) -> NDArray[np.float64]:
    times = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError(f"times_s must be a 1-D array of finite times >= 0 s, got {times_s!r}")
    return times


def _positions_array(name: str, positions_m: ArrayLike, n: int | None = None) -> NDArray:
    p = np.array(positions_m, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or (n is not None and p.shape[0] != n):
        rows = "n" if n is None else str(n)
        raise ValueError(f"{name} must have shape ({rows}, 2) in metres, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite, got {p[~np.isfinite(p)].flat[0]!r}")
    return p


def _speed_range(speed_mps: Any, allow_scalar: bool = False) -> tuple[float, float]:
    """``speed_mps`` as ``(lo, hi)`` m/s, 0 < lo <= hi; a scalar v > 0 means (v, v) if allowed."""
    if allow_scalar and np.ndim(speed_mps) == 0 and not isinstance(speed_mps, str):
        v = _validate.positive("speed_mps", speed_mps)
        return (v, v)
    try:
        if allow_scalar and isinstance(speed_mps, str):
            raise TypeError
        lo_raw, hi_raw = speed_mps
    except (TypeError, ValueError):
        scalar = "a speed > 0 or " if allow_scalar else ""
        raise ValueError(
            f"speed_mps must be {scalar}a pair (lo, hi) in m/s with 0 < lo <= hi, got {speed_mps!r}"
        ) from None
    lo = _validate.positive("speed_mps[0] (lo)", lo_raw)
    hi = _validate.positive("speed_mps[1] (hi)", hi_raw)
    if hi < lo:
        raise ValueError(f"speed_mps must satisfy 0 < lo <= hi, got {speed_mps!r}")
    return (lo, hi)


def _draw_speed(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform in [lo, hi]; no draw when lo == hi."""
    return lo if hi == lo else float(rng.uniform(lo, hi))


def _mean_inverse_speed(lo: float, hi: float) -> float:
    """E[1/V] for V uniform in [lo, hi]: ln(hi/lo) / (hi - lo) (1/lo when hi == lo)."""
    return 1.0 / lo if hi == lo else math.log1p((hi - lo) / lo) / (hi - lo)


def _wrap_rad(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


_MAX_REFLECTIONS = 1_000_000  # per straight move; only a degenerate geometry could reach it


class _Region:
    """The rectangle ``[0, W] x [0, H]`` (``area_m``) or the disc of radius R at the origin.

    Straight motion inside it (``move``) reflects specularly at the border: the velocity's
    normal component flips (both components at an exact rectangle corner).
    """

    def __init__(self, area_m: tuple[float, float] | None, radius_m: float | None) -> None:
        if (area_m is None) == (radius_m is None):
            raise ValueError(
                "give exactly one of area_m=(W, H) and radius_m, "
                f"got area_m={area_m!r}, radius_m={radius_m!r}"
            )
        self.area_m: tuple[float, float] | None = None
        self.radius_m: float | None = None
        if area_m is not None:
            self.area_m = _validate.pair(
                "area_m",
                area_m,
                ("W", "H"),
                _validate.positive,
                "a pair (W, H) in metres, both > 0",
            )
        else:
            self.radius_m = _validate.positive("radius_m", radius_m)

    def text(self) -> str:
        if self.area_m is not None:
            return f"[0, {self.area_m[0]}] x [0, {self.area_m[1]}] m"
        return f"disc of radius {self.radius_m} m at the origin"

    def keyword(self) -> str:
        """``area_m=...`` or ``radius_m=...``, for reprs."""
        if self.area_m is not None:
            return f"area_m={self.area_m!r}"
        return f"radius_m={self.radius_m!r}"

    def inside(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        if self.area_m is not None:
            w, h = self.area_m
            return (p[:, 0] >= 0) & (p[:, 0] <= w) & (p[:, 1] >= 0) & (p[:, 1] <= h)
        assert self.radius_m is not None
        return np.hypot(p[:, 0], p[:, 1]) <= self.radius_m

    def sample(self, rng: np.random.Generator, k: int) -> NDArray[np.float64]:
        """``k`` points uniform in the region: array (k, 2) (2·k uniforms from ``rng``)."""
        if self.area_m is not None:
            return rng.uniform(0.0, 1.0, (k, 2)) * np.asarray(self.area_m)
        assert self.radius_m is not None
        u = rng.uniform(0.0, 1.0, (k, 2))
        r = self.radius_m * np.sqrt(u[:, 0])
        theta = 2.0 * math.pi * u[:, 1]
        return np.column_stack((r * np.cos(theta), r * np.sin(theta)))

    def starts(
        self, children: list[np.random.Generator], initial_positions_m: ArrayLike | None, n: int
    ) -> list[NDArray[np.float64]]:
        """Start positions: uniform (one draw from each child) or the given ones, checked."""
        if initial_positions_m is None:
            return [self.sample(child, 1)[0] for child in children]
        p = _positions_array("initial_positions_m", initial_positions_m, n)
        outside = ~self.inside(p)
        if np.any(outside):
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"initial_positions_m must lie inside the region ({self.text()}), "
                f"got row {i} = {p[i].tolist()}"
            )
        return list(p)

    def max_distance_m(self) -> float:
        """Largest distance between two points of the region (diagonal or diameter)."""
        if self.area_m is not None:
            return math.hypot(*self.area_m)
        assert self.radius_m is not None
        return 2.0 * self.radius_m

    def mean_distance_m(self) -> float:
        """Mean distance between two independent uniform points of the region, metres.

        Rectangle a x b (Ghosh 1951), d = sqrt(a² + b²):
        ``[a³/b² + b³/a² + d(3 - a²/b² - b²/a²)]/15 + [b²/a·ln((a+d)/b) + a²/b·ln((b+d)/a)]/6``
        (0.5214·a for a square); disc of radius R: ``128·R / (45·pi)``.
        """
        if self.area_m is not None:
            a, b = self.area_m
            d = math.hypot(a, b)
            algebraic = a**3 / b**2 + b**3 / a**2 + d * (3.0 - a**2 / b**2 - b**2 / a**2)
            logs = b**2 / a * math.log((a + d) / b) + a**2 / b * math.log((b + d) / a)
            return algebraic / 15.0 + logs / 6.0
        assert self.radius_m is not None
        return 128.0 * self.radius_m / (45.0 * math.pi)

    def centre_m(self) -> tuple[float, float]:
        if self.area_m is not None:
            return (self.area_m[0] / 2.0, self.area_m[1] / 2.0)
        return (0.0, 0.0)

    def border_distance_m(self, x: float, y: float) -> float:
        """Distance from an inside point to the border, metres."""
        if self.area_m is not None:
            w, h = self.area_m
            return min(x, w - x, y, h - y)
        assert self.radius_m is not None
        return self.radius_m - math.hypot(x, y)

    def _exit(self, x: float, y: float, ux: float, uy: float) -> tuple[float, bool, bool]:
        """Distance along the unit direction (ux, uy) to the border, and which walls it hits."""
        if self.area_m is not None:
            w, h = self.area_m
            ex = (w - x) / ux if ux > 0.0 else (-x / ux if ux < 0.0 else math.inf)
            ey = (h - y) / uy if uy > 0.0 else (-y / uy if uy < 0.0 else math.inf)
            return max(min(ex, ey), 0.0), ex <= ey, ey <= ex
        assert self.radius_m is not None
        r = self.radius_m
        b = x * ux + y * uy
        c = x * x + y * y - r * r
        return max(-b + math.sqrt(max(b * b - c, 0.0)), 0.0), True, True

    def _hit(
        self, x: float, y: float, ux: float, uy: float, e: float, wall_x: bool, wall_y: bool
    ) -> tuple[float, float]:
        """The border point reached after ``e`` metres, put exactly on the border."""
        x, y = x + e * ux, y + e * uy
        if self.area_m is not None:
            w, h = self.area_m
            if wall_x:
                x = w if ux > 0.0 else 0.0
            if wall_y:
                y = h if uy > 0.0 else 0.0
            return self._clamp(x, y)
        assert self.radius_m is not None
        norm = math.hypot(x, y)
        if norm > 0.0:
            x, y = x * self.radius_m / norm, y * self.radius_m / norm
        return x, y

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        """The point, pulled back onto the region if rounding put it just outside."""
        if self.area_m is not None:
            w, h = self.area_m
            return min(max(x, 0.0), w), min(max(y, 0.0), h)
        assert self.radius_m is not None
        norm = math.hypot(x, y)
        if norm > self.radius_m:
            return x * self.radius_m / norm, y * self.radius_m / norm
        return x, y

    def move(
        self,
        x: float,
        y: float,
        ux: float,
        uy: float,
        distance_m: float,
        extra: tuple[float, float] | None = None,
    ) -> tuple[
        list[tuple[float, float, float]], float, float, float, float, tuple[float, float] | None
    ]:
        """Move ``distance_m`` from (x, y) along the unit (ux, uy), reflecting at the border.

        Returns the reflection points ``(distance along the path, x, y)``, the end point,
        the final direction and ``extra`` (a direction reflected at the same walls).
        """
        hits: list[tuple[float, float, float]] = []
        along = 0.0
        for _ in range(_MAX_REFLECTIONS):
            e, wall_x, wall_y = self._exit(x, y, ux, uy)
            if along + e >= distance_m:
                rest = distance_m - along
                x, y = self._clamp(x + rest * ux, y + rest * uy)
                return hits, x, y, ux, uy, extra
            x, y = self._hit(x, y, ux, uy, e, wall_x, wall_y)
            along += e
            hits.append((along, x, y))
            if self.area_m is not None:
                if wall_x:
                    ux = -ux
                    extra = None if extra is None else (-extra[0], extra[1])
                if wall_y:
                    uy = -uy
                    extra = None if extra is None else (extra[0], -extra[1])
            else:
                assert self.radius_m is not None
                nx, ny = x / self.radius_m, y / self.radius_m
                dot = ux * nx + uy * ny
                ux, uy = ux - 2.0 * dot * nx, uy - 2.0 * dot * ny
                norm = math.hypot(ux, uy)
                ux, uy = ux / norm, uy / norm
                if ux * nx + uy * ny >= 0.0:  # tangent: would slide along the border
                    ux, uy = -nx, -ny
                if extra is not None:
                    dot = extra[0] * nx + extra[1] * ny
                    extra = (extra[0] - 2.0 * dot * nx, extra[1] - 2.0 * dot * ny)
        raise RuntimeError(f"more than {_MAX_REFLECTIONS} reflections in one straight move")

    def to_border(self, x: float, y: float, ux: float, uy: float) -> tuple[float, float, float]:
        """Distance from (x, y) along the unit (ux, uy) to the border, and the border point."""
        e, wall_x, wall_y = self._exit(x, y, ux, uy)
        hx, hy = self._hit(x, y, ux, uy, e, wall_x, wall_y)
        return e, hx, hy

    def diffuse_direction(self, x: float, y: float, u: float) -> tuple[float, float]:
        """Direction leaving the border point (x, y) by the cosine law, from a uniform ``u``.

        The angle θ to the inward normal has density cos(θ)/2 on (-pi/2, pi/2):
        θ = arcsin(2u - 1). At a rectangle corner the normal is the diagonal.
        """
        if self.area_m is not None:
            w, h = self.area_m
            nx = (1.0 if x <= 0.0 else 0.0) - (1.0 if x >= w else 0.0)
            ny = (1.0 if y <= 0.0 else 0.0) - (1.0 if y >= h else 0.0)
        else:
            nx, ny = -x, -y
        if nx == 0.0 and ny == 0.0:  # not on the border: head for the centre
            cx, cy = self.centre_m()
            nx, ny = cx - x, cy - y
        norm = math.hypot(nx, ny)
        nx, ny = nx / norm, ny / norm
        theta = math.asin(2.0 * u - 1.0)
        c, s = math.cos(theta), math.sin(theta)
        return nx * c - ny * s, nx * s + ny * c


class _Track:
    """Piecewise-linear path of one device: knots joined by straight segments (growable).

    Knot j is ``(t[j], p[j])``, with ``s[j]`` the distance travelled since knot 0; segment j
    joins knot j to knot j + 1 at the nominal speed ``v[j]``. Knot times never decrease; a
    time t is evaluated on the segment of the last knot with ``t[j] <= t``, which therefore
    has ``t[j + 1] > t`` (zero-duration segments are never evaluated). ``state`` holds the
    owning model's generation state.
    """

    __slots__ = ("k", "p", "rng", "s", "state", "t", "v")

    def __init__(
        self, rng: np.random.Generator | None, t0_s: float, p0_m: ArrayLike, state: Any = None
    ) -> None:
        self.rng = rng
        self.state = state
        self.t = np.empty(16)
        self.p = np.empty((16, 2))
        self.s = np.empty(16)
        self.v = np.zeros(16)
        self.t[0] = t0_s
        self.p[0] = p0_m
        self.s[0] = 0.0
        self.k = 1

    @property
    def end_s(self) -> float:
        return float(self.t[self.k - 1])

    def extend(self, knots: list[tuple[float, float, float, float]]) -> None:
        """Append knots ``(t_s, x_m, y_m, v_mps)``; v is the speed of the segment ending there."""
        if not knots:
            return
        new = np.asarray(knots, dtype=np.float64)
        k, m = self.k, len(new)
        if k + m > len(self.t):
            cap = max(2 * len(self.t), k + m)
            self.t = np.concatenate((self.t[:k], np.empty(cap - k)))
            self.p = np.concatenate((self.p[:k], np.empty((cap - k, 2))))
            self.s = np.concatenate((self.s[:k], np.empty(cap - k)))
            self.v = np.concatenate((self.v[:k], np.zeros(cap - k)))
        self.t[k : k + m] = new[:, 0]
        self.p[k : k + m] = new[:, 1:3]
        step = np.hypot(*np.diff(self.p[k - 1 : k + m], axis=0).T)
        self.s[k : k + m] = self.s[k - 1] + np.cumsum(step)
        self.v[k - 1 : k + m - 1] = new[:, 3]
        self.k = k + m

    def evaluate(
        self, times: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Positions (T, 2), speeds (T,) and distances (T,) at times in [t[0], t[k - 1])."""
        k = self.k
        t, p, s = self.t[:k], self.p[:k], self.s[:k]
        i = np.searchsorted(t, times, side="right") - 1
        t0 = t[i]
        frac = (times - t0) / (t[i + 1] - t0)
        a, b = p[i], p[i + 1]
        pos = a + frac[:, None] * (b - a)
        # clipped to the next knot's value so that rounding never makes it decrease
        dist = np.minimum(s[i] + frac * (s[i + 1] - s[i]), s[i + 1])
        return pos, self.v[i], dist

    def segment_at(self, t_s: float) -> tuple[float, ...]:
        """The segment evaluated at ``t_s`` (in [t[0], t[k - 1])) as a :class:`_Segments` row."""
        k = self.k
        j = int(np.searchsorted(self.t[:k], t_s, side="right")) - 1
        t0, t1 = self.t[j], self.t[j + 1]
        (ax, ay), (bx, by) = self.p[j], self.p[j + 1]
        return (t0, t1, t1, ax, ay, bx, by, self.v[j], self.s[j], self.s[j + 1])


class _Segments:
    """Each device's current straight segment: all devices evaluated at once (the fast path).

    Row d: from ``start_s[d]`` the device moves straight from ``from_m[d]`` to ``to_m[d]`` at
    ``speed_mps[d]``, arriving at ``arrive_s[d]``, and then stays at ``to_m[d]`` (speed 0)
    until ``end_s[d]``; it has travelled ``s0_m[d]`` at the start and ``s1_m[d]`` on arrival.
    A row holds for times in ``[start_s[d], end_s[d])``; a query only re-locates, device by
    device, the rows that do not hold (none at first), so the usual non-decreasing query
    times cost a Python step only for the few devices whose segment has just ended.

    :meth:`evaluate` repeats the models' per-device arithmetic exactly (the same IEEE
    operations on the same operands, ``a + frac·(b - a)`` etc.): results are bit-identical.
    """

    _ROW = 10  # start_s, arrive_s, end_s, from x, from y, to x, to y, speed, s0, s1

    def __init__(self, n: int) -> None:
        self.start_s = np.full(n, math.inf)  # an empty interval: every row is stale
        self.end_s = np.full(n, -math.inf)
        self.arrive_s = np.zeros(n)
        self.duration_s = np.zeros(n)  # arrive_s - start_s
        self.from_m = np.zeros((n, 2))
        self.to_m = np.zeros((n, 2))
        self.step_m = np.zeros((n, 2))  # to_m - from_m
        self.speed_mps = np.zeros(n)
        self.s0_m = np.zeros(n)
        self.s1_m = np.zeros(n)
        self.ds_m = np.zeros(n)  # s1_m - s0_m

    def stale(self, lo_s: float, hi_s: float) -> NDArray[np.intp]:
        """Devices whose row does not hold on all of [lo_s, hi_s]."""
        return np.flatnonzero(~((self.start_s <= lo_s) & (hi_s < self.end_s)))

    def update(self, devices: NDArray[np.intp], rows: list[tuple[float, ...]]) -> None:
        """Replace the rows of ``devices`` (``_ROW`` values each, in the order above)."""
        r = np.array(rows, dtype=np.float64).reshape(len(rows), self._ROW)
        self.start_s[devices], self.arrive_s[devices], self.end_s[devices] = r[:, 0:3].T
        self.from_m[devices] = r[:, 3:5]
        self.to_m[devices] = r[:, 5:7]
        self.speed_mps[devices], self.s0_m[devices], self.s1_m[devices] = r[:, 7:10].T
        self.duration_s[devices] = r[:, 1] - r[:, 0]
        self.step_m[devices] = r[:, 5:7] - r[:, 3:5]
        self.ds_m[devices] = r[:, 9] - r[:, 8]

    def evaluate(
        self, times: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Positions (T, n, 2), speeds (T, n) and distances (T, n) at ``times`` (T,), rows held."""
        tt = times[:, None]
        moving = tt < self.arrive_s
        paused = ~moving
        frac = np.subtract(tt, self.start_s)
        frac /= np.where(moving, self.duration_s, 1.0)
        # in place, as from + frac·step and s0 + frac·ds (IEEE addition commutes)
        pos = np.multiply(frac[..., None], self.step_m)
        pos += self.from_m
        np.copyto(pos, self.to_m, where=paused[..., None])
        speed = np.where(moving, self.speed_mps, 0.0)
        dist = np.multiply(frac, self.ds_m)
        dist += self.s0_m
        np.minimum(dist, self.s1_m, out=dist)
        np.copyto(dist, self.s1_m, where=paused)
        return pos, speed, dist


class _SegmentModel(MobilityModel):
    """Base of the models whose devices move on straight segments: one query path for all.

    Subclasses implement ``_segment_at`` (device d's segment holding at t, as a
    :class:`_Segments` row) and ``_device_path`` (device d at an array of times: the general
    per-device computation). A query at one instant evaluates every device at once from the
    cached segments, re-locating only the devices whose segment does not hold at that
    instant; for an array of times, the devices whose segment does not hold over the whole
    span take the per-device path. Any query order is allowed and gives the same bits as
    ``_evaluate(times, general=True)`` (the per-device path for every device); the
    non-decreasing times of a simulation re-locate only the devices whose segment has ended.
    The last single-instant result is kept, so ``position(t)`` then ``travelled_m(t)`` costs
    one evaluation.
    """

    _segments_cache: _Segments | None = None
    _last: tuple[float, NDArray, NDArray, NDArray] | None = None  # (t_s, pos, speed, dist)

    def _segment_at(self, d: int, t_s: float) -> tuple[float, ...]:
        raise NotImplementedError

    def _device_path(
        self, d: int, times: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        raise NotImplementedError

    def _evaluate(
        self, times: NDArray[np.float64], general: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Positions (T, n, 2), speeds (T, n) and travelled distances (T, n) at ``times``.

        ``general=True`` takes the per-device path for every device (the reference).
        """
        if len(times) == 0 or general:
            pos = np.empty((len(times), self.n, 2))
            speed = np.empty((len(times), self.n))
            dist = np.empty((len(times), self.n))
            if len(times):
                for d in range(self.n):
                    pos[:, d], speed[:, d], dist[:, d] = self._device_path(d, times)
            return pos, speed, dist
        segments = self._segments_cache
        if segments is None:
            segments = self._segments_cache = _Segments(self.n)
        lo, hi = float(times.min()), float(times.max())
        stale = segments.stale(lo, hi)
        if stale.size:
            segments.update(stale, [self._segment_at(int(d), hi) for d in stale])
        pos, speed, dist = segments.evaluate(times)
        if lo < hi:  # segments located at hi may start after lo: those devices one by one
            for d in segments.stale(lo, hi):
                pos[:, d], speed[:, d], dist[:, d] = self._device_path(int(d), times)
        return pos, speed, dist

    def _at(
        self, t_s: float
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        t = _validate.nonnegative("t_s", t_s)
        last = self._last
        # the same float, sign of zero included (-0.0 == 0.0 but may round differently)
        if last is None or last[0] != t or math.copysign(1.0, last[0]) != math.copysign(1.0, t):
            pos, speed, dist = self._evaluate(np.array([t]))
            last = self._last = (t, pos[0], speed[0], dist[0])
        return last

    def position(self, t_s: float) -> NDArray[np.float64]:
        return self._at(t_s)[1].copy()

    def speed(self, t_s: float) -> NDArray[np.float64]:
        return self._at(t_s)[2].copy()

    def travelled_m(self, t_s: float) -> NDArray[np.float64]:
        return self._at(t_s)[3].copy()

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        return self._evaluate(_times_array(times_s))[0]

    def speeds(self, times_s: ArrayLike) -> NDArray[np.float64]:
        return self._evaluate(_times_array(times_s))[1]

    def travelled(self, times_s: ArrayLike) -> NDArray[np.float64]:
        return self._evaluate(_times_array(times_s))[2]


class _PathModel(_SegmentModel):
    """Base of the models whose devices follow lazily generated piecewise-linear tracks.

    Subclasses fill ``self._tracks`` (one per device, starting at t = 0 with s = 0) and
    implement ``_grow``, which appends one fixed batch of knots drawn from ``track.rng``
    only, so the trajectory does not depend on how far ahead it has been generated.
    """

    _tracks: list[_Track]

    def _grow(self, track: _Track) -> None:
        raise NotImplementedError

    def _grown(self, d: int, t_s: float) -> _Track:
        """Device d's track, grown past ``t_s``."""
        track = self._tracks[d]
        while track.end_s <= t_s:
            self._grow(track)
        return track

    def _segment_at(self, d: int, t_s: float) -> tuple[float, ...]:
        return self._grown(d, t_s).segment_at(t_s)

    def _device_path(
        self, d: int, times: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        return self._grown(d, float(times.max())).evaluate(times)


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


class _Legs:
    """Lazily generated trajectory of one random-waypoint device.

    Leg i starts at ``start_s[i]`` from ``waypoints[i]``, moves straight to
    ``waypoints[i + 1]`` at ``speed_mps[i]``, arrives at ``arrive_s[i]`` and pauses there
    until ``start_s[i + 1] = arrive_s[i] + pause_s``. ``start_s`` and ``dist_m`` (distance
    travelled at the start of each leg) have one more entry than the generated legs: the
    start of the next, not yet generated, leg.
    """

    def __init__(self, rng: np.random.Generator, start_m: NDArray[np.float64]) -> None:
        self.rng = rng
        self.waypoints = start_m.reshape(1, 2)
        self.start_s = np.zeros(1)
        self.arrive_s = np.zeros(0)
        self.speed_mps = np.zeros(0)
        self.dist_m = np.zeros(1)

    def first_leg(self, target_m: NDArray[np.float64], speed_mps: float, pause_s: float) -> None:
        """Start mid-leg: head for ``target_m`` at ``speed_mps``, then pause ``pause_s``."""
        length = math.hypot(*(target_m - self.waypoints[0]))
        travel_s = length / speed_mps
        self.waypoints = np.vstack((self.waypoints, target_m))
        self.start_s = np.array([0.0, travel_s + pause_s])
        self.arrive_s = np.array([travel_s])
        self.speed_mps = np.array([speed_mps])
        self.dist_m = np.array([0.0, length])

    def first_pause(self, residual_s: float) -> None:
        """Start paused at the start position for ``residual_s`` (a zero-length leg 0)."""
        self.waypoints = np.vstack((self.waypoints, self.waypoints))
        self.start_s = np.array([0.0, residual_s])
        self.arrive_s = np.zeros(1)
        self.speed_mps = np.zeros(1)
        self.dist_m = np.zeros(2)


@MODELS.register("random_waypoint")
class RandomWaypoint(_SegmentModel):
    """Random waypoint: each device moves in straight legs between uniform random waypoints.

    Every leg goes to a waypoint drawn uniformly in the region at a speed drawn uniformly in
    ``[lo, hi]``; the device then pauses ``pause_s`` at the waypoint. By default motion
    starts at t = 0 from the initial position (no pause before the first leg); the mean
    speed then decays from (lo + hi)/2 towards the stationary (hi - lo)/ln(hi/lo) and the
    density drifts towards the centre.

    With ``stationary_start=True`` every device starts in the stationary regime instead
    (perfect simulation: Le Boudec & Vojnović, INFOCOM 2005; Navidi & Camp, IEEE TMC 2004):
    with probability ``P = pause_s / (pause_s + E[L]·E[1/V])`` it is paused at a uniform
    point for a residual pause uniform in [0, pause_s]; otherwise its current leg (A, B) is
    drawn with density proportional to |B - A| (A, B uniform, accepted with probability
    |B - A| / L_max), it is at a uniform point of that leg heading for B, and its speed has
    the time-stationary density ∝ 1/v on [lo, hi] (``v = lo·(hi/lo)**U``), so the mean speed
    is ``(1 - P)·(hi - lo)/ln(hi/lo)`` from t = 0. E[L] is the mean distance between two
    uniform points: the closed form for the rectangle (Ghosh 1951) and ``128·R/(45·pi)``
    for the disc. The construction only needs waypoints uniform in a convex region, so the
    disc uses the same procedure, with its own uniform draws and L_max = 2R: it is exact
    for both regions.

    Each device has its own child generator spawned from ``rng`` at construction; its start
    state (when not given) and its legs are drawn from that child only, lazily, in leg
    order. A device's trajectory therefore depends neither on the query pattern nor on the
    other devices (device i is the same for any ``n > i``). ``stationary_start=False``
    trajectories are those of earlier versions for the same seed.

    Parameters
    ----------
    n : int
        Number of devices, >= 0.
    rng : numpy.random.Generator
        Parent generator (``rng.spawn(n)`` is called once here).
    speed_mps : (float, float)
        ``(lo, hi)`` leg speed range, m/s, 0 < lo <= hi (finite).
    pause_s : float
        Pause at each waypoint, seconds, >= 0.
    area_m : (float, float) or None
        Rectangle ``[0, W] x [0, H]``, metres, W > 0, H > 0.
    radius_m : float or None
        Disc of this radius (metres, > 0) centred at the origin. Give exactly one of
        ``area_m`` and ``radius_m``.
    initial_positions_m : array (n, 2) or None
        Start positions, metres, inside the region; ``None`` = uniform in the region.
        Not with ``stationary_start``.
    stationary_start : bool
        Start every device in the stationary distribution (see above).
    """

    _LEGS_PER_BATCH = 16  # fixed: changing it changes trajectories for a given seed

    def __init__(
        self,
        n: int,
        rng: np.random.Generator,
        speed_mps: tuple[float, float],
        pause_s: float = 0.0,
        area_m: tuple[float, float] | None = None,
        radius_m: float | None = None,
        initial_positions_m: ArrayLike | None = None,
        stationary_start: bool = False,
    ) -> None:
        self.n = _validate.integer("n", n, 0)
        _validate.generator("rng", rng)
        self.speed_range_mps = _speed_range(speed_mps)
        self.pause_s = _validate.nonnegative("pause_s", pause_s)
        self._region = _Region(area_m, radius_m)
        self.area_m = self._region.area_m
        self.radius_m = self._region.radius_m
        if not isinstance(stationary_start, (bool, np.bool_)):
            raise ValueError(f"stationary_start must be True or False, got {stationary_start!r}")
        self.stationary_start = bool(stationary_start)
        if self.stationary_start and initial_positions_m is not None:
            raise ValueError(
                "stationary_start=True draws the start positions: give initial_positions_m=None, "
                "got an array"
            )

        children = rng.spawn(self.n)
        if self.stationary_start:
            self._legs = [self._stationary_legs(child) for child in children]
        else:
            starts = self._region.starts(children, initial_positions_m, self.n)
            self._legs = [
                _Legs(child, start) for child, start in zip(children, starts, strict=True)
            ]

    def _region_text(self) -> str:
        return self._region.text()

    def _inside(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        return self._region.inside(p)

    def _sample_region(self, rng: np.random.Generator, k: int) -> NDArray[np.float64]:
        return self._region.sample(rng, k)

    def stationary_pause_probability(self) -> float:
        """Probability that a device is paused in the stationary regime (0 when pause_s = 0).

        ``pause_s / (pause_s + E[L]·E[1/V])`` with ``E[1/V] = ln(hi/lo)/(hi - lo)``.
        """
        lo, hi = self.speed_range_mps
        mean_leg_s = self._region.mean_distance_m() * _mean_inverse_speed(lo, hi)
        return self.pause_s / (self.pause_s + mean_leg_s)

    def _stationary_legs(self, rng: np.random.Generator) -> _Legs:
        lo, hi = self.speed_range_mps
        if rng.uniform() < self.stationary_pause_probability():
            legs = _Legs(rng, self._region.sample(rng, 1)[0])
            legs.first_pause(float(rng.uniform(0.0, self.pause_s)))
            return legs
        max_m = self._region.max_distance_m()
        while True:  # leg (a, b) with density ∝ |b - a|: acceptance E[L]/L_max (~0.37-0.45)
            a, b = self._region.sample(rng, 2)
            if rng.uniform() * max_m < math.hypot(*(b - a)):
                break
        start = a + rng.uniform() * (b - a)
        speed = lo if hi == lo else lo * (hi / lo) ** rng.uniform()
        legs = _Legs(rng, start)
        legs.first_leg(b, speed, self.pause_s)
        return legs

    def _extend(self, legs: _Legs) -> None:
        k = self._LEGS_PER_BATCH
        targets = self._region.sample(legs.rng, k)
        speeds = legs.rng.uniform(*self.speed_range_mps, k)
        points = np.vstack((legs.waypoints[-1:], targets))
        lengths = np.hypot(*np.diff(points, axis=0).T)
        travel_s = lengths / speeds
        t0 = legs.start_s[-1]
        starts = t0 + np.concatenate(([0.0], np.cumsum(travel_s + self.pause_s)))
        legs.arrive_s = np.concatenate((legs.arrive_s, starts[:-1] + travel_s))
        legs.start_s = np.concatenate((legs.start_s[:-1], starts))
        legs.waypoints = np.vstack((legs.waypoints, targets))
        legs.speed_mps = np.concatenate((legs.speed_mps, speeds))
        legs.dist_m = np.concatenate((legs.dist_m, legs.dist_m[-1] + np.cumsum(lengths)))

    def _extended(self, d: int, t_s: float) -> _Legs:
        """Device d's legs, generated past ``t_s``."""
        legs = self._legs[d]
        while legs.start_s[-1] <= t_s:
            self._extend(legs)
        return legs

    def _segment_at(self, d: int, t_s: float) -> tuple[float, ...]:
        legs = self._extended(d, t_s)
        i = int(np.searchsorted(legs.start_s, t_s, side="right")) - 1
        (ax, ay), (bx, by) = legs.waypoints[i], legs.waypoints[i + 1]
        return (
            legs.start_s[i],
            legs.arrive_s[i],
            legs.start_s[i + 1],
            ax,
            ay,
            bx,
            by,
            legs.speed_mps[i],
            legs.dist_m[i],
            legs.dist_m[i + 1],
        )

    def _device_path(
        self, d: int, times: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        legs = self._extended(d, float(times.max()))
        i = np.searchsorted(legs.start_s, times, side="right") - 1
        start, arrive = legs.start_s[i], legs.arrive_s[i]
        a, b = legs.waypoints[i], legs.waypoints[i + 1]
        moving = times < arrive
        # interpolate while moving, the waypoint when paused
        frac = (times - start) / np.where(moving, arrive - start, 1.0)
        pos = np.where(moving[:, None], a + frac[:, None] * (b - a), b)
        speed = np.where(moving, legs.speed_mps[i], 0.0)
        s0, s1 = legs.dist_m[i], legs.dist_m[i + 1]
        dist = np.where(moving, np.minimum(s0 + frac * (s1 - s0), s1), s1)
        return pos, speed, dist

    def __repr__(self) -> str:
        extra = ", stationary_start=True" if self.stationary_start else ""
        return (
            f"RandomWaypoint(n={self.n}, speed_mps={self.speed_range_mps!r}, "
            f"pause_s={self.pause_s!r}, {self._region.keyword()}{extra})"
        )


@dataclass
class _DirectionState:
    x: float
    y: float
    first_travel_s: float | None  # duration of the first epoch (random phase); None: to border
    at_border: bool = False
    first: bool = True


@MODELS.register("random_direction")
class RandomDirection(_PathModel):
    """Random direction with reflection at the border: uniform density in the region.

    Each epoch a device draws a direction uniform in [0, 2·pi) and a speed (``speed_mps``:
    fixed, or uniform in ``(lo, hi)``), moves straight, then pauses ``pause_s``.

    - ``travel_s`` given (Nain, Towsley, Liu & Liu, INFOCOM 2005, with reflection): each
      epoch lasts ``travel_s``; a device meeting the border reflects specularly and goes on.
      Devices start at a uniform phase of their travel + pause cycle, so they do not turn in
      lockstep. Since specular reflection preserves the uniform law of (position, direction),
      positions are uniform in the region at every t (pauses included).
    - ``travel_s=None`` (Royer, Melliar-Smith & Moser, ICC 2001: travel to the border): an
      epoch ends at the border, where the device pauses and leaves in a direction drawn by the
      cosine law about the inward normal (diffuse reflection; Royer et al. draw it uniformly
      in the inward half-plane, which over-weights the border region). This keeps positions
      uniform when ``pause_s = 0``; a pause at the border adds mass on the border. With a
      speed range the first epoch's speed has the time-stationary density ∝ 1/v (as the
      epoch length is distance/speed), later ones are uniform.

    Each device has its own child generator (``rng.spawn(n)``); trajectories are generated
    lazily from it in fixed batches.

    Parameters
    ----------
    n : int
        Number of devices, >= 0.
    rng : numpy.random.Generator
        Parent generator.
    speed_mps : float or (float, float)
        Speed v > 0, or a range ``(lo, hi)`` with 0 < lo <= hi, m/s.
    area_m, radius_m
        Region: rectangle ``(W, H)`` or disc radius, metres; exactly one.
    pause_s : float
        Pause after each epoch, seconds, >= 0.
    travel_s : float or None
        Epoch duration, seconds, > 0; ``None`` = travel to the border.
    initial_positions_m : array (n, 2) or None
        Start positions inside the region; ``None`` = uniform.
    """

    _EPOCHS_PER_BATCH = 8  # fixed: changing it changes nothing (draws are per epoch)

    def __init__(
        self,
        n: int,
        rng: np.random.Generator,
        speed_mps: float | tuple[float, float],
        area_m: tuple[float, float] | None = None,
        radius_m: float | None = None,
        pause_s: float = 0.0,
        travel_s: float | None = None,
        initial_positions_m: ArrayLike | None = None,
    ) -> None:
        self.n = _validate.integer("n", n, 0)
        _validate.generator("rng", rng)
        self.speed_range_mps = _speed_range(speed_mps, allow_scalar=True)
        self.pause_s = _validate.nonnegative("pause_s", pause_s)
        self.travel_s = None if travel_s is None else _validate.positive("travel_s", travel_s)
        self._region = _Region(area_m, radius_m)
        children = rng.spawn(self.n)
        starts = self._region.starts(children, initial_positions_m, self.n)
        self._tracks = [self._new_track(c, p) for c, p in zip(children, starts, strict=True)]

    def _new_track(self, rng: np.random.Generator, start: NDArray[np.float64]) -> _Track:
        x, y = float(start[0]), float(start[1])
        state = _DirectionState(x, y, None)
        track = _Track(rng, 0.0, start, state)
        if self.travel_s is not None:
            cycle_s = self.travel_s + self.pause_s
            phase_s = float(rng.uniform(0.0, cycle_s))
            if phase_s < self.travel_s:
                state.first_travel_s = self.travel_s - phase_s
            else:
                track.extend([(cycle_s - phase_s, x, y, 0.0)])
                state.first_travel_s = self.travel_s
        return track

    def _grow(self, track: _Track) -> None:
        st: _DirectionState = track.state
        rng = track.rng
        assert rng is not None
        lo, hi = self.speed_range_mps
        region = self._region
        x, y, t = st.x, st.y, track.end_s
        knots: list[tuple[float, float, float, float]] = []
        for _ in range(self._EPOCHS_PER_BATCH):
            if st.at_border:
                ux, uy = region.diffuse_direction(x, y, float(rng.uniform()))
            else:
                theta = float(rng.uniform(0.0, 2.0 * math.pi))
                ux, uy = math.cos(theta), math.sin(theta)
            if hi == lo:
                v = lo
            elif self.travel_s is None and st.first:
                v = lo * (hi / lo) ** float(rng.uniform())
            else:
                v = float(rng.uniform(lo, hi))
            if self.travel_s is None:
                e, x, y = region.to_border(x, y, ux, uy)
                t = t + e / v
                knots.append((t, x, y, v))
                st.at_border = True
            else:
                duration_s = st.first_travel_s if st.first else self.travel_s
                assert duration_s is not None
                hits, x, y, _, _, _ = region.move(x, y, ux, uy, v * duration_s)
                t_end = t + duration_s
                knots.extend((min(t + along / v, t_end), hx, hy, v) for along, hx, hy in hits)
                knots.append((t_end, x, y, v))
                t = t_end
            st.first = False
            if self.pause_s > 0.0:
                t = t + self.pause_s
                knots.append((t, x, y, 0.0))
        st.x, st.y = x, y
        track.extend(knots)

    def __repr__(self) -> str:
        return (
            f"RandomDirection(n={self.n}, speed_mps={self.speed_range_mps!r}, "
            f"{self._region.keyword()}, pause_s={self.pause_s!r}, travel_s={self.travel_s!r})"
        )


@dataclass
class _GaussMarkovState:
    x: float
    y: float
    speed_mps: float  # Gauss-Markov speed state s_k (may be < 0; motion uses max(s_k, 0))
    direction_rad: float  # d_k
    mean_direction_rad: float  # this device's d̄ (mirrored at reflections in "reflect" mode)
    k: int = 0  # index of the next update interval


@MODELS.register("gauss_markov")
class GaussMarkov(_PathModel):
    """Gauss–Markov mobility (Liang & Haas, INFOCOM 1999; form of Camp et al., WCMC 2002).

    Speed and direction are updated every ``update_s`` seconds (at t = k·update_s)::

        s_k = α·s_{k-1} + (1 - α)·s̄ + σ_s·sqrt(1 - α²)·w_k
        d_k = d_{k-1} + (1 - α)·wrap(d̄ - d_{k-1}) + σ_d·sqrt(1 - α²)·w'_k

    with w, w' independent standard normals (wrap to [-pi, pi) makes the pull towards d̄
    take the short way round). The stationary speed law is N(s̄, σ_s²); α = 0 is memoryless,
    α = 1 linear motion. Between updates a device moves in a straight line at
    ``max(s_k, 0)`` (the reported speed) in direction d_k: its mean speed is
    ``s̄·Φ(s̄/σ_s) + σ_s·φ(s̄/σ_s)``, which is s̄ to 1e-5 for the default σ_s = s̄/4.

    Borders (``border``):

    - ``"reflect"`` (default): a device meeting the border reflects specularly; its direction
      d and its mean direction d̄ are mirrored at the same wall, so it keeps drifting away
      from the wall it hit instead of being pulled back into it.
    - ``"steer"`` (Camp et al. 2002): at an update within ``edge_margin_m`` of the border the
      mean direction used in the update is the direction to the region's centre (Camp et al.
      use the 8 compass directions of a rectangle; pointing at the centre is the same for
      the rectangle and works for the disc); a device still reflects (d only) if it meets
      the border within an interval.

    Initial state per device (from its own child generator, in this order): position
    uniform (unless given), d̄ uniform in [0, 2·pi) when ``mean_direction_rad`` is None,
    s_0 ~ N(s̄, σ_s²) unless ``initial_speed_mps`` is given, d_0 = d̄ + σ_d·w.

    Parameters
    ----------
    n : int
        Number of devices, >= 0.
    rng : numpy.random.Generator
        Parent generator (``rng.spawn(n)``).
    mean_speed_mps : float
        s̄, m/s, >= 0.
    alpha : float
        Memory α in [0, 1].
    mean_direction_rad : float or None
        d̄, radians (finite), for every device; ``None`` = each device draws its own.
    update_s : float
        Update interval, seconds, > 0.
    area_m, radius_m
        Region: rectangle ``(W, H)`` or disc radius, metres; exactly one.
    speed_std_mps : float or None
        σ_s, m/s, >= 0; ``None`` = s̄/4.
    direction_std_rad : float
        σ_d, radians, >= 0.
    border : str
        ``"reflect"`` or ``"steer"``.
    edge_margin_m : float or None
        Steering margin, metres, > 0; ``None`` = 10 % of min(W, H) or of R.
    initial_positions_m : array (n, 2) or None
        Start positions inside the region; ``None`` = uniform.
    initial_speed_mps : float or None
        s_0 for every device (finite); ``None`` = drawn from N(s̄, σ_s²).
    """

    _UPDATES_PER_BATCH = 16

    def __init__(
        self,
        n: int,
        rng: np.random.Generator,
        mean_speed_mps: float,
        alpha: float,
        mean_direction_rad: float | None = None,
        update_s: float = 1.0,
        area_m: tuple[float, float] | None = None,
        radius_m: float | None = None,
        speed_std_mps: float | None = None,
        direction_std_rad: float = math.pi / 4.0,
        border: str = "reflect",
        edge_margin_m: float | None = None,
        initial_positions_m: ArrayLike | None = None,
        initial_speed_mps: float | None = None,
    ) -> None:
        self.n = _validate.integer("n", n, 0)
        _validate.generator("rng", rng)
        self.mean_speed_mps = _validate.nonnegative("mean_speed_mps", mean_speed_mps)
        self.alpha = _validate.to_float("alpha", alpha)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.mean_direction_rad = (
            None
            if mean_direction_rad is None
            else _validate.finite("mean_direction_rad", mean_direction_rad)
        )
        self.update_s = _validate.positive("update_s", update_s)
        self._region = _Region(area_m, radius_m)
        self.speed_std_mps = (
            self.mean_speed_mps / 4.0
            if speed_std_mps is None
            else _validate.nonnegative("speed_std_mps", speed_std_mps)
        )
        self.direction_std_rad = _validate.nonnegative("direction_std_rad", direction_std_rad)
        if border not in ("reflect", "steer"):
            raise ValueError(f"border must be 'reflect' or 'steer', got {border!r}")
        self.border = border
        if edge_margin_m is None:
            size = min(self._region.area_m) if self._region.area_m else self._region.radius_m
            assert size is not None
            self.edge_margin_m = 0.1 * size
        else:
            self.edge_margin_m = _validate.positive("edge_margin_m", edge_margin_m)
        self.initial_speed_mps = (
            None
            if initial_speed_mps is None
            else _validate.finite("initial_speed_mps", initial_speed_mps)
        )
        children = rng.spawn(self.n)
        starts = self._region.starts(children, initial_positions_m, self.n)
        self._tracks = [self._new_track(c, p) for c, p in zip(children, starts, strict=True)]

    def _new_track(self, rng: np.random.Generator, start: NDArray[np.float64]) -> _Track:
        if self.mean_direction_rad is None:
            mean_dir = float(rng.uniform(0.0, 2.0 * math.pi))
        else:
            mean_dir = self.mean_direction_rad
        if self.initial_speed_mps is None:
            s0 = self.mean_speed_mps + self.speed_std_mps * float(rng.standard_normal())
        else:
            s0 = self.initial_speed_mps
        d0 = mean_dir + self.direction_std_rad * float(rng.standard_normal())
        state = _GaussMarkovState(float(start[0]), float(start[1]), s0, d0, mean_dir)
        return _Track(rng, 0.0, start, state)

    def _grow(self, track: _Track) -> None:
        st: _GaussMarkovState = track.state
        rng = track.rng
        assert rng is not None
        a = self.alpha
        innovation = math.sqrt(max(1.0 - a * a, 0.0))
        reflect_mean = self.border == "reflect"
        region = self._region
        knots: list[tuple[float, float, float, float]] = []
        for _ in range(self._UPDATES_PER_BATCH):
            t0 = st.k * self.update_s
            t1 = (st.k + 1) * self.update_s
            v = max(st.speed_mps, 0.0)
            if v > 0.0:
                ux, uy = math.cos(st.direction_rad), math.sin(st.direction_rad)
                extra = None
                if reflect_mean:
                    extra = (math.cos(st.mean_direction_rad), math.sin(st.mean_direction_rad))
                hits, st.x, st.y, ux, uy, extra = region.move(
                    st.x, st.y, ux, uy, v * self.update_s, extra
                )
                if hits:
                    knots.extend((min(t0 + along / v, t1), hx, hy, v) for along, hx, hy in hits)
                    st.direction_rad = math.atan2(uy, ux)
                    if extra is not None:
                        st.mean_direction_rad = math.atan2(extra[1], extra[0])
            knots.append((t1, st.x, st.y, v))
            w_speed, w_dir = rng.standard_normal(2)
            target = st.mean_direction_rad
            if self.border == "steer" and region.border_distance_m(st.x, st.y) < self.edge_margin_m:
                cx, cy = region.centre_m()
                target = math.atan2(cy - st.y, cx - st.x)
            st.speed_mps = (
                a * st.speed_mps
                + (1.0 - a) * self.mean_speed_mps
                + self.speed_std_mps * innovation * float(w_speed)
            )
            st.direction_rad = (
                st.direction_rad
                + (1.0 - a) * _wrap_rad(target - st.direction_rad)
                + self.direction_std_rad * innovation * float(w_dir)
            )
            st.k += 1
        track.extend(knots)

    def __repr__(self) -> str:
        return (
            f"GaussMarkov(n={self.n}, mean_speed_mps={self.mean_speed_mps!r}, "
            f"alpha={self.alpha!r}, mean_direction_rad={self.mean_direction_rad!r}, "
            f"update_s={self.update_s!r}, {self._region.keyword()}, border={self.border!r})"
        )


@dataclass
class _GridState:
    i: int  # street-grid node the device is heading for (or has just reached)
    j: int
    heading: int  # index into ManhattanGrid._HEADINGS


@MODELS.register("manhattan_grid")
class ManhattanGrid(_PathModel):
    """Manhattan grid: devices move along the streets of a rectangular grid.

    Streets run along ``x = x0 + i·block_m`` (i = 0..nx) and ``y = y0 + j·block_m``
    (j = 0..ny), ``(x0, y0) = origin_m``, ``(nx, ny) = n_blocks``. A device starts at a
    uniform point of the street network heading either way along its street; at each
    intersection it goes straight, turns left or turns right with probabilities
    ``turn_probs`` (ETSI TR 101 112 / UMTS 30.03 Annex B: 0.5, 0.25, 0.25; Bai, Sadagopan &
    Helmy, INFOCOM 2003). Options that would leave the grid are dropped and the others
    renormalised (uniform among them if their probabilities are all 0); a device never makes
    a U-turn. Speed is constant, or drawn uniformly in ``(lo, hi)`` for each block.

    Parameters
    ----------
    n : int
        Number of devices, >= 0.
    rng : numpy.random.Generator
        Parent generator (``rng.spawn(n)``).
    block_m : float
        Street spacing, metres, > 0.
    n_blocks : (int, int)
        Blocks along x and along y, each >= 1 (the grid spans nx·block_m x ny·block_m).
    speed_mps : float or (float, float)
        Speed v > 0, or a range ``(lo, hi)`` with 0 < lo <= hi, m/s.
    turn_probs : (float, float, float)
        Probabilities of (straight, left, right), each >= 0, summing to 1.
    origin_m : (float, float)
        Lower-left corner of the grid, metres (finite).
    """

    _BLOCKS_PER_BATCH = 32
    _HEADINGS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # +x, +y, -x, -y: left turn = index + 1

    def __init__(
        self,
        n: int,
        rng: np.random.Generator,
        block_m: float,
        n_blocks: tuple[int, int],
        speed_mps: float | tuple[float, float],
        turn_probs: tuple[float, float, float] = (0.5, 0.25, 0.25),
        origin_m: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.n = _validate.integer("n", n, 0)
        _validate.generator("rng", rng)
        self.block_m = _validate.positive("block_m", block_m)
        self.n_blocks = _validate.pair(
            "n_blocks",
            n_blocks,
            ("nx", "ny"),
            lambda name, v: _validate.integer(name, v, 1),
            "a pair (nx, ny) of integers >= 1",
        )
        self.speed_range_mps = _speed_range(speed_mps, allow_scalar=True)
        try:
            probs = tuple(
                _validate.nonnegative(f"turn_probs[{i}]", p) for i, p in enumerate(turn_probs)
            )
        except TypeError:
            probs = ()
        if len(probs) != 3 or abs(sum(probs) - 1.0) > 1e-9:
            raise ValueError(
                "turn_probs must be 3 probabilities (straight, left, right), each >= 0, "
                f"summing to 1, got {turn_probs!r}"
            )
        self.turn_probs = probs
        self.origin_m = _validate.pair(
            "origin_m", origin_m, ("x", "y"), _validate.finite, "a pair (x, y) in metres"
        )
        self._tracks = [self._new_track(child) for child in rng.spawn(self.n)]

    def _node_m(self, i: float, j: float) -> tuple[float, float]:
        return self.origin_m[0] + i * self.block_m, self.origin_m[1] + j * self.block_m

    def _new_track(self, rng: np.random.Generator) -> _Track:
        nx, ny = self.n_blocks
        n_vertical = (nx + 1) * ny  # edges (i, j) -> (i, j + 1)
        edge = int(rng.integers(n_vertical + nx * (ny + 1)))
        frac = float(rng.uniform())
        forward = bool(rng.uniform() < 0.5)
        if edge < n_vertical:
            i, j = divmod(edge, ny)
            a, b, heading = (i, j), (i, j + 1), 1
        else:
            i, j = divmod(edge - n_vertical, ny + 1)
            a, b, heading = (i, j), (i + 1, j), 0
        if not forward:
            a, b, heading = b, a, (heading + 2) % 4
        start = self._node_m(a[0] + frac * (b[0] - a[0]), a[1] + frac * (b[1] - a[1]))
        v = _draw_speed(rng, *self.speed_range_mps)
        track = _Track(rng, 0.0, start, _GridState(b[0], b[1], heading))
        track.extend([((1.0 - frac) * self.block_m / v, *self._node_m(*b), v)])
        return track

    def _grow(self, track: _Track) -> None:
        st: _GridState = track.state
        rng = track.rng
        assert rng is not None
        nx, ny = self.n_blocks
        p_straight, p_left, p_right = self.turn_probs
        t = track.end_s
        knots: list[tuple[float, float, float, float]] = []
        for _ in range(self._BLOCKS_PER_BATCH):
            u = float(rng.uniform())
            options = [
                (h, p)
                for h, p in (
                    (st.heading, p_straight),
                    ((st.heading + 1) % 4, p_left),
                    ((st.heading + 3) % 4, p_right),
                )
                if 0 <= st.i + self._HEADINGS[h][0] <= nx and 0 <= st.j + self._HEADINGS[h][1] <= ny
            ]
            total = sum(p for _, p in options)
            if total > 0.0:
                heading, acc = options[-1][0], 0.0
                for h, p in options:
                    acc += p
                    if u * total < acc:
                        heading = h
                        break
            else:
                heading = options[min(int(u * len(options)), len(options) - 1)][0]
            st.heading = heading
            st.i += self._HEADINGS[heading][0]
            st.j += self._HEADINGS[heading][1]
            v = _draw_speed(rng, *self.speed_range_mps)
            t = t + self.block_m / v
            knots.append((t, *self._node_m(st.i, st.j), v))
        track.extend(knots)

    def __repr__(self) -> str:
        return (
            f"ManhattanGrid(n={self.n}, block_m={self.block_m!r}, n_blocks={self.n_blocks!r}, "
            f"speed_mps={self.speed_range_mps!r}, turn_probs={self.turn_probs!r})"
        )


_TRACE_COLUMNS = ("t_s", "device", "x_m", "y_m")


def _trace_records(path_or_rows: Any) -> tuple[str, Iterator[tuple[str, Mapping[str, Any]]]]:
    """``(source, records)``: each record is ``(where, {column: raw value})``."""
    if isinstance(path_or_rows, (str, os.PathLike)):
        source = os.fspath(path_or_rows)
        return source, _csv_records(source)
    if isinstance(path_or_rows, (bytes, Mapping)) or not isinstance(path_or_rows, Iterable):
        raise ValueError(
            "path_or_rows must be a CSV path or an iterable of rows (t_s, device, x_m, y_m), "
            f"got {type(path_or_rows).__name__}"
        )
    return "rows", _row_records(path_or_rows)


def _csv_records(source: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header: list[str] | None = None
        columns: dict[str, int] = {}
        for row in reader:
            if not any(field.strip() for field in row):
                continue  # blank line
            line = reader.line_num
            if header is None:
                header = [field.strip() for field in row]
                missing = [c for c in _TRACE_COLUMNS if c not in header]
                if missing:
                    raise ValueError(
                        f"{source}: line {line}: missing column(s) "
                        f"{', '.join(repr(c) for c in missing)}; the first line must be a header "
                        f"naming t_s, device, x_m, y_m (any order), got {header}"
                    )
                duplicated = sorted({c for c in _TRACE_COLUMNS if header.count(c) > 1})
                if duplicated:
                    raise ValueError(
                        f"{source}: line {line}: column(s) {duplicated} appear more than once "
                        f"in the header, got {header}"
                    )
                columns = {c: header.index(c) for c in _TRACE_COLUMNS}
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{source}: line {line}: expected {len(header)} fields as in the header "
                    f"{header}, got {len(row)}: {row}"
                )
            yield f"{source}: line {line}", {c: row[k] for c, k in columns.items()}
        if header is None:
            raise ValueError(
                f"{source}: line 1: empty file; a header naming t_s, device, x_m, y_m is required"
            )


def _row_records(rows: Iterable[Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for i, row in enumerate(rows):
        where = f"rows, row {i}"
        if isinstance(row, Mapping):
            missing = [c for c in _TRACE_COLUMNS if c not in row]
            if missing:
                raise ValueError(
                    f"{where}: missing column(s) {', '.join(repr(c) for c in missing)}; "
                    f"need t_s, device, x_m, y_m, got keys {sorted(map(str, row))}"
                )
            yield where, row
            continue
        try:
            values = list(row)
        except TypeError:
            values = []
        if len(values) != len(_TRACE_COLUMNS):
            raise ValueError(
                f"{where}: expected 4 values (t_s, device, x_m, y_m) or a mapping, got {row!r}"
            )
        yield where, dict(zip(_TRACE_COLUMNS, values, strict=True))


def _trace_float(raw: Any) -> float:
    """A CSV cell (or row value) as a float; nan when it is not a number."""
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if isinstance(text, bool):
            raise TypeError
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _trace_number(where: str, column: str, raw: Any) -> float:
    value = _trace_float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{where}, column {column!r}: expected a finite number, got {raw!r}")
    return value


def _trace_device(where: str, raw: Any) -> int:
    value = _trace_float(raw)
    if not (math.isfinite(value) and value >= 0.0 and value.is_integer()):
        raise ValueError(
            f"{where}, column 'device': expected a device index (integer >= 0), got {raw!r}"
        )
    return int(value)


@MODELS.register("trace")
class Trace(_PathModel):
    """Replay of recorded positions: ``t_s, device, x_m, y_m`` samples, linearly interpolated.

    Between two samples of a device its position is interpolated linearly in time (speed =
    distance / interval, constant on the interval). Before its first sample a device holds
    the first sample's position, after its last sample the last one, at speed 0 (so a
    trace that starts after t = 0 or stops early leaves the device parked there).
    ``travelled_m`` counts the path from t = 0 (samples before t = 0 are allowed: they
    only fix where the device is at t = 0).

    A CSV file needs a header line naming the columns ``t_s, device, x_m, y_m`` (in any
    order; other columns are ignored; blank lines are skipped). Each device's samples must
    appear with strictly increasing t_s (any interleaving of devices), values must be finite
    numbers, and devices must be numbered 0..n-1, each with at least one sample. Violations
    raise ``ValueError`` naming the file, the line and the column.

    Parameters
    ----------
    path_or_rows : str, os.PathLike or iterable
        CSV path, or rows given directly: each a mapping with the four keys or a sequence
        ``(t_s, device, x_m, y_m)`` (errors then name the row index).
    n : int or None
        Number of devices, >= 0; ``None`` = 1 + the largest device index.
    """

    def __init__(self, path_or_rows: Any, n: int | None = None) -> None:
        n_given = None if n is None else _validate.integer("n", n, 0)
        self.source, records = _trace_records(path_or_rows)
        samples: dict[int, list[tuple[float, float, float]]] = {}
        last: dict[int, tuple[float, str]] = {}
        for where, record in records:
            t = _trace_number(where, "t_s", record["t_s"])
            d = _trace_device(where, record["device"])
            x = _trace_number(where, "x_m", record["x_m"])
            y = _trace_number(where, "y_m", record["y_m"])
            if n_given is not None and d >= n_given:
                raise ValueError(
                    f"{where}, column 'device': expected a device index in 0..{n_given - 1} "
                    f"(n={n_given}), got {record['device']!r}"
                )
            if d in last and t <= last[d][0]:
                raise ValueError(
                    f"{where}, column 't_s': times of device {d} must be strictly increasing, "
                    f"got {t!r} after {last[d][0]!r} ({last[d][1]})"
                )
            last[d] = (t, where)
            samples.setdefault(d, []).append((t, x, y))
        if n_given is None and not samples:
            raise ValueError(
                f"{self.source}: no samples; a trace needs at least one row per device"
            )
        self.n = n_given if n_given is not None else max(samples) + 1
        missing = [d for d in range(self.n) if d not in samples]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise ValueError(
                f"{self.source}, column 'device': devices must be numbered 0..{self.n - 1}, "
                f"each with at least one sample; missing device(s) {shown}"
            )
        self._tracks = [self._new_track(samples[d]) for d in range(self.n)]
        self._s0 = np.array([track.evaluate(np.zeros(1))[2][0] for track in self._tracks])

    @staticmethod
    def _new_track(rows: list[tuple[float, float, float]]) -> _Track:
        data = np.asarray(rows)
        t, p = data[:, 0], data[:, 1:]
        track = _Track(None, min(t[0], 0.0), p[0])
        knots = [] if t[0] <= 0.0 else [(t[0], p[0, 0], p[0, 1], 0.0)]
        speed = np.hypot(*np.diff(p, axis=0).T) / np.diff(t)
        knots.extend(zip(t[1:], p[1:, 0], p[1:, 1], speed, strict=True))
        knots.append((math.inf, p[-1, 0], p[-1, 1], 0.0))  # hold the last sample forever
        track.extend(knots)
        return track

    def _grow(self, track: _Track) -> None:
        raise AssertionError("a trace track ends at t = inf and never grows")

    def _evaluate(
        self, times: NDArray[np.float64], general: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        pos, speed, dist = super()._evaluate(times, general)
        return pos, speed, dist - self._s0

    def __repr__(self) -> str:
        return f"Trace(n={self.n}, source={self.source!r})"
