"""Parameter sweeps: one base scenario, a grid of overrides, several seeds, many runs.

A sweep file names a base scenario and what to vary::

    base: ../quickstart.yaml            # relative to the sweep file's folder
    set: {stop.max_rounds: 40}          # applied to every run
    grid: {compression.pruning.rate: [0, 0.3], compression.quantization.bits: [4, 8]}
    cases: [{scheme: fl}, {scheme: lightweight_fedsl}]   # optional, crossed with the grid
    seeds: [1, 2, 3]                    # optional; default the base scenario's seed
    name: my-sweep                      # optional; default the sweep file's stem

Runs are expanded as cases x grid (keys in the order written) x seeds, and every expanded
scenario is validated before any run starts. ``fedsl-sim sweep`` writes::

    <out>/sweep.yaml        copy of the sweep file
    <out>/sweep.csv         one row per run, in expansion order (rewritten after every run)
    <out>/runs/<run_id>/    an ordinary run directory (see :func:`fedsl_sim.engine.run`)

A run's ``run_id`` (``<sha1 of its overrides>-s<seed>``) depends only on its own overrides
and seed, so a sweep is resumable: a run whose ``summary.json`` exists is not run again.
Runs execute in a pool of spawned processes (``backend="local"``) or as Ray tasks
(``backend="ray"``, an optional dependency).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import math
import os
import pickle
import shutil
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from fedsl_sim.report.writers import SUMMARY_METRICS, summary_metrics
from fedsl_sim.rundir import release_claim, take_claim
from fedsl_sim.scenario import (
    MAX_ECHO_CHARS,
    Scenario,
    ScenarioError,
    _FieldError,
    apply_overrides,
    input_error,
    read_yaml_mapping,
    validate_scenario,
)

COLUMNS = ("run_id", "case", "seed", "status", "overrides", *SUMMARY_METRICS, "run_dir")
METRICS = SUMMARY_METRICS
DONE, FAILED, PENDING = "done", "failed", "pending"
RAY_HINT = "pip install 'fedsl-sim[ray]'"

Seed = Annotated[StrictInt, Field(ge=0, lt=2**63)]
#: most runs a sweep may expand to unless the caller raises the limit (``--max-runs``)
MAX_SWEEP_RUNS = 100_000


def _quoted(value: Any) -> str:
    """``value`` as JSON for a message, at most :data:`MAX_ECHO_CHARS` characters."""
    text = json.dumps(value, default=str)
    if len(text) > MAX_ECHO_CHARS:
        text = text[:MAX_ECHO_CHARS] + f"... ({len(text)} characters)"
    return text


def _canonical(value: Any) -> str:
    """Key-order independent JSON (YAML dates and the like as strings)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class SweepSpec(BaseModel):
    """A sweep file, validated (strict: unknown keys are errors)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    base: Annotated[str, Field(min_length=1)]
    set_: dict[str, Any] = Field(default_factory=dict, alias="set")
    grid: dict[str, list[Any]] | None = None
    cases: list[dict[str, Any]] | None = None
    seeds: list[Seed] | None = None
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)] | None = (
        None
    )

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, grid: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        if grid is None:
            return None
        if not grid:
            raise ValueError("expected at least one key with a list of values, got {}")
        for key, values in grid.items():
            if not values:
                raise _FieldError((key,), "expected a non-empty list of values, got []")
            seen = [_canonical(v) for v in values]
            dups = [json.loads(v) for v in sorted({v for v in seen if seen.count(v) > 1})]
            if dups:
                raise _FieldError((key,), f"expected distinct values, got duplicates {dups}")
        return grid

    @field_validator("cases")
    @classmethod
    def _distinct_cases(cls, cases: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if cases is None:
            return None
        if not cases:
            raise ValueError("expected at least one case (a mapping of overrides), got []")
        seen: dict[str, int] = {}
        for i, case in enumerate(cases):
            j = seen.setdefault(_canonical(case), i)
            if j != i:
                raise _FieldError((i,), f"expected distinct cases, got a repeat of case {j}")
        return cases

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is None:
            return None
        if not seeds:
            raise ValueError("expected at least one seed, got []")
        dups = sorted({s for s in seeds if seeds.count(s) > 1})
        if dups:
            raise ValueError(f"expected distinct seeds, got duplicates {dups}")
        return seeds

    @model_validator(mode="after")
    def _keys(self) -> SweepSpec:
        owner: dict[str, str] = {}
        groups: list[tuple[tuple[str | int, ...], Mapping[str, Any]]] = [
            (("set",), self.set_),
            (("grid",), self.grid or {}),
        ]
        groups += [(("cases", i), case) for i, case in enumerate(self.cases or ())]
        # a key inside another (a.b and a.b.c) would make one override silently replace or
        # rewrite the other: refused wherever the two are
        every = [(loc + (key,), key) for loc, mapping in groups for key in mapping]
        for where, key in every:
            for other_where, other in every:
                if other.startswith(key + "."):
                    raise _FieldError(
                        other_where,
                        f"expected fields that do not overlap; {other!r} is inside {key!r} "
                        f"({'.'.join(map(str, where[:-1]))}): set one or the other",
                    )
        for loc, mapping in groups:
            for key in mapping:
                where = loc + (key,)
                if any(not part for part in key.split(".")):
                    raise _FieldError(where, "expected a dotted field path like a.b.c")
                if key == "seed":
                    raise _FieldError(where, "expected no seed here; list seeds under seeds:")
                first = owner.setdefault(key, loc[0])
                if first != loc[0]:
                    raise _FieldError(
                        where,
                        f"expected each field in one of set, grid and cases; {key!r} is also "
                        f"in {first}",
                    )
        return self

    @property
    def n_configurations(self) -> int:
        return len(self.cases or [{}]) * math.prod(len(v) for v in (self.grid or {}).values())

    @property
    def n_runs(self) -> int:
        """Runs the sweep expands to (configurations x seeds), counted without expanding."""
        return self.n_configurations * len(self.seeds or [None])


class SweepRun(NamedTuple):
    """One expanded run: its id, its label, its overrides (without the seed), its seed and
    its validated scenario."""

    run_id: str
    case: str
    overrides: dict[str, Any]
    seed: int
    scenario: Scenario


def run_id_of(overrides: Mapping[str, Any], seed: int) -> str:
    """``<first 10 hex digits of sha1(canonical JSON of overrides)>-s<seed>``: stable across
    invocations and independent of the sweep's other runs."""
    digest = hashlib.sha1(_canonical(dict(overrides)).encode()).hexdigest()[:10]
    return f"{digest}-s{seed}"


