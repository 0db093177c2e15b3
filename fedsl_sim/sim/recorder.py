"""Event records, per-round rows and the per-device ledger (bits, energy, busy time)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

# Event kinds (DESIGN.md). Transmission kinds carry bits; compute kinds carry energy.
CLIENT_FORWARD = "client_forward"
UPLINK = "uplink"
SERVER_QUEUE = "server_queue"
SERVER_COMPUTE = "server_compute"
DOWNLINK = "downlink"
CLIENT_BACKWARD = "client_backward"
MODEL_UPLOAD = "model_upload"
AGGREGATION = "aggregation"
MODEL_DOWNLOAD = "model_download"
BACKHAUL = "backhaul"
HANDOVER = "handover"
TRANSMISSION_KINDS = (UPLINK, DOWNLINK, MODEL_UPLOAD, MODEL_DOWNLOAD)


def lost(kind: str) -> str:
    """Event kind of a transmission of ``kind`` lost to outage (``uplink`` -> ``uplink_lost``)."""
    return f"{kind}_lost"


EVENT_KINDS = (
    CLIENT_FORWARD,
    UPLINK,
    SERVER_QUEUE,
    SERVER_COMPUTE,
    DOWNLINK,
    CLIENT_BACKWARD,
    MODEL_UPLOAD,
    AGGREGATION,
    MODEL_DOWNLOAD,
    *(lost(k) for k in TRANSMISSION_KINDS),
    BACKHAUL,
    HANDOVER,
)
UPLINK_KINDS = frozenset({UPLINK, MODEL_UPLOAD})
DOWNLINK_KINDS = frozenset({DOWNLINK, MODEL_DOWNLOAD})
LOST_UPLINK_KINDS = frozenset(lost(k) for k in UPLINK_KINDS)
LOST_KINDS = frozenset(lost(k) for k in TRANSMISSION_KINDS)
COMPUTE_KINDS = frozenset({CLIENT_FORWARD, CLIENT_BACKWARD})
#: transmission kinds (delivered or lost), whose events carry ``outage_s``
OUTAGE_KINDS = (*TRANSMISSION_KINDS, *(lost(k) for k in TRANSMISSION_KINDS))

EVENT_COLUMNS = (
    "t_start_s",
    "t_end_s",
    "device",
    "round",
    "kind",
    "bits",
    "rate_bps",
    "snr_db",
    "energy_j",
    "cell",
    "outage_s",
)
ROUND_COLUMNS = (
    "round",
    "sim_time_s",
    "test_accuracy",
    "test_loss",
    "train_loss",
    "uplink_bits",
    "downlink_bits",
    "energy_j",
    "participants",
    "dropped",
    "staleness_mean",
    "staleness_max",
)


@dataclass
class Event:
    """One timed thing a device or the server did (a row of ``events.csv``)."""

    t_start_s: float
    t_end_s: float
    device: int | None
    round: int
    kind: str
    bits: int | None = None
    rate_bps: float | None = None
    snr_db: float | None = None
    energy_j: float = 0.0

    cell: int | None = None  # handover: the new serving cell
    #: transmissions: the part of the event spent paused in outage (policy wait) or in
    #: failed blocks (harq/drop), seconds
    outage_s: float | None = None

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, c) for c in EVENT_COLUMNS)


@dataclass
class RoundRow:
    """One round's totals (a row of ``rounds.csv``)."""

    round: int
    sim_time_s: float
    test_accuracy: float | None
    test_loss: float | None
    train_loss: float | None
    uplink_bits: int
    downlink_bits: int
    energy_j: float
    participants: int
    dropped: int
    #: staleness of the updates the round's average used (mean, max); None: no average
    staleness_mean: float | None = None
    staleness_max: int | None = None

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, c) for c in ROUND_COLUMNS)


@dataclass
class _RoundTally:
    uplink_bits: int = 0
    downlink_bits: int = 0
    energy_j: float = 0.0
    lost_messages: int = 0
    losses: list[float] = field(default_factory=list)


