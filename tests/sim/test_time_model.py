"""The time model against hand calculations: one device's round, an exact two-device event
trace, and the medium's integration of a piecewise-constant rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from simtools import PiecewiseChannel, StaticChannel, make_scenario

from fedsl_sim.engine import Simulation
from fedsl_sim.sim.medium import DOWNLINK, UPLINK, Medium, SimulationError

C = 299_792_458.0
BANDWIDTH_HZ = 20e6
# Link budget of a device 100 m from the BS, log-distance exponent 3.5, d0 = 1 m, 3.5 GHz:
# PL = 20 log10(4 pi d0 fc / c) + 35 log10(100) = 43.32 + 70 = 113.32 dB
PATHLOSS_DB = 20 * math.log10(4 * math.pi * 3.5e9 / C) + 35 * math.log10(100.0)
GAIN = 10 ** (-PATHLOSS_DB / 10)
N0_W_PER_HZ = 10 ** ((-174 + 7) / 10) / 1000  # -174 dBm/Hz + 7 dB noise figure
P_DEV_W = 10 ** (23 / 10) / 1000  # 23 dBm
P_BS_W = 10 ** (43 / 10) / 1000  # 43 dBm


def uplink_rate(share_hz: float) -> float:
    """The device's whole power in its share: SNR grows as the share shrinks."""
    return share_hz * math.log2(1 + P_DEV_W * GAIN / (N0_W_PER_HZ * share_hz))


def downlink_rate(share_hz: float) -> float:
    """The BS spreads its power over the band: a share carries P_bs * share / B."""
    return share_hz * math.log2(1 + P_BS_W * GAIN / (N0_W_PER_HZ * BANDWIDTH_HZ))


# small_cnn on 8x8 digits, split after layer 2 (per sample; FLOPs = 2 per MAC + 1 per bias
# add, ReLU 1 per element, 2x2 max-pool 4 per output element):
#   layer 1: conv 1->16 3x3 on 8x8: 2*1*9*16*64 + 16*64 = 19456; ReLU 1024       -> 20480
#   layer 2: conv 16->32 3x3 on 8x8: 2*16*9*32*64 + 32*64 = 591872; ReLU 2048;
#            pool 4*32*4*4 = 2048                                                 -> 595968
CLIENT_FWD = 20480 + 595968  # 616448
#   layer 3: conv 32->64 on 4x4: 2*32*9*64*16 + 64*16 = 590848; ReLU 1024; pool 1024
#   layer 4: linear 256->128: 2*256*128 + 128 = 65664; ReLU 128
#   layer 5: linear 128->10: 2*128*10 + 10 = 2570
SERVER_FWD = 590848 + 2048 + 65664 + 128 + 2570  # 661258
CLIENT_PARAMS = (16 * 9 + 16) + (32 * 16 * 9 + 32)  # 160 + 4640 = 4800
BATCH = 32
ACT_BITS = BATCH * 32 * 4 * 4 * 32  # split activations (32, 4, 4) as float32
LABEL_BITS = BATCH * 4  # ceil(log2 10) bits per label
MODEL_BITS = 32 * CLIENT_PARAMS
F_DEV, F_SRV = 5e9, 1e13


def kinds_and_times(sim: Simulation) -> list[tuple[int | None, str, float, float]]:
    return [(e.device, e.kind, e.t_start_s, e.t_end_s) for e in sim.world.recorder.events]


