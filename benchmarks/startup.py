"""Start-up: how long the commands take before they do any work.

Measures, as fresh processes (wall time from the command's start to its exit):

* ``fedsl-sim validate scenarios/quickstart.yaml`` — target <= 1 s;
* ``fedsl-sim run scenarios/quickstart.yaml --set stop.max_rounds=1 --no-plots`` — the
  quickstart's first round, its outputs written (an upper bound of "the first round done
  after the command starts") — target <= 3 s;
* for reference, ``python -c "import torch; torch.optim.SGD(...).step()"``: what any PyTorch
  training script pays before its first step (torch, and the compiler hooks torch.optim
  imports on first use).

Each is run ``--repeats`` times (alternated); the median is reported. Prints one line per
command and last ``ratio validate <v/1 s> first_round <f/3 s>`` (the figures against their
targets: at most 1 means the target holds).

Usage::

    .venv/bin/python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "fedsl_sim.cli"]
VALIDATE_TARGET_S = 1.0
FIRST_ROUND_TARGET_S = 3.0


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of each command (median kept)")
    args = ap.parse_args()
    torch_sgd = (
        "import torch; m = torch.nn.Linear(2, 2); "
        "torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9).step()"
    )
    times: dict[str, list[float]] = {"validate": [], "first_round": [], "torch_sgd": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            times["validate"].append(wall([*CLI, "validate", "scenarios/quickstart.yaml"]))
            out = Path(tmp) / f"run{i}"
            times["first_round"].append(
                wall(
                    [
                        *CLI,
                        "run",
                        "scenarios/quickstart.yaml",
                        "--set",
                        "stop.max_rounds=1",
                        "--no-plots",
                        "--quiet",
                        "--out",
                        str(out),
                    ]
                )
            )
            shutil.rmtree(out, ignore_errors=True)
            times["torch_sgd"].append(wall([sys.executable, "-c", torch_sgd]))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"validate     {med['validate']:.2f} s  (target {VALIDATE_TARGET_S:g} s)")
    print(f"first round  {med['first_round']:.2f} s  (target {FIRST_ROUND_TARGET_S:g} s)")
    print(f"reference: import torch + one SGD step  {med['torch_sgd']:.2f} s")
    print(
        f"ratio validate {med['validate'] / VALIDATE_TARGET_S:.2f} "
        f"first_round {med['first_round'] / FIRST_ROUND_TARGET_S:.2f}"
    )


if __name__ == "__main__":
    main()
