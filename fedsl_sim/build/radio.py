"""Builder: the radio side of a scenario — placement, mobility, path loss, shadowing, fading,
cells and interference (:class:`~fedsl_sim.sim.channel.RadioChannel`), the medium's rate
model and access, and the backhaul graph."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

import channels
from channels.doppler import coherence_time_s
from channels.fading import BlockFading
from channels.link import cqi_rate_bps, cqi_snr_thresholds_db, shannon_rate_kernel
from channels.mobility import MobilityModel
from channels.pathloss import PathLossModel
from channels.units import db_to_linear, dbm_to_w, noise_power_w
from fedsl_sim.errors import ScenarioError
from fedsl_sim.scenario import (
    BackhaulLink,
    CqiRate,
    FixedPlacement,
    NetworkConfig,
    Scenario,
    ShannonRate,
    _ThreeGppPathLoss,
    pathloss_model,
)
from fedsl_sim.sim.channel import RadioChannel, ring_interference
from fedsl_sim.sim.medium import Medium
from fedsl_sim.sim.streams import Streams
from fedsl_sim.sim.topology import SERVER, backhaul_paths, cell_node

if TYPE_CHECKING:  # networkx is imported where a graph is built (it takes ~0.2 s)
    import networkx as nx

#: shadowing of the path-loss models without a standard's own (log-distance, free space, ...)
DEFAULT_SHADOWING_STD_DB = 8.0
DEFAULT_SHADOWING_CORR_M = 50.0  # TR 36.814 decorrelation distance
#: longest sampling interval of a continuous fading process, s
MAX_SAMPLE_S = 0.01


def make_pathloss(cfg: Any, carrier_hz: float) -> PathLossModel:
    """The path-loss model of a ``network.pathloss`` block (see
    :func:`fedsl_sim.scenario.pathloss_model`)."""
    return pathloss_model(cfg, carrier_hz)


def max_speed_mps(scenario: Scenario) -> float:
    """The fastest speed of the scenario's mobility model, m/s."""
    return float(scenario.devices.mobility.max_speed_mps())


def start_positions(scenario: Scenario, streams: Streams) -> np.ndarray:
    """(n, 2) device positions at t = 0, m: the fixed ones, or drawn uniformly in the disc."""
    dev = scenario.devices
    if isinstance(dev.placement, FixedPlacement):
        return np.asarray(dev.placement.positions_m, dtype=float).reshape(dev.count, 2)
    return channels.placement.uniform_disc(
        streams.numpy("placement"),
        dev.count,
        dev.placement.radius_m,
        min_distance_m=dev.placement.min_distance_m,
    )


def make_mobility(
    scenario: Scenario, start_m: np.ndarray, rng: np.random.Generator
) -> MobilityModel:
    """The mobility model of ``devices.mobility``, devices starting at ``start_m`` (n, 2): the
    registered model the block names, with the block's
    :meth:`~fedsl_sim.scenario.MobilityParams.mobility_params` (disc-bounded models move in
    ``devices.movement_radius_m`` and start at ``start_m`` unless drawn from the stationary
    regime; the Manhattan grid is centred on the base station; a trace brings its own)."""
    dev = scenario.devices
    mob = dev.mobility
    params = mob.mobility_params(dev.count, start_m, dev.movement_radius_m, rng)
    return channels.mobility.make(mob.kind, **params)


def build_channel(scenario: Scenario, streams: Streams, source: str = "scenario") -> RadioChannel:
    """The devices' links of ``scenario`` (see :mod:`fedsl_sim.sim.channel`)."""
    dev, net = scenario.devices, scenario.network
    start = start_positions(scenario, streams)
    try:
        mobility = make_mobility(scenario, start, streams.numpy("mobility"))
    except ValueError as exc:  # e.g. a malformed trace file
        raise ScenarioError(source, str(exc), path="devices.mobility") from None
    moving = dev.mobility.kind != "static"
    cells = net.cells or ()
    server_dbm = scenario.server.tx_power_dbm
    carriers = [c.carrier_hz or net.carrier_hz for c in cells] or [net.carrier_hz]
    pl_cfg = net.pathloss
    pathloss = make_pathloss(pl_cfg, net.carrier_hz)
    three_gpp = isinstance(pl_cfg, _ThreeGppPathLoss)
    los = pl_cfg.los if isinstance(pl_cfg, _ThreeGppPathLoss) else "los"
    sh = net.shadowing
    std_db = sh.std_db
    if std_db is None and not three_gpp:
        std_db = DEFAULT_SHADOWING_STD_DB
    corr_m = sh.corr_distance_m
    if corr_m is None and not three_gpp:
        corr_m = DEFAULT_SHADOWING_CORR_M

    f = net.fading
    rng_f = streams.numpy("fading")
    model = channels.fading.make(f.kind, **f.distribution_params)
    n_links = dev.count * max(1, len(cells))
    process = None
    if f.time == "continuous":  # the model's own continuous-time process
        process = model.process(n_links, net.carrier_hz, rng_f)
        if f.sample_s is not None:
            block_s = f.sample_s
        elif max_speed_mps(scenario) > 0:
            block_s = min(
                MAX_SAMPLE_S, coherence_time_s(net.carrier_hz, max_speed_mps(scenario)) / 10
            )
        else:
            block_s = MAX_SAMPLE_S
        # a grid without fading: BlockFading of model "none" draws nothing
        fading = BlockFading(channels.fading.make("none"), n_links, block_s, rng_f)
        time_varying = moving
    else:
        fading = BlockFading(model, n_links, f.coherence_s, rng_f)
        time_varying = f.kind != "none" or moving
    interference = None
    if net.interference is not None:
        itf = net.interference
        interference = ring_interference(
            itf.inter_site_distance_m,
            itf.rings,
            itf.load,
            pathloss,
            float(dbm_to_w(dev.tx_power_dbm)),
        )
    return RadioChannel(
        start_m=start,
        mobility=mobility,
        pathloss=pathloss,
        fading=fading,
        shadowing_rng=streams.numpy("shadowing"),
        time_varying=time_varying,
        cells_m=np.asarray([c.position_m for c in cells], dtype=float) if cells else None,
        # one model per distinct carrier (path loss depends on it); cells share equal ones
        cell_pathloss=[
            pathloss if fc == net.carrier_hz else make_pathloss(pl_cfg, fc) for fc in carriers
        ],
        cell_tx_power_dbm=[server_dbm if c.tx_power_dbm is None else c.tx_power_dbm for c in cells]
        or [server_dbm],
        hysteresis_db=net.handover.hysteresis_db,
        los=los,
        los_rng=streams.numpy("los") if los == "stochastic" else None,
        shadowing_std_db=std_db,
        shadowing_corr_m=corr_m,
        shadowing_correlated=sh.correlated,
        process=process,
        interference=interference,
    )


