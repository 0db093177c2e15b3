"""The Gauss-Markov model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.mobility.base import MODELS, _PathModel, _Region, _Track, _wrap_rad


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
        rng = track.generator
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
