"""Per-device knobs a control policy sets: split layer, pruning rate, quantization bits,
dropout rate. A knob decided for every device every round is the scenario with that value
(bit for bit); a decision holds for its round; impossible decisions are errors naming the
field; the built-in deadline_aware and adaptive_split policies meet their constraints."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
import torch
from simtools import make_scenario

from fedsl_sim.control import POLICIES, DecisionError, Decisions, Observation, Policy
from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import ScenarioError
from fedsl_sim.scenario.base import _Model
from fedsl_sim.sim.recorder import UPLINK

FOUR = dict(
    devices__count=4,
    devices__placement={
        "kind": "fixed",
        "positions_m": [[60, 0], [0, 150], [-300, 0], [0, -500]],
    },
    stop__max_rounds=3,
)


class EveryoneParams(_Model):
    kind: Literal["everyone"]


class Everyone(Policy):
    """Gives every candidate the knobs in ``knobs`` every round; remembers what it saw."""

    name = "everyone"
    knobs: dict[str, float] = {}
    rounds: dict[int, Decisions] = {}
    seen: list[Observation] = []

    def __init__(self, **params: object) -> None:
        self.params = params

    def decide(self, obs: Observation) -> Decisions:
        type(self).seen.append(obs)
        if obs.round in self.rounds:
            return self.rounds[obs.round]
        return Decisions(**{f: dict.fromkeys(obs.candidates, v) for f, v in self.knobs.items()})


@pytest.fixture
def everyone():
    Everyone.knobs, Everyone.rounds, Everyone.seen = {}, {}, []
    with POLICIES.registered("everyone", Everyone, EveryoneParams):
        yield Everyone


def outputs(sim):
    rec = sim.world.recorder
    return [r.row() for r in rec.rounds], [e.row() for e in rec.events]


def _run(sc):
    sim = Simulation.build(sc)
    sim.run_rounds()
    return sim


@pytest.mark.parametrize(
    "scheme, knobs, scenario, extra",
    [
        # split layer 1 decided for everyone = the scenario split at 1
        ("lightweight_fedsl", {"split_layer": 1}, {"learning__split_layer": 1}, {}),
        ("sfl_v1", {"split_layer": 3}, {"learning__split_layer": 3}, {}),
        ("fedsl", {"split_layer": 1}, {"learning__split_layer": 1}, {}),
        # 6 bits on the split-layer messages = the scenario quantizing them to 6 bits
        (
            "lightweight_fedsl",
            {"quant_bits": 6},
            {
                "compression__quantization": {
                    "bits": 6,
                    "targets": ["activations", "split_gradient"],
                }
            },
            {},
        ),
        ("lightweight_fedsl", {"dropout_rate": 0.3}, {"compression__dropout__rate": 0.3}, {}),
        (
            "lightweight_fedsl",
            {"pruning_rate": 0.5},
            {"compression__pruning": {"rate": 0.5}},
            {},
        ),
        ("fl", {"pruning_rate": 0.4}, {"compression__pruning": {"rate": 0.4}}, {}),
    ],
    ids=["split", "split_v1", "split_fedsl", "bits", "dropout", "pruning", "pruning_fl"],
)
def test_a_knob_decided_for_everyone_is_the_scenario_with_that_value(
    everyone, scheme, knobs, scenario, extra
):
    everyone.knobs = knobs
    control = {"kind": "everyone"}
    if "split_layer" in knobs:  # the policy may choose among these layers
        control = {"kind": "everyone_split"}
    base = dict(FOUR, scheme=scheme, learning__aggregation_interval=2, **extra)
    expected = _run(make_scenario(**base, **scenario))
    if "split_layer" in knobs:
        with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
            sim = _run(make_scenario(**base, control={**control, "split_layers": [1, 2, 3]}))
    else:
        sim = _run(make_scenario(**base, control=control))
    assert outputs(sim) == outputs(expected)
    rows = sim.driver.controller.rows()
    field = next(iter(knobs))
    column = 6 + ("split_layer", "pruning_rate", "quant_bits", "dropout_rate").index(field)
    assert {row[column] for row in rows} == {knobs[field]}


class EveryoneSplitParams(_Model):
    kind: Literal["everyone_split"]
    split_layers: list[int]


def test_a_knob_holds_for_its_round(everyone):
    everyone.rounds = {1: Decisions(quant_bits={0: 4}, dropout_rate={2: 0.5})}
    sim = _run(make_scenario(**FOUR, scheme="lightweight_fedsl", control={"kind": "everyone"}))

    def bits(k, r):
        return [
            e.bits
            for e in sim.world.recorder.events
            if e.kind == UPLINK and e.device == k and e.round == r
        ]

    # round 1: device 0 sends 4-bit activations, device 2 half its entries; then back
    assert bits(0, 1)[0] < bits(0, 0)[0] / 6 and bits(0, 2) == bits(0, 0)
    assert bits(2, 1)[0] < 0.6 * bits(2, 0)[0] and bits(2, 2) == bits(2, 0)
    assert bits(1, 1) == bits(1, 0)
    rows = [r for r in sim.driver.controller.rows() if r[0] == 1]
    assert [(r[8], r[9]) for r in rows] == [(4, 0.0), (32, 0.0), (32, 0.5), (32, 0.0)]


def test_a_device_keeps_its_split_layer_until_its_layers_are_averaged(everyone):
    # averaging every 2 rounds: after round 0 every device holds layers it trained
    with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
        sc = make_scenario(
            **FOUR,
            scheme="lightweight_fedsl",
            learning__aggregation_interval=2,
            control={"kind": "everyone_split", "split_layers": [1, 3]},
        )
        everyone.rounds = {1: Decisions(split_layer={0: 3})}
        sim = Simulation.build(sc)
        with pytest.raises(DecisionError, match="split_layer") as info:
            sim.run_rounds()
    assert "round 1, device 0" in str(info.value) and "locked" in str(info.value)
    seen = everyone.seen
    assert not seen[0].split_locked.any() and seen[1].split_locked.all()


def test_a_split_layer_moves_between_averages_and_the_run_trains(everyone):
    # devices alternate between split layers 1 and 3; averaging every round
    with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
        sc = make_scenario(
            **{**FOUR, "stop__max_rounds": 4},
            scheme="lightweight_fedsl",
            learning__optimizer={"kind": "adam", "lr": 0.002},
            learning__local_steps=5,
            compression__pruning={"rate": 0.3},
            control={"kind": "everyone_split", "split_layers": [1, 3]},
        )
        everyone.rounds = {
            r: Decisions(split_layer={0: 1 + 2 * (r % 2), 1: 3 - 2 * (r % 2)}) for r in range(4)
        }
        sim = _run(sc)
    rows = sim.driver.controller.rows()
    assert [r[6] for r in rows if r[1] == 0] == [1, 3, 1, 3]
    assert [r[6] for r in rows if r[1] == 1] == [3, 1, 3, 1]
    assert [r[6] for r in rows if r[1] == 2] == [2, 2, 2, 2]  # undecided: the scenario's
    accuracy = [r.test_accuracy for r in sim.world.recorder.rounds]
    assert all(0.0 <= a <= 1.0 for a in accuracy) and accuracy[-1] > 0.5
    # the server computes more for a device split at 1 than at 3
    server = {}
    for e in sim.world.recorder.events:
        if e.kind == "server_compute" and e.device == 0:
            server.setdefault(e.round, e.t_end_s - e.t_start_s)
    assert server[0] > server[1] and server[2] > server[3]


@pytest.mark.parametrize(
    "scheme, decisions, field, match",
    [
        ("fedsl", Decisions(pruning_rate={0: 0.5}), "pruning_rate", "cannot be decided"),
        ("fedsl", Decisions(quant_bits={0: 8}), "quant_bits", "cannot be decided"),
        ("fl", Decisions(dropout_rate={0: 0.1}), "dropout_rate", "cannot be decided"),
        ("lightweight_fedsl", Decisions(split_layer={0: 1}), "split_layer", "fixed"),
        ("lightweight_fedsl", Decisions(quant_bits={0: 0}), "quant_bits", r"\[1, 32\]"),
        ("lightweight_fedsl", Decisions(quant_bits={0: 8.5}), "quant_bits", "integer"),
        ("lightweight_fedsl", Decisions(pruning_rate={0: 1.0}), "pruning_rate", "0.99"),
        ("lightweight_fedsl", Decisions(dropout_rate={0: "0.1"}), "dropout_rate", "number"),
        ("lightweight_fedsl", Decisions(dropout_rate={7: 0.1}), "dropout_rate", "candidate"),
    ],
)
def test_impossible_knob_decisions_name_the_field(everyone, scheme, decisions, field, match):
    everyone.rounds = {0: decisions}
    sim = Simulation.build(make_scenario(**FOUR, scheme=scheme, control={"kind": "everyone"}))
    with pytest.raises(DecisionError, match=match) as info:
        sim.run_rounds()
    assert info.value.path == field
    assert "control policy 'everyone'" in str(info.value)


def test_a_split_layer_outside_the_allowed_ones_is_refused(everyone):
    with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
        sc = make_scenario(**FOUR, control={"kind": "everyone_split", "split_layers": [1]})
        everyone.rounds = {0: Decisions(split_layer={0: 3})}
        with pytest.raises(DecisionError, match=r"in \[1, 2\], got 3"):
            _run(sc)


@pytest.mark.parametrize(
    "overrides, path",
    [
        (
            dict(scheme="fl", control={"kind": "adaptive_split", "split_layers": [1]}),
            "control.split_layers",
        ),
        (
            dict(scheme="sl", control={"kind": "adaptive_split", "split_layers": [1]}),
            "control.split_layers",
        ),
        (
            dict(control={"kind": "adaptive_split", "split_layers": [1, 5]}),
            "control.split_layers.1",
        ),
        (dict(control={"kind": "adaptive_split", "split_layers": [1, 1]}), "control.split_layers"),
        (
            dict(
                control={"kind": "deadline_aware", "deadline_s": 1.0, "levels": [{"quant_bits": 8}]}
            ),
            "control.levels.0.quant_bits",
        ),
        (
            dict(
                scheme="lightweight_fedsl",
                control={
                    "kind": "deadline_aware",
                    "deadline_s": 1.0,
                    "levels": [{"quant_bits": 8}, {"quant_bits": 16}],
                },
            ),
            "control.levels.1.quant_bits",
        ),
        (
            dict(
                scheme="fl",
                control={
                    "kind": "deadline_aware",
                    "deadline_s": 1.0,
                    "levels": [{"dropout_rate": 0.2}],
                },
            ),
            "control.levels.0.dropout_rate",
        ),
    ],
)
def test_control_settings_the_scheme_cannot_honour_are_scenario_errors(overrides, path):
    from fedsl_sim.build import check_scenario

    with pytest.raises(ScenarioError) as info:
        check_scenario(make_scenario(**overrides))
    assert info.value.path == path


def test_the_predictor_follows_a_hypothetical_split_layer_and_bits_exactly(everyone):
    # one device alone on a static channel: the prediction for split s (or b bits) is the
    # simulated round of the scenario with that split (those bits)
    with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
        sim = Simulation.build(
            make_scenario(
                scheme="lightweight_fedsl",
                control={"kind": "everyone_split", "split_layers": [1, 3]},
            )
        )
        sim.run_round(0)
    obs = everyone.seen[0]
    for s in (1, 2, 3):
        static = Simulation.build(
            make_scenario(scheme="lightweight_fedsl", learning__split_layer=s)
        )
        static.run_round(0)
        assert obs.predict(0, split_layer=s).total_s == pytest.approx(
            static.world.env.now, rel=1e-12
        )
    quantized = Simulation.build(
        make_scenario(
            scheme="lightweight_fedsl",
            compression__quantization={"bits": 8, "targets": ["activations", "split_gradient"]},
        )
    )
    quantized.run_round(0)
    assert obs.predict(0, quant_bits=8).total_s == pytest.approx(quantized.world.env.now, rel=1e-12)


@pytest.mark.parametrize(
    "position, cpu_hz, best",
    [([50, 0], 1e8, 1), ([800, 0], 1e10, 2)],
    ids=["slow_device_near", "fast_device_far"],
)
def test_adaptive_split_takes_the_layer_of_least_round_latency(position, cpu_hz, best):
    one = dict(
        scheme="lightweight_fedsl",
        devices__placement={"kind": "fixed", "positions_m": [position]},
        devices__compute={"cpu_hz": cpu_hz},
    )
    fixed = {}
    for s in (1, 2, 3, 4):
        sim = Simulation.build(make_scenario(**one, learning__split_layer=s))
        sim.run_round(0)
        fixed[s] = sim.world.env.now
    adaptive = Simulation.build(
        make_scenario(**one, control={"kind": "adaptive_split", "split_layers": [1, 2, 3, 4]})
    )
    adaptive.run_round(0)
    assert adaptive.driver.controller.rows()[0][6] == best == min(fixed, key=fixed.get)
    assert adaptive.world.env.now == pytest.approx(min(fixed.values()), rel=1e-12)


def test_adaptive_split_decides_per_device():
    sc = make_scenario(
        scheme="lightweight_fedsl",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[50, 0], [0, 800]]},
        devices__compute={"cpu_hz": [1e8, 1e10]},
        stop__max_rounds=2,
        control={"kind": "adaptive_split", "split_layers": [1, 2, 3]},
    )
    sim = _run(sc)
    assert [(r[0], r[1], r[6]) for r in sim.driver.controller.rows()] == [
        (0, 0, 1),
        (0, 1, 2),
        (1, 0, 1),
        (1, 1, 2),
    ]


def test_deadline_aware_meets_the_deadline_with_least_compression_and_lowest_clock():
    deadline = 0.3
    levels = [{}, {"quant_bits": 8}, {"quant_bits": 4, "dropout_rate": 0.5}]
    sc = make_scenario(
        **{
            **FOUR,
            "devices__placement": {
                "kind": "fixed",
                "positions_m": [[60, 0], [0, 150], [-300, 0], [0, -800]],
            },
        },
        scheme="lightweight_fedsl",
        rounds__deadline_s=deadline,  # a device past it would be cut off
        control={"kind": "deadline_aware", "deadline_s": deadline, "levels": levels},
    )
    seen = []
    sim = Simulation.build(sc)
    policy = sim.driver.controller.policy
    decide = policy.decide
    policy.decide = lambda obs: seen.append(obs) or decide(obs)
    sim.run_rounds()
    rows = sim.driver.controller.rows()
    f_max = sc.devices.compute.cpu_hz
    for obs in seen:
        mine = [r for r in rows if r[0] == obs.round]
        taken = [r for r in mine if r[2]]
        assert [r[1] for r in taken] == [0, 1, 2]  # the far device cannot fit: not selected
        for _, k, _, cpu, _, _, _, _, bits, drop in taken:
            level = next(
                i
                for i, lv in enumerate(levels)
                if lv.get("quant_bits", 32) == bits and lv.get("dropout_rate", 0) == drop
            )
            # a clock below the maximum: the time the deadline leaves is used
            assert cpu < f_max
            # the least compression: the level before does not fit even at the maximum clock
            if level > 0:
                before = obs.predict(k, share=1 / len(obs.candidates), **levels[level - 1])
                assert before.total_s > deadline
        assert {r[8] for r in taken} == {32, 8}
    # on this static channel every selected device made it within the deadline
    for r in sim.world.recorder.rounds:
        assert r.participants == 3 and r.dropped == 0
    starts = [0.0] + [r.sim_time_s for r in sim.world.recorder.rounds]
    for e in sim.world.recorder.events:
        if e.device is not None and e.kind != "model_download":
            assert e.t_end_s <= starts[e.round] + deadline + 1e-9


def test_sfl_v1_server_copies_continue_from_the_whole_average(everyone):
    # a device may move to split 1: the server-side copies hold layer 1 as well, and after an
    # average where every device was at 2 they hold its averaged value
    with POLICIES.registered("everyone_split", Everyone, EveryoneSplitParams):
        sim = Simulation.build(
            make_scenario(
                **FOUR, scheme="sfl_v1", control={"kind": "everyone_split", "split_layers": [1, 2]}
            )
        )
        sim.run_round(0)
        sim.run_round(1)
    average = sim.scheme.last_average
    layer_1 = [key for key in average if key.startswith("1.")]
    assert layer_1
    for k in range(4):
        for key in layer_1:
            assert torch.equal(sim.scheme.servers.state(k)[key], average[key])


@pytest.mark.parametrize("scheme", ["fl", "lightweight_fedsl"])
def test_the_predictor_prunes_hypothetically_in_a_scenario_that_does_not(scheme):
    # at decision time, for one device alone on a static channel: the prediction at rate 0.9
    # is the simulated round of the scenario pruning at 0.9 (the mask its pruner will compute)
    predicted = []

    class Probe(Everyone):
        def decide(self, obs):
            predicted.append((obs.predict(0), obs.predict(0, pruning_rate=0.9)))
            return Decisions()

    with POLICIES.registered("probe", Probe, ProbeParams):
        sim = Simulation.build(make_scenario(scheme=scheme, control={"kind": "probe"}))
        sim.run_round(0)
    dense, pruned = predicted[0]
    assert pruned.compute_s < 0.5 * dense.compute_s and pruned.uplink_s < dense.uplink_s
    real = Simulation.build(make_scenario(scheme=scheme, compression__pruning={"rate": 0.9}))
    real.run_round(0)
    assert pruned.total_s == pytest.approx(real.world.env.now, rel=1e-12)
    assert dense.total_s == pytest.approx(sim.world.env.now, rel=1e-12)


class ProbeParams(_Model):
    kind: Literal["probe"]


def test_deadline_aware_prunes_a_device_that_fits_only_pruned():
    probe = Simulation.build(make_scenario(scheme="fl"))
    probe.run_round(0)
    deadline = 0.7 * probe.world.env.now
    sc = make_scenario(
        scheme="fl",
        control={
            "kind": "deadline_aware",
            "deadline_s": deadline,
            "levels": [{}, {"pruning_rate": 0.9}],
        },
    )
    sim = Simulation.build(sc)
    sim.run_round(0)
    (row,) = sim.driver.controller.rows()
    assert row[2] == 1 and row[7] == 0.9
    assert sim.world.env.now <= deadline * (1 + 1e-9)


@pytest.mark.parametrize(
    "decisions, field, match",
    [
        (Decisions(quant_bits={0: 10**400}), "quant_bits", "expected a number"),
        (Decisions(cpu_hz={0: 10**400}), "cpu_hz", "expected a number"),
        (Decisions(dropout_rate=np.array([0.1, 0.1])), "dropout_rate", "mapping"),
        (Decisions(quant_bits=np.array([8, 8])), "quant_bits", "mapping"),
    ],
)
def test_odd_values_are_decision_errors(everyone, decisions, field, match):
    everyone.rounds = {0: decisions}
    sc = make_scenario(**FOUR, scheme="lightweight_fedsl", control={"kind": "everyone"})
    with pytest.raises(DecisionError, match=match) as info:
        _run(sc)
    assert info.value.path == field


def test_a_policy_predicting_impossible_knobs_is_a_decision_error(everyone):
    class Odd(Everyone):
        def decide(self, obs):
            obs.predict(0, split_layer=99)
            return Decisions()

    with POLICIES.registered("odd", Odd, OddParams):
        sc = make_scenario(**FOUR, scheme="lightweight_fedsl", control={"kind": "odd"})
        with pytest.raises(DecisionError, match="split_layer: expected one of") as info:
            _run(sc)
    assert info.value.path == "predict"


class OddParams(_Model):
    kind: Literal["odd"]


def test_bits_a_policy_sets_take_the_scenarios_scale(everyone):
    # the scenario quantizes only model uploads, on the norm scale (sign bit: >= 2 bits)
    sc = make_scenario(
        **FOUR,
        scheme="lightweight_fedsl",
        compression__quantization={"bits": 8, "scale": "norm", "targets": ["model_upload"]},
        control={"kind": "everyone"},
    )
    everyone.rounds = {0: Decisions(quant_bits={0: 1})}
    with pytest.raises(DecisionError, match=r"\[2, 32\]"):
        _run(sc)
    everyone.rounds = {0: Decisions(quant_bits={0: 4})}
    sim = _run(sc)
    act, grad = sim.scheme.device_knobs.codecs(0, 4)
    assert act.inner.quantizer.scale == "norm" and grad.inner.quantizer.scale == "norm"


@pytest.mark.parametrize(
    "overrides, path",
    [
        (
            dict(
                scheme="sl",
                control={"kind": "deadline_aware", "deadline_s": 1.0},
            ),
            "control.deadline_s",
        ),
        (
            # unset fields are the scenario's: level 1 sends 32 bits, more than level 0's 4
            dict(
                scheme="lightweight_fedsl",
                control={
                    "kind": "deadline_aware",
                    "deadline_s": 1.0,
                    "levels": [{"quant_bits": 4}, {"dropout_rate": 0.5}],
                },
            ),
            "control.levels.1.quant_bits",
        ),
    ],
)
def test_deadline_aware_settings_the_scheme_cannot_honour(overrides, path):
    from fedsl_sim.build import check_scenario

    with pytest.raises(ScenarioError) as info:
        check_scenario(make_scenario(**overrides))
    assert info.value.path == path
