"""channels.mobility: travelled distance, stationary random waypoint, random direction,
Gauss–Markov, Manhattan grid and trace replay."""

import math

import numpy as np
import pytest
from scipy import stats

from channels import mobility

RNG = np.random.default_rng


def _trace_rows():
    # device 0: (0,0) at t=1 -> (30,40) at t=11 (50 m in 10 s) -> (30,40) at t=20 (pause)
    #           -> (30,10) at t=26 (30 m in 6 s); device 1: (5,5) at t=0 -> (5,25) at t=4.
    return [
        (1.0, 0, 0.0, 0.0),
        (0.0, 1, 5.0, 5.0),
        (11.0, 0, 30.0, 40.0),
        (4.0, 1, 5.0, 25.0),
        (20.0, 0, 30.0, 40.0),
        (26.0, 0, 30.0, 10.0),
    ]


# (factory, region, v_max): region is ("rect", W, H), ("disc", R) or None
MODELS = {
    "static": (lambda: mobility.make("static", positions_m=[[1.0, 2.0], [-3.0, 4.0]]), None, 0.0),
    "random_waypoint": (
        lambda: mobility.make(
            "random_waypoint", n=3, rng=RNG(5), speed_mps=(1, 3), pause_s=2.0, area_m=(60, 40)
        ),
        ("rect", 60.0, 40.0),
        3.0,
    ),
    "random_waypoint_stationary": (
        lambda: mobility.make(
            "random_waypoint",
            n=3,
            rng=RNG(6),
            speed_mps=(1, 3),
            pause_s=2.0,
            radius_m=30.0,
            stationary_start=True,
        ),
        ("disc", 30.0),
        3.0,
    ),
    "random_direction_border": (
        lambda: mobility.make(
            "random_direction", n=3, rng=RNG(7), speed_mps=2.0, area_m=(50, 30), pause_s=1.0
        ),
        ("rect", 50.0, 30.0),
        2.0,
    ),
    "random_direction_travel": (
        lambda: mobility.make(
            "random_direction",
            n=3,
            rng=RNG(8),
            speed_mps=(1.0, 4.0),
            radius_m=25.0,
            travel_s=7.0,
            pause_s=0.5,
        ),
        ("disc", 25.0),
        4.0,
    ),
    "gauss_markov_reflect": (
        lambda: mobility.make(
            "gauss_markov",
            n=3,
            rng=RNG(9),
            mean_speed_mps=3.0,
            alpha=0.7,
            area_m=(40, 40),
            speed_std_mps=0.0,
        ),
        ("rect", 40.0, 40.0),
        3.0,
    ),
    "gauss_markov_steer": (
        lambda: mobility.make(
            "gauss_markov",
            n=3,
            rng=RNG(10),
            mean_speed_mps=2.0,
            alpha=0.5,
            radius_m=30.0,
            speed_std_mps=0.0,
            border="steer",
            mean_direction_rad=0.3,
        ),
        ("disc", 30.0),
        2.0,
    ),
    "manhattan_grid": (
        lambda: mobility.make(
            "manhattan_grid", n=3, rng=RNG(11), block_m=20.0, n_blocks=(3, 2), speed_mps=(2, 5)
        ),
        ("rect", 60.0, 40.0),
        5.0,
    ),
    "trace": (lambda: mobility.make("trace", path_or_rows=_trace_rows()), None, 5.0),
}
TIMES = np.concatenate([np.linspace(0.0, 120.0, 1201), [0.0, 7.25, 7.25, 300.0]])


def test_registry_names():
    assert set(mobility.MODELS.names()) >= {
        "static",
        "random_waypoint",
        "random_direction",
        "gauss_markov",
        "manhattan_grid",
        "trace",
    }


@pytest.mark.parametrize("name", MODELS)
def test_vectorized_queries_equal_scalar_queries(name):
    factory = MODELS[name][0]
    vec = factory()
    pos, spd, dist = vec.positions(TIMES), vec.speeds(TIMES), vec.travelled(TIMES)
    scalar = factory()
    assert pos.shape == (len(TIMES), scalar.n, 2)
    assert spd.shape == dist.shape == (len(TIMES), scalar.n)
    np.testing.assert_array_equal(pos, np.stack([scalar.position(float(t)) for t in TIMES]))
    np.testing.assert_array_equal(spd, np.stack([scalar.speed(float(t)) for t in TIMES]))
    np.testing.assert_array_equal(dist, np.stack([scalar.travelled_m(float(t)) for t in TIMES]))
    assert vec.positions([]).shape == (0, scalar.n, 2)