def make_rate_model(cfg: ShannonRate | CqiRate) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """rate(bandwidth_hz, snr) -> bit/s for the ``network.rate`` block (picklable: a
    checkpoint stores it)."""
    if isinstance(cfg, CqiRate):
        return partial(cqi_rate_bps, table=cfg.table, snr_thresholds_db=cfg.snr_thresholds_db)
    return partial(shannon_rate_kernel, gap_linear=float(db_to_linear(cfg.gap_db)))


def min_rate_snr_linear(cfg: ShannonRate | CqiRate) -> float:
    """The SINR below which the ``network.rate`` model gives no rate (CQI 1's threshold for the
    CQI tables, 0 for Shannon)."""
    if isinstance(cfg, CqiRate):
        thr = cfg.snr_thresholds_db or cqi_snr_thresholds_db(cfg.table)
        return float(10.0 ** (thr[0] / 10.0))
    return 0.0


def build_medium(scenario: Scenario, env: simpy.Environment, channel: RadioChannel) -> Medium:
    """The shared wireless medium of ``scenario`` on ``env`` over ``channel``."""
    net = scenario.network
    thr = net.outage.snr_threshold_db
    cells = net.cells or ()
    server_dbm = scenario.server.tx_power_dbm
    return Medium(
        env,
        channel,
        bandwidth_hz=[c.bandwidth_hz or net.bandwidth_hz for c in cells] or net.bandwidth_hz,
        noise_psd_w_per_hz=float(noise_power_w(1.0, net.noise_figure_db)),
        device_tx_power_w=np.full(
            scenario.devices.count, float(dbm_to_w(scenario.devices.tx_power_dbm))
        ),
        bs_tx_power_w=[
            float(dbm_to_w(server_dbm if c.tx_power_dbm is None else c.tx_power_dbm)) for c in cells
        ]
        or float(dbm_to_w(server_dbm)),
        snr_threshold_linear=None if thr is None else 10.0 ** (thr / 10.0),
        policy=net.outage.policy,
        max_retransmissions=net.outage.max_retransmissions,
        chase_combining=net.outage.chase_combining,
        access=net.access.kind,
        share=net.access.share,
        rate_bps=make_rate_model(net.rate),
        handover=net.handover.interruption,
        scheduler=net.access.scheduler,
        min_share_hz=net.access.min_share_hz,
        min_rate_snr_linear=min_rate_snr_linear(net.rate),
        max_wait_s=net.outage.max_wait_s,
    )


def build_backhaul(net: NetworkConfig, source: str = "scenario") -> nx.Graph:
    """The backhaul graph of ``net`` (validated: every cell reaches the server). Without an
    explicit ``network.backhaul``, cell 0 is co-located with the server (no backhaul) and
    every other cell has a direct link to the server with the defaults of
    :class:`~fedsl_sim.scenario.BackhaulLink`."""
    import networkx as nx

    g = nx.Graph()
    g.add_node(SERVER)
    g.add_nodes_from(cell_node(i) for i in range(net.n_cells))
    if net.backhaul is None:
        g.add_edge(cell_node(0), SERVER, latency_s=0.0, capacity_bps=math.inf)
        default = BackhaulLink(a="server", b="server")
        for i in range(1, net.n_cells):
            g.add_edge(
                cell_node(i), SERVER, latency_s=default.latency_s, capacity_bps=default.capacity_bps
            )
    else:
        for link in net.backhaul:
            g.add_edge(link.a, link.b, latency_s=link.latency_s, capacity_bps=link.capacity_bps)
    for i in range(net.n_cells):
        if not nx.has_path(g, cell_node(i), SERVER):
            raise ScenarioError(
                source,
                f"expected a backhaul path from cell{i} to the server, got none",
                path="network.backhaul",
            )
    return g


def backhaul_hops(net: NetworkConfig, source: str = "scenario") -> list[list[tuple[float, float]]]:
    """Per cell, the (latency_s, capacity_bps) hops of its shortest backhaul path to the
    server (:func:`build_backhaul`'s graph). One cell without an explicit backhaul is
    co-located with the server: no hop of any cost (no graph is built)."""
    if net.n_cells == 1 and net.backhaul is None:
        return [[(0.0, math.inf)]]
    return backhaul_paths(build_backhaul(net, source), net.n_cells)
