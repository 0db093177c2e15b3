"""The engine: builds a world from a scenario, owns the round loop, writes the run's outputs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedsl_sim.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    checkpoint_key,
    checkpoint_path,
    dataset_sha256,
    load_checkpoint,
    save_checkpoint,
)
from fedsl_sim.rundir import (
    SETTINGS_FILE,
    claim_path,
    claim_run_dir,
    commit_files,
    is_dead_run_dir,
    release_claim,
    staged_dir,
    take_claim,
    write_atomic,
)
from fedsl_sim.scenario import Scenario, ScenarioError
from fedsl_sim.sim.recorder import Recorder, RoundRow, finite_or_none
from fedsl_sim.simulation import Simulation


@dataclass
class RunResult:
    """What :func:`run` returns: the summary (as ``summary.json``), the rows, the directory."""

    summary: dict[str, Any]
    out_dir: Path | None
    rounds: list[RoundRow] = field(repr=False)
    recorder: Recorder = field(repr=False)


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
        "threads": sc.execution.threads,
    }


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op CPU thread count to ``n`` for the block (a run's
    ``execution.threads``), the caller's restored afterwards."""
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def default_run_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """``results/<scenario-name>/<YYYYmmdd-HHMMSS>-seed<seed>[-N]`` (never an existing one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / scenario.name / f"{stamp}-seed{scenario.seed}"
    candidate, i = base, 1
    while candidate.exists() or claim_path(candidate).exists():
        i += 1
        candidate = base.with_name(f"{base.name}-{i}")
    return candidate


def check_out_dir(out_dir: Path) -> None:
    """Refuse to write into a non-empty directory (a ScenarioError: it is bad input), unless
    it is what a run killed before its first checkpoint left (reused)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        if not is_dead_run_dir(out_dir):
            raise ScenarioError("--out", f"{out_dir} exists and is not an empty directory")


def run(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    progress: bool = False,
    plots: bool = True,
    source: str = "scenario",
    checkpoint_every: int | None = None,
    on_run_dir: Callable[[Path], None] | None = None,
) -> RunResult:
    """Run one scenario and write its outputs.

    Parameters
    ----------
    scenario : a validated scenario.
    out_dir : the run directory to create; default ``results/<name>/<run-id>/``. Outputs are
        written to a hidden sibling ``.<name>.partial-<pid>`` and moved into place only when
        complete, so a failed or interrupted run never leaves a directory that looks complete.
    progress : show a progress bar on stderr.
    plots : also write the figures (``accuracy_vs_time.png``, ``device_time_breakdown.png``).
    checkpoint_every : save a checkpoint every this many rounds, so that an interrupted run
        can be continued with :func:`resume`. The run directory is then created at the start
        with ``scenario.yaml`` and ``checkpoint/`` (the latest checkpoint only); the outputs
        are added when the run completes, ``summary.json`` last (a run directory is complete
        iff it has ``summary.json``), and the checkpoint is deleted.
    on_run_dir : called with the run directory once it is claimed (a default name that was
        taken gets a suffix), e.g. to say where to resume from after an interruption.

    torch uses ``scenario.execution.threads`` CPU threads during the run (the caller's count
    is restored afterwards).
    """
    with torch_threads(scenario.execution.threads):
        return _run(scenario, out_dir, progress, plots, source, checkpoint_every, on_run_dir)


