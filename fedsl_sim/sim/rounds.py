"""Round control: which devices take part in a round, and which are cut off during it.

Availability (always, Bernoulli per round, or down intervals from a trace) decides who can
take part; participation (all, a random fraction, or the fraction with the best channels)
chooses among them. A trace also says when a device goes down during a round; the engine
then cuts its work off (see :class:`~fedsl_sim.schemes.split_fed.SplitFed`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fedsl_sim.sim.channel import RadioChannel

PARTICIPATION = ("all", "random", "best_channel")


class RoundControl:
    """Participation and availability of the devices, round by round.

    Parameters
    ----------
    n_devices : number of devices.
    channel : the radio channel (``best_channel`` ranks devices by its large-scale gain).
    participation_rng, availability_rng : the participation and availability streams.
    participation : ``all``, ``random`` (a random ``fraction`` of the available devices) or
        ``best_channel`` (the ``fraction`` with the strongest large-scale gain).
    fraction : share of the available devices that take part (at least one), in (0, 1].
    p_unavailable : Bernoulli availability: each device is off in a round with this
        probability (one draw per device and round); None: no Bernoulli draws.
    down_intervals : per device, its sorted down intervals [t_down_s, t_up_s) (trace
        availability), or None.
    """

    def __init__(
        self,
        n_devices: int,
        channel: RadioChannel,
        participation_rng: np.random.Generator,
        availability_rng: np.random.Generator,
        participation: str = "all",
        fraction: float = 1.0,
        p_unavailable: float | None = None,
        down_intervals: Sequence[Sequence[tuple[float, float]]] | None = None,
    ) -> None:
        if participation not in PARTICIPATION:
            raise ValueError(
                f"participation: expected one of {PARTICIPATION}, got {participation!r}"
            )
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction: expected a value in (0, 1], got {fraction}")
        if p_unavailable is not None and not 0 <= p_unavailable <= 1:
            raise ValueError(f"p_unavailable: expected a probability, got {p_unavailable}")
        if down_intervals is not None and len(down_intervals) != n_devices:
            raise ValueError(
                f"down_intervals: expected {n_devices} lists, got {len(down_intervals)}"
            )
        self.n = n_devices
        self.channel = channel
        self.participation = participation
        self.fraction = float(fraction)
        self.p_unavailable = p_unavailable
        self._rng_part = participation_rng
        self._rng_avail = availability_rng
        self.down = None if down_intervals is None else [sorted(iv) for iv in down_intervals]

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
        if self.p_unavailable is not None:
            # one draw per device and round, whatever happened before: streams stay aligned
            off = self._rng_avail.random(self.n) < self.p_unavailable
            devices = [k for k in devices if not off[k]]
        return devices

    def select(self, t_s: float) -> list[int]:
        """The round's participants (sorted), among the available devices."""
        devices = self.available(t_s)
        if not devices or self.participation == "all":
            return devices
        m = max(1, math.ceil(self.fraction * len(devices)))
        if self.participation == "random":
            chosen = self._rng_part.choice(devices, size=m, replace=False)
        else:
            state = self.channel.components(self.channel.block_at(t_s))
            rx_db = state["shadowing_db"] - state["pathloss_db"]
            ranked = sorted(devices, key=lambda k: (-rx_db[k], k))
            chosen = np.asarray(ranked[:m])
        return sorted(int(k) for k in chosen)
