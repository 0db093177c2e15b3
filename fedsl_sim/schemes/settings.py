"""What a scheme is told: plain, unit-named settings the builder derives from a scenario.

Schemes never read the scenario; :func:`fedsl_sim.build.scheme_settings` fills these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fedsl_sim.compression.codec import MessageCodecs
from fedsl_sim.compression.pruning import PruningSchedule
from fedsl_sim.learning.split import OptimizerSpec

DOWNLINKS = ("broadcast", "unicast")


@dataclass(frozen=True)
class SplitByDistance:
    """Per-device split layers by distance: the devices, nearest to a base station first at
    t = 0, cut into ``len(layers)`` consecutive near-equal groups; group g splits at
    ``layers[g]``."""

    layers: tuple[int, ...]


@dataclass(frozen=True)
class CompressionSettings:
    """Activation dropout, the message codecs and dynamic magnitude pruning."""

    #: probability that an activation entry is dropped at the split layer, in [0, 1)
    dropout_rate: float = 0.0
    #: the pipeline of each message kind (quantization, sparse positions, delta coding)
    codecs: MessageCodecs = field(default_factory=MessageCodecs)
    #: target pruning rate of the client-side weights, in [0, 1) (0: no pruning)
    pruning_rate: float = 0.0
    #: ``global`` or ``layer`` magnitude ranking
    pruning_scope: str = "global"
    #: client compute FLOPs scale with the kept density
    sparse_compute: bool = True
    #: when the pruning masks are recomputed, at what rate
    schedule: PruningSchedule = field(default_factory=lambda: PruningSchedule("fixed", 0.0))
    #: the quantizer scale (``range`` or ``norm``) of a message a control policy quantizes
    #: that the scenario sends dense
    quantization_scale: str = "range"


@dataclass(frozen=True)
class SchemeSettings:
    """Everything a scheme needs besides the world and the data (the round's skeleton —
    deadline, aggregation schedule — is the driver's: :class:`fedsl_sim.driver.RoundDriver`).

    ``split_layer``: layers on each device — one for all, one per device, or a
    :class:`SplitByDistance` rule. ``downlink``: the averaged model goes as a ``broadcast`` (one
    multicast per cell) or as ``unicast`` messages.
    """

    model: str
    split_layer: int | tuple[int, ...] | SplitByDistance
    optimizer: OptimizerSpec
    server_optimizer: OptimizerSpec
    model_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    local_steps: int = 1
    eval_batch_size: int = 512
    compute_device: str = "cpu"
    downlink: str = "broadcast"
    compression: CompressionSettings = field(default_factory=CompressionSettings)
    #: further split layers a control policy may give a device (``control.split_layers``)
    split_choices: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.downlink not in DOWNLINKS:
            raise ValueError(f"downlink: expected one of {DOWNLINKS}, got {self.downlink!r}")
        if self.local_steps < 1 or self.eval_batch_size < 1:
            raise ValueError("local_steps, eval_batch_size: expected >= 1")
