"""Adding a model is one class plus its registration (the README's "Extending"): a toy
fading, path-loss and mobility model, each defined and registered here, are accepted by the
scenario schema, appear in the exported JSON schema, and drive a simulation; unregistered,
they are gone. (Schemes and codecs: tests/sim/test_round_driver.py, tests/compression/
test_codec.py.)"""

from __future__ import annotations

import json
import math
from contextlib import ExitStack
from typing import Literal

import numpy as np
import pytest
from simtools import make_scenario

import channels
from channels.fading import FadingModel
from channels.mobility import MobilityModel
from channels.pathloss import PathLossModel
from fedsl_sim.build import build_channel
from fedsl_sim.engine import run
from fedsl_sim.scenario import (
    FadingParams,
    MobilityParams,
    PathLossParams,
    Scenario,
    ScenarioError,
)
from fedsl_sim.sim.streams import Streams


# ----------------------------------------------------------------- a fading model
class TwoPoint(FadingModel):
    """|h|² is 1 - spread or 1 + spread with equal probability (unit mean)."""

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def sample_power(self, rng, size):
        return 1.0 + self.spread * rng.choice([-1.0, 1.0], size=size)

    def power_cdf(self, x):
        x = np.asarray(x, dtype=float)
        return np.where(x >= 1 + self.spread, 1.0, np.where(x >= 1 - self.spread, 0.5, 0.0))


class TwoPointParams(FadingParams):
    kind: Literal["two_point"]
    spread: float = 0.5


# ----------------------------------------------------------------- a path-loss model
class Flat(PathLossModel):
    """The same loss at every distance."""

    def __init__(self, fc_hz: float, loss_db: float) -> None:
        self.loss = loss_db

    def _loss_db(self, d2d_m, los):
        return np.full(np.shape(d2d_m), self.loss)


class FlatParams(PathLossParams):
    kind: Literal["flat"]
    loss_db: float = 90.0


# ----------------------------------------------------------------- a mobility model
class Circle(MobilityModel):
    """Devices circle the base station at their start distance, at ``speed_mps``."""

    def __init__(self, n: int, rng, start_m, speed_mps: float) -> None:
        self.n = n
        self.start = np.asarray(start_m, dtype=float)
        self.radius = np.hypot(*self.start.T)
        self.phase = np.arctan2(self.start[:, 1], self.start[:, 0])
        self.speed_mps = speed_mps

    def position(self, t_s):
        a = self.phase + self.speed_mps * t_s / self.radius
        return np.stack([self.radius * np.cos(a), self.radius * np.sin(a)], -1)

    def speed(self, t_s):
        return np.full(self.n, self.speed_mps)

    def travelled_m(self, t_s):
        return np.full(self.n, self.speed_mps * t_s)


class CircleParams(MobilityParams):
    kind: Literal["circle"]
    speed_mps: float = 2.0

    def max_speed_mps(self) -> float:
        return self.speed_mps

    def mobility_params(self, n, start_m, movement_radius_m, rng):
        return {"n": n, "rng": rng, "start_m": start_m, "speed_mps": self.speed_mps}


@pytest.fixture
def toys():
    with ExitStack() as stack:
        stack.enter_context(
            channels.fading.MODELS.registered("two_point", TwoPoint, TwoPointParams)
        )
        stack.enter_context(channels.pathloss.MODELS.registered("flat", Flat, FlatParams))
        stack.enter_context(channels.mobility.MODELS.registered("circle", Circle, CircleParams))
        yield


TOY = dict(
    devices__count=2,
    devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 200.0]]},
    devices__mobility={"kind": "circle", "speed_mps": 5.0},
    network__pathloss={"kind": "flat", "loss_db": 80.0},
    network__fading={"kind": "two_point", "spread": 0.25, "coherence_s": 0.01},
)


def test_registered_toy_models_are_in_the_schema_and_drive_a_run(toys, tmp_path):
    exported = json.dumps(Scenario.model_json_schema())
    assert all(f'"{name}"' in exported for name in ("two_point", "flat", "circle"))
    sc = make_scenario(**TOY)
    assert isinstance(sc.network.fading, TwoPointParams) and sc.devices.mobility.speed_mps == 5
    channel = build_channel(sc, Streams(sc.seed))
    parts = [channel.components(j) for j in range(0, 3000, 250)]
    assert {float(p) for c in parts for p in c["fading_power"]} == {0.75, 1.25}
    assert all(np.all(c["pathloss_db"] == 80.0) for c in parts)
    # the devices circle: same distance, moving positions
    assert np.allclose(channel.distance_m(20.0), [100.0, 200.0])
    assert not np.allclose(channel.mobility.position(20.0), channel.mobility.position(0.0))
    res = run(sc, out_dir=tmp_path / "run", plots=False)
    assert res.summary["rounds_completed"] == 1 and math.isfinite(res.summary["sim_time_s"])


def test_a_bad_parameter_of_a_toy_model_names_its_field(toys):
    with pytest.raises(ScenarioError) as err:
        make_scenario(**{**TOY, "network__pathloss": {"kind": "flat", "loss_db": "loud"}})
    assert "network.pathloss" in str(err.value) and "loss_db" in str(err.value)


def test_unregistered_toy_models_are_refused_again():
    with channels.fading.MODELS.registered("two_point", TwoPoint, TwoPointParams):
        make_scenario(network__fading={"kind": "two_point"})
    with pytest.raises(ScenarioError, match="two_point"):
        make_scenario(network__fading={"kind": "two_point"})
    assert '"two_point"' not in json.dumps(Scenario.model_json_schema())
