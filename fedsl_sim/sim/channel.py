"""Every device's link to the base station, as block-wise power gains.

The base station (co-located with the edge server) is at the origin. The channel of device k
in block j (``[j*coherence_s, (j+1)*coherence_s)``) is

    g_k(j) = 10^((-PL(d_k(t_j)) + S_k) / 10) * |h_k(j)|^2

with d_k(t_j) the device's distance at the start of the block (mobility), S_k its log-normal
shadowing (one draw per device, held for the run) and |h_k(j)|^2 the small-scale fading power
of the block (unit mean). Uplink and downlink see the same gain (TDD reciprocity).
"""

from __future__ import annotations

import numpy as np

import channels
from channels.fading import BlockFading
from channels.shadowing import LogNormalShadowing
from fedsl_sim.scenario import (
    FixedPlacement,
    LogDistancePathLoss,
    RandomWaypointMobility,
    Scenario,
)
from fedsl_sim.sim.streams import Streams


class RadioChannel:
    """Block-wise large- and small-scale gains of ``n`` device links (see module docstring)."""

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        dev, net = scenario.devices, scenario.network
        self.n = dev.count
        if isinstance(dev.placement, FixedPlacement):
            start = np.asarray(dev.placement.positions_m, dtype=float).reshape(self.n, 2)
            disc_radius_m = None
        else:
            start = channels.placement.uniform_disc(
                streams.numpy("placement"),
                self.n,
                dev.placement.radius_m,
                min_distance_m=dev.placement.min_distance_m,
            )
            disc_radius_m = dev.placement.radius_m
        if isinstance(dev.mobility, RandomWaypointMobility):
            self.mobility = channels.mobility.make(
                "random_waypoint",
                n=self.n,
                rng=streams.numpy("mobility"),
                speed_mps=dev.mobility.speed_mps,
                pause_s=dev.mobility.pause_s,
                radius_m=dev.mobility.radius_m or disc_radius_m,
                initial_positions_m=start,
            )
        else:
            self.mobility = channels.mobility.make("static", positions_m=start)
        if isinstance(net.pathloss, LogDistancePathLoss):
            self.pathloss = channels.pathloss.make(
                "log_distance",
                fc_hz=net.carrier_hz,
                exponent=net.pathloss.exponent,
                d0_m=net.pathloss.d0_m,
            )
        else:
            self.pathloss = channels.pathloss.make("free_space", fc_hz=net.carrier_hz)
        self.shadowing_db = LogNormalShadowing(net.shadowing.std_db).sample_db(
            streams.numpy("shadowing"), self.n
        )
        fading_params = net.fading.model_dump(exclude={"model", "coherence_s"})
        fading_model = channels.fading.make(net.fading.model, **fading_params)
        self.coherence_s = net.fading.coherence_s
        self.fading = BlockFading(fading_model, self.n, self.coherence_s, streams.numpy("fading"))
        self.time_varying = net.fading.model != "none" or dev.mobility.kind != "static"
        self._chunks: dict[int, np.ndarray] = {}

    CHUNK_BLOCKS = 1024

    def block_at(self, t_s: float) -> int:
        """Index of the block containing ``t_s`` (blocks of ``coherence_s``; on a channel that
        never changes every block has the same gains)."""
        return self.fading.index_at(t_s)

    def block_start_s(self, j: int) -> float:
        """Start of block ``j``: exactly ``j * coherence_s`` seconds."""
        return self.fading.start_s(j)

    def distance_m(self, t_s: float) -> np.ndarray:
        """(n,) distances to the base station at ``t_s``, metres."""
        return np.hypot(*self.mobility.position(t_s).T)

    def mean_gain_db(self, t_s: float) -> np.ndarray:
        """(n,) large-scale gain (−path loss + shadowing) in dB at ``t_s``."""
        return -self.pathloss.loss_db(self.distance_m(t_s)) + self.shadowing_db

    def gains(self, j0: int, count: int) -> np.ndarray:
        """(count, n) linear power gains of blocks ``j0 .. j0+count-1``.

        Computed a chunk of blocks at a time (positions at every block start, path loss,
        shadowing, fading, all vectorized) and cached; chunks before ``j0``'s are dropped, since
        simulated time never goes back.
        """
        size = self.CHUNK_BLOCKS
        first, last = j0 // size, (j0 + count - 1) // size
        for c in [c for c in self._chunks if c < first]:
            del self._chunks[c]
        self.fading.discard_before(first * size)
        rows = [self._chunk(c) for c in range(first, last + 1)]
        block = rows[0] if len(rows) == 1 else np.concatenate(rows)
        start = j0 - first * size
        return block[start : start + count]

    def gain(self, j: int) -> np.ndarray:
        """(n,) linear power gains of block ``j``."""
        return self.gains(j, 1)[0]

    def _chunk(self, c: int) -> np.ndarray:
        chunk = self._chunks.get(c)
        if chunk is None:
            size = self.CHUNK_BLOCKS
            starts_s = np.arange(c * size, (c + 1) * size) * self.coherence_s
            pos = self.mobility.positions(starts_s)  # (size, n, 2)
            large_db = -self.pathloss.loss_db(np.hypot(pos[..., 0], pos[..., 1]))
            large_db += self.shadowing_db
            chunk = 10.0 ** (large_db / 10.0) * self.fading.powers(c * size, size)
            self._chunks[c] = chunk
        return chunk
