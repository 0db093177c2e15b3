"""The scenario: one pydantic v2 schema, YAML I/O and dotted overrides.

This module is the only configuration parser. A :class:`Scenario` is validated once and frozen;
runtime objects are built from it and never see raw dicts. Units are in the field names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

SCHEMES = ("fl", "sl", "sfl_v1", "sfl_v2", "fedsl", "lightweight_fedsl")


def _rebuild_input_error(
    cls: type[ScenarioError], source: str, message: str, path: str | None
) -> ScenarioError:
    """Unpickle a :class:`ScenarioError` (or subclass) whatever its ``__init__`` signature."""
    exc = cls.__new__(cls)
    ScenarioError.__init__(exc, source, message, path)
    return exc


class ScenarioError(Exception):
    """Invalid input: names the file, the dotted field path, what was expected and given.

    Survives pickling (a sweep's worker process or Ray task sends it to the parent), with
    its subclasses, whose constructors take other arguments."""

    def __init__(self, source: str, message: str, path: str | None = None) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_input_error, (type(self), self.source, self.message, self.path))


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number, or a union or list/tuple of numbers (never bool)."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    meta_origin = getattr(annotation, "__origin__", None)
    if meta_origin is not None and hasattr(annotation, "__metadata__"):  # Annotated[...]
        return _numeric(meta_origin)
    args = getattr(annotation, "__args__", None) or ()
    return any(_numeric(a) for a in args if a is not type(None) and a is not Ellipsis)


def _bool_inside(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, list | tuple):
        return any(_bool_inside(v) for v in value)
    return False


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data: Any) -> Any:
        """``true``/``false`` are not numbers: pydantic would read them as 1/0."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if field is not None and _numeric(field.annotation) and _bool_inside(value):
                    raise _FieldError(
                        (name,), f"expected numbers, got a boolean (true/false) in {value!r}"
                    )
        return data


PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction01 = Annotated[float, Field(ge=0, lt=1)]
# Physical ranges (inclusive): anything outside is a typo or a unit error, and the arithmetic
# of the models stays finite inside them.
#: a band, Hz: 1 kHz - 100 GHz
BandwidthHz = Annotated[float, Field(ge=1.0e3, le=1.0e11)]
#: a carrier frequency, Hz: 1 MHz - 1 THz
CarrierHz = Annotated[float, Field(ge=1.0e6, le=1.0e12)]
#: a distance or radius, m: at most 1,000 km
DistanceM = Annotated[float, Field(gt=0, le=1.0e6)]
#: a speed, m/s: at most 1,000
SpeedMps = Annotated[float, Field(gt=0, le=1.0e3)]
#: a channel block or sample, s: 1 us - 1,000 s
BlockS = Annotated[float, Field(ge=1.0e-6, le=1.0e3)]
#: a duration, s: at most 1e9 (about 32 years)
DurationS = Annotated[float, Field(gt=0, le=1.0e9)]
#: a coordinate, m: within 1,000 km of the origin
CoordinateM = Annotated[float, Field(ge=-1.0e6, le=1.0e6)]


# --------------------------------------------------------------------------- stop
class StopConfig(_Model):
    """When a run ends: after ``max_rounds``, once simulated time passes ``max_sim_time_s``
    (checked at round boundaries), or at the first evaluation reaching ``target_accuracy`` when
    ``stop_at_target`` is set. ``target_accuracy`` also defines ``time_to_target_s``."""

    max_rounds: PositiveInt = 60
    max_sim_time_s: Annotated[float, Field(gt=0, le=1.0e12)] | None = None
    target_accuracy: Annotated[float, Field(gt=0, le=1)] | None = None
    stop_at_target: bool = False

    @model_validator(mode="after")
    def _target_needed(self) -> StopConfig:
        if self.stop_at_target and self.target_accuracy is None:
            raise ValueError("stop_at_target needs target_accuracy")
        return self


# --------------------------------------------------------------------------- learning
class DigitsDataset(_Model):
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes); no download."""

    name: Literal["digits"]
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2

    @property
    def image_hw(self) -> int:
        return 8


class SyntheticDataset(_Model):
    """CIFAR-shaped class-conditional synthetic images, for benchmarks."""

    name: Literal["synthetic"]
    n_train: Annotated[int, Field(ge=10, le=200_000)] = 5000
    n_test: Annotated[int, Field(ge=1, le=100_000)] = 1000
    num_classes: Annotated[int, Field(ge=2, le=1000)] = 10
    noise_std: Annotated[float, Field(ge=0)] = 1.0

    @property
    def image_hw(self) -> int:
        return 32


def _data_dir(path: str, info: ValidationInfo) -> str:
    """A data folder resolved against the scenario file's folder. Its files are checked when
    the data are loaded, so a scenario still validates on a machine without them."""
    p = Path(path).expanduser()
    base = (info.context or {}).get("base_dir")
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    return str(p)


class _FileDataset(_Model):
    """A real dataset read from local files (``fedsl-sim data NAME --download DIR`` fetches
    them); ``root`` relative to the scenario file. ``train_subset`` / ``test_subset`` keep a
    stratified random subset of that many images (drawn from the dataset stream)."""

    @field_validator("root", check_fields=False)
    @classmethod
    def _resolve_root(cls, root: str, info: ValidationInfo) -> str:
        return _data_dir(root, info)


class Cifar10Dataset(_FileDataset):
    """CIFAR-10, 32x32 RGB, 50000 train / 10000 test, binary or Python format (auto: the first
    found)."""

    name: Literal["cifar10"]
    root: Annotated[str, Field(min_length=1)]
    format: Literal["auto", "binary", "python"] = "auto"
    train_subset: PositiveInt | None = None
    test_subset: PositiveInt | None = None

    @property
    def image_hw(self) -> int:
        return 32


class MnistDataset(_FileDataset):
    """MNIST or Fashion-MNIST from IDX files (plain or .gz), 28x28 grey, 60000 / 10000."""

    name: Literal["mnist", "fashion_mnist"]
    root: Annotated[str, Field(min_length=1)]
    train_subset: PositiveInt | None = None
    test_subset: PositiveInt | None = None

    @property
    def image_hw(self) -> int:
        return 28


DatasetConfig = Annotated[
    DigitsDataset | SyntheticDataset | Cifar10Dataset | MnistDataset, Field(discriminator="name")
]


class IidPartition(_Model):
    kind: Literal["iid"]


class DirichletPartition(_Model):
    kind: Literal["dirichlet"]
    alpha: PositiveFloat = 0.5
    min_samples: PositiveInt = 2


class ShardsPartition(_Model):
    kind: Literal["shards"]
    shards_per_device: PositiveInt = 2


PartitionConfig = Annotated[
    IidPartition | DirichletPartition | ShardsPartition, Field(discriminator="kind")
]


class SmallCnnModel(_Model):
    name: Literal["small_cnn"]


class VggModel(_Model):
    name: Literal["vgg11", "vgg13", "vgg16", "vgg19"]
    batch_norm: bool = True


ModelConfig = Annotated[SmallCnnModel | VggModel, Field(discriminator="name")]


class OptimizerConfig(_Model):
    name: Literal["sgd", "adam"] = "sgd"
    lr: PositiveFloat = 0.05
    momentum: Fraction01 = 0.0
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class SplitRule(_Model):
    """Per-device split layers set by a rule.

    ``by_distance``: the devices, ranked by their distance to the nearest base station at
    t = 0 (nearest first, ties by index), are cut into ``len(layers)`` consecutive groups of
    sizes differing by at most one (the earlier groups take the extra devices); group g uses
    split layer ``layers[g]``. E.g. ``layers: [1, 3]`` gives the nearer half split layer 1 and
    the farther half split layer 3 (whose smaller activations spare their weaker uplinks).
    """

    rule: Literal["by_distance"]
    layers: Annotated[list[PositiveInt], Field(min_length=1)]


def _split_kind(value: Any) -> str:
    """Which form a ``split_layer`` is (so an error names the field, not each union branch)."""
    if isinstance(value, dict | SplitRule):
        return "split-rule"
    return "split-list" if isinstance(value, list | tuple) else "split-int"


SplitLayer = Annotated[
    Annotated[PositiveInt, Tag("split-int")]
    | Annotated[list[PositiveInt], Tag("split-list")]
    | Annotated[SplitRule, Tag("split-rule")],
    Discriminator(_split_kind),
]


def split_layer_values(split_layer: SplitLayer) -> list[int]:
    """Every split layer a ``learning.split_layer`` value names (one for a single int)."""
    if isinstance(split_layer, SplitRule):
        return list(split_layer.layers)
    if isinstance(split_layer, list):
        return list(split_layer)
    return [split_layer]


class LearningConfig(_Model):
    """What is trained and how.

    ``split_layer`` s puts layers 1..s of the model (1-based) on the devices and layers
    s+1..L on the server; 1 <= s <= L-1. It is one layer for every device, a list with one
    layer per device, or a :class:`SplitRule` (split schemes with parallel devices only:
    ``fedsl``, ``lightweight_fedsl``, ``sfl_v1``, ``sfl_v2``).
    """

    dataset: DatasetConfig = DigitsDataset(name="digits")
    partition: PartitionConfig = DirichletPartition(kind="dirichlet")
    model: ModelConfig = SmallCnnModel(name="small_cnn")
    split_layer: SplitLayer = 2
    batch_size: PositiveInt = 32
    local_steps: PositiveInt = 1
    aggregation_interval: PositiveInt = 5
    optimizer: OptimizerConfig = OptimizerConfig()
    server_optimizer: OptimizerConfig | None = None
    eval_every_rounds: PositiveInt = 5
    eval_batch_size: PositiveInt = 512
    #: where the real training runs: ``cpu`` (default; bit-reproducible), ``cuda`` /
    #: ``cuda:N`` (an error where CUDA is not available), or ``auto`` (CUDA when available)
    compute_device: Annotated[str, Field(pattern=r"^(cpu|auto|cuda(:[0-9]+)?)$")] = "cpu"

    @model_validator(mode="after")
    def _split_inside_model(self) -> LearningConfig:
        from fedsl_sim.learning.models import layer_count, min_input_hw

        need = min_input_hw(self.model.name)
        if self.dataset.image_hw < need:
            raise _FieldError(
                ("model", "name"),
                f"expected a model for {self.dataset.image_hw}x{self.dataset.image_hw} "
                f"{self.dataset.name} images; {self.model.name} needs at least {need}x{need} "
                "(e.g. dataset synthetic)",
            )
        n_layers = layer_count(self.model.name)
        where: tuple[str | int, ...] = ("split_layer",)
        if isinstance(self.split_layer, SplitRule):
            where += ("layers",)
        for i, s in enumerate(split_layer_values(self.split_layer)):
            if s > n_layers - 1:
                raise _FieldError(
                    where + ((i,) if not isinstance(self.split_layer, int) else ()),
                    f"expected 1 <= split_layer <= {n_layers - 1} ({self.model.name} has "
                    f"{n_layers} layers), got {s}",
                )
        return self

    @property
    def resolved_server_optimizer(self) -> OptimizerConfig:
        return self.server_optimizer if self.server_optimizer is not None else self.optimizer


# --------------------------------------------------------------------------- compression
class FixedSchedule(_Model):
    """Rate ``compression.pruning.rate`` from ``start_round`` on (0 before)."""

    kind: Literal["fixed"]
    start_round: Annotated[int, Field(ge=0)] = 0
    update_every_rounds: PositiveInt = 5


class RampSchedule(_Model):
    """Rate rising linearly from 0 at ``start_round`` to the target at ``end_round``."""

    kind: Literal["ramp"]
    start_round: Annotated[int, Field(ge=0)] = 0
    end_round: PositiveInt = 30
    update_every_rounds: PositiveInt = 5

    @model_validator(mode="after")
    def _ordered(self) -> RampSchedule:
        if self.end_round <= self.start_round:
            raise _FieldError(
                ("end_round",),
                f"expected end_round > start_round ({self.start_round}), got {self.end_round}",
            )
        return self


ScheduleConfig = Annotated[FixedSchedule | RampSchedule, Field(discriminator="kind")]


class PruningConfig(_Model):
    """Magnitude pruning of the client-side weights; the mask is recomputed from the current
    weights every ``schedule.update_every_rounds`` rounds ("dynamic")."""

    rate: Fraction01 = 0.0
    schedule: ScheduleConfig = FixedSchedule(kind="fixed")
    scope: Literal["global", "layer"] = "global"
    structure: Literal["unstructured"] = "unstructured"
    method: Literal["magnitude"] = "magnitude"
    sparse_compute: bool = True


QuantTarget = Literal["split_gradient", "activations", "model_upload"]


class QuantizationConfig(_Model):
    """Unbiased stochastic uniform quantization with ``bits`` bits (32 = off)."""

    bits: Annotated[int, Field(ge=1, le=32)] = 32
    scale: Literal["range", "norm"] = "range"
    targets: tuple[QuantTarget, ...] = ("split_gradient",)

    @model_validator(mode="after")
    def _norm_needs_sign(self) -> QuantizationConfig:
        if self.scale == "norm" and self.bits < 2:
            raise _FieldError(
                ("bits",), f"expected bits >= 2 with scale 'norm' (sign bit), got {self.bits}"
            )
        return self


class DropoutConfig(_Model):
    """Activation dropout at the split layer: each entry kept with probability 1 - rate."""

    rate: Fraction01 = 0.0


class CompressionConfig(_Model):
    pruning: PruningConfig = PruningConfig()
    quantization: QuantizationConfig = QuantizationConfig()
    dropout: DropoutConfig = DropoutConfig()

    @property
    def is_off(self) -> bool:
        return self.pruning.rate == 0 and self.quantization.bits == 32 and self.dropout.rate == 0


# --------------------------------------------------------------------------- devices
class UniformDiscPlacement(_Model):
    """Devices uniform over the annulus min_distance_m <= r <= radius_m around the BS."""

    kind: Literal["uniform_disc"]
    radius_m: DistanceM = 300.0
    min_distance_m: Annotated[float, Field(ge=0, le=1.0e6)] = 10.0

    @model_validator(mode="after")
    def _annulus(self) -> UniformDiscPlacement:
        if self.min_distance_m >= self.radius_m:
            raise _FieldError(
                ("min_distance_m",),
                f"expected min_distance_m < radius_m ({self.radius_m}), got {self.min_distance_m}",
            )
        return self


class FixedPlacement(_Model):
    """Explicit device positions in metres, BS at the origin."""

    kind: Literal["fixed"]
    positions_m: tuple[tuple[CoordinateM, CoordinateM], ...]


PlacementConfig = Annotated[UniformDiscPlacement | FixedPlacement, Field(discriminator="kind")]


def _existing_file(path: str, info: ValidationInfo) -> str:
    """``path`` resolved against the scenario file's folder; it must exist."""
    base = (info.context or {}).get("base_dir")
    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    if not p.is_file():
        raise ValueError(f"expected an existing CSV file, got {str(p)!r}")
    return str(p)


