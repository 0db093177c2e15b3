"""Builder: the learning side of a scenario — the dataset and its partition
(:class:`~fedsl_sim.learning.federated.FederatedData`), the scheme's settings and the scheme
(the checks and the message codecs are in :mod:`fedsl_sim.build.checks`)."""

from __future__ import annotations

from types import MappingProxyType

from fedsl_sim.async_driver import AsyncDriver, staleness_discount
from fedsl_sim.build.checks import message_codecs
from fedsl_sim.compression.pruning import PruningSchedule
from fedsl_sim.control import POLICIES, Controller
from fedsl_sim.driver import RoundDriver
from fedsl_sim.errors import ScenarioError
from fedsl_sim.learning.data import Dataset, load_dataset
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.learning.partition import PARTITIONS
from fedsl_sim.learning.split import OptimizerSpec
from fedsl_sim.scenario import (
    OptimizerConfig,
    Scenario,
    SplitRule,
)
from fedsl_sim.schemes.base import SCHEMES, Scheme
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
        split_choices=tuple(getattr(scenario.control, "split_layers", ())),
        compression=CompressionSettings(
            dropout_rate=comp.dropout.rate,
            codecs=message_codecs(scenario),
            pruning_rate=pr.rate,
            pruning_scope=pr.scope,
            sparse_compute=pr.sparse_compute,
            schedule=schedule,
            quantization_scale=comp.quantization.scale,
        ),
    )


def build_scheme(scenario: Scenario, world: World, data: FederatedData) -> Scheme:
    """The scheme ``scenario.scheme`` on ``world`` and ``data``."""
    return SCHEMES.make(scenario.scheme, settings=scheme_settings(scenario), world=world, data=data)


def build_driver(scenario: Scenario, scheme: Scheme, world: World) -> RoundDriver | AsyncDriver:
    """The round driver of ``scenario``: its aggregation interval, deadline and empty-round
    wait (asynchronous aggregation: the asynchronous driver)."""
    cfg = scenario.aggregation.asynchronous
    if cfg is not None:
        stale = cfg.staleness
        return AsyncDriver(
            scheme,  # type: ignore[arg-type]  # a split scheme: check_scheme
            world,
            local_rounds=scenario.learning.aggregation_interval,
            buffer_size=cfg.buffer_size,
            discount=staleness_discount(stale.kind, **stale.model_dump(exclude={"kind"})),
            max_staleness=cfg.max_staleness,
            server_lr=cfg.server_lr,
            max_round_s=cfg.max_round_s,
            stop_time_s=scenario.stop.max_sim_time_s,
            empty_round_s=scenario.rounds.empty_round_s,
            controller=build_controller(scenario, world, scheme),
        )
    return RoundDriver(
        scheme,
        world,
        aggregation_interval=scenario.learning.aggregation_interval,
        deadline_s=scenario.rounds.deadline_s,
        empty_round_s=scenario.rounds.empty_round_s,
        controller=build_controller(scenario, world, scheme),
    )


def build_controller(scenario: Scenario, world: World, scheme: Scheme) -> Controller:
    """The controller of ``control``: the registered policy built with the section's
    settings, observing the scheme's workloads where it predicts them."""
    cfg = scenario.control
    policy = POLICIES.make(cfg.kind, **cfg.model_dump(exclude={"kind"}))
    tunable = scheme if hasattr(scheme, "tune") else None
    return Controller(policy, world, scheme.data.sizes, tunable, scenario.rounds.deadline_s)  # type: ignore[arg-type]
