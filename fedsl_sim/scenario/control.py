"""The ``control:`` section: the per-round control policy and its settings (the registered
policies of :data:`fedsl_sim.control.registry.POLICIES`, each with its parameter model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fedsl_sim.control.registry import POLICIES
from fedsl_sim.scenario.base import DurationS, _FieldError, _Model


class StaticControl(_Model):
    """No control: every candidate of a round takes part, at the scenario's CPU clocks and
    transmit powers (the default)."""

    kind: Literal["static"]


EnergyJ = Annotated[float, Field(gt=0, le=1.0e9)]


class EnergyBudgetControl(_Model):
    """Each device has ``budget_j`` joules for the whole run (one value, or one per device);
    each round every candidate takes the CPU clock and transmit power that minimise its
    predicted round energy while its predicted round latency meets ``latency_target_s``
    (``clock_steps`` clocks tried: the maximum times i / clock_steps), and sits the round out
    when that energy exceeds what is left of its budget."""

    kind: Literal["energy_budget"]
    budget_j: EnergyJ | list[EnergyJ]
    latency_target_s: DurationS
    clock_steps: Annotated[int, Field(ge=1, le=1024)] = 32


class CompressionLevel(_Model):
    """One compression level of ``deadline_aware``; an unset field keeps the scenario's
    value."""

    pruning_rate: Annotated[float, Field(ge=0, le=0.99)] | None = None
    quant_bits: Annotated[int, Field(ge=1, le=32)] | None = None
    dropout_rate: Annotated[float, Field(ge=0, le=0.95)] | None = None


class DeadlineAwareControl(_Model):
    """For a round deadline ``deadline_s``, each candidate runs at the first of ``levels``
    (least compressed first) and the lowest CPU clock whose predicted round latency fits it;
    a candidate that fits at no level is not selected."""

    kind: Literal["deadline_aware"]
    deadline_s: DurationS
    levels: Annotated[list[CompressionLevel], Field(min_length=1, max_length=64)] = Field(
        default_factory=lambda: [CompressionLevel()]
    )

    @model_validator(mode="after")
    def _least_compressed_first(self) -> DeadlineAwareControl:
        fields = (("pruning_rate", 1), ("quant_bits", -1), ("dropout_rate", 1))
        for i in range(1, len(self.levels)):
            before, level = self.levels[i - 1], self.levels[i]
            for name, sign in fields:
                a, b = getattr(before, name), getattr(level, name)
                if a is not None and b is not None and sign * (b - a) < 0:
                    raise _FieldError(
                        ("levels", i, name),
                        f"expected levels least compressed first: {name} {b} is less "
                        f"compressed than level {i - 1}'s {a}",
                    )
        return self


SplitLayer = Annotated[int, Field(ge=1, le=1000)]


class AdaptiveSplitControl(_Model):
    """Each round every candidate gets the split layer among ``split_layers`` that minimises
    its predicted round latency (its SNR, compute speed and the server's load)."""

    kind: Literal["adaptive_split"]
    split_layers: Annotated[list[SplitLayer], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _distinct(self) -> AdaptiveSplitControl:
        if len(set(self.split_layers)) != len(self.split_layers):
            raise _FieldError(
                ("split_layers",), f"expected distinct layers, got {self.split_layers}"
            )
        return self


POLICIES.declare_params("static", StaticControl)
POLICIES.declare_params("energy_budget", EnergyBudgetControl)
POLICIES.declare_params("deadline_aware", DeadlineAwareControl)
POLICIES.declare_params("adaptive_split", AdaptiveSplitControl)
