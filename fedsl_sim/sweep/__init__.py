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

from fedsl_sim.sweep.backends import (  # noqa: F401
    BACKENDS,
    Backend,
    Finished,
    RunError,
    _cpu_count,
    _execute_local,
    _execute_ray,
    _import_ray,
    _ray_device,
    execute_run,
    portable_exception,
)
from fedsl_sim.sweep.orchestrate import (  # noqa: F401
    _finished_summary,
    _row,
    run_sweep,
    write_index,
)
from fedsl_sim.sweep.spec import (  # noqa: F401
    COLUMNS,
    DONE,
    FAILED,
    MAX_SWEEP_RUNS,
    METRICS,
    PENDING,
    RAY_HINT,
    Seed,
    SweepRun,
    SweepSpec,
    base_path,
    expand_sweep,
    is_sweep_file,
    load_sweep,
    read_sweep,
    run_id_of,
)
