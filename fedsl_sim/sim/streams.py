"""Random streams: one root seed, one independent stream per entity and purpose.

Every stream is ``SeedSequence(seed, spawn_key=(purpose, ...))``: it depends only on the root
seed and its key, never on how many other streams exist or in which order they are made, so
adding an entity or a purpose never shifts another one's draws.
"""

from __future__ import annotations

import numpy as np
import torch

# Stable keys: append new purposes, never renumber.
_PURPOSES = {
    "dataset": 0,
    "partition": 1,
    "model_init": 2,
    "placement": 3,
    "shadowing": 4,
    "fading": 5,
    "mobility": 6,
    "batch_order": 7,  # per device
    "dropout": 8,  # per device
    "quantization": 9,  # per device
    "link_budget": 10,  # Monte Carlo of `fedsl-sim link`
    "los": 11,  # LOS states of the 3GPP path-loss models
    "participation": 12,
    "availability": 13,
    "compute": 14,  # per-device compute parameters drawn from a range
}


class Streams:
    """Factory of numpy and torch generators derived from one root seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def _seq(self, purpose: str, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(_PURPOSES[purpose], *key))

    def numpy(self, purpose: str, *key: int) -> np.random.Generator:
        """A numpy Generator for ``purpose`` (and optional integer sub-keys, e.g. a device)."""
        return np.random.Generator(np.random.PCG64(self._seq(purpose, *key)))

    def torch(self, purpose: str, *key: int) -> torch.Generator:
        """A CPU torch Generator for ``purpose`` seeded from the same tree."""
        state = self._seq(purpose, *key).generate_state(1, dtype=np.uint64)[0]
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(state))
        return gen
