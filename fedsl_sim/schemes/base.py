"""Schemes are public hooks over the engine-owned round driver.

The driver (:class:`fedsl_sim.driver.RoundDriver`) owns a round's skeleton: it asks the scheme
to :meth:`~Scheme.configure` the round, selects the participants (availability,
participation), runs every participant's :meth:`~Scheme.device_round` (in parallel, each cut
off at the round's deadline or when its device goes down; or in turn for a sequential
scheme), records the failures as data and, on the aggregation schedule the scheme's
:class:`SchemeShape` sets, hands the round's :class:`RoundResult` to
:meth:`~Scheme.aggregate`. The engine then asks :meth:`~Scheme.evaluate`. A scheme decides who
holds which model copy, what is sent and how the server combines it, using only the
:class:`~fedsl_sim.sim.world.World`'s timed primitives. A new scheme is one class registered in
:data:`SCHEMES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.schemes.registry import SCHEMES as _SCHEMES
from fedsl_sim.schemes.settings import SchemeSettings
from fedsl_sim.schemes.shape import SchemeShape
from fedsl_sim.sim.world import Process, World

#: why a participant's round was cut off
FAILURE_KINDS = ("deadline", "down")


@dataclass(frozen=True)
class Failure:
    """A participant cut off during a round: at the round's ``deadline`` (it keeps what it
    computed; nothing it was still sending arrives) or because it went ``down`` (it loses
    the round's work), at simulated time ``t_s``."""

    device: int
    kind: str
    t_s: float

    def __post_init__(self) -> None:
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"kind: expected one of {FAILURE_KINDS}, got {self.kind!r}")


@dataclass
class RoundResult:
    """What happened in a round: its participants, the uploads that reached the server
    (device -> what the server received) and the participants that were cut off."""

    round: int
    participants: list[int]
    aggregate: bool
    uploads: dict[int, Any] = field(default_factory=dict)
    failures: dict[int, Failure] = field(default_factory=dict)
    #: asynchronous: the staleness of each update the average used (synchronous: 0 each),
    #: and the updates dropped as too stale
    staleness: list[int] = field(default_factory=list)
    stale_dropped: int = 0

    @property
    def dropped(self) -> int:
        """Participants cut off (deadline or failure) and updates dropped as too stale."""
        return len(self.failures) + self.stale_dropped


class Scheme(ABC):
    """One training scheme bound to one world and its data (see module docstring)."""

    #: the scheme's shape (subclasses set their own)
    shape: ClassVar[SchemeShape] = SchemeShape()

    def __init__(self, settings: SchemeSettings, world: World, data: FederatedData) -> None:
        self.settings = settings
        self.world = world
        self.data = data

    def configure(self, r: int) -> None:  # noqa: B027  (a hook: nothing by default)
        """Called when round ``r`` (0-based) starts, before its participants are chosen."""

    @abstractmethod
    def device_round(self, k: int, r: int, aggregate: bool) -> Process:
        """Device ``k``'s work in round ``r`` in simulated time; returns what the server
        received of its model when ``aggregate`` (None: nothing arrived, or nothing to send).
        The driver may interrupt it (``simpy.Interrupt``) at the deadline or a failure."""

    def save_device(self, k: int) -> Any:
        """Device ``k``'s state at a round's start, for :meth:`restore_device` (asked only
        when the device will go down during the round)."""
        return None

    def restore_device(self, k: int, state: Any) -> None:  # noqa: B027  (a hook)
        """Device ``k`` went down: it returns to ``state`` (from :meth:`save_device`)."""

    def aggregate(self, r: int, result: RoundResult) -> Process:
        """Combine the round's uploads (an aggregation round of the shape's schedule)."""
        return
        yield  # a generator: nothing to do by default

    @abstractmethod
    def evaluate(self) -> tuple[float, float]:
        """Test accuracy (fraction) and loss of the current global model; takes no sim time."""


SCHEMES = _SCHEMES  # the registry (fedsl_sim.schemes.registry), importable without torch
