"""Per-device split layers (a list or a rule): who holds which layer, what is timed and sent,
and how a layer trained both on devices and on the server is averaged."""

from __future__ import annotations

import math

import pytest
import torch
from simtools import make_scenario

import fedsl_sim.schemes.split_fed as split_fed
from fedsl_sim.engine import Simulation
from fedsl_sim.learning.flops import backward_flops, forward_flops, profile_layers
from fedsl_sim.learning.models import build_layers
from fedsl_sim.scenario import ScenarioError

THREE = dict(
    devices__count=3,
    devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 150.0], [-60, 0]]},
    stop__max_rounds=3,
    learning__eval_every_rounds=1,
    learning__aggregation_interval=1,
    learning__optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.0},
)


def run(**overrides) -> Simulation:
    sim = Simulation.build(make_scenario(**overrides))
    sim.run_rounds()
    return sim


def test_one_layer_per_device_in_a_list_is_the_single_split_layer():
    single = run(scheme="fedsl", **THREE)
    listed = run(scheme="fedsl", learning__split_layer=[2, 2, 2], **THREE)
    assert listed.world.recorder.rounds == single.world.recorder.rounds
    assert listed.world.recorder.events == single.world.recorder.events


@pytest.mark.parametrize("splits", [[1, 2, 3], [3, 1, 4]])
def test_sfl_v1_with_per_device_splits_trains_like_fl(splits):
    """SFL-V1 with I = 1, one step and no momentum is FedAvg of whole models whatever each
    device's split: each layer's average over device copies and server copies must weigh
    every device once, by its data size."""
    fl = run(scheme="fl", **THREE)
    v1 = run(scheme="sfl_v1", learning__split_layer=splits, **THREE)
    assert v1.scheme.splits == splits
    for a, b in zip(v1.world.recorder.rounds, fl.world.recorder.rounds, strict=True):
        assert a.test_accuracy == b.test_accuracy
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5)
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
    got, want = v1.scheme.global_model.state_dict(), fl.scheme.global_model.state_dict()
    assert list(got) == list(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6)
    # every device's copies continue from the average
    for k, s in enumerate(splits):
        for key, value in v1.scheme.clients[k].state_dict().items():
            assert torch.equal(value, got[key])
        for key, value in v1.scheme.servers[k].state_dict().items():
            assert int(key.split(".")[0]) >= s and torch.equal(value, got[key])


def test_each_device_is_timed_and_sent_for_its_own_split():
    sim = run(scheme="fedsl", learning__split_layer=[1, 3, 2], **{**THREE, "stop__max_rounds": 1})
    sc = sim.scenario
    layers = build_layers("small_cnn", (1, 8, 8), 10, torch.Generator().manual_seed(0))
    costs = profile_layers(layers, (1, 8, 8))
    x = torch.zeros(1, 1, 8, 8)
    ev = sim.world.recorder.events
    for k, s in enumerate([1, 3, 2]):
        batch = 32
        fwd = next(e for e in ev if e.kind == "client_forward" and e.device == k)
        assert fwd.t_end_s - fwd.t_start_s == pytest.approx(
            forward_flops(costs[:s])
            * batch
            / (sc.devices.compute.flops_per_cycle * sc.devices.compute.cpu_hz),
            rel=1e-12,
        )
        srv = next(e for e in ev if e.kind == "server_compute" and e.device == k)
        server_flops = forward_flops(costs[s:]) + backward_flops(costs[s:])
        assert srv.t_end_s - srv.t_start_s == pytest.approx(
            server_flops * batch / sc.server.flops_per_s, rel=1e-12
        )
        acts = torch.nn.Sequential(*layers[:s])(x).numel()
        up = next(e for e in ev if e.kind == "uplink" and e.device == k)
        assert up.bits == acts * batch * 32 + batch * math.ceil(math.log2(10))
        # the model upload and the average sent back are device k's layers only: layer 1
        # (every device's) is broadcast, its deeper layers are sent to it alone
        params = sum(p.numel() for p in torch.nn.Sequential(*layers[:s]).parameters())
        up = next(e for e in ev if e.kind == "model_upload" and e.device == k)
        assert up.bits == 32 * params
        down = [e.bits for e in ev if e.kind == "model_download" and e.device == k]
        common = 32 * sum(p.numel() for p in layers[0].parameters())
        assert down == [common] + ([32 * params - common] if s > 1 else [])


