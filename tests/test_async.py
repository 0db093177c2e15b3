"""Asynchronous split training (FedBuff-style): with a buffer of every device, no discount and
equal devices it is synchronous training, event for event; with slow devices the server
averages without them and their stale updates are discounted, or dropped and counted; the
run always ends; what it cannot do is refused as input."""

from __future__ import annotations

import math

import pytest
import torch
from simtools import make_scenario

from fedsl_sim.async_driver import _Update, staleness_discount
from fedsl_sim.engine import Simulation, run
from fedsl_sim.scenario import ScenarioError

# four devices at the same distance: equal links, equal speeds
RING = [[100 * math.cos(a), 100 * math.sin(a)] for a in (0.0, 1.5, 3.0, 4.5)]
EQUAL = dict(
    devices__count=4,
    devices__placement={"kind": "fixed", "positions_m": RING},
    stop__max_rounds=4,
    learning__aggregation_interval=1,
    learning__local_steps=2,
)
# compute speeds spread 10x
SPREAD = dict(EQUAL, devices__compute={"cpu_hz": [1e9, 1e9, 1e8, 1e8]}, stop__max_rounds=8)


def asynchronous(**cfg):
    return {"aggregation__asynchronous": {"max_round_s": 1e6, **cfg}}


def _run(sc):
    sim = Simulation.build(sc)
    sim.run_rounds()
    return sim


@pytest.mark.parametrize("scheme", ["fedsl", "lightweight_fedsl", "sfl_v2"])
def test_a_buffer_of_every_device_is_synchronous_training(scheme):
    sync = _run(make_scenario(**EQUAL, scheme=scheme))
    asyn = _run(make_scenario(**EQUAL, scheme=scheme, **asynchronous(buffer_size=4)))
    rec_s, rec_a = sync.world.recorder, asyn.world.recorder
    assert [r.row() for r in rec_a.rounds] == [r.row() for r in rec_s.rounds]
    assert [e.row() for e in rec_a.events] == [e.row() for e in rec_s.events]
    for key, value in sync.scheme.global_model.state_dict().items():
        assert torch.equal(asyn.scheme.global_model.state_dict()[key], value)
    assert {(r.staleness_mean, r.staleness_max) for r in rec_a.rounds} == {(0.0, 0)}


def test_slow_devices_do_not_hold_the_server_back_and_their_updates_are_stale():
    sync = _run(make_scenario(**SPREAD, scheme="fedsl"))
    asyn = _run(make_scenario(**SPREAD, scheme="fedsl", **asynchronous(buffer_size=2)))
    rounds = asyn.world.recorder.rounds
    assert len(rounds) == 8 and all(r.participants == 2 for r in rounds)
    # the fast pair averages without waiting: 8 averages take less time than 8 sync rounds
    assert rounds[-1].sim_time_s < sync.world.recorder.rounds[-1].sim_time_s / 2
    # the slow devices' updates arrive after averages they did not train from
    assert max(r.staleness_max for r in rounds) >= 2
    assert any(r.staleness_mean > 0 for r in rounds)
    used = [k for r in range(8) for k in _participants(asyn, r)]
    assert used.count(0) > used.count(2) >= 1


def _participants(sim, r):
    return sorted(
        {e.device for e in sim.world.recorder.events if e.round == r and e.kind == "model_upload"}
    )


def test_updates_staler_than_the_bound_are_dropped_and_counted():
    asyn = _run(
        make_scenario(**SPREAD, scheme="fedsl", **asynchronous(buffer_size=2, max_staleness=0))
    )
    rounds = asyn.world.recorder.rounds
    assert all(r.staleness_max == 0 for r in rounds if r.participants)
    assert sum(r.dropped for r in rounds) >= 1  # the slow devices' late updates


@pytest.mark.parametrize(
    "kind, params, expected",
    [
        ("constant", {}, [1.0, 1.0, 1.0]),
        ("polynomial", {"exponent": 0.5}, [1.0, 2**-0.5, 5**-0.5]),
        ("hinge", {"a": 10.0, "b": 1}, [1.0, 1.0, 1.0 / 31.0]),
    ],
)
def test_staleness_discounts(kind, params, expected):
    d = staleness_discount(kind, **params)
    assert [d(s) for s in (0, 1, 4)] == pytest.approx(expected, rel=1e-15)


