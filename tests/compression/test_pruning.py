"""Tests of magnitude pruning, pruning schedules, the mask tracker and model payload sizes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from fedsl_sim.compression import (
    METHODS,
    MagnitudePruning,
    Pruner,
    PruningMethod,
    PruningSchedule,
    model_payload_bits,
    n_pruned,
    prunable_parameters,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_model(seed: int = 0) -> nn.Module:
    """Conv2d(1->2, 3x3) [w 18, b 2] -> BatchNorm2d(2) [w 2, b 2, mean 2, var 2, int count]
    -> Flatten -> Linear(4->3) [w 12, b 3] (input 1x3x4): 43 floating values to send."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(4, 3))
    g = gen(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return model


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("rate", "n", "expected"),
    [
        (0.3, 10, 3),
        (0.29, 100, 29),  # 0.29 * 100 = 28.999999999999996 in binary floating point
        (0.5, 7, 3),  # floor(3.5)
        (0.0, 5, 0),
        (0.999, 1000, 999),
        (0.7, 1, 0),
    ],
)
def test_n_pruned(rate: float, n: int, expected: int) -> None:
    assert n_pruned(rate, n) == expected


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(1, 6), min_size=1, max_size=3), min_size=1, max_size=3),
    rate=st.floats(0.0, 0.99),
    scope=st.sampled_from(["global", "layer"]),
    seed=st.integers(0, 2**31),
)
def test_magnitude_prunes_exact_count_of_smallest(
    shapes: list[list[int]], rate: float, scope: str, seed: int
) -> None:
    g = gen(seed)
    weights = [torch.randn(*s, generator=g) for s in shapes]
    masks = MagnitudePruning(scope).compute_mask(weights, rate)  # type: ignore[arg-type]
    assert [m.shape for m in masks] == [w.shape for w in weights]
    assert all(m.dtype == torch.bool for m in masks)
    groups = (
        [(weights, masks)]
        if scope == "global"
        else [([w], [m]) for w, m in zip(weights, masks, strict=True)]
    )
    for ws, ms in groups:
        mags = torch.cat([w.abs().flatten() for w in ws])
        keep = torch.cat([m.flatten() for m in ms])
        assert int((~keep).sum()) == n_pruned(rate, mags.numel())
        if 0 < int((~keep).sum()) < keep.numel():
            assert float(mags[~keep].max()) <= float(mags[keep].min())


def test_global_versus_layer_scope() -> None:
    a = torch.tensor([0.1, -0.2, 0.3, 0.4])
    b = torch.tensor([10.0, 20.0, -30.0, 40.0])
    # global, rate 0.5: floor(0.5 * 8) = 4 smallest |w| overall = all of a
    ga, gb = MagnitudePruning("global").compute_mask([a, b], 0.5)
    assert ga.tolist() == [False, False, False, False]
    assert gb.tolist() == [True, True, True, True]
    # layer, rate 0.5: floor(0.5 * 4) = 2 smallest in each tensor
    la, lb = MagnitudePruning("layer").compute_mask([a, b], 0.5)
    assert la.tolist() == [False, False, True, True]
    assert lb.tolist() == [False, False, True, True]


def test_ties_broken_by_flat_index() -> None:
    w = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    (m,) = MagnitudePruning().compute_mask([w], 0.5)  # prune 2 of 4 equal magnitudes
    assert m.tolist() == [[False, False], [True, True]]
    # across tensors the index runs over the concatenation: the first tensor loses first
    m1, m2 = MagnitudePruning("global").compute_mask([torch.ones(3), torch.ones(3)], 0.5)
    assert m1.tolist() == [False, False, False] and m2.tolist() == [True, True, True]
    # many ties, repeated: identical masks
    big = torch.randint(0, 3, (1000,), generator=gen(0)).float()
    first = MagnitudePruning().compute_mask([big], 0.4)[0]
    assert torch.equal(first, MagnitudePruning().compute_mask([big], 0.4)[0])
    pruned_idx = torch.nonzero(~first).flatten()
    zeros_idx = torch.nonzero(big == 0).flatten()
    # 400 pruned: every zero first, then the lowest-index ones
    ones_idx = torch.nonzero(big == 1).flatten()
    expected = torch.cat([zeros_idx, ones_idx[: 400 - zeros_idx.numel()]]).sort().values
    assert torch.equal(pruned_idx, expected)


