"""Per-round control policies: the static default changes nothing; decisions are validated,
applied for their round only, and recorded in decisions.csv."""

from __future__ import annotations

import csv
from typing import Literal

import numpy as np
import pytest
from simtools import make_scenario

from fedsl_sim.control import POLICIES, DecisionError, Decisions, Observation, Policy
from fedsl_sim.engine import Simulation, run
from fedsl_sim.scenario.base import _Model
from fedsl_sim.sim.recorder import CLIENT_BACKWARD, CLIENT_FORWARD

THREE = dict(
    devices__count=3,
    devices__placement={"kind": "fixed", "positions_m": [[100, 0], [0, 150], [-200, 0]]},
    stop__max_rounds=3,
)


class ScriptedParams(_Model):
    kind: Literal["scripted"]


class Scripted(Policy):
    """Decides what the test puts in ``script`` (round -> Decisions); remembers what it saw."""

    name = "scripted"
    script: dict[int, Decisions] = {}
    seen: list[Observation] = []

    def decide(self, obs: Observation) -> Decisions:
        type(self).seen.append(obs)
        return type(self).script.get(obs.round, Decisions())


@pytest.fixture
def scripted():
    Scripted.script, Scripted.seen = {}, []
    with POLICIES.registered("scripted", Scripted, ScriptedParams):
        yield Scripted


def events(sim, kind, device=None, rnd=None):
    return [
        e
        for e in sim.world.recorder.events
        if e.kind == kind
        and (device is None or e.device == device)
        and (rnd is None or e.round == rnd)
    ]


def test_static_is_the_default_and_records_every_candidate(tmp_path):
    sc = make_scenario(**THREE)
    assert sc.control.kind == "static"
    out = run(sc, tmp_path / "run", plots=False, progress=False).out_dir
    assert out is not None
    with (out / "decisions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(r["round"]), int(r["device"])) for r in rows] == [
        (r, k) for r in range(3) for k in range(3)
    ]
    assert {r["take_part"] for r in rows} == {"1"}
    assert {float(r["cpu_hz"]) for r in rows} == {sc.devices.compute.cpu_hz}
    assert {float(r["tx_power_dbm"]) for r in rows} == {sc.devices.tx_power_dbm}


def test_a_lower_clock_slows_compute_exactly_for_its_round(scripted):
    base = Simulation.build(make_scenario(**THREE))
    base.run_rounds()
    f_max = base.world.cpu_hz[1]
    with_control = make_scenario(**THREE, control={"kind": "scripted"})
    scripted.script = {1: Decisions(cpu_hz={1: f_max / 4})}
    sim = Simulation.build(with_control)
    sim.run_rounds()
    for kind in (CLIENT_FORWARD, CLIENT_BACKWARD):
        fast = events(base, kind, 1, 1)[0]
        slow = events(sim, kind, 1, 1)[0]
        assert slow.t_end_s - slow.t_start_s == pytest.approx(
            4 * (fast.t_end_s - fast.t_start_s), rel=1e-12
        )
        # energy kappa * cycles * f^2: a quarter of the clock, a sixteenth of the energy
        assert slow.energy_j == pytest.approx(fast.energy_j / 16, rel=1e-12)
        # the next round is back at the maximum
        again = events(sim, kind, 1, 2)[0]
        assert again.t_end_s - again.t_start_s == pytest.approx(
            fast.t_end_s - fast.t_start_s, rel=1e-12
        )
    assert sim.world.cpu_hz[1] == f_max


def test_lower_power_costs_less_transmit_energy_and_left_out_devices_sit_out(scripted):
    scripted.script = {
        0: Decisions(take_part=[0, 2], tx_power_dbm={0: 10.0}),
    }
    sim = Simulation.build(make_scenario(**THREE, control={"kind": "scripted"}))
    sim.run_rounds()
    assert sim.world.recorder.rounds[0].participants == 2
    assert not events(sim, CLIENT_FORWARD, 1, 0)
    assert events(sim, CLIENT_FORWARD, 1, 1)
    rows = sim.driver.controller.rows()
    split = sim.scheme.splits[0]
    assert rows[:3] == [  # the knobs: the scenario's split layer, no compression
        (0, 0, 1, pytest.approx(1e9), 10.0, 1.0, split, 0.0, 32, 0.0),
        (0, 1, 0, pytest.approx(1e9), 23.0, 1.0, split, 0.0, 32, 0.0),
        (0, 2, 1, pytest.approx(1e9), 23.0, 1.0, split, 0.0, 32, 0.0),
    ]
    up = events(sim, "uplink", 0, 0)[0]
    assert up.energy_j == pytest.approx(0.01 * (up.t_end_s - up.t_start_s), rel=1e-9)


