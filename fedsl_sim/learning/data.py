"""Datasets as in-memory tensors; every random draw comes from an explicit numpy Generator.

Registered datasets (``DATASETS.names()``):

* ``digits`` — scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes, no
  network access), pixels scaled to [0, 1], stratified held-out test split.
* ``synthetic`` — CIFAR-shaped class-conditional images: a smooth random template per class
  plus Gaussian noise. Cheap to generate, learnable, fully determined by the generator.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from channels.registry import Registry

__all__ = ["DATASETS", "Dataset", "load_dataset", "stratified_split"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test pair of image tensors.

    Attributes
    ----------
    train_x, test_x : torch.Tensor
        float32, shape ``(N, C, H, W)``.
    train_y, test_y : torch.Tensor
        int64 class indices in ``[0, num_classes)``, shape ``(N,)``.
    num_classes : int
    in_shape : tuple of int
        Per-sample shape ``(C, H, W)``.
    name : str
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    in_shape: tuple[int, int, int]
    name: str

    def __post_init__(self) -> None:
        for split, x, y in (
            ("train", self.train_x, self.train_y),
            ("test", self.test_x, self.test_y),
        ):
            if x.dtype != torch.float32 or x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
                raise ValueError(
                    f"{split}_x must be float32 of shape (N, *{self.in_shape}); "
                    f"got {x.dtype} {tuple(x.shape)}"
                )
            if y.dtype != torch.int64 or y.shape != (x.shape[0],):
                raise ValueError(
                    f"{split}_y must be int64 of shape ({x.shape[0]},); got {y.dtype} "
                    f"{tuple(y.shape)}"
                )

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.train_x.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.test_x.shape[0])


DATASETS: Registry[Dataset] = Registry("dataset")


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into train and test, class by class.

    For each class (in increasing label order) its indices are permuted with ``rng`` and
    ``round(test_fraction · n_c)`` go to the test set, clipped so that both sides keep at
    least one sample of every class with ``n_c >= 2``.

    Returns
    -------
    train_idx, test_idx : np.ndarray
        Sorted int64 indices, disjoint, together covering ``range(len(labels))``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    labels = np.asarray(labels)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * idx.size))
        if idx.size >= 2:
            n_test = min(max(n_test, 1), idx.size - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return (
        np.sort(np.concatenate(train)).astype(np.int64),
        np.sort(np.concatenate(test)).astype(np.int64),
    )


@DATASETS.register("digits")
def digits(rng: np.random.Generator, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8×8 digits: x = pixel/16 in [0, 1], shape (1, 8, 8), 10 classes.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the stratified train/test split.
    test_fraction : float
        Fraction of each class held out for testing, in (0, 1) (default 0.2).
    """
    from sklearn.datasets import load_digits  # deferred: sklearn import is slow

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = stratified_split(y, test_fraction, rng)
    return Dataset(
        train_x=torch.from_numpy(np.ascontiguousarray(x[train_idx])),
        train_y=torch.from_numpy(y[train_idx]),
        test_x=torch.from_numpy(np.ascontiguousarray(x[test_idx])),
        test_y=torch.from_numpy(y[test_idx]),
        num_classes=10,
        in_shape=(1, 8, 8),
        name="digits",
    )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    return int(value)


def _dct_basis(n: int, k: int) -> np.ndarray:
    """First ``k`` DCT-II cosines on ``n`` points, shape (k, n): smooth, low-frequency."""
    x = np.arange(n)
    u = np.arange(k)[:, None]
    return np.cos(np.pi * (2 * x + 1) * u / (2 * n))


@DATASETS.register("synthetic")
def synthetic(
    rng: np.random.Generator,
    n_train: int = 5000,
    n_test: int = 1000,
    num_classes: int = 10,
    noise_std: float = 1.0,
    image_shape: tuple[int, int, int] = (3, 32, 32),
    template_std: float = 0.1,
    n_frequencies: int = 4,
) -> Dataset:
    """Class-conditional Gaussian images: ``x = template[y] + noise_std · N(0, I)``.

    Each class template is a random combination of the ``n_frequencies²`` lowest 2-D DCT
    cosines per channel (coefficients N(0, 1)), rescaled to pixel standard deviation
    ``template_std``. Labels are balanced (``i mod num_classes``, shuffled). With the
    defaults two templates differ by about ``sqrt(2·3072)·0.1 ≈ 7.8`` noise standard
    deviations: learnable, yet not separable pixel by pixel.

    Draw order from ``rng``: template coefficients, train labels, train noise, test labels,
    test noise.

    Parameters
    ----------
    rng : np.random.Generator
    n_train, n_test : int
        Number of samples (>= 1).
    num_classes : int
        Number of classes (>= 2).
    noise_std : float
        Per-pixel noise standard deviation (>= 0).
    image_shape : tuple of int
        ``(C, H, W)``.
    template_std : float
        Pixel standard deviation of each class template (> 0).
    n_frequencies : int
        DCT frequencies per axis in a template (>= 1, capped at H and W).
    """
    n_train = _check_int("n_train", n_train, 1)
    n_test = _check_int("n_test", n_test, 1)
    num_classes = _check_int("num_classes", num_classes, 2)
    n_frequencies = _check_int("n_frequencies", n_frequencies, 1)
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise ValueError(f"image_shape must be three positive ints (C, H, W); got {image_shape!r}")
    c, h, w = (int(d) for d in shape)
    if not noise_std >= 0.0:
        raise ValueError(f"noise_std must be >= 0; got {noise_std!r}")
    if not template_std > 0.0:
        raise ValueError(f"template_std must be > 0; got {template_std!r}")

    fh, fw = min(n_frequencies, h), min(n_frequencies, w)
    coeff = rng.standard_normal((num_classes, c, fh, fw))
    templates = np.einsum("kcuv,uh,vw->kchw", coeff, _dct_basis(h, fh), _dct_basis(w, fw))
    scale = templates.reshape(num_classes, -1).std(axis=1)
    templates = templates / np.maximum(scale, 1e-12)[:, None, None, None] * template_std
    templates = templates.astype(np.float32)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = rng.permutation(np.arange(n, dtype=np.int64) % num_classes)
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        x *= np.float32(noise_std)
        x += templates[y]
        return torch.from_numpy(x), torch.from_numpy(y)

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return Dataset(train_x, train_y, test_x, test_y, num_classes, (c, h, w), "synthetic")


def load_dataset(name: str, rng: np.random.Generator, **params: Any) -> Dataset:
    """Load (or generate) dataset ``name``; all randomness from ``rng``.

    Parameters
    ----------
    name : str
        Registered dataset name (``DATASETS.names()``).
    rng : np.random.Generator
        Sole source of randomness (split, synthetic draws).
    **params
        Dataset parameters (see the registered function).

    Raises
    ------
    KeyError
        Unknown dataset.
    ValueError
        A parameter the dataset does not take, or an invalid value.
    """
    factory = DATASETS.get(name)
    accepted = set(inspect.signature(factory).parameters) - {"rng"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"dataset {name!r} has no parameter(s) {unknown}; accepted: {sorted(accepted)}"
        )
    return factory(rng=rng, **params)
