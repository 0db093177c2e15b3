"""The scheme registry, importable without the training code (no torch): the shipped schemes
are registered by import path and loaded when first built, so that the scenario schema can
list every registered scheme while validating never imports torch (their shapes, which the
scenario checks read, are declared with them: :data:`~fedsl_sim.schemes.shape.SHIPPED_SHAPES`).
A new scheme registers itself (``SCHEMES.register("name")(MyScheme)``) and is then a valid
``scheme:`` of a scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedsl_registry import Registry
from fedsl_sim.schemes.shape import SHIPPED_SHAPES

if TYPE_CHECKING:  # the class is only needed for the registry's type, not at run time
    from fedsl_sim.schemes.base import Scheme

#: the shipped schemes, in the order the paper (and ``fedsl-sim compare``) lists them
SHIPPED_SCHEMES = ("fl", "sl", "sfl_v1", "sfl_v2", "fedsl", "lightweight_fedsl")

SCHEMES: Registry[Scheme] = Registry("scheme")
for _name, _target in zip(
    SHIPPED_SCHEMES,
    (
        "FedAvgScheme",
        "VanillaSplitLearning",
        "SplitFedV1",
        "SplitFedV2",
        "FedSL",
        "SplitFed",
    ),
    strict=True,
):
    SCHEMES.register_lazy(
        _name,
        f"fedsl_sim.schemes.split_fed:{_target}",
        attributes={"shape": SHIPPED_SHAPES[_name]},
    )
