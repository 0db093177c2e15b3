"""Round control: which devices take part in a round, and which are cut off during it.

Availability (always, Bernoulli per round, or down intervals from a trace) decides who can
take part; participation (all, a random fraction, or the fraction with the best channels)
chooses among them. A trace also says when a device goes down during a round; the engine
then cuts its work off (see :class:`~fedsl_sim.schemes.split_fed.SplitFed`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from fedsl_sim.scenario import (
    BernoulliAvailability,
    BestChannelParticipation,
    RandomParticipation,
    RoundsConfig,
    ScenarioError,
    TraceAvailability,
)
from fedsl_sim.sim.channel import RadioChannel
from fedsl_sim.sim.streams import Streams

#: latest time an availability trace may name, s (about 32 years)
MAX_TRACE_S = 1.0e9


def read_down_intervals(path: str, n_devices: int, source: str) -> list[list[tuple[float, float]]]:
    """Per device, its down intervals [t_down, t_up) from a CSV ``device, t_down_s, t_up_s``."""
    where = f"rounds.availability.path ({path})"
    out: list[list[tuple[float, float]]] = [[] for _ in range(n_devices)]
    with Path(path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"device", "t_down_s", "t_up_s"} - set(reader.fieldnames or ())
        if missing:
            raise ScenarioError(source, f"{where}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                k, t0, t1 = int(row["device"]), float(row["t_down_s"]), float(row["t_up_s"])
            except (TypeError, ValueError):
                raise ScenarioError(source, f"{where}: line {line}: not numbers: {row}") from None
            if not 0 <= k < n_devices:
                raise ScenarioError(
                    source, f"{where}: line {line}: device {k} is not in 0..{n_devices - 1}"
                )
            if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1 <= MAX_TRACE_S):
                raise ScenarioError(
                    source,
                    f"{where}: line {line}: expected 0 <= t_down_s < t_up_s <= {MAX_TRACE_S:g} "
                    f"(finite seconds), got {t0}, {t1}",
                )
            out[k].append((t0, t1))
    for k in range(n_devices):
        out[k].sort()
    return out


class RoundControl:
    """Participation and availability of the devices, round by round."""

    def __init__(
        self,
        cfg: RoundsConfig,
        n_devices: int,
        streams: Streams,
        channel: RadioChannel,
        source: str = "scenario",
    ) -> None:
        self.cfg = cfg
        self.n = n_devices
        self.channel = channel
        self._rng_part = streams.numpy("participation")
        self._rng_avail = streams.numpy("availability")
        self.down = (
            read_down_intervals(cfg.availability.path, n_devices, source)
            if isinstance(cfg.availability, TraceAvailability)
            else None
        )

    def is_down(self, k: int, t_s: float) -> bool:
        return self.down is not None and any(a <= t_s < b for a, b in self.down[k])

    def next_failure_s(self, k: int, t_s: float) -> float | None:
        """When device k next goes down after ``t_s`` (trace availability), else None."""
        if self.down is None:
            return None
        later = [a for a, _ in self.down[k] if a > t_s]
        return min(later) if later else None

    def next_up_s(self, t_s: float) -> float | None:
        """The first time after ``t_s`` at which some device comes back up, else None."""
        if self.down is None:
            return None
        ups = [b for iv in self.down for a, b in iv if a <= t_s < b]
        return min(ups) if ups else None

    def available(self, t_s: float) -> list[int]:
        """Devices that can take part in a round starting at ``t_s``."""
        devices = [k for k in range(self.n) if not self.is_down(k, t_s)]
        if isinstance(self.cfg.availability, BernoulliAvailability):
            # one draw per device and round, whatever happened before: streams stay aligned
            off = self._rng_avail.random(self.n) < self.cfg.availability.p_unavailable
            devices = [k for k in devices if not off[k]]
        return devices

    def select(self, t_s: float) -> list[int]:
        """The round's participants (sorted), among the available devices."""
        devices = self.available(t_s)
        part = self.cfg.participation
        if not devices or not isinstance(part, RandomParticipation | BestChannelParticipation):
            return devices
        m = max(1, math.ceil(part.fraction * len(devices)))
        if isinstance(part, RandomParticipation):
            chosen = self._rng_part.choice(devices, size=m, replace=False)
        else:
            state = self.channel.components(self.channel.block_at(t_s))
            rx_db = state["shadowing_db"] - state["pathloss_db"]
            ranked = sorted(devices, key=lambda k: (-rx_db[k], k))
            chosen = np.asarray(ranked[:m])
        return sorted(int(k) for k in chosen)