def _run(
    scenario: Scenario,
    out_dir: str | Path | None,
    progress: bool,
    plots: bool,
    source: str,
    checkpoint_every: int | None,
    on_run_dir: Callable[[Path], None] | None,
) -> RunResult:
    final = Path(out_dir) if out_dir is not None else default_run_dir(scenario)
    check_out_dir(final)
    if checkpoint_every is not None:
        every = _checked_interval(checkpoint_every)
        if scenario.aggregation.asynchronous is not None:
            raise ScenarioError(
                source,
                "checkpoints are not supported for asynchronous runs (the devices' work in "
                "flight cannot be saved yet); run without --checkpoint-every",
                path="aggregation.asynchronous",
            )
        return _run_checkpointed(
            scenario, final, out_dir is not None, progress, plots, source, every, on_run_dir
        )
    t0 = time.perf_counter()
    sim = Simulation.build(scenario, source=source)  # bad input leaves no directory behind
    # claimed before simulating: a directory that is taken or cannot be written is refused now
    claim = claim_run_dir(final, out_dir is not None, lambda: default_run_dir(scenario))
    final = claim.run_dir
    if on_run_dir is not None:
        on_run_dir(final)
    try:
        reason = sim.run_rounds(progress=progress)
        summary = summarize(sim, reason, time.perf_counter() - t0)
        # filled aside, then renamed over the claimed, empty directory (atomic)
        with staged_dir(final) as partial:
            _write_run(partial, sim, summary, plots)
    except BaseException:
        if claim.created:
            shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        claim.release()
    return RunResult(
        summary=summary,
        out_dir=final,
        rounds=sim.world.recorder.rounds,
        recorder=sim.world.recorder,
    )


