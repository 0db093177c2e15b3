"""The ``static`` policy: every knob keeps the scenario's value (the behaviour of a run without
control)."""

from __future__ import annotations

from fedsl_sim.control.base import Decisions, Observation, Policy


class StaticPolicy(Policy):
    """Decides nothing: the round's candidates all take part, at their maximum clock and
    transmit power."""

    name = "static"

    def decide(self, obs: Observation) -> Decisions:
        return Decisions()
