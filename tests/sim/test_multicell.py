"""Several cells: strongest-cell association with hysteresis, handovers during a
transmission, and the backhaul path to the server."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from simtools import TINY

from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import ScenarioError, load_scenario
from fedsl_sim.sim.recorder import HANDOVER

BITS = 4_000_000


def build(tmp_path, rule: str, **network):
    # one device driving from (100, 0) to (900, 0) in 8 s between cells at x = 0 and 1000 m
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "drive.csv").write_text("t_s,device,x_m,y_m\n0,0,100,0\n8,0,900,0\n")
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["devices"]["mobility"] = {"kind": "trace", "path": "drive.csv"}
    data["network"].update(
        cells=[{"position_m": [0, 0]}, {"position_m": [1000, 0]}],
        handover={"hysteresis_db": 3.0, "interruption": rule},
        **network,
    )
    f = tmp_path / f"{rule}.yaml"
    f.write_text(yaml.safe_dump(data))
    return Simulation.build(load_scenario(f), source=str(f))


def expected_handover_s() -> float:
    # log-distance, exponent 3.5, no shadowing: cell 1 is stronger by 35 log10(x / (1000 - x))
    # dB; the first 10 ms block start where that exceeds 3 dB (x = 100 + 100 t)
    j = 0
    while True:
        x = 100 + 100 * (j * 0.01)
        if 35 * math.log10(x / (1000 - x)) > 3.0:
            return j * 0.01
        j += 1


def send_at(sim, t0: float):
    env, out = sim.world.env, {}

    def proc():
        yield env.timeout(t0)
        out["res"] = yield from sim.world.transmit(0, "uplink", 0, BITS)

    env.process(proc())
    env.run()
    return out["res"]


def test_handover_time_follows_the_hysteresis_rule(tmp_path):
    sim = build(tmp_path, "continue")
    ch = sim.world.channel
    t_ho = expected_handover_s()  # 4.5 s (x = 550 m)
    j = ch.block_at(t_ho)
    assert ch.serving(j - 1, 2)[:, 0].tolist() == [0, 1]
    assert ch.handovers == [(pytest.approx(t_ho), 0, 0, 1)]


@pytest.mark.parametrize("rule", ["continue", "restart", "drop"])
def test_handover_during_a_transmission(tmp_path, rule):
    t_ho = expected_handover_s()
    results = {r: send_at(build(tmp_path / r, r), t_ho - 0.05) for r in ("continue", "restart")}
    res = send_at(build(tmp_path / f"x{rule}", rule), t_ho - 0.05)
    if rule == "drop":
        assert not res.delivered and res.t_end_s == pytest.approx(t_ho)
    else:
        assert res.delivered and res.t_end_s > t_ho
    # restarting sends the bits of the first 50 ms again: it ends later than continuing
    assert results["restart"].t_end_s > results["continue"].t_end_s


def test_backhaul_of_the_second_cell_delays_the_uplink(tmp_path):
    sim = build(
        tmp_path / "r",
        "continue",
        backhaul=[
            {"a": "cell0", "b": "server", "latency_s": 0.0, "capacity_bps": 1e12},
            {"a": "cell1", "b": "cell0", "latency_s": 0.002, "capacity_bps": 1e8},
        ],
    )
    res = send_at(sim, 6.0)  # served by cell 1 by then
    ev = [e for e in sim.world.recorder.events if e.kind == "backhaul"]
    assert len(ev) == 1 and ev[0].t_start_s == res.t_end_s
    # two hops, store and forward: (0.002 + bits / 1e8) + (0 + bits / 1e12)
    assert ev[0].t_end_s - ev[0].t_start_s == pytest.approx(0.002 + BITS / 1e8 + BITS / 1e12)


def test_handovers_are_booked_in_the_event_log(tmp_path):
    sim = build(tmp_path, "continue")
    sim.world.env.run(until=6.0)
    sim.world.record_handovers(0)
    ev = [e for e in sim.world.recorder.events if e.kind == HANDOVER]
    assert [(e.device, e.cell) for e in ev] == [(0, 1)]
    assert ev[0].t_start_s == pytest.approx(expected_handover_s())


def test_disconnected_backhaul_is_an_input_error(tmp_path):
    with pytest.raises(ScenarioError, match="backhaul path from cell1"):
        build(tmp_path / "d", "continue", backhaul=[{"a": "cell0", "b": "server"}])


def static_between_cells(**cell1):
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["devices"]["placement"] = {"kind": "fixed", "positions_m": [[450.0, 0.0]]}
    data["network"]["cells"] = [{"position_m": [0, 0]}, {"position_m": [1000, 0], **cell1}]
    from fedsl_sim.scenario import validate_scenario

    return Simulation.build(validate_scenario(data, "test"))


def test_association_compares_received_power_per_cell():
    # at x = 450 m cell 0 is 35 log10(550 / 450) = 3.05 dB stronger in path gain ...
    assert static_between_cells().world.channel.serving(0, 1)[0, 0] == 0
    # ... but a cell 1 transmitting 10 dB more is received 6.95 dB stronger
    assert static_between_cells(tx_power_dbm=53.0).world.channel.serving(0, 1)[0, 0] == 1


def test_each_cell_has_its_own_carrier_for_path_loss():
    # a cell at 35 GHz instead of 3.5 GHz loses 20 log10(10) = 20 dB more in free space at d0,
    # so even at +10 dB power it does not win the device
    sim = static_between_cells(tx_power_dbm=53.0, carrier_hz=35e9)
    assert sim.world.channel.serving(0, 1)[0, 0] == 0
    ch = sim.world.channel
    d = np.array([550.0])
    gap = ch._cell_pathloss[1].loss_db(d) - ch._cell_pathloss[0].loss_db(d)
    assert gap[0] == pytest.approx(20.0)
