"""channels.fading.BlockFading: block semantics, query-order independence, exact boundaries."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import fading


def _bf(model="rayleigh", n_links=3, coherence_s=0.01, seed=5, chunk_blocks=8, **params):
    return fading.BlockFading(
        fading.make(model, **params),
        n_links,
        coherence_s,
        np.random.default_rng(seed),
        chunk_blocks=chunk_blocks,
    )


def test_values_are_the_chunks_drawn_in_order_from_the_rng():
    # reference: chunk c = rng.standard_exponential((chunk_blocks, n_links)) drawn for c = 0, 1..
    bf = _bf(chunk_blocks=4, n_links=3, seed=12)
    ref_rng = np.random.default_rng(12)
    ref = np.vstack([ref_rng.standard_exponential((4, 3)) for _ in range(3)])
    for j in (9, 0, 11, 4):
        np.testing.assert_array_equal(bf.power(j), ref[j])
        assert bf.power(j).shape == (3,)


def test_constant_within_a_block():
    bf = _bf(coherence_s=0.01)
    for j in (0, 1, 7, 123):
        times = bf.start_s(j) + np.linspace(0.0, 0.0099999, 11)
        values = [bf.power(bf.index_at(t)) for t in times]
        assert all(bf.index_at(t) == j for t in times)
        for v in values:
            np.testing.assert_array_equal(v, bf.power(j))
    # neighbouring blocks differ (continuous distribution)
    assert not np.array_equal(bf.power(3), bf.power(4))


def test_query_order_does_not_change_values():
    n_blocks = 200
    forward = _bf(seed=31, chunk_blocks=16)
    expected = np.array([forward.power(j) for j in range(n_blocks)])
    order = np.random.default_rng(0).permutation(n_blocks)
    shuffled = _bf(seed=31, chunk_blocks=16)
    got = np.empty_like(expected)
    for j in order:
        got[j] = shuffled.power(int(j))
    np.testing.assert_array_equal(got, expected)
    # jumping straight to a late block first, then back
    late_first = _bf(seed=31, chunk_blocks=16)
    np.testing.assert_array_equal(late_first.power(199), expected[199])
    np.testing.assert_array_equal(late_first.power(0), expected[0])


def test_power_is_read_only_and_repeatable():
    bf = _bf()
    v = bf.power(2)
    with pytest.raises(ValueError):
        v[0] = 0.0
    np.testing.assert_array_equal(bf.power(2), v)


def test_unit_mean_over_blocks_and_links():
    bf = _bf(model="nakagami", m=2.0, n_links=10, chunk_blocks=1000, seed=3)
    x = np.array([bf.power(j) for j in range(5000)])
    # 5e4 draws of Gamma(2, 1/2) (var 1/2): |mean - 1| < 5·sqrt(0.5/5e4) = 0.0158
    assert abs(x.mean() - 1.0) < 0.0158


def test_none_model_is_ones_and_draws_nothing():
    rng = np.random.default_rng(8)
    state = rng.bit_generator.state
    bf = fading.BlockFading(fading.make("none"), 4, 0.01, rng)
    np.testing.assert_array_equal(bf.power(10**9), np.ones(4))
    assert rng.bit_generator.state == state


def test_start_s_is_the_exact_product():
    bf = _bf(coherence_s=0.01)
    for j in (0, 1, 29, 12345, 10**7):
        assert bf.start_s(j) == j * 0.01


def test_index_at_exact_boundaries_up_to_1e5():
    c = 0.01
    bf = _bf(coherence_s=c)
    js = range(100_001)
    assert all(bf.index_at(j * c) == j for j in js)
    # just below each boundary belongs to the previous block
    assert all(bf.index_at(math.nextafter(j * c, 0.0)) == j - 1 for j in range(1, 100_001, 7))
    # the test is meaningful: naive floor(t / c) gets many of these boundaries wrong
    assert sum(math.floor((j * c) / c) != j for j in js) > 100


def test_index_at_inside_blocks():
    bf = _bf(coherence_s=0.25)
    # (t_s, expected j): j = floor(t / 0.25) away from boundaries
    for t, j in [(0.0, 0), (0.1, 0), (0.2499, 0), (0.25, 1), (0.6, 2), (10.0, 40), (10.3, 41)]:
        assert bf.index_at(t) == j


@given(
    c=st.floats(min_value=1e-6, max_value=10.0),
    j=st.integers(min_value=0, max_value=10**9),
)
def test_index_at_boundary_property(c, j):
    bf = fading.BlockFading(fading.make("none"), 1, c, np.random.default_rng(0))
    t = bf.start_s(j)
    assert bf.index_at(t) == j
    assert bf.start_s(bf.index_at(t)) <= t < bf.start_s(bf.index_at(t) + 1)
    if j > 0:
        assert bf.index_at(math.nextafter(t, 0.0)) < j


def test_discard_before_frees_memory_without_changing_values():
    ref = _bf(seed=4, chunk_blocks=10)
    expected = {j: ref.power(j).copy() for j in (5, 25, 35, 95)}
    bf = _bf(seed=4, chunk_blocks=10)
    bf.power(5)
    bf.discard_before(30)  # frees chunks 0-2 (blocks 0-29)
    assert bf._chunks.keys() == set()  # chunk 0 freed, chunks 1+ not drawn yet
    np.testing.assert_array_equal(bf.power(35), expected[35])
    np.testing.assert_array_equal(bf.power(95), expected[95])
    assert min(bf._chunks) == 3
    with pytest.raises(ValueError, match="discarded"):
        bf.power(25)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_links": 0}, "n_links"),
        ({"n_links": 2.5}, "n_links"),
        ({"coherence_s": 0.0}, "coherence_s"),
        ({"coherence_s": -0.01}, "coherence_s"),
        ({"coherence_s": math.inf}, "coherence_s"),
        ({"chunk_blocks": 0}, "chunk_blocks"),
    ],
)
def test_invalid_construction(kwargs, field):
    with pytest.raises(ValueError, match=field):
        _bf(**kwargs)


def test_invalid_queries_and_types():
    bf = _bf()
    with pytest.raises(ValueError, match="j must be an integer >= 0"):
        bf.power(-1)
    with pytest.raises(ValueError, match="t_s must be finite and >= 0"):
        bf.index_at(-0.001)
    with pytest.raises(ValueError, match="t_s"):
        bf.index_at(math.nan)
    with pytest.raises(TypeError, match="FadingModel"):
        fading.BlockFading("rayleigh", 2, 0.01, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        fading.BlockFading(fading.make("rayleigh"), 2, 0.01, 7)


def test_powers_range_equals_blockwise_power():
    def make():
        return fading.BlockFading(
            fading.make("rayleigh"), 3, 0.01, np.random.default_rng(9), chunk_blocks=16
        )

    bf, ref = make(), make()
    block = bf.powers(10, 40)  # spans three chunks
    assert block.shape == (40, 3)
    np.testing.assert_array_equal(block, np.stack([ref.power(j) for j in range(10, 50)]))
    np.testing.assert_array_equal(bf.powers(49, 1)[0], ref.power(49))
