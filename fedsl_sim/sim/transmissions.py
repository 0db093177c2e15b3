"""The medium's bookkeeping: the active transmissions (:class:`Tx`), their progress as a
struct of arrays (:class:`TxTable`) and the plan of their rates over the upcoming channel
blocks, built in pieces (:class:`Plan`). :class:`fedsl_sim.sim.medium.Medium` owns one table
and at most one plan; the rules (shares, scheduler, outage, when to wake up) are its own."""

from __future__ import annotations

import math

import numpy as np
import simpy


class Tx:
    """One transmission: to one device, or (multicast, downlink) to several of one cell. Its
    progress (bits left, time on air, ...) is a row of the medium's :class:`TxTable`."""

    __slots__ = ("devices", "events", "uplink", "bits", "t_start")

    def __init__(
        self, devices: list[int], uplink: bool, bits: int, events: list[simpy.Event], now: float
    ) -> None:
        self.devices = devices
        self.events = events
        self.uplink = uplink
        self.bits = bits
        self.t_start = now


class TxTable:
    """The active transmissions in order of start, and their progress as arrays (one entry
    per transmission, in the same order): a struct of arrays, so that bringing every
    transmission up to date is one vector operation per quantity.

    ``remaining`` bits still to send, ``on_air`` s spent radiating, ``outage`` s paused or in
    failed blocks, ``snr_integral`` (linear SNR x s), ``failures`` blocks lost so far
    (harq/drop), ``chase_snr`` the SNR combined from the failed blocks since the last success,
    ``idle_since`` the instant from which it has sent nothing (its start, or the end of its
    last delivered bits); ``uplink``, ``weight`` (bits, for proportional shares) and ``lead``
    (the first device)."""

    FLOATS = ("remaining", "on_air", "outage", "snr_integral", "chase_snr", "idle_since")

    def __init__(self) -> None:
        self.txs: list[Tx] = []
        self.remaining = np.zeros(0)
        self.on_air = np.zeros(0)
        self.outage = np.zeros(0)
        self.snr_integral = np.zeros(0)
        self.chase_snr = np.zeros(0)
        self.idle_since = np.zeros(0)
        self.failures = np.zeros(0, dtype=np.int64)
        self.uplink = np.zeros(0, dtype=bool)
        self.weight = np.zeros(0)
        self.lead = np.zeros(0, dtype=np.intp)
        self.multicasts = 0  # transmissions with more than one receiver
        self._members: tuple[np.ndarray, np.ndarray | None] | None = None

    def __len__(self) -> int:
        return len(self.txs)

    def index(self, tx: Tx) -> int:
        return self.txs.index(tx)  # Tx compares by identity

    def progress(self, i: int) -> tuple[float, float, float, float, int, float, float]:
        return (
            float(self.remaining[i]),
            float(self.on_air[i]),
            float(self.outage[i]),
            float(self.snr_integral[i]),
            int(self.failures[i]),
            float(self.chase_snr[i]),
            float(self.idle_since[i]),
        )

    def append(
        self,
        tx: Tx,
        progress: tuple[float, float, float, float, int, float, float] | None = None,
    ) -> None:
        """Add ``tx`` last, fresh or with the progress of the transmission it leaves."""
        fresh = (float(tx.bits), 0.0, 0.0, 0.0, 0, 0.0, tx.t_start)
        rem, air, out, snr, fail, chase, idle = progress if progress is not None else fresh
        self.txs.append(tx)
        self.remaining = np.append(self.remaining, rem)
        self.on_air = np.append(self.on_air, air)
        self.outage = np.append(self.outage, out)
        self.snr_integral = np.append(self.snr_integral, snr)
        self.failures = np.append(self.failures, np.int64(fail))
        self.chase_snr = np.append(self.chase_snr, chase)
        self.idle_since = np.append(self.idle_since, idle)
        self.uplink = np.append(self.uplink, tx.uplink)
        self.weight = np.append(self.weight, float(tx.bits))
        self.lead = np.append(self.lead, np.intp(tx.devices[0]))
        self.multicasts += len(tx.devices) > 1
        self._members = None

    def remove(self, txs: list[Tx]) -> None:
        """Remove the transmissions ``txs`` (the others keep their order)."""
        if not txs:
            return
        rows = sorted(self.txs.index(t) for t in txs)
        self.multicasts -= sum(len(self.txs[i].devices) > 1 for i in rows)
        for i in reversed(rows):
            del self.txs[i]
        for name in (*self.FLOATS, "failures", "uplink", "weight", "lead"):
            setattr(self, name, np.delete(getattr(self, name), rows))
        self._members = None

    def split_off(self, tx: Tx, member: int) -> Tx:
        """Receiver ``member`` leaves the multicast ``tx``: a transmission of its own (last),
        with the progress of ``tx``."""
        i = self.index(tx)
        j = tx.devices.index(member)
        alone = Tx([member], tx.uplink, tx.bits, [tx.events[j]], tx.t_start)
        was_multicast = len(tx.devices) > 1
        del tx.devices[j], tx.events[j]
        self.multicasts -= was_multicast and len(tx.devices) <= 1
        if tx.devices:
            self.lead[i] = tx.devices[0]
        self.append(alone, self.progress(i))
        return alone

    def restart(self, tx: Tx) -> None:
        """``tx`` starts its message over (a handover under the ``restart`` rule)."""
        i = self.index(tx)
        self.remaining[i] = float(tx.bits)
        self.failures[i] = 0
        self.chase_snr[i] = 0.0

    def members(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Every receiver (or sender) of the transmissions, flattened (M,), and the offsets
        of each transmission's first one (None when every transmission has one)."""
        if self._members is None:
            if not self.multicasts:
                self._members = (self.lead, None)
            else:
                sizes = [len(tx.devices) for tx in self.txs]
                flat = np.fromiter(
                    (k for tx in self.txs for k in tx.devices), np.intp, count=sum(sizes)
                )
                self._members = (flat, np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp))
        return self._members

    def owner(self) -> np.ndarray:
        """The transmission (its position) of each member (M,)."""
        m = len(self.txs)
        if not self.multicasts:
            return np.arange(m)
        return np.repeat(np.arange(m), [len(tx.devices) for tx in self.txs])


