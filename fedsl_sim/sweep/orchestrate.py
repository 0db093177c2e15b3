"""Running a sweep: its directory, its index (``sweep.csv``), resuming, the runs."""

from __future__ import annotations

import json
import shutil
import sys
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fedsl_sim.report.writers import summary_metrics
from fedsl_sim.rundir import release_claim, take_claim, write_atomic
from fedsl_sim.scenario import (
    ScenarioDeprecationWarning,
    ScenarioError,
    validate_scenario,
)
from fedsl_sim.sweep import spec as runs_spec
from fedsl_sim.sweep.backends import BACKENDS
from fedsl_sim.sweep.spec import SweepRun, SweepSpec, _quoted, base_path, expand_sweep, read_sweep


def _row(run: SweepRun, status: str, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "case": run.case,
        "seed": run.seed,
        "status": status,
        "overrides": json.dumps(run.overrides, default=str),
        **dict.fromkeys(runs_spec.METRICS),
        "run_dir": f"runs/{run.run_id}",
    }
    if summary is not None:
        row.update(summary_metrics(summary))
    return row


def write_index(out: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """(Re)write ``<out>/sweep.csv`` atomically."""
    from fedsl_sim.report.writers import write_csv

    write_atomic(
        out / "sweep.csv",
        lambda p: write_csv(
            p, runs_spec.COLUMNS, ([r[c] for c in runs_spec.COLUMNS] for r in rows)
        ),
    )


def _check_out(out: Path) -> None:
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / "sweep.yaml").is_file())
    ):
        raise ScenarioError(
            "--out", f"{out} exists and is neither empty nor a sweep directory (no sweep.yaml)"
        )


def _finished_summary(run: SweepRun, run_dir: Path, out: Path) -> dict[str, Any] | None:
    """The summary of a complete earlier run of exactly this scenario; None when there is none.
    A complete run of another scenario (the base file changed) is an error: never mixed in."""
    summary_path = run_dir / "summary.json"
    if run_dir.exists() and not run_dir.is_dir():
        warnings.warn(f"{run_dir} is not a run directory: the run is done again", stacklevel=2)
        run_dir.unlink()
        return None
    if not summary_path.is_file():
        return None
    try:
        summary = json.loads(summary_path.read_text())
        if not isinstance(summary, dict):
            raise ValueError("not a JSON object")
        missing = [k for k in ("rounds_completed", "energy_j", "bits") if k not in summary]
        if missing:
            raise ValueError(f"missing {missing}")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        warnings.warn(f"{summary_path} is unreadable ({exc}): the run is done again", stacklevel=2)
        return None
    try:
        with warnings.catch_warnings():  # an older run's spellings: not the user's to fix
            warnings.simplefilter("ignore", ScenarioDeprecationWarning)
            earlier = validate_scenario(
                yaml.safe_load((run_dir / "scenario.yaml").read_text()), str(run_dir)
            )
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ScenarioError):
        earlier = None
    if earlier != run.scenario:
        raise ScenarioError(
            str(out),
            f"{run_dir.relative_to(out)} holds a run of a different scenario than this sweep's "
            f"(overrides {_quoted(run.overrides)}, seed {run.seed}); was the "
            "base scenario changed? Use another --out, or delete that run directory",
        )
    return summary


