"""Schemes are strategies over the engine-owned round loop.

The engine (:mod:`fedsl_sim.engine`) asks a scheme to run round ``r`` as a SimPy process, then
to evaluate the current global model; the scheme decides who holds which model copy, what is
sent, and when aggregation happens, using only the :class:`~fedsl_sim.sim.world.World`'s timed
primitives. A new scheme is one class registered in :data:`SCHEMES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from fedsl_registry import Registry
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.schemes.settings import SchemeSettings
from fedsl_sim.sim.world import Process, World


class Scheme(ABC):
    """One training scheme bound to one world and its data."""

    def __init__(self, settings: SchemeSettings, world: World, data: FederatedData) -> None:
        self.settings = settings
        self.world = world
        self.data = data
        self.participants = 0
        self.dropped = 0

    @abstractmethod
    def round(self, r: int) -> Process:
        """Run round ``r`` (0-based) in simulated time; sets ``participants`` and ``dropped``."""

    @abstractmethod
    def evaluate(self) -> tuple[float, float]:
        """Test accuracy (fraction) and loss of the current global model; takes no sim time."""


SCHEMES: Registry[Scheme] = Registry("scheme")
