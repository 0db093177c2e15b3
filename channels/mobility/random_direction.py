"""The random direction model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.mobility.base import MODELS, _PathModel, _Region, _speed_range, _Track


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
        rng = track.generator
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
