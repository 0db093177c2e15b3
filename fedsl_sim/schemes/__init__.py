"""Training schemes (strategies over the engine's round loop), registered by name."""

from fedsl_sim.schemes import split_fed  # noqa: F401  (registers fedsl, lightweight_fedsl)
from fedsl_sim.schemes.base import SCHEMES, Scheme

__all__ = ["SCHEMES", "Scheme"]
