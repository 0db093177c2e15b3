"""Every mobility model of the scenario vocabulary drives the engine's channel."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from simtools import TINY, make_scenario

from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import ScenarioError, load_scenario

DISC = {"kind": "uniform_disc", "radius_m": 200.0, "min_distance_m": 10.0}
MOVING = [
    {"kind": "random_waypoint", "speed_mps": [5, 10]},
    {"kind": "random_waypoint", "speed_mps": [5, 10], "stationary_start": True},
    {"kind": "random_direction", "speed_mps": [5, 10], "travel_s": 2.0},
    {"kind": "gauss_markov", "mean_speed_mps": 8.0, "alpha": 0.5},
    {"kind": "manhattan_grid", "block_m": 50.0, "n_blocks": [4, 4], "speed_mps": [5, 10]},
]


@pytest.mark.parametrize("mobility", MOVING, ids=lambda m: m["kind"])
def test_moving_devices_change_distance_and_stay_in_their_region(mobility):
    sc = make_scenario(
        devices__count=3,
        devices__placement=DISC,
        devices__mobility=mobility,
        network__fading={"kind": "rayleigh", "time": "continuous"},
        stop__max_rounds=2,
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    ch = sim.world.channel
    assert ch.time_varying
    d0, d1 = ch.distance_m(0.0), ch.distance_m(30.0)
    assert not np.allclose(d0, d1)  # 30 s at >= 5 m/s moves everyone (Manhattan: on streets)
    limit = 200.0 if mobility["kind"] != "manhattan_grid" else np.hypot(100.0, 100.0)
    assert np.all(ch.distance_m(30.0) <= limit + 1e-9)
    # the continuous fading follows the motion: sampled at a tenth of the coherence time
    # at the top speed (0.423 / f_D with f_D = v fc / c)
    v = 10.0 if mobility["kind"] != "gauss_markov" else 8.0 + 4 * 2.0
    assert ch.block_s == pytest.approx(min(0.01, 0.4231 * 299_792_458 / (v * 3.5e9) / 10), rel=1e-3)


def test_trace_replay_drives_the_distance(tmp_path):
    # device 0 goes from (100, 0) at t = 0 to (200, 0) at t = 10 s: 150 m at t = 5 s
    (tmp_path / "walk.csv").write_text("t_s,device,x_m,y_m\n0,0,100,0\n10,0,200,0\n")
    data = {
        **TINY,
        "devices": {**TINY["devices"], "mobility": {"kind": "trace", "path": "walk.csv"}},
    }
    f = tmp_path / "trace.yaml"
    f.write_text(yaml.safe_dump(data))
    sc = load_scenario(f)  # the relative path is resolved against the scenario's folder
    assert sc.devices.mobility.path == str(tmp_path / "walk.csv")
    sim = Simulation.build(sc, source=str(f))
    assert sim.world.channel.distance_m(5.0)[0] == pytest.approx(150.0)
    assert sim.world.channel.distance_m(20.0)[0] == pytest.approx(200.0)  # held after the end
    sim.run_rounds()


def test_malformed_trace_is_an_input_error(tmp_path):
    (tmp_path / "bad.csv").write_text("t_s,device,x_m\n0,0,100\n")
    data = {
        **TINY,
        "devices": {**TINY["devices"], "mobility": {"kind": "trace", "path": "bad.csv"}},
    }
    f = tmp_path / "trace.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as err:
        Simulation.build(load_scenario(f), source=str(f))
    assert err.value.path == "devices.mobility" and "y_m" in str(err.value)
    data["devices"]["mobility"]["path"] = "missing.csv"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match="devices.mobility.path"):
        load_scenario(f)
