"""Property-based fuzzing of whole runs: random *valid* small scenarios across the vocabulary
(every scheme, access rule and scheduler, outage policy, fading and mobility model, the
downlink of the average, round control, compression, extreme but valid values). Every run
must end — with its outputs, or with a clear error (invalid input, a link that cannot deliver)
— and its outputs must be consistent: no NaN or infinity anywhere, energies and bits >= 0,
event times ordered, no device busier in one kind of event than the simulated time, and
summary.json's totals equal to the sums of events.csv.

CI runs a small derandomized sample; by hand, a longer random one:

    FEDSL_FUZZ_EXAMPLES=1000 FEDSL_FUZZ_RANDOM=1 FEDSL_FUZZ_LOG=/tmp/fuzz.log \
        .venv/bin/python -m pytest -p no:cacheprovider tests/faults/test_fuzz.py
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedsl_sim.engine import run
from fedsl_sim.scenario import ScenarioError, validate_scenario
from fedsl_sim.sim.medium import SimulationError
from fedsl_sim.sim.recorder import DOWNLINK_KINDS, UPLINK_KINDS

EXAMPLES = int(os.environ.get("FEDSL_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("FEDSL_FUZZ_RANDOM") == "1"

SCHEMES = ["fl", "sl", "sfl_v1", "sfl_v2", "fedsl", "lightweight_fedsl"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    scheme = draw(st.sampled_from(SCHEMES))
    n = draw(st.integers(1, 3))
    radius = draw(st.sampled_from([20.0, 150.0, 400.0]))
    mobility = draw(
        st.sampled_from(
            [
                {"kind": "static"},
                {"kind": "random_waypoint", "speed_mps": [1.0, 30.0]},
                {"kind": "random_direction", "speed_mps": [0.5, 2.0], "travel_s": 5.0},
                {"kind": "gauss_markov", "mean_speed_mps": 3.0, "update_s": 0.5},
            ]
        )
    )
    fading_model = draw(st.sampled_from(["none", "rayleigh", "rician", "nakagami"]))
    fading: dict[str, Any] = {"kind": fading_model}
    if fading_model != "none" and draw(st.booleans()):
        fading["time"] = "continuous"
    else:
        fading["coherence_s"] = draw(st.sampled_from([1e-3, 0.01, 0.05]))
    pathloss = draw(
        st.sampled_from(
            [
                {"kind": "log_distance", "exponent": 3.5},
                {"kind": "free_space"},
                {"kind": "umi", "clamp": True},
            ]
        )
    )
    policy = draw(st.sampled_from(["wait", "harq", "drop"]))
    threshold = draw(st.sampled_from([None, -10.0, 0.0, 10.0]))
    outage: dict[str, Any] = {"snr_threshold_db": threshold, "policy": policy}
    if policy == "wait":
        outage["max_wait_s"] = 120.0
    access = {
        "kind": draw(st.sampled_from(["ofdma", "tdma"])),
        "share": draw(st.sampled_from(["equal", "proportional"])),
        "scheduler": draw(st.sampled_from(["power_aware", "fixed_share"])),
        "min_share_hz": draw(st.sampled_from([1e3, 180e3, 5e6])),
    }
    rounds: dict[str, Any] = {
        "availability": draw(
            st.sampled_from([{"kind": "always"}, {"kind": "bernoulli", "p_unavailable": 0.5}])
        ),
        "participation": draw(
            st.sampled_from([{"kind": "all"}, {"kind": "random", "fraction": 0.5}])
        ),
        "empty_round_s": 0.5,
    }
    if scheme != "sl" and draw(st.booleans()):
        rounds["deadline_s"] = draw(st.sampled_from([0.005, 0.05, 1.0]))
    compression: dict[str, Any] = {}
    if scheme == "lightweight_fedsl":
        compression = {
            "pruning": {"rate": draw(st.sampled_from([0.0, 0.5])), "schedule": {"kind": "fixed"}},
            "quantization": {
                "bits": draw(st.sampled_from([2, 8, 32])),
                "targets": ["split_gradient", "activations", "model_upload"],
            },
            "dropout": {"rate": draw(st.sampled_from([0.0, 0.25]))},
        }
    elif scheme in ("sfl_v1", "sfl_v2", "sl"):
        compression = {"pruning": {"rate": draw(st.sampled_from([0.0, 0.3]))}}
    return {
        "name": "fuzz",
        "seed": draw(st.integers(0, 2**31)),
        "scheme": scheme,
        "stop": {"max_rounds": 2, "max_sim_time_s": 30.0},
        "learning": {
            "dataset": {"kind": "digits"},
            "partition": {"kind": "iid"},
            "model": {"kind": "small_cnn"},
            "split_layer": draw(st.integers(1, 4)),
            "batch_size": 8,
            "aggregation_interval": draw(st.sampled_from([1, 2])),
            "local_steps": draw(st.sampled_from([1, 2])),
            "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
            "eval_every_rounds": 1,
            "eval_batch_size": 256,
        },
        "compression": compression,
        "devices": {
            "count": n,
            "placement": {"kind": "uniform_disc", "radius_m": radius, "min_distance_m": 5.0},
            "mobility": mobility,
            "compute": {
                "cpu_hz": draw(st.sampled_from([1e6, 1e9, {"low": 5e8, "high": 2e9}])),
                "flops_per_cycle": draw(st.sampled_from([1.0, 8.0])),
            },
            "tx_power_dbm": draw(st.sampled_from([-10.0, 23.0])),
        },
        "server": {"workers": draw(st.sampled_from([1, 2]))},
        "network": {
            "bandwidth_hz": draw(st.sampled_from([1e6, 20e6])),
            "pathloss": pathloss,
            "fading": fading,
            "access": access,
            "outage": outage,
        },
        "rounds": rounds,
        "aggregation": {"downlink": draw(st.sampled_from(["broadcast", "unicast"]))},
    }


def numbers(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key, text in row.items():
            if text in ("", None) or key in ("kind",):
                continue
            value = float(text)
            assert math.isfinite(value), (path.name, key, text)
    return rows


def check_outputs(out: Path) -> None:
    text = (out / "summary.json").read_text()
    summary = json.loads(text)  # strict JSON: json.loads would accept NaN, so check the text
    assert "NaN" not in text and "Infinity" not in text
    events = numbers(out / "events.csv")
    rounds = numbers(out / "rounds.csv")
    devices = numbers(out / "devices.csv")
    sim_time = summary["sim_time_s"]
    last_end = 0.0
    for e in events:
        t0, t1 = float(e["t_start_s"]), float(e["t_end_s"])
        assert 0.0 <= t0 <= t1 + 1e-12
        assert t1 >= last_end - 1e-12  # completion order
        last_end = t1
        assert float(e["energy_j"] or 0) >= 0 and float(e["bits"] or 0) >= 0
        if e["outage_s"]:
            assert 0 <= float(e["outage_s"]) <= t1 - t0 + 1e-9
    for d in devices:
        for key, value in d.items():
            if key.startswith(("energy_", "uplink_", "downlink_", "busy_")):
                assert float(value) >= 0, key
            if key.startswith("busy_"):
                assert float(value) <= sim_time + 1e-9, key
    assert len(rounds) == summary["rounds_completed"]
    energy = sum(float(e["energy_j"] or 0) for e in events)
    assert summary["energy_j"]["total"] == pytest.approx(energy, rel=1e-9, abs=1e-15)
    up = sum(int(e["bits"] or 0) for e in events if e["kind"] in UPLINK_KINDS)
    down = sum(int(e["bits"] or 0) for e in events if e["kind"] in DOWNLINK_KINDS)
    assert summary["bits"] == {"uplink": up, "downlink": down}


@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(scenarios())
def test_random_valid_scenarios_run_to_consistent_outputs(data):
    try:
        sc = validate_scenario(data, "fuzz")
    except ScenarioError as exc:  # a valid draw must validate: this is a generator bug
        pytest.fail(f"the generator drew an invalid scenario: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        try:
            run(sc, out_dir=out, plots=False)
        except (ScenarioError, SimulationError) as exc:  # a clear, documented refusal
            assert str(exc) and not out.exists()
            _log(f"refused: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
            return
        check_outputs(out)
        _log("ran")


def _log(line: str) -> None:
    """With FEDSL_FUZZ_LOG=FILE, one line per example (how the long profile is counted)."""
    path = os.environ.get("FEDSL_FUZZ_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")
