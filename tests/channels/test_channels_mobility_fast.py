"""channels.mobility fast path: all devices at once from cached segments.

Every query pattern must give the bits of the general per-device computation
(``_evaluate(times, general=True)``) on a twin model built with the same seed.
"""

import math

import numpy as np
import pytest

from channels import mobility

RNG = np.random.default_rng


def _trace_rows(n, rng):
    """Per device 1-6 samples at increasing times, some before t = 0, some starting after."""
    rows = []
    for d in range(n):
        k = int(rng.integers(1, 7))
        times = np.sort(rng.uniform(-20.0, 120.0, k))
        times += np.arange(k) * 1e-3  # strictly increasing
        rows += [(float(t), d, *rng.uniform(0.0, 100.0, 2)) for t in times]
    return rows


# name -> factory(n, seed); fast speeds in small regions, so segments end often
CASES = {
    "rwp_rect": lambda n, s: mobility.make(
        "random_waypoint", n=n, rng=RNG(s), speed_mps=(5, 20), area_m=(120, 80)
    ),
    "rwp_disc_pause": lambda n, s: mobility.make(
        "random_waypoint", n=n, rng=RNG(s), speed_mps=(5, 20), pause_s=2.0, radius_m=60.0
    ),
    "rwp_rect_pause_stationary": lambda n, s: mobility.make(
        "random_waypoint",
        n=n,
        rng=RNG(s),
        speed_mps=(5, 20),
        pause_s=3.0,
        area_m=(100, 100),
        stationary_start=True,
    ),
    "rwp_disc_fixed_speed": lambda n, s: mobility.make(
        "random_waypoint", n=n, rng=RNG(s), speed_mps=(10, 10), radius_m=50.0
    ),
    "direction_border_rect_pause": lambda n, s: mobility.make(
        "random_direction", n=n, rng=RNG(s), speed_mps=(5, 15), area_m=(80, 50), pause_s=1.0
    ),
    "direction_travel_disc": lambda n, s: mobility.make(
        "random_direction", n=n, rng=RNG(s), speed_mps=10.0, radius_m=40.0, travel_s=3.0
    ),
    "gauss_markov_steer_rect": lambda n, s: mobility.make(
        "gauss_markov",
        n=n,
        rng=RNG(s),
        mean_speed_mps=8.0,
        alpha=0.5,
        area_m=(60, 60),
        border="steer",
        update_s=2.0,
    ),
    "gauss_markov_reflect_disc": lambda n, s: mobility.make(
        "gauss_markov",
        n=n,
        rng=RNG(s),
        mean_speed_mps=8.0,
        alpha=0.8,
        radius_m=40.0,
        update_s=2.0,
    ),
    "manhattan": lambda n, s: mobility.make(
        "manhattan_grid", n=n, rng=RNG(s), block_m=30.0, n_blocks=(3, 2), speed_mps=(5, 15)
    ),
    "trace": lambda n, s: mobility.make("trace", path_or_rows=_trace_rows(n, RNG(s)), n=n),
}


def _boundaries(model):
    """Segment start / arrival / end times the reference has generated (exact edge cases)."""
    if isinstance(model, mobility.RandomWaypoint):
        legs = model._legs[0]
        return np.concatenate((legs.start_s, legs.arrive_s))
    return model._tracks[0].t[: model._tracks[0].k]


def _queries(kind, rng, horizon_s, extra):
    """Query times: non-decreasing (tiny steps, repeats, jumps) or in any order."""
    if kind == "monotone":
        steps = rng.choice([0.0, 1e-3, 0.05, 0.7, 9.0], size=60) * rng.uniform(0.5, 1.5, 60)
        times = np.concatenate(([0.0], np.cumsum(steps) * horizon_s / 150.0))
        times = np.sort(np.concatenate((times, extra)))
    elif kind == "shuffled":
        times = rng.permutation(np.concatenate((rng.uniform(0.0, horizon_s, 40), extra)))
    else:  # "back_and_forth": forward runs with backward steps, small and large
        times = np.abs(np.cumsum(rng.normal(0.5, 3.0, 60)) * horizon_s / 100.0)
        times = np.concatenate((times, extra, times[::7]))
    return np.concatenate((times, [-0.0, 0.0, -0.0]))  # and the sign of zero


