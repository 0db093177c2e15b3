"""The Manhattan grid model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from channels import _validate
from channels.mobility.base import MODELS, _draw_speed, _PathModel, _speed_range, _Track


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
        rng = track.generator
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
