"""What a control policy may set per device besides clock, power and band share: the split
layer, the pruning rate of its client-side model, the quantization bits of its split-layer
messages and their activation dropout rate — the scheme's "knobs".

A scheme that has knobs is :class:`Tunable`: it says which it lets a policy decide
(:class:`Tuning`), each device's values (:class:`Knobs`), which devices cannot change their
split layer now, what a device's round would be with other values (its workload), and
applies a round's decisions. Torch-free: policies import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fedsl_sim.control.predict import Workload

#: the highest pruning rate and activation dropout rate a policy may set (the scenario's
#: own bounds are < 1; a rate of 1 would leave nothing to train or send)
MAX_PRUNING_RATE = 0.99
MAX_DROPOUT_RATE = 0.95
#: quantization bits at which the split-layer messages travel as dense float32 (no
#: quantization)
FULL_BITS = 32


@dataclass(frozen=True)
class Tuning:
    """Which knobs a scheme lets a policy decide per device and round.

    split_layers : the split layers a device may be given (empty: the split layer is fixed —
        a scheme without a split, devices training in turn, or no ``control.split_layers``).
    pruning : whether a device's pruning rate may be set (a scheme that prunes its
        devices' models: not ``fedsl``, which is uncompressed by definition, nor ``sl``,
        whose one client-side model has one mask).
    split_compression : whether the split-layer messages' quantization bits and activation
        dropout rate may be set (a split scheme that compresses).
    min_bits : the fewest quantization bits the scenario's quantizer takes (1 with the
        ``range`` scale, 2 with ``norm``).
    """

    split_layers: tuple[int, ...] = ()
    pruning: bool = False
    split_compression: bool = False
    min_bits: int = 1


@dataclass(frozen=True)
class Knobs:
    """A device's knobs: layers on the device, pruning rate of its client-side weights (its
    mask is recomputed at this rate when it next trains), quantization bits of its
    split-layer activations and gradient (32: dense float32), activation dropout rate."""

    split_layer: int
    pruning_rate: float = 0.0
    quant_bits: int = FULL_BITS
    dropout_rate: float = 0.0


class PredictionError(ValueError):
    """A prediction asked for knobs the scheme cannot take (the controller reports it as
    the policy's error)."""


#: the knobs' names, as decisions' fields and decisions.csv columns
KNOB_FIELDS = ("split_layer", "pruning_rate", "quant_bits", "dropout_rate")


class Tunable(Protocol):
    """A scheme whose knobs a control policy sets (see the module docstring)."""

    def tuning(self) -> Tuning:
        """What may be decided."""
        ...

    def knobs(self, k: int) -> Knobs:
        """Device k's knobs now."""
        ...

    def default_knobs(self, k: int, r: int) -> Knobs:
        """Device k's knobs in round ``r`` when nothing is decided: the scenario's (its split
        layer stays when it is locked)."""
        ...

    def split_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Every device's split layer now and whether it cannot change now (its copy holds
        layers it trained since the last average it received: they are averaged first)."""
        ...

    def workload(
        self,
        k: int,
        aggregate: bool,
        split_layer: int | None = None,
        pruning_rate: float | None = None,
        quant_bits: int | None = None,
        dropout_rate: float | None = None,
        r: int | None = None,
        catch_up: bool | None = None,
        rounds: int = 1,
    ) -> Workload:
        """Device k's round ``r`` with these knobs (None: as the device would run
        undecided)."""
        ...

    def tune_devices(
        self, r: int, devices: list[int], decided: Mapping[str, Mapping[int, float]]
    ) -> None:
        """As :meth:`tune`, for ``devices`` only (asynchronous dispatch): the others keep
        theirs."""
        ...

    def tune(self, r: int, decided: Mapping[str, Mapping[int, float]]) -> None:
        """Round ``r``'s knobs: per field of :data:`KNOB_FIELDS`, device -> value (validated);
        every other device gets its :meth:`default_knobs`."""
        ...