def test_rate_zero_keeps_everything_and_invalid_rates() -> None:
    ws = [torch.randn(3, 4, generator=gen(1)), torch.zeros(5)]
    for scope in ("global", "layer"):
        masks = MagnitudePruning(scope).compute_mask(ws, 0.0)  # type: ignore[arg-type]
        assert all(bool(m.all()) for m in masks)
        for bad in (1.0, -0.1, 1.2):
            with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\), got"):
                MagnitudePruning(scope).compute_mask(ws, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope must be 'global' or 'layer', got 'row'"):
        MagnitudePruning("row")  # type: ignore[arg-type]


def test_registry() -> None:
    assert "magnitude" in METHODS
    method = METHODS.make("magnitude", scope="layer")
    assert isinstance(method, MagnitudePruning) and isinstance(method, PruningMethod)
    assert method.scope == "layer"
    with pytest.raises(KeyError, match="unknown pruning method 'random'"):
        METHODS.get("random")


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # fixed at 0.3 from round 5
        (PruningSchedule("fixed", 0.3, start_round=5), {0: 0.0, 4: 0.0, 5: 0.3, 100: 0.3}),
        # ramp 0 -> 0.4 over rounds 10..30: 0.4 * (r - 10) / 20
        (
            PruningSchedule("ramp", 0.4, start_round=10, end_round=30),
            {9: 0.0, 10: 0.0, 15: 0.1, 20: 0.2, 25: 0.3, 30: 0.4, 50: 0.4},
        ),
        (PruningSchedule("ramp", 0.5, end_round=4), {0: 0.0, 1: 0.125, 2: 0.25, 4: 0.5}),
    ],
)
def test_schedule_rates(schedule: PruningSchedule, expected: dict[int, float]) -> None:
    for r, rate in expected.items():
        assert schedule.rate_at(r) == pytest.approx(rate, abs=1e-15), r


def test_schedule_update_rounds() -> None:
    s = PruningSchedule("ramp", 0.4, start_round=10, end_round=30, update_every_rounds=5)
    assert [r for r in range(45) if s.is_update_round(r)] == [10, 15, 20, 25, 30, 35, 40]
    f = PruningSchedule("fixed", 0.2)
    assert all(f.is_update_round(r) for r in range(5))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"kind": "step", "rate": 0.1}, "kind must be 'fixed' or 'ramp', got 'step'"),
        ({"kind": "fixed", "rate": 1.0}, r"rate must be a number in \[0, 1\), got 1.0"),
        ({"kind": "fixed", "rate": 0.1, "start_round": -1}, "start_round.*>= 0, got -1"),
        ({"kind": "ramp", "rate": 0.1}, "end_round must be an integer > start_round = 0"),
        ({"kind": "ramp", "rate": 0.1, "start_round": 5, "end_round": 5}, "got 5"),
        ({"kind": "fixed", "rate": 0.1, "end_round": 5}, "end_round must be None"),
        ({"kind": "fixed", "rate": 0.1, "update_every_rounds": 0}, "update_every_rounds"),
    ],
)
def test_schedule_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        PruningSchedule(**kwargs)


def test_schedule_rejects_negative_round() -> None:
    with pytest.raises(ValueError, match="round must be an integer >= 0, got -1"):
        PruningSchedule("fixed", 0.1).rate_at(-1)


# ---------------------------------------------------------------- the Pruner


def test_prunable_parameters_order_and_names() -> None:
    model = tiny_model()
    names = [n for n, _ in prunable_parameters(model)]
    assert names == ["0.weight", "3.weight"]  # Conv2d and Linear weights; not BN, not biases
    assert prunable_parameters(nn.Linear(2, 2))[0][0] == "weight"