def _same_bits(a, b):
    assert a.shape == b.shape
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a.view(np.int64), b.view(np.int64))


KINDS = ("monotone", "shuffled", "back_and_forth")
# n = 500 in any order for two random-waypoint cases only (time budget)
PARAMS = [
    (case, n, kind)
    for case in CASES
    for n in (1, 7, 500)
    for kind in KINDS
    if n < 500 or kind == "monotone" or case in ("rwp_rect", "rwp_disc_pause")
]


@pytest.mark.parametrize(("case", "n", "kind"), PARAMS)
def test_fast_path_is_bit_identical_to_the_general_path(case, n, kind):
    horizon_s = 30.0 if n == 500 else 150.0
    rng = RNG([list(CASES).index(case), n, len(kind)])
    reference = CASES[case](n, 11)
    reference._evaluate(np.array([horizon_s]), general=True)  # generate past the horizon
    edges = _boundaries(reference)
    edges = edges[(edges > 0.0) & (edges < horizon_s)][:8]
    extra = np.concatenate((edges, np.nextafter(edges, 0.0), np.nextafter(edges, math.inf)))
    times = _queries(kind, rng, horizon_s, extra)
    want_pos, want_speed, want_dist = reference._evaluate(times, general=True)

    fast = CASES[case](n, 11)
    for k, t in enumerate(times):
        t = float(t)
        if k % 3 == 2:  # a different first call at this instant (the instant is then cached)
            _same_bits(fast.travelled_m(t), want_dist[k])
            _same_bits(fast.speed(t), want_speed[k])
            _same_bits(fast.position(t), want_pos[k])
        else:
            _same_bits(fast.position(t), want_pos[k])
            _same_bits(fast.speed(t), want_speed[k])
            _same_bits(fast.travelled_m(t), want_dist[k])

    # then arrays of times: windows of the same queries (spanning segment ends or not)
    for lo in range(0, len(times), 9):
        window = times[lo : lo + 8]
        _same_bits(fast.positions(window), want_pos[lo : lo + 8])
        _same_bits(fast.speeds(window), want_speed[lo : lo + 8])
        _same_bits(fast.travelled(window), want_dist[lo : lo + 8])


def test_one_instant_relocates_only_devices_whose_segment_ended(monkeypatch):
    model = mobility.make("random_waypoint", n=500, rng=RNG(3), speed_mps=(1, 3), radius_m=500.0)
    calls = []
    segment_at = model._segment_at

    def counting(d, t_s):
        calls.append(d)
        return segment_at(d, t_s)

    monkeypatch.setattr(model, "_segment_at", counting)
    model.position(1.0)
    assert len(calls) == 500  # first query: every device located once
    calls.clear()
    for k in range(1, 101):
        model.position(1.0 + 0.01 * k)
        model.travelled_m(1.0 + 0.01 * k)
    # legs last ~200 s: 500 devices over 1 s end well under 10 legs
    assert len(calls) < 10
    relocated = len(calls)
    calls.clear()
    model.position(0.5)  # backwards: only the devices moved on to a later leg go back
    assert len(calls) == relocated
    model.position(1.0e4)  # far ahead: every device re-located
    assert len(calls) == 500


def test_cached_instant_is_not_aliased():
    model = mobility.make("random_waypoint", n=4, rng=RNG(2), speed_mps=(1, 3), area_m=(50, 50))
    pos, speed, dist = model.position(3.0), model.speed(3.0), model.travelled_m(3.0)
    keep = pos.copy(), speed.copy(), dist.copy()
    pos[:] = math.nan
    speed[:] = math.nan
    dist[:] = math.nan
    np.testing.assert_array_equal(model.position(3.0), keep[0])
    np.testing.assert_array_equal(model.speed(3.0), keep[1])
    np.testing.assert_array_equal(model.travelled_m(3.0), keep[2])


def test_zero_devices_and_empty_times():
    model = mobility.make("random_waypoint", n=0, rng=RNG(1), speed_mps=(1, 3), radius_m=10.0)
    assert model.position(5.0).shape == (0, 2)
    assert model.travelled([1.0, 2.0]).shape == (2, 0)
    one = mobility.make(
        "gauss_markov", n=1, rng=RNG(1), mean_speed_mps=1.0, alpha=0.5, radius_m=10.0
    )
    assert one.positions([]).shape == (0, 1, 2)
