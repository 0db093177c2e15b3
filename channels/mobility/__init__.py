"""Mobility models: device positions, speeds and travelled distances over time; their registry.

A model is built by name (``make("random_waypoint", n=10, area_m=(500, 500),
speed_mps=(1, 3), rng=rng)``). ``position(t_s)``, ``speed(t_s)`` and ``travelled_m(t_s)`` may
be queried at any t_s >= 0 in any order and are deterministic given the construction
arguments; ``positions``, ``speeds`` and ``travelled`` are the same over an array of times
(equal to stacking the scalar queries).

Models: ``static``, ``random_waypoint``, ``random_direction``, ``gauss_markov``,
``manhattan_grid`` and ``trace`` (replay of a CSV trace). The random models give each device
its own child generator spawned from ``rng`` at construction and generate its trajectory
lazily, in fixed batches, from that child only: a device's trajectory depends neither on the
query pattern nor on the other devices. Regions are the rectangle ``[0, W] x [0, H]``
(``area_m=(W, H)``) or the disc of radius R centred at the origin (``radius_m=R``).

Cost: the moving models keep each device's current straight segment in arrays, so a query
at one instant is vectorized over the devices; only devices whose segment does not hold at
the queried time are re-located one by one (at non-decreasing times, those whose segment has
just ended). Any query order gives the same values, bit for bit.

Adding a model is one ``MobilityModel`` subclass plus ``@MODELS.register("name")``. The
package has one module per model over :mod:`channels.mobility.base` (protocol, registry,
region geometry and the segment engine); every name is re-exported here.
"""

from __future__ import annotations

from channels.mobility.base import (  # noqa: F401
    _MAX_REFLECTIONS,
    MODELS,
    MobilityModel,
    _draw_speed,
    _mean_inverse_speed,
    _PathModel,
    _positions_array,
    _Region,
    _SegmentModel,
    _Segments,
    _speed_range,
    _times_array,
    _Track,
    _wrap_rad,
    make,
)
from channels.mobility.gauss_markov import (  # noqa: F401
    GaussMarkov,
    _GaussMarkovState,
)
from channels.mobility.manhattan import (  # noqa: F401
    ManhattanGrid,
    _GridState,
)
from channels.mobility.random_direction import (  # noqa: F401
    RandomDirection,
    _DirectionState,
)
from channels.mobility.random_waypoint import (  # noqa: F401
    RandomWaypoint,
    _Legs,
)
from channels.mobility.static import (  # noqa: F401
    Static,
)
from channels.mobility.trace import (  # noqa: F401
    _TRACE_COLUMNS,
    Trace,
    _csv_records,
    _row_records,
    _trace_device,
    _trace_float,
    _trace_number,
    _trace_records,
)
