"""FLOP profile: hand-computed reference values and shape agreement with real forwards."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fedsl_sim.learning.flops import LayerCost, backward_flops, forward_flops, profile_layers
from fedsl_sim.learning.models import build_layers


def one(module: nn.Module, in_shape: tuple[int, ...]) -> LayerCost:
    (cost,) = profile_layers([nn.Sequential(module)], in_shape)
    return cost


@pytest.mark.parametrize(
    ("module", "in_shape", "mac", "out_shape"),
    [
        # H_out = ⌊(16 + 2·1 − 1·(3−1) − 1)/2⌋ + 1 = 8; 2·3·3·3·8·8·8 = 27 648, + 8·8·8 bias adds
        (nn.Conv2d(3, 8, 3, stride=2, padding=1), (3, 16, 16), 27_648 + 512, (8, 8, 8)),
        (nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), (3, 16, 16), 27_648, (8, 8, 8)),
        # groups=2: each output sees 4/2 = 2 input channels: 2·2·3·3·(8·5·5) = 7 200
        (nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False), (4, 5, 5), 7_200, (8, 5, 5)),
        # dilation 2: H_out = 7 − 2·2 = 3; 2·1·9·1·9 = 162, + 9 bias adds
        (nn.Conv2d(1, 1, 3, dilation=2), (1, 7, 7), 162 + 9, (1, 3, 3)),
        # 1×3 kernel, stride (1, 2), no padding: H_out = 4, W_out = ⌊(6−3)/2⌋+1 = 2
        (
            nn.Conv2d(2, 5, (1, 3), stride=(1, 2), bias=False),
            (2, 4, 6),
            2 * 2 * 3 * 5 * 8,
            (5, 4, 2),
        ),
        # padding="same": output keeps 6×6; 2·2·9·3·36 = 3 888, + 108 bias
        (nn.Conv2d(2, 3, 3, padding="same"), (2, 6, 6), 3_888 + 108, (3, 6, 6)),
        # Linear: 2·20·5 = 200 (+ 5 bias adds)
        (nn.Linear(20, 5), (20,), 205, (5,)),
        (nn.Linear(20, 5, bias=False), (20,), 200, (5,)),
    ],
)
def test_mac_flops_reference(
    module: nn.Module, in_shape: tuple[int, ...], mac: int, out_shape: tuple[int, ...]
) -> None:
    cost = one(module, in_shape)
    assert cost.mac_flops == mac
    assert cost.other_flops == 0
    assert cost.out_shape == out_shape
    assert cost.prunable
    assert cost.n_params == sum(p.numel() for p in module.parameters())
    with torch.no_grad():
        assert tuple(module(torch.zeros(1, *in_shape)).shape[1:]) == out_shape


@pytest.mark.parametrize(
    ("module", "in_shape", "other", "out_shape"),
    [
        (nn.ReLU(), (3, 4, 4), 48, (3, 4, 4)),  # 1 per element: 3·4·4
        (nn.BatchNorm2d(3), (3, 4, 4), 96, (3, 4, 4)),  # 2 per element
        (nn.MaxPool2d(2), (3, 4, 4), 48, (3, 2, 2)),  # 2·2 per output element: 4·12
        # k=3, s=2, ceil: ⌈(6−3)/2⌉+1 = 3 per axis; 9·9 = 81 comparisons
        (nn.MaxPool2d(3, stride=2, ceil_mode=True), (1, 6, 6), 81, (1, 3, 3)),
        # ceil: ⌈(5−2)/2⌉+1 = 3 (a partial window at the edge); 4·(1·3·3) = 36
        (nn.MaxPool2d(2, stride=2, ceil_mode=True), (1, 5, 5), 36, (1, 3, 3)),
        # ceil with padding 1 on 3×3: ⌈(3+2−2)/2⌉+1 = 3, but the 3rd window would start at
        # (3−1)·2 = 4 >= 3+1 (in the right padding), so torch drops it → 2; 4·(2·2·2) = 32
        (nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True), (2, 3, 3), 32, (2, 2, 2)),
        (nn.MaxPool2d(2, stride=1, padding=1), (2, 3, 3), 4 * 2 * 16, (2, 4, 4)),
        (nn.Flatten(), (3, 4, 4), 0, (48,)),
        (nn.Identity(), (3, 4, 4), 0, (3, 4, 4)),
    ],
)
def test_other_flops_reference(
    module: nn.Module, in_shape: tuple[int, ...], other: int, out_shape: tuple[int, ...]
) -> None:
    cost = one(module, in_shape)
    assert (cost.mac_flops, cost.other_flops, cost.out_shape) == (0, other, out_shape)
    assert not cost.prunable
    with torch.no_grad():
        assert tuple(module.eval()(torch.zeros(1, *in_shape)).shape[1:]) == out_shape


def test_small_cnn_on_digits_by_hand() -> None:
    costs = profile_layers(build_layers("small_cnn", (1, 8, 8), 10, torch.Generator()), (1, 8, 8))
    # 1) conv 1→16 at 8×8: 2·1·9·16·64 = 18 432 + 1 024 bias; ReLU 1 024
    # 2) conv 16→32 at 8×8: 2·16·9·32·64 = 589 824 + 2 048 bias; ReLU 2 048; pool 4·(32·4·4)
    # 3) conv 32→64 at 4×4: 2·32·9·64·16 = 589 824 + 1 024 bias; ReLU 1 024; pool 4·(64·2·2)
    # 4) Linear 256→128: 2·256·128 = 65 536 + 128 bias; ReLU 128
    # 5) Linear 128→10: 2 560 + 10
    assert [c.mac_flops for c in costs] == [19_456, 591_872, 590_848, 65_664, 2_570]
    assert [c.other_flops for c in costs] == [1_024, 4_096, 2_048, 128, 0]
    assert [c.out_shape for c in costs] == [(16, 8, 8), (32, 4, 4), (64, 2, 2), (128,), (10,)]
    assert [c.out_numel for c in costs] == [1024, 512, 256, 128, 10]
    total = (19_456 + 1_024) + (591_872 + 4_096) + (590_848 + 2_048) + (65_664 + 128) + 2_570
    assert total == 1_277_706
    assert forward_flops(costs) == 1_277_706
    assert forward_flops(costs[:2]) == 19_456 + 1_024 + 591_872 + 4_096  # client part, s = 2


def test_densities_scale_only_mac_flops() -> None:
    costs = profile_layers(build_layers("small_cnn", (1, 8, 8), 10, torch.Generator()), (1, 8, 8))
    d = [0.5, 0.25, 1.0, 0.0, 0.1]
    expected = sum(di * c.mac_flops + c.other_flops for di, c in zip(d, costs, strict=True))
    assert forward_flops(costs, d) == pytest.approx(expected, rel=1e-12)
    # all weights pruned: only ReLU/pool remain: 1 024 + 4 096 + 2 048 + 128 + 0
    assert forward_flops(costs, [0.0] * 5) == 7_296
    assert backward_flops(costs, d) == 2 * forward_flops(costs, d)
    assert backward_flops(costs) == 2 * 1_277_706


def test_bad_densities() -> None:
    costs = profile_layers([nn.Sequential(nn.Linear(4, 2))], (4,))
    with pytest.raises(ValueError, match="one entry per layer"):
        forward_flops(costs, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        forward_flops(costs, [1.5])


def test_unknown_module_is_named() -> None:
    with pytest.raises(ValueError, match="Dropout"):
        profile_layers([nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))], (4,))
    with pytest.raises(ValueError, match="Tanh"):
        profile_layers([nn.Tanh()], (4,))


def test_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match=r"Conv2d expects .*\(3, H, W\)"):
        profile_layers([nn.Conv2d(3, 4, 3)], (1, 8, 8))
    with pytest.raises(ValueError, match="last dimension 10"):
        profile_layers([nn.Linear(10, 2)], (12,))


def test_nested_sequential_and_bare_modules() -> None:
    layers = [nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU())), nn.Flatten()]
    costs = profile_layers(layers, (1, 3, 3))
    # 1×1 conv 1→2 at 3×3: 2·1·1·2·9 = 36; ReLU 18
    assert (costs[0].mac_flops, costs[0].other_flops) == (36, 18)
    assert costs[1] == LayerCost(0, 0, (18,), 0, False)


def test_vgg11_first_layer_and_classifier() -> None:
    layers = build_layers("vgg11", (3, 32, 32), 10, torch.Generator())
    costs = profile_layers(layers, (3, 32, 32))
    # conv 3→64 at 32×32: 2·3·9·64·1024 = 3 538 944 + 65 536 bias;
    # BN 2·65 536 + ReLU 65 536 + pool 4·(64·16·16) = 131 072 + 65 536 + 65 536
    assert costs[0].mac_flops == 3_538_944 + 65_536
    assert costs[0].other_flops == 262_144
    # classifier: 2·512·512 + 512, 2·512·512 + 512, 2·512·10 + 10
    assert [c.mac_flops for c in costs[-3:]] == [524_800, 524_800, 10_250]
