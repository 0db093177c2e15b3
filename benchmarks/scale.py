"""Large federations: memory and time with many registered devices, few taking part.

Three cases, each run in a fresh process (peak resident memory from the kernel, the process
capped at ``--mem-cap-gb`` of address space so that a case that does not fit fails alone
instead of exhausting the machine):

* ``small``: 100 devices, every one takes part, FL on synthetic CIFAR-shaped data (small CNN,
  batch 8): the reference wall time per round;
* ``large``: ``--devices`` registered devices (default 100,000), 100 taking part per round
  (``rounds.participation: {kind: random, fraction: 100 / devices}``), the same FL, 10
  rounds — targets: peak memory <= 2 GB, wall per round <= 1.5x the small case's;
* ``fedsl``: 10,000 devices, 100 per round, lightweight FedSL with I = 5 — target: peak
  memory <= 3 GB.

Prints one line per case (peak memory, wall per round, or why it did not finish) and last
``ratio large/small <wall per round ratio> large_gb <peak> fedsl_gb <peak>``.

Usage::

    .venv/bin/python benchmarks/scale.py [--devices 100000] [--rounds 10] [--mem-cap-gb 12]
        [--timeout-s 1800] [--cases small large fedsl]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from typing import Any


def scenario(case: str, devices: int, rounds: int) -> dict[str, Any]:
    n = {"small": 100, "large": devices, "fedsl": 10_000}[case]
    per_round = min(100, n)
    sc: dict[str, Any] = {
        "name": f"scale-{case}",
        "seed": 1,
        "scheme": "lightweight_fedsl" if case == "fedsl" else "fl",
        "stop": {"max_rounds": rounds},
        "learning": {
            # at least one sample per device (synthetic data hold up to 200,000)
            "dataset": {"kind": "synthetic", "n_train": min(200_000, max(1000, n)), "n_test": 200},
            "partition": {"kind": "iid"},
            "model": {"kind": "small_cnn"},
            "split_layer": 2,
            "batch_size": 8,
            "aggregation_interval": 5 if case == "fedsl" else 1,
            "eval_every_rounds": rounds,
        },
        "devices": {
            "count": n,
            "placement": {"kind": "uniform_disc", "radius_m": 500, "min_distance_m": 10},
            "mobility": {"kind": "random_waypoint", "speed_mps": [1, 3]},
        },
        "network": {"fading": {"kind": "rayleigh", "coherence_s": 0.01}},
        "aggregation": {"downlink": "unicast"},
    }
    if per_round < n:
        sc["rounds"] = {"participation": {"kind": "random", "fraction": per_round / n}}
    return sc


def child(case: str, devices: int, rounds: int) -> None:
    """Run one case in this process and print its figures as JSON."""
    from fedsl_sim.engine import torch_threads
    from fedsl_sim.scenario import validate_scenario
    from fedsl_sim.simulation import Simulation

    sc = validate_scenario(scenario(case, devices, rounds), "benchmarks/scale.py")
    with torch_threads(1):
        t0 = time.perf_counter()
        sim = Simulation.build(sc, source="benchmarks/scale.py")
        build_s = time.perf_counter() - t0
        sim.run_round(0)  # untimed: first-use costs
        t0 = time.perf_counter()
        for r in range(1, rounds):
            sim.run_round(r)
        per_round = (time.perf_counter() - t0) / max(1, rounds - 1)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"build_s": build_s, "per_round_s": per_round, "peak_gb": peak_kb / 2**20}))


def run_case(case: str, args: argparse.Namespace) -> dict[str, Any]:
    cap = int(args.mem_cap_gb * 2**30)

    def limit() -> None:  # in the child, before it starts
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    cmd = [sys.executable, __file__, "--child", case, "--devices", str(args.devices)]
    cmd += ["--rounds", str(args.rounds)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.timeout_s, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {args.timeout_s} s"}
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        if "MemoryError" in out.stderr or "alloc" in out.stderr.lower() or out.returncode < 0:
            return {"error": f"exceeded the {args.mem_cap_gb:g} GB memory cap ({tail[:120]})"}
        return {"error": f"failed: {tail[:200]}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--mem-cap-gb", type=float, default=12.0)
    ap.add_argument("--timeout-s", type=float, default=1800.0)
    ap.add_argument("--cases", nargs="+", default=["small", "large", "fedsl"])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.devices, args.rounds)
        return
    results = {}
    for case in args.cases:
        res = run_case(case, args)
        results[case] = res
        n = {"small": 100, "large": args.devices, "fedsl": 10_000}[case]
        if "error" in res:
            print(f"{case:6s} {n:7d} devices: {res['error']}")
        else:
            print(
                f"{case:6s} {n:7d} devices: peak {res['peak_gb']:.2f} GB, build "
                f"{res['build_s']:.1f} s, {res['per_round_s']:.2f} s per round"
            )

    def figure(case: str, key: str) -> float:
        return float(results.get(case, {}).get(key, math.nan))

    ratio = figure("large", "per_round_s") / figure("small", "per_round_s")
    print(
        f"ratio large/small {ratio:.2f} large_gb {figure('large', 'peak_gb'):.2f} "
        f"fedsl_gb {figure('fedsl', 'peak_gb'):.2f}"
    )


if __name__ == "__main__":
    main()