def test_pruner_dense_before_update() -> None:
    model = tiny_model()
    before = [p.clone() for p in model.parameters()]
    pruner = Pruner(MagnitudePruning())
    assert pruner.masks is None
    pruner.apply(model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert pruner.densities(model) == [1.0, 1.0]


def test_pruner_keeps_pruned_weights_zero_through_sgd() -> None:
    model = tiny_model(1)
    bn_and_biases = [
        p.clone()
        for n, p in model.named_parameters()
        if not n.endswith("weight") or n.startswith("1.")
    ]
    pruner = Pruner(MagnitudePruning("global"))
    pruner.update(model, 0.5)  # floor(0.5 * (18 + 12)) = 15 weights zeroed
    masks = pruner.masks
    assert masks is not None
    weights = [p for _, p in prunable_parameters(model)]
    assert sum(int((w == 0).sum()) for w in weights) == 15
    assert sum(int((~m).sum()) for m in masks) == 15
    # biases and BatchNorm parameters are never pruned
    others = [
        p for n, p in model.named_parameters() if not n.endswith("weight") or n.startswith("1.")
    ]
    assert all(torch.equal(a, b) for a, b in zip(bn_and_biases, others, strict=True))
    assert pruner.densities(model) == [int(masks[0].sum()) / 18, int(masks[1].sum()) / 12]

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x = torch.randn(8, 1, 3, 4, generator=gen(2))  # conv output 2x1x2 = 4 features
    kept_before = [w[m].clone() for w, m in zip(weights, masks, strict=True)]
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
        assert any(bool((w[~m] != 0).any()) for w, m in zip(weights, masks, strict=True))
        pruner.apply(model)
        for w, m in zip(weights, masks, strict=True):
            assert bool((w[~m] == 0).all())
    # kept weights did train
    assert any(
        not torch.equal(w[m], k) for w, m, k in zip(weights, masks, kept_before, strict=True)
    )


def test_pruner_layer_scope_densities() -> None:
    model = tiny_model(3)
    pruner = Pruner(MagnitudePruning("layer"))
    pruner.update(model, 0.4)
    # conv: 18 - floor(7.2) = 11 kept; linear: 12 - floor(4.8) = 8 kept
    assert pruner.densities(model) == [11 / 18, 8 / 12]


def test_pruner_dynamic_update_revives_regrown_weights() -> None:
    model = tiny_model(4)
    pruner = Pruner(MagnitudePruning("layer"))
    pruner.update(model, 0.5)
    old = pruner.masks
    assert old is not None
    lin = model[3].weight
    with torch.no_grad():  # e.g. averaging with other devices regrew the pruned weights
        lin[~old[1]] = 100.0
    pruner.update(model, 0.5)
    new = pruner.masks
    assert new is not None
    assert torch.equal(new[1], ~old[1])  # the regrown weights are now the kept ones
    assert bool((lin[new[1]] == 100.0).all()) and bool((lin[~new[1]] == 0).all())


def test_pruner_rate_zero_is_dense_and_touches_nothing() -> None:
    model = tiny_model(5)
    pruner = Pruner(MagnitudePruning())
    pruner.update(model, 0.3)
    after_prune = [p.clone() for p in model.parameters()]
    pruner.update(model, 0.0)
    assert pruner.masks is None
    assert all(torch.equal(a, b) for a, b in zip(after_prune, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="rate"):
        pruner.update(model, 1.0)


def test_pruner_rejects_other_architecture() -> None:
    pruner = Pruner(MagnitudePruning())
    pruner.update(tiny_model(), 0.5)
    with pytest.raises(ValueError, match=r"masks\[0\] must be a bool tensor of shape"):
        pruner.apply(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="one entry per prunable weight"):
        pruner.apply(nn.Linear(3, 3))


# ---------------------------------------------------------------- model payload


def test_model_payload_bits_dense() -> None:
    model = tiny_model()
    # 18 + 2 (conv) + 2 + 2 + 2 + 2 (BN weight, bias, running mean, running var) + 12 + 3
    # = 43 floats; num_batches_tracked (int64) is not sent
    assert model_payload_bits(model, None) == 43 * 32 == 1376
    assert model_payload_bits(model, None, value_bits=8) == 43 * 8
    assert model_payload_bits(model, Pruner(MagnitudePruning()).masks) == 1376


def test_model_payload_bits_pruned_index_and_bitmask_regimes() -> None:
    model = tiny_model()
    conv_mask = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    conv_mask.view(-1)[[0, 7, 16]] = True
    lin_mask = torch.ones(3, 4, dtype=torch.bool)
    lin_mask[0, 0] = lin_mask[2, 3] = False
    # conv: nnz 3 of 18, indices 3 * ceil(log2 18) = 3 * 5 = 15 < bitmask 18 -> 3*32 + 15 = 111
    # linear: nnz 10 of 12, indices 10 * ceil(log2 12) = 40 > bitmask 12 -> 10*32 + 12 = 332
    # dense rest: 2 + 8 (BN) + 3 = 13 floats = 416
    assert model_payload_bits(model, [conv_mask, lin_mask]) == 111 + 332 + 416 == 859
    # 8-bit values: conv 3*8 + 15 = 39, linear 10*8 + 12 = 92, rest 13*8 = 104
    assert model_payload_bits(model, [conv_mask, lin_mask], value_bits=8) == 39 + 92 + 104
    # a mask that prunes nothing is sent dense: 18*32 + 332 + 416
    all_kept = torch.ones(2, 1, 3, 3, dtype=torch.bool)
    assert model_payload_bits(model, [all_kept, lin_mask]) == 576 + 332 + 416


def test_model_payload_bits_from_pruner_and_validation() -> None:
    model = tiny_model(6)
    pruner = Pruner(MagnitudePruning("layer"))
    pruner.update(model, 0.5)
    # conv 9 of 18 kept: 9*32 + min(18, 9*5) = 288 + 18 = 306
    # linear 6 of 12 kept: 6*32 + min(12, 6*4) = 192 + 12 = 204; rest 416
    assert model_payload_bits(model, pruner.masks) == 306 + 204 + 416
    with pytest.raises(ValueError, match="value_bits"):
        model_payload_bits(model, None, value_bits=0)
    with pytest.raises(ValueError, match="one entry per prunable weight"):
        model_payload_bits(model, [torch.ones(2, 1, 3, 3, dtype=torch.bool)])