@pytest.mark.parametrize("name", MODELS)
def test_deterministic_in_any_query_order(name):
    factory = MODELS[name][0]
    forward = factory()
    expected = [(forward.position(t), forward.travelled_m(t)) for t in TIMES]
    shuffled = factory()
    shuffled.position(1000.0)  # a far query first
    for i in RNG(1).permutation(len(TIMES)):
        np.testing.assert_array_equal(shuffled.position(TIMES[i]), expected[i][0])
        np.testing.assert_array_equal(shuffled.travelled_m(TIMES[i]), expected[i][1])


@pytest.mark.parametrize("name", MODELS)
def test_inside_region_bounded_speed_and_continuity(name):
    factory, region, v_max = MODELS[name]
    m = factory()
    dt = 0.05
    ts = np.arange(0.0, 150.0, dt)
    p, v = m.positions(ts), m.speeds(ts)
    eps = 1e-9
    if region is not None and region[0] == "rect":
        assert np.all((p >= -eps) & (p <= np.array(region[1:]) + eps))
    elif region is not None:
        assert np.all(np.hypot(p[..., 0], p[..., 1]) <= region[1] + eps)
    assert np.all((v >= 0.0) & (v <= v_max))
    # continuity: |Δpos| <= v_max·Δt
    step = np.hypot(*np.moveaxis(np.diff(p, axis=0), -1, 0))
    assert np.all(step <= v_max * dt * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_travelled_monotone_and_integral_of_speed(name):
    m = MODELS[name][0]()
    dt = 0.002
    ts = np.arange(0.0, 80.0 + dt / 2, dt)
    s, v, p = m.travelled(ts), m.speeds(ts), m.positions(ts)
    np.testing.assert_array_equal(s[0], np.zeros(m.n))
    assert np.all(np.diff(s, axis=0) >= 0.0)  # exactly monotone, not just to rounding
    # speed is piecewise constant: the left Riemann sum differs from the integral by at most
    # v_max·dt per speed change (a few hundred here), so 1e-3 relative is ample
    integral = np.concatenate([np.zeros((1, m.n)), np.cumsum(v[:-1] * dt, axis=0)])
    np.testing.assert_allclose(s[-1], integral[-1], rtol=2e-3, atol=1e-9)
    # and the straight-line displacement never exceeds the path length
    disp = np.hypot(*np.moveaxis(p[1:] - p[:-1], -1, 0))
    assert np.all(disp <= np.diff(s, axis=0) * (1 + 1e-9) + 1e-9)
    if name != "static":
        assert np.all(s[-1] > 0.0)


# --- random waypoint: stationary start ------------------------------------------------------

# Stationary RWP speed density ∝ 1/v on [v0, v1]: mean (v1 - v0)/ln(v1/v0);
# v0 = 1, v1 = 3: 2/ln 3 = 1.820478. A fresh start draws v uniformly: mean (v0 + v1)/2 = 2.
STATIONARY_MEAN_SPEED = 2.0 / math.log(3.0)


def _rwp(n, seed, **kwargs):
    return mobility.make("random_waypoint", n=n, rng=RNG(seed), speed_mps=(1.0, 3.0), **kwargs)


def _centre_fraction_square(p, side):
    # fraction in the centre square [side/4, 3·side/4]²: 1/4 for a uniform density
    return np.mean(np.all(np.abs(p - side / 2) < side / 4, axis=-1), axis=-1)


def test_rwp_stationary_mean_speed_and_centre_density():
    n = 10_000  # speed sd at stationarity 0.572 -> standard error 0.0057
    stat = _rwp(n, 1, area_m=(100.0, 100.0), stationary_start=True)
    assert STATIONARY_MEAN_SPEED == pytest.approx(1.8205, abs=1e-4)
    v = stat.speeds([0.0, 40.0])
    np.testing.assert_allclose(v.mean(axis=1), STATIONARY_MEAN_SPEED, atol=0.025)
    # centre square holds ~0.45 in the stationary regime vs 1/4 for uniform positions
    centre = _centre_fraction_square(stat.positions([0.0, 40.0]), 100.0)
    assert np.all(centre > 0.40)
    assert abs(centre[0] - centre[1]) < 0.03  # stationary: the same at t = 0 and later
    fresh = _rwp(n, 2, area_m=(100.0, 100.0))
    assert fresh.speed(0.0).mean() == pytest.approx(2.0, abs=0.025)
    assert _centre_fraction_square(fresh.position(0.0), 100.0) == pytest.approx(0.25, abs=0.02)


def test_rwp_stationary_disc_centre_and_speed_law():
    n = 8000
    m = _rwp(n, 3, radius_m=100.0, stationary_start=True)
    p = m.positions([0.0, 25.0])
    inner = np.mean(np.hypot(p[..., 0], p[..., 1]) < 50.0, axis=1)
    assert np.all(inner > 0.40)  # uniform disc: (1/2)² = 0.25
    assert np.all(np.linalg.norm(p, axis=-1) <= 100.0 + 1e-9)
    # the speed at t = 0 has CDF ln(v/v0)/ln(v1/v0), i.e. ln(V) is uniform on [0, ln 3]
    ks = stats.kstest(np.log(m.speed(0.0)), stats.uniform(0.0, math.log(3.0)).cdf)
    assert ks.pvalue > 1e-3


def test_rwp_stationary_pause_probability():
    # square 100 m: E[L] = 0.521405·100 = 52.1405 m (Ghosh); E[1/V] = ln 3 / 2 = 0.549306;
    # P(paused) = 10 / (10 + 52.1405·0.549306) = 10 / 38.6411 = 0.258792
    m = _rwp(10_000, 4, area_m=(100.0, 100.0), pause_s=10.0, stationary_start=True)
    assert m.stationary_pause_probability() == pytest.approx(0.258792, abs=1e-6)
    paused = (m.speeds([0.0, 137.0]) == 0.0).mean(axis=1)
    np.testing.assert_allclose(paused, 0.258792, atol=0.015)  # se 0.0044


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ({"area_m": (1.0, 1.0)}, 0.5214054331647207),  # (2+√2)/15 + ln(1+√2)/3
        ({"area_m": (3.0, 1.0)}, None),
        ({"radius_m": 2.0}, 128 * 2.0 / (45 * math.pi)),  # 1.810852
    ],
)
def test_mean_distance_closed_form(region, expected):
    reg = mobility._Region(region.get("area_m"), region.get("radius_m"))
    if expected is not None:
        assert reg.mean_distance_m() == pytest.approx(expected, rel=1e-12)
    pts = reg.sample(RNG(0), 400_000).reshape(2, -1, 2)
    mc = np.hypot(*(pts[0] - pts[1]).T).mean()  # relative sd ~ 0.0008
    assert reg.mean_distance_m() == pytest.approx(mc, rel=5e-3)


