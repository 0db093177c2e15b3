"""channels.shadowing.CorrelatedShadowing: Gudmundson AR(1) along each trajectory."""

import math

import numpy as np
import pytest
from scipy import stats

from channels.pathloss import UMa
from channels.shadowing import CorrelatedShadowing


def test_first_call_is_normal_with_std():
    n = 100_000
    x = CorrelatedShadowing(8.0, 20.0, n, np.random.default_rng(11)).sample_db(np.zeros(n))
    assert x.shape == (n,)
    # mean 0 ± 5·8/sqrt(1e5) = ±0.127 dB; std 8 ± 5·8/sqrt(2e5) = ±0.09 dB
    assert abs(x.mean()) < 0.127
    assert abs(x.std() - 8.0) < 0.09
    assert stats.kstest(x, stats.norm(0.0, 8.0).cdf).pvalue > 0.01


def test_correlation_after_one_step():
    n = 100_000
    sh = CorrelatedShadowing(8.0, 20.0, n, np.random.default_rng(12))
    a = sh.sample_db(np.full(n, 3.0))  # the first call only sets the origin
    b = sh.sample_db(np.full(n, 13.0))  # Δd = 10 m
    # ρ = exp(-10/20) = 0.60653; sd of the estimate ≈ (1 - ρ²)/sqrt(n) = 0.002
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(math.exp(-0.5), abs=0.01)
    # the marginal stays N(0, 8²)
    assert abs(b.std() - 8.0) < 0.09
    assert stats.kstest(b, stats.norm(0.0, 8.0).cdf).pvalue > 0.01


def test_correlation_decays_exponentially_along_a_path():
    n, step, d_corr = 20_000, 5.0, 20.0
    sh = CorrelatedShadowing(6.0, d_corr, n, np.random.default_rng(13))
    travelled = np.repeat(step * np.arange(7.0)[:, None], n, axis=1)  # (7, n)
    path = sh.sample_path_db(travelled)
    assert path.shape == (7, n)
    for k in range(1, 7):
        # exp(-5k/20) = 0.7788, 0.6065, 0.4724, 0.3679, 0.2865, 0.2231; sd ≤ 0.0028
        expected = math.exp(-k * step / d_corr)
        assert np.corrcoef(path[0], path[k])[0, 1] == pytest.approx(expected, abs=0.015)
    assert np.all(np.abs(path.std(axis=1) - 6.0) < 0.15)  # 5·6/sqrt(2·20000) = 0.15


def test_far_apart_samples_are_independent():
    n = 50_000
    sh = CorrelatedShadowing(8.0, 10.0, n, np.random.default_rng(14))
    a = sh.sample_db(np.zeros(n))
    b = sh.sample_db(np.full(n, 500.0))  # ρ = exp(-50) ≈ 2e-22
    assert abs(np.corrcoef(a, b)[0, 1]) < 5.0 / math.sqrt(n)


