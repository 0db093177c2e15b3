"""Parameter checks shared by the channel models (private).

Every check raises ``ValueError`` naming the parameter, the valid range and the value given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def positive(name: str, value: Any) -> float:
    """``value`` as a float, required finite and > 0."""
    x = to_float(name, value)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return x


def nonnegative(name: str, value: Any) -> float:
    """``value`` as a float, required finite and >= 0."""
    x = to_float(name, value)
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return x


def finite(name: str, value: Any) -> float:
    """``value`` as a float, required finite."""
    x = to_float(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


def integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int (bool and non-integral floats refused), required >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def nonnegative_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as a float64 array, every element required finite and >= 0."""
    x = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(x) & (x >= 0.0))
    if np.any(bad):
        raise ValueError(
            f"{name} must be finite and >= 0 elementwise, got {x[bad].flat[0]!r}"
            + (f" (and {int(bad.sum()) - 1} more invalid)" if bad.sum() > 1 else "")
        )
    return x


def positive_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as a float64 array, every element required finite and > 0."""
    x = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(x) & (x > 0.0))
    if np.any(bad):
        raise ValueError(
            f"{name} must be finite and > 0 elementwise, got {x[bad].flat[0]!r}"
            + (f" (and {int(bad.sum()) - 1} more invalid)" if bad.sum() > 1 else "")
        )
    return x


def generator(name: str, value: Any) -> np.random.Generator:
    """``value`` unchanged, required to be a ``numpy.random.Generator``."""
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(value).__name__}"
        )
    return value


def to_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None


def pair(
    name: str,
    value: Any,
    labels: tuple[str, str],
    check: Callable[[str, Any], Any],
    expected: str,
) -> tuple[Any, Any]:
    """``value`` unpacked as two items, each validated by ``check(item_name, item)`` with item
    names ``name[0] (label0)`` and ``name[1] (label1)``; ``expected`` describes the pair in
    the error raised when ``value`` is not a pair."""
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected}, got {value!r}") from None
    return (
        check(f"{name}[0] ({labels[0]})", first),
        check(f"{name}[1] ({labels[1]})", second),
    )
