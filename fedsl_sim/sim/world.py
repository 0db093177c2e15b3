"""The simulated physical system: clock, devices' processors, links, the server's workers.

A :class:`World` owns the SimPy environment, the random streams, the radio channel and medium,
the server's worker pool and the recorder. Schemes act on it only through the timed primitives
below, each of which books its event (and energy) in the recorder:

* :meth:`World.compute` — device compute: cycles = FLOPs / flops_per_cycle, time = cycles /
  cpu_hz, energy = kappa * cycles * cpu_hz^2 (per device);
* :meth:`World.transmit` — a message over the device's link (see :mod:`fedsl_sim.sim.medium`);
  transmit energy = P_tx * time on air (uplink; downlink reception costs the device nothing);
* :meth:`World.broadcast` — one downlink message to several devices (a multicast per cell);
* :meth:`World.server_compute` — waiting for a server worker (``server_queue``) and computing on
  it (``server_compute``) at the server's FLOP/s: the work reads its inputs when the worker
  takes it and its result is applied when the computation completes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from fedsl_sim.sim.channel import RadioChannel
from fedsl_sim.sim.medium import DOWNLINK, UPLINK, Medium, TxResult
from fedsl_sim.sim.recorder import (
    BACKHAUL,
    DOWNLINK_KINDS,
    HANDOVER,
    SERVER_COMPUTE,
    SERVER_QUEUE,
    UPLINK_KINDS,
    Event,
    Recorder,
    lost,
)
from fedsl_sim.sim.rounds import RoundControl
from fedsl_sim.sim.streams import Streams
from fedsl_sim.sim.topology import backhaul_delay_s

Process = Generator[simpy.Event, Any, Any]


def _per_device(name: str, values: np.ndarray, n: int, positive: bool = True) -> np.ndarray:
    out = np.broadcast_to(np.asarray(values, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(out)) or (np.any(out <= 0) if positive else np.any(out < 0)):
        raise ValueError(f"{name}: expected {n} finite values {'> 0' if positive else '>= 0'}")
    return out


class World:
    """Everything with a clock in one simulation; two Worlds never share state.

    Built from its parts (:func:`fedsl_sim.build.build_world` makes them from a scenario).

    Parameters
    ----------
    env : the SimPy environment (the medium's).
    streams : the random streams of the run.
    channel, medium : the devices' links and the shared wireless medium.
    rounds : participation and availability.
    backhaul_paths : per cell, the (latency_s, capacity_bps) hops to the server.
    server_workers : parallel workers of the edge server.
    server_flops_per_s : FLOP/s of one server worker.
    cpu_hz, flops_per_cycle, kappa : (n,) per device: clock (Hz), FLOPs per cycle, effective
        switched capacitance (energy = kappa cycles f^2, J).
    """

    def __init__(
        self,
        *,
        env: simpy.Environment,
        streams: Streams,
        channel: RadioChannel,
        medium: Medium,
        rounds: RoundControl,
        backhaul_paths: list[list[tuple[float, float]]],
        server_workers: int,
        server_flops_per_s: float,
        cpu_hz: np.ndarray,
        flops_per_cycle: np.ndarray,
        kappa: np.ndarray,
    ) -> None:
        if medium.env is not env or medium.channel is not channel:
            raise ValueError("the medium must be built on the world's environment and channel")
        self.env = env
        self.streams = streams
        self.channel = channel
        self.n_devices = channel.n
        self.medium = medium
        self.device_tx_power_w = medium.device_tx_power_w
        self.rounds = rounds
        self.backhaul_paths = backhaul_paths
        if len(backhaul_paths) != channel.n_cells:
            raise ValueError(
                f"expected {channel.n_cells} backhaul paths, got {len(backhaul_paths)}"
            )
        self._handovers_booked = 0
        self.server_workers = simpy.Resource(env, capacity=server_workers)
        if not server_flops_per_s > 0:
            raise ValueError(f"server_flops_per_s: expected > 0, got {server_flops_per_s}")
        self.server_flops_per_s = float(server_flops_per_s)
        n = self.n_devices
        #: per device: clock (Hz), FLOPs per cycle, effective capacitance kappa
        self.cpu_hz = _per_device("cpu_hz", cpu_hz, n)
        self.flops_per_cycle = _per_device("flops_per_cycle", flops_per_cycle, n)
        self.kappa = _per_device("kappa", kappa, n, positive=False)
        self.recorder = Recorder(n)

    @property
    def now(self) -> float:
        return self.env.now

    def compute_time_s(self, device: int, flops: float) -> float:
        """Seconds device ``device`` takes for ``flops`` FLOPs: FLOPs / (flops_per_cycle f)."""
        return flops / self.flops_per_cycle[device] / self.cpu_hz[device]

    def compute_energy_j(self, device: int, seconds: float) -> float:
        """Energy of ``seconds`` of computing on device ``device``: kappa cycles f^2 with
        cycles = seconds * f."""
        f = self.cpu_hz[device]
        return float(self.kappa[device] * (seconds * f) * f * f)

    def compute(self, device: int, kind: str, rnd: int, flops: float) -> Process:
        """Device ``device`` computes ``flops`` FLOPs (one event of ``kind``). Cut off by an
        interrupt, it books the part it computed and passes the interrupt on."""
        t0 = self.env.now
        duration = self.compute_time_s(device, flops)
        try:
            yield self.env.timeout(duration)
        except simpy.Interrupt:
            duration = self.env.now - t0  # the part it computed
            raise
        finally:
            energy_j = self.compute_energy_j(device, duration)
            self.recorder.event(Event(t0, self.env.now, device, rnd, kind, energy_j=energy_j))

    def transmit(self, device: int, kind: str, rnd: int, bits: int) -> Process:
        """Send ``bits`` over ``device``'s link; uplink for upload kinds, downlink otherwise.

        Returns the :class:`~fedsl_sim.sim.medium.TxResult`; a message lost to outage is booked
        as ``<kind>_lost`` and has ``delivered=False``: the caller decides what the loss means.
        """
        if kind in UPLINK_KINDS:
            direction, power_w = UPLINK, float(self.device_tx_power_w[device])
        elif kind in DOWNLINK_KINDS:
            direction, power_w = DOWNLINK, 0.0
        else:
            raise ValueError(f"{kind!r} is not a transmission kind")
        if direction == DOWNLINK:  # server -> serving cell over the backhaul first
            yield from self._backhaul(device, rnd, bits)
        pending = self.medium.transmit(device, direction, bits)
        try:
            res = yield pending
        except simpy.Interrupt:  # the device was cut off: what it was sending is lost
            res = self.medium.cancel(pending)
            if res is not None:
                self._book_transmission(device, rnd, kind, res, power_w)
            raise
        self._book_transmission(device, rnd, kind, res, power_w)
        if direction == UPLINK and res.delivered:  # serving cell -> server
            yield from self._backhaul(device, rnd, bits)
        return res

    def broadcast(self, devices: list[int], kind: str, rnd: int, bits: int) -> Process:
        """Send one downlink message of ``bits`` to every device of ``devices``: over the
        backhaul to each serving cell, then one multicast per cell at the rate of its weakest
        receiver. Each receiver books its own ``kind`` event (it received the message once).
        Returns ``{device: TxResult}``."""
        if kind not in DOWNLINK_KINDS:
            raise ValueError(f"{kind!r} is not a downlink transmission kind")
        env = self.env
        cell = self.channel.serving(self.channel.block_at(env.now), 1)[0]
        by_cell: dict[int, list[int]] = {}
        for k in devices:
            by_cell.setdefault(int(cell[k]), []).append(k)
        out: dict[int, TxResult] = {}

        def per_cell(members: list[int]) -> Process:
            delay = backhaul_delay_s(self.backhaul_paths[int(cell[members[0]])], bits)
            if delay > 0:
                t0 = env.now
                yield env.timeout(delay)
                for k in members:
                    self.recorder.event(Event(t0, env.now, k, rnd, BACKHAUL, bits=bits))
            pending = self.medium.multicast(members, bits)
            results = yield env.all_of(list(pending.values()))
            for k in members:
                res = results[pending[k]]
                self._book_transmission(k, rnd, kind, res, 0.0)
                out[k] = res

        yield env.all_of([env.process(per_cell(m)) for _, m in sorted(by_cell.items())])
        return out

    def _book_transmission(
        self, device: int, rnd: int, kind: str, res: TxResult, power_w: float
    ) -> None:
        self.recorder.event(
            Event(
                res.t_start_s,
                res.t_end_s,
                device,
                rnd,
                kind if res.delivered else lost(kind),
                bits=res.bits,
                rate_bps=res.mean_rate_bps,
                snr_db=res.mean_snr_db,
                energy_j=power_w * res.on_air_s,
                outage_s=res.outage_s,
            )
        )

    def _backhaul(self, device: int, rnd: int, bits: int) -> Process:
        """Carry ``bits`` between the device's serving cell and the server."""
        cell = int(self.channel.serving(self.channel.block_at(self.env.now), 1)[0, device])
        delay = backhaul_delay_s(self.backhaul_paths[cell], bits)
        if delay > 0:
            t0 = self.env.now
            try:
                yield self.env.timeout(delay)
            finally:  # cut off on the way: the part it spent is booked too
                self.recorder.event(Event(t0, self.env.now, device, rnd, BACKHAUL, bits=bits))

    def record_handovers(self, rnd: int) -> None:
        """Book the handovers that happened up to now as ``handover`` events."""
        self.channel.gains(self.channel.block_at(self.env.now), 1)  # computed up to now
        pending = self.channel.handovers
        while self._handovers_booked < len(pending) and (
            pending[self._handovers_booked][0] <= self.env.now
        ):
            t, device, _, to_cell = pending[self._handovers_booked]
            self.recorder.event(
                Event(
                    t,
                    t,
                    device,
                    rnd,
                    HANDOVER,
                    bits=None,
                    rate_bps=None,
                    snr_db=None,
                    energy_j=0.0,
                    cell=to_cell,
                )
            )
            self._handovers_booked += 1

    def server_compute(
        self,
        device: int | None,
        rnd: int,
        flops: float,
        start: Callable[[], Any],
        finish: Callable[[Any], Any] | None = None,
        kind: str = SERVER_COMPUTE,
    ) -> Process:
        """Queue for a server worker and compute ``flops`` on it. The real computation reads
        its inputs when the worker takes the job (``start()``, e.g. the forward and backward
        pass against the model as it is then) and its result is applied when the
        computation completes (``finish(start's value)``, e.g. the optimizer step), so with
        several workers a job's update is computed against the model as it was when its
        service began. Returns ``finish``'s value (``start``'s without ``finish``). Books a
        ``server_queue`` event (arrival to grant) and a ``kind`` event (the computation)."""
        t_arrive = self.env.now
        with self.server_workers.request() as slot:
            yield slot
            t_granted = self.env.now
            self.recorder.event(Event(t_arrive, t_granted, device, rnd, SERVER_QUEUE))
            value = start()
            yield self.env.timeout(flops / self.server_flops_per_s)
            self.recorder.event(Event(t_granted, self.env.now, device, rnd, kind))
            return value if finish is None else finish(value)