def test_single_device_round_time_is_analytic():
    sim = Simulation.build(make_scenario())
    sim.run_rounds()
    fwd = BATCH * CLIENT_FWD / F_DEV
    ul = (ACT_BITS + LABEL_BITS) / uplink_rate(BANDWIDTH_HZ)
    srv = BATCH * 3 * SERVER_FWD / F_SRV  # forward + backward (2x forward)
    dl = ACT_BITS / downlink_rate(BANDWIDTH_HZ)
    bwd = BATCH * 2 * CLIENT_FWD / F_DEV
    up = MODEL_BITS / uplink_rate(BANDWIDTH_HZ)
    agg = 2 * CLIENT_PARAMS * 1 / F_SRV  # one multiply-add per parameter per model
    down = MODEL_BITS / downlink_rate(BANDWIDTH_HZ)
    steps = [
        (0, "client_forward", fwd),
        (0, "uplink", ul),
        (0, "server_queue", 0.0),
        (0, "server_compute", srv),
        (0, "downlink", dl),
        (0, "client_backward", bwd),
        (0, "model_upload", up),
        (None, "server_queue", 0.0),
        (None, "aggregation", agg),
        (0, "model_download", down),
    ]
    trace = kinds_and_times(sim)
    assert [(d, k) for d, k, _, _ in trace] == [(d, k) for d, k, _ in steps]
    t = 0.0
    for (_, _, t0, t1), (_, kind, duration) in zip(trace, steps, strict=True):
        assert t0 == pytest.approx(t, rel=1e-12, abs=1e-15), kind
        t += duration
        assert t1 == pytest.approx(t, rel=1e-12, abs=1e-15), kind
    assert sim.world.recorder.rounds[0].sim_time_s == pytest.approx(t, rel=1e-12)
    # bits and energy booked with the events
    ev = {e.kind: e for e in sim.world.recorder.events if e.device == 0}
    assert ev["uplink"].bits == ACT_BITS + LABEL_BITS
    assert ev["downlink"].bits == ACT_BITS
    assert ev["model_upload"].bits == MODEL_BITS
    assert ev["uplink"].energy_j == pytest.approx(P_DEV_W * ul, rel=1e-12)
    assert ev["downlink"].energy_j == 0.0
    # kappa f^2 cycles, cycles = FLOPs * cpu_hz / flops_per_s: 1e-28 * 1e9^2 * 1e9 / 5e9
    assert ev["client_forward"].energy_j == pytest.approx(
        1e-28 * 1e18 * BATCH * CLIENT_FWD * 1e9 / F_DEV, rel=1e-12
    )
    assert ev["uplink"].snr_db == pytest.approx(
        10 * math.log10(P_DEV_W * GAIN / (N0_W_PER_HZ * BANDWIDTH_HZ)), rel=1e-12
    )


@pytest.mark.parametrize("downlink", ["broadcast", "unicast"])
def test_two_device_event_trace(downlink):
    sim = Simulation.build(
        make_scenario(
            devices__count=2,
            devices__placement={"kind": "fixed", "positions_m": [[100.0, 0.0], [0.0, 100.0]]},
            aggregation__downlink=downlink,
        )
    )
    sim.run_rounds()
    f = BATCH * CLIENT_FWD / F_DEV
    s = BATCH * 3 * SERVER_FWD / F_SRV
    r_full_dl, r_half_dl = downlink_rate(BANDWIDTH_HZ), downlink_rate(BANDWIDTH_HZ / 2)
    r_full_ul, r_half_ul = uplink_rate(BANDWIDTH_HZ), uplink_rate(BANDWIDTH_HZ / 2)
    # both uplinks share the band from t = f and end together
    t1 = f + (ACT_BITS + LABEL_BITS) / r_half_ul
    # device 0 is served first; its downlink runs alone for s, then shares with device 1's
    t4 = t1 + 2 * s + (ACT_BITS - r_full_dl * s) / r_half_dl
    t5 = t4 + s  # device 1 has r_full_dl * s bits left when device 0 ends, alone again
    # model uploads: the same pattern, offset by the backward passes
    u0 = t4 + 2 * f
    t6 = u0 + s + (MODEL_BITS - r_full_ul * s) / r_half_ul
    t7 = t6 + s
    agg = 2 * CLIENT_PARAMS * 2 / F_SRV
    t8 = t7 + agg
    # the average: one broadcast at the common rate of both (equal) links on the whole band,
    # or two unicasts sharing it
    t9 = t8 + MODEL_BITS / (r_full_dl if downlink == "broadcast" else r_half_dl)
    expected = [
        (0, "client_forward", 0.0, f),
        (1, "client_forward", 0.0, f),
        (0, "uplink", f, t1),
        (1, "uplink", f, t1),
        (0, "server_queue", t1, t1),
        (0, "server_compute", t1, t1 + s),
        (1, "server_queue", t1, t1 + s),
        (1, "server_compute", t1 + s, t1 + 2 * s),
        (0, "downlink", t1 + s, t4),
        (1, "downlink", t1 + 2 * s, t5),
        (0, "client_backward", t4, t4 + 2 * f),
        (1, "client_backward", t5, t5 + 2 * f),
        (0, "model_upload", u0, t6),
        (1, "model_upload", u0 + s, t7),
        (None, "server_queue", t7, t7),
        (None, "aggregation", t7, t8),
        (0, "model_download", t8, t9),
        (1, "model_download", t8, t9),
    ]
    trace = kinds_and_times(sim)
    assert [(d, k) for d, k, _, _ in trace] == [(d, k) for d, k, _, _ in expected]
    for got, want in zip(trace, expected, strict=True):
        assert got[2:] == pytest.approx(want[2:], rel=1e-9, abs=1e-12), want[:2]


