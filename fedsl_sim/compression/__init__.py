"""Codecs with exact payload sizes: quantization, activation dropout and weight pruning, and
the message codec pipeline (:mod:`fedsl_sim.compression.codec`).

"Off" (bits 32, rate 0) is exactly the identity everywhere and consumes no randomness. The
names below load their (torch) modules when first used, so that the codec registry
(:mod:`fedsl_sim.compression.registry`) is importable without torch.
"""

from __future__ import annotations

from fedsl_sim._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _WHERE)
