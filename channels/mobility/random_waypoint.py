"""The random waypoint model (with its stationary start)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.mobility.base import MODELS, _mean_inverse_speed, _Region, _SegmentModel, _speed_range


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