def make_medium(env: simpy.Environment, channel, threshold: float | None) -> Medium:
    # noise PSD 1 W/Hz, bandwidth 1 Hz, P = 1 W: SNR = gain, rate = log2(1 + gain) bit/s
    return Medium(env, channel, 1.0, 1.0, np.array([1.0]), 1.0, threshold)


def test_transmission_integrates_piecewise_rate_with_outage_wait():
    # block 0: SNR 3 -> 2 bit/s; block 1: SNR 0.5 < threshold 1 -> waits; blocks 2, 3:
    # SNR 15 -> 4 bit/s. Start at t = 0.5 with 6 bits: 0.5 s * 2 = 1 bit in block 0, none in
    # block 1, 4 bits in block 2, the last bit takes 0.25 s of block 3: ends at t = 3.25.
    env = simpy.Environment()
    medium = make_medium(env, PiecewiseChannel([3.0, 0.5, 15.0, 15.0]), threshold=1.0)
    out = {}

    def proc():
        yield env.timeout(0.5)
        out["res"] = yield medium.transmit(0, UPLINK, 6)

    env.process(proc())
    env.run()
    res = out["res"]
    assert res.t_start_s == 0.5
    assert res.t_end_s == pytest.approx(3.25, rel=1e-15)
    assert res.on_air_s == pytest.approx(0.5 + 1 + 0.25, rel=1e-15)  # not while waiting
    assert res.mean_rate_bps == pytest.approx(6 / 2.75, rel=1e-15)
    # time-averaged SNR: (3 * 0.5 + 0.5 * 1 + 15 * 1.25) / 2.75
    assert res.mean_snr_db == pytest.approx(10 * math.log10(20.75 / 2.75), rel=1e-12)


def test_transmission_after_an_idle_gap_uses_the_current_block():
    # 2 bits in block 0 (SNR 3 -> 2 bit/s) end at t = 1; the medium is idle until t = 2.5,
    # in block 2 (SNR 15 -> 4 bit/s), where 2 bits take 0.5 s: end at t = 3.0.
    env = simpy.Environment()
    medium = make_medium(env, PiecewiseChannel([3.0, 0.5, 15.0, 1.0]), threshold=None)
    ends = []

    def proc():
        res = yield medium.transmit(0, UPLINK, 2)
        ends.append(res.t_end_s)
        yield env.timeout(1.5)
        res = yield medium.transmit(0, UPLINK, 2)
        ends.append(res.t_end_s)

    env.process(proc())
    env.run()
    assert ends == [pytest.approx(1.0, rel=1e-15), pytest.approx(3.0, rel=1e-15)]


def test_long_outage_beyond_the_look_ahead_is_waited_out():
    # outage for 10 blocks with a look-ahead of 2 blocks: the medium wakes at each horizon
    # end and plans again; 4 bits at 4 bit/s from t = 10 end at t = 11.
    env = simpy.Environment()
    medium = make_medium(env, PiecewiseChannel([0.5] * 10 + [15.0]), threshold=1.0)
    medium.MAX_HORIZON_BLOCKS = 2
    out = {}

    def proc():
        out["res"] = yield medium.transmit(0, UPLINK, 4)

    env.process(proc())
    env.run()
    assert out["res"].t_end_s == pytest.approx(11.0, rel=1e-15)
    assert out["res"].on_air_s == pytest.approx(1.0, rel=1e-15)


