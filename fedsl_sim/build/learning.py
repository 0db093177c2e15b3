"""Builder: the learning side of a scenario — the dataset and its partition
(:class:`~fedsl_sim.learning.federated.FederatedData`), the scheme's settings and the scheme,
and the checks that need the model's architecture."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from fedsl_sim.compression.codec import (
    CODECS,
    Codec,
    Delta,
    Float32,
    KeepEntries,
    MessageCodecs,
    Pruned,
    Quantize,
)
from fedsl_sim.compression.pruning import PruningSchedule
from fedsl_sim.compression.quantization import StochasticQuantizer
from fedsl_sim.driver import RoundDriver
from fedsl_sim.errors import ScenarioError
from fedsl_sim.learning.data import Dataset, load_dataset
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.learning.models import layer_count, min_input_hw
from fedsl_sim.learning.partition import PARTITIONS
from fedsl_sim.learning.split import OptimizerSpec
from fedsl_sim.scenario import (
    CodecParams,
    OptimizerConfig,
    QuantizationConfig,
    Scenario,
    SplitRule,
    split_layer_values,
)
from fedsl_sim.schemes.base import SCHEMES, Scheme, SchemeShape
from fedsl_sim.schemes.settings import CompressionSettings, SchemeSettings, SplitByDistance
from fedsl_sim.sim.streams import Streams
from fedsl_sim.sim.world import World


def build_dataset(scenario: Scenario, streams: Streams) -> Dataset:
    """The scenario's dataset: depends only on ``learning.dataset`` and the root seed (a
    checkpoint rebuilds it with this rather than storing it)."""
    cfg = scenario.learning.dataset
    return load_dataset(cfg.kind, rng=streams.numpy("dataset"), **cfg.model_dump(exclude={"kind"}))


def build_data(scenario: Scenario, streams: Streams, source: str = "scenario") -> FederatedData:
    """The dataset, each device's shard (``learning.partition``) and its batch stream."""
    cfg = scenario.learning
    n = scenario.devices.count
    dataset = build_dataset(scenario, streams)
    labels = dataset.train_y.numpy()
    try:
        shards = PARTITIONS.make(
            cfg.partition.kind,
            labels=labels,
            n_devices=n,
            rng=streams.numpy("partition"),
            **cfg.partition.model_dump(exclude={"kind"}),
        )
    except ValueError as exc:
        raise ScenarioError(source, str(exc), path="learning.partition") from None
    empty = [k for k, idx in enumerate(shards) if len(idx) == 0]
    if empty:
        raise ScenarioError(
            source,
            f"devices {empty} get no training samples ({len(labels)} samples for {n} "
            "devices); use fewer devices or a different partition",
            path="learning.partition",
        )
    return FederatedData(dataset, shards, cfg.batch_size, streams)