def test_rwp_stationary_option_off_is_the_default_and_validated():
    a = _rwp(3, 5, area_m=(50.0, 50.0))
    b = _rwp(3, 5, area_m=(50.0, 50.0), stationary_start=False)
    np.testing.assert_array_equal(a.positions(TIMES), b.positions(TIMES))
    with pytest.raises(ValueError, match="stationary_start must be True or False"):
        _rwp(3, 5, area_m=(50.0, 50.0), stationary_start="yes")
    with pytest.raises(ValueError, match="initial_positions_m=None"):
        _rwp(1, 5, area_m=(50.0, 50.0), stationary_start=True, initial_positions_m=[[1, 1]])


def test_rwp_travelled_reference():
    # on the first leg from a known start: travelled = speed·t = distance from the start
    m = _rwp(1, 6, area_m=(100.0, 100.0), initial_positions_m=[[50.0, 50.0]], pause_s=3.0)
    v = m.speed(0.0)[0]
    t = 0.5
    assert m.speed(t)[0] == v  # still on the first leg
    np.testing.assert_allclose(m.travelled_m(t), v * t, rtol=1e-12)
    assert m.travelled_m(t)[0] == pytest.approx(np.hypot(*(m.position(t) - 50.0)[0]), rel=1e-12)


# --- random direction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speed_mps": 2.0},
        {"speed_mps": (1.0, 4.0)},
        {"speed_mps": 2.0, "travel_s": 15.0, "pause_s": 5.0},
    ],
    ids=["to_border", "to_border_speed_range", "travel_pause"],
)
def test_random_direction_uniform_density(kwargs):
    # uniform in the square: the centre square [25, 75]² holds 1/4 (binomial se 0.0079);
    # Royer's uniform-in-half-plane exit direction would give ~0.205
    m = mobility.make("random_direction", n=3000, rng=RNG(12), area_m=(100.0, 100.0), **kwargs)
    frac = _centre_fraction_square(m.positions([0.0, 30.0, 200.0]), 100.0)
    np.testing.assert_allclose(frac, 0.25, atol=0.03)


