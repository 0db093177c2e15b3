"""Golden outputs: three tiny scenarios (lightweight FedSL on a fading channel with mobility;
SFL-V1 with a deadline and a failure; two cells with handovers and a backhaul) must give
byte-identical events.csv, rounds.csv and devices.csv to the committed ones. A deliberate
change of behaviour regenerates them with ``.venv/bin/python tests/golden/regenerate.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("golden_regenerate", HERE / "regenerate.py")
assert _spec is not None and _spec.loader is not None
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)


@pytest.mark.parametrize("scenario", sorted(HERE.glob("*.yaml")), ids=lambda p: p.stem)
def test_outputs_match_the_golden_files(scenario, tmp_path):
    run_dir = regenerate.run_golden(scenario, tmp_path / "run")
    expected = HERE / "expected" / scenario.stem
    for name in regenerate.FILES:
        got = (run_dir / name).read_text().splitlines()
        want = (expected / name).read_text().splitlines()
        if got != want:
            first = next(
                (i + 1 for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                min(len(got), len(want)) + 1,
            )
            pytest.fail(
                f"{scenario.stem}/{name} differs from the golden file from line {first}; if "
                "the change is deliberate, regenerate with tests/golden/regenerate.py"
            )


def test_the_golden_scenarios_exercise_what_they_name():
    import csv

    kinds = {}
    for scenario in sorted(HERE.glob("*.yaml")):
        with (HERE / "expected" / scenario.stem / "events.csv").open() as fh:
            kinds[scenario.stem] = {row["kind"] for row in csv.DictReader(fh)}
    assert "handover" in kinds["multicell_handover"] and "backhaul" in kinds["multicell_handover"]
    assert {"uplink_lost", "model_upload_lost"} & kinds["sfl_v1_deadline_failure"]
    assert "aggregation" in kinds["lightweight_fading_mobility"]
