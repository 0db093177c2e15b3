"""The control-policy registry (no torch): ``control: {kind: <name>, ...}`` in a scenario
names an entry; its parameter model (declared by the scenario schema) holds the policy's
settings. A policy registers itself (``POLICIES.register("name")(MyPolicy)``) with its
parameter model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedsl_registry import Registry

if TYPE_CHECKING:
    from fedsl_sim.control.base import Policy

POLICIES: Registry[Policy] = Registry("control policy")
POLICIES.register_lazy("static", "fedsl_sim.control.static:StaticPolicy")
POLICIES.register_lazy("energy_budget", "fedsl_sim.control.energy_budget:EnergyBudgetPolicy")
POLICIES.register_lazy("deadline_aware", "fedsl_sim.control.deadline_aware:DeadlineAwarePolicy")
POLICIES.register_lazy("adaptive_split", "fedsl_sim.control.adaptive_split:AdaptiveSplitPolicy")
