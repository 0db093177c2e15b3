"""Every device's link to the base station, as block-wise power gains.

The base station (co-located with the edge server) is at the origin. Time is cut into blocks
of ``block_s`` seconds (the fading coherence time for block fading, the sampling interval of a
continuous fading process). In block j, starting at t_j = j * block_s, device k's gain is

    g_k(j) = 10^((-PL(d_k(t_j), los_k(t_j)) + S_k(t_j)) / 10) * |h_k(j)|^2

with d_k its distance at the start of the block (mobility), los_k its LOS state (3GPP models:
drawn from the LOS probability and kept while the device moves less than the LOS correlation
distance), S_k its shadowing (log-normal; with ``correlated`` a Gudmundson process along the
distance the device travelled, scaled by the standard deviation of its current LOS state) and
|h_k|^2 the small-scale fading power (unit mean): i.i.d. per block, or a Jakes process of the
travelled distance. Uplink and downlink see the same gain (TDD reciprocity).

Gains are computed a chunk of blocks at a time, vectorized over blocks and devices, and in
increasing time order only (the LOS and shadowing processes are sequential).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import channels
from channels.doppler import coherence_time_s
from channels.fading import BlockFading
from channels.pathloss import PathLossModel, ThreeGppPathLoss
from channels.shadowing import CorrelatedShadowing
from channels.units import dbm_to_w
from fedsl_sim.scenario import (
    THREE_GPP_PATHLOSS,
    FixedPlacement,
    LogDistancePathLoss,
    ManhattanGridMobility,
    RmaPathLoss,
    Scenario,
    ScenarioError,
    StaticMobility,
    TraceMobility,
)
from fedsl_sim.sim.streams import Streams

DEFAULT_SHADOWING_STD_DB = 8.0
DEFAULT_SHADOWING_CORR_M = 50.0  # TR 36.814 decorrelation distance
MAX_SAMPLE_S = 0.01


def make_pathloss(cfg: Any, carrier_hz: float) -> PathLossModel:
    """The path-loss model of a ``network.pathloss`` block."""
    if isinstance(cfg, LogDistancePathLoss):
        return channels.pathloss.make(
            "log_distance", fc_hz=carrier_hz, exponent=cfg.exponent, d0_m=cfg.d0_m
        )
    if cfg.model in ("free_space", "macro_36814"):
        return channels.pathloss.make(cfg.model, fc_hz=carrier_hz)
    params: dict[str, Any] = {"fc_hz": carrier_hz, "clamp": cfg.clamp}
    if cfg.h_bs_m is not None:
        params["h_bs_m"] = cfg.h_bs_m
    if cfg.h_ut_m is not None:
        params["h_ut_m"] = cfg.h_ut_m
    if isinstance(cfg, RmaPathLoss):
        params.update(h_m=cfg.building_height_m, w_m=cfg.street_width_m)
    else:
        params["simplified_nlos"] = cfg.simplified_nlos
    if cfg.model == "inh":
        params["office"] = cfg.office
    return channels.pathloss.make(cfg.model, **params)


def max_speed_mps(scenario: Scenario) -> float:
    return float(scenario.devices.mobility.max_speed_mps())


def make_mobility(
    scenario: Scenario, start_m: np.ndarray, rng: np.random.Generator
) -> channels.mobility.MobilityModel:
    """The mobility model of ``devices.mobility``, devices starting at ``start_m`` (n, 2).

    The scenario's field names are the model's parameter names; disc-bounded models move in
    ``devices.movement_radius_m`` and start at ``start_m`` (unless drawn from the stationary
    regime); the Manhattan grid is centred on the base station; a trace brings its own."""
    dev = scenario.devices
    mob = dev.mobility
    if isinstance(mob, StaticMobility):
        return channels.mobility.make("static", positions_m=start_m)
    if isinstance(mob, TraceMobility):
        return channels.mobility.make("trace", path_or_rows=mob.path, n=dev.count)
    params = mob.model_dump(exclude={"kind", "radius_m"})
    if isinstance(mob, ManhattanGridMobility):
        hx, hy = mob.half_extent_m
        params["origin_m"] = (-hx, -hy)
    else:
        params["radius_m"] = dev.movement_radius_m
        if not getattr(mob, "stationary_start", False):
            params["initial_positions_m"] = start_m
    return channels.mobility.make(mob.kind, n=dev.count, rng=rng, **params)


MIN_INTERFERER_DISTANCE_M = 10.0


def hex_ring_sites(inter_site_distance_m: float, rings: int) -> np.ndarray:
    """(m, 2) positions of the base stations of ``rings`` hexagonal rings around the origin."""
    corners = [np.array([math.cos(a), math.sin(a)]) for a in np.arange(6) * math.pi / 3]
    sites = []
    for r in range(1, rings + 1):
        for side in range(6):
            a, b = corners[side] * r, corners[(side + 1) % 6] * r
            sites += [a + (b - a) * i / r for i in range(r)]
    return inter_site_distance_m * np.asarray(sites)


def _mean_gain(pathloss: PathLossModel, d_m: np.ndarray) -> np.ndarray:
    d = np.maximum(d_m, MIN_INTERFERER_DISTANCE_M)
    los = not isinstance(pathloss, ThreeGppPathLoss)  # 3GPP: interferers are NLOS
    return 10.0 ** (-pathloss.loss_db(d, los=los) / 10.0)


def dl_site_gains(pathloss: PathLossModel, pos: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Sum over ``sites`` of the path gain to each position of ``pos`` (..., 2)."""
    d = np.linalg.norm(pos[..., None, :] - sites, axis=-1)  # (..., m)
    return _mean_gain(pathloss, d).sum(axis=-1)


