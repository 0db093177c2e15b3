"""Sweep files: what a sweep varies, its expansion into runs, and their run ids."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from fedsl_sim.report.writers import SUMMARY_METRICS
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
