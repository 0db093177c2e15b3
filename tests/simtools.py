"""Test helpers: small scenarios built in code (the schema fills every default)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from fedsl_sim.scenario import Scenario, apply_overrides, validate_scenario

# One device or a few, a static line-of-sight-free channel with no randomness in the link:
# the numbers of the time model can be computed by hand.
TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 1,
    "scheme": "fedsl",
    "stop": {"max_rounds": 1},
    "learning": {
        "dataset": {"kind": "digits"},
        "partition": {"kind": "iid"},
        "model": {"kind": "small_cnn"},
        "split_layer": 2,
        "batch_size": 32,
        "aggregation_interval": 1,
        "optimizer": {"kind": "sgd", "lr": 0.05},
        "eval_every_rounds": 1,
    },
    "devices": {
        "count": 1,
        "placement": {"kind": "fixed", "positions_m": [[100.0, 0.0]]},
        "mobility": {"kind": "static"},
    },
    "network": {
        "shadowing": {"std_db": 0.0},
        "fading": {"kind": "none"},
        "outage": {"snr_threshold_db": None},
    },
}


def make_scenario(base: dict[str, Any] | None = None, **overrides: Any) -> Scenario:
    """``base`` (default TINY) with dotted overrides given as keyword arguments (``__`` for
    ``.``), e.g. ``make_scenario(devices__count=2)``."""
    data = copy.deepcopy(base if base is not None else TINY)
    dotted = {k.replace("__", "."): v for k, v in overrides.items()}
    return validate_scenario(apply_overrides(data, dotted, "test"), "test")


class PiecewiseChannel:
    """A hand-made block channel: gains per block, block length 1 s."""

    time_varying = True
    block_s = 1.0

    def __init__(self, gains_by_block: list[float], n_devices: int = 2) -> None:
        self._g = gains_by_block
        self._n = n_devices

    def block_at(self, t_s: float) -> int:
        return math.floor(t_s / self.block_s)

    def gains(self, j0: int, count: int, devices: np.ndarray | None = None) -> np.ndarray:
        g = [self._g[min(j, len(self._g) - 1)] for j in range(j0, j0 + count)]
        n = self._n if devices is None else len(devices)
        return np.repeat(np.asarray(g, dtype=float)[:, None], n, axis=1)


class StaticChannel(PiecewiseChannel):
    """A channel that never changes (one infinite block)."""

    time_varying = False
