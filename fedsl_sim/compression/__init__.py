"""Codecs with exact payload sizes: quantization, activation dropout and weight pruning.

"Off" (bits 32, rate 0) is exactly the identity everywhere and consumes no randomness.
"""

from fedsl_sim.compression.dropout import ActivationDropout
from fedsl_sim.compression.pruning import (
    METHODS,
    MagnitudePruning,
    Pruner,
    PruningMethod,
    PruningSchedule,
    model_payload_bits,
    n_pruned,
    position_bits,
    prunable_parameters,
)
from fedsl_sim.compression.quantization import QuantizedTensor, StochasticQuantizer

__all__ = [
    "METHODS",
    "ActivationDropout",
    "MagnitudePruning",
    "Pruner",
    "PruningMethod",
    "PruningSchedule",
    "QuantizedTensor",
    "StochasticQuantizer",
    "model_payload_bits",
    "n_pruned",
    "position_bits",
    "prunable_parameters",
]
