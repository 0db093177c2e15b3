"""The ``deadline_aware`` policy: for a round deadline T, each candidate runs with the least
compression and the lowest CPU clock whose predicted round latency fits T; a candidate that
cannot fit T at any compression level, even at its maximum clock, is not selected.

The compression levels are the scenario's list, least compressed first (each at least as
compressed as the one before: no fewer pruned weights, no more bits, no less dropout); a
level's unset fields keep the scenario's values. Per candidate k and level, the prediction
(:meth:`~fedsl_sim.control.base.Observation.predict`) is on an equal share 1/m of the band
among the m devices sharing the round (``obs.sharing``: the candidates; asynchronously,
the devices that can send an update), at the maximum transmit power, with the server's time for k
stretched by the server's load (m devices on W workers: max(1, m / W)) and, in an
averaging round, the averaging of every candidate's upload. Compute time scales as 1/f, so
the lowest clock that fits is ``f = f_max * compute / (T - rest)`` (at least 1 MHz). It is
a prediction from the large-scale gain: fading, outage and queueing can still make a device
miss T (``rounds.deadline_s`` then cuts it off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fedsl_sim.control.base import MIN_CPU_HZ, Decisions, Observation, Policy

#: how much above the computed lowest clock a decision sits (rounding in the prediction)
CLOCK_MARGIN = 1.0e-9


def server_load(obs: Observation) -> float:
    """How much longer the server takes per device when the round's m devices share its
    workers: max(1, m / W)."""
    return max(1.0, obs.sharing / obs.server_workers)


def averaging_s(obs: Observation) -> float:
    """The server's time to average every candidate's upload this round, s (0 when the round
    does not average)."""
    if not obs.aggregate:
        return 0.0
    flops = sum(obs.workload(k).aggregation_flops for k in obs.candidates)
    return flops / obs.server_flops_per_s


class DeadlineAwarePolicy(Policy):
    """See the module docstring.

    Parameters
    ----------
    deadline_s : the round deadline T, s (the earlier of it and ``rounds.deadline_s``).
    levels : compression levels, least compressed first; each a mapping with any of
        ``pruning_rate``, ``quant_bits``, ``dropout_rate`` (unset: the scenario's).
    """

    name = "deadline_aware"

    def __init__(self, deadline_s: float, levels: Sequence[Mapping[str, float | None]]) -> None:
        self.deadline_s = float(deadline_s)
        self.levels = [{k: v for k, v in dict(level).items() if v is not None} for level in levels]

    def decide(self, obs: Observation) -> Decisions:
        deadline = self.deadline_s
        if obs.deadline_s is not None:
            deadline = min(deadline, obs.deadline_s)
        m = obs.sharing
        share = 1.0 / max(1, m)
        load = server_load(obs)
        averaging = averaging_s(obs)
        take: list[int] = []
        cpu: dict[int, float] = {}
        knobs: dict[str, dict[int, float]] = {}
        for k in obs.candidates:
            own_averaging = obs.workload(k).aggregation_flops / obs.server_flops_per_s
            f_max = float(obs.max_cpu_hz[k])
            for level in self.levels:
                lat = obs.predict(k, share=share, **level)
                rest = lat.total_s - lat.compute_s + (load - 1.0) * lat.server_s
                rest += averaging - own_averaging
                left = deadline - rest
                if left <= 0 or lat.compute_s > left:
                    continue  # not even at its maximum clock
                f = f_max * lat.compute_s / left * (1.0 + CLOCK_MARGIN)
                take.append(k)
                cpu[k] = min(f_max, max(f, min(MIN_CPU_HZ, f_max)))
                for name, value in level.items():
                    knobs.setdefault(name, {})[k] = value
                break
        return Decisions(
            take_part=take,
            cpu_hz=cpu,
            pruning_rate=knobs.get("pruning_rate"),
            quant_bits=knobs.get("quant_bits"),  # type: ignore[arg-type]
            dropout_rate=knobs.get("dropout_rate"),
        )
