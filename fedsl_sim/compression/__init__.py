"""Codecs with exact payload sizes: quantization, activation dropout and weight pruning, and
the message codec pipeline (:mod:`fedsl_sim.compression.codec`).

"Off" (bits 32, rate 0) is exactly the identity everywhere and consumes no randomness. The
names below load their (torch) modules when first used, so that the codec registry
(:mod:`fedsl_sim.compression.registry`) is importable without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ActivationDropout": "dropout",
    "METHODS": "pruning",
    "MagnitudePruning": "pruning",
    "Pruner": "pruning",
    "PruningMethod": "pruning",
    "PruningSchedule": "pruning",
    "model_payload_bits": "pruning",
    "n_pruned": "pruning",
    "position_bits": "pruning",
    "prunable_parameters": "pruning",
    "QuantizedTensor": "quantization",
    "StochasticQuantizer": "quantization",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