def test_the_observation_is_what_a_base_station_knows(scripted):
    sim = Simulation.build(make_scenario(**THREE, control={"kind": "scripted"}))
    sim.run_rounds()
    first, second = scripted.seen[0], scripted.seen[1]
    assert first.round == 0 and first.candidates == (0, 1, 2) and first.time_s == 0.0
    assert list(first.data_size) == list(sim.data.sizes)
    assert np.all(first.energy_used_j == 0) and np.all(second.energy_used_j > 0)
    comp = sim.world.channel.components(0)
    np.testing.assert_allclose(
        first.large_scale_gain_db, comp["shadowing_db"] - comp["pathloss_db"], rtol=1e-12
    )
    # the uplink SNR on the whole band at full power, from the large-scale gain
    noise_dbm = 10 * np.log10(first.noise_psd_w_per_hz * first.bandwidth_hz * 1e3)
    np.testing.assert_allclose(
        first.snr_db, 23.0 + first.large_scale_gain_db - noise_dbm, rtol=1e-9
    )
    # last round's time per kind of work: what round 0 spent
    busy = {k: v for k, v in second.last_round_s.items() if v.any()}
    assert CLIENT_FORWARD in busy and np.all(first.last_round_s[CLIENT_FORWARD] == 0)


@pytest.mark.parametrize(
    "decisions, field, match",
    [
        (Decisions(take_part=[7]), "take_part", "not a candidate"),
        (Decisions(take_part=[0, 0]), "take_part", "listed twice"),
        (Decisions(take_part=[True]), "take_part", "not a candidate"),
        (Decisions(take_part=3), "take_part", "expected a list of candidates, got int"),
        (Decisions(take_part={0: True, 1: False}), "take_part", "got dict"),
        (
            Decisions(cpu_hz={0: 5e9}),
            "cpu_hz",
            "device 0: expected a number in \\[1e\\+06, 1e\\+09\\]",
        ),
        (Decisions(cpu_hz={1: 0.0}), "cpu_hz", "device 1"),
        (Decisions(cpu_hz={1: 1e-300}), "cpu_hz", "device 1"),
        (Decisions(cpu_hz={0: "5e8"}), "cpu_hz", "got '5e8'"),
        (Decisions(cpu_hz={0: True}), "cpu_hz", "got True"),
        (Decisions(cpu_hz={0: None}), "cpu_hz", "got None"),
        (Decisions(cpu_hz=[1e8, 1e8, 1e8]), "cpu_hz", "expected a mapping"),
        (Decisions(cpu_hz={9: 1e8}), "cpu_hz", "device 9: not a candidate"),
        (Decisions(cpu_hz={"0": 1e8}), "cpu_hz", "not a device index"),
        (Decisions(tx_power_dbm={2: 30.0}), "tx_power_dbm", "device 2: expected a number in"),
        (Decisions(tx_power_dbm={2: -1000.0}), "tx_power_dbm", "\\[-50, 23\\]"),
        (Decisions(tx_power_dbm={2: float("nan")}), "tx_power_dbm", "device 2"),
        (Decisions(bandwidth_weight={1: -1.0}), "bandwidth_weight", "device 1"),
        (Decisions(bandwidth_weight={1: 5e-324}), "bandwidth_weight", "device 1"),
        (Decisions(bandwidth_weight={1: 1e7}), "bandwidth_weight", "1e\\+06\\]"),
    ],
)
def test_impossible_decisions_name_the_policy_device_and_field(scripted, decisions, field, match):
    scripted.script = {1: decisions}
    sim = Simulation.build(make_scenario(**THREE, control={"kind": "scripted"}))
    with pytest.raises(DecisionError, match=match) as exc:
        sim.run_rounds()
    assert exc.value.source == "control policy 'scripted'" and exc.value.path == field
    assert "round 1" in str(exc.value)


