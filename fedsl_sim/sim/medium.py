"""The shared wireless medium: every active transmission, its rate, and when it completes.

Uplink and downlink each have a band of ``bandwidth_hz`` (per cell) shared among the
transmissions active in that direction. With OFDMA transmission i gets a part f_i of the band
B and its rate is

    r_i = f_i B log2(1 + SINR_i),   uplink SINR_i = P_i g_i / (N0 NF f_i B + I_ul),
                                    downlink SINR_i = P_bs g_i / (N0 NF B + P_bs I_dl,i)

with N0 = -174 dBm/Hz. On the uplink a device puts its whole power P_i into its part (its SNR
grows as the part shrinks); on the downlink the base station spreads its power evenly over the
band, so the SNR does not depend on the part. With TDMA each transmission gets the whole band
for a fraction f_i of the time: rate f_i B log2(1 + SINR_i(B)), and it radiates (spends
energy) only in its own slots, f_i of the time.

Who gets which part is the scheduler's rule (:mod:`channels.scheduling`), block by block:
``power_aware`` (default) judges each transmission on its nominal share (equal, or
proportional to its bits); a power-limited uplink below the threshold there gets the narrower
part on which it reaches it (no narrower than ``min_share_hz``), a transmission that cannot
reach it even so waits, and the band that waiting or narrowed transmissions leave is shared by
the others. ``fixed_share`` is the older rule: every transmission holds its nominal share,
waiting or not, and is judged on it. Under ``harq``/``drop`` the transmitters are blind (they
transmit in every block, successful or not), so they always hold their nominal share.

Below the outage threshold a link carries nothing. What the transmitter does then is the
outage policy, with the coherence block as the unit of (re)transmission:

* ``wait`` — it knows the channel and pauses (no energy) until the SNR recovers;
* ``harq`` — it does not know the channel: it keeps transmitting, each block in outage is a
  failed attempt whose time and energy are spent and whose bits are sent again; after more
  than ``max_retransmissions`` failed blocks the message is lost. With Chase combining a failed
  block's SNR is kept and added to the next block's, so retransmissions can succeed below the
  threshold;
* ``drop`` — the first block in outage loses the message (``harq`` with no retransmission).

A lost message ends at the end of the block that lost it; its :class:`TxResult` says
``delivered=False`` and the scheme decides what the loss means. Each result also says how long
the transmission spent paused (``wait``) or in failed blocks (``harq``/``drop``):
``outage_s``.

A *multicast* (:meth:`Medium.multicast`) sends one message to several devices of a cell at
once: one transmission holding one share, at the common rate of its weakest receiver (the
lowest SINR among them, block by block). A receiver that changes cell during it leaves the
multicast and goes on alone in its new cell under the handover rule.

Whenever the set of active transmissions changes (one starts or ends), the medium brings every
active transmission's remaining bits up to date and re-plans: it computes each transmission's
rate in every upcoming channel block (the rate is constant within a block while the set is
unchanged), integrates them, and schedules one SimPy event at the earliest instant at which a
transmission's integral reaches its bits. A transmission therefore ends exactly when the
integral of its piecewise-constant rate reaches its bits, at the cost of one event per start or
end rather than one per coherence block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from channels.link import downlink_sinr, shannon_rate_kernel, uplink_sinr
from channels.scheduling import SCHEDULERS, water_fill_fractions
from fedsl_sim.sim.access import ACCESS, Access, Links
from fedsl_sim.sim.channel import RadioChannel
from fedsl_sim.sim.outage import OUTAGE_POLICIES, OutagePolicy
from fedsl_sim.sim.transmissions import Plan, Tx, TxTable

UPLINK = "uplink"
DOWNLINK = "downlink"
DIRECTIONS = (UPLINK, DOWNLINK)
#: one LTE/NR resource block at 15 kHz subcarrier spacing: 12 x 15 kHz
RESOURCE_BLOCK_HZ = 180e3


class SimulationError(RuntimeError):
    """The simulated system cannot make progress (e.g. a link in permanent outage)."""


@dataclass(frozen=True)
class TxResult:
    """What a finished transmission reports (times in simulated seconds)."""

    t_start_s: float
    t_end_s: float
    bits: int
    on_air_s: float  # time spent radiating (transmit energy is booked on this)
    mean_rate_bps: float  # bits / (t_end - t_start) when delivered; nan for an empty message
    mean_snr_db: float  # 10 log10 of the time-averaged linear SNR
    delivered: bool = True  # False: lost to outage (policy harq or drop)
    outage_s: float = 0.0  # time paused in outage (wait) or spent in failed blocks (harq/drop)


class _Wake:
    """Callback of a planned wake-up; ``stale`` (a no-op) once a later re-plan superseded it,
    so a checkpoint between rounds can tell that the timeout left in the queue is dead."""

    __slots__ = ("medium", "token")

    def __init__(self, medium: Medium, token: int) -> None:
        self.medium = medium
        self.token = token

    @property
    def stale(self) -> bool:
        return self.token != self.medium._token

    def __call__(self, _event: simpy.Event) -> None:
        self.medium._wake(self.token)


class Medium:
    """Owns the active transmissions of both directions (see module docstring).

    Parameters
    ----------
    env : the simulation environment.
    channel : block-wise link gains.
    bandwidth_hz : band of each direction, Hz (a value, or one per cell).
    noise_psd_w_per_hz : N0 times the noise figure, W/Hz.
    device_tx_power_w : (n,) transmit power of each device, W.
    bs_tx_power_w : base-station transmit power, W (a value, or one per cell).
    snr_threshold_linear : outage threshold (linear SNR), or None for no outage.
    policy : outage policy, ``wait``, ``harq`` or ``drop``.
    max_retransmissions : failed blocks a message survives under ``harq``.
    chase_combining : ``harq`` with Chase combining of failed blocks.
    access, share : ``ofdma``/``tdma``; ``equal``/``proportional`` parts.
    rate_bps : rate(bandwidth_hz, sinr) in bit/s (default: Shannon capacity).
    handover : what a handover does to a transmission in flight: ``continue`` (the remaining
        bits go on in the new cell), ``restart`` (everything is sent again) or ``drop``.
    scheduler : ``power_aware`` or ``fixed_share`` (see module docstring).
    min_share_hz : the narrowest part the ``power_aware`` scheduler gives an uplink, Hz.
    min_rate_snr_linear : the SINR below which ``rate_bps`` gives 0 (CQI 1's threshold for the
        CQI tables; 0 for Shannon): the ``power_aware`` scheduler treats it as a threshold too.
    max_wait_s : a transmission that has sent nothing for this long (simulated seconds) is a
        link that cannot deliver: :class:`SimulationError` naming its device (None: no limit).
    """

    #: Longest look-ahead of one plan, in channel blocks; a plan that sees no completion
    #: within it wakes up at its end and plans again.
    MAX_HORIZON_BLOCKS = 1 << 16
    #: (block, transmission) pairs the first piece of a plan covers (at least 4 blocks)
    PLAN_CELLS = 256

    def __init__(
        self,
        env: simpy.Environment,
        channel: RadioChannel,
        bandwidth_hz: float | Sequence[float],
        noise_psd_w_per_hz: float,
        device_tx_power_w: np.ndarray,
        bs_tx_power_w: float | Sequence[float],
        snr_threshold_linear: float | None,
        policy: str = "wait",
        max_retransmissions: int = 0,
        chase_combining: bool = False,
        access: str = "ofdma",
        share: str = "equal",
        rate_bps: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        handover: str = "continue",
        scheduler: str = "power_aware",
        min_share_hz: float = RESOURCE_BLOCK_HZ,
        min_rate_snr_linear: float = 0.0,
        max_wait_s: float | None = None,
    ) -> None:
        if policy not in OUTAGE_POLICIES:
            raise ValueError(f"policy must be one of {OUTAGE_POLICIES.names()}, got {policy!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        self.env = env
        self.channel = channel
        self.n_cells = int(getattr(channel, "n_cells", 1))
        self.bandwidth_hz = np.broadcast_to(np.asarray(bandwidth_hz, dtype=float), self.n_cells)
        self.noise_psd = float(noise_psd_w_per_hz)
        self.device_tx_power_w = np.asarray(device_tx_power_w, dtype=float)
        #: per device, the weight of its transmissions in the band's shares (a control
        #: policy's; 1: the scenario's rule alone; a multicast takes its first receiver's)
        self.share_weight = np.ones(len(self.device_tx_power_w))
        self.bs_tx_power_w = np.broadcast_to(np.asarray(bs_tx_power_w, dtype=float), self.n_cells)
        if handover not in ("continue", "restart", "drop"):
            raise ValueError(f"unknown handover interruption rule {handover!r}")
        self.handover = handover
        self.snr_threshold = snr_threshold_linear
        if access not in ACCESS or share not in ("equal", "proportional"):
            raise ValueError(f"unknown access {access!r} / share {share!r}")
        self.access, self.share = access, share
        #: the multiple-access rule and the outage policy the medium delegates to
        self.access_rule: Access = ACCESS.make(access)
        self.outage_rule: OutagePolicy = OUTAGE_POLICIES.make(
            policy, max_retransmissions=max_retransmissions, chase_combining=chase_combining
        )
        self.rate_bps = rate_bps if rate_bps is not None else shannon_rate_kernel
        self.policy = policy
        self.budget = self.outage_rule.budget
        self.chase = self.outage_rule.chase
        # the power-aware scheduler needs a transmitter that knows its channel (wait) and a
        # threshold to judge by; otherwise every transmission holds its nominal share
        gamma = max(snr_threshold_linear or 0.0, float(min_rate_snr_linear))
        self.scheduler = scheduler
        self._gamma = gamma if (scheduler == "power_aware" and not self.outage_rule.blind) else 0.0
        self.min_share_hz = float(min_share_hz)
        self.max_wait_s = max_wait_s
        # blind transmitters (harq/drop) fail block by block, so even a channel that never
        # changes is planned on the block grid; a waiting one on a static channel is not
        self.segmented = channel.time_varying or (
            self.outage_rule.blind and snr_threshold_linear is not None
        )
        self._table = TxTable()
        self._plan: Plan | None = None
        self._block = 0
        self._token = 0

    def transmit(self, device: int, direction: str, bits: int) -> simpy.Event:
        """Start sending ``bits`` on ``device``'s link; the event's value is a :class:`TxResult`."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        now = self.env.now
        event = self.env.event()
        if bits <= 0:
            event.succeed(TxResult(now, now, 0, 0.0, math.nan, math.nan))
            return event
        self._advance(now)
        self._table.append(Tx([device], direction == UPLINK, int(bits), [event], now))
        self._replan(now)
        return event

    def multicast(self, devices: list[int], bits: int) -> dict[int, simpy.Event]:
        """Start one downlink message of ``bits`` to every device of ``devices``: one
        transmission per serving cell, at the rate of its weakest receiver. Returns each
        receiver's event (its value a :class:`TxResult`; receivers of one cell get the same)."""
        now = self.env.now
        events = {k: self.env.event() for k in devices}
        if bits <= 0 or not devices:
            for ev in events.values():
                ev.succeed(TxResult(now, now, 0, 0.0, math.nan, math.nan))
            return events
        self._advance(now)
        cell = self._serving_now(np.asarray(devices, dtype=np.intp))
        for c in sorted(set(cell.tolist())):
            members = [k for k, ck in zip(devices, cell.tolist(), strict=True) if ck == c]
            self._table.append(Tx(members, False, int(bits), [events[k] for k in members], now))
        self._replan(now)
        return events

    def cancel(self, event: simpy.Event) -> TxResult | None:
        """Abort the transmission (or a multicast's delivery to one receiver) behind ``event``
        now (its receiver or sender was cut off); returns what it had done
        (``delivered=False``), or None if it had already ended. The event never fires."""
        table = self._table
        tx = next((t for t in table.txs if any(e is event for e in t.events)), None)
        if tx is None:
            return None
        now = self.env.now
        self._advance(now)
        if len(tx.events) > 1:  # one receiver leaves a multicast; the others go on
            i = next(i for i, e in enumerate(tx.events) if e is event)
            tx = table.split_off(tx, tx.devices[i])
        result = self._result(tx, now, delivered=False)
        table.remove([tx])
        self._replan(now)
        return result

    def _result(self, tx: Tx, now: float, delivered: bool) -> TxResult:
        _, on_air, outage, snr_integral, _, _, _ = self._table.progress(self._table.index(tx))
        duration = now - tx.t_start
        mean_snr = snr_integral / duration if duration > 0 else math.nan
        return TxResult(
            t_start_s=tx.t_start,
            t_end_s=now,
            bits=tx.bits,
            on_air_s=on_air,
            mean_rate_bps=tx.bits / duration if delivered and duration > 0 else math.nan,
            mean_snr_db=10.0 * math.log10(mean_snr) if mean_snr > 0 else -math.inf,
            delivered=delivered,
            outage_s=min(outage, duration),
        )

    # ------------------------------------------------------------------ internals
    def _serving_now(self, devices: np.ndarray) -> np.ndarray:
        """Serving cell of ``devices`` in the current block."""
        if self.n_cells == 1:
            return np.zeros(len(devices), dtype=np.intp)
        return self.channel.serving(self._block, 1, devices)[0]

    def _advance(self, now: float) -> None:
        """Bring every active transmission's remaining bits, time on air, outage time, SNR
        integral and lost blocks to ``now`` from the current plan."""
        plan = self._plan
        if plan is None:  # idle medium: only the channel block moved on
            self._block = self.channel.block_at(now)
            return
        dt = now - plan.t0
        k = int(np.searchsorted(plan.seg_off, dt, side="right")) - 1
        tail = dt - plan.seg_off[k]
        bits = plan.cum_bits[k] + plan.rate[k] * tail
        on_air = plan.cum_on_air[k] + plan.on_air[k] * tail
        outage = plan.cum_outage[k] + plan.stalled[k] * tail
        snr_int = plan.cum_snr[k] + plan.snr[k] * tail
        # blocks lost so far: those of the segments that ended by now
        ended = k + 1 if tail >= plan.seg_len[k] else k
        table = self._table
        table.remaining -= bits
        table.on_air += on_air
        table.outage += outage
        table.snr_integral += snr_int
        if ended:
            table.failures += plan.failed[:ended].sum(axis=0)
            if self.chase:
                table.chase_snr[:] = plan.chase_after[ended - 1]
        # the end of each transmission's last delivered bits so far (its row k only up to now)
        r = k if tail > 0 else k - 1
        if r >= 0:
            last = plan.last_sent[r]
            sent = last >= 0
            if sent.any():
                at = np.maximum(last, 0)
                until = plan.seg_off[at] + np.where(at == k, tail, plan.seg_len[at])
                table.idle_since = np.where(sent, plan.t0 + until, table.idle_since)
        # a channel that never changes is planned as one endless segment: the block is the
        # one of the clock (the same gains), so that every user of the channel moves forward
        self._block = plan.j0 + ended if self.segmented else self.channel.block_at(now)
        self._plan = None

    def _rates(
        self, gains: np.ndarray, j0: int, cell: np.ndarray, skip: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Rates, SINRs and the fraction of time on air (S, m) of the active transmissions
        given the gains (S, M) of the transmissions' members in blocks ``j0 + skip ..`` and
        each transmission's cell (m,), with the scheduler's waits (S, m bool: paused by the
        scheduler; None when the outage rule decides)."""
        table = self._table
        m, S = len(table), gains.shape[0]
        members, starts = table.members()
        uplink = table.uplink
        weight = table.weight if self.share == "proportional" else np.ones(m)
        weight = weight * self.share_weight[table.lead]
        # transmissions share with those of the same cell and direction
        group = cell * 2 + uplink
        total = np.bincount(group, weights=weight, minlength=2 * self.n_cells)
        nominal = weight / total[group]
        band_hz = self.bandwidth_hz[cell]
        bs_w = self.bs_tx_power_w[cell]
        access = self.access_rule

        owner = table.owner()
        first = np.arange(m) if starts is None else starts
        gm = gains  # (S, M)
        itf = bool(getattr(self.channel, "has_interference", False))
        ul_i = self.channel.ul_interference_w if itf else 0.0
        dl_i = self.channel.dl_interference_gain(j0, skip + S, members)[skip:] if itf else 0.0
        # what does not depend on the part: uplink (always one sender) its received power
        # P g; downlink its SINR P_bs g / (N0 B + P_bs I_dl), the weakest receiver's
        rx_w = self.device_tx_power_w[members[first]] * gm[:, first]
        dl_member = downlink_sinr(bs_w[owner], gm, self.noise_psd, band_hz[owner], dl_i)
        dl_snr = dl_member if starts is None else np.minimum.reduceat(dl_member, starts, axis=1)

        def snr_on(fraction: np.ndarray) -> np.ndarray:
            part_hz = access.part_hz(band_hz, fraction)
            with np.errstate(divide="ignore"):
                return np.where(uplink, uplink_sinr(rx_w, self.noise_psd, part_hz, ul_i), dl_snr)

        paused = None
        if self._gamma > 0:
            snr_nominal = snr_on(nominal)
            links = Links(uplink, rx_w, self.noise_psd, band_hz, ul_i, snr_nominal, dl_snr)
            cap = access.caps(links, self._gamma)
            min_fraction = access.min_fraction(uplink, self.min_share_hz, band_hz)
            # where every cap allows the nominal share the scheduler gives exactly that: only
            # the blocks in which some transmission waits or is narrowed need the water filling
            fraction = np.array(np.broadcast_to(nominal, (S, m)))
            short = (cap < nominal) | (cap < np.minimum(min_fraction, 1.0))
            rows = np.flatnonzero(short.any(axis=1))
            if len(rows):
                for grp in np.unique(group).tolist():
                    cols = np.flatnonzero(group == grp)
                    fraction[np.ix_(rows, cols)] = water_fill_fractions(
                        weight[cols], cap[np.ix_(rows, cols)], min_fraction[cols]
                    )
            paused = fraction <= 0
            # the scheduler gave each a part on which it reaches the threshold: rounding in
            # the last digit must not push it below
            snr = np.where(paused, snr_nominal, np.maximum(snr_on(fraction), self._gamma))
        else:
            fraction = np.broadcast_to(nominal, (S, m))
            snr = snr_on(fraction)
        rate = access.rate_bps(self.rate_bps, band_hz, fraction, snr)
        return rate, snr, access.on_air(fraction, (S, m)), paused

    def _cells(self, j0: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Serving cell (count, M) of every member of the active transmissions, each
        transmission's cell (m,) at block j0, and the transmission of each member (M,)."""
        members, starts = self._table.members()
        m = len(self._table)
        owner = self._table.owner()
        if self.n_cells == 1:
            return np.zeros((count, len(members)), dtype=np.intp), np.zeros(m, np.intp), owner
        cells = self.channel.serving(j0, count, members)
        first = cells[0] if starts is None else cells[0, starts]
        return cells, first, owner

    def _replan(self, now: float) -> None:
        self._token += 1
        table = self._table
        if not len(table):
            return
        j0 = self._block
        _, tx_cell, _ = self._cells(j0, 1)
        m = len(table)
        # the first piece: a few thousand (block, transmission) pairs — most plans end at the
        # next start or end, long before their first completion
        first = max(4, self.PLAN_CELLS // m)
        plan = Plan(
            now, j0, m, tx_cell, table.remaining.copy(), self.budget - table.failures, first
        )
        self._plan = plan
        self._extend(plan, first)

    def _extend(self, plan: Plan, count: int) -> None:
        """Plan ``plan``'s next pieces, from ``count`` channel blocks, until one schedules a
        wake-up (see :meth:`_piece`)."""
        while not self._piece(plan, count):
            count = plan.next_chunk

    def _lazy_is_safe(self, plan: Plan) -> bool:
        """Whether the rest of ``plan`` may wait until the medium reaches the end of its
        pieces. The stuck-link check (``max_wait_s``) of a plan that sees no completion in its
        whole look-ahead happens when the plan is made: it cannot fire if every transmission
        that has sent nothing in the pieces so far would, at the look-ahead's end, still have
        been silent for at most ``max_wait_s`` — otherwise the plan is built on now, up to its
        first completion or its look-ahead's end."""
        if self.max_wait_s is None:
            return True
        silent = ~(plan.cum_bits[-1] > 0)
        if not silent.any():
            return True
        end = float((plan.j0 + self.MAX_HORIZON_BLOCKS) * self.channel.block_s - plan.t0)
        idle = plan.t0 + end - self._table.idle_since[silent]
        return bool((idle <= self.max_wait_s).all())

    def _piece(self, plan: Plan, count: int) -> bool:
        """Plan the next ``count`` channel blocks of ``plan`` (the whole future of a channel
        that never changes) and schedule the wake-up: at the first completion or loss in
        them, at a handover, or at their end to plan further (the plan stays anchored at its
        start, so a plan built in pieces is the one built at once). False when nothing is
        scheduled: the caller plans the next piece now."""
        table = self._table
        m, j0, a = len(table), plan.j0, plan.rows
        count = min(count, self.MAX_HORIZON_BLOCKS - a) if self.segmented else 1
        # the channel frees the blocks before the first one asked for (time does not go
        # back): a piece planned ahead of the clock asks from the plan's start and skips
        base = j0 + a if self.env.now != plan.t0 else j0
        skip = j0 + a - base
        cells, _, owner = self._cells(base, skip + count)
        cells = cells[skip:]
        # a handover of a device of an active transmission ends the plan: shares change
        moved = (cells != plan.tx_cell[owner]).any(axis=1)
        handover_k = int(np.argmax(moved)) if moved.any() else None
        span = count if handover_k is None else handover_k
        if span == 0:  # a handover at the start of this piece
            assert handover_k is not None
            self._schedule_handover(plan, cells, owner, a, handover_k)
            return True
        gains = self.channel.gains(base, skip + span, table.members()[0])[skip:]
        rate, snr, on_air, paused = self._rates(gains, base, plan.tx_cell, skip)
        chase_start = table.chase_snr if a == 0 else plan.chase_after[-1]
        failed, chase_after = self.outage_rule.failed_blocks(
            snr, self.snr_threshold, list(chase_start)
        )
        if not self.outage_rule.blind:
            if paused is not None:  # the scheduler decided who waits
                failed = paused
        else:
            failed |= rate == 0  # e.g. below CQI 1: nothing decodes
        rate[failed] = 0.0
        if self.segmented:
            starts = (j0 + np.arange(a, a + span + 1)) * self.channel.block_s
            ends_off = starts[1:] - plan.t0
            first_off = 0.0 if a == 0 else float(starts[0] - plan.t0)
            seg_off = np.concatenate(([first_off], ends_off[:-1]))
            seg_len = ends_off - seg_off
        else:
            seg_off, seg_len = np.zeros(1), np.full(1, math.inf)
        with np.errstate(invalid="ignore"):
            delivered = rate * seg_len[:, None]
        # the cumulative sums go on from the plan's last row, in order (as one long sum)
        cum = np.empty((span + 1, m))
        cum[0] = plan.cum_bits[-1]
        if a == 0:
            np.cumsum(delivered, axis=0, out=cum[1:])
        else:
            np.cumsum(np.vstack((cum[:1], delivered)), axis=0, out=cum)
        remaining = plan.remaining
        reach = cum[1:] >= remaining  # nan (zero rate forever) compares False
        done = reach.any(axis=0)
        fin = np.full(m, math.inf)
        if done.any():
            cols = np.flatnonzero(done)
            k = reach[:, cols].argmax(axis=0)
            fin[cols] = seg_off[k] + (remaining[cols] - cum[k, cols]) / rate[k, cols]
        lose = np.full(m, math.inf)
        blind = self.outage_rule.blind
        if blind:
            failures = plan.failures_so_far + np.cumsum(failed, axis=0)
            over = failures > plan.budget  # lost once the budget is exceeded
            cols = np.flatnonzero(over.any(axis=0))
            k = over[:, cols].argmax(axis=0)
            lose[cols] = seg_off[k] + seg_len[k]
            if span:
                plan.failures_so_far = failures[-1]
        # time radiating: a waiting transmitter pauses; a blind one radiates in every block
        airborne = np.ones(rate.shape, dtype=bool) if blind else rate > 0
        stalled = failed if blind else ~airborne
        plan.append(
            seg_off, seg_len, rate, snr, airborne * on_air, stalled, failed, chase_after, cum[1:]
        )
        first = min(float(fin.min()), float(lose.min()))
        if math.isfinite(first):
            finishing = np.flatnonzero(fin == first).tolist()
            lost = [i for i in np.flatnonzero(lose == first).tolist() if i not in finishing]
            self._schedule(plan, first, None, finishing, lost)
            return True
        if handover_k is not None:
            self._schedule_handover(plan, cells, owner, a, handover_k)
            return True
        if not self.segmented:
            stuck = sorted(k for tx in table.txs for k in tx.devices)
            raise SimulationError(
                f"devices {stuck} are in permanent outage: the channel never changes "
                "(no fading, no mobility) and their SNR is below "
                "network.outage.snr_threshold_db"
            )
        end = float(ends_off[-1])
        if plan.rows >= self.MAX_HORIZON_BLOCKS:
            self._check_stuck(plan.t0, plan.t0 + end, plan.cum_bits[-1], plan.snr)
            self._schedule(plan, end, j0 + plan.rows, [], [])
            return True
        plan.next_chunk = min(plan.next_chunk * 4, self.MAX_HORIZON_BLOCKS)
        if not self._lazy_is_safe(plan):
            return False
        self._schedule(plan, end, None, [], [], extend=True)
        return True

    def _schedule_handover(
        self, plan: Plan, cells: np.ndarray, owner: np.ndarray, a: int, k: int
    ) -> None:
        """Wake up at the start of block ``k`` of the piece that starts at the plan's row
        ``a``, where receivers change cell."""
        moving = np.flatnonzero(cells[k] != plan.tx_cell[owner])
        members, _ = self._table.members()
        by_tx: dict[int, list[int]] = {}
        for j in moving.tolist():
            by_tx.setdefault(int(owner[j]), []).append(int(members[j]))
        block = plan.j0 + a + k
        end = float(block * self.channel.block_s - plan.t0)
        self._schedule(plan, end, block, [], [], sorted(by_tx.items()))

    def _schedule(
        self,
        plan: Plan,
        wake_off: float,
        wake_block: int | None,
        finishing: list[int],
        lost: list[int],
        handing_over: list[tuple[int, list[int]]] | None = None,
        extend: bool = False,
    ) -> None:
        """Wake up at ``plan.t0 + wake_off`` — the instant a plan made at once would have
        scheduled (SimPy adds the delay to the clock, so a delay from a later instant is
        nudged by ulps to reach the same float)."""
        plan.wake_off, plan.wake_block = wake_off, wake_block
        plan.finishing, plan.lost = finishing, lost
        plan.handing_over = handing_over or []
        plan.extending = extend
        now = self.env.now
        if now == plan.t0:
            delay = wake_off
        else:
            target = plan.t0 + wake_off
            delay = max(target - now, 0.0)
            for _ in range(8):
                reached = now + delay
                if reached == target or delay == 0.0:
                    break
                delay = float(np.nextafter(delay, math.inf if reached < target else 0.0))
        wake = self.env.timeout(delay)
        wake.callbacks.append(_Wake(self, self._token))

    def _check_stuck(self, now: float, until: float, sent: np.ndarray, snr: np.ndarray) -> None:
        """Called when a whole look-ahead passes without a completion: a transmission that
        will have sent nothing for ``max_wait_s`` by ``until`` (since its start, or since the
        end of its last delivered bits) can never deliver."""
        if self.max_wait_s is None:
            return
        for i, tx in enumerate(self._table.txs):
            idle_since = float(self._table.idle_since[i])
            if sent[i] > 0 or until - idle_since <= self.max_wait_s:
                continue
            k = tx.devices[0]
            mean_db = 10 * math.log10(max(float(np.mean(snr[:, i])), 1e-300))
            where = ""
            distance = getattr(self.channel, "distance_m", None)
            if callable(distance):
                where = f" {float(distance(now)[k]):.4g} m from its base station,"
            threshold = (
                f"{10 * math.log10(self._gamma or self.snr_threshold or 1.0):.3g} dB"
                if (self._gamma or self.snr_threshold)
                else "none"
            )
            raise SimulationError(
                f"device {k} cannot deliver: its {'uplink' if tx.uplink else 'downlink'} has "
                f"sent nothing for {until - idle_since:.4g} s of simulated time "
                f"(network.outage.max_wait_s = {self.max_wait_s:g});{where} its mean SNR "
                f"over the last {until - now:.4g} s was {mean_db:.3g} dB against a "
                f"threshold of {threshold}. Move it closer, lower "
                "network.outage.snr_threshold_db, or raise network.outage.max_wait_s"
            )

    def _wake(self, token: int) -> None:
        if token != self._token:
            return  # superseded by a later re-plan
        plan = self._plan
        assert plan is not None
        if plan.extending:  # the end of the planned blocks, nothing changed: plan further
            self._extend(plan, plan.next_chunk)
            return
        now = self.env.now
        self._advance(now)
        if plan.wake_block is not None:
            # a horizon end is a block boundary; now = t0 + (b - t0) may differ from b by an ulp
            self._block = plan.wake_block
        table = self._table
        ended = [(table.txs[i], True) for i in plan.finishing]
        ended += [(table.txs[i], False) for i in plan.lost]
        for tx, moving in [(table.txs[i], moving) for i, moving in plan.handing_over]:
            if len(tx.devices) > 1:  # receivers leave a multicast and go on alone
                movers = [table.split_off(tx, k) for k in moving]
                if not tx.devices:
                    table.remove([tx])
            else:
                movers = [tx]
            for mover in movers:
                if self.handover == "drop":
                    ended.append((mover, False))
                elif self.handover == "restart":  # the new cell starts the message over
                    table.restart(mover)
        for tx, delivered in ended:
            res = self._result(tx, now, delivered)
            for ev in tx.events:
                ev.succeed(res)
        table.remove([tx for tx, _ in ended])
        self._replan(now)
