"""The shared wireless medium: every active transmission, its rate, and when it completes.

Uplink and downlink each have a band of ``bandwidth_hz`` shared by OFDMA in equal parts among
the transmissions active in that direction. Device k's rate on a share B_k = B / m is

    r_k = B_k * log2(1 + SNR_k),   SNR_k = P_k * g_k / (N0 * NF * B_k)

with N0 = -174 dBm/Hz. On the uplink each device puts its whole power P_k into its share (its
SNR grows as the share shrinks); on the downlink the base station spreads its power evenly over
the band, so a share B_k carries P_bs * B_k / B and the SNR does not depend on the share.
Below the outage threshold a link carries nothing (policy ``wait``: the transmission pauses).

Whenever the set of transmissions or the channel block changes, the medium brings every active
transmission's remaining bits up to date, recomputes the rates and re-plans the next completion,
so a transmission ends exactly when the integral of its piecewise-constant rate reaches its bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from fedsl_sim.sim.channel import RadioChannel

UPLINK = "uplink"
DOWNLINK = "downlink"
DIRECTIONS = (UPLINK, DOWNLINK)


class SimulationError(RuntimeError):
    """The simulated system cannot make progress (e.g. a link in permanent outage)."""


@dataclass(frozen=True)
class TxResult:
    """What a finished transmission reports (times in simulated seconds)."""

    t_start_s: float
    t_end_s: float
    bits: int
    on_air_s: float  # time with a non-zero rate (transmit energy is booked on this)
    mean_rate_bps: float  # bits / (t_end - t_start); nan for an empty message
    mean_snr_db: float  # 10 log10 of the time-averaged linear SNR


class _Tx:
    __slots__ = (
        "device",
        "bits",
        "remaining",
        "event",
        "t_start",
        "rate",
        "snr",
        "on_air",
        "snr_integral",
        "finish_at",
    )

    def __init__(self, device: int, bits: int, event: simpy.Event, now: float) -> None:
        self.device = device
        self.bits = bits
        self.remaining = float(bits)
        self.event = event
        self.t_start = now
        self.rate = 0.0
        self.snr = 0.0
        self.on_air = 0.0
        self.snr_integral = 0.0
        self.finish_at = math.inf


class Medium:
    """Owns the active transmissions of both directions (see module docstring).

    Parameters
    ----------
    env : the simulation environment.
    channel : block-wise link gains.
    bandwidth_hz : band of each direction, Hz.
    noise_psd_w_per_hz : N0 times the noise figure, W/Hz.
    device_tx_power_w : (n,) transmit power of each device, W.
    bs_tx_power_w : base-station transmit power, W.
    snr_threshold_linear : outage threshold (linear SNR), or None for no outage.
    """

    def __init__(
        self,
        env: simpy.Environment,
        channel: RadioChannel,
        bandwidth_hz: float,
        noise_psd_w_per_hz: float,
        device_tx_power_w: np.ndarray,
        bs_tx_power_w: float,
        snr_threshold_linear: float | None,
    ) -> None:
        self.env = env
        self.channel = channel
        self.bandwidth_hz = float(bandwidth_hz)
        self.noise_psd = float(noise_psd_w_per_hz)
        self.device_tx_power_w = np.asarray(device_tx_power_w, dtype=float)
        self.bs_tx_power_w = float(bs_tx_power_w)
        self.snr_threshold = snr_threshold_linear
        self._active: dict[str, list[_Tx]] = {d: [] for d in DIRECTIONS}
        self._t_last = 0.0
        self._block = 0
        self._token = 0
        self._wake_block: int | None = None

    def transmit(self, device: int, direction: str, bits: int) -> simpy.Event:
        """Start sending ``bits`` on ``device``'s link; the event's value is a :class:`TxResult`."""
        now = self.env.now
        event = self.env.event()
        if bits <= 0:
            event.succeed(TxResult(now, now, 0, 0.0, math.nan, math.nan))
            return event
        self._advance(now)
        self._active[direction].append(_Tx(device, int(bits), event, now))
        self._replan(now)
        return event

    # ------------------------------------------------------------------ internals
    def _advance(self, now: float) -> None:
        """Bring every active transmission's remaining bits to ``now``."""
        dt = now - self._t_last
        if dt > 0:
            for txs in self._active.values():
                for tx in txs:
                    if tx.rate > 0:
                        tx.remaining -= tx.rate * dt
                        tx.on_air += dt
                    tx.snr_integral += tx.snr * dt
        self._t_last = now
        if self.channel.time_varying and now >= self.channel.block_start_s(self._block + 1):
            self._block = self.channel.block_at(now)

    def _replan(self, now: float) -> None:
        gain = self.channel.gain(self._block)
        next_t = math.inf
        any_active = False
        for direction, txs in self._active.items():
            m = len(txs)
            if m == 0:
                continue
            any_active = True
            share_hz = self.bandwidth_hz / m
            devices = np.fromiter((tx.device for tx in txs), dtype=np.intp, count=m)
            if direction == UPLINK:
                p_rx = self.device_tx_power_w[devices] * gain[devices]
            else:
                p_rx = self.bs_tx_power_w * (share_hz / self.bandwidth_hz) * gain[devices]
            snr = p_rx / (self.noise_psd * share_hz)
            rate = share_hz * np.log2(1.0 + snr)
            if self.snr_threshold is not None:
                rate[snr < self.snr_threshold] = 0.0
            for tx, r, s in zip(txs, rate.tolist(), snr.tolist(), strict=True):
                tx.rate = r
                tx.snr = s
                tx.finish_at = now + tx.remaining / r if r > 0 else math.inf
                next_t = min(next_t, tx.finish_at)
        self._wake_block = None
        if any_active and self.channel.time_varying:
            boundary = self.channel.block_start_s(self._block + 1)
            if boundary < next_t:
                next_t = boundary
                self._wake_block = self._block + 1
        self._token += 1
        if math.isinf(next_t):
            if any_active:
                stuck = sorted(tx.device for txs in self._active.values() for tx in txs)
                raise SimulationError(
                    f"devices {stuck} are in permanent outage: the channel never changes "
                    "(no fading, no mobility) and their SNR is below "
                    "network.outage.snr_threshold_db"
                )
            return
        token = self._token
        wake = self.env.timeout(next_t - now)
        wake.callbacks.append(lambda _ev: self._wake(token))

    def _wake(self, token: int) -> None:
        if token != self._token:
            return  # superseded by a later re-plan
        now = self.env.now
        planned_block = self._wake_block
        self._advance(now)
        if planned_block is not None and planned_block > self._block:
            # the boundary time now - (b - now) may differ from b by an ulp
            self._block = planned_block
        for txs in self._active.values():
            done = [tx for tx in txs if tx.finish_at <= now]
            for tx in done:
                txs.remove(tx)
                duration = now - tx.t_start
                mean_snr = tx.snr_integral / duration if duration > 0 else tx.snr
                tx.event.succeed(
                    TxResult(
                        t_start_s=tx.t_start,
                        t_end_s=now,
                        bits=tx.bits,
                        on_air_s=tx.on_air,
                        mean_rate_bps=tx.bits / duration if duration > 0 else math.inf,
                        mean_snr_db=10.0 * math.log10(mean_snr) if mean_snr > 0 else -math.inf,
                    )
                )
        self._replan(now)
