"""Datasets as in-memory tensors; every random draw comes from an explicit numpy Generator.

Registered datasets (``DATASETS.names()``):

* ``digits`` — scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes, no
  network access), pixels scaled to [0, 1], stratified held-out test split.
* ``synthetic`` — CIFAR-shaped class-conditional images: a smooth random template per class
  plus Gaussian noise. Cheap to generate, learnable, fully determined by the generator.
* ``cifar10``, ``mnist``, ``fashion_mnist`` — the real datasets, read from local files in
  their official formats (:mod:`fedsl_sim.learning.datafiles`; ``fedsl-sim data NAME
  --download DIR`` fetches them). Pixels are scaled to [0, 1] and normalised per channel with
  the published training-set mean and standard deviation (``datafiles.NORMALISATION``);
  ``train_subset`` / ``test_subset`` keep a stratified random subset of that many images.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fedsl_registry import Registry

if TYPE_CHECKING:
    from fedsl_sim.learning.datafiles import RawSplits

__all__ = ["DATASETS", "Dataset", "load_dataset", "stratified_split", "stratified_subset"]


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
    pixels, labels = digits_arrays()
    x = (np.asarray(pixels, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = np.asarray(labels, dtype=np.int64)
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


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``(data (1797, 64) float64, target (1797,) int)``, exactly
    what ``sklearn.datasets.load_digits()`` returns, read from the file scikit-learn ships
    (``sklearn/datasets/data/digits.csv.gz``) without importing scikit-learn (~1 s); through
    ``load_digits`` where the file is not on disk (e.g. a zipped install)."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or ()) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",")
            return table[:, :-1], table[:, -1].astype(int, copy=False)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data), np.asarray(bunch.target)


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
        for i in range(0, n, 4096):  # no second array of the dataset's size
            x[i : i + 4096] += templates[y[i : i + 4096]]
        return torch.from_numpy(x), torch.from_numpy(y)

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return Dataset(train_x, train_y, test_x, test_y, num_classes, (c, h, w), "synthetic")


def stratified_subset(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sample indices keeping the class proportions of ``labels``.

    Class ``c`` of ``n_c`` samples gets ``floor(n·n_c/N)`` places plus one for the classes with
    the largest remainders (ties: lower label first), then that many of its indices drawn
    without replacement with ``rng`` (one permutation per class, in increasing label order).

    Returns
    -------
    np.ndarray
        Sorted int64 indices, ``n`` of them, ``0 < n <= len(labels)``.
    """
    labels = np.asarray(labels)
    if not 0 < n <= labels.size:
        raise ValueError(f"expected a subset size in 1..{labels.size}, got {n}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = n * counts / labels.size
    quota = np.floor(exact).astype(np.int64)
    order = np.lexsort((classes, -(exact - quota)))  # largest remainder first
    quota[order[: n - int(quota.sum())]] += 1
    picked = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _from_files(
    raw: RawSplits,
    rng: np.random.Generator,
    train_subset: int | None,
    test_subset: int | None,
) -> Dataset:
    """A :class:`Dataset` from a ``datafiles.RawSplits``: optional stratified subsets (train
    drawn first, then test), then ``(x/255 - mean_c) / std_c`` per channel."""
    from fedsl_sim.learning.datafiles import NORMALISATION, DataFilesError

    mean, std = NORMALISATION[raw.name]
    out: list[torch.Tensor] = []
    for split, x, y, subset in (
        ("train", raw.train_x, raw.train_y, train_subset),
        ("test", raw.test_x, raw.test_y, test_subset),
    ):
        if subset is not None:
            if subset > y.size:
                raise DataFilesError(
                    raw.where,
                    f"expected {split}_subset <= {y.size} (the {split} images found), got {subset}",
                    path=f"learning.dataset.{split}_subset",
                )
            idx = stratified_subset(y, subset, rng)
            x, y = x[idx], y[idx]
        xf = x.astype(np.float32)
        xf /= np.float32(255.0)
        xf -= np.asarray(mean, dtype=np.float32)[:, None, None]
        xf /= np.asarray(std, dtype=np.float32)[:, None, None]
        out += [torch.from_numpy(xf), torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))]
    c, h, w = (int(d) for d in raw.train_x.shape[1:])
    return Dataset(*out, num_classes=10, in_shape=(c, h, w), name=raw.name)


@DATASETS.register("cifar10")
def cifar10(
    rng: np.random.Generator,
    root: str,
    format: str = "auto",
    train_subset: int | None = None,
    test_subset: int | None = None,
) -> Dataset:
    """CIFAR-10 from ``root``: (3, 32, 32) images, 10 classes, 50000 train / 10000 test.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the subsets (nothing is drawn without them).
    root : str
        Folder holding ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` (or one of those,
        or a downloaded archive); see :func:`fedsl_sim.learning.datafiles.read_cifar10`.
    format : str
        ``"auto"``, ``"binary"`` or ``"python"``.
    train_subset, test_subset : int or None
        Keep a stratified random subset of this many images.
    """
    from fedsl_sim.learning.datafiles import read_cifar10

    return _from_files(read_cifar10(root, format), rng, train_subset, test_subset)


def _idx_factory(name: str) -> Any:
    def factory(
        rng: np.random.Generator,
        root: str,
        train_subset: int | None = None,
        test_subset: int | None = None,
    ) -> Dataset:
        from fedsl_sim.learning.datafiles import read_idx_dataset

        return _from_files(read_idx_dataset(root, name), rng, train_subset, test_subset)

    factory.__name__ = name
    factory.__doc__ = (
        f"{name} from IDX files under ``root``: (1, 28, 28) images, 10 classes, 60000 train / "
        "10000 test; subsets as for :func:`cifar10`."
    )
    return factory


DATASETS.register("mnist")(_idx_factory("mnist"))
DATASETS.register("fashion_mnist")(_idx_factory("fashion_mnist"))


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
        A parameter the dataset does not take, or an invalid value; missing or corrupt data
        files raise ``datafiles.DataFilesError``, a ValueError that is also a ScenarioError.
    """
    factory = DATASETS.get(name)
    accepted = set(inspect.signature(factory).parameters) - {"rng"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"dataset {name!r} has no parameter(s) {unknown}; accepted: {sorted(accepted)}"
        )
    return factory(rng=rng, **params)