def test_ofdma_share_changes_rates_midway():
    # static channel, gain 3 (SNR 3 on the full 1 Hz band): alone 2 bit/s; sharing, each
    # uplink gets 0.5 Hz with SNR 6: 0.5 * log2(7) bit/s. A: 3 bits from t=0; B: 1 bit
    # from t=1. A alone sends 2 bits by t=1; both then run at r = 0.5 log2 7 ~= 1.4037:
    # A's last bit and B's single bit both take 1/r.
    env = simpy.Environment()

    medium = Medium(env, StaticChannel([3.0]), 1.0, 1.0, np.array([1.0, 1.0]), 1.0, None)
    done = {}

    def send(dev, delay, bits):
        yield env.timeout(delay)
        done[dev] = yield medium.transmit(dev, UPLINK, bits)

    env.process(send(0, 0.0, 3))
    env.process(send(1, 1.0, 1))
    env.run()
    r = 0.5 * math.log2(7)
    assert done[0].t_end_s == pytest.approx(1 + 1 / r, rel=1e-14)
    assert done[1].t_end_s == pytest.approx(1 + 1 / r, rel=1e-14)


def test_downlink_snr_does_not_depend_on_share():
    env = simpy.Environment()

    medium = Medium(env, StaticChannel([3.0]), 1.0, 1.0, np.array([1.0, 1.0]), 1.0, None)
    done = {}

    def send(dev):
        done[dev] = yield medium.transmit(dev, DOWNLINK, 1)

    env.process(send(0))
    env.process(send(1))
    env.run()
    # each gets half the band and half the BS power: SNR 3, rate 0.5 * log2(4) = 1 bit/s
    assert done[0].t_end_s == pytest.approx(1.0, rel=1e-15)
    assert done[0].mean_snr_db == pytest.approx(10 * math.log10(3), rel=1e-12)


def test_permanent_outage_is_an_error_not_a_hang():
    env = simpy.Environment()

    medium = make_medium(env, StaticChannel([0.1]), threshold=1.0)

    def send():
        yield medium.transmit(0, UPLINK, 1)

    with pytest.raises(SimulationError, match="permanent outage"):
        env.process(send())
        env.run()


def test_scenario_with_unreachable_device_exits_1(tmp_path):
    import subprocess
    import sys

    import yaml
    from simtools import TINY

    data = {**TINY, "network": {**TINY["network"], "outage": {"snr_threshold_db": 60.0}}}
    f = tmp_path / "far.yaml"
    f.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "fedsl_sim", "run", str(f), "--quiet", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "permanent outage" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def send_once(channel, start_s: float, bits: int, **policy):
    env = simpy.Environment()
    medium = Medium(env, channel, 1.0, 1.0, np.array([1.0, 1.0]), 1.0, 1.0, **policy)
    out = {}

    def proc():
        yield env.timeout(start_s)
        out["res"] = yield medium.transmit(0, UPLINK, bits)

    env.process(proc())
    env.run()
    return out["res"]


def test_drop_policy_loses_the_message_at_the_end_of_its_first_outage_block():
    # SNR 3 in block 0 (1 bit by t=1), outage in block 1: lost at t = 2, transmitting all along
    res = send_once(PiecewiseChannel([3.0, 0.5, 15.0]), 0.5, 6, policy="drop")
    assert not res.delivered
    assert res.t_end_s == pytest.approx(2.0, rel=1e-15)
    assert res.on_air_s == pytest.approx(1.5, rel=1e-15)  # blind: it kept transmitting


def test_harq_retransmits_within_its_budget_then_gives_up():
    # one failed block allowed: block 1 fails, blocks 2-3 at 4 bit/s finish the 5 bits left
    # (4 in block 2, 1 in 0.25 s of block 3): t = 3.25, on air the whole 2.75 s
    res = send_once(
        PiecewiseChannel([3.0, 0.5, 15.0, 15.0]), 0.5, 6, policy="harq", max_retransmissions=1
    )
    assert res.delivered
    assert res.t_end_s == pytest.approx(3.25, rel=1e-15)
    assert res.on_air_s == pytest.approx(2.75, rel=1e-15)
    # two failed blocks exceed the budget of one: lost at the end of the second, t = 3
    res = send_once(
        PiecewiseChannel([3.0, 0.5, 0.5, 15.0]), 0.5, 6, policy="harq", max_retransmissions=1
    )
    assert not res.delivered and res.t_end_s == pytest.approx(3.0, rel=1e-15)


