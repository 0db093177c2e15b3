"""Datasets: shapes, ranges, stratification, determinism, learnability of synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedsl_sim.learning.data import DATASETS, Dataset, load_dataset, stratified_split

# sklearn's digits: 1797 images; class sizes (0..9)
DIGITS_CLASS_SIZES = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", np.random.default_rng(0))


def test_registry_names() -> None:
    assert DATASETS.names() == ["cifar10", "digits", "fashion_mnist", "mnist", "synthetic"]


def test_digits_shapes_and_range(digits: Dataset) -> None:
    assert digits.in_shape == (1, 8, 8) and digits.num_classes == 10 and digits.name == "digits"
    assert digits.n_train + digits.n_test == 1797
    assert digits.train_x.dtype == torch.float32 and digits.train_y.dtype == torch.int64
    assert tuple(digits.train_x.shape) == (digits.n_train, 1, 8, 8)
    assert tuple(digits.test_x.shape) == (digits.n_test, 1, 8, 8)
    both = torch.cat([digits.train_x, digits.test_x])
    # raw pixels are integers 0..16, divided by 16
    assert both.min() == 0.0 and both.max() == 1.0
    assert torch.equal(both * 16, torch.round(both * 16))


def test_digits_split_is_stratified(digits: Dataset) -> None:
    test_counts = torch.bincount(digits.test_y, minlength=10).tolist()
    train_counts = torch.bincount(digits.train_y, minlength=10).tolist()
    # round(0.2·n_c) per class, e.g. 0.2·178 = 35.6 → 36
    assert test_counts == [round(0.2 * n) for n in DIGITS_CLASS_SIZES]
    assert [a + b for a, b in zip(train_counts, test_counts, strict=True)] == DIGITS_CLASS_SIZES


def test_digits_is_deterministic_given_rng(digits: Dataset) -> None:
    again = load_dataset("digits", np.random.default_rng(0))
    other = load_dataset("digits", np.random.default_rng(1))
    assert torch.equal(again.train_x, digits.train_x) and torch.equal(again.test_y, digits.test_y)
    assert not torch.equal(other.test_x, digits.test_x)
    half = load_dataset("digits", np.random.default_rng(0), test_fraction=0.5)
    assert half.n_test == sum(round(0.5 * n) for n in DIGITS_CLASS_SIZES)


def test_digits_train_and_test_are_disjoint(digits: Dataset) -> None:
    # no test image appears (pixel for pixel) in the training set
    rows = {tuple(r) for r in digits.train_x.reshape(digits.n_train, -1).tolist()}
    leaked = sum(tuple(r) in rows for r in digits.test_x.reshape(digits.n_test, -1).tolist())
    assert leaked == 0


def test_stratified_split_properties() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2 + [3])
    train, test = stratified_split(labels, 0.3, np.random.default_rng(3))
    assert train.dtype == np.int64 and np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(labels.size))
    # round(0.3·10)=3, round(0.3·5)=2 (1.5 rounds to even), round(0.3·2)=1 kept >= 1, class 3 → 0
    assert np.bincount(labels[test], minlength=4).tolist() == [3, 2, 1, 0]
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\); got 1.0"):
        stratified_split(labels, 1.0, np.random.default_rng(0))


SMALL = {"n_train": 300, "n_test": 100, "image_shape": (3, 16, 16)}


def test_synthetic_shapes_and_balance() -> None:
    ds = load_dataset("synthetic", np.random.default_rng(0), **SMALL)
    assert ds.in_shape == (3, 16, 16) and ds.num_classes == 10 and ds.name == "synthetic"
    assert tuple(ds.train_x.shape) == (300, 3, 16, 16) and tuple(ds.test_x.shape) == (
        100,
        3,
        16,
        16,
    )
    assert ds.train_x.dtype == torch.float32 and ds.test_y.dtype == torch.int64
    # balanced labels: i mod 10, shuffled
    assert torch.bincount(ds.train_y).tolist() == [30] * 10
    assert torch.bincount(ds.test_y).tolist() == [10] * 10


def test_synthetic_default_shape_is_cifar() -> None:
    ds = load_dataset("synthetic", np.random.default_rng(0), n_train=20, n_test=10)
    assert ds.in_shape == (3, 32, 32) and tuple(ds.train_x.shape) == (20, 3, 32, 32)


def test_synthetic_is_deterministic_given_rng() -> None:
    a = load_dataset("synthetic", np.random.default_rng(7), **SMALL)
    b = load_dataset("synthetic", np.random.default_rng(7), **SMALL)
    c = load_dataset("synthetic", np.random.default_rng(8), **SMALL)
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.train_x, c.train_x)


def test_synthetic_without_noise_is_the_templates() -> None:
    ds = load_dataset(
        "synthetic", np.random.default_rng(1), noise_std=0.0, template_std=0.3, **SMALL
    )
    x, y = ds.train_x.numpy(), ds.train_y.numpy()
    for k in range(10):
        members = x[y == k]
        assert np.array_equal(members, np.broadcast_to(members[0], members.shape))
        # each template is rescaled to pixel standard deviation template_std
        assert members[0].std() == pytest.approx(0.3, rel=1e-5)
    # the same template generates the test set
    assert np.array_equal(ds.test_x.numpy()[ds.test_y.numpy() == 4][0], x[y == 4][0])


def test_synthetic_is_learnable() -> None:
    ds = load_dataset("synthetic", np.random.default_rng(2), n_train=1000, n_test=500)
    x = ds.train_x.reshape(ds.n_train, -1).numpy()
    y = ds.train_y.numpy()
    means = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    # class means differ: templates are ≈ √(2·3072)·0.1 ≈ 7.8 apart (noise_std = 1); the
    # estimation noise of two 100-sample means adds ≈ √(2·3072/100) ≈ 7.8 in quadrature,
    # ≈ 11 in all; means of pure noise would be only ≈ 7.8 apart
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(10, 1)]
    assert gaps.min() > 9.0
    # nearest class mean on held-out data beats chance (0.1) by far
    xt = ds.test_x.reshape(ds.n_test, -1).numpy()
    pred = ((xt[:, None, :] - means[None]) ** 2).sum(axis=-1).argmin(axis=1)
    assert (pred == ds.test_y.numpy()).mean() > 0.8


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_train": 0}, "n_train must be an int >= 1; got 0"),
        ({"num_classes": 1}, "num_classes must be an int >= 2; got 1"),
        ({"noise_std": -1.0}, "noise_std must be >= 0; got -1.0"),
        ({"template_std": 0.0}, "template_std must be > 0; got 0.0"),
        ({"image_shape": (3, 32)}, "image_shape must be three positive ints"),
        ({"colour": True}, "no parameter"),
    ],
)
def test_synthetic_invalid_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_dataset("synthetic", np.random.default_rng(0), **params)


def test_unknown_dataset() -> None:
    with pytest.raises(KeyError, match="imagenet"):
        load_dataset("imagenet", np.random.default_rng(0))


def test_dataset_checks_its_tensors() -> None:
    x = torch.zeros(4, 1, 8, 8)
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="train_x must be float32"):
        Dataset(x.double(), y, x, y, 10, (1, 8, 8), "bad")
    with pytest.raises(ValueError, match="test_y must be int64"):
        Dataset(x, y, x, y[:3], 10, (1, 8, 8), "bad")
