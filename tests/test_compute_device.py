"""learning.compute_device: cpu (default), auto, cuda[:N]."""

from __future__ import annotations

import pytest
import torch
from simtools import make_scenario

from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import ScenarioError

SHORT = dict(stop__max_rounds=2, devices__count=2, learning__split_layer=[1, 2])
SHORT["devices__placement"] = {"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 80.0]]}


def rows(device: str) -> list:
    sim = Simulation.build(make_scenario(learning__compute_device=device, **SHORT))
    sim.run_rounds()
    return sim.world.recorder.rounds


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks CUDA here")
def test_auto_without_cuda_is_the_cpu_bit_for_bit():
    assert rows("auto") == rows("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_input_error(device):
    sc = make_scenario(learning__compute_device=device, **SHORT)  # valid anywhere
    with pytest.raises(ScenarioError) as info:
        Simulation.build(sc, source="paper.yaml")
    msg = str(info.value)
    assert msg.startswith("paper.yaml: learning.compute_device: ") and "auto" in msg


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU"])
def test_unknown_devices_are_refused(device):
    with pytest.raises(ScenarioError, match="learning.compute_device"):
        make_scenario(learning__compute_device=device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trains_every_scheme():
    for scheme in ("fl", "sfl_v1", "sfl_v2", "lightweight_fedsl"):
        split = 2 if scheme == "fl" else [1, 2]
        sim = Simulation.build(
            make_scenario(
                scheme=scheme,
                learning__compute_device="cuda",
                **{**SHORT, "learning__split_layer": split},
            )
        )
        sim.run_rounds()
        assert next(sim.scheme.global_model.parameters()).is_cuda
        assert 0.0 <= sim.world.recorder.rounds[-1].test_accuracy <= 1.0