class StaticMobility(_Model):
    kind: Literal["static"]

    def max_speed_mps(self) -> float:
        return 0.0


SpeedRange = tuple[SpeedMps, SpeedMps]
BlockCount = Annotated[int, Field(ge=1, le=1000)]


def _check_speed_range(speed: SpeedRange) -> None:
    lo, hi = speed
    if hi < lo:
        raise _FieldError(("speed_mps",), f"expected [low, high] with low <= high, got {[lo, hi]}")


class _DiscMobility(_Model):
    """Movement inside a disc of ``radius_m`` around the base station (default: the placement
    disc; required with fixed placement)."""

    radius_m: DistanceM | None = None


class _RangedSpeed(_Model):
    """Movement at speeds drawn in ``speed_mps`` = [low, high] m/s."""

    speed_mps: SpeedRange = (1.0, 3.0)

    @model_validator(mode="after")
    def _speed_range(self) -> _RangedSpeed:
        _check_speed_range(self.speed_mps)
        return self

    def max_speed_mps(self) -> float:
        return self.speed_mps[1]


class RandomWaypointMobility(_DiscMobility, _RangedSpeed):
    """Random waypoint: legs to uniform waypoints at a uniform speed, pausing ``pause_s``.
    ``stationary_start`` starts in the stationary regime (Le Boudec & Vojnović): positions,
    phases and speeds drawn from it, the placement ignored."""

    kind: Literal["random_waypoint"]
    pause_s: Annotated[float, Field(ge=0, le=1.0e9)] = 0.0
    stationary_start: bool = False