def test_the_server_update_is_the_discounted_weighted_sum_of_the_deltas():
    sc = make_scenario(
        **SPREAD,
        scheme="fedsl",
        **asynchronous(buffer_size=2, staleness={"kind": "polynomial"}, server_lr=0.5),
    )
    sim = Simulation.build(sc)
    driver, scheme = sim.driver, sim.scheme
    latest = scheme.last_average
    old = {k: v + 1.0 for k, v in latest.items()}
    driver._bases = {0: old, 2: latest}
    ups = [{k: v + 3.0 for k, v in latest.items()}, {k: v - 2.0 for k, v in latest.items()}]
    used = [_Update(0, ups[0], base=2), _Update(3, ups[1], base=0)]
    combine = driver._combine(used, formed=2)
    out = combine([0, 3], ups)
    n0, n3 = (float(sim.data.sizes[k]) for k in (0, 3))
    w0, w3 = 0.5 * n0 / (n0 + n3), 0.5 * n3 / (n0 + n3) * 3**-0.5
    for key, x in latest.items():
        # device 0 fresh: +3 over latest; device 3 two averages stale: -2 over latest, -3 over
        # its base
        torch.testing.assert_close(out[key], x + w0 * 3.0 + w3 * (-3.0), rtol=1e-6, atol=1e-6)


def test_a_device_down_for_a_while_loses_its_work_and_one_down_for_good_is_left_out(tmp_path):
    path = tmp_path / "down.csv"  # device 3: down for the whole run
    path.write_text("device,t_down_s,t_up_s\n0,0.05,0.4\n3,0.0,1e9\n")
    trace = {"kind": "trace", "path": str(path)}
    asyn = _run(
        make_scenario(
            **{**EQUAL, "stop__max_rounds": 8},
            scheme="fedsl",
            rounds__availability=trace,
            **asynchronous(buffer_size=4),
        )
    )
    rounds = asyn.world.recorder.rounds
    assert len(rounds) == 8
    assert rounds[0].dropped >= 1  # device 0 went down while training
    # the server does not wait for devices that are down: device 3 never trains, device 0
    # is left out while it is down and back after 0.4 s
    assert not [e for e in asyn.world.recorder.events if e.device == 3]
    uploads = [(e.round, e.device) for e in asyn.world.recorder.events if e.kind == "model_upload"]
    assert {k for _, k in uploads} == {0, 1, 2}
    assert [r.participants for r in rounds] == [
        len({k for rr, k in uploads if rr == r.round}) for r in rounds
    ]
    assert rounds[-1].sim_time_s < 2.0  # no round waited for max_round_s


def test_an_unreachable_device_sits_out_until_the_next_average():
    # device 3 is out of reach (every message lost): it does not hold the buffer of 4 back,
    # nor retry block after block (a long max_round_s is never reached)
    far = [*RING[:3], [1.0e5, 0.0]]
    sc = make_scenario(
        **{**EQUAL, "devices__placement": {"kind": "fixed", "positions_m": far}},
        scheme="fedsl",
        network__outage={"snr_threshold_db": 0.0, "policy": "drop"},
        aggregation__asynchronous={"buffer_size": 4, "max_round_s": 1.0e6},
    )
    asyn = _run(sc)
    rounds = asyn.world.recorder.rounds
    assert len(rounds) == 4 and all(r.participants == 3 for r in rounds)
    assert rounds[-1].sim_time_s < 1.0
    tries = [e for e in asyn.world.recorder.events if e.device == 3]
    assert 0 < len(tries) <= 3 * len(rounds)


def test_a_buffer_of_never_more_than_buffer_size():
    asyn = _run(make_scenario(**SPREAD, scheme="fedsl", **asynchronous(buffer_size=1)))
    assert all(r.participants == 1 for r in asyn.world.recorder.rounds)


def test_a_device_uploads_after_all_its_local_rounds_even_when_averages_form_meanwhile():
    sc = make_scenario(
        **{**SPREAD, "learning__aggregation_interval": 3},
        scheme="fedsl",
        **asynchronous(buffer_size=2),
    )
    asyn = _run(sc)
    for k in range(4):
        kinds = [e.kind for e in asyn.world.recorder.events if e.device == k]
        steps = 0
        for kind in kinds:
            if kind == "client_forward":
                steps += 1
            elif kind == "model_upload":
                assert steps == 3 * 2  # aggregation_interval x local_steps
                steps = 0
    # the slow devices' updates are stale: they went on training while averages formed
    assert max(r.staleness_max for r in asyn.world.recorder.rounds) >= 1


