"""Every file shipped in scenarios/ validates."""

from pathlib import Path

import pytest

from fedsl_sim.scenario import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").rglob("*.yaml"))


def test_there_are_scenarios():
    assert any(p.name == "quickstart.yaml" for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_validates(path):
    sc = load_scenario(path)
    # the resolved scenario round-trips through YAML to the same object
    import yaml

    from fedsl_sim.scenario import validate_scenario

    assert validate_scenario(yaml.safe_load(sc.to_yaml()), str(path)) == sc
