"""Mobility models: device positions and speeds at any simulated time, and their registry.

A model is built by name (``make("random_waypoint", n=10, area_m=(500, 500),
speed_mps=(1, 3), rng=rng)``). ``position(t_s)`` / ``speed(t_s)`` may be queried at any
t_s >= 0 in any order and are deterministic given the construction arguments.
Adding a model is one ``MobilityModel`` subclass plus ``@MODELS.register("name")``.
"""

from __future__ import annotations

import math
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

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """Positions at each of ``times_s`` (T,) seconds: array (T, n, 2), metres.

        Equal to stacking :meth:`position` over the times; models override it to vectorize.
        """
        times = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
        return np.stack([self.position(float(t)) for t in times])


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

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        times = _times_array(times_s)
        return np.broadcast_to(self._positions_m, (len(times), self.n, 2)).copy()

    def __repr__(self) -> str:
        return f"Static(n={self.n})"


class _Legs:
    """Lazily generated trajectory of one random-waypoint device.

    Leg i starts at ``start_s[i]`` from ``waypoints[i]``, moves straight to
    ``waypoints[i + 1]`` at ``speed_mps[i]``, arrives at ``arrive_s[i]`` and pauses there
    until ``start_s[i + 1] = arrive_s[i] + pause_s``. ``start_s`` has one more entry than
    the generated legs: the start of the next, not yet generated, leg.
    """

    def __init__(self, rng: np.random.Generator, start_m: NDArray[np.float64]) -> None:
        self.rng = rng
        self.waypoints = start_m.reshape(1, 2)
        self.start_s = np.zeros(1)
        self.arrive_s = np.zeros(0)
        self.speed_mps = np.zeros(0)


