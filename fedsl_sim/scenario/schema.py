"""The scenario root: rounds, aggregation and the :class:`Scenario` itself."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import yaml
from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

import channels.fading
import channels.mobility
import channels.pathloss
from fedsl_sim.compression.registry import CODECS
from fedsl_sim.control.registry import POLICIES
from fedsl_sim.scenario.base import DurationS, _FieldError, _Model
from fedsl_sim.scenario.control import StaticControl
from fedsl_sim.scenario.devices import (
    DevicesConfig,
    FixedPlacement,
    ManhattanGridMobility,
    ServerConfig,
    TraceMobility,
    _DiscMobility,
    _existing_file,
)
from fedsl_sim.scenario.learning import (
    CODEC_STAGES,
    CompressionConfig,
    LearningConfig,
    PipelinesConfig,
    StopConfig,
)
from fedsl_sim.scenario.network import THREE_GPP_PATHLOSS, NetworkConfig, pathloss_model
from fedsl_sim.scenario.sections import bind_names, bind_section
from fedsl_sim.schemes.registry import SCHEMES


# --------------------------------------------------------------------------- rounds
class AllParticipate(_Model):
    """Every available device takes part in every round."""

    kind: Literal["all"]


class RandomParticipation(_Model):
    """Each round a uniformly random ``fraction`` of the available devices (at least one)."""

    kind: Literal["random"]
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5


class BestChannelParticipation(_Model):
    """Each round the ``fraction`` of the available devices with the strongest mean received
    power at the round's start (path loss and shadowing, no fast fading)."""

    kind: Literal["best_channel"]
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5


ParticipationConfig = Annotated[
    AllParticipate | RandomParticipation | BestChannelParticipation, Field(discriminator="kind")
]


class AlwaysAvailable(_Model):
    """Devices are always available."""

    kind: Literal["always"]


class BernoulliAvailability(_Model):
    """Each device is unavailable for a whole round with probability ``p_unavailable``."""

    kind: Literal["bernoulli"]
    p_unavailable: Annotated[float, Field(ge=0, lt=1)] = 0.1


class TraceAvailability(_Model):
    """Down intervals from a CSV file with columns ``device, t_down_s, t_up_s`` (relative to
    the scenario file). A device down at a round's start sits it out; one that goes down
    during a round loses that round's work (its model returns to the round's start and
    nothing it was sending arrives)."""

    kind: Literal["trace"]
    path: str

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: str, info: ValidationInfo) -> str:
        return _existing_file(path, info)


AvailabilityConfig = Annotated[
    AlwaysAvailable | BernoulliAvailability | TraceAvailability, Field(discriminator="kind")
]


class RoundsConfig(_Model):
    """Round control. ``deadline_s``: a round's devices have this long (from the round's
    start) to do everything they do in it (a catch-up download included) and deliver; what
    arrives later is dropped and the device is left out of that round's aggregate (the
    aggregation starts at the deadline at the latest). ``empty_round_s``: when no device is
    available at a round's start and none will come back (Bernoulli availability), the
    server waits this long for devices and records the round as empty."""

    deadline_s: DurationS | None = None
    empty_round_s: Annotated[float, Field(gt=0, le=1.0e6)] = 1.0
    participation: ParticipationConfig = AllParticipate(kind="all")
    availability: AvailabilityConfig = AlwaysAvailable(kind="always")


class ConstantStaleness(_Model):
    """Every update counts fully, whatever its staleness: discount 1."""

    kind: Literal["constant"]


class PolynomialStaleness(_Model):
    """Discount ``(1 + s)^-exponent`` for an update of staleness s (FedAsync, FedBuff)."""

    kind: Literal["polynomial"]
    exponent: Annotated[float, Field(gt=0, le=10)] = 0.5


class HingeStaleness(_Model):
    """Discount 1 up to staleness ``b``, then ``1 / (a (s - b) + 1)`` (FedAsync's hinge)."""

    kind: Literal["hinge"]
    a: Annotated[float, Field(gt=0, le=100)] = 10.0
    b: Annotated[int, Field(ge=0, le=1000)] = 4


StalenessConfig = Annotated[
    ConstantStaleness | PolynomialStaleness | HingeStaleness, Field(discriminator="kind")
]


