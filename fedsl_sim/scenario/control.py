"""The ``control:`` section: the per-round control policy and its settings (the registered
policies of :data:`fedsl_sim.control.registry.POLICIES`, each with its parameter model)."""

from __future__ import annotations

from typing import Literal

from fedsl_sim.control.registry import POLICIES
from fedsl_sim.scenario.base import _Model


class StaticControl(_Model):
    """No control: every candidate of a round takes part, at the scenario's CPU clocks and
    transmit powers (the default)."""

    kind: Literal["static"]


POLICIES.declare_params("static", StaticControl)
