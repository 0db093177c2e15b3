"""Scenario sections: stop, learning (data, partition, model, split, optimizer), compression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fedsl_sim.scenario.base import Fraction01, PositiveFloat, PositiveInt, _FieldError, _Model


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

    kind: Literal["digits"]
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2

    @property
    def image_hw(self) -> int:
        return 8


class SyntheticDataset(_Model):
    """CIFAR-shaped class-conditional synthetic images, for benchmarks."""

    kind: Literal["synthetic"]
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

    kind: Literal["cifar10"]
    root: Annotated[str, Field(min_length=1)]
    format: Literal["auto", "binary", "python"] = "auto"
    train_subset: PositiveInt | None = None
    test_subset: PositiveInt | None = None

    @property
    def image_hw(self) -> int:
        return 32


class MnistDataset(_FileDataset):
    """MNIST or Fashion-MNIST from IDX files (plain or .gz), 28x28 grey, 60000 / 10000."""

    kind: Literal["mnist", "fashion_mnist"]
    root: Annotated[str, Field(min_length=1)]
    train_subset: PositiveInt | None = None
    test_subset: PositiveInt | None = None

    @property
    def image_hw(self) -> int:
        return 28


DatasetConfig = Annotated[
    DigitsDataset | SyntheticDataset | Cifar10Dataset | MnistDataset, Field(discriminator="kind")
]


class IidPartition(_Model):
    """Training samples shuffled and dealt out evenly."""

    kind: Literal["iid"]


class DirichletPartition(_Model):
    """Label proportions per device drawn from Dirichlet(``alpha``) (smaller: more skewed)."""

    kind: Literal["dirichlet"]
    alpha: PositiveFloat = 0.5
    min_samples: PositiveInt = 2


class ShardsPartition(_Model):
    """Samples sorted by label, cut into shards; each device gets ``shards_per_device``."""

    kind: Literal["shards"]
    shards_per_device: PositiveInt = 2


PartitionConfig = Annotated[
    IidPartition | DirichletPartition | ShardsPartition, Field(discriminator="kind")
]


class SmallCnnModel(_Model):
    """A 5-layer CNN (conv, conv+pool, conv+pool, fc, fc) for small images."""

    kind: Literal["small_cnn"]


class VggModel(_Model):
    """VGG for CIFAR-sized images: one layer per 3x3 conv plus three fully connected."""

    kind: Literal["vgg11", "vgg13", "vgg16", "vgg19"]
    batch_norm: bool = True


ModelConfig = Annotated[SmallCnnModel | VggModel, Field(discriminator="kind")]


class OptimizerConfig(_Model):
    """SGD (with ``momentum``) or Adam; learning rate ``lr``, L2 ``weight_decay``."""

    kind: Literal["sgd", "adam"] = "sgd"
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

    kind: Literal["by_distance"]
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
    ``fedsl``, ``lightweight_fedsl``, ``sfl_v1``, ``sfl_v2``). That the split layers and
    the dataset's image size fit the model is checked when the scenario is built
    (:func:`fedsl_sim.build.check_scenario`; the schema does not import the model code).
    """

    dataset: DatasetConfig = DigitsDataset(kind="digits")
    partition: PartitionConfig = DirichletPartition(kind="dirichlet")
    model: ModelConfig = SmallCnnModel(kind="small_cnn")
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


class CodecParams(_Model):
    """Base of a stage of a ``compression.pipelines`` list: the parameter model of a codec of
    ``fedsl_sim.compression.registry.CODECS`` (discriminator ``kind``). ``wraps``: the stage
    wraps the next one (every stage but the list's last); the last is a terminal codec."""

    wraps: ClassVar[bool] = False
    #: the message kinds the stage can code (delta coding needs the receiver's copy: only
    #: the model upload has one)
    messages: ClassVar[tuple[str, ...]] = ("activations", "split_gradient", "model_upload")

    def codec_params(self, quantization: QuantizationConfig) -> dict[str, Any]:
        """The keyword arguments of the registered codec: by default the stage's fields."""
        return self.model_dump(exclude={"kind"})


