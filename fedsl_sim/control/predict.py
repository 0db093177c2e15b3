"""The round-latency predictor control policies share: what a device's round would take from
its workload (FLOPs, bits), its clock and its links' rates on the observed (large-scale) gain.

It adds, per device, its computation (``steps x device FLOPs / (FLOPs per cycle x f)``), its
per-step messages at its uplink and downlink rates and over the backhaul between its cell and
the server, the server's computation for it, and its model upload; the round then ends with
the server's averaging and the average's download. It is exact for a device alone on a
channel that does not change (no fading, no mobility), with no server queue, the same split
layer for every device and no pruning-mask update pending — the simulator's time model;
otherwise an estimate: sharing the band, queueing for a server worker, fading and outage, a
mask about to change (the workload counts the current mask), SplitFed V1's averaging of the
server-side copies, a broadcast plus unicast of per-device split layers make the simulated
round longer or shorter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    """What one device does in one round (from the scheme, at the round's start).

    steps : local steps.
    device_flops_per_step : the device's FLOPs per step (forward and backward, whole batch).
    server_flops_per_step : the server's FLOPs for one of the device's steps (0: FL).
    uplink_bits_per_step : bits the device sends per step (activations and labels; expected
        with activation dropout), 0 for FL.
    downlink_bits_per_step : bits it receives per step (the split-layer gradient), 0 for FL.
    upload_bits : its model upload in an averaging round (0 otherwise).
    download_bits : the average sent back to it in an averaging round (0 otherwise).
    aggregation_flops : the server's FLOPs to average the uploads of this device (one
        multiply-add per parameter), 0 when not averaging.
    """

    steps: int
    device_flops_per_step: float
    server_flops_per_step: float = 0.0
    uplink_bits_per_step: float = 0.0
    downlink_bits_per_step: float = 0.0
    upload_bits: float = 0.0
    download_bits: float = 0.0
    aggregation_flops: float = 0.0


@dataclass(frozen=True)
class Latency:
    """A device's predicted round, s: computing, sending, receiving, server work (its own
    steps' and its share of the averaging), and the total."""

    compute_s: float
    uplink_s: float
    downlink_s: float
    server_s: float
    backhaul_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.compute_s + self.uplink_s + self.downlink_s + self.server_s + self.backhaul_s


def predict_latency(
    work: Workload,
    cpu_hz: float,
    flops_per_cycle: float,
    uplink_bps: float,
    downlink_bps: float,
    server_flops_per_s: float,
    backhaul_s: Callable[[float], float] | None = None,
) -> Latency:
    """Device round latency of ``work`` at clock ``cpu_hz`` (Hz) with the link rates (bit/s),
    the server's speed (FLOP/s) and ``backhaul_s(bits)``, the time a message of that many bits
    takes between the device's cell and the server (None: none); see the module docstring."""
    if not (cpu_hz > 0 and flops_per_cycle > 0 and server_flops_per_s > 0):
        raise ValueError("cpu_hz, flops_per_cycle and server_flops_per_s must be > 0")

    def send(bits: float, rate: float) -> float:
        if bits <= 0:
            return 0.0
        return bits / rate if rate > 0 else float("inf")

    steps = work.steps
    # per step, as the simulator times it: forward and backward on the device (one sum)
    compute = steps * (work.device_flops_per_step / flops_per_cycle / cpu_hz)
    uplink = steps * send(work.uplink_bits_per_step, uplink_bps) + send(
        work.upload_bits, uplink_bps
    )
    downlink = steps * send(work.downlink_bits_per_step, downlink_bps) + send(
        work.download_bits, downlink_bps
    )
    server = (steps * work.server_flops_per_step + work.aggregation_flops) / server_flops_per_s
    backhaul = 0.0
    if backhaul_s is not None:

        def hop(bits: float) -> float:
            return backhaul_s(bits) if bits > 0 else 0.0

        per_step = hop(work.uplink_bits_per_step) + hop(work.downlink_bits_per_step)
        backhaul = steps * per_step + hop(work.upload_bits) + hop(work.download_bits)
    return Latency(compute, uplink, downlink, server, backhaul)
