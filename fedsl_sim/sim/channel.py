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
increasing time order only (the LOS and shadowing processes are sequential), by a chain of
stages — path loss, then shadowing (``RadioChannel.chain``), then fading — each adding its
named component and a dB term or a linear factor to the chunk (:class:`LinkChunk`); a stage
appended to the chain (e.g. a blockage model) composes with the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from channels.fading import BlockFading
from channels.mobility import MobilityModel
from channels.pathloss import LosState, PathLossModel, ThreeGppPathLoss
from channels.shadowing import CorrelatedShadowing

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


@dataclass(frozen=True)
class RingInterference:
    """Inter-cell interference of the rings of neighbouring cells (see
    :func:`ring_interference`)."""

    #: (m, 2) positions of the interfering base stations, m
    sites_m: np.ndarray
    #: mean uplink interference power at the serving base station, W
    ul_power_w: float
    #: fraction of the time a neighbouring cell transmits, in [0, 1]
    load: float


def ring_interference(
    inter_site_distance_m: float,
    rings: int,
    load: float,
    pathloss: PathLossModel,
    device_tx_power_w: float,
) -> RingInterference:
    """Interfering sites and the mean uplink interference power at the serving BS (W): one
    device per neighbouring cell, uniform in a disc of half the inter-site distance around its
    site (polar quadrature, 24 x 48 points), scaled by the load."""
    sites = hex_ring_sites(inter_site_distance_m, rings)
    radius = inter_site_distance_m / 2
    r = radius * np.sqrt((np.arange(24) + 0.5) / 24)  # equal-area annuli
    a = 2 * math.pi * (np.arange(48) + 0.5) / 48
    offsets = np.stack(np.meshgrid(r, a, indexing="ij"), -1).reshape(-1, 2)
    pts = np.stack(
        [offsets[:, 0] * np.cos(offsets[:, 1]), offsets[:, 0] * np.sin(offsets[:, 1])], -1
    )
    ul = 0.0
    for site in sites:
        ul += float(_mean_gain(pathloss, np.linalg.norm(site + pts, axis=-1)).mean())
    return RingInterference(sites, load * device_tx_power_w * ul, load)


class LinkChunk:
    """What the stages of the link chain share for one chunk of blocks: the blocks' start
    times, every link's position relative to its cell and distance, the distance each
    device has travelled (computed when a stage asks), and what the stages produce: named
    per-link components, dB terms of the large-scale gain and linear factors."""

    def __init__(self, starts_s: np.ndarray, rel: np.ndarray, travelled: Any) -> None:
        self.starts_s = starts_s
        self.rel = rel  # (T, links, 2), m
        self.dist = np.hypot(rel[..., 0], rel[..., 1])  # (T, links), m
        self._travelled = travelled
        self._travelled_m: np.ndarray | None = None
        self.components: dict[str, np.ndarray] = {}
        self.db_terms: list[np.ndarray] = []  # summed: the large-scale gain, dB
        self.factors: list[np.ndarray] = []  # multiplied: small-scale power

    @property
    def travelled_m(self) -> np.ndarray:
        """(T, links) distance each link's device has travelled since t = 0, m."""
        if self._travelled_m is None:
            self._travelled_m = self._travelled()
        return self._travelled_m


class PathLossStage:
    """Path loss by distance and LOS state (drawn for 3GPP models, kept while the device
    moves less than the LOS correlation distance); per cell at its carrier."""

    def __init__(
        self,
        pathloss: PathLossModel,
        cell_pathloss: Sequence[PathLossModel],
        los: str,
        los_state: LosState | None,
    ) -> None:
        self.pathloss = pathloss
        self.cell_pathloss = list(cell_pathloss)
        self.los = los
        self.los_state = los_state

    def apply(self, chunk: LinkChunk) -> None:
        dist, n_cells = chunk.dist, len(self.cell_pathloss)
        if self.los_state is not None:
            los = np.stack([self.los_state.update(p) for p in chunk.rel])
        else:
            los = np.full(dist.shape, self.los == "los")
        if all(m is self.pathloss for m in self.cell_pathloss):
            pl_db = self.pathloss.loss_db(dist, los=los)
        else:  # per cell, at its carrier
            pl_db = np.empty(dist.shape)
            for cell, model in enumerate(self.cell_pathloss):
                sl = np.s_[..., cell::n_cells]
                pl_db[sl] = model.loss_db(dist[sl], los=los[sl])
        chunk.components["los"] = los
        chunk.components["pathloss_db"] = pl_db
        chunk.db_terms.append(-pl_db)


