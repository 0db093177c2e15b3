"""End to end: the quickstart through the CLI, determinism, isolation of two simulations, and
engine-level properties of the codecs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from simtools import make_scenario

import fedsl_sim
from fedsl_sim.engine import Simulation

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_quickstart_cli_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fedsl_sim", "run", str(QUICKSTART)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "final test accuracy" in proc.stdout
    runs = list((tmp_path / "results" / "quickstart").iterdir())
    assert len(runs) == 1 and not runs[0].name.startswith(".")
    out = runs[0]
    for name in (
        "scenario.yaml",
        "rounds.csv",
        "events.csv",
        "devices.csv",
        "decisions.csv",
        "summary.json",
        "accuracy_vs_time.png",
        "device_time_breakdown.png",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    n_rounds = yaml.safe_load(QUICKSTART.read_text())["stop"]["max_rounds"]
    assert summary["rounds_completed"] == n_rounds
    assert summary["final_test_accuracy"] >= 0.90
    rounds = read_csv(out / "rounds.csv")
    events = read_csv(out / "events.csv")
    devices = read_csv(out / "devices.csv")
    assert [int(r["round"]) for r in rounds] == list(range(n_rounds))
    assert float(rounds[-1]["sim_time_s"]) == summary["sim_time_s"]
    # every total is the sum of the event log
    up = sum(int(e["bits"]) for e in events if e["kind"] in ("uplink", "model_upload"))
    down = sum(int(e["bits"]) for e in events if e["kind"] in ("downlink", "model_download"))
    assert summary["bits"] == {"uplink": up, "downlink": down}
    assert sum(int(r["uplink_bits"]) for r in rounds) == up
    energy = sum(float(e["energy_j"]) for e in events)
    assert summary["energy_j"]["total"] == pytest.approx(energy, rel=1e-9)
    assert sum(float(d["energy_total_j"]) for d in devices) == pytest.approx(energy, rel=1e-9)
    # evaluation every 5 rounds and at the end; accuracies are fractions
    evaluated = [r for r in rounds if r["test_accuracy"]]
    assert [int(r["round"]) for r in evaluated] == list(range(4, n_rounds, 5))
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in evaluated)
    # simulated time never goes back and events lie inside it
    assert all(float(e["t_start_s"]) <= float(e["t_end_s"]) for e in events)
    assert max(float(e["t_end_s"]) for e in events) == pytest.approx(summary["sim_time_s"])


def short_quickstart(**overrides):
    return fedsl_sim.load_scenario(
        QUICKSTART, overrides={"stop.max_rounds": 6, "learning.eval_every_rounds": 3, **overrides}
    )


def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path):
    sc = short_quickstart()
    a = fedsl_sim.run(sc, out_dir=tmp_path / "a", plots=False)
    b = fedsl_sim.run(sc, out_dir=tmp_path / "b", plots=False)
    c = fedsl_sim.run(short_quickstart(seed=8), out_dir=tmp_path / "c", plots=False)
    for name in ("rounds.csv", "events.csv", "devices.csv", "scenario.yaml"):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    for name in ("rounds.csv", "events.csv"):
        assert (a.out_dir / name).read_bytes() != (c.out_dir / name).read_bytes(), name


def test_two_simulations_in_one_process_do_not_interfere():
    sc, other = short_quickstart(), short_quickstart(seed=3)
    alone = Simulation.build(sc)
    alone.run_rounds()
    # the same scenario again, now advanced round by round in lockstep with another one
    x, y = Simulation.build(sc), Simulation.build(other)
    for r in range(sc.stop.max_rounds):
        for sim in (x, y):
            sim.run_round(r)
    ref = [(e.device, e.kind, e.t_start_s, e.t_end_s, e.bits) for e in alone.world.recorder.events]
    got = [(e.device, e.kind, e.t_start_s, e.t_end_s, e.bits) for e in x.world.recorder.events]
    assert got == ref
    a_state, x_state = alone.scheme.server.state_dict(), x.scheme.server.state_dict()
    assert all(a_state[k].equal(x_state[k]) for k in a_state)


def test_compression_off_is_exactly_fedsl():
    """lightweight_fedsl with every codec off is bit for bit the fedsl scheme."""
    off = {
        "compression.pruning.rate": 0.0,
        "compression.quantization.bits": 32,
        "compression.dropout.rate": 0.0,
    }
    light = Simulation.build(short_quickstart(**off))
    plain = Simulation.build(short_quickstart(scheme="fedsl", **off))
    for sim in (light, plain):
        sim.run_rounds()
    assert [r.row() for r in light.world.recorder.rounds] == [
        r.row() for r in plain.world.recorder.rounds
    ]


def test_codecs_shrink_payloads_and_compute_exactly():
    base = make_scenario(scheme="lightweight_fedsl")
    dense = Simulation.build(base)
    dense.run_rounds()
    comp = Simulation.build(
        make_scenario(
            scheme="lightweight_fedsl",
            compression={
                "quantization": {"bits": 8},
                "dropout": {"rate": 0.5},
                "pruning": {"rate": 0.5, "schedule": {"kind": "fixed", "update_every_rounds": 1}},
            },
        )
    )
    comp.run_rounds()
    ev = {e.kind: e for e in comp.world.recorder.events}
    dev = {e.kind: e for e in dense.world.recorder.events}
    n_acts = 32 * 512
    kept = (ev["uplink"].bits - 32 * 4) // 32  # float32 activations + 4-bit labels
    assert 0.4 * n_acts < kept < 0.6 * n_acts  # dropout at rate 0.5
    assert ev["downlink"].bits == 8 * kept + 64  # 8-bit range quantizer over kept gradients
    assert dev["downlink"].bits == 32 * n_acts
    # global magnitude pruning at 50%: client compute counts only unpruned multiply-adds,
    # so forward time falls, but by less than half (bias, ReLU and pooling stay dense)
    ratio = (ev["client_forward"].t_end_s - ev["client_forward"].t_start_s) / (
        dev["client_forward"].t_end_s - dev["client_forward"].t_start_s
    )
    assert 0.45 < ratio < 0.75
    # the pruned model goes up as nonzeros + positions, less than the dense 32 * 4800 bits
    assert ev["model_upload"].bits < dev["model_upload"].bits == 32 * 4800


def test_dynamic_pruning_revives_weights_kept_by_other_devices():
    """Masks computed from local weights between aggregations differ across devices; the mask
    computed after FedAvg starts from the average, so a weight one device had pruned but the
    other kept can come back."""
    sc = make_scenario(
        scheme="lightweight_fedsl",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
        learning__partition={"kind": "shards", "shards_per_device": 1},
        learning__aggregation_interval=2,
        compression__pruning={
            "rate": 0.6,
            "schedule": {
                "kind": "ramp",
                "start_round": 0,
                "end_round": 1,
                "update_every_rounds": 1,
            },
        },
    )
    sim = Simulation.build(sc)
    scheme = sim.scheme
    for r in range(2):  # rounds 0, 1; FedAvg at the end of round 1
        sim.run_round(r)
    before = [p.masks for p in scheme.pruners]
    assert any(not a.equal(b) for a, b in zip(before[0], before[1], strict=True))
    sim.run_round(2)  # mask update from the averaged weights
    after = [p.masks for p in scheme.pruners]
    revived = sum(
        int((~old & new).sum())
        for k in range(2)
        for old, new in zip(before[k], after[k], strict=True)
    )
    assert revived > 0
