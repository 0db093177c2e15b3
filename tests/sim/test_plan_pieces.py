"""The medium plans a transmission's future in pieces (a few blocks when it starts, more when
nothing changed by their end) instead of up to the first completion at once. The pieces
continue each other's sums in order, and the wake-ups land on the same float instants, so the
outputs do not depend on the size of the pieces: byte-identical whether the first piece covers
4 blocks or the whole look-ahead, for every outage policy, with Chase combining, handovers, a
multicast, and a channel that never changes."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from simtools import PiecewiseChannel, make_scenario

from fedsl_sim.engine import run
from fedsl_sim.sim.medium import Medium, SimulationError

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


def _outcome(sc, out_dir):
    try:
        res = run(sc, out_dir, plots=False)
    except SimulationError as exc:
        return ("error", str(exc))
    return ("done", *((res.out_dir / name).read_bytes() for name in FILES))


@pytest.mark.parametrize("deadline_s", [None, 20.0])
def test_a_link_that_cannot_deliver_stops_the_run_whatever_the_piece_size(
    tmp_path, monkeypatch, deadline_s
):
    """The stuck-link check (``max_wait_s``) happens when a plan that sees no completion in
    its whole look-ahead is made — also when a round deadline would cut the transmission
    before the pieces reach the look-ahead's end."""
    sc = make_scenario(
        devices__placement={"kind": "fixed", "positions_m": [[9e5, 0.0]]},
        network={
            "fading": {"kind": "rayleigh", "coherence_s": 0.01},
            "outage": {"snr_threshold_db": -5, "max_wait_s": 60.0},
        },
        rounds={"deadline_s": deadline_s},
        stop__max_rounds=2,
    )
    monkeypatch.setattr(Medium, "PLAN_CELLS", 1)
    small = _outcome(sc, tmp_path / "small")
    monkeypatch.setattr(Medium, "PLAN_CELLS", 1 << 30)
    whole = _outcome(sc, tmp_path / "whole")
    assert small == whole
    assert small[0] == "error" and "device 0 cannot deliver" in small[1]


def _silent_after_ten_blocks(plan_cells: int) -> str:
    """One uplink whose channel carries it for 10 blocks (1 s each), then never again."""
    Medium.PLAN_CELLS = plan_cells
    env = simpy.Environment()
    channel = PiecewiseChannel([1e-9] * 10 + [1e-30], n_devices=1)
    medium = Medium(env, channel, 1e6, 4e-21, np.array([0.2]), 10.0, 1.0, max_wait_s=100.0)
    medium.transmit(0, "uplink", 10**12)  # far more than 10 blocks carry
    with pytest.raises(SimulationError) as err:
        env.run(until=1e6)
    return f"{env.now} {err.value}"


def test_the_silence_is_measured_from_the_last_delivered_bits(monkeypatch):
    monkeypatch.setattr(Medium, "PLAN_CELLS", Medium.PLAN_CELLS)  # restored afterwards
    small, whole = _silent_after_ten_blocks(1), _silent_after_ten_blocks(1 << 30)
    assert small == whole
    # the first look-ahead (65,536 blocks) sees it deliver; the next sees nothing and it
    # has then been silent since the end of block 9 (t = 10 s)
    horizon = Medium.MAX_HORIZON_BLOCKS
    assert small.startswith(f"{float(horizon)} device 0 cannot deliver")
    assert f"sent nothing for {2 * horizon - 10:.4g} s" in small
