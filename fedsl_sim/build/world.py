"""Builder: the world of a scenario — clock, channel, medium, round control, backhaul, the
devices' processors and the server's workers (:class:`~fedsl_sim.sim.world.World`)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import simpy

from fedsl_sim.build.radio import backhaul_hops, build_channel, build_medium
from fedsl_sim.errors import ScenarioError
from fedsl_sim.scenario import (
    BernoulliAvailability,
    BestChannelParticipation,
    PerDevice,
    RandomParticipation,
    RoundsConfig,
    Scenario,
    TraceAvailability,
    UniformRange,
)
from fedsl_sim.sim.channel import RadioChannel
from fedsl_sim.sim.rounds import RoundControl
from fedsl_sim.sim.streams import Streams
from fedsl_sim.sim.world import World

#: latest time an availability trace may name, s (about 32 years)
MAX_TRACE_S = 1.0e9


def per_device_values(value: PerDevice, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) values of a per-device field: one value, a list, or a uniform range (drawn)."""
    if isinstance(value, UniformRange):
        return rng.uniform(value.low, value.high, size=n)
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def read_down_intervals(path: str, n_devices: int, source: str) -> list[list[tuple[float, float]]]:
    """Per device, its down intervals [t_down, t_up) from a CSV ``device, t_down_s, t_up_s``."""
    where = f"rounds.availability.path ({path})"
    out: list[list[tuple[float, float]]] = [[] for _ in range(n_devices)]
    with Path(path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"device", "t_down_s", "t_up_s"} - set(reader.fieldnames or ())
        if missing:
            raise ScenarioError(source, f"{where}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                k, t0, t1 = int(row["device"]), float(row["t_down_s"]), float(row["t_up_s"])
            except (TypeError, ValueError):
                raise ScenarioError(source, f"{where}: line {line}: not numbers: {row}") from None
            if not 0 <= k < n_devices:
                raise ScenarioError(
                    source, f"{where}: line {line}: device {k} is not in 0..{n_devices - 1}"
                )
            if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1 <= MAX_TRACE_S):
                raise ScenarioError(
                    source,
                    f"{where}: line {line}: expected 0 <= t_down_s < t_up_s <= {MAX_TRACE_S:g} "
                    f"(finite seconds), got {t0}, {t1}",
                )
            out[k].append((t0, t1))
    for k in range(n_devices):
        out[k].sort()
    return out


def build_round_control(
    cfg: RoundsConfig,
    n_devices: int,
    streams: Streams,
    channel: RadioChannel,
    source: str = "scenario",
) -> RoundControl:
    """Participation and availability of the ``rounds`` block."""
    part, avail = cfg.participation, cfg.availability
    kind, fraction = "all", 1.0
    if isinstance(part, RandomParticipation | BestChannelParticipation):
        kind, fraction = part.kind, part.fraction
    return RoundControl(
        n_devices,
        channel,
        participation_rng=streams.numpy("participation"),
        availability_rng=streams.numpy("availability"),
        participation=kind,
        fraction=fraction,
        p_unavailable=(avail.p_unavailable if isinstance(avail, BernoulliAvailability) else None),
        down_intervals=(
            read_down_intervals(avail.path, n_devices, source)
            if isinstance(avail, TraceAvailability)
            else None
        ),
    )


def build_world(scenario: Scenario, source: str = "scenario") -> World:
    """Everything with a clock in a simulation of ``scenario`` (bad input: ScenarioError
    naming ``source`` and the field)."""
    streams = Streams(scenario.seed)
    env = simpy.Environment()
    channel = build_channel(scenario, streams, source=source)
    medium = build_medium(scenario, env, channel)
    n = scenario.devices.count
    net = scenario.network
    comp, rng = scenario.devices.compute, streams.numpy("compute")
    # drawn in this order from the compute stream
    cpu_hz = per_device_values(comp.cpu_hz, n, rng)
    flops_per_cycle = per_device_values(comp.flops_per_cycle, n, rng)
    kappa = per_device_values(comp.kappa, n, rng)
    return World(
        env=env,
        streams=streams,
        channel=channel,
        medium=medium,
        rounds=build_round_control(scenario.rounds, n, streams, channel, source),
        backhaul_paths=backhaul_hops(net, source),
        server_workers=scenario.server.workers,
        server_flops_per_s=scenario.server.flops_per_s,
        cpu_hz=cpu_hz,
        flops_per_cycle=flops_per_cycle,
        kappa=kappa,
    )
