"""The time, energy and scheduling model at its edges: static channels for thousands of blocks,
TDMA energy, the power-aware OFDMA scheduler, broadcast of the average, the compute clock
model, updates applied when their compute completes, deadlines over catch-up downloads,
parallel server workers, stale devices, empty rounds and time spent in outage."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import simpy
import torch
from simtools import TINY, PiecewiseChannel, StaticChannel, make_scenario

from fedsl_sim.engine import Simulation
from fedsl_sim.scenario import ScenarioError
from fedsl_sim.sim.medium import DOWNLINK, UPLINK, Medium


def events(sim: Simulation, kind: str | None = None, device: int | None = -1):
    return [
        e
        for e in sim.world.recorder.events
        if (kind is None or e.kind == kind) and (device == -1 or e.device == device)
    ]


# ----------------------------------------------------------------------- 1. static channels
@pytest.mark.parametrize(
    "outage",
    [
        {"snr_threshold_db": None},
        {"snr_threshold_db": -5.0, "policy": "wait"},
        {"snr_threshold_db": -5.0, "policy": "harq"},
        {"snr_threshold_db": -5.0, "policy": "drop"},
    ],
)
@pytest.mark.parametrize("cells", [None, [{"position_m": [0, 0]}, {"position_m": [600, 0]}]])
def test_a_static_channel_runs_for_thousands_of_blocks(outage, cells):
    # 10 us blocks: a chunk of 1024 blocks is 10 ms, so these rounds span thousands of blocks
    sc = make_scenario(
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
        network__fading={"kind": "none", "coherence_s": 1e-5},
        network__outage=outage,
        network__cells=cells,
        stop__max_rounds=4,
    )
    sim = Simulation.build(sc)
    assert not sim.world.channel.time_varying
    sim.run_rounds()
    t = sim.world.env.now
    assert t / sim.world.channel.block_s > 5000
    assert len(sim.world.recorder.rounds) == 4
    assert not [e for e in sim.world.recorder.events if e.kind.endswith("_lost")]


def test_the_reviewed_static_quickstart_runs_past_ten_seconds():
    from fedsl_sim.scenario import load_scenario

    sc = load_scenario(
        "scenarios/quickstart.yaml",
        overrides={
            "network.fading.kind": "none",
            "devices.mobility": {"kind": "static"},
            "network.outage.snr_threshold_db": None,
            "stop.max_rounds": 400,
            "stop.target_accuracy": None,
            "stop.max_sim_time_s": 12.0,
            "learning.eval_every_rounds": 1000,
        },
    )
    sim = Simulation.build(sc)
    assert sim.run_rounds() == "max_sim_time_s"
    assert sim.world.env.now >= 12.0  # the old engine died at 10.24 s (1024 blocks)


def test_a_channel_that_never_changes_answers_every_block_from_block_0():
    sim = Simulation.build(make_scenario(network__fading={"kind": "none", "coherence_s": 1e-3}))
    ch = sim.world.channel
    g0 = ch.gains(0, 1).copy()
    assert np.array_equal(ch.gains(10**7, 3), np.repeat(g0, 3, axis=0))
    assert np.array_equal(ch.gains(5, 1), g0)  # and going back is fine: nothing changes


# ----------------------------------------------------------------------- 2. TDMA energy
def uplinks(n: int, bits: int, **kwargs):
    env = simpy.Environment()
    medium = Medium(env, StaticChannel([3.0], n), 1.0, 1.0, np.ones(n), 1.0, None, **kwargs)
    done = {}

    def send(dev):
        done[dev] = yield medium.transmit(dev, UPLINK, bits)

    for k in range(n):
        env.process(send(k))
    env.run()
    return [done[k] for k in range(n)]


@pytest.mark.parametrize("n", [1, 2, 5])
def test_tdma_energy_per_bit_does_not_depend_on_how_many_share_the_frame(n):
    # SNR 3 on 1 Hz: 2 bit/s while on air; n devices each on air 1/n of the time
    res = uplinks(n, 4, access="tdma")
    for r in res:
        assert r.t_end_s == pytest.approx(2.0 * n, rel=1e-12)  # wall time grows with n
        assert r.on_air_s == pytest.approx(2.0, rel=1e-12)  # airtime (energy) does not
        assert r.on_air_s / r.bits == pytest.approx(0.5, rel=1e-12)


def test_tdma_energy_and_busy_time_in_the_engine():
    sc = make_scenario(
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
        network__access={"kind": "tdma"},
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    p_w = float(sim.world.device_tx_power_w[0])
    for e in events(sim, "uplink"):
        # both uplinks run together: each on air half of its wall duration
        assert e.energy_j == pytest.approx(p_w * (e.t_end_s - e.t_start_s) / 2, rel=1e-9)
    busy = sim.world.recorder.busy_s["uplink"]
    assert busy[0] == pytest.approx(sum(e.t_end_s - e.t_start_s for e in events(sim, "uplink", 0)))


# ----------------------------------------------------------------------- 3. the scheduler
def medium(gains, n=2, threshold=1.0, band=10.0, **kwargs):
    env = simpy.Environment()
    channel = PiecewiseChannel([1.0], n)  # time-varying in form: a device may wait for ever
    channel.gains = lambda j0, count, devices=None: np.tile(
        np.asarray(gains, float) if devices is None else np.asarray(gains, float)[devices],
        (count, 1),
    )
    kwargs.setdefault("min_share_hz", 1.0)
    return env, Medium(env, channel, band, 1.0, np.ones(n), 1.0, threshold, **kwargs)


def send_all(env, med, plan):
    """plan: {device: (start_s, bits, direction)} -> {device: TxResult}"""
    done = {}

    def send(dev, start, bits, direction):
        yield env.timeout(start)
        done[dev] = yield med.transmit(dev, direction, bits)

    for dev, (start, bits, direction) in plan.items():
        env.process(send(dev, start, bits, direction))
    env.run()
    return done


def test_a_power_limited_device_alone_gets_the_part_on_which_it_reaches_the_threshold():
    # P g = 5 W, N0 = 1 W/Hz, B = 10 Hz, threshold 1: SNR 0.5 on the whole band, but on
    # f* B = (5 / 1) / 1 = 5 Hz it reaches 1: rate 5 log2(2) = 5 bit/s; 10 bits take 2 s
    env, med = medium([5.0], n=1)
    res = send_all(env, med, {0: (0.0, 10, UPLINK)})[0]
    assert res.t_end_s == pytest.approx(2.0, rel=1e-12)
    assert res.outage_s == 0.0 and res.on_air_s == pytest.approx(2.0)
    # the old rule: the whole band, SNR 0.5 < 1 for ever
    from fedsl_sim.sim.medium import SimulationError

    env = simpy.Environment()
    med = Medium(
        env, StaticChannel([5.0], 1), 10.0, 1.0, np.ones(1), 1.0, 1.0, scheduler="fixed_share"
    )
    with pytest.raises(SimulationError, match="permanent outage"):
        send_all(env, med, {0: (0.0, 10, UPLINK)})


def test_below_the_minimum_part_it_waits_and_leaves_the_band_to_the_others():
    # device 1: P g = 0.5, f* = 0.05 of the band < min 1 Hz / 10 Hz: it waits (static: for
    # ever, so give it a channel that never lets it through and check device 0's time)
    env, med = medium([100.0, 0.5], n=2)
    done = {}

    def send(dev, bits):
        done[dev] = yield med.transmit(dev, UPLINK, bits)

    env.process(send(0, 10))
    env.process(send(1, 10))
    env.run(until=50.0)
    # device 0 alone on the whole band: 10 log2(1 + 100/10) = 34.59 bit/s
    alone = 10 / (10 * math.log2(11))
    assert done[0].t_end_s == pytest.approx(alone, rel=1e-12)
    assert 1 not in done
    # the old rule: device 1 holds half the band while it waits, device 0 is slowed
    env, med = medium([100.0, 0.5], n=2, scheduler="fixed_share")
    done = {}
    env.process(send(0, 10))
    env.process(send(1, 10))
    env.run(until=50.0)
    assert done[0].t_end_s == pytest.approx(10 / (5 * math.log2(1 + 100 / 5)), rel=1e-12)
    assert done[0].t_end_s > alone


def test_a_narrowed_device_leaves_its_band_to_the_others():
    # device 1: P g = 2 -> f* = 0.2 (2 Hz, SNR 1, 2 bit/s); device 0 gets the other 8 Hz
    env, med = medium([80.0, 2.0], n=2)
    done = send_all(env, med, {0: (0.0, 8, UPLINK), 1: (0.0, 2, UPLINK)})
    r0 = 8 * math.log2(1 + 80 / 8)
    assert done[1].t_end_s == pytest.approx(1.0, rel=1e-12)
    # device 0 sends r0 bits/s for 1 s, then alone on 10 Hz
    left = 8 - r0 * 1.0
    expected = 1.0 + left / (10 * math.log2(1 + 80 / 10)) if left > 0 else 8 / r0
    assert done[0].t_end_s == pytest.approx(expected, rel=1e-12)


def test_a_device_is_never_worse_off_alone():
    # device 0 weak (narrowed), with or without a strong companion
    for gains in ([3.0], [3.0, 200.0]):
        env, med = medium(gains, n=len(gains))
        plan = {k: (0.0, 6, UPLINK) for k in range(len(gains))}
        res = send_all(env, med, plan)
        if len(gains) == 1:
            alone = res[0].t_end_s
        else:
            assert res[0].t_end_s >= alone - 1e-12


@pytest.mark.parametrize(
    ("direction", "gains", "access"),
    [
        # downlink SNR = P_bs g / (N0 B) = g / 10: device 1 at 0.5 < 1 waits (no part helps)
        (DOWNLINK, [100.0, 5.0], "ofdma"),
        # TDMA: device 1's SNR 0.05 on the whole band; it gives its slots away
        (UPLINK, [100.0, 0.5], "tdma"),
    ],
)
def test_a_waiting_transmission_leaves_the_band_to_the_others(direction, gains, access):
    env, med = medium(gains, n=2, access=access)
    done = {}

    def send(dev):
        done[dev] = yield med.transmit(dev, direction, 10)

    env.process(send(0))
    env.process(send(1))
    env.run(until=50.0)
    assert 1 not in done
    assert done[0].t_end_s == pytest.approx(10 / (10 * math.log2(1 + 100 / 10)), rel=1e-12)


def test_waiting_time_is_recorded_as_outage():
    # block 1 is below the threshold: 1 s paused (wait); under harq the block fails (1 s)
    ch = PiecewiseChannel([3.0, 0.5, 15.0, 15.0], 1)
    env = simpy.Environment()
    med = Medium(env, ch, 1.0, 1.0, np.array([1.0]), 1.0, 1.0)
    res = send_all(env, med, {0: (0.5, 6, UPLINK)})[0]
    assert res.outage_s == pytest.approx(1.0, rel=1e-12)
    env = simpy.Environment()
    med = Medium(env, ch, 1.0, 1.0, np.array([1.0]), 1.0, 1.0, policy="harq", max_retransmissions=1)
    res = send_all(env, med, {0: (0.5, 6, UPLINK)})[0]
    assert res.outage_s == pytest.approx(1.0, rel=1e-12)
    assert res.on_air_s == pytest.approx(2.75, rel=1e-12)


def test_outage_time_reaches_events_devices_csv_and_the_report(tmp_path):
    import csv

    from fedsl_sim import run
    from fedsl_sim.report.study import build_report

    sc = make_scenario(
        devices__count=2,
        devices__placement={"kind": "uniform_disc", "radius_m": 400.0},
        network__fading={"kind": "rayleigh", "coherence_s": 0.002},
        network__outage={"snr_threshold_db": 15.0},
        stop__max_rounds=2,
    )
    res = run(sc, out_dir=tmp_path / "run", plots=True)
    rows = list(csv.DictReader((res.out_dir / "events.csv").open()))
    waited = sum(float(r["outage_s"] or 0) for r in rows)
    assert waited > 0
    for r in rows:
        if r["outage_s"]:
            assert float(r["outage_s"]) <= float(r["t_end_s"]) - float(r["t_start_s"]) + 1e-12
    dev = list(csv.DictReader((res.out_dir / "devices.csv").open()))
    per_device = sum(float(d[c]) for d in dev for c in d if c.endswith("_outage_s"))
    assert per_device == pytest.approx(waited, rel=1e-9)
    report = build_report(res.out_dir)
    run_data = report.runs[0]
    assert run_data.latency.get("outage", 0.0) > 0
    assert sum(run_data.latency.values()) == pytest.approx(res.summary["sim_time_s"], rel=1e-9)


# ----------------------------------------------------------------------- 4. broadcast
def test_multicast_runs_at_the_weakest_receivers_rate():
    env, med = medium([100.0, 20.0, 50.0], n=3, threshold=None)
    got = {}

    def proc():
        evs = med.multicast([0, 1, 2], 10)
        res = yield env.all_of(list(evs.values()))
        for k, ev in evs.items():
            got[k] = res[ev]

    env.process(proc())
    env.run()
    # downlink SNR g / 10: the weakest is 2 -> 10 log2(3) bit/s on the whole band
    t = 10 / (10 * math.log2(3))
    assert all(r.t_end_s == pytest.approx(t, rel=1e-12) for r in got.values())


@pytest.mark.parametrize("count", [1, 4])
def test_broadcast_download_does_not_grow_with_the_number_of_devices(count):
    pos = [[100.0 * math.cos(a), 100.0 * math.sin(a)] for a in np.linspace(0, 3, count)]
    times = {}
    for mode in ("broadcast", "unicast"):
        sc = make_scenario(
            devices__count=count,
            devices__placement={"kind": "fixed", "positions_m": pos},
            aggregation__downlink=mode,
        )
        sim = Simulation.build(sc)
        sim.run_rounds()
        dl = events(sim, "model_download")
        assert len(dl) == count
        times[mode] = max(e.t_end_s - e.t_start_s for e in dl)
        busy = sim.world.recorder.busy_s["model_download"]
        assert busy == pytest.approx([e.t_end_s - e.t_start_s for e in dl])
    if count == 1:
        assert times["broadcast"] == pytest.approx(times["unicast"], rel=1e-12)
    else:  # the same distance: a broadcast takes what one unicast alone would
        assert times["unicast"] == pytest.approx(count * times["broadcast"], rel=1e-9)


def test_per_device_splits_broadcast_the_shared_layers_and_unicast_the_rest():
    sc = make_scenario(
        scheme="fedsl",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
        learning__split_layer=[1, 2],
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    from fedsl_sim.compression import model_payload_bits

    g = sim.scheme.global_model
    layer1, layer2 = model_payload_bits(g[0:1], None, 32), model_payload_bits(g[1:2], None, 32)
    dl = events(sim, "model_download")
    assert sorted((e.device, e.bits) for e in dl) == [(0, layer1), (1, layer1), (1, layer2)]
    # both devices got their whole part of the average
    for k, model in enumerate(sim.scheme.clients):
        for key, v in model.state_dict().items():
            assert torch.equal(v, sim.scheme.last_average[key]), (k, key)


def test_broadcast_in_several_cells_is_one_multicast_per_cell():
    sc = make_scenario(
        devices__count=3,
        devices__placement={
            "kind": "fixed",
            "positions_m": [[100.0, 0.0], [0.0, 100.0], [1100.0, 0.0]],
        },
        network__cells=[{"position_m": [0, 0]}, {"position_m": [1200, 0]}],
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    dl = events(sim, "model_download")
    assert len(dl) == 3
    # devices 0 and 1 (cell 0, the same distance) end together; device 2 in its own cell
    d = {e.device: e for e in dl}
    assert d[0].t_end_s == d[1].t_end_s


# ----------------------------------------------------------------------- 5. compute clock
def test_twice_the_clock_is_half_the_time_and_four_times_the_energy():
    out = {}
    for hz in (1e9, 2e9):
        sim = Simulation.build(make_scenario(devices__compute={"cpu_hz": hz}))
        sim.run_rounds()
        fwd = events(sim, "client_forward")[0]
        out[hz] = (fwd.t_end_s - fwd.t_start_s, fwd.energy_j)
    assert out[2e9][0] == pytest.approx(out[1e9][0] / 2, rel=1e-12)
    assert out[2e9][1] == pytest.approx(out[1e9][1] * 4, rel=1e-12)


def test_compute_formulas_per_device():
    sc = make_scenario(
        devices__count=3,
        devices__placement={"kind": "uniform_disc", "radius_m": 200.0},
        devices__compute={
            "cpu_hz": [1e9, 2e9, 5e8],
            "flops_per_cycle": {"low": 2.0, "high": 8.0},
            "kappa": 2e-28,
        },
    )
    sim = Simulation.build(sc)
    w = sim.world
    assert list(w.cpu_hz) == [1e9, 2e9, 5e8]
    assert np.all((w.flops_per_cycle >= 2) & (w.flops_per_cycle <= 8))
    assert len(set(w.flops_per_cycle.tolist())) == 3
    sim.run_rounds()
    flops = sim.scheme.client_flops(0)[0] * 32
    for k in range(3):
        e = events(sim, "client_forward", k)[0]
        cycles = flops / w.flops_per_cycle[k]
        assert e.t_end_s - e.t_start_s == pytest.approx(cycles / w.cpu_hz[k], rel=1e-12)
        assert e.energy_j == pytest.approx(2e-28 * cycles * w.cpu_hz[k] ** 2, rel=1e-12)
    # the draw is seeded: the same scenario gives the same values
    assert np.array_equal(Simulation.build(sc).world.flops_per_cycle, w.flops_per_cycle)


@pytest.mark.parametrize(
    ("compute", "match"),
    [
        ({"flops_per_s": 5e9}, "flops_per_cycle = flops_per_s / cpu_hz"),
        ({"cpu_hz": [1e9, 2e9]}, "one value per device"),
        ({"cpu_hz": 1e15}, r"expected values in \[1e\+06, 1e\+11\]"),
        ({"flops_per_cycle": {"low": 4.0, "high": 2.0}}, "high >= low"),
    ],
)
def test_compute_fields_are_validated(compute, match):
    with pytest.raises(ScenarioError, match=match) as exc:
        make_scenario(devices__compute=compute)
    assert "devices.compute" in str(exc.value)


# ----------------------------------------------------------------------- 6. update timing
def client_state(sim: Simulation, k: int = 0) -> dict[str, torch.Tensor]:
    return {key: v.clone() for key, v in sim.scheme.clients[k].state_dict().items()}


@pytest.mark.parametrize("scheme", ["fl", "fedsl"])
def test_a_deadline_inside_the_compute_leaves_the_model_unchanged(scheme):
    # the forward pass alone takes ~4 ms (FL: the whole model); cut off after 1 ms. With
    # I = 2 the round does not aggregate, so the device's own model shows what it kept.
    sim = Simulation.build(
        make_scenario(
            scheme=scheme,
            rounds__deadline_s=0.001,
            learning__aggregation_interval=2,
        )
    )
    before = client_state(sim)
    opt_before = copy.deepcopy(sim.scheme.clients.optimizer(0).state_dict())
    sim.run_rounds()
    fwd = events(sim, "client_forward")
    assert fwd and fwd[0].t_end_s == pytest.approx(0.001)
    after = client_state(sim)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sim.scheme.clients.optimizer(0).state_dict()["state"] == opt_before["state"]


def test_a_deadline_during_the_client_backward_loses_that_step():
    # run once without a deadline to find when the backward pass starts, then cut inside it
    free = Simulation.build(make_scenario(learning__aggregation_interval=2))
    free.run_rounds()
    bwd = events(free, "client_backward")[0]
    mid = (bwd.t_start_s + bwd.t_end_s) / 2
    sim = Simulation.build(make_scenario(learning__aggregation_interval=2, rounds__deadline_s=mid))
    before = client_state(sim)
    sim.run_rounds()
    assert events(sim, "client_backward")[0].t_end_s == pytest.approx(mid)
    after = client_state(sim)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # while the server, whose step completed, did move
    assert sim.world.recorder.events  # sanity


def test_a_device_that_goes_down_loses_its_optimizer_state(tmp_path):
    trace = tmp_path / "down.csv"
    trace.write_text("device,t_down_s,t_up_s\n0,0.045,100\n")
    data = copy.deepcopy(TINY)
    data["learning"]["optimizer"] = {"kind": "sgd", "lr": 0.05, "momentum": 0.9}
    sc = make_scenario(
        data,
        learning__local_steps=3,
        learning__aggregation_interval=2,
        rounds__availability={"kind": "trace", "path": str(trace)},
    )
    sim = Simulation.build(sc)
    before = client_state(sim)
    sim.run_rounds()
    # it completed a step before going down at 45 ms, then lost it (and its momentum)
    assert len(events(sim, "client_backward")) >= 1
    assert all(torch.equal(before[k], v) for k, v in client_state(sim).items())
    assert sim.scheme.clients.optimizer(0).state_dict()["state"] == {}
    assert 0 in sim.scheme.stale


# ----------------------------------------------------------------------- 7. deadline
def test_the_deadline_covers_a_catch_up_download(tmp_path):
    # device 1 (in cell 1, 0.2 s of backhaul from the server) misses round 0's average; in
    # round 1 its catch-up download alone would outlast the 0.06 s deadline
    trace = tmp_path / "down.csv"
    trace.write_text("device,t_down_s,t_up_s\n1,0.0,0.02\n")
    sc = make_scenario(
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [900.0, 0.0]]},
        network__cells=[{"position_m": [0, 0]}, {"position_m": [1000, 0]}],
        network__backhaul=[
            {"a": "server", "b": "cell0", "latency_s": 1e-6},
            {"a": "server", "b": "cell1", "latency_s": 0.2},
        ],
        rounds__availability={"kind": "trace", "path": str(trace)},
        rounds__deadline_s=0.06,
        stop__max_rounds=2,
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    rows = sim.world.recorder.rounds
    start, limit = rows[0].sim_time_s, rows[0].sim_time_s + 0.06
    agg = [e for e in events(sim, "aggregation", None) if e.round == 1]
    assert agg and agg[0].t_start_s <= limit + 1e-12
    mine = [e for e in sim.world.recorder.events if e.round == 1 and e.device == 1]
    # it was cut off on the backhaul of its catch-up download, at the deadline
    assert [e.kind for e in mine] == ["backhaul"]
    assert mine[0].t_start_s == start and mine[0].t_end_s == pytest.approx(limit, rel=1e-12)
    assert rows[1].dropped == 1 and 1 in sim.scheme.stale  # it still has to fetch it


# ----------------------------------------------------------------------- 8. server workers
def test_parallel_server_workers_compute_against_the_model_at_service_start():
    from fedsl_sim.build import build_world

    world = build_world(make_scenario(server__workers=2))
    env, state, seen = world.env, {"v": 0}, {}

    def job(name, flops):
        def start():
            seen[name] = state["v"]
            return name

        def finish(value):
            state["v"] += 1
            return value

        yield from world.server_compute(0, 0, flops, start, finish)

    env.process(job("a", 1e10))  # 1 ms
    env.process(job("b", 2e10))  # 2 ms, overlapping
    env.run()
    assert seen == {"a": 0, "b": 0}  # b read the model before a's update was applied
    assert state["v"] == 2


def test_one_worker_serves_in_order_and_sees_every_update():
    from fedsl_sim.build import build_world

    world = build_world(make_scenario(server__workers=1))
    env, state, seen = world.env, {"v": 0}, {}

    def job(name):
        def start():
            seen[name] = state["v"]

        def finish(_):
            state["v"] += 1

        yield from world.server_compute(0, 0, 1e10, start, finish)

    env.process(job("a"))
    env.process(job("b"))
    env.run()
    assert seen == {"a": 0, "b": 1}


# ----------------------------------------------------------------------- 9. smaller gaps
@pytest.mark.parametrize("downlink", ["broadcast", "unicast"])
def test_a_lost_model_download_makes_the_device_stale(monkeypatch, downlink):
    import dataclasses

    sim = Simulation.build(make_scenario(stop__max_rounds=2, aggregation__downlink=downlink))
    medium = sim.world.medium
    real_transmit, real_multicast = medium.transmit, medium.multicast

    def lose(event):  # the same transmission, reported lost (as under outage)
        out = sim.world.env.event()

        def relay(ev):
            out.succeed(dataclasses.replace(ev.value, delivered=False))

        event.callbacks.append(relay)
        return out

    def transmit(device, direction, bits):
        ev = real_transmit(device, direction, bits)
        return lose(ev) if direction == "downlink" and sim.world.env.now > 0.01 else ev

    def multicast(devices, bits):
        return {k: lose(ev) for k, ev in real_multicast(devices, bits).items()}

    monkeypatch.setattr(medium, "transmit", transmit)
    monkeypatch.setattr(medium, "multicast", multicast)
    sim.run_round(0)
    assert 0 in sim.scheme.stale
    monkeypatch.undo()
    sim.run_round(1)
    # round 1 starts with a catch-up download before any training
    r1 = [e for e in sim.world.recorder.events if e.round == 1 and e.device == 0]
    assert r1[0].kind == "model_download"
    assert 0 not in sim.scheme.stale


def test_a_round_with_nobody_available_takes_time_and_is_recorded_empty():
    sc = make_scenario(
        rounds__availability={"kind": "bernoulli", "p_unavailable": 0.95},
        rounds__empty_round_s=0.5,
        stop__max_rounds=6,
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    rows = sim.world.recorder.rounds
    empty = [r for r in rows if r.participants == 0]
    assert empty, "p_unavailable 0.95 with one device leaves rounds empty"
    prev = 0.0
    for r in rows:
        if r.participants == 0:
            assert r.sim_time_s == pytest.approx(prev + 0.5)
        prev = r.sim_time_s


def test_a_stale_device_computes_its_mask_after_fetching_the_average(tmp_path, monkeypatch):
    trace = tmp_path / "down.csv"
    trace.write_text("device,t_down_s,t_up_s\n1,0.0,0.02\n")
    sc = make_scenario(
        scheme="lightweight_fedsl",
        devices__count=2,
        devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
        rounds__availability={"kind": "trace", "path": str(trace)},
        compression={"pruning": {"rate": 0.5, "schedule": {"kind": "fixed"}}},
        stop__max_rounds=2,
    )
    sim = Simulation.build(sc)
    scheme = sim.scheme
    seen = []
    real = scheme.pruners[1].update

    def spy(module, rate):
        seen.append({key: v.clone() for key, v in module.state_dict().items()})
        return real(module, rate)

    monkeypatch.setattr(scheme.pruners[1], "update", spy)
    sim.run_rounds()
    # device 1 missed round 0; in round 1 its mask is computed from the average it fetched
    assert seen, "device 1 updated its mask"
    avg0 = [e for e in events(sim, "model_download", 1) if e.round == 1]
    assert avg0 and avg0[0].t_start_s == pytest.approx(sim.world.recorder.rounds[0].sim_time_s)
    # the weights it saw are the round-0 average, not its initial weights
    init = Simulation.build(sc).scheme.clients[1].state_dict()
    assert any(not torch.equal(seen[0][k], init[k]) for k in init)


def test_a_long_computation_with_an_idle_medium_jumps_many_chunks_ahead():
    # found by the fuzz test: a 1 MHz device computes for over a second while the medium is
    # idle; with 1 ms blocks the next transmission is thousands of blocks (several chunks)
    # ahead, and the channel must still compute the chunks in between in order
    sc = make_scenario(
        scheme="fl",
        devices__compute={"cpu_hz": 1e6, "flops_per_cycle": 1.0},
        network__fading={"kind": "rayleigh", "coherence_s": 0.001},
        stop__max_rounds=1,
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    assert sim.world.env.now > 3 * sim.world.channel.CHUNK_BLOCKS * 0.001
    assert events(sim, "model_download")
