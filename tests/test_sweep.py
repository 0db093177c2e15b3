"""``fedsl-sim sweep``: expansion, strict validation, the output layout, resumption, failed
runs, and the same results from the local process pool, the Ray backend and sequential runs."""

from __future__ import annotations

import copy
import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml
from simtools import TINY

from fedsl_sim import sweep as sweep_mod
from fedsl_sim.cli import main
from fedsl_sim.engine import run
from fedsl_sim.scenario import ScenarioError, load_scenario
from fedsl_sim.sweep import COLUMNS, load_sweep, run_id_of, run_sweep

# two static devices, no fading: a 2-round run takes well under a second once warm
BASE = copy.deepcopy(TINY)
BASE.update(scheme="lightweight_fedsl", stop={"max_rounds": 2})
BASE["devices"] = {
    "count": 2,
    "placement": {"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 150.0]]},
    "mobility": {"kind": "static"},
}
GRID = {"compression.pruning.rate": [0, 0.5], "compression.quantization.bits": [8, 32]}
SWEEP = {"base": "base.yaml", "set": {"learning.batch_size": 16}, "grid": GRID, "seeds": [1, 2]}
SUMMARY_KEYS = {
    "rounds_completed": ("rounds_completed",),
    "sim_time_s": ("sim_time_s",),
    "final_test_accuracy": ("final_test_accuracy",),
    "best_test_accuracy": ("best_test_accuracy",),
    "time_to_target_s": ("time_to_target_s",),
    "energy_total_j": ("energy_j", "total"),
    "energy_compute_j": ("energy_j", "compute"),
    "energy_transmit_j": ("energy_j", "transmit"),
    "uplink_bits": ("bits", "uplink"),
    "downlink_bits": ("bits", "downlink"),
    "wall_time_s": ("wall_time_s",),
}


def write_sweep(folder: Path, sweep: dict | None = None, base: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump(BASE if base is None else base))
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(SWEEP if sweep is None else sweep, sort_keys=False))
    return path


