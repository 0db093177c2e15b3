"""Split-able models as ordered lists of layers (blocks).

A model is a list of ``L`` blocks, each an ``nn.Sequential``. A split at layer ``s``
(1-based, ``1 <= s <= L - 1``) puts blocks ``1..s`` on the device and ``s+1..L`` on the
server. Every parameter is drawn from an explicit ``torch.Generator``; modules are created
without touching torch's global RNG, then initialised exactly like PyTorch's defaults:

* ``Conv2d`` / ``Linear`` weight: ``kaiming_uniform_(a=sqrt(5))``, i.e. uniform on
  ``±1/sqrt(fan_in)``; bias: uniform on ``±1/sqrt(fan_in)``;
* ``BatchNorm2d``: weight 1, bias 0, running mean 0, running variance 1.

Parameters are drawn block by block, module by module, weight before bias, so the same
generator state gives bit-identical parameters.
"""

from __future__ import annotations

import inspect
import math
import numbers
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from fedsl_registry import Registry

if TYPE_CHECKING:  # torch is imported when a model is built: checking a scenario's model
    import torch  # (its layer count, its input size) does not need it
    from torch import nn

__all__ = [
    "MODELS",
    "ModelSpec",
    "SmallCNN",
    "VGG",
    "build_layers",
    "check_split_layer",
    "init_parameters",
    "layer_count",
    "layer_names",
    "min_input_hw",
    "make_spec",
]


class ModelSpec(ABC):
    """Architecture of a split-able model: pure data until :meth:`build` is called."""

    #: Smallest input height/width (pixels) the architecture accepts.
    min_input_hw: int = 1

    @abstractmethod
    def layer_names(self) -> list[str]:
        """Short human-readable description of each block, in order (for reports)."""

    @property
    def layer_count(self) -> int:
        """Number of blocks ``L`` (valid split layers are ``1..L-1``)."""
        return len(self.layer_names())

    @abstractmethod
    def build(
        self, in_shape: tuple[int, int, int], num_classes: int, generator: torch.Generator
    ) -> list[nn.Sequential]:
        """Create the blocks for per-sample input ``in_shape = (C, H, W)``."""


MODELS: Registry[ModelSpec] = Registry("model")


