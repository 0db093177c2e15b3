"""The channel's link chain: path loss -> shadowing -> fading compose, and a stage appended
to the chain (here a toy blockage) composes with them."""

from __future__ import annotations

import numpy as np
from simtools import make_scenario

from fedsl_sim.build import build_channel
from fedsl_sim.sim.channel import LinkChunk
from fedsl_sim.sim.streams import Streams

SC = make_scenario(
    devices__count=3,
    devices__placement={"kind": "fixed", "positions_m": [[50.0, 0.0], [0.0, 120.0], [90.0, 90.0]]},
    devices__mobility={"kind": "random_waypoint", "speed_mps": [1.0, 3.0], "radius_m": 200.0},
    network__fading={"kind": "rayleigh", "coherence_s": 0.01},
    network__shadowing={"std_db": 6.0},
)


class Blockage:
    """Device 1's link loses 20 dB."""

    def apply(self, chunk: LinkChunk) -> None:
        term = np.zeros(chunk.dist.shape)
        term[:, 1] = -20.0
        chunk.components["blockage_db"] = term
        chunk.db_terms.append(term)


def test_the_gain_is_the_chain_of_its_components():
    channel = build_channel(SC, Streams(SC.seed))
    gains = channel.gains(0, 500)
    for j in (0, 17, 499):
        c = channel.components(j)
        db = c["shadowing_db"] - c["pathloss_db"]
        assert np.allclose(gains[j], 10 ** (db / 10) * c["fading_power"], rtol=1e-12)


def test_an_appended_stage_composes():
    plain = build_channel(SC, Streams(SC.seed))
    blocked = build_channel(SC, Streams(SC.seed))
    blocked.chain = (*blocked.chain, Blockage())
    g0, g1 = plain.gains(0, 300), blocked.gains(0, 300)
    assert np.allclose(g1[:, 1], g0[:, 1] / 100.0, rtol=1e-12)
    assert np.array_equal(g1[:, [0, 2]], g0[:, [0, 2]])