def test_a_layer_on_devices_and_server_averages_both(monkeypatch):
    """Splits [1, 2]: layer 2 (key prefix '1.') is on device 1 and, for device 0, on the
    server; the average weighs the server's copy by device 0's data and device 1's copy by
    device 1's data. Layer 1 is on both devices; layers 3.. only on the server."""
    calls = []
    real = split_fed.fedavg

    def spy(states, weights):
        out = real(states, weights)
        calls.append(([{k: v.clone() for k, v in s.items()} for s in states], list(weights), out))
        return out

    monkeypatch.setattr(split_fed, "fedavg", spy)
    two = {
        **THREE,
        "devices__count": 2,
        "devices__placement": {"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 150.0]]},
        "stop__max_rounds": 1,
        "learning__eval_every_rounds": 5,
    }
    sim = run(scheme="fedsl", learning__split_layer=[1, 2], **two)
    n0, n1 = (float(x) for x in sim.data.sizes)
    (states, weights, out), *_ = calls
    assert weights == [n0, n1, n0]  # device 0, device 1, then the server's copy of layer 2
    dev0, dev1, server = states
    assert {k.split(".")[0] for k in dev0} == {"0"}
    assert {k.split(".")[0] for k in dev1} == {"0", "1"}
    assert {k.split(".")[0] for k in server} == {"1"}
    for key in dev1:
        if key.startswith("0."):
            want = (n0 * dev0[key] + n1 * dev1[key]) / (n0 + n1)
        else:
            want = (n1 * dev1[key] + n0 * server[key]) / (n0 + n1)
        torch.testing.assert_close(out[key], want)
        torch.testing.assert_close(sim.scheme.global_model.state_dict()[key], want)
    # the server's model is the average's: its layer 2 took the new value too
    torch.testing.assert_close(sim.scheme.server.state_dict()["1.0.weight"], out["1.0.weight"])


def test_by_distance_rule_gives_the_nearest_devices_the_first_layers():
    positions = [[250.0, 0.0], [0.0, 50.0], [-150.0, 0.0], [0.0, -100.0], [30.0, 40.0]]
    sim = Simulation.build(
        make_scenario(
            scheme="sfl_v2",
            devices__count=5,
            devices__placement={"kind": "fixed", "positions_m": positions},
            learning__split_layer={"kind": "by_distance", "layers": [1, 2, 3]},
        )
    )
    # distances 250, 50, 150, 100, 50 -> nearest first (ties by index): 1, 4, 3, 2, 0
    # groups of sizes 2, 2, 1
    assert sim.scheme.splits == [3, 1, 2, 2, 1]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (dict(learning__split_layer=[1, 2]), "learning.split_layer", "one split layer per device"),
        (dict(learning__split_layer=[1, 9, 2]), "learning.split_layer.1", "got 9"),
        (
            dict(learning__split_layer={"kind": "by_distance", "layers": [2, 7]}),
            "learning.split_layer.layers.1",
            "got 7",
        ),
        (
            dict(scheme="fl", learning__split_layer=[1, 2, 2]),
            "learning.split_layer",
            "one split layer for scheme 'fl'",
        ),
        (
            dict(scheme="sl", learning__split_layer={"kind": "by_distance", "layers": [1, 3]}),
            "learning.split_layer",
            "one split layer for scheme 'sl'",
        ),
    ],
)
def test_bad_per_device_split_layers_are_refused(overrides, field, message):
    from fedsl_sim.build import check_scenario

    with pytest.raises(ScenarioError) as info:  # the schema, or the model's architecture
        check_scenario(make_scenario(**{**THREE, **overrides}), "test")
    assert f"{field}:" in str(info.value) and message in str(info.value)


def test_fl_and_sl_accept_a_list_that_names_one_layer():
    assert make_scenario(**{**THREE, "scheme": "sl", "learning__split_layer": [3, 3, 3]})


def test_devices_get_the_last_average_not_the_live_server_layers():
    """Splits [1, 2]: between averages the server keeps training layer 2 for device 0, but
    device 1 holds that layer too: what it downloads (and quantizes its upload against) is
    the last average as it was formed, not the server's live copy."""
    two = {
        **THREE,
        "devices__count": 2,
        "devices__placement": {"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 150.0]]},
        "learning__aggregation_interval": 2,
    }
    sc = make_scenario(scheme="fedsl", learning__split_layer=[1, 2], **two)
    sim = Simulation.build(sc)
    initial = {k: v.clone() for k, v in sim.scheme.global_model.state_dict().items()}
    sim.run_round(0)  # no average yet (I = 2)
    average, live = sim.scheme.last_average, sim.scheme.global_model.state_dict()
    assert set(average) == {k for k in initial if k.split(".")[0] in {"0", "1"}}
    assert all(torch.equal(average[k], initial[k]) for k in average)
    assert not torch.equal(live["1.0.weight"], initial["1.0.weight"])  # the server trained it
    sim.run_round(1)  # the average: snapshot and live agree
    live = sim.scheme.global_model.state_dict()
    assert all(torch.equal(sim.scheme.last_average[k], live[k]) for k in sim.scheme.last_average)
    for k in (0, 1):
        for key, value in sim.scheme.clients[k].state_dict().items():
            assert torch.equal(value, live[key])


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            dict(scheme="sl", rounds={"deadline_s": 5.0}),
            "rounds.deadline_s",
            "devices train in turn",
        ),
        (
            dict(scheme="fedsl", compression={"quantization": {"bits": 8}}),
            "compression",
            "use scheme 'lightweight_fedsl' to compress",
        ),
    ],
)
def test_the_schemes_own_rules_are_checked_when_built(overrides, field, message):
    from fedsl_sim.build import check_scenario

    sc = make_scenario(**{**THREE, **overrides})  # valid for the schema: the rule is the scheme's
    with pytest.raises(ScenarioError) as info:
        check_scenario(sc, "test")
    assert info.value.path == field and message in info.value.message
    with pytest.raises(ScenarioError, match=message):
        Simulation.build(sc)


@pytest.mark.parametrize(
    ("compression", "field"),
    [
        ({"dropout": {"rate": 0.2}}, "compression.dropout.rate"),
        (
            {"quantization": {"bits": 8, "targets": ["split_gradient"]}},
            "compression.quantization.targets",
        ),
        (
            {"pipelines": {"split_gradient": [{"kind": "keep_entries"}, {"kind": "float32"}]}},
            "compression.pipelines.split_gradient",
        ),
    ],
)
def test_fl_has_no_split_layer_messages(compression, field):
    from fedsl_sim.build import check_scenario

    sc = make_scenario(scheme="fl", compression=compression)
    with pytest.raises(ScenarioError) as info:
        check_scenario(sc, "test")
    assert info.value.path == field and "no split layer" in info.value.message