def test_random_direction_to_border_disc_is_uniform():
    # uniform in the disc <=> r²/R² uniform on [0, 1] (KS); the cosine-law exit direction is
    # what makes it so (a uniform-in-half-plane one gives KS p-values ~1e-10 here)
    m = mobility.make("random_direction", n=2000, rng=RNG(25), speed_mps=2.0, radius_m=50.0)
    for p in m.positions([30.0, 200.0, 600.0]):
        assert stats.kstest((p**2).sum(axis=1) / 50.0**2, "uniform").pvalue > 1e-3


def test_random_direction_disc_uniform_and_pause_fraction():
    # uniform in the disc: P(r < R/2) = 1/4; paused fraction = pause/(travel + pause) = 0.2
    m = mobility.make(
        "random_direction",
        n=2000,
        rng=RNG(13),
        speed_mps=3.0,
        radius_m=50.0,
        travel_s=8.0,
        pause_s=2.0,
    )
    ts = [0.0, 21.0, 97.0]
    p = m.positions(ts)
    np.testing.assert_allclose(
        np.mean(np.hypot(p[..., 0], p[..., 1]) < 25.0, axis=1), 0.25, atol=0.04
    )
    np.testing.assert_allclose((m.speeds(ts) == 0.0).mean(axis=1), 0.2, atol=0.03)
    assert set(np.unique(m.speeds(ts))) == {0.0, 3.0}


def test_random_direction_to_border_pauses_on_the_border():
    m = mobility.make(
        "random_direction", n=4, rng=RNG(14), speed_mps=5.0, area_m=(30.0, 20.0), pause_s=3.0
    )
    ts = np.arange(0.0, 200.0, 0.1)
    p, v = m.positions(ts), m.speeds(ts)
    still = v == 0.0
    assert still.mean() > 0.1
    border = np.minimum.reduce([p[..., 0], 30.0 - p[..., 0], p[..., 1], 20.0 - p[..., 1]])
    assert np.all(border[still] <= 1e-9)
    assert np.all(v[~still] == 5.0)


def test_random_direction_reflects_specularly():
    # no pause, long epochs: between reflections motion is straight; the angle of incidence
    # equals the angle of reflection, so |v_x| and |v_y| are preserved in a rectangle
    m = mobility.make(
        "random_direction",
        n=1,
        rng=RNG(15),
        speed_mps=1.0,
        area_m=(10.0, 10.0),
        travel_s=1e6,  # one epoch: only reflections change the direction
        initial_positions_m=[[5.0, 5.0]],
    )
    h = 1e-6
    ts = np.arange(1.0, 100.0, 0.37)
    vel = (m.positions(ts + h) - m.positions(ts)) / h
    vel = vel[:, 0]
    ok = np.isclose(np.hypot(*vel.T), 1.0, rtol=1e-4)  # skip the rare sample at a wall
    assert ok.sum() > 0.9 * len(ts)
    speed_xy = np.abs(vel[ok])
    np.testing.assert_allclose(speed_xy, np.broadcast_to(speed_xy[0], speed_xy.shape), rtol=1e-4)


# --- Gauss–Markov ---------------------------------------------------------------------------


def test_gauss_markov_mean_speed_relaxes_to_mean():
    # E[s_k] = s̄ + α^k (s_0 - s̄): s̄ = 1, s_0 = 3, α = 0.75 -> 3, 2.5, 2.125, 1.84375, ...
    # (sd of s_k <= σ = 0.25: standard error <= 0.0056 with 2000 devices)
    m = mobility.make(
        "gauss_markov",
        n=2000,
        rng=RNG(16),
        mean_speed_mps=1.0,
        alpha=0.75,
        area_m=(300.0, 300.0),
        initial_speed_mps=3.0,
    )
    k = np.arange(11)
    v = m.speeds(k * 1.0 + 0.5)  # update k applies on [k, k + 1)
    np.testing.assert_allclose(v.mean(axis=1), 1.0 + 0.75**k * 2.0, atol=0.025)


