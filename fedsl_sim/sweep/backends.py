"""Where a sweep's runs execute: a backend per name in :data:`BACKENDS` — ``local`` (a pool
of spawned processes) or ``ray`` (Ray tasks; an optional dependency). A backend takes the jobs
``(index, scenario, run_dir)`` and calls ``done(index, summary, exception)`` as each finishes;
whatever a run raises reaches the sweep intact (:func:`portable_exception`)."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fedsl_sim.scenario import (
    Scenario,
    ScenarioError,
)
from fedsl_sim.sweep.spec import RAY_HINT


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _init_worker(threads: int) -> None:
    """Pool-process initializer: the CPU threads of OpenMP/MKL (numpy's and torch's kernels
    before a run sets torch's own count) limited to the runs' ``execution.threads``, so that
    the workers do not oversubscribe the cores."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)


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


def execute_run(scenario: Scenario, run_dir: str, source: str) -> dict[str, Any]:
    """Run one scenario into ``run_dir`` (in a worker process or Ray task) with its
    ``execution.threads`` torch threads; its summary. What it raises always reaches the sweep
    intact (see :func:`portable_exception`)."""
    from fedsl_sim.engine import run

    try:
        return run(scenario, out_dir=run_dir, progress=False, plots=False, source=source).summary
    except Exception as exc:
        safe = portable_exception(exc)
        if safe is exc:
            raise
        raise safe from None


# (index, summary) or (index, exception) as runs finish
Finished = Callable[[int, dict[str, Any] | None, BaseException | None], None]
#: the runs to execute: (index, scenario, run directory)
Jobs = Sequence[tuple[int, Scenario, str]]


def _execute_local(
    jobs: Jobs, source: str, workers: int | None, address: str | None, done: Finished
) -> None:
    """Run ``jobs`` in a pool of ``workers`` spawned processes (default: as many as the CPUs
    hold runs of their ``execution.threads``, at most one per job)."""
    threads = max((sc.execution.threads for _, sc, _ in jobs), default=1)
    workers = workers or max(1, min(len(jobs), _cpu_count() // threads))
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

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
            pending = {pool.submit(execute_run, sc, run_dir, source): i for i, sc, run_dir in jobs}
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
    jobs: Jobs, source: str, workers: int | None, address: str | None, done: Finished
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
        share = max(1, cpus // max(1, n))  # --workers runs at a time on the cluster's CPUs
        task = ray.remote(execute_run)
        pending = {}
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        for i, sc, run_dir in jobs:
            sc, gpu = _ray_device(sc, has_gpus)
            # a task asks for its share of the CPUs, at least the threads its run uses (at
            # most the cluster's: a task asking for more would never be scheduled)
            need = min(cpus, max(share, sc.execution.threads))
            opts = task.options(num_cpus=need, num_gpus=1 if gpu else 0, max_retries=0)
            pending[opts.remote(sc, run_dir, source)] = i
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


def _check_ray() -> None:
    _import_ray()


@dataclass(frozen=True)
class Backend:
    """How runs execute: ``execute(jobs, source, workers, address, done)``; ``check()``
    raises :class:`ScenarioError` (exit 2) when the backend cannot be used here;
    ``takes_address``: it connects to a cluster at ``--address``."""

    execute: Callable[[Jobs, str, int | None, str | None, Finished], None]
    check: Callable[[], None] = lambda: None
    takes_address: bool = False


BACKENDS: dict[str, Backend] = {
    "local": Backend(_execute_local),
    "ray": Backend(_execute_ray, check=_check_ray, takes_address=True),
}
