"""Regenerate the golden outputs of tests/golden/ on purpose (after a deliberate change of
behaviour, which the commit must explain):

    .venv/bin/python tests/golden/regenerate.py

Each ``<scenario>.yaml`` here is run with one torch thread (results depend on the thread
count in their last digits) and its ``events.csv``, ``rounds.csv`` and ``devices.csv`` are
written to ``expected/<scenario>/``; ``tests/golden/test_golden.py`` compares them byte for
byte.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("events.csv", "rounds.csv", "devices.csv")


def run_golden(scenario: Path, out: Path) -> Path:
    """Run one golden scenario into ``out`` (created) with one torch thread."""
    import torch

    import fedsl_sim

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sc = fedsl_sim.load_scenario(scenario)
        return fedsl_sim.run(sc, out_dir=out, plots=False).out_dir or out
    finally:
        torch.set_num_threads(threads)


def main() -> int:
    for scenario in sorted(HERE.glob("*.yaml")):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = run_golden(scenario, Path(tmp) / "run")
            dest = HERE / "expected" / scenario.stem
            dest.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                shutil.copyfile(run_dir / name, dest / name)
        print(f"wrote {dest.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