def test_update_formula_per_link():
    # hand-check S_new = ρ·S_old + sqrt(1 - ρ²)·σ·z against the same normal stream
    std = np.array([4.0, 6.0, 8.0])
    corr = np.array([10.0, 13.0, 50.0])
    sh = CorrelatedShadowing(std, corr, 3, np.random.default_rng(21))
    ref = np.random.default_rng(21)
    s0 = sh.sample_db([0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s0, std * ref.standard_normal(3))
    s1 = sh.sample_db([5.0, 0.0, 25.0])  # link 1 did not move: no draw for it
    z = ref.standard_normal(2)
    rho = np.exp(-np.array([5.0 / 10.0, 25.0 / 50.0]))  # exp(-0.5) both
    expected = rho * s0[[0, 2]] + np.sqrt(1.0 - rho**2) * std[[0, 2]] * z
    np.testing.assert_allclose(s1[[0, 2]], expected, rtol=1e-13)
    assert s1[1] == s0[1]
    assert sh.rng.bit_generator.state == ref.bit_generator.state


def test_zero_step_returns_same_values_without_drawing():
    n = 10
    rng = np.random.default_rng(5)
    sh = CorrelatedShadowing(8.0, 20.0, n, rng)
    first = sh.sample_db(np.full(n, 7.0))
    state = rng.bit_generator.state
    again = sh.sample_db(np.full(n, 7.0))
    np.testing.assert_array_equal(again, first)
    assert rng.bit_generator.state == state
    again[0] = 1e9  # a copy: the internal state is not exposed
    np.testing.assert_array_equal(sh.sample_db(np.full(n, 7.0)), first)


def test_zero_std_gives_zeros_and_consumes_no_randomness():
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    sh = CorrelatedShadowing(0.0, 20.0, 4, rng)
    np.testing.assert_array_equal(sh.sample_db(np.zeros(4)), 0.0)
    np.testing.assert_array_equal(sh.sample_path_db(np.ones((3, 4)) * [[1], [2], [3]]), 0.0)
    assert rng.bit_generator.state == state


def _mixed_path(seed, t, n):
    """Cumulative distances with zero steps, short steps and long steps mixed per link."""
    steps = np.random.default_rng(seed).choice([0.0, 0.0, 0.3, 2.0, 40.0], size=(t, n))
    return np.cumsum(steps, axis=0)


def test_path_equals_step_by_step():
    n, t = 6, 40
    std = np.array([8.0, 0.0, 4.0, 7.82, 6.0, 3.0])  # link 1 switched off
    corr = np.array([50.0, 13.0, 37.0, 13.0, 50.0, 10.0])
    travelled = _mixed_path(0, t, n)
    a = CorrelatedShadowing(std, corr, n, np.random.default_rng(7))
    b = CorrelatedShadowing(std, corr, n, np.random.default_rng(7))
    path = a.sample_path_db(travelled)
    steps = np.array([b.sample_db(row) for row in travelled])
    np.testing.assert_array_equal(path, steps)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    np.testing.assert_array_equal(path[:, 1], 0.0)
    # both continue identically, whichever method comes next
    more = travelled[-1] + _mixed_path(1, 5, n)
    np.testing.assert_array_equal(
        a.sample_path_db(more), np.array([b.sample_db(row) for row in more])
    )
    np.testing.assert_array_equal(a.sample_db(more[-1] + 1.0), b.sample_db(more[-1] + 1.0))


def test_path_split_anywhere_equals_whole_path():
    n, t = 5, 30
    travelled = _mixed_path(2, t, n)
    whole = CorrelatedShadowing(8.0, 20.0, n, np.random.default_rng(9)).sample_path_db(travelled)
    split = CorrelatedShadowing(8.0, 20.0, n, np.random.default_rng(9))
    parts = [split.sample_path_db(travelled[:11]), split.sample_path_db(travelled[11:])]
    np.testing.assert_array_equal(np.vstack(parts), whole)
    empty = split.sample_path_db(np.empty((0, n)))
    assert empty.shape == (0, n)


def test_same_seed_same_draws():
    t = _mixed_path(3, 10, 4)
    a = CorrelatedShadowing(8.0, 20.0, 4, np.random.default_rng(5)).sample_path_db(t)
    b = CorrelatedShadowing(8.0, 20.0, 4, np.random.default_rng(5)).sample_path_db(t)
    c = CorrelatedShadowing(8.0, 20.0, 4, np.random.default_rng(6)).sample_path_db(t)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_parameters_from_a_3gpp_model():
    pl = UMa(fc_hz=3.5e9)
    los = np.array([True, False, True])
    sh = CorrelatedShadowing(
        pl.shadowing_std_db(los), pl.shadowing_corr_distance_m(los), 3, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(sh.std_db, [4.0, 6.0, 4.0])
    np.testing.assert_array_equal(sh.corr_distance_m, [37.0, 50.0, 37.0])
    assert sh.sample_db(np.zeros(3)).shape == (3,)


@pytest.mark.parametrize(
    ("std", "corr", "n", "match"),
    [
        (-1.0, 20.0, 3, "std_db must be finite and >= 0"),
        (math.nan, 20.0, 3, "std_db must be finite and >= 0"),
        ([4.0, -1.0, 4.0], 20.0, 3, "std_db must be finite and >= 0 elementwise"),
        ([4.0, 4.0], 20.0, 3, r"std_db must be a float or an array of shape \(3,\)"),
        (4.0, 0.0, 3, "corr_distance_m must be finite and > 0"),
        (4.0, [10.0, math.inf, 10.0], 3, "corr_distance_m must be finite and > 0 elementwise"),
        (4.0, 20.0, 0, "n_links must be an integer >= 1"),
        (4.0, 20.0, 2.0, "n_links must be an integer >= 1"),
    ],
)
def test_invalid_parameters(std, corr, n, match):
    with pytest.raises(ValueError, match=match):
        CorrelatedShadowing(std, corr, n, np.random.default_rng(0))


def test_invalid_travelled():
    sh = CorrelatedShadowing(8.0, 20.0, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"travelled_m must have shape \(n_links,\) = \(3\)"):
        sh.sample_db(np.zeros(4))
    with pytest.raises(ValueError, match=r"travelled_m must have shape \(T, n_links\) = \(T, 3\)"):
        sh.sample_path_db(np.zeros(3))
    with pytest.raises(ValueError, match="travelled_m must be finite and >= 0"):
        sh.sample_db([0.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="travelled_m must be finite and >= 0"):
        sh.sample_db([0.0, math.nan, 0.0])
    with pytest.raises(ValueError, match="travelled_m must be non-decreasing per link"):
        sh.sample_path_db([[0.0, 0.0, 0.0], [1.0, 0.5, 1.0], [2.0, 0.4, 2.0]])
    sh.sample_db([5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        sh.sample_db([6.0, 4.0, 6.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        sh.sample_path_db([[6.0, 4.0, 6.0]])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        CorrelatedShadowing(8.0, 20.0, 3, 42)