class RandomDirectionMobility(_DiscMobility, _RangedSpeed):
    """Random direction with reflection at the border (uniform density): straight epochs of
    ``travel_s`` seconds (or, when null, to the border), pausing ``pause_s``."""

    kind: Literal["random_direction"]
    pause_s: Annotated[float, Field(ge=0, le=1.0e9)] = 0.0
    travel_s: DurationS | None = 30.0


class GaussMarkovMobility(_DiscMobility):
    """Gauss–Markov (Liang & Haas 1999): speed and direction updated every ``update_s`` with
    memory ``alpha`` (0 = random walk, 1 = straight line); ``border`` reflect or steer."""

    kind: Literal["gauss_markov"]
    mean_speed_mps: SpeedMps = 2.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.75
    update_s: DurationS = 1.0
    speed_std_mps: Annotated[float, Field(ge=0, le=1.0e3)] | None = None
    border: Literal["reflect", "steer"] = "reflect"

    def max_speed_mps(self) -> float:
        std = self.speed_std_mps if self.speed_std_mps is not None else self.mean_speed_mps / 4
        return self.mean_speed_mps + 4 * std


class ManhattanGridMobility(_RangedSpeed):
    """Manhattan grid (ETSI TR 101 112): streets every ``block_m`` on an ``n_blocks`` grid
    centred on the base station; turns with ``turn_probs`` (straight, left, right). Devices
    start on the streets (the placement is ignored)."""

    kind: Literal["manhattan_grid"]
    block_m: DistanceM = 100.0
    n_blocks: tuple[BlockCount, BlockCount] = (4, 4)
    turn_probs: tuple[
        Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]
    ] = (0.5, 0.25, 0.25)

    @model_validator(mode="after")
    def _valid(self) -> ManhattanGridMobility:
        if not math.isclose(sum(self.turn_probs), 1.0, abs_tol=1e-9):
            raise _FieldError(
                ("turn_probs",), f"expected probabilities summing to 1, got {list(self.turn_probs)}"
            )
        return self

    @property
    def half_extent_m(self) -> tuple[float, float]:
        return (self.n_blocks[0] * self.block_m / 2, self.n_blocks[1] * self.block_m / 2)


