"""Per-round control policies: at each round's start a registered policy observes the
federation (what a base station knows) and decides, per device, who takes part, its CPU clock
and its transmit power (see :mod:`fedsl_sim.control.base`)."""

from fedsl_sim.control.base import Controller, DecisionError, Decisions, Observation, Policy
from fedsl_sim.control.registry import POLICIES

__all__ = ["POLICIES", "Controller", "DecisionError", "Decisions", "Observation", "Policy"]
