"""Per-device state costs only for the devices that use it, and never changes a number."""

from __future__ import annotations

import pytest
import torch
from simtools import make_scenario

from fedsl_sim.compression import prunable_parameters
from fedsl_sim.engine import Simulation
from fedsl_sim.schemes.copies import DeviceCopies, PerDevice

MANY = dict(
    devices__count=10,
    devices__placement={"kind": "uniform_disc", "radius_m": 200, "min_distance_m": 10},
    network__fading={"kind": "rayleigh", "coherence_s": 0.05},
    rounds__participation={"kind": "random", "fraction": 0.4},
    stop__max_rounds=5,
    learning__batch_size=16,
    learning__local_steps=2,
    learning__aggregation_interval=2,
    learning__eval_every_rounds=1,
    learning__optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
)
COMPRESSED = dict(
    compression__pruning={"rate": 0.3},
    compression__quantization={"bits": 8},
    compression__dropout={"rate": 0.2},
)


def materialise_everything(sim: Simulation) -> None:
    """Give every device a live module, optimizer, pruner and generators."""
    s = sim.scheme
    for k in range(sim.world.n_devices):
        s.clients.module(k)
        s.clients.optimizer(k)
        if s.servers is not None:
            s.servers.module(k)
        if s.pruners is not None:
            s.pruners[k]
        s.dropout_gens[k]
        s.quant_gens[k]


def outcome(sim: Simulation) -> tuple:
    rows = [
        (r.sim_time_s, r.test_accuracy, r.test_loss, r.train_loss, r.participants)
        for r in sim.world.recorder.rounds
    ]
    state = {k: v.clone() for k, v in sim.scheme.global_model.state_dict().items()}
    return rows, state


@pytest.mark.parametrize(
    "scheme, extra",
    [
        ("fl", {}),
        ("sfl_v1", {}),
        ("sfl_v2", {}),
        ("fedsl", {}),
        ("lightweight_fedsl", COMPRESSED),
        ("sl", {}),
        ("sfl_v1", {"learning__optimizer": {"kind": "adam", "lr": 0.001}}),
        ("lightweight_fedsl", {**COMPRESSED, "learning__split_layer": [1, 2] * 5}),
    ],
)
def test_numbers_do_not_depend_on_which_devices_are_materialised(scheme, extra):
    sc = make_scenario(scheme=scheme, **{**MANY, **extra})
    lazy = Simulation.build(sc)
    lazy.run_rounds()
    eager = Simulation.build(sc)
    materialise_everything(eager)
    eager.run_rounds(on_round_end=materialise_everything)
    rows_lazy, state_lazy = outcome(lazy)
    rows_eager, state_eager = outcome(eager)
    assert rows_lazy == rows_eager
    assert state_lazy.keys() == state_eager.keys()
    for key in state_lazy:
        assert torch.equal(state_lazy[key], state_eager[key]), key


def test_devices_that_do_not_train_cost_nothing():
    sc = make_scenario(
        scheme="fl",
        **{
            **MANY,
            "devices__count": 400,
            "rounds__participation": {"kind": "random", "fraction": 0.02},
            "learning__aggregation_interval": 1,
            "learning__optimizer": {"kind": "sgd", "lr": 0.05},
            "stop__max_rounds": 3,
        },
    )
    sim = Simulation.build(sc)
    s = sim.scheme
    assert (s.clients.live, s.clients.held, s.quant_gens.made) == (0, 0, 0)
    assert s.clients.private_bytes() == 0
    assert len(sim.data._streams) == 0
    trained: set[int] = set()
    for r in range(3):
        result = sim.run_round(r)
        trained.update(result.participants)
        # every participant received the average: no module, no tensor of its own (plain
        # SGD), only a reference to the shared average
        assert s.clients.live == 0 and s.clients.private_bytes() == 0
        assert s.clients.held == len(trained)
    assert 0 < len(trained) <= 3 * 8
    assert set(sim.data._streams) == trained
    assert s.quant_gens.made == len(trained)
    assert s.dropout_gens.made == 0  # FL sends no activations


def test_momentum_and_masks_are_kept_for_the_devices_that_trained():
    sc = make_scenario(
        scheme="lightweight_fedsl",
        **{
            **MANY,
            **COMPRESSED,
            "devices__count": 50,
            "rounds__participation": {"kind": "random", "fraction": 0.1},
            "learning__aggregation_interval": 1,
            "stop__max_rounds": 2,
        },
    )
    sim = Simulation.build(sc)
    trained: set[int] = set()
    for r in range(2):
        trained.update(sim.run_round(r).participants)
    c = sim.scheme.clients
    # the participants hold the average (shared) with their mask and momentum: no module
    assert c.live == 0 and c.held == len(trained)
    client_part = sim.scheme.global_model[:2]  # split layer 2
    params = sum(p.numel() for p in client_part.parameters())
    masked = sum(p.numel() for _, p in prunable_parameters(client_part))
    # per device: a float32 momentum buffer per parameter, a bool per prunable weight
    assert c.private_bytes() == len(trained) * (4 * params + masked)
    assert sim.scheme.pruners is not None and sim.scheme.pruners.made == len(trained)


def test_per_device_values_are_made_once_and_checked():
    made: list[int] = []

    def make(k: int) -> list[int]:
        made.append(k)
        return [k]

    values = PerDevice(5, make)
    assert values[3] is values[3] and values[-1] == [4] and made == [3, 4]
    assert values[1:3] == [[1], [2]] and values.made == 4
    with pytest.raises(IndexError, match="device 5 out of range"):
        values[5]


def test_held_copies_read_without_a_module_equal_materialised_ones():
    torch.manual_seed(0)
    template = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    initial = {k: v.clone() for k, v in template.state_dict().items()}

    def structure(k: int) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))

    copies = DeviceCopies(
        3, structure, lambda m: torch.optim.SGD(m.parameters(), lr=0.1), initial, lambda k: 0
    )
    masks = [torch.rand(3, 4) > 0.5, torch.rand(2, 3) > 0.5]
    copies.hold(1, initial, masks)
    view = dict(copies.state(1))
    assert copies.live == 0
    live = copies.module(1).state_dict()
    assert view.keys() == live.keys()
    for key in view:
        assert torch.equal(view[key], live[key])
    assert torch.equal(live["0.weight"], initial["0.weight"].masked_fill(~masks[0], 0.0))
    assert torch.equal(dict(copies.state(0))["0.weight"], initial["0.weight"])
    assert copies.parameter_count(2) == 4 * 3 + 3 + 3 * 2 + 2
    with pytest.raises(IndexError):
        copies.module(3)


def test_dropped_modules_are_reused_and_not_checkpointed():
    sc = make_scenario(scheme="fl", **{**MANY, "learning__aggregation_interval": 1})
    sim = Simulation.build(sc)
    participants = sim.run_round(0).participants
    copies = sim.scheme.clients
    spare = [m for modules in copies._spare.values() for m in modules]
    assert copies.live == 0 and len(spare) == len(participants)
    again = copies.module(participants[0])  # the next copy materialised takes a spare module
    assert any(again is m for m in spare)
    assert copies.__getstate__()["_spare"] == {}  # what a checkpoint pickles
