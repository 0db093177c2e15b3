"""The ``control:`` section: the per-round control policy and its settings (the registered
policies of :data:`fedsl_sim.control.registry.POLICIES`, each with its parameter model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from fedsl_sim.control.registry import POLICIES
from fedsl_sim.scenario.base import DurationS, _Model


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


POLICIES.declare_params("static", StaticControl)
POLICIES.declare_params("energy_budget", EnergyBudgetControl)