def is_sweep_file(path: str | Path) -> bool:
    """Whether ``path`` is a YAML mapping with a top-level ``base:`` key (False when it cannot
    be read: the scenario loader then reports why)."""
    try:
        return "base" in read_yaml_mapping(path)
    except ScenarioError:
        return False


def read_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (not the scenarios it expands to)."""
    source = str(path)
    data = read_yaml_mapping(path)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, data, source) from None
    base = base_path(spec, path)
    if not base.is_file():
        raise ScenarioError(
            source, f"expected an existing scenario file, got {str(base)!r}", "base"
        )
    if is_sweep_file(base):
        raise ScenarioError(
            source, f"expected a scenario, got another sweep file {str(base)!r}", "base"
        )
    return spec


def base_path(spec: SweepSpec, sweep_path: str | Path) -> Path:
    """The base scenario's path (relative paths are relative to the sweep file's folder)."""
    base = Path(spec.base)
    return base if base.is_absolute() else Path(sweep_path).parent / base


def _label(overrides: Mapping[str, Any]) -> str:
    def text(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), default=str)

    return ", ".join(f"{k}={text(v)}" for k, v in overrides.items())


def _configurations(spec: SweepSpec) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(the case's and grid's overrides, the case) in expansion order: cases x grid."""
    grid = spec.grid or {}
    for case in spec.cases or [{}]:
        for values in itertools.product(*grid.values()):
            yield {**case, **dict(zip(grid, values, strict=True))}, case


