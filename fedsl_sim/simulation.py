"""A built simulation (world, data, scheme) and the engine-owned round loop."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from fedsl_sim.async_driver import AsyncDriver
from fedsl_sim.build import build_data, build_driver, build_scheme, build_world, check_scenario
from fedsl_sim.driver import RoundDriver
from fedsl_sim.errors import ScenarioError
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.learning.split import DivergedError, resolve_device
from fedsl_sim.scenario import Scenario
from fedsl_sim.schemes.base import RoundResult, Scheme
from fedsl_sim.sim.world import World


@dataclass
class Simulation:
    """A built, not yet run simulation: world, data and scheme."""

    scenario: Scenario
    world: World
    data: FederatedData
    scheme: Scheme
    driver: RoundDriver | AsyncDriver
    #: why training stopped, when it diverged (``stop_reason: diverged``)
    diverged: str | None = None

    @classmethod
    def build(cls, scenario: Scenario, source: str = "scenario") -> Simulation:
        """Build every runtime object of ``scenario`` (bad input: ScenarioError naming
        ``source`` and the field)."""
        check_scenario(scenario, source)
        try:  # a scenario asking for CUDA is valid; this machine may not have it
            resolve_device(scenario.learning.compute_device)
        except ValueError as exc:
            raise ScenarioError(source, str(exc), path="learning.compute_device") from None
        world = build_world(scenario, source=source)
        data = build_data(scenario, world.streams, source=source)
        scheme = build_scheme(scenario, world, data)
        return cls(scenario, world, data, scheme, build_driver(scenario, scheme, world))

    def run_round(self, r: int) -> RoundResult:
        """Run round ``r`` (0-based) to its end in simulated time (no evaluation, nothing
        recorded as a round row)."""
        env = self.world.env
        return env.run(until=env.process(self.driver.round(r)))

    def run_rounds(
        self,
        progress: bool = False,
        on_round_end: Callable[[Simulation], None] | None = None,
    ) -> str:
        """Run rounds until a stop condition holds; returns the stop reason.

        Starts after the rounds already recorded (a resumed simulation continues where its
        checkpoint was taken). ``on_round_end(self)`` is called after every round that the
        run continues after (e.g. to save a checkpoint).
        """
        sc, env, rec = self.scenario, self.world.env, self.world.recorder
        stop = sc.stop
        every = sc.learning.eval_every_rounds
        start = len(rec.rounds)
        bar = tqdm(
            total=stop.max_rounds,
            initial=start,
            disable=not progress,
            file=sys.stderr,
            unit="round",
            dynamic_ncols=True,
            leave=False,
        )
        reason = "max_rounds"
        accs = [row.test_accuracy for row in rec.rounds if row.test_accuracy is not None]
        best = max(accs) if accs else math.nan
        try:
            for r in range(start, stop.max_rounds):
                try:
                    result = self.run_round(r)
                except DivergedError as exc:  # the outputs hold the rounds before this one
                    self.diverged = f"round {r}: {exc}"
                    reason = "diverged"
                    break
                self.world.record_handovers(r)
                last = r + 1 == stop.max_rounds
                over_time = stop.max_sim_time_s is not None and env.now >= stop.max_sim_time_s
                test = None
                if (r + 1) % every == 0 or last or over_time:
                    test = self.scheme.evaluate()
                row = rec.close_round(
                    r,
                    env.now,
                    test,
                    len(result.participants),
                    result.dropped,
                    staleness=result.staleness or None,
                )
                if test is not None:
                    best = test[0] if math.isnan(best) else max(best, test[0])
                bar.update(1)
                bar.set_postfix(
                    t_sim=f"{env.now:.3g}s",
                    acc="-" if row.test_accuracy is None else f"{row.test_accuracy:.3f}",
                    best="-" if math.isnan(best) else f"{best:.3f}",
                )
                if last:
                    break
                if over_time:
                    reason = "max_sim_time_s"
                    break
                if (
                    stop.stop_at_target
                    and test is not None
                    and stop.target_accuracy is not None
                    and test[0] >= stop.target_accuracy
                ):
                    reason = "target_accuracy"
                    break
                if on_round_end is not None:
                    on_round_end(self)
        finally:
            bar.close()
        return reason