class TraceMobility(_Model):
    """Positions replayed from a CSV file with columns ``t_s, device, x_m, y_m`` (metres, BS at
    the origin; linear interpolation; held before the first and after the last sample). A
    relative ``path`` is relative to the scenario file. The placement is ignored."""

    kind: Literal["trace"]
    path: str
    max_speed_mps_hint: PositiveFloat | None = None

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: str, info: ValidationInfo) -> str:
        return _existing_file(path, info)

    def max_speed_mps(self) -> float:
        return self.max_speed_mps_hint or 0.0


MobilityConfig = Annotated[
    StaticMobility
    | RandomWaypointMobility
    | RandomDirectionMobility
    | GaussMarkovMobility
    | ManhattanGridMobility
    | TraceMobility,
    Field(discriminator="kind"),
]


class UniformRange(_Model):
    """A per-device value drawn uniformly in [``low``, ``high``] (seeded, stream ``compute``)."""

    low: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> UniformRange:
        if self.high < self.low:
            raise _FieldError(("high",), f"expected high >= low ({self.low:g}), got {self.high:g}")
        return self


#: one value for every device, a list with one value per device, or a uniform range
PerDevice = float | list[float] | UniformRange


def per_device_bounds(value: PerDevice) -> tuple[float, float]:
    """The smallest and largest value a per-device field can take."""
    if isinstance(value, UniformRange):
        return value.low, value.high
    if isinstance(value, list):
        return min(value), max(value)
    return value, value


class DeviceCompute(_Model):
    """Device compute with a clock (DVFS) model: a computation of F FLOPs takes

        cycles = F / flops_per_cycle,  time = cycles / cpu_hz,  energy = kappa · cycles · cpu_hz²

    so twice the clock is half the time and four times the energy. Each field is one value,
    a list with one value per device, or ``{low, high}`` drawn uniformly per device."""

    cpu_hz: PerDevice = 1.0e9
    flops_per_cycle: PerDevice = 5.0
    kappa: PerDevice = 1.0e-28

    #: valid range of each field (inclusive), with its unit
    LIMITS: ClassVar[dict[str, tuple[float, float, str]]] = {
        "cpu_hz": (1.0e6, 1.0e11, "Hz"),
        "flops_per_cycle": (1.0e-3, 1.0e6, "FLOP per cycle"),
        "kappa": (0.0, 1.0e-20, "J/(cycle·Hz²)"),
    }

    @model_validator(mode="before")
    @classmethod
    def _no_flops_per_s(cls, data: Any) -> Any:
        if isinstance(data, dict) and "flops_per_s" in data:
            raise _FieldError(
                ("flops_per_s",),
                "was replaced by flops_per_cycle: compute time is FLOPs / (flops_per_cycle · "
                "cpu_hz); set flops_per_cycle = flops_per_s / cpu_hz (e.g. 5e9 FLOP/s at "
                "1e9 Hz is flops_per_cycle: 5)",
            )
        return data

    @model_validator(mode="after")
    def _in_range(self) -> DeviceCompute:
        for name, (lo, hi, unit) in self.LIMITS.items():
            a, b = per_device_bounds(getattr(self, name))
            if a < lo or b > hi or (name != "kappa" and a <= 0):
                raise _FieldError(
                    (name,), f"expected values in [{lo:g}, {hi:g}] {unit}, got {a:g}..{b:g}"
                )
        return self


class DevicesConfig(_Model):
    count: Annotated[int, Field(ge=1, le=100_000)] = 10
    placement: PlacementConfig = UniformDiscPlacement(kind="uniform_disc")
    mobility: MobilityConfig = StaticMobility(kind="static")
    compute: DeviceCompute = DeviceCompute()
    tx_power_dbm: Annotated[float, Field(ge=-50, le=60)] = 23.0

    @model_validator(mode="after")
    def _consistent(self) -> DevicesConfig:
        for name in DeviceCompute.LIMITS:
            value = getattr(self.compute, name)
            if isinstance(value, list) and len(value) != self.count:
                raise _FieldError(
                    ("compute", name),
                    f"expected one value per device ({self.count}, devices.count), "
                    f"got {len(value)}",
                )
        if isinstance(self.placement, FixedPlacement):
            if len(self.placement.positions_m) != self.count:
                raise _FieldError(
                    ("placement", "positions_m"),
                    f"expected {self.count} positions (devices.count), "
                    f"got {len(self.placement.positions_m)}",
                )
            if isinstance(self.mobility, _DiscMobility) and self.mobility.radius_m is None:
                raise _FieldError(
                    ("mobility", "radius_m"),
                    "expected a radius (fixed placement has no disc to move in), got none",
                )
        if isinstance(self.mobility, _DiscMobility) and self.mobility.radius_m is not None:
            if isinstance(self.placement, FixedPlacement):
                farthest = max(math.hypot(x, y) for x, y in self.placement.positions_m)
            else:
                farthest = self.placement.radius_m
            if farthest > self.mobility.radius_m:
                raise _FieldError(
                    ("mobility", "radius_m"),
                    f"expected a disc containing every start position (radius >= "
                    f"{farthest:g} m), got {self.mobility.radius_m:g}",
                )
        return self

    @property
    def movement_radius_m(self) -> float | None:
        """Radius of the disc devices move in (disc-bounded mobility), else None."""
        if not isinstance(self.mobility, _DiscMobility):
            return None
        if self.mobility.radius_m is not None:
            return self.mobility.radius_m
        assert isinstance(self.placement, UniformDiscPlacement)
        return self.placement.radius_m