def test_a_policy_that_leaves_everyone_out_makes_an_empty_round_that_takes_time(scripted):
    scripted.script = {0: Decisions(take_part=[])}
    sim = Simulation.build(make_scenario(**THREE, control={"kind": "scripted"}))
    sim.run_rounds()
    first = sim.world.recorder.rounds[0]
    assert first.participants == 0 and first.sim_time_s == sim.scenario.rounds.empty_round_s


def test_unknown_policy_is_refused():
    from fedsl_sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="control"):
        make_scenario(**THREE, control={"kind": "nope"})


@pytest.mark.parametrize(
    "scheme, extra",
    [
        ("fl", {}),
        ("fedsl", {}),
        ("sfl_v2", {"learning__local_steps": 3}),
        ("lightweight_fedsl", {"compression__quantization": {"bits": 8}}),
        ("fedsl", {"aggregation__downlink": "unicast", "learning__split_layer": 3}),
    ],
)
def test_the_predictor_is_the_simulated_round_for_a_device_alone_on_a_static_channel(
    scripted, scheme, extra
):
    # TINY: one device, no fading, no shadowing, no mobility: the simulator's time model
    sc = make_scenario(scheme=scheme, control={"kind": "scripted"}, **extra)
    sim = Simulation.build(sc)
    sim.run_round(0)
    obs = scripted.seen[0]
    assert obs.aggregate and obs.candidates == (0,)
    predicted = obs.predict(0)
    assert predicted.total_s == pytest.approx(sim.world.env.now, rel=1e-12)
    # and its parts are the simulated events' durations
    rec = sim.world.recorder
    assert predicted.compute_s == pytest.approx(
        rec.busy_s[CLIENT_FORWARD][0] + rec.busy_s[CLIENT_BACKWARD][0], rel=1e-12
    )
    assert predicted.uplink_s == pytest.approx(
        rec.busy_s["uplink"][0] + rec.busy_s["model_upload"][0], rel=1e-12
    )
    # a lower clock and power: the prediction follows the compute and rate models
    slow = obs.predict(0, cpu_hz=obs.max_cpu_hz[0] / 2, tx_power_dbm=10.0)
    assert slow.compute_s == pytest.approx(2 * predicted.compute_s, rel=1e-12)
    assert slow.uplink_s > predicted.uplink_s and slow.downlink_s == predicted.downlink_s


def _round_energy(sim, r):
    return sum(e.energy_j for e in sim.world.recorder.events if e.round == r and e.device == 0)


@pytest.mark.parametrize("scheme", ["fl", "fedsl"])
def test_energy_budget_meets_the_target_with_less_energy(scheme):
    static = Simulation.build(make_scenario(scheme=scheme))
    static.run_round(0)
    t_static, e_static = static.world.env.now, _round_energy(static, 0)
    target = 1.5 * t_static
    control = {"kind": "energy_budget", "budget_j": 1e6, "latency_target_s": target}
    sim = Simulation.build(make_scenario(scheme=scheme, control=control))
    sim.run_round(0)
    (row,) = sim.driver.controller.rows()
    assert row[2] == 1 and row[3] < static.world.cpu_hz[0] and row[4] <= 23.0
    # one device alone on a static channel: the prediction is the simulated round
    assert t_static < sim.world.env.now <= target * (1 + 1e-9)
    assert _round_energy(sim, 0) < e_static


