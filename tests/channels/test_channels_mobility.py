"""channels.mobility: static and random-waypoint models."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels import mobility


def _rwp(seed=1, **kwargs):
    params = {"n": 4, "speed_mps": (1.0, 3.0), "area_m": (100.0, 60.0)}
    if "radius_m" in kwargs and "area_m" not in kwargs:
        params.pop("area_m")
    params.update(kwargs)
    return mobility.make("random_waypoint", rng=np.random.default_rng(seed), **params)


def test_static_positions_and_zero_speed():
    pos = np.array([[0.0, 0.0], [10.0, -5.0], [3.5, 7.25]])
    m = mobility.make("static", positions_m=pos)
    assert m.n == 3
    for t in (0.0, 1.5, 1e6):
        np.testing.assert_array_equal(m.position(t), pos)
        np.testing.assert_array_equal(m.speed(t), np.zeros(3))
    m.position(0.0)[0, 0] = 99.0  # returned arrays are copies
    pos[1, 1] = 99.0  # and the input is copied too
    np.testing.assert_array_equal(m.position(2.0), [[0.0, 0.0], [10.0, -5.0], [3.5, 7.25]])


def test_design_md_example():
    rng = np.random.default_rng(0)
    mob = mobility.make("random_waypoint", n=10, area_m=(500, 500), speed_mps=(1, 3), rng=rng)
    for t in (0.0, 10.0, 1000.0):
        p = mob.position(t)
        assert p.shape == (10, 2)
        assert np.all((p >= 0.0) & (p <= 500.0))
    assert mob.speed(5.0).shape == (10,)


def test_initial_positions_and_first_leg_moves_at_t0():
    start = np.array([[10.0, 10.0], [50.0, 30.0]])
    m = _rwp(n=2, initial_positions_m=start, pause_s=5.0)
    np.testing.assert_array_equal(m.position(0.0), start)
    s0 = m.speed(0.0)
    assert np.all((s0 >= 1.0) & (s0 <= 3.0))  # motion starts at t = 0, no initial pause


@pytest.mark.parametrize(
    "region",
    [{"area_m": (100.0, 60.0)}, {"radius_m": 80.0}],
    ids=["rectangle", "disc"],
)
def test_stays_inside_region_and_speeds_in_bounds(region):
    m = _rwp(n=5, pause_s=0.0, seed=3, **region)
    ts = np.arange(0.0, 600.0, 0.37)
    p = np.array([m.position(t) for t in ts])  # (T, n, 2)
    v = np.array([m.speed(t) for t in ts])
    eps = 1e-9
    if "area_m" in region:
        assert np.all(p[..., 0] >= -eps) and np.all(p[..., 0] <= 100.0 + eps)
        assert np.all(p[..., 1] >= -eps) and np.all(p[..., 1] <= 60.0 + eps)
    else:
        assert np.all(np.hypot(p[..., 0], p[..., 1]) <= 80.0 + eps)
    # no pause: always moving, at a speed in [lo, hi]
    assert np.all((v >= 1.0) & (v <= 3.0))
    # the devices actually cover the region, not one corner
    assert np.ptp(p[..., 0]) > 50.0


def test_continuity_speed_bound():
    m = _rwp(n=3, pause_s=1.0, seed=4)
    dt = 0.05
    ts = np.arange(0.0, 300.0, dt)
    p = np.array([m.position(t) for t in ts])
    step = np.hypot(*np.moveaxis(np.diff(p, axis=0), -1, 0))
    assert np.all(step <= 3.0 * dt * (1 + 1e-9) + 1e-12)


def test_reported_speed_matches_motion_and_is_zero_in_pauses():
    # finite difference over h: equals the reported speed while on one leg, 0 while paused
    m = _rwp(n=2, pause_s=2.0, area_m=(20.0, 20.0), seed=7)
    h = 1e-6
    moving = paused = 0
    for t in np.arange(0.0, 200.0, 0.029):
        v0, v1 = m.speed(t), m.speed(t + h)
        fd = np.hypot(*(m.position(t + h) - m.position(t)).T) / h
        same = v0 == v1  # same leg (leg speeds are continuous draws) or the same pause
        for d in np.flatnonzero(same):
            if v0[d] == 0.0:
                assert fd[d] == 0.0
                paused += 1
            else:
                assert 1.0 <= v0[d] <= 3.0
                assert fd[d] == pytest.approx(v0[d], rel=1e-4)
                moving += 1
    assert moving > 500 and paused > 500


def test_pauses_last_pause_s():
    # zero-speed runs on a fine grid last pause_s (to the grid step)
    pause_s, dt = 2.0, 0.01
    m = _rwp(n=2, pause_s=pause_s, area_m=(20.0, 20.0), seed=8)
    ts = np.arange(0.0, 120.0, dt)
    v = np.array([m.speed(t) for t in ts])
    n_runs = 0
    for d in range(2):
        still = np.concatenate(([0], (v[:, d] == 0.0).astype(int), [0]))
        edges = np.flatnonzero(np.diff(still))
        starts, ends = edges[::2], edges[1::2]
        complete = (starts > 0) & (ends < len(ts))
        lengths = (ends - starts)[complete] * dt
        assert np.all(np.abs(lengths - pause_s) <= dt + 1e-9)
        n_runs += len(lengths)
    assert n_runs >= 10


def test_deterministic_and_query_order_independent():
    ts = np.linspace(0.0, 2000.0, 151)
    a = _rwp(seed=42, pause_s=3.0)
    forward = np.array([a.position(t) for t in ts])
    b = _rwp(seed=42, pause_s=3.0)
    order = np.random.default_rng(1).permutation(len(ts))
    shuffled = np.empty_like(forward)
    for i in order:
        shuffled[i] = b.position(ts[i])
    np.testing.assert_array_equal(shuffled, forward)
    c = _rwp(seed=42, pause_s=3.0)
    c.position(5000.0)  # a far query first
    np.testing.assert_array_equal(c.position(ts[10]), forward[10])
    assert not np.array_equal(_rwp(seed=43, pause_s=3.0).position(100.0), forward[0])


def test_device_trajectory_independent_of_other_devices():
    small = _rwp(n=2, seed=5, radius_m=50.0)
    large = _rwp(n=6, seed=5, radius_m=50.0)
    for t in (0.0, 17.0, 333.3):
        np.testing.assert_array_equal(large.position(t)[:2], small.position(t))


def test_zero_devices():
    m = _rwp(n=0)
    assert m.position(3.0).shape == (0, 2) and m.speed(3.0).shape == (0,)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lo=st.floats(0.1, 5.0),
    extra=st.floats(0.0, 5.0),
    pause_s=st.floats(0.0, 10.0),
    t=st.floats(0.0, 1e4),
)
def test_property_inside_disc_and_speed_bounds(seed, lo, extra, pause_s, t):
    m = _rwp(n=3, seed=seed, speed_mps=(lo, lo + extra), pause_s=pause_s, radius_m=30.0)
    p, v = m.position(t), m.speed(t)
    assert np.all(np.hypot(p[:, 0], p[:, 1]) <= 30.0 + 1e-9)
    assert np.all((v == 0.0) | ((v >= lo) & (v <= lo + extra)))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"area_m": None}, "exactly one of area_m"),
        ({"radius_m": 10.0, "area_m": (5.0, 5.0)}, "exactly one of area_m"),
        ({"area_m": (0.0, 10.0)}, r"area_m\[0\]"),
        ({"area_m": (10.0,)}, "area_m must be a pair"),
        ({"area_m": None, "radius_m": -1.0}, "radius_m"),
        ({"speed_mps": (0.0, 3.0)}, "lo"),
        ({"speed_mps": (3.0, 1.0)}, "lo <= hi"),
        ({"speed_mps": 2.0}, "speed_mps must be a pair"),
        ({"pause_s": -1.0}, "pause_s"),
        ({"n": -1}, "n must be an integer >= 0"),
        ({"n": 2, "initial_positions_m": [[0.0, 0.0]]}, r"initial_positions_m must have shape"),
        ({"n": 1, "initial_positions_m": [[101.0, 0.0]]}, "inside the region"),
    ],
)
def test_invalid_random_waypoint(kwargs, field):
    with pytest.raises(ValueError, match=field):
        _rwp(**kwargs)


def test_invalid_queries_and_static():
    with pytest.raises(ValueError, match="t_s must be finite and >= 0"):
        _rwp().position(-1.0)
    with pytest.raises(ValueError, match="t_s"):
        _rwp().speed(math.inf)
    with pytest.raises(ValueError, match="positions_m must have shape"):
        mobility.make("static", positions_m=[1.0, 2.0])
    with pytest.raises(ValueError, match="positions_m must be finite"):
        mobility.make("static", positions_m=[[1.0, math.nan]])
    with pytest.raises(TypeError, match="Generator"):
        mobility.make("random_waypoint", n=1, rng=1, speed_mps=(1, 2), area_m=(5, 5))
    assert set(mobility.MODELS.names()) >= {"static", "random_waypoint"}


@pytest.mark.parametrize(
    "model",
    [
        lambda: mobility.make("static", positions_m=[[1.0, 2.0], [-3.0, 4.0]]),
        lambda: mobility.make(
            "random_waypoint",
            n=4,
            rng=np.random.default_rng(5),
            speed_mps=(1, 3),
            pause_s=2.0,
            radius_m=50.0,
        ),
    ],
    ids=["static", "random_waypoint"],
)
def test_vectorized_positions_equal_scalar_positions(model):
    times = np.concatenate([np.linspace(0, 300, 997), [0.0, 12.5, 12.5]])
    vec = model().positions(times)
    scalar = model()
    expected = np.stack([scalar.position(float(t)) for t in times])
    assert vec.shape == (len(times), scalar.n, 2)
    np.testing.assert_array_equal(vec, expected)