class ServerConfig(_Model):
    """Edge server co-located with the base station."""

    flops_per_s: Annotated[float, Field(ge=1.0e3, le=1.0e18)] = 1.0e13
    workers: Annotated[int, Field(ge=1, le=100_000)] = 1
    tx_power_dbm: Annotated[float, Field(ge=-50, le=80)] = 43.0


# --------------------------------------------------------------------------- network
class LogDistancePathLoss(_Model):
    """PL(d) = PL_fs(d0) + 10 * exponent * log10(d / d0) dB."""

    model: Literal["log_distance"]
    exponent: Annotated[float, Field(gt=0, le=10)] = 3.5
    d0_m: DistanceM = 1.0


class FreeSpacePathLoss(_Model):
    model: Literal["free_space"]


class Macro36814PathLoss(_Model):
    """3GPP TR 36.814 macro cell: 128.1 + 37.6 log10(d / km) dB (d >= 35 m), plus
    21 log10(fc / 2 GHz) away from 2 GHz."""

    model: Literal["macro_36814"]


class _ThreeGppPathLoss(_Model):
    """3GPP TR 38.901 (Table 7.4.1-1). Heights default to the standard's (UMa 25 m, UMi
    10 m, RMa 35 m, InH 3 m; devices 1.5 m, InH 1 m). ``los``: ``stochastic`` draws each
    link's LOS state from Table 7.4.2-1 and keeps it while the device moves less than the
    LOS correlation distance. Outside a formula's distance range: an error, or with
    ``clamp`` the distance is clamped into it."""

    h_bs_m: Annotated[float, Field(gt=0, le=1.0e4)] | None = None
    h_ut_m: Annotated[float, Field(gt=0, le=1.0e4)] | None = None
    los: Literal["stochastic", "los", "nlos"] = "stochastic"
    clamp: bool = False


class UmaPathLoss(_ThreeGppPathLoss):
    model: Literal["uma"]
    simplified_nlos: bool = False


class UmiPathLoss(_ThreeGppPathLoss):
    model: Literal["umi"]
    simplified_nlos: bool = False


class RmaPathLoss(_ThreeGppPathLoss):
    model: Literal["rma"]
    building_height_m: Annotated[float, Field(ge=5, le=50)] = 5.0
    street_width_m: Annotated[float, Field(ge=5, le=50)] = 20.0


class InhPathLoss(_ThreeGppPathLoss):
    model: Literal["inh"]
    office: Literal["mixed", "open"] = "mixed"
    simplified_nlos: bool = False


THREE_GPP_PATHLOSS = (UmaPathLoss, UmiPathLoss, RmaPathLoss, InhPathLoss)

PathLossConfig = Annotated[
    LogDistancePathLoss
    | FreeSpacePathLoss
    | Macro36814PathLoss
    | UmaPathLoss
    | UmiPathLoss
    | RmaPathLoss
    | InhPathLoss,
    Field(discriminator="model"),
]


class ShadowingConfig(_Model):
    """Log-normal shadowing. ``std_db``: None takes the path-loss model's (TR 38.901 values by
    LOS state for the 3GPP models, 8 dB otherwise). With ``correlated`` the shadowing follows
    each device along its trajectory (Gudmundson: correlation exp(-Δd / corr_distance_m),
    default the 3GPP decorrelation distance of the link's initial LOS state, 50 m for the other
    models); without, it is one draw per device held for the run."""

    std_db: Annotated[float, Field(ge=0, le=30)] | None = None
    correlated: bool = True
    corr_distance_m: DistanceM | None = None


class _Fading(_Model):
    """Small-scale fading, unit mean power. ``time: block``: i.i.d. per block of
    ``coherence_s`` (the channel, distance included, is held for a block). ``time:
    continuous``: a Jakes (Clarke) process that evolves with the distance each device travels
    (Doppler from its speed; a device at rest keeps its channel), sampled every ``sample_s``
    (default a tenth of the coherence time at the fastest speed, at most 10 ms)."""

    time: Literal["block", "continuous"] = "block"
    coherence_s: BlockS = 0.01
    sample_s: BlockS | None = None

    @property
    def distribution_params(self) -> dict[str, Any]:
        """The parameters of the fading distribution itself (``k_db``, ``m``)."""
        return self.model_dump(exclude={"model", "time", "coherence_s", "sample_s"})


class NoFading(_Fading):
    model: Literal["none"]


class RayleighFading(_Fading):
    model: Literal["rayleigh"]


class RicianFading(_Fading):
    model: Literal["rician"]
    k_db: Annotated[float, Field(ge=-50, le=50)] = 9.0


class NakagamiFading(_Fading):
    model: Literal["nakagami"]
    m: Annotated[float, Field(ge=0.5, le=1000)] = 1.0


FadingConfig = Annotated[
    NoFading | RayleighFading | RicianFading | NakagamiFading, Field(discriminator="model")
]


