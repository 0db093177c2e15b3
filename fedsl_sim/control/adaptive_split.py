"""The ``adaptive_split`` policy (AdaptSFL-style): each round every candidate gets the split
layer, among the allowed ones (``split_layers``), that minimises its predicted round latency
given its uplink on the observed SNR, its compute speed and the server's load.

Per candidate k and layer s, the prediction
(:meth:`~fedsl_sim.control.base.Observation.predict`) is at the maximum clock and transmit
power on an equal share 1/m of the band among the m devices sharing the round
(``obs.sharing``), with the server's time for k stretched by the load (m devices on W
workers: max(1, m / W)). A deeper split puts
more computation on the device and less on the server, and sends the activations of that
layer; the least latency wins (a tie keeps the device's current layer, then the shallowest).
A device whose split is locked (it holds layers it trained since the last average it
received) keeps its layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedsl_sim.control.base import Decisions, Observation, Policy
from fedsl_sim.control.deadline_aware import server_load


class AdaptiveSplitPolicy(Policy):
    """See the module docstring.

    Parameters
    ----------
    split_layers : the layers a device may be split at (the scheme checks them against the
        model; the scenario's own split layers are allowed too).
    """

    name = "adaptive_split"

    def __init__(self, split_layers: Sequence[int]) -> None:
        self.split_layers = tuple(int(s) for s in split_layers)

    def decide(self, obs: Observation) -> Decisions:
        share = 1.0 / max(1, obs.sharing)
        load = server_load(obs)
        allowed = [s for s in self.split_layers if s in obs.tuning.split_layers]
        chosen: dict[int, int] = {}
        for k in obs.candidates:
            if obs.split_locked[k] or not allowed:
                continue
            now = int(obs.split_layer[k])
            best, best_s = float("inf"), now
            for s in sorted(allowed, key=lambda s: (s != now, s)):
                total = self._until_average(obs, k, s, share, load)
                if total < best:
                    best, best_s = total, s
            chosen[k] = best_s
        return Decisions(split_layer=chosen)

    @staticmethod
    def _until_average(obs: Observation, k: int, s: int, share: float, load: float) -> float:
        """Device k's predicted time at split ``s`` from this round to the next average (its
        split holds that long): this round, then the rounds without averaging and the
        averaging one, without a catch-up download."""

        def one(**when: bool) -> float:
            lat = obs.predict(k, share=share, split_layer=s, **when)
            return lat.total_s + (load - 1.0) * lat.server_s

        total = one()
        n = obs.rounds_to_average
        if n > 1:
            total += (n - 2) * one(aggregate=False, catch_up=False)
            total += one(aggregate=True, catch_up=False)
        return total