def run_sweep(
    path: str | Path,
    out_dir: str | Path | None = None,
    workers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    progress: bool = False,
    max_runs: int = runs_spec.MAX_SWEEP_RUNS,
) -> tuple[Path, list[dict[str, Any]]]:
    """Run every run of a sweep file that has not finished yet.

    Parameters
    ----------
    path : sweep YAML file.
    out_dir : the sweep directory (created, or an earlier one to resume); default
        ``results/sweeps/<name>/``.
    workers : parallel runs; default as many as the CPUs hold runs of their
        ``execution.threads`` (at most the runs to do).
    backend : ``"local"`` (spawned processes) or ``"ray"`` (Ray tasks; ``address`` of a
        cluster, or a local instance started and stopped here).
    progress : progress bar (runs done/total, ETA) on stderr.

    Returns
    -------
    The sweep directory and its ``sweep.csv`` rows (dicts keyed by column). Runs that raised
    are ``failed`` rows, with the traceback in ``runs/<run_id>.error.txt``.
    """
    if backend not in BACKENDS:
        known = ", ".join(repr(b) for b in BACKENDS)
        raise ScenarioError("--backend", f"expected one of {known}, got {backend!r}")
    if workers is not None and workers < 1:
        raise ScenarioError("--workers", f"expected at least 1, got {workers}")
    if address is not None and not BACKENDS[backend].takes_address:
        raise ScenarioError("--address", "expected only with a cluster backend (--backend ray)")
    spec = read_sweep(path)
    runs = expand_sweep(spec, path, max_runs)
    BACKENDS[backend].check()
    out = (
        Path(out_dir)
        if out_dir is not None
        else Path("results") / "sweeps" / (spec.name or Path(path).stem)
    )
    _check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError("--out", f"cannot create {out}: {exc.strerror or exc}") from None
    take_claim(out)  # two sweeps into one directory would delete each other's runs
    try:
        return _run_claimed(spec, runs, path, out, workers, backend, address, progress)
    finally:
        release_claim(out)


def _run_claimed(
    spec: SweepSpec,
    runs: list[SweepRun],
    path: str | Path,
    out: Path,
    workers: int | None,
    backend: str,
    address: str | None,
    progress: bool,
) -> tuple[Path, list[dict[str, Any]]]:
    runs_dir = out / "runs"
    summaries = [_finished_summary(r, runs_dir / r.run_id, out) for r in runs]

    runs_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "sweep.yaml", lambda p: shutil.copyfile(path, p))
    rows = [
        _row(r, runs_spec.PENDING if s is None else runs_spec.DONE, s)
        for r, s in zip(runs, summaries, strict=True)
    ]
    jobs = []
    for i, (r, s) in enumerate(zip(runs, summaries, strict=True)):
        if s is not None:
            continue
        run_dir = runs_dir / r.run_id
        # leftovers of an interrupted attempt: a partial directory, an incomplete one, an error
        for leftover in runs_dir.glob(f".{r.run_id}.partial-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        if run_dir.exists():
            shutil.rmtree(run_dir)
        (runs_dir / f"{r.run_id}.error.txt").unlink(missing_ok=True)
        jobs.append((i, r.scenario, str(run_dir.resolve())))
    write_index(out, rows)

    from tqdm import tqdm

    bar = tqdm(
        total=len(runs),
        initial=len(runs) - len(jobs),
        disable=not progress,
        file=sys.stderr,
        unit="run",
        desc="sweep",
        dynamic_ncols=True,
    )

    def finished(i: int, summary: dict[str, Any] | None, exc: BaseException | None) -> None:
        r = runs[i]
        if exc is None:
            rows[i] = _row(r, runs_spec.DONE, summary)
        else:
            rows[i] = _row(r, runs_spec.FAILED, None)
            cause = getattr(exc, "cause", None) or exc  # a Ray task error wraps the original
            text = "".join(traceback.format_exception(exc))
            (runs_dir / f"{r.run_id}.error.txt").write_text(text)
            first = f"{type(cause).__name__}: {cause}".splitlines()[0]
            label = f"{r.case}, seed {r.seed}" if r.case else f"seed {r.seed}"
            tqdm.write(f"failed: runs/{r.run_id} ({label}): {first}", file=sys.stderr)
        write_index(out, rows)
        bar.update(1)

    source = str(base_path(spec, path))
    try:
        if jobs:
            BACKENDS[backend].execute(jobs, source, workers, address, finished)
    finally:
        bar.close()
        write_index(out, rows)
    return out, rows