class AccessConfig(_Model):
    """How concurrent transmissions of one direction share its band. ``ofdma``: each gets a
    part of the band at the same time — ``equal`` parts, or parts ``proportional`` to the
    bits of each message (so that concurrent messages tend to end together); noise scales
    with the part. ``tdma``: each gets the whole band for an equal part of the time."""

    kind: Literal["ofdma", "tdma"] = "ofdma"
    share: Literal["equal", "proportional"] = "equal"
    #: ``power_aware``: a transmission below the outage threshold on its nominal share gets
    #: the narrower part on which it reaches it (OFDMA uplink, no narrower than
    #: ``min_share_hz``) or waits, and leaves the rest of the band to the others;
    #: ``fixed_share``: every transmission holds its nominal share, waiting or not
    scheduler: Literal["power_aware", "fixed_share"] = "power_aware"
    min_share_hz: Annotated[float, Field(ge=1.0e3, le=1.0e11)] = 180.0e3


class ShannonRate(_Model):
    """r = B log2(1 + SNR / Γ), Γ = ``gap_db`` (0 dB: capacity)."""

    model: Literal["shannon"]
    gap_db: Annotated[float, Field(ge=0, le=20)] = 0.0


class CqiRate(_Model):
    """r = B · efficiency(CQI) with the 3GPP TS 38.214 CQI tables; the CQI is the highest one
    whose SNR threshold is reached (default thresholds: 10 log10(2^eff - 1) dB; or give the 15
    thresholds of CQI 1..15). Below CQI 1 the link is in outage."""

    model: Literal["cqi"]
    table: Literal["64qam", "256qam"] = "64qam"
    snr_thresholds_db: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _fifteen(self) -> CqiRate:
        t = self.snr_thresholds_db
        increasing = t is None or all(b > a for a, b in zip(t, t[1:], strict=False))
        if t is not None and (len(t) != 15 or not increasing):
            raise _FieldError(
                ("snr_thresholds_db",), f"expected 15 increasing values (CQI 1..15), got {list(t)}"
            )
        return self


RateConfig = Annotated[ShannonRate | CqiRate, Field(discriminator="model")]


class OutageConfig(_Model):
    """Below ``snr_threshold_db`` a link carries nothing. ``wait``: the transmission pauses;
    ``harq``: each block in outage is a failed attempt (time and energy spent), the message is
    lost after more than ``max_retransmissions`` of them (optionally Chase-combining the failed
    blocks' SNR); ``drop``: the first block in outage loses the message."""

    snr_threshold_db: Annotated[float, Field(ge=-50, le=100)] | None = -5.0
    policy: Literal["wait", "harq", "drop"] = "wait"
    #: ``wait``: a transmission that has not moved for this long (simulated seconds) stops the
    #: run with an error naming the device (a link that can never deliver); null: wait for ever
    max_wait_s: Annotated[float, Field(gt=0, le=1.0e9)] | None = 3600.0
    max_retransmissions: Annotated[int, Field(ge=0, le=1000)] = 3
    chase_combining: bool = False


class InterferenceConfig(_Model):
    """Co-channel interference from ``rings`` hexagonal rings of neighbouring base stations at
    ``inter_site_distance_m`` (6 sites in ring 1, 12 in ring 2, ...), each busy a fraction
    ``load`` of the time (interference scaled by ``load``: its mean). Downlink: every
    neighbour's transmit power (the serving BS's) through the path loss to the device's current
    position (NLOS for the 3GPP models; no shadowing or fading; at least 10 m). Uplink: one
    device per neighbouring cell (the devices' transmit power), its received power at the
    serving BS averaged over positions uniform in a disc of half the inter-site distance around
    its site. Interference adds to the noise in the SINR."""

    inter_site_distance_m: DistanceM = 500.0
    rings: Annotated[int, Field(ge=1, le=3)] = 1
    load: Annotated[float, Field(ge=0, le=1)] = 0.5


class CellConfig(_Model):
    """One base station (cell). ``carrier_hz`` (for its path loss), ``bandwidth_hz`` (each
    direction) and ``tx_power_dbm`` default to ``network.carrier_hz``,
    ``network.bandwidth_hz`` and ``server.tx_power_dbm``. Cells use separate bands."""

    position_m: tuple[CoordinateM, CoordinateM]
    carrier_hz: CarrierHz | None = None
    bandwidth_hz: BandwidthHz | None = None
    tx_power_dbm: Annotated[float, Field(ge=-50, le=80)] | None = None


class BackhaulLink(_Model):
    """A backhaul link between two nodes (``server`` or ``cell<i>``): a message crosses it in
    ``latency_s`` + bits / ``capacity_bps`` (store and forward, no contention)."""

    a: str
    b: str
    latency_s: Annotated[float, Field(ge=0, le=1.0e3)] = 0.001
    capacity_bps: Annotated[float, Field(ge=1.0, le=1.0e15)] = 1.0e9


class HandoverConfig(_Model):
    """Each device is served by the cell with the strongest large-scale gain (path loss and
    shadowing); it hands over when another cell is stronger by more than ``hysteresis_db``
    (checked every block). A handover during a transmission: ``continue`` (the remaining bits
    go on in the new cell), ``restart`` (the whole message is sent again) or ``drop`` (lost)."""

    hysteresis_db: Annotated[float, Field(ge=0, le=30)] = 3.0
    interruption: Literal["continue", "restart", "drop"] = "continue"


class NetworkConfig(_Model):
    carrier_hz: CarrierHz = 3.5e9
    bandwidth_hz: BandwidthHz = 20.0e6
    noise_figure_db: Annotated[float, Field(ge=0, le=30)] = 7.0
    pathloss: PathLossConfig = LogDistancePathLoss(model="log_distance")
    shadowing: ShadowingConfig = ShadowingConfig()
    fading: FadingConfig = RayleighFading(model="rayleigh")
    access: AccessConfig = AccessConfig()
    rate: RateConfig = ShannonRate(model="shannon")
    outage: OutageConfig = OutageConfig()
    interference: InterferenceConfig | None = None
    cells: tuple[CellConfig, ...] | None = None
    backhaul: tuple[BackhaulLink, ...] | None = None
    handover: HandoverConfig = HandoverConfig()

    @model_validator(mode="after")
    def _topology(self) -> NetworkConfig:
        n_cells = len(self.cells) if self.cells else 1
        if self.cells is not None and len(self.cells) == 0:
            raise _FieldError(("cells",), "expected at least one cell, got an empty list")
        nodes = {"server", *(f"cell{i}" for i in range(n_cells))}
        for i, link in enumerate(self.backhaul or ()):
            for end in ("a", "b"):
                if getattr(link, end) not in nodes:
                    raise _FieldError(
                        ("backhaul", str(i), end),
                        f"expected one of {sorted(nodes)}, got {getattr(link, end)!r}",
                    )
        return self

    @property
    def n_cells(self) -> int:
        return len(self.cells) if self.cells else 1