class AsynchronousConfig(_Model):
    """Asynchronous split training (FedBuff-style; ``fedsl``, ``lightweight_fedsl``,
    ``sfl_v2``): no rounds — each device loops (fetch the current client-side average when it
    is stale, train ``aggregation_interval`` x ``local_steps`` steps, upload) and the server
    averages every ``buffer_size`` updates that arrive, each weighted by its data size and its
    ``staleness`` discount (the number of averages formed since the one it trained from), and
    drops updates staler than ``max_staleness``. ``server_lr``: the server's step on the
    weighted update. ``max_round_s``: an average is formed at the latest this long after the
    previous one, of what has arrived (nothing: an empty round) — a bound on a round whose
    buffer cannot fill; without it ``stop.max_sim_time_s`` is needed."""

    buffer_size: Annotated[int, Field(ge=1, le=100_000)]
    staleness: StalenessConfig = ConstantStaleness(kind="constant")
    max_staleness: Annotated[int, Field(ge=0, le=1000)] = 10
    server_lr: Annotated[float, Field(gt=0, le=10)] = 1.0
    max_round_s: DurationS | None = None


class AggregationConfig(_Model):
    """How the server sends the aggregated model back. ``broadcast``: one transmission per
    cell to all of its receiving devices, at the common rate of the weakest of them (with
    per-device split layers the shared layers are broadcast and each device's deeper layers
    sent to it alone); ``unicast``: one transmission per device, sharing the band.
    ``asynchronous``: aggregate asynchronously (see :class:`AsynchronousConfig`; None:
    synchronous rounds)."""

    downlink: Literal["broadcast", "unicast"] = "broadcast"
    asynchronous: AsynchronousConfig | None = None


class ExecutionConfig(_Model):
    """How the run is executed on this computer (not what is simulated). ``threads``: the
    CPU threads torch's kernels use during the run. Results depend on it in their last digits
    (a kernel sums in a thread-count dependent order), so it is part of the scenario and fixed
    by default (1): the same scenario gives byte-identical outputs on any machine. More
    threads speed up large models (VGG) on a many-core CPU; ``fedsl-sim run --threads N``
    sets it. A sweep's or compare's worker processes use their runs' setting."""

    threads: Annotated[int, Field(ge=1, le=1024)] = 1


