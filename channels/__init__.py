"""Wireless links and topology for fedsl-sim: path loss, shadowing, fading, mobility.

Pure numpy/scipy; every random draw takes an explicit ``numpy.random.Generator``.
"""

from channels import (
    fading,
    link,
    mobility,
    pathloss,
    placement,
    registry,
    shadowing,
    units,
)

__all__ = [
    "fading",
    "link",
    "mobility",
    "pathloss",
    "placement",
    "registry",
    "shadowing",
    "units",
]
