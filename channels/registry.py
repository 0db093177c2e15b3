"""The name -> factory registry, re-exported from the neutral :mod:`fedsl_registry` (kept for
code that imports it from here)."""

from fedsl_registry import Registry

__all__ = ["Registry"]