# --------------------------------------------------------------------------- rounds
class AllParticipate(_Model):
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


class AggregationConfig(_Model):
    """How the server sends the aggregated model back. ``broadcast``: one transmission per
    cell to all of its receiving devices, at the common rate of the weakest of them (with
    per-device split layers the shared layers are broadcast and each device's deeper layers
    sent to it alone); ``unicast``: one transmission per device, sharing the band."""

    downlink: Literal["broadcast", "unicast"] = "broadcast"


# --------------------------------------------------------------------------- scenario
class Scenario(_Model):
    """A complete, validated, frozen scenario."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    scheme: Literal["fl", "sl", "sfl_v1", "sfl_v2", "fedsl", "lightweight_fedsl"] = (
        "lightweight_fedsl"
    )
    stop: StopConfig = StopConfig()
    learning: LearningConfig = LearningConfig()
    compression: CompressionConfig = CompressionConfig()
    devices: DevicesConfig = DevicesConfig()
    server: ServerConfig = ServerConfig()
    network: NetworkConfig = NetworkConfig()
    rounds: RoundsConfig = RoundsConfig()
    aggregation: AggregationConfig = AggregationConfig()

    @model_validator(mode="after")
    def _split_per_device(self) -> Scenario:
        split = self.learning.split_layer
        if isinstance(split, list) and len(split) != self.devices.count:
            raise _FieldError(
                ("learning", "split_layer"),
                f"expected one split layer per device ({self.devices.count}, devices.count), "
                f"got {len(split)}",
            )
        if len(set(split_layer_values(split))) > 1 and self.scheme in ("fl", "sl"):
            why = (
                "fl trains the whole model on every device"
                if self.scheme == "fl"
                else "sl hands one client-side model from device to device"
            )
            raise _FieldError(
                ("learning", "split_layer"),
                f"expected one split layer for scheme {self.scheme!r} ({why}; per-device "
                f"split layers need fedsl, lightweight_fedsl, sfl_v1 or sfl_v2), got "
                f"{split_layer_values(split)}",
            )
        return self

    @model_validator(mode="after")
    def _sl_is_sequential(self) -> Scenario:
        if self.scheme == "sl" and self.rounds.deadline_s is not None:
            raise _FieldError(
                ("rounds", "deadline_s"),
                "expected none for scheme 'sl' (devices train in turn; a round deadline is "
                f"not defined), got {self.rounds.deadline_s}",
            )
        return self

    @model_validator(mode="after")
    def _pathloss_covers_devices(self) -> Scenario:
        from fedsl_sim.sim.channel import make_pathloss

        pl_cfg = self.network.pathloss
        try:
            model = make_pathloss(pl_cfg, self.network.carrier_hz)
        except ValueError as exc:
            raise _FieldError(("network", "pathloss"), str(exc)) from None
        for i, cell in enumerate(self.network.cells or ()):
            if cell.carrier_hz is not None:
                try:
                    make_pathloss(pl_cfg, cell.carrier_hz)
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
                    f"interferers are 10-{reach:g} m from devices, outside the {pl_cfg.model} "
                    f"NLOS range {r_lo:g}-{r_hi:g} m; set clamp: true",
                )
        states = {"los": [True], "nlos": [False], "stochastic": [True, False]}[pl_cfg.los]
        for los in states:
            r_lo, r_hi = model.d2d_range_m(los)
            if lo < r_lo or hi > r_hi:
                raise _FieldError(
                    ("network", "pathloss", "clamp"),
                    f"devices can be {lo:g}-{hi:g} m from the base station, outside the "
                    f"{pl_cfg.model} {'LOS' if los else 'NLOS'} range {r_lo:g}-{r_hi:g} m; "
                    "change the placement/mobility or set clamp: true",
                )
        return self

    @model_validator(mode="after")
    def _fl_has_no_split(self) -> Scenario:
        comp = self.compression
        if self.scheme == "fl":
            if comp.dropout.rate > 0:
                raise _FieldError(
                    ("compression", "dropout", "rate"),
                    f"expected 0 for scheme 'fl' (no split layer), got {comp.dropout.rate}",
                )
            split_targets = set(comp.quantization.targets) - {"model_upload"}
            if comp.quantization.bits < 32 and split_targets:
                raise _FieldError(
                    ("compression", "quantization", "targets"),
                    "expected only model_upload for scheme 'fl' (no split layer), got "
                    f"{sorted(split_targets)}",
                )
        return self

    @model_validator(mode="after")
    def _scheme_compression(self) -> Scenario:
        if self.scheme == "fedsl" and not self.compression.is_off:
            raise _FieldError(
                ("compression",),
                "expected compression off for scheme 'fedsl' (pruning.rate 0, quantization.bits "
                "32, dropout.rate 0); use scheme 'lightweight_fedsl' to compress",
            )
        return self

    def to_yaml(self) -> str:
        """The resolved scenario (defaults filled in) as YAML."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class _FieldError(ValueError):
    """A cross-field violation pointing at a sub-field of the model being validated."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.loc, str(self)))


# --------------------------------------------------------------------------- I/O
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


#: longest value quoted back in an error message, characters
MAX_ECHO_CHARS = 200
#: largest scenario or sweep file read, bytes
MAX_YAML_BYTES = 10 * 2**20
#: most values (mapping keys and values, list items, scalars) a YAML document may expand to,
#: counting every use of an alias: refuses "billion laughs" documents
MAX_YAML_VALUES = 200_000


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys in a mapping (YAML forbids them;
    PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _too_many_values(data: Any, limit: int) -> bool:
    """Whether ``data`` holds more than ``limit`` values, aliases counted at each use."""
    stack, n = [data], 0
    while stack:
        x = stack.pop()
        n += 1
        if n > limit:
            return True
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping, with errors that name the file. Only a
    regular file of at most :data:`MAX_YAML_BYTES`, without duplicate keys, expanding to at
    most :data:`MAX_YAML_VALUES` values."""
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise ScenarioError(source, "file not found")
    if p.is_dir():
        raise ScenarioError(source, "expected a YAML file, got a directory")
    if not p.is_file():
        raise ScenarioError(source, "expected a regular file (not a device, pipe or socket)")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(source, f"cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ScenarioError(
            source, f"expected at most {MAX_YAML_BYTES // 2**20} MiB, got a larger file"
        )
    if b"\x00" in raw:
        raise ScenarioError(source, "expected a YAML text file, got binary data")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            source, f"expected UTF-8 text, got undecodable bytes ({exc.reason})"
        ) from None
    if not text.strip():
        raise ScenarioError(source, "the file is empty")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ScenarioError(source, f"cannot read a value: {str(exc)[:MAX_ECHO_CHARS]}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, f"YAML syntax error{where}: {problem}") from None
    except RecursionError:
        raise ScenarioError(source, "YAML nested too deeply") from None
    if _too_many_values(data, MAX_YAML_VALUES):
        raise ScenarioError(
            source,
            f"the YAML document expands to more than {MAX_YAML_VALUES} values (anchors and "
            "aliases counted at each use); refused",
        )
    if data is None:
        raise ScenarioError(source, "the file holds no YAML document (only comments?)")
    if not isinstance(data, dict):
        raise ScenarioError(
            source, f"expected a mapping at the top level, got {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``a.b.c=value`` (value read as a YAML scalar/flow value)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(
            "--set", f"expected KEY=VALUE (e.g. learning.split_layer=3), got {text!r}"
        )
    try:
        parsed = yaml.load(value, Loader=_StrictLoader) if value.strip() else None  # noqa: S506
    except yaml.constructor.ConstructorError as exc:  # e.g. a duplicate key in a mapping
        raise ScenarioError("--set", f"{key}: {exc.problem}") from None
    except yaml.YAMLError:
        parsed = value
    except (ValueError, RecursionError) as exc:
        raise ScenarioError(
            "--set", f"{key}: cannot read the value ({str(exc)[:MAX_ECHO_CHARS] or 'too deep'})"
        ) from None
    if _too_many_values(parsed, MAX_YAML_VALUES):
        raise ScenarioError("--set", f"{key}: the value expands to too many values; refused")
    return key, parsed


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides applied (creates missing mappings)."""
    import copy

    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if any(not p for p in parts):
            raise ScenarioError(source, f"malformed override key {dotted!r}")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ScenarioError(
                    source,
                    f"cannot set {dotted!r}: {'.'.join(parts[: i + 1])} is a "
                    f"{type(nxt).__name__}, not a mapping",
                    path=dotted,
                )
            node = nxt
        node[parts[-1]] = value
    return out


def _dotted(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted path of a pydantic error location, without discriminated-union tags."""
    parts: list[str] = []
    node = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, (list, tuple)) and isinstance(item, int) and item < len(node):
            parts.append(str(item))
            node = node[item]
        elif not isinstance(node, dict) and isinstance(item, str) and i > 0:
            continue  # a union branch's tag over a value that is not a mapping
        elif last or not isinstance(item, str) or item.startswith("function-"):
            if not (isinstance(item, str) and item.startswith("function-")):
                parts.append(str(item))
            node = None
        else:
            # a union tag inserted by pydantic, not a field of the input
            continue
    return ".".join(parts)