def _make(module_cls: type[nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    """``module_cls(*args, **kwargs)`` with uninitialised float32 storage: built on the meta
    device (no draw from torch's global RNG, so building a model never disturbs anything else
    in the process), then each parameter and buffer given fresh CPU storage of its shape
    (what ``torch.nn.utils.skip_init`` does, without its ``to_empty`` path, which imports
    sympy on first use: ~0.5 s of start-up)."""
    import torch
    from torch import nn

    module = module_cls(*args, device="meta", dtype=torch.float32, **kwargs)
    for sub in module.modules():
        for name, p in sub._parameters.items():
            if p is not None:
                fresh = torch.empty(p.shape, dtype=p.dtype)
                sub._parameters[name] = nn.Parameter(fresh, requires_grad=p.requires_grad)
        for name, b in sub._buffers.items():
            if b is not None:
                sub._buffers[name] = torch.empty(b.shape, dtype=b.dtype)
    return module


def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise ``module`` in place like PyTorch's defaults, drawing only from ``generator``.

    Conv2d/Linear weights get ``kaiming_uniform_(a=sqrt(5))`` and biases
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; BatchNorm2d gets weight 1, bias 0 and reset
    running statistics. Modules are visited in ``module.modules()`` order.
    """
    import torch
    from torch import nn

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()  # (C_in/groups)·k_h·k_w, or in_features
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                if m.affine:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)


def _check_in_shape(in_shape: tuple[int, int, int], min_hw: int) -> tuple[int, int, int]:
    shape = tuple(in_shape)
    if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and d >= 1 for d in shape):
        raise ValueError(f"in_shape must be three positive ints (C, H, W); got {in_shape!r}")
    c, h, w = (int(d) for d in shape)
    if h < min_hw or w < min_hw:
        raise ValueError(
            f"in_shape spatial size must be >= {min_hw}x{min_hw} for this model; got {h}x{w}"
        )
    return c, h, w


def _check_num_classes(num_classes: int) -> int:
    if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1; got {num_classes!r}")
    return int(num_classes)


@MODELS.register("small_cnn")
class SmallCNN(ModelSpec):
    """Five-block CNN for small images (8×8 digits, 28×28 MNIST, 32×32 ...).

    1. Conv(C→16, 3, pad 1) + ReLU
    2. Conv(16→32, 3, pad 1) + ReLU + MaxPool(2)
    3. Conv(32→64, 3, pad 1) + ReLU + MaxPool(2)
    4. Flatten + Linear(64·⌊H/4⌋·⌊W/4⌋ → 128) + ReLU
    5. Linear(128 → num_classes)

    Needs ``H, W >= 4``.
    """

    min_input_hw = 4

    def layer_names(self) -> list[str]:
        return ["conv3-16", "conv3-32+pool", "conv3-64+pool", "fc-128", "fc-out"]

    def build(
        self, in_shape: tuple[int, int, int], num_classes: int, generator: torch.Generator
    ) -> list[nn.Sequential]:
        from torch import nn

        c, h, w = _check_in_shape(in_shape, min_hw=self.min_input_hw)
        num_classes = _check_num_classes(num_classes)
        flat = 64 * (h // 2 // 2) * (w // 2 // 2)
        layers = [
            nn.Sequential(_make(nn.Conv2d, c, 16, 3, padding=1), nn.ReLU()),
            nn.Sequential(_make(nn.Conv2d, 16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
            nn.Sequential(_make(nn.Conv2d, 32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
            nn.Sequential(nn.Flatten(), _make(nn.Linear, flat, 128), nn.ReLU()),
            nn.Sequential(_make(nn.Linear, 128, num_classes)),
        ]
        for layer in layers:
            init_parameters(layer, generator)
        return layers


# Simonyan & Zisserman configurations A, B, D, E: conv widths, "M" = 2×2 max-pool.
_VGG_CONFIGS: dict[str, list[int | str]] = {
    name: [item if item == "M" else int(item) for item in spec.split()]
    for name, spec in {
        "vgg11": "64 M 128 M 256 256 M 512 512 M 512 512 M",
        "vgg13": "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M",
        "vgg16": "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M",
        "vgg19": "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M",
    }.items()
}


class VGG(ModelSpec):
    """CIFAR-style VGG: one block per 3×3 conv, three fully connected blocks.

    Each conv block is Conv(3×3, pad 1) [+ BatchNorm2d] + ReLU, with a following 2×2
    max-pool folded into it. Classifier: Flatten + Linear(512·h·w → 512) + ReLU,
    Linear(512 → 512) + ReLU, Linear(512 → num_classes), where ``h = ⌊H/32⌋``,
    ``w = ⌊W/32⌋`` (1×1 for 32×32 CIFAR). No dropout (determinism). Needs ``H, W >= 32``.

    Parameters
    ----------
    depth : str
        ``"vgg11" | "vgg13" | "vgg16" | "vgg19"``.
    batch_norm : bool
        Insert BatchNorm2d after each conv (default True).
    """

    min_input_hw = 32

    def __init__(self, depth: str, batch_norm: bool = True) -> None:
        if depth not in _VGG_CONFIGS:
            raise ValueError(f"depth must be one of {sorted(_VGG_CONFIGS)}; got {depth!r}")
        if not isinstance(batch_norm, bool):
            raise ValueError(f"batch_norm must be a bool (true/false); got {batch_norm!r}")
        self.depth = depth
        self.batch_norm = batch_norm
        self.config = _VGG_CONFIGS[depth]

    def layer_names(self) -> list[str]:
        names: list[str] = []
        for item in self.config:
            if item == "M":
                names[-1] += "+pool"
            else:
                names.append(f"conv3-{item}" + ("-bn" if self.batch_norm else ""))
        return names + ["fc-512", "fc-512", "fc-out"]

    def build(
        self, in_shape: tuple[int, int, int], num_classes: int, generator: torch.Generator
    ) -> list[nn.Sequential]:
        from torch import nn

        c, h, w = _check_in_shape(in_shape, min_hw=self.min_input_hw)
        num_classes = _check_num_classes(num_classes)
        blocks: list[list[nn.Module]] = []
        channels = c
        for item in self.config:
            if item == "M":
                blocks[-1].append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
                continue
            assert isinstance(item, int)
            block: list[nn.Module] = [_make(nn.Conv2d, channels, item, 3, padding=1)]
            if self.batch_norm:
                block.append(_make(nn.BatchNorm2d, item))
            block.append(nn.ReLU())
            blocks.append(block)
            channels = item
        blocks.append([nn.Flatten(), _make(nn.Linear, channels * h * w, 512), nn.ReLU()])
        blocks.append([_make(nn.Linear, 512, 512), nn.ReLU()])
        blocks.append([_make(nn.Linear, 512, num_classes)])
        layers = [nn.Sequential(*b) for b in blocks]
        for layer in layers:
            init_parameters(layer, generator)
        return layers


def _vgg_factory(depth: str) -> Any:
    def factory(batch_norm: bool = True) -> VGG:
        return VGG(depth, batch_norm=batch_norm)

    factory.__name__ = depth
    factory.__doc__ = f"{depth.upper()} (see :class:`VGG`)."
    return factory


for _depth in _VGG_CONFIGS:
    MODELS.register(_depth)(_vgg_factory(_depth))
del _depth


def make_spec(name: str, **params: Any) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``, built with its ``params``.

    Raises
    ------
    KeyError
        Unknown model name.
    ValueError
        A parameter the model does not take, or an invalid value.
    """
    factory = MODELS.get(name)
    accepted = set(inspect.signature(factory).parameters)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"model {name!r} has no parameter(s) {unknown}; accepted: {sorted(accepted)}"
        )
    return factory(**params)


def build_layers(
    name: str,
    in_shape: tuple[int, int, int],
    num_classes: int,
    generator: torch.Generator,
    **params: Any,
) -> list[nn.Module]:
    """Build model ``name`` as a list of ``nn.Sequential`` blocks.

    Parameters
    ----------
    name : str
        Registered model name (``MODELS.names()``).
    in_shape : tuple of int
        Per-sample input shape ``(C, H, W)``.
    num_classes : int
        Output width of the last block (logits).
    generator : torch.Generator
        Sole source of randomness for parameter initialisation.
    **params
        Model parameters (e.g. ``batch_norm`` for VGG).

    Returns
    -------
    list of nn.Module
        ``L`` blocks; chaining them maps ``(B, C, H, W)`` to ``(B, num_classes)``.
    """
    return list(make_spec(name, **params).build(in_shape, num_classes, generator))


def layer_count(name: str, **params: Any) -> int:
    """Number of blocks of model ``name`` without building any torch module."""
    return make_spec(name, **params).layer_count


def min_input_hw(name: str) -> int:
    """Smallest input height/width (pixels) model ``name`` accepts."""
    return make_spec(name).min_input_hw


def layer_names(name: str, **params: Any) -> list[str]:
    """Per-block description of model ``name`` (e.g. ``"conv3-64-bn+pool"``), for reports."""
    return make_spec(name, **params).layer_names()


def check_split_layer(split_layer: int, n_layers: int) -> None:
    """Raise ValueError unless ``1 <= split_layer <= n_layers - 1``."""
    if n_layers < 2:
        raise ValueError(f"a model needs at least 2 layers to be split; it has {n_layers}")
    if not isinstance(split_layer, numbers.Integral) or not 1 <= split_layer <= n_layers - 1:
        raise ValueError(
            f"split_layer must be an int in [1, {n_layers - 1}] for a {n_layers}-layer model; "
            f"got {split_layer!r}"
        )
