"""FedAvg as a pure function: hand-computed averages, partial states, buffers, errors."""

from __future__ import annotations

import pytest
import torch

from fedsl_sim.learning.split import fedavg


def test_weighted_average_of_full_states():
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor(0.0)}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor(4.0)}
    out = fedavg([a, b], [1.0, 3.0])
    # (1*1 + 3*3)/4 = 2.5, (1*2 + 3*6)/4 = 5, (0 + 3*4)/4 = 3
    assert torch.equal(out["w"], torch.tensor([2.5, 5.0]))
    assert torch.equal(out["b"], torch.tensor(3.0))
    assert list(out) == ["w", "b"]
    assert a["w"].tolist() == [1.0, 2.0]  # inputs untouched


def test_each_key_is_averaged_over_the_states_that_hold_it():
    # layer 0 held by devices a, b; layer 1 by b and the server copy s
    a = {"0.w": torch.tensor([0.0])}
    b = {"0.w": torch.tensor([4.0]), "1.w": torch.tensor([2.0])}
    s = {"1.w": torch.tensor([8.0])}
    out = fedavg([a, b, s], [1.0, 1.0, 2.0])
    assert out["0.w"].item() == pytest.approx(2.0)  # (0 + 4) / 2
    assert out["1.w"].item() == pytest.approx(6.0)  # (1*2 + 2*8) / 3
    assert list(out) == ["0.w", "1.w"]


def test_integer_buffers_take_the_maximum():
    a = {"n": torch.tensor(3), "w": torch.tensor([1.0])}
    b = {"n": torch.tensor(7), "w": torch.tensor([1.0])}
    out = fedavg([a, b], [5.0, 1.0])
    assert out["n"].dtype == torch.int64 and out["n"].item() == 7


def test_one_state_is_returned_unchanged():
    a = {"w": torch.tensor([1.5, -2.0])}
    assert torch.equal(fedavg([a], [3.0])["w"], a["w"])


@pytest.mark.parametrize(
    ("states", "weights", "message"),
    [
        ([], [], "at least one state"),
        ([{"w": torch.zeros(1)}], [1.0, 2.0], "1 states but 2 weights"),
        ([{"w": torch.zeros(1)}, {"w": torch.ones(1)}], [0.0, 0.0], "holding 'w' sum to 0"),
    ],
)
def test_bad_input_is_refused(states, weights, message):
    with pytest.raises(ValueError, match=message):
        fedavg(states, weights)
