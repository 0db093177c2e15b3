"""The split schemes' per-device knobs a control policy sets each round (see
:mod:`fedsl_sim.control.knobs`): split layer, pruning rate, quantization bits and activation
dropout rate of the split-layer messages.

Rules (the README's "What is simulated" states them):

* a decision holds for its round; a device with none runs at the scenario's values;
* a device's split layer changes only while its copy holds no layers it trained since the
  last average it received (``split_locked``): it keeps the shared average (or the state it
  was given), drops its pruning mask and its optimizer state (their shapes changed) and is
  served by the server from its new layer on; the server's model always spans every layer
  a device may be split at;
* a pruning rate decision takes effect when the device next trains (its mask is recomputed
  from its weights at that rate), and again at the schedule's update rounds;
* the bits decision replaces the quantizer of the split-layer activations and gradient
  pipelines (dense float32 stages become the scenario's quantizer at that width); the model
  upload keeps the scenario's pipeline.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from fedsl_sim.compression import ActivationDropout, model_payload_bits
from fedsl_sim.compression.codec import Codec, Float32, Quantize, Stage
from fedsl_sim.compression.pruning import MagnitudePruning, prunable_parameters
from fedsl_sim.compression.quantization import StochasticQuantizer
from fedsl_sim.control.knobs import (
    FULL_BITS,
    MAX_DROPOUT_RATE,
    MAX_PRUNING_RATE,
    Knobs,
    PredictionError,
    Tuning,
)
from fedsl_sim.control.predict import Workload
from fedsl_sim.learning.flops import backward_flops, forward_flops

if TYPE_CHECKING:
    from fedsl_sim.schemes.split_fed import SplitFed


def _real(x: object) -> bool:
    """A finite real number (not a bool)."""
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _terminal(codec: Codec) -> Codec:
    while isinstance(codec, Stage):
        codec = codec.inner
    return codec


def with_bits(codec: Codec, bits: int, scale: str) -> Codec:
    """``codec`` with its quantizer at ``bits`` bits (a dense float32 terminal becomes a
    quantizer of ``scale``); ValueError for another terminal codec."""
    if isinstance(codec, Stage):
        out = copy.copy(codec)
        out.inner = with_bits(codec.inner, bits, scale)
        return out
    if isinstance(codec, Quantize):
        return Quantize(StochasticQuantizer(bits, codec.quantizer.scale))
    if isinstance(codec, Float32):
        return Quantize(StochasticQuantizer(bits, scale))  # type: ignore[arg-type]
    raise ValueError(f"cannot set the bits of a {type(codec).__name__} codec")


class DeviceKnobs:
    """A split scheme's per-device knobs (see the module docstring)."""

    def __init__(self, scheme: SplitFed, split_choices: tuple[int, ...]) -> None:
        self._scheme = scheme
        shape = scheme.shape
        #: each device's split layer in the scenario
        self.scenario_splits = tuple(scheme.splits)
        parallel_split = shape.split and not shape.sequential
        self.split_layers = (
            tuple(sorted(set(split_choices) | set(self.scenario_splits)))
            if parallel_split and split_choices
            else ()
        )
        codecs = scheme.codecs
        ends = [_terminal(codecs.activations), _terminal(codecs.gradient)]
        scales = [c.quantizer.scale for c in ends if isinstance(c, Quantize)]
        #: the scale a dense stage gets when a policy quantizes it: the scenario's
        self.scale = scheme.settings.compression.quantization_scale
        first = ends[0]
        self.scenario_bits = first.quantizer.bits if isinstance(first, Quantize) else FULL_BITS
        self.min_bits = 2 if "norm" in scales or self.scale == "norm" else 1
        bits_ok = all(isinstance(c, Quantize | Float32) for c in ends)
        self.split_compression = shape.split and shape.compresses and bits_ok
        self.pruning_on = shape.compresses and not shape.sequential
        self.scenario_dropout = scheme.dropout.rate
        #: this round's decisions, device -> value (the others: the scenario's)
        self.pruning: dict[int, float] = {}
        self.bits: dict[int, int] = {}
        self.dropout_rates: dict[int, float] = {}
        self._moved: set[int] = set()  # devices not at their scenario split layer
        self._round = 0
        self._codecs: dict[int, tuple[Codec, Codec]] = {}
        self._dropouts: dict[float, ActivationDropout] = {}
        self._parts: dict[int, tuple[int, int, dict[str, int]]] = {}

    # ------------------------------------------------------------------ reading
    def tuning(self) -> Tuning:
        return Tuning(
            split_layers=self.split_layers,
            pruning=self.pruning_on,
            split_compression=self.split_compression,
            min_bits=self.min_bits,
        )

    def _scenario_rate(self, r: int) -> float:
        sch = self._scheme
        return sch.schedule.rate_at(r) if sch.settings.compression.pruning_rate > 0 else 0.0

    def knobs(self, k: int) -> Knobs:
        return Knobs(
            split_layer=self._scheme.splits[k],
            pruning_rate=self.pruning.get(k, self._scenario_rate(self._round)),
            quant_bits=self.bits.get(k, self.scenario_bits),
            dropout_rate=self.dropout_rates.get(k, self.scenario_dropout),
        )

    def default_knobs(self, k: int, r: int) -> Knobs:
        split = self._scheme.splits[k] if self.split_locked(k) else self.scenario_splits[k]
        return Knobs(split, self._scenario_rate(r), self.scenario_bits, self.scenario_dropout)

    def split_locked(self, k: int) -> bool:
        sch = self._scheme
        return sch.clients.materialised(k) or (
            sch.servers is not None and sch.servers.materialised(k)
        )

    def split_state(self) -> tuple[np.ndarray, np.ndarray]:
        sch = self._scheme
        locked = np.zeros(len(sch.splits), dtype=bool)
        for copies in (sch.clients, sch.servers):
            if copies is not None:
                locked[copies.materialised_devices()] = True
        return np.array(sch.splits), locked

    def codecs(self, k: int, bits: int | None = None) -> tuple[Codec, Codec]:
        """Device k's split-layer activation and gradient codecs (at ``bits``, default its
        decision)."""
        b = self.bits.get(k) if bits is None else bits
        sch = self._scheme
        if b is None:
            return sch.codecs.activations, sch.codecs.gradient
        if b not in self._codecs:
            self._codecs[b] = (
                with_bits(sch.codecs.activations, b, self.scale),
                with_bits(sch.codecs.gradient, b, self.scale),
            )
        return self._codecs[b]

    def dropout(self, k: int, rate: float | None = None) -> ActivationDropout:
        """Device k's activation dropout (at ``rate``, default its decision)."""
        p = self.dropout_rates.get(k) if rate is None else rate
        if p is None or p == self.scenario_dropout:
            return self._scheme.dropout
        if p not in self._dropouts:
            self._dropouts[p] = ActivationDropout(p)
        return self._dropouts[p]

    # ------------------------------------------------------------------ applying
    def tune(self, r: int, decided: Mapping[str, Mapping[int, float]]) -> None:
        sch = self._scheme
        self._round = r
        prune = {k: float(v) for k, v in decided.get("pruning_rate", {}).items()}
        for k in set(self.pruning) | set(prune):
            new = prune.get(k)
            if new == self.pruning.get(k):
                continue
            if new and sch.pruners is None:
                sch.enable_pruning()
            if sch.pruners is not None:  # recomputed at the new rate when it next trains
                sch._mask_rate[k] = new if new is not None else self._scenario_rate(r)
        self.pruning = prune
        self.bits = {k: int(v) for k, v in decided.get("quant_bits", {}).items()}
        self.dropout_rates = {k: float(v) for k, v in decided.get("dropout_rate", {}).items()}
        splits = decided.get("split_layer", {})
        for k in self._moved | set(splits):
            target = int(splits.get(k, self.scenario_splits[k]))
            if target != sch.splits[k] and not self.split_locked(k):
                self._move(k, target)
        self._moved = {
            k for k in self._moved | set(splits) if sch.splits[k] != self.scenario_splits[k]
        }

    def tune_devices(
        self, r: int, devices: list[int], decided: Mapping[str, Mapping[int, float]]
    ) -> None:
        """As :meth:`tune` for ``devices``; every other device keeps its decisions."""
        mine = set(devices)
        current = {
            "pruning_rate": self.pruning,
            "quant_bits": self.bits,
            "dropout_rate": self.dropout_rates,
            "split_layer": {k: self._scheme.splits[k] for k in self._moved},
        }
        merged = {
            name: {
                **{k: v for k, v in values.items() if k not in mine},
                **decided.get(name, {}),
            }
            for name, values in current.items()
        }
        self.tune(r, merged)

    def _move(self, k: int, s: int) -> None:
        """Device k's split layer becomes ``s`` (its copy is not materialised)."""
        sch = self._scheme
        sch.splits[k] = s
        sch.client_costs[k] = sch.layer_costs[:s]
        sch.server_flops_per_sample[k] = self.server_flops(s)
        sch.clients.regroup(k)
        if sch.servers is not None:
            sch.servers.regroup(k)
        sch._densities[k] = None
        if sch.pruners is not None:  # a mask of the new shape when it next trains
            sch.pruners[k].masks = None
            sch._mask_rate[k] = self.pruning.get(k, self._scenario_rate(self._round))

    # ------------------------------------------------------------------ prediction
    def server_flops(self, s: int) -> float:
        """The server's FLOPs per sample for a device split at ``s``."""
        costs = self._scheme.layer_costs[s:]
        return float(forward_flops(costs) + backward_flops(costs))

    def _part(self, s: int) -> tuple[int, int, dict[str, int]]:
        """Per-sample activation entries at layer ``s``, parameters of layers 1..s and the
        sizes of their floating tensors."""
        if s not in self._parts:
            sch = self._scheme
            part = sch.global_model[:s]
            sizes = {
                key: v.numel() for key, v in part.state_dict().items() if v.is_floating_point()
            }
            act = math.prod(sch.layer_costs[s - 1].out_shape)
            self._parts[s] = (act, sum(p.numel() for p in part.parameters()), sizes)
        return self._parts[s]

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
        """Device k's round ``r`` (default: the last tuned) with these knobs (None: its values
        undecided this round): a catch-up download when it is stale, its steps' FLOPs and
        expected message bits, its model upload and the average back. With its current split
        layer and pruning rate the FLOPs and upload count its mask; otherwise the mask its
        pruner would compute at that rate from the weights it will train (:meth:`_masks`).
        ``catch_up``: whether it first fetches a missed average (None: whether it is stale);
        ``rounds``: local rounds before its upload (an asynchronous device's upload cycle).
        Knobs the scheme cannot take are a :class:`PredictionError`."""
        sch = self._scheme
        default = self.default_knobs(k, self._round if r is None else r)
        self._check(k, split_layer, pruning_rate, quant_bits, dropout_rate)
        s = default.split_layer if split_layer is None else int(split_layer)
        rate = default.pruning_rate if pruning_rate is None else float(pruning_rate)
        own_mask = s == sch.splits[k] and rate == self.knobs(k).pruning_rate
        b = sch.data.batch_size_of(k)
        act, n_params, sizes = self._part(s)
        masks = None if own_mask else self._masks(k, s, rate)
        if masks is None:
            fwd, bwd = sch.client_flops(k)
        else:
            costs = sch.layer_costs[:s]
            dens = None
            if sch.sparse_compute:
                it = iter([int(m.sum()) / m.numel() if m.numel() else 1.0 for m in masks])
                dens = [next(it) if c.prunable else 1.0 for c in costs]
            fwd, bwd = forward_flops(costs, dens), backward_flops(costs, dens)
        up = down = 0.0
        if sch.shape.split:
            p = default.dropout_rate if dropout_rate is None else dropout_rate
            bits = None if quant_bits is None else int(quant_bits)
            acts, grad = (
                (sch.codecs.activations, sch.codecs.gradient)
                if bits is None
                else self.codecs(k, bits)
            )
            kept = round((1.0 - p) * act * b)
            up = acts.expected_bits(kept) + b * sch.label_bits
            down = grad.expected_bits(kept)
        fetch = k in sch._stale if catch_up is None else catch_up
        download = sch._payload_bits(0, s) if fetch else 0
        upload = agg = 0.0
        if aggregate:
            upload = self._upload_bits(k, s, masks, sizes)
            # the average back: with the masks it would train with, the average has zeros
            # where they prune (exactly when every device starts from one average at one rate)
            download += (
                sch._payload_bits(0, s)
                if masks is None
                else model_payload_bits(sch.global_model[:s], masks, 32)
            )
            agg = 2.0 * n_params
        return Workload(
            steps=sch.local_steps * rounds,
            device_flops_per_step=(fwd + bwd) * b,
            server_flops_per_step=self.server_flops(s) * b if sch.shape.split else 0.0,
            uplink_bits_per_step=up,
            downlink_bits_per_step=down,
            upload_bits=upload,
            download_bits=download,
            aggregation_flops=agg,
        )

    def _check(
        self,
        k: int,
        split_layer: int | None,
        pruning_rate: float | None,
        quant_bits: int | None,
        dropout_rate: float | None,
    ) -> None:
        """Hypothetical knobs a prediction may take: those a decision may set (and the
        device's own split layer)."""
        tuning = self.tuning()
        layers = set(tuning.split_layers) | {self._scheme.splits[k]}
        checks = [
            ("split_layer", split_layer, split_layer in layers, f"one of {sorted(layers)}"),
            (
                "pruning_rate",
                pruning_rate,
                _real(pruning_rate) and 0.0 <= pruning_rate <= MAX_PRUNING_RATE,  # type: ignore[operator]
                f"a rate in [0, {MAX_PRUNING_RATE}]",
            ),
            (
                "quant_bits",
                quant_bits,
                _real(quant_bits)
                and quant_bits == int(quant_bits)  # type: ignore[arg-type]
                and tuning.min_bits <= quant_bits <= FULL_BITS,
                f"an integer in [{tuning.min_bits}, {FULL_BITS}]",
            ),
            (
                "dropout_rate",
                dropout_rate,
                _real(dropout_rate) and 0.0 <= dropout_rate <= MAX_DROPOUT_RATE,  # type: ignore[operator]
                f"a rate in [0, {MAX_DROPOUT_RATE}]",
            ),
        ]
        for name, value, ok, expected in checks:
            if value is not None and not ok:
                raise PredictionError(f"device {k}: {name}: expected {expected}, got {value!r}")
        if (pruning_rate is not None and pruning_rate > 0 and not tuning.pruning) or (
            (quant_bits is not None or dropout_rate is not None) and not tuning.split_compression
        ):
            raise PredictionError(f"device {k}: the scheme does not take these knobs")

    def _masks(self, k: int, s: int, rate: float) -> list[Tensor]:
        """The masks device k would get at ``rate`` split at ``s``: computed, as its pruner
        will when it next trains, from the weights it will train — its own copy's, or the
        last average when it fetches that first or changes its split layer."""
        sch = self._scheme
        names = [name for name, _ in prunable_parameters(sch.global_model[:s])]
        own = s == sch.splits[k] and k not in sch.stale
        state = sch.clients.state(k) if own else sch.last_average
        method = MagnitudePruning(scope=sch.settings.compression.pruning_scope)
        return method.compute_mask([state[name] for name in names], rate)

    def _upload_bits(
        self, k: int, s: int, masks: list[Tensor] | None, sizes: Mapping[str, int]
    ) -> float:
        """Bits of device k's model upload split at ``s``: each floating tensor through the
        ``model_upload`` pipeline, pruned entries left out (``masks``, or its own)."""
        sch = self._scheme
        part = sch.global_model[:s]
        names = [name for name, _ in prunable_parameters(part)]
        kept: dict[str, int] = {}
        if masks is None and sch.pruners is not None:
            masks = sch.pruners[k].masks
        if masks is not None:
            kept = {name: int(m.sum()) for name, m in zip(names, masks, strict=True)}
        codec = sch.codecs.model_upload
        return float(
            sum(
                codec.expected_bits(kept[key], n) if key in kept else codec.expected_bits(n)
                for key, n in sizes.items()
            )
        )


class TunableSplit:
    """A split scheme's :class:`~fedsl_sim.control.knobs.Tunable` methods, answered by its
    :class:`DeviceKnobs` (``device_knobs``)."""

    device_knobs: DeviceKnobs

    def tuning(self) -> Tuning:
        """What a control policy may set per device (:mod:`fedsl_sim.control.knobs`)."""
        return self.device_knobs.tuning()

    def knobs(self, k: int) -> Knobs:
        return self.device_knobs.knobs(k)

    def default_knobs(self, k: int, r: int) -> Knobs:
        return self.device_knobs.default_knobs(k, r)

    def split_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.device_knobs.split_state()

    def tune(self, r: int, decided: Mapping[str, Mapping[int, float]]) -> None:
        self.device_knobs.tune(r, decided)

    def tune_devices(
        self, r: int, devices: list[int], decided: Mapping[str, Mapping[int, float]]
    ) -> None:
        self.device_knobs.tune_devices(r, devices, decided)

    def workload(self, k: int, aggregate: bool, **knobs: Any) -> Workload:
        """What device k would do in a round (averaging or not) with these knobs, for
        latency prediction (see :meth:`DeviceKnobs.workload`)."""
        return self.device_knobs.workload(k, aggregate, **knobs)
