"""Scaling of the shared medium: the cost per device-step with 100 and with 1,000 devices
transmitting together.

Every device takes part in every round (small CNN on the digits, iid shards, batch 4, one
local step, Rayleigh block fading with 10 ms coherence, devices moving by random waypoint in
a 300 m cell, OFDMA equal shares, outage policy ``wait``, unicast downlink): all devices
compute, then upload at the same time (FL: the model; lightweight FedSL: the split-layer
activations, then the gradients come back), so the medium holds up to ``n`` concurrent
transmissions and re-plans at every start and end. One untimed round builds the caches; the
next ``--rounds`` rounds are timed (wall time of :meth:`Simulation.run_round`, aggregation
included).

Prints, per scheme and federation size, the wall time per round and per device-step, the
shares of it spent in the medium's code and in computing the channel's blocks (measured by a
second, profiled pass; the channel's share grows with the simulated length of a round, which
grows with the number of devices sharing the band), and last
``ratio <scheme> <cost per device-step at 1,000 / at 100>`` (target <= 1.3).

Usage::

    .venv/bin/python benchmarks/medium_scale.py [--sizes 100 1000] [--rounds 2]
        [--schemes fl lightweight_fedsl]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from fedsl_sim.engine import torch_threads
from fedsl_sim.scenario import Scenario, validate_scenario
from fedsl_sim.simulation import Simulation


def scenario(scheme: str, n: int, rounds: int) -> Scenario:
    compression = (
        {"quantization": {"bits": 8}, "dropout": {"rate": 0.25}}
        if scheme == "lightweight_fedsl"
        else {}
    )
    return validate_scenario(
        {
            "name": f"medium-{scheme}-{n}",
            "seed": 1,
            "scheme": scheme,
            "stop": {"max_rounds": rounds + 1},
            "learning": {
                "dataset": {"kind": "digits"},
                "partition": {"kind": "iid"},
                "model": {"kind": "small_cnn"},
                "split_layer": 2,
                "batch_size": 4,
                "aggregation_interval": 1,
                "eval_every_rounds": 1000,
            },
            "compression": compression,
            "devices": {
                "count": n,
                "placement": {"kind": "uniform_disc", "radius_m": 300, "min_distance_m": 10},
                "mobility": {"kind": "random_waypoint", "speed_mps": [1, 3]},
            },
            "network": {
                "fading": {"kind": "rayleigh", "coherence_s": 0.01},
                "outage": {"snr_threshold_db": -5, "policy": "wait"},
            },
            # one transmission per device down too (a broadcast to hundreds of receivers
            # runs at the deepest of their fades: below the threshold most of the time)
            "aggregation": {"downlink": "unicast"},
        },
        "benchmarks/medium_scale.py",
    )


MEDIUM_CODE = (
    "fedsl_sim/sim/medium.py",
    "fedsl_sim/sim/access.py",
    "channels/scheduling.py",
    "channels/link.py",
)


def timed_rounds(scheme: str, n: int, rounds: int, profile: bool) -> tuple[float, float, float]:
    """Wall seconds per round; when ``profile``, the fractions of it spent in the medium's
    code (own time of the medium, access, scheduler and link functions) and in computing the
    channel's blocks (mobility, path loss, shadowing, fading of every device: the physics,
    which grows with the simulated time a round lasts)."""
    sim = Simulation.build(scenario(scheme, n, rounds), source="benchmarks/medium_scale.py")
    sim.run_round(0)  # untimed: first-use costs
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    for r in range(1, rounds + 1):
        sim.run_round(r)
    if prof is not None:
        prof.disable()
    wall = (time.perf_counter() - t0) / rounds
    if prof is None:
        return wall, 0.0, 0.0
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[2] == "run_round")
    medium = sum(v[2] for k, v in stats.items() if k[0].endswith(MEDIUM_CODE))
    channel = sum(v[3] for k, v in stats.items() if k[2] == "_compute_chunk")
    return wall, medium / total, channel / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE"))
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds per run (default 2)")
    ap.add_argument("--schemes", nargs="+", default=["fl", "lightweight_fedsl"])
    args = ap.parse_args()
    ratios = []
    with torch_threads(1):
        for scheme in args.schemes:
            per_step = {}
            for n in args.sizes:
                wall, _, _ = timed_rounds(scheme, n, args.rounds, profile=False)
                _, medium, channel = timed_rounds(scheme, n, 1, profile=True)
                per_step[n] = wall / n
                print(
                    f"{scheme:18s} {n:5d} devices  {wall:8.3f} s/round  "
                    f"{1e3 * wall / n:7.3f} ms/device-step  (profiled: medium {100 * medium:4.1f} %"
                    f", channel blocks {100 * channel:4.1f} %)"
                )
            small, large = args.sizes
            ratios.append(f"{scheme} {per_step[large] / per_step[small]:.2f}")
    print("ratio " + " ".join(ratios))


if __name__ == "__main__":
    main()