class Plan:
    """Rates of the active transmissions over upcoming segments (channel blocks), from ``t0``.

    Segment k spans offsets [seg_off[k], seg_off[k] + seg_len[k]) seconds after t0 and is
    channel block j0 + k; the cumulative arrays have one leading row of zeros (shape (S+1, m)).
    A plan is built in pieces (the medium's ``_extend``): the first blocks when it is made,
    more when the medium reaches their end with nothing changed; every piece continues the
    sums of the ones before, so the plan is the one that would have been built at once.
    """

    def __init__(
        self,
        t0: float,
        j0: int,
        m: int,
        tx_cell: np.ndarray,
        remaining: np.ndarray,
        budget: np.ndarray,
        first_chunk: int,
    ) -> None:
        self.t0, self.j0 = t0, j0
        self.tx_cell = tx_cell  # each transmission's cell at the plan's start (m,)
        self.remaining = remaining  # bits left at t0 (m,)
        self.budget = budget  # failed blocks each may still survive (harq/drop)
        self.failures_so_far = np.zeros(m, dtype=np.int64)  # failed blocks in the plan
        self.next_chunk = first_chunk  # blocks the next piece plans
        self.seg_off = np.zeros(0)  # (S,)
        self.seg_len = np.zeros(0)  # (S,)
        self.rate = np.zeros((0, m))  # (S, m) bit/s delivered (0 in outage)
        self.snr = np.zeros((0, m))  # (S, m) linear
        self.on_air = np.zeros((0, m))  # (S, m) fraction of the segment spent radiating
        self.stalled = np.zeros((0, m), dtype=bool)  # paused (wait) or a failed block
        self.failed = np.zeros((0, m), dtype=bool)  # the segment is a lost block
        self.chase_after = np.zeros((0, m))  # combined SNR carried out of each segment
        self.last_sent = np.zeros((0, m), dtype=np.intp)  # last row delivering bits (-1: none)
        self.cum_bits = np.zeros((1, m))
        self.cum_on_air = np.zeros((1, m))
        self.cum_outage = np.zeros((1, m))
        self.cum_snr = np.zeros((1, m))
        self.wake_off = math.inf  # offset of the planned wake-up
        self.wake_block: int | None = None  # block at the wake-up when it is a horizon end
        self.finishing: list[int] = []  # columns that complete at the wake-up
        self.lost: list[int] = []  # columns lost at the wake-up
        self.handing_over: list[tuple[int, list[int]]] = []  # (column, receivers moving)
        self.extending = False  # the wake-up plans the next piece

    @property
    def rows(self) -> int:
        return len(self.seg_off)

    def append(
        self,
        seg_off: np.ndarray,
        seg_len: np.ndarray,
        rate: np.ndarray,
        snr: np.ndarray,
        on_air: np.ndarray,
        stalled: np.ndarray,
        failed: np.ndarray,
        chase_after: np.ndarray,
        cum_bits: np.ndarray,
    ) -> None:
        """Add the next segments (their cumulative bits ``cum_bits`` already continue the
        plan's); the other running sums are continued here, in order."""
        finite_len = np.where(np.isfinite(seg_len), seg_len, 0.0)[:, None]
        first = self.rows == 0
        row = np.arange(self.rows, self.rows + len(seg_off))[:, None]
        last_sent = np.maximum.accumulate(np.where(rate > 0, row, -1), axis=0)
        if not first:
            last_sent = np.maximum(last_sent, self.last_sent[-1])
        self.last_sent = last_sent if first else np.vstack((self.last_sent, last_sent))
        if first:  # nothing to join: take the pieces as they are
            self.seg_off, self.seg_len = seg_off, seg_len
            self.rate, self.snr, self.on_air = rate, snr, on_air
            self.stalled, self.failed, self.chase_after = stalled, failed, chase_after
            self.cum_bits = np.vstack((self.cum_bits, cum_bits))
            for name, part in (
                ("cum_on_air", on_air * finite_len),
                ("cum_outage", stalled * finite_len),
                ("cum_snr", snr * finite_len),
            ):  # exactly the sums of a plan built at once
                setattr(self, name, np.vstack((getattr(self, name), np.cumsum(part, 0))))
            return
        for name, part in (
            ("cum_on_air", on_air * finite_len),
            ("cum_outage", stalled * finite_len),
            ("cum_snr", snr * finite_len),
        ):
            before = getattr(self, name)
            new = np.vstack((before[:-1], np.cumsum(np.vstack((before[-1:], part)), 0)))
            setattr(self, name, new)
        self.seg_off = np.concatenate((self.seg_off, seg_off))
        self.seg_len = np.concatenate((self.seg_len, seg_len))
        self.rate = np.vstack((self.rate, rate))
        self.snr = np.vstack((self.snr, snr))
        self.on_air = np.vstack((self.on_air, on_air))
        self.stalled = np.vstack((self.stalled, stalled))
        self.failed = np.vstack((self.failed, failed))
        self.chase_after = np.vstack((self.chase_after, chase_after))
        self.cum_bits = np.vstack((self.cum_bits, cum_bits))