class ShadowingStage:
    """Log-normal shadowing: a unit-variance process (a Gudmundson process of the travelled
    distance, or one draw per link) scaled by the standard deviation — fixed, or the 3GPP
    model's for the link's LOS state (from the path-loss stage)."""

    def __init__(
        self,
        unit: CorrelatedShadowing | np.ndarray,
        std_db: float | None,
        pathloss: PathLossModel,
    ) -> None:
        self.unit = unit
        self.std_db = std_db
        self.pathloss = pathloss

    def apply(self, chunk: LinkChunk) -> None:
        if self.std_db is not None and not isinstance(self.unit, CorrelatedShadowing):
            # one draw per link, fixed scale: every block's row is the same (kept once)
            sh_db = np.broadcast_to(self.std_db * self.unit, chunk.dist.shape)
        else:
            if isinstance(self.unit, CorrelatedShadowing):
                unit = self.unit.sample_path_db(chunk.travelled_m)
            else:
                unit = np.broadcast_to(self.unit, chunk.dist.shape)
            if self.std_db is None:
                assert isinstance(self.pathloss, ThreeGppPathLoss)
                std = self.pathloss.shadowing_std_db(chunk.components["los"], d2d_m=chunk.dist)
            else:
                std = self.std_db
            sh_db = std * unit
        chunk.components["shadowing_db"] = sh_db
        chunk.db_terms.append(sh_db)


class FadingStage:
    """Small-scale fading power (unit mean): i.i.d. per block, or a continuous process of the
    travelled distance."""

    def __init__(self, fading: BlockFading, process: Any | None) -> None:
        self.fading = fading
        self.process = process

    def apply(self, chunk: LinkChunk, first_block: int) -> None:
        if self.process is not None:
            fad = self.process.power(chunk.travelled_m)
        else:
            fad = self.fading.powers(first_block, len(chunk.starts_s))
        chunk.components["fading_power"] = fad
        chunk.factors.append(fad)


