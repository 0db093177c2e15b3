"""Backhaul topology: the edge server and the cells as a networkx graph.

Nodes are ``server`` and ``cell0 .. cell<C-1>``; edges carry ``latency_s`` and
``capacity_bps``. A message between a device and the server crosses its serving cell's air
interface and the shortest (by latency) backhaul path between that cell and the server, each
hop store-and-forward in latency + bits / capacity (no contention). The graph is built
from the scenario by :func:`fedsl_sim.build.build_backhaul`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx is imported where a graph is built (it takes ~0.2 s)
    import networkx as nx

SERVER = "server"


def cell_node(i: int) -> str:
    """The backhaul graph's node of cell ``i``."""
    return f"cell{i}"


def backhaul_paths(g: nx.Graph, n_cells: int) -> list[list[tuple[float, float]]]:
    """Per cell, the (latency_s, capacity_bps) of each hop of its shortest path to the server."""
    import networkx as nx

    paths = []
    for i in range(n_cells):
        nodes = nx.shortest_path(g, cell_node(i), SERVER, weight="latency_s")
        hops = [g.edges[a, b] for a, b in zip(nodes, nodes[1:], strict=False)]
        paths.append([(h["latency_s"], h["capacity_bps"]) for h in hops])
    return paths


def backhaul_delay_s(hops: list[tuple[float, float]], bits: int) -> float:
    """Store-and-forward time of ``bits`` over ``hops``: sum of latency + bits / capacity."""
    return sum(lat + bits / cap for lat, cap in hops)
