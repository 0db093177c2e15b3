"""Builder: the checks of a valid scenario that need the runtime code's knowledge — the
scheme's rules (its :class:`~fedsl_sim.schemes.shape.SchemeShape`), the model's architecture,
the message codecs — and the codecs themselves. Torch-free: ``fedsl-sim validate`` runs these
without importing the training code (a shipped scheme's shape is declared with its lazy
registry entry, a model's layer count and input size are pure data, codecs are built without
tensors)."""

from __future__ import annotations

from collections.abc import Sequence

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
from fedsl_sim.compression.quantization import StochasticQuantizer
from fedsl_sim.errors import ScenarioError
from fedsl_sim.learning.models import layer_count, min_input_hw
from fedsl_sim.scenario import (
    CodecParams,
    QuantizationConfig,
    Scenario,
    SplitRule,
    split_layer_values,
)
from fedsl_sim.schemes.registry import SCHEMES
from fedsl_sim.schemes.shape import SchemeShape


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


def check_scheme(scenario: Scenario, source: str = "scenario") -> None:
    """The rules of the scenario's scheme (its :class:`SchemeShape`): per-device split
    layers, a round deadline and compression only where the scheme has them."""
    try:
        shape: SchemeShape = SCHEMES.attribute(scenario.scheme, "shape", SchemeShape())
    except KeyError as exc:  # unregistered since the scenario was validated
        raise ScenarioError(source, str(exc.args[0]), path="scheme") from None
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
    broken += _control_violations(scenario, shape)
    broken += _asynchronous_violations(scenario, shape)
    if broken:
        path, message = broken[0]
        raise ScenarioError(source, message, path=path)


def _asynchronous_violations(scenario: Scenario, shape: SchemeShape) -> list[tuple[str, str]]:
    """Asynchronous aggregation needs a split scheme with parallel devices, one shared
    server-side model and averaged client-side models (fedsl, lightweight_fedsl, sfl_v2),
    and one split layer for every device."""
    if scenario.aggregation.asynchronous is None:
        return []
    name = scenario.scheme
    if (
        not shape.split
        or shape.sequential
        or shape.server_copy_per_device
        or shape.averaging == "never"
    ):
        return [
            (
                "aggregation.asynchronous",
                f"expected none for scheme {name!r}: asynchronous split training needs "
                "parallel devices sharing one server-side model whose client-side models are "
                "averaged (fedsl, lightweight_fedsl, sfl_v2)",
            )
        ]
    if len(set(split_layer_values(scenario.learning.split_layer))) > 1:
        return [
            (
                "learning.split_layer",
                "expected one split layer for every device with aggregation.asynchronous",
            )
        ]
    return []


def _levels_order(scenario: Scenario) -> list[tuple[str, str]]:
    """deadline_aware's levels, least compressed first, with their unset fields at the
    scenario's values: no fewer pruned weights, no more bits, no less dropout than the level
    before."""
    comp = scenario.compression
    q = comp.quantization
    scenario_bits = q.bits if "activations" in q.targets else 32
    effective = [
        (
            comp.pruning.rate if lv.pruning_rate is None else lv.pruning_rate,
            scenario_bits if lv.quant_bits is None else lv.quant_bits,
            comp.dropout.rate if lv.dropout_rate is None else lv.dropout_rate,
        )
        for lv in getattr(scenario.control, "levels", None) or ()
    ]
    names = ("pruning_rate", "quant_bits", "dropout_rate")
    for i in range(1, len(effective)):
        before, now = effective[i - 1], effective[i]
        for j, name in enumerate(names):
            less = now[j] > before[j] if name == "quant_bits" else now[j] < before[j]
            if less:
                return [
                    (
                        f"control.levels.{i}.{name}",
                        f"expected levels least compressed first: {name} {now[j]} (unset: "
                        f"the scenario's) is less compressed than level {i - 1}'s {before[j]}",
                    )
                ]
    return []


def _control_violations(scenario: Scenario, shape: SchemeShape) -> list[tuple[str, str]]:
    """What the control policy's settings ask of the scheme: split layers to choose from
    need a split scheme with parallel devices, compression levels a scheme that compresses
    (and split-layer messages for bits and dropout)."""
    control, name = scenario.control, scenario.scheme
    out = []
    if getattr(control, "split_layers", None) and (not shape.split or shape.sequential):
        out.append(
            (
                "control.split_layers",
                f"expected none for scheme {name!r} (a split layer a policy chooses needs a "
                "split scheme with parallel devices: fedsl, lightweight_fedsl, sfl_v1 or "
                "sfl_v2)",
            )
        )
    scale = scenario.compression.quantization.scale
    if getattr(control, "deadline_s", None) is not None and shape.sequential:
        out.append(
            (
                "control.deadline_s",
                f"expected a scheme with parallel devices for a deadline policy ({name!r} "
                "trains its devices in turn)",
            )
        )
    out += _levels_order(scenario)
    for i, level in enumerate(getattr(control, "levels", None) or ()):
        where = f"control.levels.{i}"
        set_fields = [
            f
            for f in ("pruning_rate", "quant_bits", "dropout_rate")
            if getattr(level, f) is not None
        ]
        if set_fields and not shape.compresses:
            out.append(
                (
                    f"{where}.{set_fields[0]}",
                    f"expected no compression for scheme "
                    f"{name!r} (uncompressed by definition); use 'lightweight_fedsl'",
                )
            )
        split_only = [f for f in set_fields if f != "pruning_rate"]
        if split_only and not shape.split:
            out.append(
                (
                    f"{where}.{split_only[0]}",
                    f"expected none for scheme {name!r} (no split-layer messages)",
                )
            )
        if level.pruning_rate is not None and shape.sequential:
            out.append(
                (
                    f"{where}.pruning_rate",
                    f"expected none for scheme {name!r} (one client-side model, one pruning mask)",
                )
            )
        if level.quant_bits is not None and scale == "norm" and level.quant_bits < 2:
            out.append(
                (
                    f"{where}.quant_bits",
                    "expected >= 2 with the norm quantization "
                    f"scale (compression.quantization.scale), got {level.quant_bits}",
                )
            )
    return out


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
    _check_control_layers(scenario, n_layers, source)


def _check_control_layers(scenario: Scenario, n_layers: int, source: str) -> None:
    for i, s in enumerate(getattr(scenario.control, "split_layers", None) or ()):
        if s > n_layers - 1:
            raise ScenarioError(
                source,
                f"expected 1 <= split layer <= {n_layers - 1} "
                f"({scenario.learning.model.kind} has {n_layers} layers), got {s}",
                path=f"control.split_layers.{i}",
            )


def check_scenario(scenario: Scenario, source: str = "scenario") -> Scenario:
    """The checks of a valid scenario that need the runtime code (the scheme's rules, the
    model's architecture, the codecs); returns ``scenario``. Raises
    :class:`~fedsl_sim.errors.ScenarioError` naming ``source`` and the field."""
    check_scheme(scenario, source)
    check_model(scenario, source)
    check_codecs(scenario, source)
    return scenario