def test_chase_combining_rescues_a_retransmission_below_the_threshold():
    # blocks 1 and 2 at SNR 0.6 < 1: without combining both fail (budget 1 exceeded, lost at
    # t = 3); with Chase combining block 2 decodes at 0.6 + 0.6 = 1.2 >= 1 and carries
    # log2(1.6) bits, block 3 carries 4: 6 - 1 - log2(1.6) - 4 bits remain for block 4 at 4/s
    gains = [3.0, 0.6, 0.6, 15.0, 15.0]
    plain = send_once(PiecewiseChannel(gains), 0.5, 6, policy="harq", max_retransmissions=1)
    assert not plain.delivered and plain.t_end_s == pytest.approx(3.0, rel=1e-15)
    chase = send_once(
        PiecewiseChannel(gains), 0.5, 6, policy="harq", max_retransmissions=1, chase_combining=True
    )
    assert chase.delivered
    assert chase.t_end_s == pytest.approx(4 + (1 - math.log2(1.6)) / 4, rel=1e-14)


def test_blind_policies_fail_blockwise_on_a_channel_that_never_changes():
    res = send_once(StaticChannel([0.5]), 0.25, 6, policy="harq", max_retransmissions=2)
    # blocks 0 (from 0.25), 1 and 2 fail; the third failure exceeds the budget: t = 3
    assert not res.delivered and res.t_end_s == pytest.approx(3.0, rel=1e-15)


def test_lost_messages_are_counted_and_excluded(tmp_path):
    """Under drop with a threshold above every device's SNR at some blocks, lost messages are
    booked as *_lost events, counted in rounds.csv, and the run still completes."""
    sc = make_scenario(
        scheme="lightweight_fedsl",
        devices__count=3,
        devices__placement={"kind": "uniform_disc", "radius_m": 300.0},
        network__fading={"kind": "rayleigh", "coherence_s": 0.001},
        network__outage={"snr_threshold_db": 0.0, "policy": "drop"},
        stop__max_rounds=4,
        learning__aggregation_interval=2,
    )
    sim = Simulation.build(sc)
    sim.run_rounds()
    rec = sim.world.recorder
    lost_events = [e for e in rec.events if e.kind.endswith("_lost")]
    assert lost_events, "the scenario should lose some messages"
    assert sum(r.dropped for r in rec.rounds) == len(lost_events)
    assert all(not math.isfinite(e.rate_bps) for e in lost_events)
    # a lost uplink is never followed by a server step for that batch
    server_steps = sum(e.kind == "server_compute" and e.device is not None for e in rec.events)
    delivered_up = sum(e.kind == "uplink" for e in rec.events)
    assert server_steps == delivered_up
    assert rec.uplink_bits.sum() == sum(
        e.bits for e in rec.events if e.kind in ("uplink", "model_upload")
    )


def two_uplinks(bits_a: int, bits_b: int, **kwargs):
    """Devices 0 and 1 start uplinks at t = 0 on a static channel with SNR 3 on 1 Hz."""
    env = simpy.Environment()
    medium = Medium(env, StaticChannel([3.0]), 1.0, 1.0, np.array([1.0, 1.0]), 1.0, None, **kwargs)
    done = {}

    def send(dev, bits):
        done[dev] = yield medium.transmit(dev, UPLINK, bits)

    env.process(send(0, bits_a))
    env.process(send(1, bits_b))
    env.run()
    return done[0].t_end_s, done[1].t_end_s


def test_tdma_gives_the_whole_band_for_a_share_of_the_time():
    # each gets 1 Hz at SNR 3 half of the time: 0.5 * log2(4) = 1 bit/s; 2 bits each -> 2 s
    assert two_uplinks(2, 2, access="tdma") == (pytest.approx(2.0), pytest.approx(2.0))
    # OFDMA instead: 0.5 Hz each at SNR 6: 0.5 log2 7 bit/s
    t = 2 / (0.5 * math.log2(7))
    assert two_uplinks(2, 2) == (pytest.approx(t), pytest.approx(t))


def test_proportional_share_follows_message_sizes():
    # 3 and 1 bits: shares 0.75 and 0.25 Hz, SNRs 4 and 12
    ra, rb = 0.75 * math.log2(5), 0.25 * math.log2(13)
    tb = 1 / rb
    ta = tb + (3 - ra * tb) / math.log2(4)  # A alone afterwards: 1 Hz at SNR 3
    assert two_uplinks(3, 1, share="proportional") == (pytest.approx(ta), pytest.approx(tb))


