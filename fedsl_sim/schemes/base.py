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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.schemes.registry import SCHEMES as _SCHEMES
from fedsl_sim.schemes.settings import SchemeSettings
from fedsl_sim.sim.world import Process, World

AVERAGING = ("interval", "every_round", "never")
#: why a participant's round was cut off
FAILURE_KINDS = ("deadline", "down")


@dataclass(frozen=True)
class SchemeShape:
    """A scheme's shape, as data (the driver reads it)."""

    #: the model is split between the devices and the server (False: the whole model on the
    #: devices, as in FL)
    split: bool = True
    #: one server-side model copy per device (SplitFed V1) instead of one shared copy
    server_copy_per_device: bool = False
    #: when the devices' models are averaged: every ``aggregation_interval`` rounds
    #: (``interval``), every round (``every_round``) or never
    averaging: str = "interval"
    #: devices train in turn (one after the other) instead of in parallel
    sequential: bool = False
    #: the scheme accepts compression (pruning, quantization, dropout); False for a scheme
    #: that is by definition uncompressed
    compresses: bool = True

    def rule_violations(
        self,
        name: str,
        split_layers: Sequence[int],
        deadline_s: float | None,
        compression_on: bool,
        dropout_rate: float = 0.0,
        split_messages_coded: Sequence[str] = (),
    ) -> list[tuple[str, str]]:
        """The scheme's rules a scenario breaks, as ``(dotted field, message)``: per-device
        split layers need a split, parallel scheme; a round deadline needs parallel devices;
        compression needs a scheme that compresses; activation dropout and codecs of the
        split-layer messages (``split_messages_coded``: the dotted fields that code them)
        need a split."""
        out = []
        if not self.split and dropout_rate > 0:
            out.append(
                (
                    "compression.dropout.rate",
                    f"expected 0 for scheme {name!r} (no split layer), got {dropout_rate}",
                )
            )
        if not self.split and split_messages_coded:
            out.append(
                (
                    split_messages_coded[0],
                    f"expected no split-layer message coding for scheme {name!r} (no split "
                    "layer; only the model upload), got "
                    f"{', '.join(split_messages_coded)}",
                )
            )
        if len(set(split_layers)) > 1 and (not self.split or self.sequential):
            why = (
                f"{name} trains the whole model on every device"
                if not self.split
                else f"{name} hands one client-side model from device to device"
            )
            out.append(
                (
                    "learning.split_layer",
                    f"expected one split layer for scheme {name!r} ({why}; per-device split "
                    "layers need a split scheme with parallel devices: fedsl, "
                    f"lightweight_fedsl, sfl_v1 or sfl_v2), got {list(split_layers)}",
                )
            )
        if self.sequential and deadline_s is not None:
            out.append(
                (
                    "rounds.deadline_s",
                    f"expected none for scheme {name!r} (devices train in turn; a round "
                    f"deadline is not defined), got {deadline_s}",
                )
            )
        if not self.compresses and compression_on:
            out.append(
                (
                    "compression",
                    f"expected compression off for scheme {name!r} (pruning.rate 0, "
                    "quantization.bits 32, dropout.rate 0); use scheme 'lightweight_fedsl' to "
                    "compress",
                )
            )
        return out

    def __post_init__(self) -> None:
        if self.averaging not in AVERAGING:
            raise ValueError(f"averaging: expected one of {AVERAGING}, got {self.averaging!r}")

    def aggregates_after(self, r: int, aggregation_interval: int) -> bool:
        """Whether round ``r`` (0-based) ends with an aggregation."""
        if self.averaging == "never":
            return False
        interval = 1 if self.averaging == "every_round" else aggregation_interval
        return (r + 1) % interval == 0


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

    @property
    def dropped(self) -> int:
        """Participants cut off (deadline or failure)."""
        return len(self.failures)


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