def test_events_belong_to_the_round_that_counts_them():
    asyn = _run(make_scenario(**SPREAD, scheme="fedsl", **asynchronous(buffer_size=2)))
    rec = asyn.world.recorder
    for row in rec.rounds:
        energy = sum(e.energy_j for e in rec.events if e.round == row.round)
        assert energy == pytest.approx(row.energy_j, rel=1e-12, abs=1e-15)


def test_uploads_are_coded_against_the_average_the_device_trained_from():
    sc = make_scenario(
        **SPREAD,
        scheme="lightweight_fedsl",
        compression={"quantization": {"bits": 4, "targets": ["model_upload"]}},
        **asynchronous(buffer_size=2),
    )
    sim = Simulation.build(sc)
    seen = []
    sim.run_round(0)  # the driver is set up: wrap the reference it gives the scheme
    reference = sim.scheme.upload_reference

    def spy(k):
        ref = reference(k)
        seen.append(
            (sim.scheme.base_version(k), ref is sim.driver._bases.get(sim.scheme.base_version(k)))
        )
        return ref

    sim.scheme.upload_reference = spy
    for r in range(1, 6):
        sim.run_round(r)
    assert {base for base, _ in seen} != {sim.scheme.averages_formed}  # stale ones too
    assert all(same for _, same in seen)


def test_a_device_that_goes_down_keeps_a_pruning_update_made_meanwhile(tmp_path):
    path = tmp_path / "down.csv"
    path.write_text("device,t_down_s,t_up_s\n2,0.15,0.2\n")
    sc = make_scenario(
        **{**SPREAD, "stop__max_rounds": 5},
        scheme="lightweight_fedsl",
        compression={
            "pruning": {
                "rate": 0.5,
                "schedule": {"kind": "fixed", "start_round": 1, "update_every_rounds": 1000},
            }
        },
        rounds__availability={"kind": "trace", "path": str(path)},
        **asynchronous(buffer_size=2),
    )
    asyn = _run(sc)
    assert any(r.dropped for r in asyn.world.recorder.rounds)  # device 2 went down
    assert all(asyn.scheme.pruners[k].masks is not None for k in range(4))


def test_checkpoints_are_refused_for_asynchronous_runs(tmp_path):
    sc = make_scenario(**EQUAL, scheme="fedsl", **asynchronous(buffer_size=2))
    with pytest.raises(ScenarioError, match="checkpoints are not supported") as info:
        run(sc, tmp_path / "run", plots=False, checkpoint_every=1)
    assert info.value.path == "aggregation.asynchronous"
    assert not (tmp_path / "run").exists()
    done = run(sc, tmp_path / "plain", plots=False)
    assert done.summary["rounds_completed"] == 4


@pytest.mark.parametrize(
    "overrides, path",
    [
        (dict(scheme="sfl_v1"), "aggregation.asynchronous"),
        (dict(scheme="fl"), "aggregation.asynchronous"),
        (dict(scheme="sl"), "aggregation.asynchronous"),
        (dict(learning__split_layer=[1, 2, 2, 2]), "learning.split_layer"),
    ],
)
def test_what_asynchronous_training_cannot_do_is_refused(overrides, path):
    from fedsl_sim.build import check_scenario

    sc = make_scenario(**{**EQUAL, "scheme": "fedsl", **overrides}, **asynchronous(buffer_size=2))
    with pytest.raises(ScenarioError) as info:
        check_scenario(sc)
    assert info.value.path == path


@pytest.mark.parametrize(
    "overrides, path",
    [
        (asynchronous(buffer_size=5), "aggregation.asynchronous.buffer_size"),
        ({"aggregation__asynchronous": {"buffer_size": 2}}, "aggregation.asynchronous.max_round_s"),
        ({**asynchronous(buffer_size=2), "rounds__deadline_s": 1.0}, "rounds.deadline_s"),
        (
            {**asynchronous(buffer_size=2), "rounds__availability": {"kind": "bernoulli"}},
            "rounds.availability",
        ),
        (
            {**asynchronous(buffer_size=2), "rounds__participation": {"kind": "random"}},
            "rounds.participation",
        ),
    ],
)
def test_asynchronous_scenario_rules(overrides, path):
    with pytest.raises(ScenarioError) as info:
        make_scenario(**EQUAL, **overrides)
    assert info.value.path == path


