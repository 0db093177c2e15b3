"""The engine-owned round driver: participants, deadlines, failures, the aggregation
schedule — the skeleton every scheme's round shares (see :mod:`fedsl_sim.schemes.base`)."""

from __future__ import annotations

from typing import Any

import simpy

from fedsl_sim.control.base import Controller
from fedsl_sim.schemes.base import Failure, RoundResult, Scheme
from fedsl_sim.sim.world import Process, World


class RoundDriver:
    """Runs a scheme's rounds on a world.

    Parameters
    ----------
    scheme : the scheme (its hooks and shape).
    world : the simulated system (clock, round control).
    aggregation_interval : averaging every this many rounds (``interval`` shape).
    deadline_s : a round's participants have this long from its start (None: no deadline).
    empty_round_s : when no device can take part and none will come back, or the control
        policy leaves every candidate out, the server waits this long and the round is
        empty, s.
    controller : the control policy's controller (None: every candidate takes part, at the
        scenario's clocks and powers).
    """

    def __init__(
        self,
        scheme: Scheme,
        world: World,
        aggregation_interval: int,
        deadline_s: float | None,
        empty_round_s: float,
        controller: Controller | None = None,
    ) -> None:
        if aggregation_interval < 1:
            raise ValueError(f"aggregation_interval: expected >= 1, got {aggregation_interval}")
        if deadline_s is not None and not deadline_s > 0:
            raise ValueError(f"deadline_s: expected > 0 s, got {deadline_s}")
        if not empty_round_s > 0:
            raise ValueError(f"empty_round_s: expected > 0 s, got {empty_round_s}")
        self.scheme = scheme
        self.world = world
        self.aggregation_interval = aggregation_interval
        self.deadline_s = deadline_s
        self.empty_round_s = empty_round_s
        self.controller = controller

    def round(self, r: int) -> Process:
        """Round ``r`` (0-based) in simulated time; returns its :class:`RoundResult`."""
        scheme, env = self.scheme, self.world.env
        scheme.configure(r)
        aggregate = scheme.shape.aggregates_after(r, self.aggregation_interval)
        devices = yield from self._participants()
        if self.controller is not None:  # asked every round (it keeps last round's times)
            offered = devices
            devices = self.controller.start_round(r, devices, aggregate, self._to_average(r))
            if offered and not devices:  # the policy left every candidate out
                yield env.timeout(self.empty_round_s)
        result = RoundResult(r, devices, aggregate)
        if scheme.shape.sequential:  # in turn, never cut off
            for k in devices:
                upload = yield from scheme.device_round(k, r, aggregate)
                if upload is not None:
                    result.uploads[k] = upload
        else:
            deadline = None if self.deadline_s is None else env.now + self.deadline_s
            yield env.all_of([env.process(self._guarded(k, r, deadline, result)) for k in devices])
        if aggregate:
            yield from scheme.aggregate(r, result)
            result.staleness = [0] * len(result.uploads)  # every update is on the last average
        return result

    def _to_average(self, r: int) -> int:
        """Rounds from ``r`` until the next average, ``r``'s included (1 without averaging)."""
        shape, n = self.scheme.shape, 1
        if shape.averaging == "never":
            return 1
        while not shape.aggregates_after(r + n - 1, self.aggregation_interval):
            n += 1
        return n

    def _participants(self) -> Process:
        """The round's devices; when every device is down, wait until one comes back; when
        none is available and none will come back (Bernoulli availability), the server waits
        ``empty_round_s`` and the round is empty."""
        rc, env = self.world.rounds, self.world.env
        devices = rc.select(env.now)
        while not devices:
            up = rc.next_up_s(env.now)
            if up is None:
                yield env.timeout(self.empty_round_s)
                break
            yield env.timeout(up - env.now)
            devices = rc.select(env.now)
        return devices

    def _guarded(self, k: int, r: int, deadline: float | None, result: RoundResult) -> Process:
        """Device k's round, cut off at the round's deadline or when the device goes down.

        A device cut off by the deadline keeps what it computed but nothing it was still
        sending arrives (it is left out of the aggregate); a device that goes down loses the
        round's work (the scheme restores it to the round's start)."""
        env, rc, scheme = self.world.env, self.world.rounds, self.scheme
        fails_at = rc.next_failure_s(k, env.now)
        saved = scheme.save_device(k) if fails_at is not None else None
        work = env.process(self._interruptible(k, r, result.aggregate))
        stops: list[simpy.Event] = [work]
        if deadline is not None:
            stops.append(env.timeout(max(0.0, deadline - env.now)))
        if fails_at is not None:
            stops.append(env.timeout(fails_at - env.now))
        yield env.any_of(stops)
        if work.triggered:
            if work.value is not None:
                result.uploads[k] = work.value
            return
        went_down = fails_at is not None and env.now >= fails_at
        work.interrupt("down" if went_down else "deadline")
        yield work
        result.failures[k] = Failure(k, "down" if went_down else "deadline", env.now)
        if went_down:
            scheme.restore_device(k, saved)

    def _interruptible(self, k: int, r: int, aggregate: bool) -> Process:
        try:
            upload: Any = yield from self.scheme.device_round(k, r, aggregate)
        except simpy.Interrupt:
            return None
        return upload
