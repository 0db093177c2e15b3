"""The ``energy_budget`` policy: every device has an energy budget for the whole run; each
round each candidate runs at the CPU clock and transmit power that minimise its predicted
round energy while its predicted round latency meets the target, and sits the round out when
that energy would exceed what is left of its budget.

Per candidate k, with the round's workload (:class:`~fedsl_sim.control.predict.Workload`) and
the uplink on an equal share 1/m of the band among the m devices sharing the round
(``obs.sharing``): for each clock f
of a grid (``clock_steps`` values up to the maximum) the time left for the uplink after the
computation at f and the rest of the round (server, downlink at the maximum) sets the lowest
power whose rate sends the device's bits in that time (bisection on the power, the rate rising
with it); the round's energy is then ``kappa x cycles x f^2 + p x bits / R(p)`` (compute and
transmit models). The pair of least energy wins; when no pair meets the target the device runs
at full clock and power (as fast as it can). Predictions are from the large-scale gain: fading,
sharing and queueing make the simulated round differ.
"""

from __future__ import annotations

import numpy as np

from fedsl_sim.control.base import MIN_CPU_HZ, MIN_TX_POWER_DBM, Decisions, Observation, Policy

#: the lowest transmit power the bisection considers, below the maximum, dB
POWER_RANGE_DB = 60.0


class EnergyBudgetPolicy(Policy):
    """See the module docstring.

    Parameters
    ----------
    budget_j : energy budget per device for the whole run, J (one value, or one per device).
    latency_target_s : the round latency each device should meet, s.
    clock_steps : clocks tried per device: ``f_max * i / clock_steps``, i = 1 .. clock_steps.
    """

    name = "energy_budget"

    def __init__(
        self, budget_j: float | list[float], latency_target_s: float, clock_steps: int = 32
    ) -> None:
        self.budget_j = budget_j
        self.latency_target_s = float(latency_target_s)
        self.clock_steps = int(clock_steps)

    def decide(self, obs: Observation) -> Decisions:
        budget = np.broadcast_to(np.asarray(self.budget_j, dtype=float), (obs.n_devices,))
        share = 1.0 / max(1, obs.sharing)
        take: list[int] = []
        cpu: dict[int, float] = {}
        power: dict[int, float] = {}
        for k in obs.candidates:
            f, p_dbm, energy = self._plan(obs, k, share)
            if energy > budget[k] - obs.energy_used_j[k]:
                continue  # it would overrun its budget: it sits this round out
            take.append(k)
            cpu[k], power[k] = f, p_dbm
        return Decisions(take_part=take, cpu_hz=cpu, tx_power_dbm=power)

    def _plan(self, obs: Observation, k: int, share: float) -> tuple[float, float, float]:
        """(clock, power dBm, predicted energy J) for device k (every clock of the grid at
        once: one bisection over the powers of all of them)."""
        work = obs.workload(k)
        f_max = float(obs.max_cpu_hz[k])
        p_max = float(obs.max_tx_power_dbm[k])
        kappa = float(obs.kappa[k])
        full = obs.predict(k, share=share)
        cycles = work.steps * work.device_flops_per_step / float(obs.flops_per_cycle[k])
        bits = work.steps * work.uplink_bits_per_step + work.upload_bits
        fixed = full.server_s + full.downlink_s + full.backhaul_s
        # the grid, kept within the clocks a policy may set
        grid = f_max * np.arange(1, self.clock_steps + 1) / self.clock_steps
        clocks = np.unique(np.maximum(grid, min(MIN_CPU_HZ, f_max)))
        same = np.full(len(clocks), k)

        def rate(p_dbm: np.ndarray) -> np.ndarray:
            return obs.uplink_rate_bps(share, p_dbm, devices=same)

        on_air = obs.on_air_fraction(share)

        def energy(f: np.ndarray, p_dbm: np.ndarray) -> np.ndarray:
            p_w = 10.0 ** (p_dbm / 10.0) / 1e3
            with np.errstate(divide="ignore"):  # no rate (below the threshold): infinite
                send = bits / rate(p_dbm) * on_air if bits > 0 else np.zeros(len(f))
            return np.asarray(kappa * cycles * f * f + p_w * send, dtype=float)

        target = self.latency_target_s
        if obs.deadline_s is not None:  # a device past the deadline is cut off
            target = min(target, obs.deadline_s)
        left = target - fixed - cycles / clocks
        ok = left > 0
        need = np.where(ok, bits / np.where(ok, left, 1.0), np.inf) if bits > 0 else 0.0 * left
        top = np.full(len(clocks), p_max)
        ok &= rate(top) >= need
        lo, hi = np.maximum(top - POWER_RANGE_DB, min(MIN_TX_POWER_DBM, p_max)), top.copy()
        low_enough = rate(lo) >= need
        hi[low_enough] = lo[low_enough]
        for _ in range(50):  # the least power whose rate sends the bits in time
            mid = 0.5 * (lo + hi)
            fast = rate(mid) >= need
            hi = np.where(fast, mid, hi)
            lo = np.where(fast, lo, mid)
        if not ok.any():  # no pair meets the target: as fast as it can
            return f_max, p_max, float(energy(np.array([f_max]), np.array([p_max]))[0])
        if bits <= 0:  # nothing to send: no reason to lower the power
            hi = top
        e = np.where(ok, energy(clocks, hi), np.inf)
        i = int(np.argmin(e))
        return float(clocks[i]), float(hi[i]), float(e[i])