class RadioChannel:
    """Block-wise gains of ``n`` device links (see module docstring).

    Built from explicit parts (:func:`fedsl_sim.build.build_channel` makes them from a
    scenario):

    Parameters
    ----------
    start_m : (n, 2) device positions at t = 0, m (the base station at the origin).
    mobility : the devices' mobility model.
    pathloss : the path-loss model at the network's carrier (interference, LOS draws).
    fading : the block grid and its block fading draws (model ``none`` for a continuous
        process: the grid only).
    shadowing_rng : the shadowing stream.
    time_varying : whether the gains change at all (False: every block is block 0).
    cells_m : (C, 2) base-station positions, m; default one cell at the origin.
    cell_pathloss : per cell, the path-loss model at its carrier; default ``pathloss``.
    cell_tx_power_dbm : per cell, the transmit power (dBm) that association compares.
    hysteresis_db : handover hysteresis, dB.
    los : ``los``, ``nlos`` or ``stochastic`` (3GPP models: drawn with ``los_rng``).
    shadowing_std_db : standard deviation, dB; None: the 3GPP model's, by LOS state.
    shadowing_corr_m : decorrelation distance, m; None: the 3GPP model's, by LOS state.
    shadowing_correlated : a Gudmundson process along the travelled distance (else one
        draw per link, kept).
    process : a continuous-time fading process of the travelled distance, or None.
    interference : the neighbouring cells' interference, or None.
    """

    #: blocks per chunk at most, and link-blocks per chunk at most: many links get shorter
    #: chunks, so that a chunk's arrays stay small (the values do not depend on it)
    CHUNK_BLOCKS = 1024
    CHUNK_LINK_BLOCKS = 1 << 20

    def __init__(
        self,
        *,
        start_m: np.ndarray,
        mobility: MobilityModel,
        pathloss: PathLossModel,
        fading: BlockFading,
        shadowing_rng: np.random.Generator,
        time_varying: bool,
        cells_m: np.ndarray | None = None,
        cell_pathloss: Sequence[PathLossModel] | None = None,
        cell_tx_power_dbm: Sequence[float] = (0.0,),
        hysteresis_db: float = 0.0,
        los: str = "los",
        los_rng: np.random.Generator | None = None,
        shadowing_std_db: float | None = 0.0,
        shadowing_corr_m: float | None = None,
        shadowing_correlated: bool = False,
        process: Any | None = None,
        interference: RingInterference | None = None,
    ) -> None:
        start = np.asarray(start_m, dtype=float)
        n = self.n = len(start)
        self.mobility = mobility

        # cells: a link per device and cell, flattened device-major (n * C links)
        self.cells_m = (
            np.zeros((1, 2)) if cells_m is None else np.asarray(cells_m, dtype=float).reshape(-1, 2)
        )
        self.n_cells = n_cells = len(self.cells_m)
        links = n * n_cells
        self.chunk_blocks = max(16, min(self.CHUNK_BLOCKS, self.CHUNK_LINK_BLOCKS // links))
        self.hysteresis_db = float(hysteresis_db)
        # association compares received powers: each cell's transmit power counts
        self._cell_power_dbm = np.asarray(cell_tx_power_dbm, dtype=float)
        if len(self._cell_power_dbm) != n_cells:
            raise ValueError(
                f"expected {n_cells} cell transmit powers, got {len(self._cell_power_dbm)}"
            )
        self._serving: np.ndarray | None = None  # serving cell of each device, last block
        #: (t_s, device, from_cell, to_cell) of every handover, in time order
        self.handovers: list[tuple[float, int, int, int]] = []

        # path loss and LOS state
        self.pathloss = pathloss
        # one model per distinct carrier (path loss depends on it); cells share equal ones
        self._cell_pathloss = list(cell_pathloss) if cell_pathloss is not None else [pathloss]
        if len(self._cell_pathloss) != n_cells:
            raise ValueError(f"expected {n_cells} path-loss models, got {len(cell_pathloss)}")
        if los not in ("los", "nlos", "stochastic"):
            raise ValueError(f"los: expected los, nlos or stochastic, got {los!r}")
        self.los_mode = los
        self._los_state = None
        if los == "stochastic":
            if los_rng is None:
                raise ValueError("a stochastic LOS state needs los_rng")
            self._los_state = LosState(pathloss, links, los_rng)
            los0 = self._los_state.update(self._relative(start))
        else:
            los0 = np.full(links, los == "los")

        # shadowing: a unit-variance process scaled by the standard deviation of the LOS state
        self._std_db = shadowing_std_db
        if shadowing_corr_m is not None:
            corr = np.full(links, shadowing_corr_m)
        elif isinstance(pathloss, ThreeGppPathLoss):
            corr = np.asarray(pathloss.shadowing_corr_distance_m(los0), dtype=float)
        else:
            raise ValueError("shadowing_corr_m is needed with a path-loss model other than 3GPP")
        if shadowing_std_db is None and not isinstance(pathloss, ThreeGppPathLoss):
            raise ValueError("shadowing_std_db is needed with a path-loss model other than 3GPP")
        if shadowing_correlated:
            self._unit_shadow: CorrelatedShadowing | np.ndarray = CorrelatedShadowing(
                1.0, corr, links, shadowing_rng
            )
        else:
            self._unit_shadow = shadowing_rng.standard_normal(links)

        # small-scale fading and the block grid
        self.continuous = process is not None
        self.process = process
        self.fading = fading
        self.time_varying = bool(time_varying)
        self.block_s = self.fading.coherence_s
        self._interference = interference
        self.has_interference = interference is not None
        #: mean uplink interference power at the serving BS, W (0 without interference)
        self.ul_interference_w = 0.0 if interference is None else interference.ul_power_w
        self._chunks: dict[int, np.ndarray] = {}
        self._next_chunk = 0  # chunks are computed strictly in order (sequential processes)
        self._components: dict[int, dict[str, np.ndarray]] = {}
        #: the link chain, in order: path loss -> shadowing -> fading; a link's gain is
        #: 10^(sum of the dB terms / 10) times the product of the factors
        self.chain = (
            PathLossStage(pathloss, self._cell_pathloss, los, self._los_state),
            ShadowingStage(self._unit_shadow, self._std_db, pathloss),
        )
        self.fading_stage = FadingStage(self.fading, process)

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

    def gains(self, j0: int, count: int, devices: np.ndarray | None = None) -> np.ndarray:
        """(count, n) linear power gains of blocks ``j0 .. j0+count-1`` (never earlier chunks
        than the last one asked for: time does not go back); (count, len(devices)) of those
        devices only. On a channel that never changes every block is block 0."""
        if not self.time_varying:
            row = self._chunk(0)[0]
            row = row if devices is None else row[devices]
            return np.broadcast_to(row, (count, len(row)))
        size = self.chunk_blocks
        first = j0 // size
        # the processes are sequential: a jump ahead (a long computation with an idle medium)
        # still computes every chunk in between, each dropped once the next one exists
        while self._next_chunk < first:
            self._chunk(self._next_chunk)
            self._drop_before(self._next_chunk - 1)
        # keep the block before j0 too: a wake-up at a block's start may read the clock an
        # ulp before it (block_at(now) = j0 - 1)
        self._drop_before(max(j0 - 1, 0) // size)
        return self._rows(self._chunk, j0, count, devices)

    def _rows(
        self,
        chunk_of: Any,
        j0: int,
        count: int,
        devices: np.ndarray | None,
    ) -> np.ndarray:
        """Rows ``j0 .. j0+count-1`` (columns ``devices``, default all) of the per-chunk
        arrays ``chunk_of(c)``, sliced chunk by chunk (no copy of whole chunks)."""
        size = self.chunk_blocks
        first, last = j0 // size, (j0 + count - 1) // size
        parts = []
        for c in range(first, last + 1):
            a = max(j0 - c * size, 0)
            b = min(j0 + count - c * size, size)
            part = chunk_of(c)[a:b]
            parts.append(part if devices is None else part[:, devices])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _drop_before(self, chunk: int) -> None:
        """Free the chunks (and the fading draws) before ``chunk``: time does not go back."""
        for c in [c for c in self._chunks if c < chunk]:
            del self._chunks[c]
            self._components.pop(c, None)
        self.fading.discard_before(chunk * self.chunk_blocks)

    def gain(self, j: int) -> np.ndarray:
        """(n,) linear power gains of block ``j``."""
        return self.gains(j, 1)[0]

    def serving(self, j0: int, count: int, devices: np.ndarray | None = None) -> np.ndarray:
        """(count, n) serving cell of every device in blocks ``j0 .. j0+count-1``;
        (count, len(devices)) of those devices only."""
        return self._component_rows("serving", j0, count, devices)

    def _component_rows(
        self, key: str, j0: int, count: int, devices: np.ndarray | None
    ) -> np.ndarray:
        if not self.time_varying:
            self._chunk(0)
            row = self._components[0][key][0]
            row = row if devices is None else row[devices]
            return np.broadcast_to(row, (count, *row.shape))
        self.gains(j0, count, devices=np.zeros(0, dtype=np.intp))  # computed up to there
        return self._rows(lambda c: self._components[c][key], j0, count, devices)

    def dl_interference_gain(
        self, j0: int, count: int, devices: np.ndarray | None = None
    ) -> np.ndarray:
        """(count, n) sum over the interfering base stations of load x their power gain to each
        device (multiply by the BS transmit power for watts); (count, len(devices)) of those
        devices only."""
        return self._component_rows("dl_interference_gain", j0, count, devices)

    def components(self, j: int) -> dict[str, np.ndarray]:
        """Distance (m), LOS state, path loss (dB), shadowing (dB) and fading power of every
        link in block ``j`` (for link budgets and reports)."""
        self.gain(j)
        c, row = divmod(j, self.chunk_blocks) if self.time_varying else (0, 0)
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
        size, n, n_cells = self.chunk_blocks, self.n, self.n_cells
        starts_s = np.arange(c * size, (c + 1) * size) * self.block_s
        pos = self.mobility.positions(starts_s)  # (size, n, 2)
        chunk = LinkChunk(
            starts_s,
            self._relative(pos),  # (size, n * C, 2)
            lambda: np.repeat(self.mobility.travelled(starts_s), n_cells, axis=1),
        )
        for stage in self.chain:
            stage.apply(chunk)
        self.fading_stage.apply(chunk, c * size)
        link_db = chunk.db_terms[0]
        for term in chunk.db_terms[1:]:
            link_db = link_db + term
        serving = self._associate(
            link_db.reshape(size, n, n_cells) + self._cell_power_dbm, starts_s
        )
        pick = (np.arange(size)[:, None], np.arange(n)[None, :], serving)

        def served(a: np.ndarray) -> np.ndarray:
            if n_cells == 1:  # every link is to the serving cell: no gather
                return a.reshape(size, n)
            return a.reshape(size, n, n_cells)[pick]

        comp = chunk.components
        self._components[c] = {
            "serving": serving,
            "distance_m": served(chunk.dist),
            **{k: served(v) for k, v in comp.items()},  # path loss, shadowing, fading, ...
        }
        if self._interference is not None:
            self._components[c]["dl_interference_gain"] = self._interference.load * dl_site_gains(
                self.pathloss, pos, self._interference.sites_m
            )
        gain = 10.0 ** (served(link_db) / 10.0)
        for factor in chunk.factors:
            gain = gain * served(factor)
        return gain

    def _associate(self, rx_dbm: np.ndarray, starts_s: np.ndarray) -> np.ndarray:
        """Serving cell per block (T, n): the strongest mean received power (transmit power,
        path loss, shadowing; no fast fading) at the start, then a handover whenever another
        cell is stronger by more than the hysteresis."""
        large_db = rx_dbm
        if self.n_cells == 1:  # one row of zeros, read-only, for every block
            return np.broadcast_to(np.zeros((1, self.n), dtype=np.intp), large_db.shape[:2])
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