def ring_interference(
    cfg: Any, pathloss: PathLossModel, device_tx_power_w: float
) -> tuple[np.ndarray, float]:
    """Interfering sites and the mean uplink interference power at the serving BS (W): one
    device per neighbouring cell, uniform in a disc of half the inter-site distance around its
    site (polar quadrature, 24 x 48 points), scaled by the load."""
    sites = hex_ring_sites(cfg.inter_site_distance_m, cfg.rings)
    radius = cfg.inter_site_distance_m / 2
    r = radius * np.sqrt((np.arange(24) + 0.5) / 24)  # equal-area annuli
    a = 2 * math.pi * (np.arange(48) + 0.5) / 48
    offsets = np.stack(np.meshgrid(r, a, indexing="ij"), -1).reshape(-1, 2)
    pts = np.stack(
        [offsets[:, 0] * np.cos(offsets[:, 1]), offsets[:, 0] * np.sin(offsets[:, 1])], -1
    )
    ul = 0.0
    for site in sites:
        ul += float(_mean_gain(pathloss, np.linalg.norm(site + pts, axis=-1)).mean())
    return sites, cfg.load * device_tx_power_w * ul


class RadioChannel:
    """Block-wise gains of ``n`` device links (see module docstring)."""

    CHUNK_BLOCKS = 1024

    def __init__(self, scenario: Scenario, streams: Streams, source: str = "scenario") -> None:
        dev, net = scenario.devices, scenario.network
        n = self.n = dev.count
        if isinstance(dev.placement, FixedPlacement):
            start = np.asarray(dev.placement.positions_m, dtype=float).reshape(n, 2)
        else:
            start = channels.placement.uniform_disc(
                streams.numpy("placement"),
                n,
                dev.placement.radius_m,
                min_distance_m=dev.placement.min_distance_m,
            )
        try:
            self.mobility = make_mobility(scenario, start, streams.numpy("mobility"))
        except ValueError as exc:  # e.g. a malformed trace file
            raise ScenarioError(source, str(exc), path="devices.mobility") from None
        moving = dev.mobility.kind != "static"

        # cells: a link per device and cell, flattened device-major (n * C links)
        cells = net.cells or ()
        self.cells_m = (
            np.asarray([c.position_m for c in cells], dtype=float) if cells else np.zeros((1, 2))
        )
        self.n_cells = n_cells = len(self.cells_m)
        links = n * n_cells
        self.hysteresis_db = net.handover.hysteresis_db
        # association compares received powers: each cell's transmit power counts
        server_dbm = scenario.server.tx_power_dbm
        self._cell_power_dbm = np.array(
            [server_dbm if c.tx_power_dbm is None else c.tx_power_dbm for c in cells]
            or [server_dbm]
        )
        carriers = [c.carrier_hz or net.carrier_hz for c in cells] or [net.carrier_hz]
        self._serving: np.ndarray | None = None  # serving cell of each device, last block
        #: (t_s, device, from_cell, to_cell) of every handover, in time order
        self.handovers: list[tuple[float, int, int, int]] = []

        # path loss and LOS state
        pl_cfg = net.pathloss
        self.pathloss = make_pathloss(pl_cfg, net.carrier_hz)
        # one model per distinct carrier (path loss depends on it); cells share equal ones
        self._cell_pathloss = [
            self.pathloss if fc == net.carrier_hz else make_pathloss(pl_cfg, fc) for fc in carriers
        ]
        self.three_gpp = isinstance(pl_cfg, THREE_GPP_PATHLOSS)
        self.los_mode = pl_cfg.los if self.three_gpp else "los"
        self._los_state = None
        if self.los_mode == "stochastic":
            self._los_state = channels.pathloss.LosState(self.pathloss, links, streams.numpy("los"))
            los0 = self._los_state.update(self._relative(start))
        else:
            los0 = np.full(links, self.los_mode == "los")

        # shadowing: a unit-variance process scaled by the standard deviation of the LOS state
        sh = net.shadowing
        self._std_db = sh.std_db
        if sh.std_db is None and not self.three_gpp:
            self._std_db = DEFAULT_SHADOWING_STD_DB
        if sh.corr_distance_m is not None:
            corr = np.full(links, sh.corr_distance_m)
        elif self.three_gpp:
            corr = np.asarray(self.pathloss.shadowing_corr_distance_m(los0), dtype=float)
        else:
            corr = np.full(links, DEFAULT_SHADOWING_CORR_M)
        rng_sh = streams.numpy("shadowing")
        if sh.correlated:
            self._unit_shadow: CorrelatedShadowing | np.ndarray = CorrelatedShadowing(
                1.0, corr, links, rng_sh
            )
        else:
            self._unit_shadow = rng_sh.standard_normal(links)

        # small-scale fading and the block grid
        f = net.fading
        params = f.distribution_params
        rng_f = streams.numpy("fading")
        self.continuous = f.time == "continuous"
        if self.continuous:
            self.process = channels.doppler.make(
                f.model, n_links=links, fc_hz=net.carrier_hz, rng=rng_f, **params
            )
            if f.sample_s is not None:
                block_s = f.sample_s
            elif max_speed_mps(scenario) > 0:
                block_s = min(
                    MAX_SAMPLE_S, coherence_time_s(net.carrier_hz, max_speed_mps(scenario)) / 10
                )
            else:
                block_s = MAX_SAMPLE_S
            # a grid without fading: BlockFading of model "none" draws nothing
            self.fading = BlockFading(channels.fading.make("none"), links, block_s, rng_f)
            self.time_varying = moving
        else:
            self.fading = BlockFading(
                channels.fading.make(f.model, **params), links, f.coherence_s, rng_f
            )
            self.time_varying = f.model != "none" or moving
        self.block_s = self.fading.coherence_s
        self._interference = None
        self._interference_load = net.interference.load if net.interference else 0.0
        if net.interference is not None:
            self._interference = ring_interference(
                net.interference, self.pathloss, dbm_to_w(dev.tx_power_dbm)
            )
        self.has_interference = self._interference is not None
        #: mean uplink interference power at the serving BS, W (0 without interference)
        self.ul_interference_w = 0.0 if self._interference is None else self._interference[1]
        self._chunks: dict[int, np.ndarray] = {}
        self._next_chunk = 0  # chunks are computed strictly in order (sequential processes)
        self._components: dict[int, dict[str, np.ndarray]] = {}

    def _relative(self, pos: np.ndarray) -> np.ndarray:
        """Device positions (..., n, 2) relative to every cell: (..., n * C, 2)."""
        rel = pos[..., :, None, :] - self.cells_m
        return rel.reshape(*pos.shape[:-2], self.n * self.n_cells, 2)

    def block_at(self, t_s: float) -> int:
        """Index of the block containing ``t_s`` (on a channel that never changes every block
        has the same gains)."""
        return self.fading.index_at(t_s)

    def block_start_s(self, j: int) -> float:
        """Start of block ``j``: exactly ``j * block_s`` seconds."""
        return self.fading.start_s(j)

    def distance_m(self, t_s: float) -> np.ndarray:
        """(n,) distances to the base station at ``t_s``, metres."""
        return np.hypot(*self.mobility.position(t_s).T)

    def gains(self, j0: int, count: int) -> np.ndarray:
        """(count, n) linear power gains of blocks ``j0 .. j0+count-1`` (never earlier chunks
        than the last one asked for: time does not go back). On a channel that never changes
        every block is block 0."""
        if not self.time_varying:
            return np.broadcast_to(self._chunk(0)[0], (count, self.n))
        size = self.CHUNK_BLOCKS
        first, last = j0 // size, (j0 + count - 1) // size
        # the processes are sequential: a jump ahead (a long computation with an idle medium)
        # still computes every chunk in between, each dropped once the next one exists
        while self._next_chunk < first:
            self._chunk(self._next_chunk)
            self._drop_before(self._next_chunk)
        self._drop_before(first)
        rows = [self._chunk(c) for c in range(first, last + 1)]
        block = rows[0] if len(rows) == 1 else np.concatenate(rows)
        start = j0 - first * size
        return block[start : start + count]

    def _drop_before(self, chunk: int) -> None:
        """Free the chunks (and the fading draws) before ``chunk``: time does not go back."""
        for c in [c for c in self._chunks if c < chunk]:
            del self._chunks[c]
            self._components.pop(c, None)
        self.fading.discard_before(chunk * self.CHUNK_BLOCKS)

    def gain(self, j: int) -> np.ndarray:
        """(n,) linear power gains of block ``j``."""
        return self.gains(j, 1)[0]

    def serving(self, j0: int, count: int) -> np.ndarray:
        """(count, n) serving cell of every device in blocks ``j0 .. j0+count-1``."""
        return self._component_rows("serving", j0, count)

    def _component_rows(self, key: str, j0: int, count: int) -> np.ndarray:
        if not self.time_varying:
            self._chunk(0)
            row = self._components[0][key][0]
            return np.broadcast_to(row, (count, *row.shape))
        self.gains(j0, count)
        size = self.CHUNK_BLOCKS
        first, last = j0 // size, (j0 + count - 1) // size
        rows = [self._components[c][key] for c in range(first, last + 1)]
        block = rows[0] if len(rows) == 1 else np.concatenate(rows)
        start = j0 - first * size
        return block[start : start + count]

    def dl_interference_gain(self, j0: int, count: int) -> np.ndarray:
        """(count, n) sum over the interfering base stations of load x their power gain to each
        device (multiply by the BS transmit power for watts)."""
        return self._component_rows("dl_interference_gain", j0, count)

    def components(self, j: int) -> dict[str, np.ndarray]:
        """Distance (m), LOS state, path loss (dB), shadowing (dB) and fading power of every
        link in block ``j`` (for link budgets and reports)."""
        self.gain(j)
        c, row = divmod(j, self.CHUNK_BLOCKS) if self.time_varying else (0, 0)
        return {k: v[row] for k, v in self._components[c].items()}

    def _chunk(self, c: int) -> np.ndarray:
        chunk = self._chunks.get(c)
        if chunk is not None:
            return chunk
        while self._next_chunk <= c:  # sequential processes: every chunk, in order
            chunk = self._compute_chunk(self._next_chunk)
            self._chunks[self._next_chunk] = chunk
            self._next_chunk += 1
        if c not in self._chunks:
            raise ValueError(f"channel block chunk {c} is in the past (time does not go back)")
        return self._chunks[c]

    def _compute_chunk(self, c: int) -> np.ndarray:
        size, n, n_cells = self.CHUNK_BLOCKS, self.n, self.n_cells
        starts_s = np.arange(c * size, (c + 1) * size) * self.block_s
        pos = self.mobility.positions(starts_s)  # (size, n, 2)
        rel = self._relative(pos)  # (size, n * C, 2)
        dist = np.hypot(rel[..., 0], rel[..., 1])
        if self._los_state is not None:
            los = np.stack([self._los_state.update(p) for p in rel])
        else:
            los = np.full(dist.shape, self.los_mode == "los")
        if all(m is self.pathloss for m in self._cell_pathloss):
            pl_db = self.pathloss.loss_db(dist, los=los)
        else:  # per cell, at its carrier
            pl_db = np.empty(dist.shape)
            for cell, model in enumerate(self._cell_pathloss):
                sl = np.s_[..., cell::n_cells]
                pl_db[sl] = model.loss_db(dist[sl], los=los[sl])
        travelled = np.repeat(self.mobility.travelled(starts_s), n_cells, axis=1)
        if isinstance(self._unit_shadow, CorrelatedShadowing):
            unit = self._unit_shadow.sample_path_db(travelled)
        else:
            unit = np.broadcast_to(self._unit_shadow, dist.shape)
        if self._std_db is None:
            assert isinstance(self.pathloss, ThreeGppPathLoss)
            std = self.pathloss.shadowing_std_db(los, d2d_m=dist)
        else:
            std = self._std_db
        sh_db = std * unit
        if self.continuous:
            fad = self.process.power(travelled)
        else:
            fad = self.fading.powers(c * size, size)
        large_db = (sh_db - pl_db).reshape(size, n, n_cells)
        serving = self._associate(large_db + self._cell_power_dbm, starts_s)
        pick = (np.arange(size)[:, None], np.arange(n)[None, :], serving)

        def served(a: np.ndarray) -> np.ndarray:
            return a.reshape(size, n, n_cells)[pick]

        self._components[c] = {
            "serving": serving,
            "distance_m": served(dist),
            "los": served(los),
            "pathloss_db": served(pl_db),
            "shadowing_db": served(sh_db),
            "fading_power": served(fad),
        }
        if self._interference is not None:
            sites, _ = self._interference
            load = self._interference_load
            self._components[c]["dl_interference_gain"] = load * dl_site_gains(
                self.pathloss, pos, sites
            )
        return 10.0 ** (served(sh_db - pl_db) / 10.0) * served(fad)

    def _associate(self, rx_dbm: np.ndarray, starts_s: np.ndarray) -> np.ndarray:
        """Serving cell per block (T, n): the strongest mean received power (transmit power,
        path loss, shadowing; no fast fading) at the start, then a handover whenever another
        cell is stronger by more than the hysteresis."""
        large_db = rx_dbm
        if self.n_cells == 1:
            return np.zeros(large_db.shape[:2], dtype=np.intp)
        out = np.empty(large_db.shape[:2], dtype=np.intp)
        current = self._serving
        devices = np.arange(self.n)
        for t in range(large_db.shape[0]):
            best = np.argmax(large_db[t], axis=1)
            if current is None:
                current = best
            else:
                margin = large_db[t, devices, best] - large_db[t, devices, current]
                switch = np.flatnonzero(margin > self.hysteresis_db)
                for k in switch.tolist():
                    self.handovers.append((float(starts_s[t]), k, int(current[k]), int(best[k])))
                current = np.where(margin > self.hysteresis_db, best, current)
            out[t] = current
        self._serving = current
        return out