class Recorder:
    """Collects events in the order they complete and keeps running totals.

    The per-device ledger (bits, compute/transmit energy, busy time per kind) is updated as
    events arrive, so ``devices.csv`` and ``summary.json`` are sums of ``events.csv``.
    """

    def __init__(self, n_devices: int) -> None:
        self.n = n_devices
        self.events: list[Event] = []
        self.rounds: list[RoundRow] = []
        self.uplink_bits = np.zeros(n_devices, dtype=np.int64)
        self.downlink_bits = np.zeros(n_devices, dtype=np.int64)
        self.compute_energy_j = np.zeros(n_devices)
        self.transmit_energy_j = np.zeros(n_devices)
        self.busy_s = {kind: np.zeros(n_devices) for kind in EVENT_KINDS}
        #: per transmission kind, the part of busy_s spent paused or in failed blocks
        self.outage_s = {kind: np.zeros(n_devices) for kind in OUTAGE_KINDS}
        self.server_busy_s = {kind: 0.0 for kind in EVENT_KINDS}
        self._tally = _RoundTally()
        #: when set (asynchronous training, where a device's work spans rounds), an event
        #: belongs to the round in which it completes, as the round's totals count it
        self.round_now: int | None = None

    def event(self, ev: Event) -> None:
        if self.round_now is not None and ev.round != self.round_now:
            ev = replace(ev, round=self.round_now)
        self.events.append(ev)
        k = ev.device
        duration = ev.t_end_s - ev.t_start_s
        if ev.kind in UPLINK_KINDS:
            self._tally.uplink_bits += ev.bits or 0
        elif ev.kind in DOWNLINK_KINDS:
            self._tally.downlink_bits += ev.bits or 0
        elif ev.kind in LOST_KINDS:
            self._tally.lost_messages += 1
        self._tally.energy_j += ev.energy_j
        if k is None:
            self.server_busy_s[ev.kind] += duration
            return
        self.busy_s[ev.kind][k] += duration
        if ev.outage_s:
            self.outage_s[ev.kind][k] += ev.outage_s
        if ev.kind in UPLINK_KINDS:
            self.uplink_bits[k] += ev.bits or 0
            self.transmit_energy_j[k] += ev.energy_j
        elif ev.kind in LOST_UPLINK_KINDS:
            self.transmit_energy_j[k] += ev.energy_j
        elif ev.kind in DOWNLINK_KINDS:
            self.downlink_bits[k] += ev.bits or 0
        elif ev.kind in COMPUTE_KINDS:
            self.compute_energy_j[k] += ev.energy_j

    def train_loss(self, loss: float) -> None:
        self._tally.losses.append(loss)

    def close_round(
        self,
        r: int,
        sim_time_s: float,
        test: tuple[float, float] | None,
        participants: int,
        dropped: int,
        staleness: list[int] | None = None,
    ) -> RoundRow:
        """Close round ``r``; ``dropped`` counts the scheme's own drops, to which the messages
        lost to outage in the round are added; ``staleness``: of each update the round's
        average used (None: no average; synchronous updates: 0)."""
        t = self._tally
        row = RoundRow(
            round=r,
            sim_time_s=sim_time_s,
            test_accuracy=test[0] if test else None,
            test_loss=test[1] if test else None,
            train_loss=float(np.mean(t.losses)) if t.losses else None,
            uplink_bits=t.uplink_bits,
            downlink_bits=t.downlink_bits,
            energy_j=t.energy_j,
            participants=participants,
            dropped=dropped + t.lost_messages,
            staleness_mean=float(np.mean(staleness)) if staleness else None,
            staleness_max=max(staleness) if staleness else None,
        )
        self.rounds.append(row)
        self._tally = _RoundTally()
        return row

    def energy_totals(self) -> dict[str, float]:
        compute = float(self.compute_energy_j.sum())
        transmit = float(self.transmit_energy_j.sum())
        return {"total": compute + transmit, "compute": compute, "transmit": transmit}


def finite_or_none(x: float | None) -> float | None:
    """JSON-safe float: None for missing, nan or infinite values."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)
