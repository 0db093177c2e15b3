"""The codec registry, importable without torch: the shipped codecs are registered by import
path and loaded when first built, so that the scenario schema can list every registered codec
(``compression.pipelines``) while validating never imports torch. A new codec registers
itself with its parameter model (``CODECS.register("top_k", params=TopKParams)(TopK)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedsl_registry import Registry

if TYPE_CHECKING:  # the class is only needed for the registry's type, not at run time
    from fedsl_sim.compression.codec import Codec

CODECS: Registry[Codec] = Registry("codec")
for _name, _target in (
    ("float32", "Float32"),
    ("quantize", "quantize"),
    ("keep_entries", "KeepEntries"),
    ("delta", "Delta"),
    ("pruned", "Pruned"),
):
    CODECS.register_lazy(_name, f"fedsl_sim.compression.codec:{_target}")
