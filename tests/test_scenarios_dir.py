"""Every file shipped in scenarios/ validates."""

from pathlib import Path

import pytest

from fedsl_sim.scenario import load_scenario
from fedsl_sim.sweep import is_sweep_file, load_sweep

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
ALL_YAML = sorted(ROOT.rglob("*.yaml"))
SWEEPS = [p for p in ALL_YAML if is_sweep_file(p)]  # a top-level `base:` key
SCENARIOS = [p for p in ALL_YAML if p not in SWEEPS]


def test_there_are_scenarios():
    assert any(p.name == "quickstart.yaml" for p in SCENARIOS)
    assert any(p.name == "quickstart_compression.yaml" for p in SWEEPS)


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", SCENARIOS, ids=rel)
def test_scenario_validates(path):
    sc = load_scenario(path)
    # the resolved scenario round-trips through YAML to the same object
    import yaml

    from fedsl_sim.scenario import validate_scenario

    assert validate_scenario(yaml.safe_load(sc.to_yaml()), str(path)) == sc


@pytest.mark.parametrize("path", SWEEPS, ids=rel)
def test_sweep_file_validates(path):
    """Every scenario a shipped sweep expands to validates."""
    assert load_sweep(path)


@pytest.mark.parametrize(
    "path",
    [p for p in SCENARIOS if p.name != "quickstart.yaml" and "paper" not in p.parts],
    ids=rel,
)
def test_study_scenario_runs_end_to_end(path, tmp_path):
    """Each shipped study scenario runs (two rounds) and writes a complete run directory
    (scenarios/paper/ needs CIFAR-10: tests/test_paper.py runs it on a fixture)."""
    import fedsl_sim

    sc = load_scenario(path, overrides={"stop.max_rounds": 2})
    res = fedsl_sim.run(sc, out_dir=tmp_path / "run", plots=False)
    assert res.summary["rounds_completed"] == 2
    assert 0 <= res.summary["final_test_accuracy"] <= 1
    assert res.summary["sim_time_s"] > 0
    assert (res.out_dir / "summary.json").exists()
