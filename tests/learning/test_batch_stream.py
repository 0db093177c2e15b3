"""BatchStream: exact sequence, determinism, epoch coverage, dropped tails."""

from __future__ import annotations

import numpy as np
import pytest

from fedsl_sim.learning.batches import BatchStream

INDICES = np.array([3, 8, 15, 16, 23, 42, 57, 61, 70, 99])  # 10 dataset indices


def draw(stream: BatchStream, n: int) -> list[np.ndarray]:
    return [stream.next() for _ in range(n)]


def test_sequence_is_the_documented_algorithm() -> None:
    # 10 indices, batch 3: per epoch one permutation, 3 full batches, the 10th index dropped
    stream = BatchStream(INDICES, 3, np.random.default_rng(5))
    ref = np.random.default_rng(5)
    expected: list[np.ndarray] = []
    for _ in range(3):
        perm = ref.permutation(INDICES)
        expected += [perm[0:3], perm[3:6], perm[6:9]]
    got = draw(stream, 9)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True))


def test_epoch_counter_and_coverage() -> None:
    stream = BatchStream(INDICES, 3, np.random.default_rng(0))
    assert stream.epoch == 0 and stream.batches_per_epoch == 3
    for epoch in range(4):
        batches = draw(stream, 3)
        assert stream.epoch == epoch
        seen = np.concatenate(batches)
        assert all(b.dtype == np.int64 and b.size == 3 for b in batches)
        assert np.unique(seen).size == 9  # no duplicates within an epoch
        assert np.isin(seen, INDICES).all()


def test_exact_multiple_covers_every_index_each_epoch() -> None:
    stream = BatchStream(INDICES, 5, np.random.default_rng(1))
    epochs = [np.sort(np.concatenate(draw(stream, 2))) for _ in range(3)]
    assert all(np.array_equal(e, INDICES) for e in epochs)
    # the order differs between epochs (reshuffled)
    orders = [np.concatenate(draw(stream, 2)) for _ in range(2)]
    assert not np.array_equal(orders[0], orders[1])


def test_dropped_tail_is_reshuffled_in() -> None:
    # 10 indices, batch 4: 8 per epoch; over many epochs every index still appears
    stream = BatchStream(INDICES, 4, np.random.default_rng(2))
    seen = np.concatenate(draw(stream, 2 * 20))
    assert set(seen.tolist()) == set(INDICES.tolist())
    assert stream.epoch == 19


def test_batch_larger_than_indices_is_capped() -> None:
    stream = BatchStream(INDICES[:4], 32, np.random.default_rng(3))
    assert stream.batch_size == 4 and stream.batches_per_epoch == 1
    first, second = stream.next(), stream.next()
    assert np.array_equal(np.sort(first), INDICES[:4]) and stream.epoch == 1
    assert np.array_equal(np.sort(second), INDICES[:4])


def test_determinism_depends_only_on_rng_state() -> None:
    a = draw(BatchStream(INDICES, 3, np.random.default_rng(9)), 12)
    b = draw(BatchStream(INDICES, 3, np.random.default_rng(9)), 12)
    c = draw(BatchStream(INDICES, 3, np.random.default_rng(10)), 12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # returned batches are copies: mutating one does not change the stream
    s = BatchStream(INDICES, 3, np.random.default_rng(9))
    s.next()[:] = -1
    assert np.array_equal(s.next(), a[1])


def test_iterator_protocol() -> None:
    stream = BatchStream(INDICES, 2, np.random.default_rng(4))
    assert iter(stream) is stream
    assert np.array_equal(
        next(stream), draw(BatchStream(INDICES, 2, np.random.default_rng(4)), 1)[0]
    )


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_invalid_batch_size(bad: object) -> None:
    with pytest.raises(ValueError, match=f"batch_size must be an int >= 1; got {bad!r}"):
        BatchStream(INDICES, bad, np.random.default_rng(0))  # type: ignore[arg-type]


def test_invalid_indices() -> None:
    with pytest.raises(ValueError, match="non-empty 1-D integer"):
        BatchStream(np.array([], dtype=np.int64), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-empty 1-D integer"):
        BatchStream(np.array([0.5, 1.5]), 2, np.random.default_rng(0))