def test_rate_models_gap_and_cqi():
    from fedsl_sim.build import make_rate_model
    from fedsl_sim.scenario import CqiRate, ShannonRate

    gap = make_rate_model(ShannonRate(kind="shannon", gap_db=3.0))
    snr = np.array([1.0, 10.0])
    np.testing.assert_allclose(gap(np.ones(2), snr), np.log2(1 + snr / 10**0.3))
    cqi = make_rate_model(CqiRate(kind="cqi"))
    # 38.214 Table 5.2.2.1-2: CQI 1 efficiency 0.1523 needs SNR >= 2^0.1523 - 1 = 0.1114;
    # CQI 15 (5.5547) needs 2^5.5547 - 1 = 46.0; below CQI 1: outage
    np.testing.assert_allclose(
        cqi(np.full(3, 1e6), np.array([0.1, 0.12, 100.0])), [0.0, 0.1523e6, 5.5547e6], rtol=1e-4
    )


def test_ring_interference_enters_the_sinr():
    sc = make_scenario(network__interference={"inter_site_distance_m": 500.0, "load": 1.0})
    sim = Simulation.build(sc)
    sim.run_rounds()
    ev = {e.kind: e for e in sim.world.recorder.events if e.device == 0}
    # downlink: six sites at 500 m, 60 degrees apart; the device sits at (100, 0)
    sites = [(500 * math.cos(a), 500 * math.sin(a)) for a in np.arange(6) * math.pi / 3]
    g = [
        10
        ** (
            -(20 * math.log10(4 * math.pi * 3.5e9 / C) + 35 * math.log10(math.hypot(100 - x, y)))
            / 10
        )
        for x, y in sites
    ]
    sinr_dl = P_BS_W * GAIN / (N0_W_PER_HZ * BANDWIDTH_HZ + P_BS_W * sum(g))
    assert ev["downlink"].snr_db == pytest.approx(10 * math.log10(sinr_dl), rel=1e-9)
    # uplink: the quadrature's mean interference against a Monte Carlo estimate (one device
    # uniform in a 250 m disc around each site, 23 dBm, same path loss)
    rng = np.random.default_rng(0)
    r, a = 250 * np.sqrt(rng.uniform(size=200_000)), rng.uniform(0, 2 * math.pi, 200_000)
    mc = 0.0
    for x, y in sites:
        d = np.maximum(np.hypot(x + r * np.cos(a), y + r * np.sin(a)), 10.0)
        mc += np.mean(10 ** (-(20 * math.log10(4 * math.pi * 3.5e9 / C) + 35 * np.log10(d)) / 10))
    assert sim.world.channel.ul_interference_w == pytest.approx(P_DEV_W * mc, rel=0.02)
    sinr_ul = P_DEV_W * GAIN / (N0_W_PER_HZ * BANDWIDTH_HZ + sim.world.channel.ul_interference_w)
    assert ev["uplink"].snr_db == pytest.approx(10 * math.log10(sinr_ul), rel=1e-9)


class IidRayleighChannel(PiecewiseChannel):
    """Unit-mean exponential |h|^2 per 1 s block, drawn once from a seeded generator."""

    def __init__(self, n_blocks: int, seed: int) -> None:
        super().__init__(np.random.default_rng(seed).exponential(size=n_blocks).tolist(), 1)


def test_harq_residual_failure_matches_the_closed_form():
    # 1-bit messages start at block boundaries, so each attempt is a fresh i.i.d. block; mean
    # SNR 1 and threshold 1: a block fails with p = 1 - exp(-1); with N = 2 retransmissions a
    # message is lost when N + 1 = 3 blocks in a row fail: P = p^3 = 0.2525
    n_msgs, budget = 4000, 2
    env = simpy.Environment()
    medium = Medium(
        env,
        IidRayleighChannel(4 * n_msgs, 3),
        1.0,
        1.0,
        np.array([1.0]),
        1.0,
        1.0,
        policy="harq",
        max_retransmissions=budget,
    )
    lost = []

    def proc():
        for _ in range(n_msgs):
            res = yield medium.transmit(0, UPLINK, 1)
            lost.append(not res.delivered)
            yield env.timeout(math.ceil(env.now + 1e-9) - env.now)  # next block boundary

    env.process(proc())
    env.run()
    p = (1 - math.exp(-1)) ** (budget + 1)
    assert abs(np.mean(lost) - p) < 4 * math.sqrt(p * (1 - p) / n_msgs)