@pytest.mark.parametrize(
    ("std", "expected"),
    [
        # σ_s = s̄/4 (default): mean of max(S, 0) = s̄ to 1e-5
        (None, 2.0),
        # σ_s = s̄ = 2: E[max(S,0)] = s̄Φ(1) + σφ(1) = 2·0.841345 + 2·0.241971 = 2.166631
        (2.0, 2.0 * stats.norm.cdf(1.0) + 2.0 * stats.norm.pdf(1.0)),
    ],
)
def test_gauss_markov_long_run_mean_speed(std, expected):
    m = mobility.make(
        "gauss_markov",
        n=400,
        rng=RNG(17),
        mean_speed_mps=2.0,
        alpha=0.6,
        radius_m=100.0,
        speed_std_mps=std,
        update_s=0.5,
    )
    v = m.speeds(np.arange(0.25, 100.0, 0.5))  # 200 updates, correlation ~ 4 updates
    assert v.mean() == pytest.approx(expected, abs=0.02 * max(1.0, (std or 0.5)))


def test_gauss_markov_alpha_one_is_straight_motion():
    # α = 1, σ = 0: constant speed and direction: p(t) = p0 + v·t·(cos d̄, sin d̄)
    m = mobility.make(
        "gauss_markov",
        n=1,
        rng=RNG(18),
        mean_speed_mps=2.0,
        alpha=1.0,
        mean_direction_rad=math.pi / 6,
        direction_std_rad=0.0,
        speed_std_mps=0.0,
        area_m=(100.0, 100.0),
        initial_positions_m=[[10.0, 10.0]],
    )
    ts = np.linspace(0.0, 20.0, 41)  # reaches x = 10 + 2·20·cos 30° = 44.6: no border
    expected = np.array([10.0, 10.0]) + 2.0 * ts[:, None] * [math.cos(math.pi / 6), 0.5]
    np.testing.assert_allclose(m.positions(ts)[:, 0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m.speeds(ts), 2.0)


def test_gauss_markov_reflect_mirrors_the_mean_direction():
    # heading +x at 5 m/s from x = 90 in [0, 100]: the wall at t = 2 s sends it back in -x,
    # and the mirrored mean direction keeps it going -x (no pull back into the wall)
    m = mobility.make(
        "gauss_markov",
        n=1,
        rng=RNG(19),
        mean_speed_mps=5.0,
        alpha=0.5,
        mean_direction_rad=0.0,
        direction_std_rad=0.0,
        speed_std_mps=0.0,
        area_m=(100.0, 20.0),
        initial_positions_m=[[90.0, 10.0]],
    )
    x = m.positions([0.0, 1.0, 2.0, 3.0, 10.0])[:, 0, 0]
    np.testing.assert_allclose(x, [90.0, 95.0, 100.0, 95.0, 60.0], rtol=1e-12)


def test_gauss_markov_steer_vs_reflect_at_the_border():
    # mean direction +x: with "steer" devices are turned back towards the centre within the
    # 10 m margin and hover just inside it (x in (75, 99)); with "reflect" the mirrored mean
    # direction sends them back across the whole area (about a quarter at x < 25)
    kwargs = {
        "n": 200,
        "mean_speed_mps": 3.0,
        "alpha": 0.5,
        "mean_direction_rad": 0.0,
        "direction_std_rad": 0.2,
        "area_m": (100.0, 100.0),
    }
    ts = np.arange(50.0, 150.0, 1.0)
    x_steer = mobility.make("gauss_markov", rng=RNG(20), border="steer", **kwargs).positions(ts)
    x_reflect = mobility.make("gauss_markov", rng=RNG(20), **kwargs).positions(ts)
    x_steer, x_reflect = x_steer[..., 0], x_reflect[..., 0]
    assert np.mean((x_steer > 75.0) & (x_steer < 99.0)) > 0.95
    assert np.mean(x_reflect < 25.0) > 0.15


def test_gauss_markov_piecewise_constant_speed():
    m = mobility.make(
        "gauss_markov", n=5, rng=RNG(21), mean_speed_mps=1.5, alpha=0.3, radius_m=60.0
    )
    v = m.speeds(np.arange(0.0, 30.0, 0.25))  # update_s = 1: four equal samples per interval
    np.testing.assert_array_equal(v.reshape(30, 4, 5), np.repeat(v[::4, None, :], 4, axis=1))


# --- Manhattan grid -------------------------------------------------------------------------


def _off_street(p, block_m, origin=(0.0, 0.0)):
    r = (p - np.asarray(origin)) / block_m
    return np.minimum(*np.moveaxis(np.abs(r - np.round(r)), -1, 0)) * block_m


def test_manhattan_positions_on_streets_inside_grid():
    m = mobility.make(
        "manhattan_grid",
        n=50,
        rng=RNG(22),
        block_m=40.0,
        n_blocks=(4, 3),
        speed_mps=(3.0, 12.0),
        origin_m=(-80.0, -60.0),
    )
    p = m.positions(np.arange(0.0, 400.0, 0.3))
    assert np.all(_off_street(p, 40.0, (-80.0, -60.0)) <= 1e-9)
    assert np.all((p[..., 0] >= -80.0) & (p[..., 0] <= 80.0))
    assert np.all((p[..., 1] >= -60.0) & (p[..., 1] <= 60.0))
    assert np.ptp(p[..., 0]) == 160.0 and np.ptp(p[..., 1]) == 120.0


def test_manhattan_turn_probabilities_at_interior_intersections():
    # constant speed: node j is reached at t1 + j·T (T = block/v); the heading of each block
    # is read mid-block from a finite difference, the turn from the cross product of headings
    block, v, n, n_nodes = 50.0, 10.0, 100, 60
    m = mobility.make(
        "manhattan_grid", n=n, rng=RNG(23), block_m=block, n_blocks=(6, 6), speed_mps=v
    )
    h, T = 1e-6, block / v
    counts = np.zeros(3)  # straight, left, right
    for d in range(n):
        p0 = m.position(0.0)[d]
        u = np.round((m.position(h)[d] - p0) / (h * v))  # first heading, a unit axis vector
        axis, sign = int(u[1] != 0), u.sum()
        c = p0[axis] / block
        t1 = ((np.floor(c) + 1 - c) if sign > 0 else (c - np.ceil(c) + 1)) * block / v
        t1 = t1 % T  # c on a node (probability 0) would give T
        mids = np.concatenate([[t1 / 2], t1 + (np.arange(n_nodes) + 0.5) * T])
        heading = np.round((m.positions(mids + h)[:, d] - m.positions(mids)[:, d]) / (h * v))
        nodes = m.positions(t1 + np.arange(n_nodes) * T)[:, d]
        interior = np.all((nodes > 1.0) & (nodes < 6 * block - 1.0), axis=1)
        hb, ha = heading[:-1][interior], heading[1:][interior]
        cross = hb[:, 0] * ha[:, 1] - hb[:, 1] * ha[:, 0]
        counts += [np.all(hb == ha, axis=1).sum(), (cross > 0).sum(), (cross < 0).sum()]
        assert np.all(np.all(hb == ha, axis=1) | (cross != 0))  # every node classified
        assert not np.any(np.all(hb == -ha, axis=1))  # never a U-turn
    total = counts.sum()
    assert total > 2000  # binomial se of the straight fraction < 0.011
    np.testing.assert_allclose(counts / total, [0.5, 0.25, 0.25], atol=0.04)


def test_manhattan_border_turns_renormalised():
    # always straight unless the grid ends; there left/right (both probability 0) are drawn
    # uniformly among the feasible ones: devices still visit the whole perimeter and interior
    m = mobility.make(
        "manhattan_grid",
        n=20,
        rng=RNG(24),
        block_m=10.0,
        n_blocks=(3, 3),
        speed_mps=5.0,
        turn_probs=(1.0, 0.0, 0.0),
    )
    p = m.positions(np.arange(0.0, 200.0, 0.5))
    assert np.all(_off_street(p, 10.0) <= 1e-9)
    assert np.all((p >= 0.0) & (p <= 30.0))
    np.testing.assert_array_equal(m.speeds(np.arange(0.0, 200.0, 0.5)), 5.0)


# --- trace replay ---------------------------------------------------------------------------


def _write(tmp_path, text, name="trace.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_trace_interpolation_hold_speed_and_travelled(tmp_path):
    # the rows of _trace_rows, columns in another order plus an ignored column
    lines = ["device,x_m,note,y_m,t_s"]
    lines += [f"{d},{x},n,{y},{t}" for t, d, x, y in _trace_rows()]
    m = mobility.make("trace", path_or_rows=_write(tmp_path, "\n".join(lines) + "\n\n"))
    assert m.n == 2
    # (t, device, position, speed, travelled); device 0 holds (0,0) until its first sample
    # at t=1, moves 50 m in 10 s (5 m/s: (3, 4) m per s), pauses, then 30 m in 6 s (5 m/s)
    cases = [
        (0.0, 0, (0.0, 0.0), 0.0, 0.0),
        (0.5, 0, (0.0, 0.0), 0.0, 0.0),  # hold before the first sample
        (1.0, 0, (0.0, 0.0), 5.0, 0.0),
        (3.0, 0, (6.0, 8.0), 5.0, 10.0),  # 2 s at (3, 4) m/s
        (11.0, 0, (30.0, 40.0), 0.0, 50.0),
        (15.0, 0, (30.0, 40.0), 0.0, 50.0),  # paused
        (23.0, 0, (30.0, 25.0), 5.0, 65.0),  # halfway down 30 m
        (26.0, 0, (30.0, 10.0), 0.0, 80.0),
        (1e4, 0, (30.0, 10.0), 0.0, 80.0),  # hold after the last sample
        (1.0, 1, (5.0, 10.0), 5.0, 5.0),  # 20 m in 4 s
        (9.0, 1, (5.0, 25.0), 0.0, 20.0),
    ]
    for t, d, pos, v, s in cases:
        np.testing.assert_allclose(m.position(t)[d], pos, rtol=0, atol=1e-12)
        assert m.speed(t)[d] == pytest.approx(v, rel=1e-12)
        assert m.travelled_m(t)[d] == pytest.approx(s, rel=1e-12, abs=1e-12)
    rows = mobility.make("trace", path_or_rows=_trace_rows())
    dicts = mobility.make(
        "trace",
        path_or_rows=[
            dict(zip(("t_s", "device", "x_m", "y_m"), r, strict=True)) for r in _trace_rows()
        ],
    )
    array = mobility.make("trace", path_or_rows=np.array(_trace_rows()), n=2)
    for other in (rows, dicts, array):
        np.testing.assert_array_equal(other.positions(TIMES), m.positions(TIMES))


def test_trace_samples_before_zero_count_from_zero():
    # (0,0) at t=-2 -> (8,0) at t=2: at t=0 it is at (4,0); travelled from t = 0 only
    m = mobility.make("trace", path_or_rows=[(-2.0, 0, 0.0, 0.0), (2.0, 0, 8.0, 0.0)])
    np.testing.assert_allclose(m.position(0.0), [[4.0, 0.0]])
    np.testing.assert_allclose(m.travelled([0.0, 1.0, 5.0])[:, 0], [0.0, 2.0, 4.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t_s,device,x_m\n0,0,1\n", r"trace\.csv: line 1: missing column\(s\) 'y_m'"),
        ("0,0,1,2\n1,0,2,3\n", r"line 1: missing column.*must be a header"),
        ("", r"trace\.csv: line 1: empty file"),
        ("t_s,device,x_m,y_m\n", r"trace\.csv: no samples"),
        ("t_s,device,x_m,y_m,t_s\n", r"line 1: column\(s\) \['t_s'\] appear more than once"),
        ("t_s,device,x_m,y_m\n0,0,1,2\n1,0,abc,2\n", r"line 3, column 'x_m': expected a finite"),
        ("t_s,device,x_m,y_m\n0,0,1,2\n\n1,0,2,nan\n", r"line 4, column 'y_m'"),
        ("t_s,device,x_m,y_m\n0,0,1,2\n1,0,2\n", r"line 3: expected 4 fields"),
        ("t_s,device,x_m,y_m\n0,0,1,2\nx,0,1,2\n", r"line 3, column 't_s': expected a finite"),
        (
            "t_s,device,x_m,y_m\n0,0,1,2\n5,1,1,2\n5,0,1,2\n4,0,1,2\n",
            r"line 5, column 't_s': times of device 0 must be strictly increasing, "
            r"got 4\.0 after 5\.0 \(.*line 4\)",
        ),
        ("t_s,device,x_m,y_m\n0,0,1,2\n0,0,1,2\n", r"line 3, column 't_s'"),
        ("t_s,device,x_m,y_m\n0,1.5,1,2\n", r"line 2, column 'device': expected a device index"),
        ("t_s,device,x_m,y_m\n0,-1,1,2\n", r"line 2, column 'device'"),
        (
            "t_s,device,x_m,y_m\n0,0,1,2\n0,2,1,2\n",
            r"trace\.csv, column 'device': devices must be numbered 0\.\.2.*missing device\(s\) 1",
        ),
    ],
)
def test_trace_malformed_file_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        mobility.make("trace", path_or_rows=_write(tmp_path, text))


def test_trace_row_errors_and_n():
    with pytest.raises(
        ValueError, match=r"rows, row 1, column 'device': expected a device index in 0\.\.0"
    ):
        mobility.make("trace", path_or_rows=[(0, 0, 1, 2), (0, 1, 1, 2)], n=1)
    with pytest.raises(ValueError, match=r"rows, column 'device'.*missing device\(s\) 1, 2"):
        mobility.make("trace", path_or_rows=[(0, 0, 1, 2)], n=3)
    with pytest.raises(ValueError, match=r"rows, row 0: missing column\(s\) 'x_m'"):
        mobility.make("trace", path_or_rows=[{"t_s": 0, "device": 0, "y_m": 1}])
    with pytest.raises(ValueError, match=r"rows, row 0: expected 4 values"):
        mobility.make("trace", path_or_rows=[(0, 0, 1)])
    with pytest.raises(ValueError, match="path_or_rows must be a CSV path or an iterable"):
        mobility.make("trace", path_or_rows=3.0)
    with pytest.raises(FileNotFoundError):
        mobility.make("trace", path_or_rows="/nonexistent/trace.csv")
    assert mobility.make("trace", path_or_rows=[], n=0).position(1.0).shape == (0, 2)


# --- parameter validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("random_direction", {"speed_mps": 0.0}, "speed_mps must be finite and > 0"),
        ("random_direction", {"speed_mps": (3.0, 1.0)}, "lo <= hi"),
        ("random_direction", {"speed_mps": "fast"}, "speed_mps must be a speed > 0 or a pair"),
        ("random_direction", {"travel_s": 0.0}, "travel_s must be finite and > 0"),
        ("random_direction", {"pause_s": -1.0}, "pause_s"),
        ("random_direction", {"radius_m": 5.0}, "exactly one of area_m"),
        ("random_direction", {"initial_positions_m": [[0, 0], [11, 0]]}, "inside the region"),
        ("gauss_markov", {"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1.5"),
        ("gauss_markov", {"alpha": -0.1}, r"alpha must be in \[0, 1\], got -0.1"),
        ("gauss_markov", {"alpha": math.nan}, r"alpha must be in \[0, 1\], got nan"),
        ("gauss_markov", {"mean_speed_mps": -1.0}, "mean_speed_mps"),
        ("gauss_markov", {"update_s": 0.0}, "update_s must be finite and > 0"),
        ("gauss_markov", {"speed_std_mps": -1.0}, "speed_std_mps"),
        ("gauss_markov", {"direction_std_rad": math.nan}, "direction_std_rad"),
        ("gauss_markov", {"mean_direction_rad": math.inf}, "mean_direction_rad must be finite"),
        ("gauss_markov", {"border": "wrap"}, "border must be 'reflect' or 'steer', got 'wrap'"),
        ("gauss_markov", {"edge_margin_m": 0.0}, "edge_margin_m"),
        ("gauss_markov", {"initial_speed_mps": math.nan}, "initial_speed_mps"),
        ("manhattan_grid", {"block_m": 0.0}, "block_m must be finite and > 0"),
        ("manhattan_grid", {"n_blocks": (0, 2)}, r"n_blocks\[0\] \(nx\) must be an integer >= 1"),
        ("manhattan_grid", {"n_blocks": 3}, r"n_blocks must be a pair"),
        ("manhattan_grid", {"turn_probs": (0.5, 0.5, 0.5)}, "summing to 1"),
        ("manhattan_grid", {"turn_probs": (1.2, -0.1, -0.1)}, r"turn_probs\[1\] must be"),
        ("manhattan_grid", {"origin_m": (0.0, math.nan)}, r"origin_m\[1\] \(y\) must be finite"),
    ],
)
def test_invalid_parameters(name, kwargs, message):
    base = {
        "random_direction": {"n": 2, "speed_mps": 1.0, "area_m": (10.0, 10.0)},
        "gauss_markov": {"n": 2, "mean_speed_mps": 1.0, "alpha": 0.5, "area_m": (10.0, 10.0)},
        "manhattan_grid": {"n": 2, "block_m": 10.0, "n_blocks": (2, 2), "speed_mps": 1.0},
    }[name]
    with pytest.raises(ValueError, match=message):
        mobility.make(name, rng=RNG(0), **{**base, **kwargs})


@pytest.mark.parametrize("name", MODELS)
def test_invalid_query_times(name):
    m = MODELS[name][0]()
    with pytest.raises(ValueError, match="t_s must be finite and >= 0"):
        m.travelled_m(-1.0)
    with pytest.raises(ValueError, match="t_s"):
        m.position(math.nan)
    with pytest.raises(ValueError, match="times_s must be a 1-D array of finite times >= 0"):
        m.travelled([0.0, -2.0])
