"""Backhaul topology: the edge server and the cells as a networkx graph.

Nodes are ``server`` and ``cell0 .. cell<C-1>``; edges carry ``latency_s`` and
``capacity_bps``. A message between a device and the server crosses its serving cell's air
interface and the shortest (by latency) backhaul path between that cell and the server, each
hop store-and-forward in latency + bits / capacity (no contention). Without an explicit
``network.backhaul``, cell 0 is co-located with the server (no backhaul) and every other cell
has a direct link to the server with the defaults of :class:`BackhaulLink`.
"""

from __future__ import annotations

import math

import networkx as nx

from fedsl_sim.scenario import BackhaulLink, NetworkConfig, ScenarioError

SERVER = "server"


def cell_node(i: int) -> str:
    return f"cell{i}"


def build_backhaul(net: NetworkConfig, source: str = "scenario") -> nx.Graph:
    """The backhaul graph of ``net`` (validated: every cell reaches the server)."""
    g = nx.Graph()
    g.add_node(SERVER)
    g.add_nodes_from(cell_node(i) for i in range(net.n_cells))
    if net.backhaul is None:
        g.add_edge(cell_node(0), SERVER, latency_s=0.0, capacity_bps=math.inf)
        default = BackhaulLink(a="server", b="server")
        for i in range(1, net.n_cells):
            g.add_edge(
                cell_node(i), SERVER, latency_s=default.latency_s, capacity_bps=default.capacity_bps
            )
    else:
        for link in net.backhaul:
            g.add_edge(link.a, link.b, latency_s=link.latency_s, capacity_bps=link.capacity_bps)
    for i in range(net.n_cells):
        if not nx.has_path(g, cell_node(i), SERVER):
            raise ScenarioError(
                source,
                f"expected a backhaul path from cell{i} to the server, got none",
                path="network.backhaul",
            )
    return g


def backhaul_paths(g: nx.Graph, n_cells: int) -> list[list[tuple[float, float]]]:
    """Per cell, the (latency_s, capacity_bps) of each hop of its shortest path to the server."""
    paths = []
    for i in range(n_cells):
        nodes = nx.shortest_path(g, cell_node(i), SERVER, weight="latency_s")
        hops = [g.edges[a, b] for a, b in zip(nodes, nodes[1:], strict=False)]
        paths.append([(h["latency_s"], h["capacity_bps"]) for h in hops])
    return paths


def backhaul_delay_s(hops: list[tuple[float, float]], bits: int) -> float:
    """Store-and-forward time of ``bits`` over ``hops``: sum of latency + bits / capacity."""
    return sum(lat + bits / cap for lat, cap in hops)
