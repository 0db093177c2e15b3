"""Round control: deadlines, device failures, partial participation, availability."""

from __future__ import annotations

import pytest
import torch
import yaml
from simtools import TINY, make_scenario

from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import load_scenario

# three static devices at 50, 150 and 250 m: their model uploads end at different times
THREE = dict(
    scheme="fl",
    devices__count=3,
    devices__placement={"kind": "fixed", "positions_m": [[50.0, 0.0], [150.0, 0.0], [250.0, 0.0]]},
    stop__max_rounds=1,
)


def run(sc) -> Simulation:
    sim = Simulation.build(sc)
    sim.run_rounds()
    return sim


def upload_ends(sim: Simulation) -> dict[int, float]:
    return {e.device: e.t_end_s for e in sim.world.recorder.events if e.kind == "model_upload"}


def test_a_deadline_excludes_exactly_the_devices_that_deliver_after_it():
    free = run(make_scenario(**THREE))
    ends = upload_ends(free)
    assert free.scheme.last_aggregated == [0, 1, 2]
    first, second, third = sorted(ends.values())
    for deadline, expected in ((second + (third - second) / 2, 2), (first / 2 + second / 2, 1)):
        sim = run(make_scenario(**THREE, rounds={"deadline_s": deadline}))
        on_time = sorted(k for k, t in ends.items() if t <= deadline)
        assert len(on_time) == expected
        assert sim.scheme.last_aggregated == on_time
        late = set(range(3)) - set(on_time)
        cut = [e for e in sim.world.recorder.events if e.kind == "model_upload_lost"]
        assert sorted(e.device for e in cut) == sorted(late)
        assert all(e.t_end_s == pytest.approx(deadline) for e in cut)
        row = sim.world.recorder.rounds[0]
        assert (row.participants, row.dropped) == (3, len(late) * 2)  # cut + its lost upload
        # the aggregation computes over exactly the on-time models: 2 FLOPs per parameter each
        agg = next(e for e in sim.world.recorder.events if e.kind == "aggregation")
        n_params = sum(p.numel() for p in sim.scheme.global_client.parameters())
        assert agg.t_end_s - agg.t_start_s == pytest.approx(2 * n_params * expected / 1e13)


@pytest.mark.parametrize("scheme", ["fl", "sfl_v1"])
def test_a_device_failure_removes_exactly_its_contribution(tmp_path, scheme):
    # device 2 goes down mid-round 0 (mid-training) in one run, and is down from the
    # start in the other: the FedAvg of devices 0 and 1 must be identical (for SplitFed V1
    # on both sides: the server-side copy it trained is left out too)
    def with_trace(t_down: float):
        (tmp_path / "down.csv").write_text(f"device,t_down_s,t_up_s\n2,{t_down},1000\n")
        data = yaml.safe_load(yaml.safe_dump(TINY))
        data.update(scheme=scheme, stop={"max_rounds": 1})
        data["devices"].update(count=3, placement=THREE["devices__placement"])
        data["rounds"] = {"availability": {"kind": "trace", "path": "down.csv"}}
        f = tmp_path / "sc.yaml"
        f.write_text(yaml.safe_dump(data))
        return run(load_scenario(f))

    # SplitFed V1: down during its gradient's downlink, after the server stepped its copy
    t_down = 0.005 if scheme == "fl" else 0.215
    mid, absent = with_trace(t_down), with_trace(0.0)
    assert mid.scheme.last_aggregated == absent.scheme.last_aggregated == [0, 1]
    assert mid.world.recorder.rounds[0].participants == 3
    assert absent.world.recorder.rounds[0].participants == 2
    a, b = mid.scheme.global_model.state_dict(), absent.scheme.global_model.state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)
    if scheme == "sfl_v1":  # the server had stepped device 2's copy before it went down
        served = [e for e in mid.world.recorder.events if e.kind == "server_compute"]
        assert any(e.device == 2 and e.t_end_s < t_down for e in served)
    # the failed device lost its round's work: back to the initial model
    init = Simulation.build(make_scenario(**{**THREE, "scheme": scheme})).scheme.clients[2]
    init = init.state_dict()
    failed = mid.scheme.clients[2].state_dict()
    assert all(torch.equal(init[key], failed[key]) for key in init)


@pytest.mark.parametrize("kind", ["random", "best_channel"])
def test_partial_participation(kind):
    sc = make_scenario(
        scheme="fedsl",
        devices__count=6,
        devices__placement={
            "kind": "fixed",
            "positions_m": [[20.0 + 40 * k, 0.0] for k in range(6)],
        },
        rounds={"participation": {"kind": kind, "fraction": 0.5}},
        stop__max_rounds=3,
    )
    sim = run(sc)
    per_round = [
        sorted(
            {
                e.device
                for e in sim.world.recorder.events
                if e.round == r and e.kind == "server_compute" and e.device is not None
            }
        )
        for r in range(3)
    ]
    assert all(len(d) == 3 for d in per_round)
    assert [r.participants for r in sim.world.recorder.rounds] == [3, 3, 3]
    if kind == "best_channel":  # no shadowing or fading: the three nearest
        assert per_round == [[0, 1, 2]] * 3
    else:
        assert len({tuple(d) for d in per_round}) > 1  # a different draw each round
