"""The engine: builds a world from a scenario, owns the round loop, writes the run's outputs."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import fedsl_sim.schemes  # noqa: F401  (fills the scheme registry)
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.scenario import Scenario, ScenarioError
from fedsl_sim.schemes.base import SCHEMES, Scheme
from fedsl_sim.sim.recorder import Recorder, RoundRow, finite_or_none
from fedsl_sim.sim.world import World


@dataclass
class RunResult:
    """What :func:`run` returns: the summary (as ``summary.json``), the rows, the directory."""

    summary: dict[str, Any]
    out_dir: Path | None
    rounds: list[RoundRow] = field(repr=False)
    recorder: Recorder = field(repr=False)


@dataclass
class Simulation:
    """A built, not yet run simulation: world, data and scheme."""

    scenario: Scenario
    world: World
    data: FederatedData
    scheme: Scheme

    @classmethod
    def build(cls, scenario: Scenario, source: str = "scenario") -> Simulation:
        world = World(scenario, source=source)
        data = FederatedData(scenario, world.streams, source=source)
        scheme = SCHEMES.make(scenario.scheme, scenario=scenario, world=world, data=data)
        return cls(scenario, world, data, scheme)

    def run_rounds(self, progress: bool = False) -> str:
        """Run rounds until a stop condition holds; returns the stop reason."""
        sc, env, rec = self.scenario, self.world.env, self.world.recorder
        stop = sc.stop
        every = sc.learning.eval_every_rounds
        bar = tqdm(
            total=stop.max_rounds,
            disable=not progress,
            file=sys.stderr,
            unit="round",
            dynamic_ncols=True,
            leave=False,
        )
        reason = "max_rounds"
        best = math.nan
        try:
            for r in range(stop.max_rounds):
                env.run(until=env.process(self.scheme.round(r)))
                self.world.record_handovers(r)
                last = r + 1 == stop.max_rounds
                over_time = stop.max_sim_time_s is not None and env.now >= stop.max_sim_time_s
                test = None
                if (r + 1) % every == 0 or last or over_time:
                    test = self.scheme.evaluate()
                row = rec.close_round(
                    r, env.now, test, self.scheme.participants, self.scheme.dropped
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
        finally:
            bar.close()
        return reason


def summarize(sim: Simulation, reason: str, wall_time_s: float) -> dict[str, Any]:
    """The run's ``summary.json`` content."""
    sc, rec = sim.scenario, sim.world.recorder
    evals = [r for r in rec.rounds if r.test_accuracy is not None]
    target = sc.stop.target_accuracy
    reached = [r for r in evals if target is not None and r.test_accuracy >= target]
    return {
        "scenario": sc.name,
        "seed": sc.seed,
        "scheme": sc.scheme,
        "rounds_completed": len(rec.rounds),
        "stop_reason": reason,
        "sim_time_s": rec.rounds[-1].sim_time_s if rec.rounds else 0.0,
        "final_test_accuracy": evals[-1].test_accuracy if evals else None,
        "final_test_loss": finite_or_none(evals[-1].test_loss) if evals else None,
        "best_test_accuracy": max(r.test_accuracy for r in evals) if evals else None,
        "target_accuracy": target,
        "time_to_target_s": reached[0].sim_time_s if reached else None,
        "energy_j": rec.energy_totals(),
        "bits": {"uplink": int(rec.uplink_bits.sum()), "downlink": int(rec.downlink_bits.sum())},
        "wall_time_s": wall_time_s,
    }


def default_run_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """``results/<scenario-name>/<YYYYmmdd-HHMMSS>-seed<seed>[-N]`` (never an existing one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / scenario.name / f"{stamp}-seed{scenario.seed}"
    candidate, i = base, 1
    while candidate.exists():
        i += 1
        candidate = base.with_name(f"{base.name}-{i}")
    return candidate


def check_out_dir(out_dir: Path) -> None:
    """Refuse to write into a non-empty directory (a ScenarioError: it is bad input)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ScenarioError("--out", f"{out_dir} exists and is not an empty directory")


def run(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    progress: bool = False,
    plots: bool = True,
    source: str = "scenario",
) -> RunResult:
    """Run one scenario and write its outputs.

    Parameters
    ----------
    scenario : a validated scenario.
    out_dir : the run directory to create; default ``results/<name>/<run-id>/``. Outputs are
        written to a hidden sibling ``.<name>.partial-<pid>`` and moved into place only when
        complete, so a failed or interrupted run never leaves a directory that looks complete.
    progress : show a progress bar on stderr.
    plots : also write the figures (``accuracy_vs_time.png``, ``latency_breakdown.png``).
    """
    from fedsl_sim.report.writers import write_run

    final = Path(out_dir) if out_dir is not None else default_run_dir(scenario)
    check_out_dir(final)
    t0 = time.perf_counter()
    sim = Simulation.build(scenario, source=source)
    reason = sim.run_rounds(progress=progress)
    summary = summarize(sim, reason, time.perf_counter() - t0)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        write_run(partial, sim, summary, plots=plots)
        while True:
            try:
                os.rename(partial, final)  # atomic; replaces an empty directory
                break
            except OSError:
                if out_dir is not None or not final.exists():
                    raise
                final = default_run_dir(scenario)  # another run took the name meanwhile
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return RunResult(
        summary=summary,
        out_dir=final,
        rounds=sim.world.recorder.rounds,
        recorder=sim.world.recorder,
    )