# --------------------------------------------------------------------------- scenario
class Scenario(_Model):
    """A complete, validated, frozen scenario."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    scheme: str = "lightweight_fedsl"  # the registered schemes (bound below)
    stop: StopConfig = StopConfig()
    learning: LearningConfig = LearningConfig()
    compression: CompressionConfig = CompressionConfig()
    devices: DevicesConfig = DevicesConfig()
    server: ServerConfig = ServerConfig()
    network: NetworkConfig = NetworkConfig()
    rounds: RoundsConfig = RoundsConfig()
    aggregation: AggregationConfig = AggregationConfig()
    execution: ExecutionConfig = ExecutionConfig()
    control: StaticControl = StaticControl(kind="static")  # the registered policies (bound below)

    @model_validator(mode="after")
    def _split_per_device(self) -> Scenario:
        split = self.learning.split_layer
        if isinstance(split, list) and len(split) != self.devices.count:
            raise _FieldError(
                ("learning", "split_layer"),
                f"expected one split layer per device ({self.devices.count}, devices.count), "
                f"got {len(split)}",
            )
        return self

    @model_validator(mode="after")
    def _asynchronous_rules(self) -> Scenario:
        cfg = self.aggregation.asynchronous
        if cfg is None:
            return self
        where = ("aggregation", "asynchronous")
        if cfg.buffer_size > self.devices.count:
            raise _FieldError(
                (*where, "buffer_size"),
                f"expected at most devices.count ({self.devices.count}) updates, got "
                f"{cfg.buffer_size}",
            )
        if cfg.max_round_s is None and self.stop.max_sim_time_s is None:
            raise _FieldError(
                (*where, "max_round_s"),
                "expected a bound on a round (s), or stop.max_sim_time_s: an asynchronous "
                "run whose buffer cannot fill (devices down or out of reach) would not end",
            )
        rules = [
            (
                ("rounds", "deadline_s"),
                self.rounds.deadline_s is not None,
                "expected none: asynchronous devices have no round to meet",
            ),
            (
                ("rounds", "participation"),
                self.rounds.participation.kind != "all",
                "expected 'all': every available asynchronous device trains",
            ),
            (
                ("rounds", "availability"),
                self.rounds.availability.kind == "bernoulli",
                "expected 'always' or 'trace': Bernoulli availability is drawn per round",
            ),
            (
                ("control", "split_layers"),
                bool(getattr(self.control, "split_layers", None)),
                "expected none: asynchronous training keeps one split layer for every device",
            ),
        ]
        for path, broken, message in rules:
            if broken:
                raise _FieldError(path, f"{message} (aggregation.asynchronous is set)")
        return self

    @model_validator(mode="after")
    def _control_per_device(self) -> Scenario:
        budget = getattr(self.control, "budget_j", None)
        if isinstance(budget, list) and len(budget) != self.devices.count:
            raise _FieldError(
                ("control", "budget_j"),
                f"expected one budget per device ({self.devices.count}, devices.count), "
                f"got {len(budget)}",
            )
        return self

    @model_validator(mode="after")
    def _pathloss_covers_devices(self) -> Scenario:
        pl_cfg = self.network.pathloss
        try:
            model = pathloss_model(pl_cfg, self.network.carrier_hz)
        except ValueError as exc:
            raise _FieldError(("network", "pathloss"), str(exc)) from None
        for i, cell in enumerate(self.network.cells or ()):
            if cell.carrier_hz is not None:
                try:
                    pathloss_model(pl_cfg, cell.carrier_hz)
                except ValueError as exc:
                    raise _FieldError(("network", "cells", i, "carrier_hz"), str(exc)) from None
        if not isinstance(pl_cfg, THREE_GPP_PATHLOSS) or pl_cfg.clamp:
            return self
        lo, hi = device_distance_range_m(self.devices)
        if self.network.cells:  # distances to every cell, not only the one at the origin
            far = max(math.hypot(*c.position_m) for c in self.network.cells)
            lo, hi = (0.0 if far > 0 else lo), hi + far
        itf = self.network.interference
        if itf is not None:
            reach = itf.rings * itf.inter_site_distance_m + max(hi, itf.inter_site_distance_m)
            r_lo, r_hi = model.d2d_range_m(False)
            if r_lo > 10.0 or reach > r_hi:
                raise _FieldError(
                    ("network", "pathloss", "clamp"),
                    f"interferers are 10-{reach:g} m from devices, outside the {pl_cfg.kind} "
                    f"NLOS range {r_lo:g}-{r_hi:g} m; set clamp: true",
                )
        states = {"los": [True], "nlos": [False], "stochastic": [True, False]}[pl_cfg.los]
        for los in states:
            r_lo, r_hi = model.d2d_range_m(los)
            if lo < r_lo or hi > r_hi:
                raise _FieldError(
                    ("network", "pathloss", "clamp"),
                    f"devices can be {lo:g}-{hi:g} m from the base station, outside the "
                    f"{pl_cfg.kind} {'LOS' if los else 'NLOS'} range {r_lo:g}-{r_hi:g} m; "
                    "change the placement/mobility or set clamp: true",
                )
        return self

    def to_yaml(self) -> str:
        """The resolved scenario (defaults filled in) as YAML."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def device_distance_range_m(devices: DevicesConfig) -> tuple[float, float]:
    """The 2-D distances from the base station (origin) that devices can take, metres."""
    mob = devices.mobility
    if isinstance(mob, _DiscMobility):
        return 0.0, float(devices.movement_radius_m or 0.0)
    if isinstance(mob, ManhattanGridMobility):
        return 0.0, math.hypot(*mob.half_extent_m)
    if isinstance(mob, TraceMobility):
        return 0.0, math.inf  # unknown before the file is read
    if isinstance(devices.placement, FixedPlacement):
        d = [math.hypot(x, y) for x, y in devices.placement.positions_m]
        return min(d), max(d)
    return devices.placement.min_distance_m, devices.placement.radius_m


# the radio sections accept the registered models (and hear of later registrations)
bind_section(NetworkConfig, "pathloss", channels.pathloss.MODELS, "kind", parents=[Scenario])
bind_section(NetworkConfig, "fading", channels.fading.MODELS, "kind", parents=[Scenario])
bind_section(DevicesConfig, "mobility", channels.mobility.MODELS, "kind", parents=[Scenario])
bind_names(Scenario, "scheme", SCHEMES, parents=[])
bind_section(Scenario, "control", POLICIES, "kind", parents=[])
for _name, _params in CODEC_STAGES:
    CODECS.declare_params(_name, _params)
for _message in ("activations", "split_gradient", "model_upload"):
    bind_section(
        PipelinesConfig, _message, CODECS, "kind", [CompressionConfig, Scenario], as_list=True
    )
