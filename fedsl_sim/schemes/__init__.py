"""Training schemes: public hooks over the engine's round driver, registered by name.

The registry (:mod:`fedsl_sim.schemes.registry`) is importable without torch; the schemes
themselves are in :mod:`fedsl_sim.schemes.base` (hooks, shapes) and
:mod:`fedsl_sim.schemes.split_fed` (the shipped ones), imported when used.
"""

from fedsl_sim.schemes.registry import SCHEMES, SHIPPED_SCHEMES

__all__ = ["SCHEMES", "SHIPPED_SCHEMES"]