def expand_sweep(
    spec: SweepSpec, path: str | Path, max_runs: int = MAX_SWEEP_RUNS
) -> list[SweepRun]:
    """Every run of the sweep, each scenario validated; the first invalid one is reported as
    a :class:`ScenarioError` naming the sweep file, the run's overrides and the field. A sweep
    of more than ``max_runs`` runs is refused before anything is expanded; two runs that come
    out as the same scenario (e.g. grid values 0 and 0.0) are refused too."""
    if spec.n_runs > max_runs:
        raise ScenarioError(
            str(path),
            f"the sweep expands to {spec.n_runs:,} runs, more than the limit of {max_runs:,}; "
            "split it, or raise the limit with --max-runs",
        )
    base = base_path(spec, path)
    base_data = read_yaml_mapping(base)  # read once, not once per run
    base_dir = base.resolve().parent
    one = spec.n_configurations == 1
    runs: list[SweepRun] = []
    errors: list[ScenarioError] = []
    from fedsl_sim.build import check_scenario  # imports the model code (torch)

    seen: dict[str, SweepRun] = {}
    for varied, case in _configurations(spec):
        overrides = {**spec.set_, **varied}
        for seed in spec.seeds or [None]:
            merged = copy.deepcopy(overrides)  # a run never changes another's values
            if seed is not None:
                merged["seed"] = seed
            try:
                data = apply_overrides(copy.deepcopy(base_data), merged, str(base))
                sc = check_scenario(
                    validate_scenario(data, str(base), base_dir=base_dir), str(base)
                )
            except ScenarioError as exc:
                errors.append(_run_error(spec, path, base, overrides, case, seed, exc))
                continue
            key = sc.model_dump_json()
            twin = seen.get(key)
            if twin is not None:
                raise ScenarioError(
                    str(path),
                    f"the runs with overrides {_quoted(twin.overrides)} and "
                    f"{_quoted(overrides)} (seed {sc.seed}) are the same "
                    "scenario (e.g. grid values 0 and 0.0): list each value once",
                )
            run = SweepRun(
                run_id_of(overrides, sc.seed),
                "" if one else _label(varied),
                copy.deepcopy(overrides),
                sc.seed,
                sc,
            )
            seen[key] = run
            runs.append(run)
    if errors:
        first = errors[0]
        more = f"\n  (and {len(errors) - 1} more invalid runs)" if len(errors) > 1 else ""
        raise ScenarioError(first.source, first.message + more, path=first.path)
    return runs


def _run_error(
    spec: SweepSpec,
    path: str | Path,
    base: Path,
    overrides: Mapping[str, Any],
    case: Mapping[str, Any],
    seed: int | None,
    exc: ScenarioError,
) -> ScenarioError:
    """An expanded scenario's error, pointing at the sweep field that set the failing value."""
    field = exc.path
    # the override that set the failing value (the longest key containing the field); a field
    # no override set (a cross-field check failing on the combination) stays as it is
    keys = [k for k in overrides if field is not None and (field + ".").startswith(k + ".")]
    if field is not None and keys:
        key = max(keys, key=len)
        if key in spec.set_:
            field = f"set.{field}"
        elif key in case:
            field = f"cases.{(spec.cases or []).index(dict(case))}.{field}"
        else:
            field = f"grid.{field}"
    seed_text = "" if seed is None else f", seed {seed}"
    detail = exc.message if exc.path is not None else str(exc)
    return ScenarioError(
        str(path),
        f"{detail}\n  in the run with overrides {_quoted(dict(overrides))}"
        f"{seed_text} (base scenario {base})",
        path=field,
    )


def load_sweep(path: str | Path, max_runs: int = MAX_SWEEP_RUNS) -> list[SweepRun]:
    """Read a sweep file and expand it: ``[(run_id, case, overrides, seed, scenario), ...]``
    in expansion order (cases x grid x seeds), every scenario validated."""
    return expand_sweep(read_sweep(path), path, max_runs)


# --------------------------------------------------------------------------- workers
def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _init_worker(threads: int) -> None:
    """Pool-process initializer: this worker's share of the cores."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


class RunError(RuntimeError):
    """A run's failure whose own exception could not cross the process boundary (it does not
    survive pickling): its type and message, as text."""


def portable_exception(exc: BaseException) -> BaseException:
    """``exc`` if it survives a pickle round trip (a worker process or Ray task sends it to
    the sweep), else a :class:`RunError` carrying its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RunError(f"{type(exc).__name__}: {exc}")
    return exc


def execute_run(scenario: Scenario, run_dir: str, source: str, threads: int) -> dict[str, Any]:
    """Run one scenario into ``run_dir`` (in a worker process or Ray task); its summary.
    What it raises always reaches the sweep intact (see :func:`portable_exception`)."""
    import torch

    from fedsl_sim.engine import run

    torch.set_num_threads(threads)
    try:
        return run(scenario, out_dir=run_dir, progress=False, plots=False, source=source).summary
    except Exception as exc:
        safe = portable_exception(exc)
        if safe is exc:
            raise
        raise safe from None


# (index, summary) or (index, exception) as runs finish
Finished = Callable[[int, dict[str, Any] | None, BaseException | None], None]


def _execute_local(
    jobs: Sequence[tuple[int, Scenario, str]], source: str, workers: int, done: Finished
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, _cpu_count() // workers)
    ours = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads,),
    )
    try:
        # the workers (spawned on submit) inherit an ignored SIGINT: Ctrl-C reaches only this
        # process, which then stops them (no tracebacks from every worker, no run finishing late)
        with _sigint_ignored():
            pending = {
                pool.submit(execute_run, sc, run_dir, source, threads): i for i, sc, run_dir in jobs
            }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = pending.pop(fut)
                exc = fut.exception()
                done(i, None if exc is not None else fut.result(), exc)
    except BaseException:
        for proc in set(multiprocessing.active_children()) - ours:
            proc.terminate()  # an interrupted run leaves at most a hidden .partial directory
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ScenarioError(
            "--backend", f"the ray backend needs Ray, which is not installed: {RAY_HINT}"
        ) from None
    return ray