def resume(
    run_dir: str | Path,
    progress: bool = False,
    plots: bool = True,
    checkpoint_every: int | None = None,
    trust: bool = False,
) -> RunResult:
    """Continue an interrupted run from its latest checkpoint (see :func:`run`). Only a
    checkpoint signed with the running user's key is loaded, unless ``trust`` (see
    :mod:`fedsl_sim.checkpoint`).

    The result is identical to an uninterrupted run's (``rounds.csv``, ``events.csv``,
    ``devices.csv``; ``summary.json`` but for ``wall_time_s``, the wall time of all sessions).
    The scenario comes from the checkpoint; ``checkpoint_every`` defaults to its interval.
    Raises :class:`~fedsl_sim.checkpoint.CheckpointError` (bad input, naming the file) if the
    directory has no usable checkpoint or the run is already complete.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(run_dir, "no such run directory")
    take_claim(run_dir, "--resume")
    try:
        return _resume(run_dir, progress, plots, checkpoint_every, trust)
    finally:
        release_claim(run_dir)


def _resume(
    run_dir: Path, progress: bool, plots: bool, checkpoint_every: int | None, trust: bool
) -> RunResult:
    t0 = time.perf_counter()
    if (run_dir / "summary.json").exists():
        raise CheckpointError(
            run_dir / "summary.json", "the run is already complete; there is nothing to resume"
        )
    if not checkpoint_path(run_dir).exists() and is_dead_run_dir(run_dir):
        return _restart(run_dir, progress, plots, checkpoint_every)
    ckpt = load_checkpoint(checkpoint_path(run_dir), trust=trust)
    every = ckpt.checkpoint_every if checkpoint_every is None else checkpoint_every
    every = _checked_interval(every)
    # what an interrupted session may have left: a checkpoint or outputs half written
    for stale in (run_dir / CHECKPOINT_DIR).glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    for stale in run_dir.glob(".outputs.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    wall_before = ckpt.wall_time_s + (time.perf_counter() - t0)  # loading counts too
    return _continue(
        ckpt.simulation,
        run_dir,
        every,
        ckpt.source,
        progress,
        plots,
        wall_before,
        ckpt.header["dataset_sha256"],
    )


def _restart(run_dir: Path, progress: bool, plots: bool, checkpoint_every: int | None) -> RunResult:
    """Resume a run killed before its first checkpoint: from round 0, with its scenario."""
    from fedsl_sim.scenario import read_yaml_mapping, validate_scenario

    settings_path = run_dir / CHECKPOINT_DIR / SETTINGS_FILE
    try:
        settings = json.loads(settings_path.read_text()[:10_000])
        every, source = settings["checkpoint_every"], str(settings["source"])[:1000]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise CheckpointError(
            settings_path, "unreadable (expected checkpoint_every and source as JSON)"
        ) from None
    if checkpoint_every is not None:
        every = checkpoint_every
    elif isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise CheckpointError(
            settings_path, f"checkpoint_every: expected an integer >= 1, got {every!r}"
        )
    every = _checked_interval(every)
    path = run_dir / "scenario.yaml"
    scenario = validate_scenario(read_yaml_mapping(path), str(path))
    t0 = time.perf_counter()
    sim = Simulation.build(scenario, source=source)
    (run_dir / CHECKPOINT_DIR).mkdir(exist_ok=True)
    for stale in (run_dir / CHECKPOINT_DIR).glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    return _continue(sim, run_dir, every, source, progress, plots, time.perf_counter() - t0)


def _checked_interval(every: int) -> int:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ScenarioError("--checkpoint-every", f"expected an integer >= 1, got {every!r}")
    return every


def _run_checkpointed(
    scenario: Scenario,
    final: Path,
    explicit: bool,
    progress: bool,
    plots: bool,
    source: str,
    every: int,
    on_run_dir: Callable[[Path], None] | None = None,
) -> RunResult:
    t0 = time.perf_counter()
    sim = Simulation.build(scenario, source=source)  # bad input leaves no directory behind
    checkpoint_key()  # a key that cannot be made or read is found now, not after a round
    claim = claim_run_dir(final, explicit, lambda: default_run_dir(scenario))
    final = claim.run_dir
    if on_run_dir is not None:
        on_run_dir(final)
    try:
        write_atomic(final / "scenario.yaml", scenario.to_yaml())
        (final / CHECKPOINT_DIR).mkdir(exist_ok=True)
        # a run killed before its first checkpoint can still be resumed (from round 0)
        settings = {"checkpoint_every": every, "source": source}
        write_atomic(final / CHECKPOINT_DIR / SETTINGS_FILE, json.dumps(settings))
        return _continue(sim, final, every, source, progress, plots, time.perf_counter() - t0)
    except BaseException:
        if not checkpoint_path(final).exists():  # nothing to resume: leave nothing behind
            if claim.created:
                shutil.rmtree(final, ignore_errors=True)
            else:
                (final / "scenario.yaml").unlink(missing_ok=True)
                shutil.rmtree(final / CHECKPOINT_DIR, ignore_errors=True)
        raise
    finally:
        claim.release()


def _continue(
    sim: Simulation,
    run_dir: Path,
    every: int,
    source: str,
    progress: bool,
    plots: bool,
    wall_before_s: float,
    data_sha256: str | None = None,
) -> RunResult:
    """Run ``sim`` to its end in ``run_dir``, checkpointing every ``every`` rounds, then
    write the outputs (``summary.json`` last) and delete the checkpoint."""
    with torch_threads(sim.scenario.execution.threads):
        t0 = time.perf_counter()
        ckpt = checkpoint_path(run_dir)
        data_sha = data_sha256 or dataset_sha256(sim.data.dataset)

        def wall_s() -> float:
            return wall_before_s + (time.perf_counter() - t0)

        def on_round_end(s: Simulation) -> None:
            if len(s.world.recorder.rounds) % every == 0:
                save_checkpoint(
                    ckpt,
                    s,
                    checkpoint_every=every,
                    wall_time_s=wall_s(),
                    source=source,
                    data_sha256=data_sha,
                )

        reason = sim.run_rounds(progress=progress, on_round_end=on_round_end)
        summary = summarize(sim, reason, wall_s())
        _write_outputs(run_dir, sim, summary, plots)
        shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)
        return RunResult(
            summary=summary,
            out_dir=run_dir,
            rounds=sim.world.recorder.rounds,
            recorder=sim.world.recorder,
        )


def _write_outputs(run_dir: Path, sim: Simulation, summary: dict[str, Any], plots: bool) -> None:
    """Write the outputs into a hidden staging directory inside ``run_dir``, then move them
    into place one by one (atomic renames), ``summary.json`` last."""
    staging = run_dir / f".outputs.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_run(staging, sim, summary, plots)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    commit_files(staging, run_dir, last="summary.json")


def _write_run(out: Path, sim: Simulation, summary: dict[str, Any], plots: bool) -> None:
    from fedsl_sim.report.writers import write_run

    write_run(
        out,
        scenario_yaml=sim.scenario.to_yaml(),
        title=sim.scenario.name,
        recorder=sim.world.recorder,
        n_samples=sim.data.sizes,
        initial_distance_m=sim.world.channel.distance_m(0.0),
        summary=summary,
        plots=plots,
        decisions=sim.driver.controller.rows() if sim.driver.controller is not None else (),
    )
