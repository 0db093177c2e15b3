"""The channel's values do not depend on how many blocks it computes at a time (many links
get shorter chunks, so that a chunk's arrays stay small)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from simtools import make_scenario

from fedsl_sim.build import build_world
from fedsl_sim.sim.channel import RadioChannel

GOLDEN = Path(__file__).parents[1] / "golden"


def golden(name: str, **overrides: object):
    return make_scenario(yaml.safe_load((GOLDEN / name).read_text()), **overrides)


CASES = {
    "multicell_continuous_handover": golden("multicell_handover.yaml"),
    "block_fading_waypoint": golden("lightweight_fading_mobility.yaml"),
    "3gpp_los_correlated_gauss_markov_interference": golden(
        "lightweight_fading_mobility.yaml",
        devices__count=5,
        devices__mobility={"kind": "gauss_markov", "mean_speed_mps": 20.0},
        network__pathloss={"kind": "umi", "los": "stochastic", "clamp": True},
        network__shadowing={"correlated": True},
        network__fading={"kind": "rician", "k_db": 6.0, "coherence_s": 0.01},
        network__interference={"inter_site_distance_m": 500, "rings": 1, "load": 0.5},
    ),
}


def trace(channel: RadioChannel, blocks: int) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {"gains": [], "serving rows": []}
    for j0 in range(0, blocks, 37):  # requests that straddle chunk boundaries
        out["gains"].append(channel.gains(j0, 37).copy())
        out["serving rows"].append(channel.serving(j0, 37).copy())
        for key, value in channel.components(j0 + 36).items():
            out.setdefault(key, []).append(np.array(value, copy=True))
    return {k: np.concatenate([np.atleast_1d(v) for v in vs]) for k, vs in out.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_do_not_depend_on_the_chunk_size(case):
    sc = CASES[case]
    reference = build_world(sc).channel
    assert reference.chunk_blocks == RadioChannel.CHUNK_BLOCKS  # few links: the longest
    short = build_world(sc).channel
    short.chunk_blocks = 23
    a, b = trace(reference, 3000), trace(short, 3000)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # (handovers are listed as the chunks are computed: compare those of the blocks traced)
    until = 3000 * reference.block_s
    assert [h for h in reference.handovers if h[0] < until] == [
        h for h in short.handovers if h[0] < until
    ]


def test_many_links_get_short_chunks():
    sc = make_scenario(
        devices__count=5000,
        devices__placement={"kind": "uniform_disc", "radius_m": 300, "min_distance_m": 10},
    )
    channel = build_world(sc).channel
    assert channel.chunk_blocks == RadioChannel.CHUNK_LINK_BLOCKS // 5000
    assert channel.gains(0, 1).shape == (1, 5000)


def test_the_block_before_the_first_asked_is_kept():
    # a wake-up at a block's start may read the clock an ulp before it
    sc = CASES["block_fading_waypoint"]
    channel = build_world(sc).channel
    channel.chunk_blocks = 16
    before = channel.gains(31, 1).copy()
    channel.gains(32, 4)  # the first block of a chunk
    np.testing.assert_array_equal(channel.gains(31, 1), before)
    channel.gains(5 * 16, 2)  # a jump ahead over chunks never asked for
    channel.gains(5 * 16 - 1, 1)
    with pytest.raises(ValueError, match="in the past"):
        channel.gains(31, 1)