def _ray_device(sc: Scenario, cluster_has_gpus: bool) -> tuple[Scenario, bool]:
    """The scenario a Ray task runs and whether it asks for a GPU: ``cuda`` / ``cuda:N``
    always, ``auto`` when the cluster has GPUs, ``cpu`` never. (Ray shows a task only the GPU
    it assigns, as ``cuda:0``: ``cuda:N`` with N > 0 fails there, naming the field.)"""
    device = sc.learning.compute_device
    return sc, device.startswith("cuda") or (device == "auto" and cluster_has_gpus)


def _execute_ray(
    jobs: Sequence[tuple[int, Scenario, str]],
    source: str,
    workers: int | None,
    address: str | None,
    done: Finished,
) -> None:
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        if address is None and not os.environ.get("RAY_ADDRESS"):
            # "local": a new instance, never a cluster `ray start` left running on this host
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
            started_here = True
        else:  # a cluster: connect, leave it running
            ray.init(address=address)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = min(len(jobs), cpus) if workers is None else workers
        share = max(1, cpus // max(1, n))
        task = ray.remote(execute_run)
        pending = {}
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        for i, sc, run_dir in jobs:
            sc, gpu = _ray_device(sc, has_gpus)
            opts = task.options(num_cpus=share, num_gpus=1 if gpu else 0, max_retries=0)
            pending[opts.remote(sc, run_dir, source, share)] = i
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    try:
                        summary = ray.get(ref)
                    except Exception as exc:  # a failed task: data, not the sweep's end
                        done(i, None, exc)
                    else:
                        done(i, summary, None)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------- the sweep
def _row(run: SweepRun, status: str, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "case": run.case,
        "seed": run.seed,
        "status": status,
        "overrides": json.dumps(run.overrides, default=str),
        **dict.fromkeys(METRICS),
        "run_dir": f"runs/{run.run_id}",
    }
    if summary is not None:
        row.update(summary_metrics(summary))
    return row


def _replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary sibling and ``os.replace`` (atomic)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_index(out: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """(Re)write ``<out>/sweep.csv`` atomically."""
    from fedsl_sim.report.writers import write_csv

    _replace_file(
        out / "sweep.csv", lambda p: write_csv(p, COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
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
    max_runs: int = MAX_SWEEP_RUNS,
) -> tuple[Path, list[dict[str, Any]]]:
    """Run every run of a sweep file that has not finished yet.

    Parameters
    ----------
    path : sweep YAML file.
    out_dir : the sweep directory (created, or an earlier one to resume); default
        ``results/sweeps/<name>/``.
    workers : parallel runs; default min(#runs to do, #CPUs).
    backend : ``"local"`` (spawned processes) or ``"ray"`` (Ray tasks; ``address`` of a
        cluster, or a local instance started and stopped here).
    progress : progress bar (runs done/total, ETA) on stderr.

    Returns
    -------
    The sweep directory and its ``sweep.csv`` rows (dicts keyed by column). Runs that raised
    are ``failed`` rows, with the traceback in ``runs/<run_id>.error.txt``.
    """
    if backend not in ("local", "ray"):
        raise ScenarioError("--backend", f"expected 'local' or 'ray', got {backend!r}")
    if workers is not None and workers < 1:
        raise ScenarioError("--workers", f"expected at least 1, got {workers}")
    if address is not None and backend != "ray":
        raise ScenarioError("--address", "expected only with --backend ray")
    spec = read_sweep(path)
    runs = expand_sweep(spec, path, max_runs)
    if backend == "ray":
        _import_ray()
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
    _replace_file(out / "sweep.yaml", lambda p: shutil.copyfile(path, p))
    rows = [
        _row(r, PENDING if s is None else DONE, s) for r, s in zip(runs, summaries, strict=True)
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
            rows[i] = _row(r, DONE, summary)
        else:
            rows[i] = _row(r, FAILED, None)
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
        if jobs and backend == "ray":
            _execute_ray(jobs, source, workers, address, finished)
        elif jobs:
            _execute_local(jobs, source, workers or min(len(jobs), _cpu_count()), finished)
    finally:
        bar.close()
        write_index(out, rows)
    return out, rows