def test_energy_budget_sits_a_device_out_once_its_budget_is_spent():
    control = {"kind": "energy_budget", "budget_j": 1e6, "latency_target_s": 1e3}
    probe = Simulation.build(make_scenario(scheme="fl", control=control))
    probe.run_round(0)
    per_round = _round_energy(probe, 0)
    budget = 2.5 * per_round
    sc = make_scenario(
        scheme="fl",
        stop__max_rounds=4,
        control={**control, "budget_j": [budget]},
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    assert [r.participants for r in sim.world.recorder.rounds] == [1, 1, 0, 0]
    used = sim.world.recorder.compute_energy_j[0] + sim.world.recorder.transmit_energy_j[0]
    assert used == pytest.approx(2 * per_round, rel=1e-9) and used <= budget


def test_energy_budget_needs_one_budget_per_device():
    from fedsl_sim.scenario import ScenarioError

    control = {"kind": "energy_budget", "budget_j": [1.0, 2.0], "latency_target_s": 1.0}
    with pytest.raises(ScenarioError, match="control.budget_j: expected one budget per device"):
        make_scenario(control=control)


def test_a_larger_bandwidth_weight_gets_a_larger_share(scripted):
    two = dict(
        scheme="fl",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[150, 0], [0, 150]]},
        control={"kind": "scripted"},
    )

    def upload_rates(sim):
        return [events(sim, "model_upload", k, 0)[0].rate_bps for k in (0, 1)]

    equal = Simulation.build(make_scenario(**two))
    equal.run_round(0)
    a, b = upload_rates(equal)
    assert a == pytest.approx(b, rel=1e-12)  # same distance, same share
    scripted.script = {0: Decisions(bandwidth_weight={0: 3.0})}
    weighted = Simulation.build(make_scenario(**two))
    weighted.run_round(0)
    fast, slow = upload_rates(weighted)
    assert fast > a > slow
    assert weighted.driver.controller.rows()[0][5] == 3.0
    assert list(weighted.world.medium.share_weight) == [3.0, 1.0]


def test_energy_budget_keeps_above_the_outage_threshold_and_inside_the_deadline():
    static = Simulation.build(make_scenario(scheme="fl"))
    static.run_round(0)
    t_static = static.world.env.now
    control = {"kind": "energy_budget", "budget_j": 1e6, "latency_target_s": 10 * t_static}
    for bound, extra in (
        (10, {"network__outage": {"snr_threshold_db": -5, "policy": "drop"}}),
        (2, {"rounds__deadline_s": 2 * t_static}),
    ):
        sim = Simulation.build(
            make_scenario(scheme="fl", stop__max_rounds=2, control=control, **extra)
        )
        sim.run_rounds()
        rows = sim.world.recorder.rounds
        assert [r.dropped for r in rows] == [0, 0], extra  # nothing lost, nobody cut off
        assert rows[0].sim_time_s <= bound * t_static * (1 + 1e-9)
        assert sim.driver.controller.rows()[0][3] < static.world.cpu_hz[0]


@pytest.mark.parametrize("access, expected", [("ofdma", 1.0), ("tdma", 0.25)])
def test_time_on_air_follows_the_access_scheme(scripted, access, expected):
    sc = make_scenario(control={"kind": "scripted"}, network__access={"kind": access})
    Simulation.build(sc).run_round(0)
    assert scripted.seen[0].on_air_fraction(0.25) == expected


@pytest.mark.parametrize(
    "extra",
    [
        {
            "network__backhaul": [
                {"a": "cell0", "b": "server", "latency_s": 0.005, "capacity_bps": 1e8}
            ]
        },
        {
            "scheme": "lightweight_fedsl",
            "compression__pruning": {
                "rate": 0.3,
                "schedule": {"kind": "fixed", "update_every_rounds": 5},
            },
        },
    ],
    ids=["backhaul", "pruned_upload"],
)
def test_the_predictor_counts_the_backhaul_and_pruned_positions(scripted, extra):
    sc = make_scenario(**{"scheme": "fl", "control": {"kind": "scripted"}, **extra})
    sim = Simulation.build(sc)
    sim.run_round(0)  # (pruning: the mask is made in round 0 and kept in round 1)
    start = sim.world.env.now
    sim.run_round(1)
    predicted = scripted.seen[1].predict(0)
    assert predicted.total_s == pytest.approx(sim.world.env.now - start, rel=1e-12)
    if "network__backhaul" in extra:
        assert predicted.backhaul_s > 0


def test_energy_budget_stays_within_the_bounds_a_policy_may_set():
    # a weak, slow device: the grid's lowest clock and the least power would fall below the
    # bounds (1e6 Hz, -50 dBm) without the policy's clamping
    control = {"kind": "energy_budget", "budget_j": 1e6, "latency_target_s": 1e6}
    sc = make_scenario(
        scheme="fl",
        devices__compute={"cpu_hz": 2.0e6},
        devices__tx_power_dbm=-45.0,
        control=control,
    )
    sim = Simulation.build(sc)
    sim.run_round(0)
    (row,) = sim.driver.controller.rows()
    assert row[2] == 1 and 1e6 <= row[3] <= 2e6 and -50.0 <= row[4] <= -45.0