@MODELS.register("random_waypoint")
class RandomWaypoint(MobilityModel):
    """Random waypoint: each device moves in straight legs between uniform random waypoints.

    Every leg goes to a waypoint drawn uniformly in the region at a speed drawn uniformly in
    ``[lo, hi]``; the device then pauses ``pause_s`` at the waypoint. Motion starts at t = 0
    from the initial position (no pause before the first leg).

    Each device has its own child generator spawned from ``rng`` at construction; its start
    position (when not given) and its legs are drawn from that child only, lazily, in leg
    order. A device's trajectory therefore depends neither on the query pattern nor on the
    other devices (device i is the same for any ``n > i``).

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
    ) -> None:
        self.n = _validate.integer("n", n, 0)
        _validate.generator("rng", rng)
        try:
            lo_raw, hi_raw = speed_mps
        except (TypeError, ValueError):
            raise ValueError(
                f"speed_mps must be a pair (lo, hi) in m/s with 0 < lo <= hi, got {speed_mps!r}"
            ) from None
        lo = _validate.positive("speed_mps[0] (lo)", lo_raw)
        hi = _validate.positive("speed_mps[1] (hi)", hi_raw)
        if hi < lo:
            raise ValueError(f"speed_mps must satisfy 0 < lo <= hi, got {speed_mps!r}")
        self.speed_range_mps = (lo, hi)
        self.pause_s = _validate.nonnegative("pause_s", pause_s)

        if (area_m is None) == (radius_m is None):
            raise ValueError(
                "give exactly one of area_m=(W, H) and radius_m, "
                f"got area_m={area_m!r}, radius_m={radius_m!r}"
            )
        self.area_m: tuple[float, float] | None = None
        self.radius_m: float | None = None
        if area_m is not None:
            try:
                w_raw, h_raw = area_m
            except (TypeError, ValueError):
                raise ValueError(
                    f"area_m must be a pair (W, H) in metres, both > 0, got {area_m!r}"
                ) from None
            self.area_m = (
                _validate.positive("area_m[0] (W)", w_raw),
                _validate.positive("area_m[1] (H)", h_raw),
            )
        else:
            self.radius_m = _validate.positive("radius_m", radius_m)

        children = rng.spawn(self.n)
        if initial_positions_m is None:
            starts = [self._sample_region(child, 1)[0] for child in children]
        else:
            p = _positions_array("initial_positions_m", initial_positions_m, self.n)
            outside = ~self._inside(p)
            if np.any(outside):
                i = int(np.flatnonzero(outside)[0])
                raise ValueError(
                    f"initial_positions_m must lie inside the region ({self._region_text()}), "
                    f"got row {i} = {p[i].tolist()}"
                )
            starts = list(p)
        self._legs = [_Legs(child, start) for child, start in zip(children, starts, strict=True)]

    def _region_text(self) -> str:
        if self.area_m is not None:
            return f"[0, {self.area_m[0]}] x [0, {self.area_m[1]}] m"
        return f"disc of radius {self.radius_m} m at the origin"

    def _inside(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        if self.area_m is not None:
            w, h = self.area_m
            return (p[:, 0] >= 0) & (p[:, 0] <= w) & (p[:, 1] >= 0) & (p[:, 1] <= h)
        assert self.radius_m is not None
        return np.hypot(p[:, 0], p[:, 1]) <= self.radius_m

    def _sample_region(self, rng: np.random.Generator, k: int) -> NDArray[np.float64]:
        if self.area_m is not None:
            return rng.uniform(0.0, 1.0, (k, 2)) * np.asarray(self.area_m)
        assert self.radius_m is not None
        u = rng.uniform(0.0, 1.0, (k, 2))
        r = self.radius_m * np.sqrt(u[:, 0])
        theta = 2.0 * math.pi * u[:, 1]
        return np.column_stack((r * np.cos(theta), r * np.sin(theta)))

    def _extend(self, legs: _Legs) -> None:
        k = self._LEGS_PER_BATCH
        targets = self._sample_region(legs.rng, k)
        speeds = legs.rng.uniform(*self.speed_range_mps, k)
        points = np.vstack((legs.waypoints[-1:], targets))
        travel_s = np.hypot(*np.diff(points, axis=0).T) / speeds
        t0 = legs.start_s[-1]
        starts = t0 + np.concatenate(([0.0], np.cumsum(travel_s + self.pause_s)))
        legs.arrive_s = np.concatenate((legs.arrive_s, starts[:-1] + travel_s))
        legs.start_s = np.concatenate((legs.start_s[:-1], starts))
        legs.waypoints = np.vstack((legs.waypoints, targets))
        legs.speed_mps = np.concatenate((legs.speed_mps, speeds))

    def _state(self, t_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        t = _validate.nonnegative("t_s", t_s)
        pos = np.empty((self.n, 2))
        speed = np.zeros(self.n)
        for d, legs in enumerate(self._legs):
            while legs.start_s[-1] <= t:
                self._extend(legs)
            i = int(np.searchsorted(legs.start_s, t, side="right")) - 1
            if t < legs.arrive_s[i]:
                frac = (t - legs.start_s[i]) / (legs.arrive_s[i] - legs.start_s[i])
                pos[d] = legs.waypoints[i] + frac * (legs.waypoints[i + 1] - legs.waypoints[i])
                speed[d] = legs.speed_mps[i]
            else:
                pos[d] = legs.waypoints[i + 1]
        return pos, speed

    def position(self, t_s: float) -> NDArray[np.float64]:
        return self._state(t_s)[0]

    def positions(self, times_s: ArrayLike) -> NDArray[np.float64]:
        times = _times_array(times_s)
        out = np.empty((len(times), self.n, 2))
        if len(times) == 0:
            return out
        t_max = float(times.max())
        for d, legs in enumerate(self._legs):
            while legs.start_s[-1] <= t_max:
                self._extend(legs)
            i = np.searchsorted(legs.start_s, times, side="right") - 1
            start, arrive = legs.start_s[i], legs.arrive_s[i]
            a, b = legs.waypoints[i], legs.waypoints[i + 1]
            moving = times < arrive
            # same arithmetic as _state: interpolate while moving, the waypoint when paused
            frac = (times - start) / np.where(moving, arrive - start, 1.0)
            out[:, d] = np.where(moving[:, None], a + frac[:, None] * (b - a), b)
        return out

    def speed(self, t_s: float) -> NDArray[np.float64]:
        return self._state(t_s)[1]

    def __repr__(self) -> str:
        if self.area_m is not None:
            region = f"area_m={self.area_m!r}"
        else:
            region = f"radius_m={self.radius_m!r}"
        return (
            f"RandomWaypoint(n={self.n}, speed_mps={self.speed_range_mps!r}, "
            f"pause_s={self.pause_s!r}, {region})"
        )