def optimizer_spec(cfg: OptimizerConfig) -> OptimizerSpec:
    """The optimizer of an ``optimizer`` block."""
    return OptimizerSpec(
        name=cfg.kind, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def message_codecs(scenario: Scenario) -> MessageCodecs:
    """The pipeline of each message kind: the scenario's explicit ``compression.pipelines``
    where given, else the default — the split-layer activations and gradient travel as
    ``KeepEntries(Quantize)`` (the dropout mask's entries), a device's model as
    ``Pruned(Delta(KeepEntries(Quantize)))`` (pruned positions, then the quantized difference
    to the last average); ``Quantize`` is the scenario's quantizer for the messages in
    ``compression.quantization.targets`` and dense float32 (lossless) for the others."""
    comp = scenario.compression
    q = comp.quantization
    on = Quantize(StochasticQuantizer(q.bits, q.scale))
    off = Float32()

    def quant(target: str) -> Codec:
        return on if target in q.targets else off

    defaults = {
        "activations": KeepEntries(quant("activations")),
        "split_gradient": KeepEntries(quant("split_gradient")),
        "model_upload": Pruned(Delta(KeepEntries(quant("model_upload")))),
    }
    built = {}
    for message, default in defaults.items():
        stages = getattr(comp.pipelines, message)
        built[message] = default if stages is None else pipeline(stages, q)
    return MessageCodecs(
        activations=built["activations"],
        gradient=built["split_gradient"],
        model_upload=built["model_upload"],
    )


def pipeline(stages: Sequence[CodecParams], quantization: QuantizationConfig) -> Codec:
    """The codec of a ``compression.pipelines`` list: each registered stage wrapping the next
    (the last a terminal codec)."""
    codec: Codec | None = None
    for stage in reversed(stages):
        params = stage.codec_params(quantization)
        if codec is not None:
            params["inner"] = codec
        codec = CODECS.make(stage.kind, **params)  # type: ignore[attr-defined]
    assert codec is not None  # the schema refuses an empty pipeline
    return codec


def scheme_settings(scenario: Scenario) -> SchemeSettings:
    """What the scheme of ``scenario`` is told (see
    :class:`~fedsl_sim.schemes.settings.SchemeSettings`)."""
    cfg, comp = scenario.learning, scenario.compression
    split = cfg.split_layer
    if isinstance(split, SplitRule):
        split_layer: int | tuple[int, ...] | SplitByDistance = SplitByDistance(tuple(split.layers))
    elif isinstance(split, list):
        split_layer = tuple(split)
    else:
        split_layer = split
    pr = comp.pruning
    schedule = PruningSchedule(
        kind=pr.schedule.kind,
        rate=pr.rate,
        start_round=pr.schedule.start_round,
        end_round=getattr(pr.schedule, "end_round", None),
        update_every_rounds=pr.schedule.update_every_rounds,
    )
    return SchemeSettings(
        model=cfg.model.kind,
        model_params=MappingProxyType(cfg.model.model_dump(exclude={"kind"})),
        split_layer=split_layer,
        optimizer=optimizer_spec(cfg.optimizer),
        server_optimizer=optimizer_spec(cfg.resolved_server_optimizer),
        local_steps=cfg.local_steps,
        eval_batch_size=cfg.eval_batch_size,
        compute_device=cfg.compute_device,
        downlink=scenario.aggregation.downlink,
        compression=CompressionSettings(
            dropout_rate=comp.dropout.rate,
            codecs=message_codecs(scenario),
            pruning_rate=pr.rate,
            pruning_scope=pr.scope,
            sparse_compute=pr.sparse_compute,
            schedule=schedule,
        ),
    )


def build_scheme(scenario: Scenario, world: World, data: FederatedData) -> Scheme:
    """The scheme ``scenario.scheme`` on ``world`` and ``data``."""
    return SCHEMES.make(scenario.scheme, settings=scheme_settings(scenario), world=world, data=data)


def build_driver(scenario: Scenario, scheme: Scheme, world: World) -> RoundDriver:
    """The round driver of ``scenario``: its aggregation interval, deadline and empty-round
    wait."""
    return RoundDriver(
        scheme,
        world,
        aggregation_interval=scenario.learning.aggregation_interval,
        deadline_s=scenario.rounds.deadline_s,
        empty_round_s=scenario.rounds.empty_round_s,
    )


def check_scheme(scenario: Scenario, source: str = "scenario") -> None:
    """The rules of the scenario's scheme (its :class:`SchemeShape`): per-device split
    layers, a round deadline and compression only where the scheme has them."""
    try:
        scheme_class = SCHEMES.resolve(scenario.scheme)
    except KeyError as exc:  # unregistered since the scenario was validated
        raise ScenarioError(source, str(exc.args[0]), path="scheme") from None
    shape: SchemeShape = getattr(scheme_class, "shape", SchemeShape())
    comp = scenario.compression
    coded = []
    split_targets = set(comp.quantization.targets) - {"model_upload"}
    if comp.quantization.bits < 32 and split_targets:
        coded.append("compression.quantization.targets")
    coded += [
        f"compression.pipelines.{m}"
        for m in ("activations", "split_gradient")
        if getattr(comp.pipelines, m) is not None
    ]
    broken = shape.rule_violations(
        scenario.scheme,
        split_layer_values(scenario.learning.split_layer),
        scenario.rounds.deadline_s,
        not comp.is_off,
        dropout_rate=comp.dropout.rate,
        split_messages_coded=coded,
    )
    if broken:
        path, message = broken[0]
        raise ScenarioError(source, message, path=path)


def check_codecs(scenario: Scenario, source: str = "scenario") -> None:
    """The message codecs can be built (e.g. a ``norm`` quantizer needs 2 bits)."""
    try:
        message_codecs(scenario)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(source, str(exc), path="compression") from None


def check_model(scenario: Scenario, source: str = "scenario") -> None:
    """The checks that need the model's architecture (the schema does not import the
    learning code): the dataset's images are large enough for the model, and every split layer
    leaves at least one layer on the server."""
    cfg = scenario.learning
    need = min_input_hw(cfg.model.kind)
    if cfg.dataset.image_hw < need:
        raise ScenarioError(
            source,
            f"expected a model for {cfg.dataset.image_hw}x{cfg.dataset.image_hw} "
            f"{cfg.dataset.kind} images; {cfg.model.kind} needs at least {need}x{need} "
            "(e.g. dataset synthetic)",
            path="learning.model.kind",
        )
    n_layers = layer_count(cfg.model.kind)
    where = "learning.split_layer"
    if isinstance(cfg.split_layer, SplitRule):
        where += ".layers"
    for i, s in enumerate(split_layer_values(cfg.split_layer)):
        if s > n_layers - 1:
            raise ScenarioError(
                source,
                f"expected 1 <= split_layer <= {n_layers - 1} ({cfg.model.kind} has "
                f"{n_layers} layers), got {s}",
                path=where if isinstance(cfg.split_layer, int) else f"{where}.{i}",
            )
