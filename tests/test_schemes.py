"""Invariants that make scheme comparisons meaningful."""

from __future__ import annotations

import pytest
from simtools import make_scenario

from fedsl_sim.engine import Simulation


def trajectory(sim: Simulation) -> list[tuple]:
    """What learning produced each round (not when): accuracy, test loss, train loss."""
    return [(r.test_accuracy, r.test_loss, r.train_loss) for r in sim.world.recorder.rounds]


def run(**overrides) -> Simulation:
    sim = Simulation.build(make_scenario(**overrides))
    sim.run_rounds()
    return sim


COMMON = dict(
    stop__max_rounds=4,
    learning__eval_every_rounds=1,
    learning__aggregation_interval=1,
    learning__optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
)


@pytest.mark.parametrize("split_layer", [1, 2, 3, 4])
def test_one_device_split_learns_exactly_like_unsplit_training(split_layer):
    unsplit = run(scheme="fl", learning__split_layer=split_layer, **COMMON)
    for scheme in ("sl", "fedsl", "sfl_v1", "sfl_v2"):
        split = run(scheme=scheme, learning__split_layer=split_layer, **COMMON)
        assert trajectory(split) == trajectory(unsplit), scheme
    assert (
        split.world.recorder.rounds[-1].sim_time_s != unsplit.world.recorder.rounds[-1].sim_time_s
    )


def test_simulated_time_changes_with_the_split_layer_not_the_learning():
    sims = [run(scheme="fedsl", learning__split_layer=s, **COMMON) for s in (1, 3)]
    assert trajectory(sims[0]) == trajectory(sims[1])
    assert (
        sims[0].world.recorder.rounds[-1].sim_time_s != sims[1].world.recorder.rounds[-1].sim_time_s
    )


def test_sfl_v1_with_one_step_and_iid_equal_shards_equals_fl():
    two = dict(
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 150.0]]},
        learning__optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.0},
    )
    common = {**COMMON, **two}
    fl = run(scheme="fl", **common)
    v1 = run(scheme="sfl_v1", **common)
    assert list(fl.data.sizes) == [719, 719]  # equal IID shards of the 1438 digits
    assert trajectory(v1) == trajectory(fl)
    # and SFL-V2 is a different algorithm: one shared server model, updated in turn
    assert trajectory(run(scheme="sfl_v2", **common)) != trajectory(fl)


def test_sfl_v2_serves_the_far_device_last():
    sim = run(
        scheme="sfl_v2",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[280.0, 0.0], [30.0, 0.0]]},
        stop__max_rounds=3,
    )
    for r in range(3):
        order = [
            e.device
            for e in sim.world.recorder.events
            if e.kind == "server_compute" and e.round == r
        ]
        assert order == [1, 0]  # device 1 (30 m) first, device 0 (280 m) last, every round
    # its uplink took longer, so its request reached the server after the other was served
    ev = sim.world.recorder.events
    up = {e.device: e.t_end_s for e in ev if e.kind == "uplink" and e.round == 0}
    srv = {e.device: e.t_start_s for e in ev if e.kind == "server_compute" and e.round == 0}
    assert up[1] <= srv[1] < up[0] <= srv[0]


def test_vanilla_split_learning_hands_the_model_from_device_to_device():
    sim = run(
        scheme="sl",
        devices__count=3,
        devices__placement={"kind": "uniform_disc", "radius_m": 200.0},
        stop__max_rounds=2,
    )
    ev = sim.world.recorder.events
    steps = [e.device for e in ev if e.kind == "server_compute" and e.device is not None]
    assert steps == [0, 1, 2, 0, 1, 2]  # in turn, one local step each, every round
    ups = [(e.device, e.round) for e in ev if e.kind == "model_upload"]
    downs = [(e.device, e.round) for e in ev if e.kind == "model_download"]
    # 0 -> 1 -> 2 in round 0, then 2 -> 0 -> 1 -> 2 in round 1: the model travels via the server
    assert ups == [(0, 0), (1, 0), (2, 1), (0, 1), (1, 1)]
    assert downs == [(1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    # no two devices train at the same time
    busy = sorted((e.t_start_s, e.t_end_s) for e in ev if e.kind == "client_forward")
    assert all(a[1] <= b[0] for a, b in zip(busy, busy[1:], strict=False))


def test_compare_runs_every_scheme_on_the_same_federation(tmp_path):
    import csv
    import json
    import subprocess
    import sys
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "compare_schemes.yaml"
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fedsl_sim",
            "compare",
            str(scenario),
            "--schemes",
            "fl,sfl_v2,lightweight_fedsl",
            "--set",
            "stop.max_rounds=2",
            "--set",
            "seed=3",
            "--set",
            "compression.pruning={rate: 0.2, scope: layer}",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["scheme"] for r in rows] == ["fl", "sfl_v2", "lightweight_fedsl"]
    assert all(r["status"] == "done" for r in rows)
    # a generated sweep (resumable) and its report
    assert (out / "sweep.yaml").is_file() and (out / "sweep.csv").is_file()
    for figure in ("accuracy_vs_time.png", "latency_breakdown.png", "pareto.png"):
        assert (out / "report" / figure).stat().st_size > 0
    report = json.loads((out / "report" / "report.json").read_text())
    assert len(report["cases"]) == 3
    runs = {r["scheme"]: out / r["run_dir"] for r in rows}
    for run_dir in runs.values():
        assert (run_dir / "summary.json").exists()
    # the baselines ran uncompressed, lightweight FedSL with the scenario's compression
    import yaml

    fl = yaml.safe_load((runs["fl"] / "scenario.yaml").read_text())
    light = yaml.safe_load((runs["lightweight_fedsl"] / "scenario.yaml").read_text())
    assert fl["compression"]["quantization"]["bits"] == 32
    assert light["compression"]["quantization"]["bits"] == 8
    # the user's overrides reach every scheme; a baseline's own keys win where they meet
    assert fl["seed"] == light["seed"] == 3
    assert (
        fl["compression"]["pruning"]["rate"] == 0
        and fl["compression"]["pruning"]["scope"] == "layer"
    )
    assert light["compression"]["pruning"] == {**light["compression"]["pruning"], "rate": 0.2}
    # the same command again finds every run done and runs nothing
    again = subprocess.run(proc.args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and list(csv.DictReader((out / "compare.csv").open())) == rows
    bad = subprocess.run(
        [sys.executable, "-m", "fedsl_sim", "compare", str(scenario), "--schemes", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr


@pytest.mark.slow
def test_every_scheme_passes_090_on_the_quickstart_federation(tmp_path):
    """Issue acceptance (about 1–2 min on 2 cores, so out of CI: `pytest -m slow`)."""
    from pathlib import Path

    from fedsl_sim.compare import compare

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "compare_schemes.yaml"
    _, summaries = compare(scenario, out_dir=tmp_path / "cmp")
    accuracy = {s["scheme"]: s["final_test_accuracy"] for s in summaries}
    assert set(accuracy) == {"fl", "sl", "sfl_v1", "sfl_v2", "fedsl", "lightweight_fedsl"}
    assert all(a >= 0.90 for a in accuracy.values()), accuracy
