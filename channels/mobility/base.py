"""The mobility protocol, its registry, and the shared geometry: the region devices move in
(reflection at its border), tracks, and the segment engine the models are built on."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from fedsl_registry import Registry

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


def _positions_array(
    name: str, positions_m: ArrayLike, n: int | None = None
) -> NDArray[np.float64]:
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
            return cast(
                NDArray[np.float64], rng.uniform(0.0, 1.0, (k, 2)) * np.asarray(self.area_m)
            )
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
    def generator(self) -> np.random.Generator:
        """The track's own random stream (a growable track has one; a fixed one does not)."""
        if self.rng is None:
            raise RuntimeError("this track is fixed: it has no random stream to grow from")
        return self.rng

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
    _last: tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = (
        None  # (t_s, pos, speed, dist)
    )

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
