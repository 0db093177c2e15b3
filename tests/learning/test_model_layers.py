"""Split-able models: layer counts, parameter counts, shape chaining, initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fedsl_sim.learning.flops import profile_layers
from fedsl_sim.learning.models import (
    MODELS,
    build_layers,
    check_split_layer,
    layer_count,
    layer_names,
)

CIFAR = (3, 32, 32)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def n_params(layers: list[nn.Module]) -> int:
    return sum(p.numel() for layer in layers for p in layer.parameters())


def conv_p(c_in: int, c_out: int) -> int:
    return 9 * c_in * c_out + c_out  # 3×3 kernel + bias


def fc_p(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_registry_names() -> None:
    assert MODELS.names() == ["small_cnn", "vgg11", "vgg13", "vgg16", "vgg19"]


@pytest.mark.parametrize(
    ("name", "in_shape", "params"),
    [
        ("small_cnn", (1, 8, 8), {}),
        ("small_cnn", (1, 28, 28), {}),
        ("vgg11", CIFAR, {}),
        ("vgg13", CIFAR, {"batch_norm": False}),
        ("vgg16", CIFAR, {}),
        ("vgg19", CIFAR, {}),
    ],
)
def test_layer_count_matches_built_layers(name: str, in_shape: tuple, params: dict) -> None:
    layers = build_layers(name, in_shape, 10, gen(0), **params)
    assert layer_count(name, **params) == len(layers) == len(layer_names(name, **params))
    assert all(isinstance(layer, nn.Sequential) for layer in layers)
    assert not any(isinstance(m, nn.Dropout) for layer in layers for m in layer.modules())


def test_vgg_layer_counts_are_the_depth() -> None:
    # configs A/B/D/E have 8/10/13/16 convs, + 3 classifier blocks
    assert [layer_count(n) for n in ("vgg11", "vgg13", "vgg16", "vgg19")] == [11, 13, 16, 19]
    assert layer_count("small_cnn") == 5


def test_vgg11_parameter_count() -> None:
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512)] + [(512, 512)] * 3
    conv_total = sum(conv_p(i, o) for i, o in convs)  # 9 220 480
    bn_total = sum(2 * o for _, o in convs)  # weight + bias per channel: 5 504
    fc_total = 2 * fc_p(512, 512) + fc_p(512, 10)  # 262 656·2 + 5 130 = 530 442
    assert conv_total + bn_total + fc_total == 9_756_426
    assert n_params(build_layers("vgg11", CIFAR, 10, gen(0))) == 9_756_426
    no_bn = build_layers("vgg11", CIFAR, 10, gen(0), batch_norm=False)
    assert n_params(no_bn) == 9_756_426 - 5_504


def test_vgg19_parameter_count() -> None:
    convs = (
        [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)]
        + [(256, 256)] * 3
        + [(256, 512)]
        + [(512, 512)] * 7
    )
    assert len(convs) == 16
    conv_total = sum(conv_p(i, o) for i, o in convs)  # 20 024 384
    bn_total = sum(2 * o for _, o in convs)  # 11 008
    fc_total = 2 * fc_p(512, 512) + fc_p(512, 10)  # 530 442
    assert conv_total + bn_total + fc_total == 20_565_834
    assert n_params(build_layers("vgg19", CIFAR, 10, gen(0))) == 20_565_834


def test_small_cnn_parameters_per_layer_on_digits() -> None:
    layers = build_layers("small_cnn", (1, 8, 8), 10, gen(0))
    # 8×8 → pool → 4×4 → pool → 2×2, so the first Linear sees 64·2·2 = 256 inputs
    expected = [conv_p(1, 16), conv_p(16, 32), conv_p(32, 64), fc_p(256, 128), fc_p(128, 10)]
    assert expected == [160, 4640, 18496, 32896, 1290]
    assert [n_params([layer]) for layer in layers] == expected


@pytest.mark.parametrize("in_shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_small_cnn_every_split_chains(in_shape: tuple[int, int, int]) -> None:
    layers = build_layers("small_cnn", in_shape, 7, gen(1))
    costs = profile_layers(layers, in_shape)
    x = torch.zeros(2, *in_shape)
    for s in range(1, len(layers)):
        check_split_layer(s, len(layers))
        acts = nn.Sequential(*layers[:s])(x)
        assert tuple(acts.shape) == (2, *costs[s - 1].out_shape)
        assert tuple(nn.Sequential(*layers[s:])(acts).shape) == (2, 7)


def test_vgg19_profile_chains_to_logits() -> None:
    costs = profile_layers(build_layers("vgg19", CIFAR, 10, gen(0)), CIFAR)
    # pools after convs 2, 4, 8, 12, 16: 32 → 16 → 8 → 4 → 2 → 1
    assert costs[0].out_shape == (64, 32, 32)
    assert costs[1].out_shape == (64, 16, 16)
    assert costs[3].out_shape == (128, 8, 8)
    assert costs[7].out_shape == (256, 4, 4)
    assert costs[11].out_shape == (512, 2, 2)
    assert costs[15].out_shape == (512, 1, 1)
    assert [c.out_shape for c in costs[16:]] == [(512,), (512,), (10,)]


def test_vgg11_forward_matches_profile_at_every_layer() -> None:
    layers = build_layers("vgg11", CIFAR, 10, gen(0))
    costs = profile_layers(layers, CIFAR)
    x = torch.zeros(2, *CIFAR)
    with torch.no_grad():
        for layer, cost in zip(layers, costs, strict=True):
            x = layer.eval()(x)
            assert tuple(x.shape) == (2, *cost.out_shape)
    assert tuple(x.shape) == (2, 10)


def test_same_generator_state_gives_identical_parameters() -> None:
    a = nn.Sequential(*build_layers("small_cnn", (1, 8, 8), 10, gen(3))).state_dict()
    b = nn.Sequential(*build_layers("small_cnn", (1, 8, 8), 10, gen(3))).state_dict()
    c = nn.Sequential(*build_layers("small_cnn", (1, 8, 8), 10, gen(4))).state_dict()
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a)


def test_vgg_init_is_deterministic_and_leaves_global_rng_alone() -> None:
    before = torch.random.get_rng_state()
    a = nn.Sequential(*build_layers("vgg11", CIFAR, 10, gen(5))).state_dict()
    b = nn.Sequential(*build_layers("vgg11", CIFAR, 10, gen(5))).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_one_generator_keeps_advancing() -> None:
    g = gen(0)
    first = build_layers("small_cnn", (1, 8, 8), 10, g)
    second = build_layers("small_cnn", (1, 8, 8), 10, g)
    assert not torch.equal(first[0][0].weight, second[0][0].weight)


def test_init_matches_pytorch_default_ranges() -> None:
    # kaiming_uniform_(a=√5): bound = √3·gain/√fan_in with gain = √(2/(1+5)) ⇒ 1/√fan_in;
    # bias U(±1/√fan_in). Big tensors come close to the bound.
    layers = build_layers("vgg11", CIFAR, 10, gen(2))
    for m in nn.Sequential(*layers).modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bound = 1.0 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound
            assert m.weight.abs().max() > 0.95 * bound
            assert m.bias.abs().max() <= bound
            assert abs(m.weight.mean().item()) < 0.05 * bound
        elif isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
            assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
            assert torch.equal(m.running_var, torch.ones_like(m.running_var))
            assert m.num_batches_tracked.item() == 0


def test_layer_names_describe_blocks() -> None:
    assert layer_names("small_cnn") == [
        "conv3-16",
        "conv3-32+pool",
        "conv3-64+pool",
        "fc-128",
        "fc-out",
    ]
    assert layer_names("vgg11", batch_norm=False)[:2] == ["conv3-64+pool", "conv3-128+pool"]


def test_invalid_parameters() -> None:
    with pytest.raises(KeyError, match="resnet"):
        layer_count("resnet7")
    with pytest.raises(ValueError, match="batch_norm"):
        layer_count("vgg11", batch_norm="yes")
    with pytest.raises(ValueError, match="width"):
        layer_count("small_cnn", width=2)
    with pytest.raises(ValueError, match=r"in_shape.*>= 32x32.*got 28x28"):
        build_layers("vgg11", (1, 28, 28), 10, gen(0))
    with pytest.raises(ValueError, match="num_classes"):
        build_layers("small_cnn", (1, 8, 8), 0, gen(0))


@pytest.mark.parametrize("bad", [0, 5, -1])
def test_check_split_layer_rejects_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"split_layer must be an int in \[1, 4\].*got {bad}"):
        check_split_layer(bad, 5)
    check_split_layer(1, 5)
    check_split_layer(4, 5)


def test_init_is_bit_identical_to_pytorch_default_init() -> None:
    # PyTorch's own constructors draw from the global generator; replay our generator's
    # state there (inside fork_rng, which restores the global state afterwards).
    g = gen(123)
    state = g.get_state()
    mine = build_layers("small_cnn", (1, 8, 8), 10, g)
    with torch.random.fork_rng(devices=[]):
        torch.random.set_rng_state(state)
        ref = [
            nn.Conv2d(1, 16, 3, padding=1),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.Linear(256, 128),
            nn.Linear(128, 10),
        ]
    ours = [m for layer in mine for m in layer if isinstance(m, (nn.Conv2d, nn.Linear))]
    for a, b in zip(ours, ref, strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
