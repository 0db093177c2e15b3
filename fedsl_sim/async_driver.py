"""The asynchronous driver: FedBuff-style split training without rounds.

Each device is a loop (a SimPy process): when the client-side average it holds is not the
latest (it is *stale*) it fetches the latest (a unicast), trains ``aggregation_interval`` x
``local_steps`` split steps on from it — each against the one shared server-side model, as in
FedSL; an average formed meanwhile does not interrupt it — and uploads its client-side model,
coded against the average it trained from. The update joins the server's buffer and the
device waits until the server has used it (a device has one update outstanding at most). The
server averages the buffer's first ``buffer_size`` updates as soon as it holds them, or holds
one from every device that can send one now (not down, not sitting out after a lost message),
or ``max_round_s`` after the previous average (with what has arrived; nothing: an empty
round):

    x_new = x + server_lr * sum_i (n_i / N) * d(s_i) * (x_i - b_i)

with x the latest average, x_i device i's upload, b_i the average it trained from, n_i its
data size (N their sum), s_i its staleness — averages formed since b_i — and d the staleness
discount (constant 1, polynomial ``(1 + s)^-a``, or hinge). An update staler than
``max_staleness`` is dropped and counted. With every update fresh, no discount and a server
step of 1 this is FedAvg of the uploads, computed as FedAvg. The new average goes to the
devices whose updates it used (a broadcast, as a synchronous average) and they train on; every
other device is stale and fetches it when it next starts. A device whose message is lost sits
out until the next average. A "round" is one average: the engine evaluates and records a row
after each (``staleness_mean``, ``staleness_max`` of the updates it used); an event belongs to
the round in which it completes. Trace availability applies (a device that goes down loses its
work in flight and resumes when it is back); deadlines, participation rules and per-round
availability draws do not (the scenario refuses them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy
import torch
from torch import Tensor

from fedsl_sim.learning.split import fedavg
from fedsl_sim.schemes.base import Failure, RoundResult
from fedsl_sim.sim.world import Process, World

if TYPE_CHECKING:
    from fedsl_sim.control.base import Controller
    from fedsl_sim.schemes.split_fed import SplitFed


def staleness_discount(
    kind: str, exponent: float = 0.5, a: float = 10.0, b: int = 4
) -> Callable[[int], float]:
    """The discount of an update of staleness s: ``constant`` 1, ``polynomial``
    ``(1 + s)^-exponent``, ``hinge`` 1 up to b then ``1 / (a (s - b) + 1)``."""
    if kind == "constant":
        return _Constant()
    if kind == "polynomial":
        return _Polynomial(exponent)
    if kind == "hinge":
        return _Hinge(a, b)
    raise ValueError(f"staleness discount: expected constant, polynomial or hinge, got {kind!r}")


class _Constant:
    def __call__(self, s: int) -> float:
        return 1.0


@dataclass(frozen=True)
class _Polynomial:
    exponent: float

    def __call__(self, s: int) -> float:
        return float((1.0 + s) ** -self.exponent)


@dataclass(frozen=True)
class _Hinge:
    a: float
    b: int

    def __call__(self, s: int) -> float:
        return 1.0 if s <= self.b else 1.0 / (self.a * (s - self.b) + 1.0)


@dataclass
class _Update:
    device: int
    upload: Any
    base: int  # averages formed when the device received the model it trained from


class AsyncDriver:
    """Runs asynchronous split training on a world, one average per :meth:`round` (see the
    module docstring).

    Parameters
    ----------
    scheme : a split scheme with one shared server-side model (fedsl, lightweight_fedsl,
        sfl_v2).
    world : the simulated system.
    local_rounds : local rounds (of ``local_steps`` steps) between two uploads of a device.
    buffer_size : updates per average.
    discount : staleness -> weight factor.
    max_staleness : updates staler than this are dropped.
    server_lr : the server's step on the weighted update.
    max_round_s : an average is formed at the latest this long after the previous one (None:
        no bound).
    stop_time_s : the run's simulated time limit (None: none); a round waiting past it ends
        there with what has arrived.
    empty_round_s : when no device is left (every one down for good), a round is empty and
        lasts this long.
    controller : the control policy's controller: asked when a device starts its local rounds
        up to its next upload (its dispatch) whether it takes part and at which clock,
        power, band weight and knobs (None: the scenario's).
    """

    def __init__(
        self,
        scheme: SplitFed,
        world: World,
        local_rounds: int,
        buffer_size: int,
        discount: Callable[[int], float],
        max_staleness: int,
        server_lr: float = 1.0,
        max_round_s: float | None = None,
        stop_time_s: float | None = None,
        empty_round_s: float = 1.0,
        controller: Controller | None = None,
    ) -> None:
        if buffer_size < 1 or local_rounds < 1 or max_staleness < 0:
            raise ValueError("buffer_size, local_rounds >= 1 and max_staleness >= 0 expected")
        self.scheme = scheme
        self.world = world
        self.local_rounds = local_rounds
        self.buffer_size = buffer_size
        self.discount = discount
        self.max_staleness = max_staleness
        self.server_lr = float(server_lr)
        self.max_round_s = max_round_s
        self.stop_time_s = stop_time_s
        self.empty_round_s = empty_round_s
        #: the control policy's controller, asked at each device's dispatch (None: none)
        self.controller = controller
        self.buffer: list[_Update] = []
        #: the averages devices may still have trained from, by count of averages formed
        self._bases: dict[int, dict[str, Tensor]] = {0: scheme.last_average}
        self._waiting: dict[int, simpy.Event] = {}
        self._full: simpy.Event | None = None
        #: devices that cannot send an update now: down, or sitting out after a lost
        #: message until the next average
        self._away: set[int] = set()
        self._next: simpy.Event | None = None  # the end of the current round
        self._started = False
        self._round = 0
        self._result = RoundResult(0, [], True)
        #: an error raised in a device's process (a policy's decision error, a divergence):
        #: raised by the round the engine waits on, as it is
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ the server
    def round(self, r: int) -> Process:
        """Until the server forms its next average (round ``r``, 0-based); returns the round's
        :class:`RoundResult` (its participants: the devices whose updates it used)."""
        env = self.world.env
        self._round = r
        self.world.recorder.round_now = r
        self._result = result = RoundResult(r, [], True)
        if not self._started:
            self._started = True
            self.scheme.schedule_masks(r)
            self.scheme.upload_reference = self._reference
            for k in range(self.world.n_devices):
                env.process(self._device(k))
        if self._next is None:
            self._next = env.event()
        self._raise()
        if not self._ready():
            self._full = env.event()
            waits: list[simpy.Event] = [self._full]
            limits = [self.max_round_s]
            if self.stop_time_s is not None:
                limits.append(max(0.0, self.stop_time_s - env.now))
            if self._up() == 0:
                limits.append(self.empty_round_s)
            bound = min((x for x in limits if x is not None), default=None)
            if bound is not None:
                waits.append(env.timeout(bound))
            yield env.any_of(waits)
            self._full = None
        self._raise()
        yield from self._average(r)
        self._raise()
        return result

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _fail(self, error: BaseException) -> None:
        """A device's process raised ``error``: the round raises it, itself (an exception
        passed through a SimPy event reaches a process as a copy rebuilt from its
        arguments, which a ScenarioError cannot be)."""
        if self._error is None:
            self._error = error
        full = self._full
        if full is not None and not full.triggered:
            full.succeed()  # the round wakes up and raises it

    def _up(self) -> int:
        """Devices that may still send an update this round."""
        return self.world.n_devices - len(self._away)

    def _ready(self) -> bool:
        """Whether the buffer holds enough updates for an average: ``buffer_size``, or every
        update that can come this round (every device up and not sitting out has one in)."""
        n = len(self.buffer)
        return n > 0 and (n >= self.buffer_size or n >= self._up())

    def _check(self) -> None:
        """Form the average now if the buffer is ready; with nobody left to send anything,
        end the round empty after ``empty_round_s``."""
        full = self._full
        if full is None or full.triggered:
            return
        if self._ready():
            full.succeed()
        elif not self.buffer and self._up() == 0:
            self.world.env.process(self._end_empty(full))

    def _end_empty(self, full: simpy.Event) -> Process:
        yield self.world.env.timeout(self.empty_round_s)
        if not full.triggered:
            full.succeed()

    def _reference(self, k: int) -> dict[str, Tensor]:
        """The average device k trained from (what its upload is coded against)."""
        base = self._bases.get(self.scheme.base_version(k))
        return self.scheme.last_average if base is None else base

    def _average(self, r: int) -> Process:
        """Form the average of the buffer's first ``buffer_size`` updates (dropping the too
        stale ones) and send it to their devices; release them and every device sitting
        out."""
        scheme, result = self.scheme, self._result
        taken = self.buffer[: self.buffer_size]
        self.buffer = self.buffer[self.buffer_size :]  # arrived meanwhile: the next average
        formed = scheme.averages_formed
        used: list[_Update] = []
        for u in taken:
            s = formed - u.base
            if s > self.max_staleness:
                result.stale_dropped += 1
                scheme.mark_stale(u.device)  # it fetches the latest average before training
            else:
                used.append(u)
                result.staleness.append(s)
        used.sort(key=lambda u: u.device)
        result.participants = [u.device for u in used]
        result.uploads = {u.device: u.upload for u in used}
        if used:
            for u in used:  # they wait for this average: it goes to them
                scheme.unmark_stale(u.device)
            yield from scheme.aggregate_async(
                r, result.participants, result.uploads, self._combine(used, formed)
            )
            if scheme.averages_formed > formed:
                self._bases[scheme.averages_formed] = scheme.last_average
                oldest = scheme.averages_formed - self.max_staleness
                for v in [v for v in self._bases if v < oldest]:
                    del self._bases[v]
        scheme.schedule_masks(r + 1)
        self._round = r + 1  # what the devices do from now on belongs to the next round
        self.world.recorder.round_now = r + 1
        for u in taken:
            self._waiting.pop(u.device).succeed()
        ended, self._next = self._next, self.world.env.event()
        if ended is not None:
            ended.succeed()

    def _combine(
        self, used: list[_Update], formed: int
    ) -> Callable[[list[int], list[Any]], dict[str, Tensor]]:
        """The server's update of the latest average from the used updates (see the module
        docstring); FedAvg itself when all are fresh, undiscounted and the step is 1."""
        sizes = {u.device: float(self.scheme.data.sizes[u.device]) for u in used}
        weight = {u.device: self.discount(formed - u.base) for u in used}
        base = {u.device: u.base for u in used}
        plain = self.server_lr == 1.0 and all(base[k] == formed and weight[k] == 1.0 for k in base)
        latest = self.scheme.last_average
        bases = self._bases
        step = self.server_lr

        def combine(arrived: list[int], uploads: list[Any]) -> dict[str, Tensor]:
            if plain:
                return fedavg(uploads, [sizes[k] for k in arrived])
            total = math.fsum(sizes[k] for k in arrived)
            out: dict[str, Tensor] = {}
            for key in uploads[0]:
                if not uploads[0][key].is_floating_point():
                    out[key] = torch.stack([u[key] for u in uploads]).max(0).values.clone()
                    continue
                acc = latest[key].detach().clone()
                for k, u in zip(arrived, uploads, strict=True):
                    delta = u[key].detach() - bases[base[k]][key]
                    acc.add_(delta, alpha=step * sizes[k] / total * weight[k])
                out[key] = acc
            return out

        return combine

    # ------------------------------------------------------------------ the devices
    def _device(self, k: int) -> Process:
        """Device k's process: its loop, whose errors fail the round."""
        try:
            yield from self._loop(k)
        except Exception as exc:
            self._fail(exc)

    def _loop(self, k: int) -> Process:
        """Device k's loop (see the module docstring)."""
        env, rc, scheme = self.world.env, self.world.rounds, self.scheme
        while True:
            if rc.is_down(k, env.now):
                self._away.add(k)
                self._check()
                up = _next_up_s(rc.down, k, env.now)  # type: ignore[arg-type]
                if up is None:
                    return  # down for good
                yield env.timeout(up - env.now)
                self._away.discard(k)
                continue
            if self.controller is not None and not self.controller.dispatch(
                self._round, k, self._up(), self.local_rounds
            ):
                yield from self._sit_out(k)  # the policy leaves it out until the next average
                continue
            since = self._round
            fails_at = rc.next_failure_s(k, env.now)
            saved = scheme.save_device(k) if fails_at is not None else None
            work = env.process(self._local(k))
            stops: list[simpy.Event] = [work]
            if fails_at is not None:
                stops.append(env.timeout(fails_at - env.now))
            yield env.any_of(stops)
            if not work.triggered:  # it went down: its work in flight is lost
                work.interrupt("down")
                yield work
                self._result.failures[k] = Failure(k, "down", env.now)
                scheme.restore_device(k, saved)
                scheme.reschedule_mask(k, since, self._round)
                continue
            upload = work.value
            if upload is None:
                # a message was lost: it sits out until the next average, then starts again
                # from it (as a synchronous device sits out the rest of its round)
                scheme.mark_stale(k)
                yield from self._sit_out(k)
                continue
            self._waiting[k] = release = env.event()
            self.buffer.append(_Update(k, upload, scheme.base_version(k)))
            self._check()
            yield release

    def _sit_out(self, k: int) -> Process:
        """Device k sits out until the server's next average (or the round's end)."""
        self._away.add(k)
        self._check()
        assert self._next is not None
        yield self._next
        self._away.discard(k)

    def _local(self, k: int) -> Process:
        """Device k's local rounds between two uploads, on from the model it starts with;
        returns its upload (None: a message was lost)."""
        upload: Any = None
        scheme = self.scheme
        try:
            if k in scheme.stale:  # it fetches the latest average first
                fetched = yield from scheme.fetch_average(k, self._round)
                if not fetched:
                    return None
            for i in range(self.local_rounds):
                last = i == self.local_rounds - 1
                upload = yield from scheme.device_round(k, self._round, last, fetch=False)
        except simpy.Interrupt:
            return None
        return upload


def _next_up_s(down: list[list[tuple[float, float]]], k: int, t_s: float) -> float | None:
    """When device k, down at ``t_s``, comes back (None: never)."""
    for a, b in down[k]:
        if a <= t_s < b:
            return b if math.isfinite(b) else None
    return None
