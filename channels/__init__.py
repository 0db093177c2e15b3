"""Wireless links and topology for fedsl-sim: path loss, shadowing, fading (block and
time-correlated), mobility.

Pure numpy/scipy; every random draw takes an explicit ``numpy.random.Generator``.
"""

from channels import (
    doppler,
    fading,
    link,
    mobility,
    pathloss,
    placement,
    registry,
    scheduling,
    shadowing,
    units,
)

__all__ = [
    "doppler",
    "fading",
    "link",
    "mobility",
    "pathloss",
    "placement",
    "registry",
    "scheduling",
    "shadowing",
    "units",
]