def read_index(out: Path) -> list[dict[str, str]]:
    with (out / "sweep.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def cell(x: object) -> str:
    return "" if x is None else repr(x) if isinstance(x, float) else str(x)


def summary_cells(summary: dict) -> dict[str, str]:
    out = {}
    for col, keys in SUMMARY_KEYS.items():
        v = summary
        for k in keys:
            v = v[k]
        out[col] = cell(v)
    return out


def mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The 2x2 grid x 2 seeds sweep, run once through the CLI with two worker processes."""
    folder = tmp_path_factory.mktemp("sweep")
    path = write_sweep(folder)
    out = folder / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    return path, out


# --------------------------------------------------------------------------- expansion
def test_expansion_order_labels_and_ids(tmp_path):
    sweep = {**SWEEP, "cases": [{"scheme": "fedsl", "compression.dropout.rate": 0}, {}]}
    sweep["grid"] = {"learning.split_layer": [1, 2], "learning.local_steps": [1, 3]}
    runs = load_sweep(write_sweep(tmp_path, sweep))
    assert len(runs) == 2 * 4 * 2
    # cases x grid (keys as written) x seeds; set keys are not part of the label
    assert [r.case for r in runs[:4]] == [
        "scheme=fedsl, compression.dropout.rate=0, learning.split_layer=1, learning.local_steps=1"
    ] * 2 + [
        "scheme=fedsl, compression.dropout.rate=0, learning.split_layer=1, learning.local_steps=3"
    ] * 2
    assert runs[8].case == "learning.split_layer=1, learning.local_steps=1"
    assert [r.seed for r in runs[:4]] == [1, 2, 1, 2]
    first = runs[0]
    assert first.overrides == {
        "learning.batch_size": 16,
        "scheme": "fedsl",
        "compression.dropout.rate": 0,
        "learning.split_layer": 1,
        "learning.local_steps": 1,
    }
    assert first.scenario == load_scenario(tmp_path / "base.yaml", first.overrides, seed=1)
    assert first.scenario.learning.local_steps == 1 and runs[2].scenario.learning.local_steps == 3
    assert len({r.run_id for r in runs}) == len(runs)
    # the id depends on the run's own overrides and seed only, not on their order or the others
    assert first.run_id == run_id_of(dict(reversed(first.overrides.items())), 1)
    smaller = load_sweep(write_sweep(tmp_path / "b", {**sweep, "cases": [sweep["cases"][0]]}))
    assert [r.run_id for r in smaller] == [r.run_id for r in runs[:8]]


def test_one_configuration_has_an_empty_label_and_the_base_seed(tmp_path):
    runs = load_sweep(write_sweep(tmp_path, {"base": "base.yaml", "name": "just-one"}))
    assert [(r.case, r.seed, r.overrides) for r in runs] == [("", BASE["seed"], {})]


# --------------------------------------------------------------------------- the local pool
def test_sweep_writes_one_done_row_per_run_matching_each_summary(swept):
    path, out = swept
    rows = read_index(out)
    expected = load_sweep(path)
    assert [(r["run_id"], r["case"], r["seed"]) for r in rows] == [
        (e.run_id, e.case, str(e.seed)) for e in expected
    ]
    assert {r["status"] for r in rows} == {"done"}
    assert (out / "sweep.yaml").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(e.run_id for e in expected)
    for row, e in zip(rows, expected, strict=True):
        assert json.loads(row["overrides"]) == e.overrides
        assert row["run_dir"] == f"runs/{e.run_id}"
        run_dir = out / row["run_dir"]
        assert sorted(p.name for p in run_dir.iterdir()) == [
            "decisions.csv",
            "devices.csv",
            "events.csv",
            "rounds.csv",
            "scenario.yaml",
            "summary.json",
        ]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["seed"] == e.seed
        assert {k: row[k] for k in SUMMARY_KEYS} == summary_cells(summary)


def test_sweep_runs_equal_sequential_runs(swept):
    """Same scenario and seed => byte-identical outputs: a sweep's worker and a run in this
    process use the scenario's torch thread count (execution.threads), whatever the caller's
    own count or the number of workers."""
    path, out = swept
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))  # not the scenario's count (1)
    try:
        for e in load_sweep(path)[::3]:
            res = run(e.scenario, out_dir=out.parent / f"seq-{e.run_id}", plots=False)
            for name in ("rounds.csv", "events.csv", "devices.csv", "scenario.yaml"):
                assert (res.out_dir / name).read_bytes() == (
                    out / "runs" / e.run_id / name
                ).read_bytes(), (e.case, e.seed, name)
    finally:
        torch.set_num_threads(before)


def _no_runs(*args, **kwargs):
    raise AssertionError("no run should be executed")


def test_second_invocation_runs_nothing(swept, tmp_path, monkeypatch):
    path, out = swept
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    before, index = mtimes(out2), read_index(out2)
    monkeypatch.setitem(sweep_mod.BACKENDS, "local", sweep_mod.Backend(_no_runs))
    got_out, rows = run_sweep(path, out2, workers=2)
    assert got_out == out2
    assert mtimes(out2) == before
    assert read_index(out2) == index
    assert [r["status"] for r in rows] == ["done"] * 8


def test_resume_redoes_an_interrupted_run_and_records_failed_ones(
    swept, tmp_path, monkeypatch, capsys
):
    """The sweep extended by a case whose runs fail at run time (an SNR threshold no static,
    unfaded link reaches: permanent outage), resumed after one run was interrupted: the failed
    runs are recorded and the sweep goes on; the interrupted run is redone; nothing else runs."""
    path, out = swept
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    victim = read_index(out2)[5]
    # what an interrupted attempt leaves: no run directory, a hidden partial one
    shutil.rmtree(out2 / victim["run_dir"])
    partial = out2 / "runs" / f".{victim['run_id']}.partial-99999"
    partial.mkdir()
    (partial / "rounds.csv").write_text("round\n")
    before = mtimes(out2)
    extended = {**SWEEP, "cases": [{"network.outage.snr_threshold_db": 99}, {}]}
    path2 = write_sweep(tmp_path / "extended", extended)
    executed = []
    real = sweep_mod._execute_local

    def counting(jobs, *args):
        executed.extend(i for i, _, _ in jobs)
        return real(jobs, *args)

    monkeypatch.setitem(sweep_mod.BACKENDS, "local", sweep_mod.Backend(counting))
    assert main(["sweep", str(path2), "--out", str(out2), "--workers", "1", "--quiet"]) == 1
    captured = capsys.readouterr()
    # cases x grid x seeds: the failing case's 8 runs first, then the original 8 (same ids)
    assert executed == [*range(8), 8 + 5]
    assert not partial.exists()
    assert {k: v for k, v in mtimes(out2).items() if k != victim["run_id"]} == before
    rows = read_index(out2)
    assert [r["run_id"] for r in rows[8:]] == [r["run_id"] for r in read_index(out)]
    assert rows[8]["case"] == "compression.pruning.rate=0, compression.quantization.bits=8"
    redone = rows[8 + 5]
    assert redone["status"] == "done"
    # deterministic: the same metrics as the first time (only the wall time differs)
    assert {k: v for k, v in redone.items() if k != "wall_time_s"} == {
        k: v for k, v in victim.items() if k != "wall_time_s"
    }
    for bad in rows[:8]:
        assert bad["status"] == "failed"
        assert bad["case"].startswith("network.outage.snr_threshold_db=99, ")
        assert all(bad[k] == "" for k in SUMMARY_KEYS)
        error = (out2 / "runs" / f"{bad['run_id']}.error.txt").read_text()
        assert "SimulationError" in error and "permanent outage" in error
        assert not (out2 / bad["run_dir"]).exists()
        assert f"failed: runs/{bad['run_id']}" in captured.err
    assert captured.out.splitlines()[-2:] == ["16 runs: 8 done, 8 failed", f"outputs: {out2}"]
    assert (out2 / "sweep.yaml").read_bytes() == path2.read_bytes()


def test_a_changed_base_scenario_is_never_mixed_in(swept, tmp_path, monkeypatch):
    path, out = swept
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    changed = copy.deepcopy(BASE)
    changed["learning"]["optimizer"]["lr"] = 0.01
    other = write_sweep(tmp_path / "changed", base=changed)
    monkeypatch.setitem(sweep_mod.BACKENDS, "local", sweep_mod.Backend(_no_runs))
    with pytest.raises(ScenarioError, match="different scenario"):
        run_sweep(other, out2)


# --------------------------------------------------------------------------- invalid input
BS, RATE = "learning.batch_size", "compression.pruning.rate"
BAD_SWEEPS = [
    ("unknown-key", {**SWEEP, "gird": GRID}, "gird", "unknown field"),
    ("missing-base", {"grid": GRID}, "base", "missing"),
    ("base-not-found", {**SWEEP, "base": "nope.yaml"}, "base", "existing scenario file"),
    ("empty-grid", {**SWEEP, "grid": {}}, "grid", "at least one key"),
    ("empty-values", {**SWEEP, "grid": {BS: []}}, f"grid.{BS}", "non-empty list"),
    ("non-list", {**SWEEP, "grid": {BS: 8}}, f"grid.{BS}", "expected a valid list, got 8"),
    ("dup-values", {**SWEEP, "grid": {BS: [8, 8]}}, f"grid.{BS}", "distinct values"),
    ("dup-seeds", {**SWEEP, "seeds": [1, 2, 1]}, "seeds", "duplicates [1]"),
    ("seed-in-grid", {**SWEEP, "grid": {"seed": [1, 2]}}, "grid.seed", "seeds:"),
    ("key-twice", {**SWEEP, "set": {RATE: 0}}, f"grid.{RATE}", "also in set"),
    ("empty-cases", {**SWEEP, "cases": []}, "cases", "at least one case"),
    ("bad-name", {**SWEEP, "name": "a b"}, "name", "pattern"),
]


@pytest.mark.parametrize(
    "sweep,field,words", [c[1:] for c in BAD_SWEEPS], ids=[c[0] for c in BAD_SWEEPS]
)
def test_invalid_sweep_file_exits_2_naming_file_and_field(tmp_path, capsys, sweep, field, words):
    path = write_sweep(tmp_path, sweep)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}: " in err and words in err
    assert "Traceback" not in err
    assert not out.exists()
    assert main(["validate", str(path)]) == 2


def test_one_invalid_expanded_scenario_stops_the_sweep_before_any_run(tmp_path, capsys):
    grid = {"compression.pruning.rate": [0.5, 1.5], "compression.quantization.bits": [8, 32]}
    path = write_sweep(tmp_path, {**SWEEP, "grid": grid})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: grid.compression.pruning.rate: " in err
    assert "1.5" in err and '"compression.pruning.rate": 1.5' in err  # the run's overrides
    assert "and 3 more invalid runs" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "change,field",
    [
        ({"cases": [{}, {"learning.split_layer": 9}]}, "cases.1.learning.split_layer"),
        ({"set": {"learning.optimizer": {"lr": -1}}}, "set.learning.optimizer.lr"),
        # a cross-field check on the combination: the scenario's field, the overrides named
        ({"cases": [{"scheme": "fedsl"}]}, "compression"),
    ],
    ids=["case", "set-mapping", "combination"],
)
def test_an_invalid_run_points_at_the_sweep_field_that_set_it(tmp_path, change, field):
    path = write_sweep(tmp_path, {**SWEEP, **change})
    with pytest.raises(ScenarioError) as info:
        load_sweep(path)
    assert info.value.source == str(path) and info.value.path == field
    assert "in the run with overrides {" in info.value.message


def test_validate_accepts_sweep_files(swept, capsys):
    path, _ = swept
    assert main(["validate", str(path), str(path.parent / "base.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ok: {path} (sweep, 8 runs)"
    assert lines[1].startswith(f"ok: {path.parent / 'base.yaml'} (tiny")


def test_ray_backend_without_ray_exits_2_with_the_install_hint(
    swept, tmp_path, monkeypatch, capsys
):
    path, _ = swept
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--backend", "ray", "--quiet"]) == 2
    assert "pip install 'fedsl-sim[ray]'" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- ray
@pytest.fixture
def no_ray_left():
    import ray  # in the test extra: the Ray backend is tested, never skipped

    assert not ray.is_initialized()
    yield ray
    if ray.is_initialized():
        ray.shutdown()


def test_ray_backend_gives_the_local_results(swept, tmp_path, no_ray_left):
    """A local Ray instance started (and stopped) by the sweep: the same sweep.csv."""
    path, out = swept
    ray_out, rows = run_sweep(path, tmp_path / "ray", workers=2, backend="ray")
    assert not no_ray_left.is_initialized()  # the sweep shut down the instance it started
    drop = lambda rows: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]  # noqa: E731
    assert drop(read_index(ray_out)) == drop(read_index(out))
    assert [r["status"] for r in rows] == ["done"] * 8
    for r in rows:
        a, b = (o / r["run_dir"] / "rounds.csv" for o in (out, ray_out))
        assert a.read_bytes() == b.read_bytes()


def test_the_shipped_quickstart_sweep_runs_resumes_and_reports(tmp_path):
    """Issue acceptance on the quickstart itself: 2 x 2 configurations x 2 seeds with two
    workers, a second invocation that runs nothing, and a report whose numbers are the
    runs' own (10 rounds each)."""
    shipped = Path(__file__).resolve().parents[1] / "scenarios" / "sweeps"
    path = shipped / "quickstart_compression.yaml"
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    index = read_index(out)
    assert [r["status"] for r in index] == ["done"] * 8
    before = mtimes(out)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert mtimes(out) == before and read_index(out) == index
    assert main(["report", str(out)]) == 0
    report = list(csv.DictReader((out / "report" / "report.csv").open()))
    assert [r["case"] for r in report] == list(dict.fromkeys(r["case"] for r in index))
    for row in report:
        runs = [r for r in index if r["case"] == row["case"]]
        acc = [json.loads((out / r["run_dir"] / "summary.json").read_text()) for r in runs]
        want = sum(s["final_test_accuracy"] for s in acc) / len(acc)
        assert float(row["final_test_accuracy_mean"]) == pytest.approx(want, rel=1e-12)
        assert row["n"] == "2"
    # the same sweep on a local Ray instance (started and stopped by the sweep)
    import ray  # in the test extra

    out_ray = tmp_path / "ray"
    argv = ["sweep", str(path), "--out", str(out_ray), "--workers", "2", "--backend", "ray"]
    assert main([*argv, "--quiet"]) == 0
    assert not ray.is_initialized()
    timeless = [{k: v for k, v in r.items() if k != "wall_time_s"} for r in index]
    assert [{k: v for k, v in r.items() if k != "wall_time_s"} for r in read_index(out_ray)] == (
        timeless
    )