def test_a_control_policy_decides_at_each_dispatch():
    static = _run(make_scenario(**SPREAD, scheme="fedsl", **asynchronous(buffer_size=2)))
    rows = static.driver.controller.rows()
    starts = [
        e for e in static.world.recorder.events if e.kind == "client_forward"
    ]  # a row per local round a device starts: its first step
    # local_steps = 2; the devices still at work when the run ends were dispatched too
    assert len(starts) // 2 <= len(rows) <= len(starts) // 2 + 4
    assert {r[2] for r in rows} == {1}
    target = 2.0 * static.world.recorder.rounds[0].sim_time_s
    control = {"kind": "energy_budget", "budget_j": 1e3, "latency_target_s": target}
    saving = _run(
        make_scenario(**SPREAD, scheme="fedsl", control=control, **asynchronous(buffer_size=2))
    )
    rows = saving.driver.controller.rows()
    # the fast devices meet the target at a lower clock and power; the slow ones cannot
    fast = [r for r in rows if r[1] in (0, 1)]
    assert all(r[3] < 1e9 and r[4] < 23.0 for r in fast)
    rec_s, rec_e = static.world.recorder, saving.world.recorder
    per_update = [
        (rec.compute_energy_j.sum() + rec.transmit_energy_j.sum())
        / sum(r.participants for r in rec.rounds)
        for rec in (rec_s, rec_e)
    ]
    assert per_update[1] < per_update[0]  # less energy per update used


def test_a_device_a_policy_leaves_out_sits_out_until_the_next_average():
    from typing import Literal

    from fedsl_sim.control import POLICIES, Decisions, Policy
    from fedsl_sim.scenario.base import _Model

    class NotThree(Policy):
        name = "not_three"

        def decide(self, obs):
            return Decisions(take_part=[k for k in obs.candidates if k != 3])

    class Params(_Model):
        kind: Literal["not_three"]

    with POLICIES.registered("not_three", NotThree, Params):
        asyn = _run(
            make_scenario(
                **EQUAL,
                scheme="fedsl",
                control={"kind": "not_three"},
                **asynchronous(buffer_size=4),
            )
        )
    rounds = asyn.world.recorder.rounds
    assert all(r.participants == 3 for r in rounds) and rounds[-1].sim_time_s < 1.0
    assert not [e for e in asyn.world.recorder.events if e.device == 3]
    assert {r[2] for r in asyn.driver.controller.rows() if r[1] == 3} == {0}


def test_asynchronous_training_keeps_one_split_layer():
    with pytest.raises(ScenarioError) as info:
        make_scenario(
            **EQUAL,
            control={"kind": "adaptive_split", "split_layers": [1, 2]},
            **asynchronous(buffer_size=2),
        )
    assert info.value.path == "control.split_layers"


def test_a_policys_error_at_a_dispatch_is_the_runs_decision_error():
    from typing import Literal

    from fedsl_sim.control import POLICIES, DecisionError, Decisions, Policy
    from fedsl_sim.scenario.base import _Model

    class TooFast(Policy):
        name = "too_fast"

        def decide(self, obs):
            return Decisions(cpu_hz={k: 1e20 for k in obs.candidates})

    class Params(_Model):
        kind: Literal["too_fast"]

    with POLICIES.registered("too_fast", TooFast, Params):
        sc = make_scenario(
            **EQUAL, scheme="fedsl", control={"kind": "too_fast"}, **asynchronous(buffer_size=2)
        )
        with pytest.raises(DecisionError) as info:  # itself, not a copy SimPy rebuilt
            _run(sc)
    assert info.value.path == "cpu_hz" and "control policy 'too_fast'" in str(info.value)


def test_an_energy_budget_holds_over_a_devices_whole_upload_cycle():
    # four local rounds per upload: a dispatch decides for all four
    cycle = dict(EQUAL, learning__aggregation_interval=4, stop__max_rounds=3)
    probe = _run(make_scenario(**cycle, scheme="fedsl", **asynchronous(buffer_size=4)))
    rec = probe.world.recorder
    per_cycle = float((rec.compute_energy_j + rec.transmit_energy_j)[0]) / 3
    budget = 1.5 * per_cycle  # one cycle at full power fits, two do not
    control = {"kind": "energy_budget", "budget_j": budget, "latency_target_s": 100.0}
    sim = _run(
        make_scenario(**cycle, scheme="fedsl", control=control, **asynchronous(buffer_size=4))
    )
    used = sim.world.recorder.compute_energy_j + sim.world.recorder.transmit_energy_j
    assert all(0 < e <= budget for e in used)
