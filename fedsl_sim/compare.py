"""Compare schemes on one scenario: the same devices, channels and mini-batch order.

``fedsl-sim compare SCENARIO`` is a generated sweep plus its report: one case per scheme —
every scheme except ``lightweight_fedsl`` with compression off (the baselines of the paper) —
over the scenario, run by :func:`fedsl_sim.sweep.run_sweep` into ``<out>/`` (``sweep.yaml``,
``sweep.csv``, ``runs/<run_id>/``; resumable like any sweep), then reported by
:func:`fedsl_sim.report.study.write_report` into ``<out>/report/`` (accuracy vs time of every
scheme, latency, energy, Pareto front), with ``compare.csv`` (one row per scheme) beside.
Every scheme's scenario is validated before any run.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fedsl_sim.build import check_scenario
from fedsl_sim.report.study import write_report
from fedsl_sim.report.writers import SUMMARY_METRICS, write_csv
from fedsl_sim.rundir import write_atomic
from fedsl_sim.scenario import SCHEMES, Scenario, load_scenario
from fedsl_sim.sweep import run_sweep

COMPRESSION_OFF = {
    "compression.pruning.rate": 0.0,
    "compression.quantization.bits": 32,
    "compression.dropout.rate": 0.0,
}
COLUMNS = ("scheme", "status", *SUMMARY_METRICS, "run_dir")


def scheme_case(scheme: str) -> dict[str, Any]:
    """The overrides of one scheme's case: the baselines without compression."""
    return {"scheme": scheme, **({} if scheme == "lightweight_fedsl" else COMPRESSION_OFF)}


def scheme_scenarios(
    path: str | Path, schemes: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Scenario]:
    """The scenario of each scheme (all validated first)."""
    out = {}
    for scheme in schemes:
        ov = {**(overrides or {}), **scheme_case(scheme)}
        out[scheme] = check_scenario(load_scenario(path, overrides=ov), str(path))
    return out


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}", v))
        return out
    return {prefix: value}


def _cases(schemes: Sequence[str], overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each scheme's overrides on top of the user's (the scheme's win, as when applied after
    them). A user mapping that some scheme's keys reach into is spread into dotted keys for
    every case (a sweep's cases must name the same fields the same way)."""
    own = [scheme_case(s) for s in schemes]
    reached = {k for case in own for k in case}
    user: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping) and any(k.startswith(key + ".") for k in reached):
            user.update(_flatten(key, value))
        else:
            user[key] = value
    return [{**{k: v for k, v in user.items() if k not in case}, **case} for case in own]


def compare_sweep(
    path: str | Path, schemes: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The sweep of a comparison: the scenario as base, one case per scheme with the user's
    overrides (a ``seed`` override becomes the sweep's seed)."""
    ov = dict(overrides or {})
    seed = ov.pop("seed", None)
    spec: dict[str, Any] = {
        "base": str(Path(path).resolve()),
        "cases": _cases(schemes, ov),
    }
    if seed is not None:
        spec["seeds"] = [seed]
    return spec


def compare(
    path: str | Path,
    schemes: Sequence[str] = SCHEMES,
    out_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = False,
    workers: int = 1,
) -> tuple[Path, list[dict[str, Any]]]:
    """Run every scheme (``workers`` at a time) and report them; returns the comparison
    directory and one summary per scheme that finished (in ``schemes`` order)."""
    schemes = list(dict.fromkeys(schemes))  # each once, in the order given
    scenarios = scheme_scenarios(path, schemes, overrides)
    name = next(iter(scenarios.values())).name
    final = (
        Path(out_dir)
        if out_dir is not None
        else (Path("results") / name / f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    spec = {"name": f"compare-{name}"[:100], **compare_sweep(path, schemes, overrides)}
    with tempfile.TemporaryDirectory() as tmp:
        sweep_file = Path(tmp) / f"compare-{name}.yaml"
        sweep_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        out, rows = run_sweep(sweep_file, final, workers=workers, progress=progress)
    summaries = []
    table = []
    for scheme, row in zip(schemes, rows, strict=True):
        table.append((scheme, row["status"], *(row[m] for m in SUMMARY_METRICS), row["run_dir"]))
        summary_path = out / row["run_dir"] / "summary.json"
        if row["status"] == "done" and summary_path.is_file():
            summaries.append(json.loads(summary_path.read_text()))
    write_atomic(out / "compare.csv", lambda p: write_csv(p, COLUMNS, table))
    if summaries:
        write_report(out)
    return out, summaries