def _describe(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        return "unknown field (not part of the schema; check the spelling)"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        return msg
    if msg.startswith("Input should be"):
        msg = "expected" + msg[len("Input should be") :]
    if isinstance(given, (dict, list)):
        given_s = type(given).__name__
    else:
        given_s = repr(given)
        if len(given_s) > MAX_ECHO_CHARS:  # never echo a huge value back
            given_s = given_s[:MAX_ECHO_CHARS] + f"... ({len(given_s)} characters)"
    return f"{msg}, got {given_s}"


def validate_scenario(
    data: dict[str, Any], source: str, base_dir: str | Path | None = None
) -> Scenario:
    """Validate a raw mapping; errors become one :class:`ScenarioError` naming each field.
    Relative file paths in the scenario are resolved against ``base_dir``."""
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise input_error(exc, data, source) from None


def input_error(exc: ValidationError, data: Any, source: str) -> ScenarioError:
    """One :class:`ScenarioError` for a pydantic error on the YAML ``data`` of ``source``
    (a scenario or any other input file): each failing field as a dotted path with what was
    expected and what was given."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldError):
            loc = loc + ctx_err.loc
        lines.append((_dotted(loc, data) or "(top level)", _describe(err)))
    if len(lines) == 1:
        return ScenarioError(source, lines[0][1], path=lines[0][0])
    text = "\n  ".join(f"{field}: {message}" for field, message in lines)
    return ScenarioError(source, f"{len(lines)} invalid fields:\n  {text}")


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | None = None, seed: int | None = None
) -> Scenario:
    """Load, override and validate a scenario file.

    Parameters
    ----------
    path : scenario YAML file.
    overrides : dotted keys to values, e.g. ``{"learning.split_layer": 3}``.
    seed : replaces the scenario's ``seed`` when given.
    """
    source = str(path)
    data = read_yaml_mapping(path)
    merged = dict(overrides or {})
    if seed is not None:
        merged["seed"] = seed
    if merged:
        data = apply_overrides(data, merged, source)
    return validate_scenario(data, source, base_dir=Path(path).resolve().parent)