class Float32Codec(CodecParams):
    """Dense float32 values (lossless; 32 bits each)."""

    kind: Literal["float32"]


class QuantizeCodec(CodecParams):
    """Stochastic quantization; ``bits`` and ``scale`` default to ``compression.quantization``'s."""

    kind: Literal["quantize"]
    bits: Annotated[int, Field(ge=1, le=32)] | None = None
    scale: Literal["range", "norm"] | None = None

    def codec_params(self, quantization: QuantizationConfig) -> dict[str, Any]:
        return {
            "bits": quantization.bits if self.bits is None else self.bits,
            "scale": quantization.scale if self.scale is None else self.scale,
        }


class KeepEntriesCodec(CodecParams):
    """Only the entries of the message's mask travel (the dropout mask, a pruning mask)."""

    kind: Literal["keep_entries"]
    wraps: ClassVar[bool] = True


class DeltaCodec(CodecParams):
    """The difference to what the receiver holds (the last average) travels."""

    kind: Literal["delta"]
    wraps: ClassVar[bool] = True
    messages: ClassVar[tuple[str, ...]] = ("model_upload",)


class PrunedCodec(CodecParams):
    """Pruned entries are not sent; their positions are."""

    kind: Literal["pruned"]
    wraps: ClassVar[bool] = True


class PipelinesConfig(_Model):
    """Explicit codec pipelines per message kind, outermost stage first, e.g. ``model_upload:
    [{kind: pruned}, {kind: delta}, {kind: keep_entries}, {kind: quantize, bits: 8}]``;
    a message without one uses the default (quantized where ``quantization.targets`` says).
    The stages are the registered codecs (a new one registers with its parameter model)."""

    activations: list[CodecParams] | None = None
    split_gradient: list[CodecParams] | None = None
    model_upload: list[CodecParams] | None = None

    @model_validator(mode="after")
    def _wrapping(self) -> PipelinesConfig:
        for message in ("activations", "split_gradient", "model_upload"):
            stages = getattr(self, message)
            if stages is None:
                continue
            if not stages:
                raise _FieldError((message,), "expected at least one codec, got none")
            for i, stage in enumerate(stages):
                if message not in type(stage).messages:
                    raise _FieldError(
                        (message, i),
                        f"expected a codec for {message} messages, got "
                        f"{getattr(stage, 'kind', '?')!r} (it codes only "
                        f"{', '.join(type(stage).messages)})",
                    )
                last = i == len(stages) - 1
                if type(stage).wraps == last:
                    wanted = (
                        "a terminal codec (e.g. quantize, float32)"
                        if last
                        else "a wrapping stage (e.g. pruned, delta, keep_entries)"
                    )
                    kind = getattr(stage, "kind", "?")
                    raise _FieldError(
                        (message, i),
                        f"expected {wanted} at position {i} of {len(stages)}, got {kind!r}",
                    )
        return self


class CompressionConfig(_Model):
    """Pruning, quantization and activation dropout (all off: uncompressed), and explicit
    codec pipelines."""

    pruning: PruningConfig = PruningConfig()
    quantization: QuantizationConfig = QuantizationConfig()
    dropout: DropoutConfig = DropoutConfig()
    pipelines: PipelinesConfig = PipelinesConfig()

    @property
    def is_off(self) -> bool:
        """Nothing compressed: no pruning, no quantization, no dropout, no explicit pipeline."""
        explicit = any(
            getattr(self.pipelines, m) is not None
            for m in ("activations", "split_gradient", "model_upload")
        )
        return (
            self.pruning.rate == 0
            and self.quantization.bits == 32
            and self.dropout.rate == 0
            and not explicit
        )


CODEC_STAGES = (
    ("float32", Float32Codec),
    ("quantize", QuantizeCodec),
    ("keep_entries", KeepEntriesCodec),
    ("delta", DeltaCodec),
    ("pruned", PrunedCodec),
)
