"""The medium plans a transmission's future in pieces (a few blocks when it starts, more when
nothing changed by their end) instead of up to the first completion at once. The pieces
continue each other's sums in order, and the wake-ups land on the same float instants, so the
outputs do not depend on the size of the pieces: byte-identical whether the first piece covers
4 blocks or the whole look-ahead, for every outage policy, with Chase combining, handovers, a
multicast, and a channel that never changes."""

from __future__ import annotations

import pytest
from simtools import make_scenario

from fedsl_sim.engine import run
from fedsl_sim.sim.medium import Medium

FILES = ("events.csv", "rounds.csv", "devices.csv")
FEW = dict(
    devices__count=3,
    devices__placement={"kind": "uniform_disc", "radius_m": 250, "min_distance_m": 35},
    devices__mobility={"kind": "random_waypoint", "speed_mps": [10, 20]},
    stop__max_rounds=3,
    learning__batch_size=8,
    learning__aggregation_interval=1,
)
FADING = {"kind": "rayleigh", "coherence_s": 0.005}
CASES = {
    "wait": dict(FEW, network={"fading": FADING, "outage": {"snr_threshold_db": 5}}),
    "harq-chase": dict(
        FEW,
        scheme="fl",
        network={
            "fading": FADING,
            "outage": {
                "snr_threshold_db": 8,
                "policy": "harq",
                "max_retransmissions": 3,
                "chase_combining": True,
            },
        },
    ),
    "drop-cqi": dict(
        FEW,
        scheme="sfl_v2",
        network={
            "fading": FADING,
            "rate": {"kind": "cqi"},
            "outage": {"snr_threshold_db": 0, "policy": "drop"},
        },
    ),
    "handover-broadcast": dict(
        FEW,
        scheme="fedsl",
        devices__placement={
            "kind": "fixed",
            "positions_m": [[75.5, 0], [75.5, 20], [75.5, -20]],
        },
        devices__mobility={"kind": "random_waypoint", "speed_mps": [30, 40], "radius_m": 200},
        network={
            "shadowing": {"std_db": 0},
            "fading": FADING,
            "cells": [{"position_m": [0, 0]}, {"position_m": [150, 0]}],
            "handover": {"hysteresis_db": 0},
        },
    ),
    "static-channel": dict(
        FEW,
        devices__mobility={"kind": "static"},
        network={"fading": {"kind": "none"}, "shadowing": {"std_db": 0}},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_outputs_do_not_depend_on_the_size_of_the_plans_pieces(tmp_path, monkeypatch, case):
    sc = make_scenario(**CASES[case])
    monkeypatch.setattr(Medium, "PLAN_CELLS", 1)  # pieces of 4 blocks
    small = run(sc, tmp_path / "small", plots=False)
    monkeypatch.setattr(Medium, "PLAN_CELLS", 1 << 30)  # the whole look-ahead at once
    whole = run(sc, tmp_path / "whole", plots=False)
    for name in FILES:
        assert (small.out_dir / name).read_bytes() == (whole.out_dir / name).read_bytes(), name
    assert small.rounds and small.rounds[-1].sim_time_s > 0
