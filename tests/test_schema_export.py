"""The scenario's JSON schema: `fedsl-sim schema` exports it, the committed copy that the
shipped scenarios reference (for editors' validation and completion) is up to date, and every
shipped scenario validates against it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from fedsl_sim.cli import main, scenario_schema_json
from fedsl_sim.scenario import SCHEMES

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
COMMITTED = SCENARIOS / "scenario.schema.json"


def test_the_committed_schema_is_up_to_date():
    assert COMMITTED.read_text() == scenario_schema_json(), (
        "regenerate it: fedsl-sim schema --out scenarios/scenario.schema.json"
    )


def test_schema_command_writes_and_prints_it(tmp_path, capsys):
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    capsys.readouterr()
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    text = json.dumps(schema)
    for name in SCHEMES:
        assert f'"{name}"' in text
    for word in ("power_aware", "fixed_share", "broadcast", "unicast", "flops_per_cycle"):
        assert word in text


def scenario_files() -> list[Path]:
    out = []
    for f in sorted(SCENARIOS.rglob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        if not (isinstance(data, dict) and "base" in data):  # sweep files have their own shape
            out.append(f)
    return out


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_shipped_scenarios_reference_and_satisfy_the_schema(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / first.split("=", 1)[1]).resolve() == COMMITTED
    data = yaml12_numbers(yaml.safe_load(path.read_text()))
    jsonschema.validate(data, json.loads(COMMITTED.read_text()))


_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def yaml12_numbers(x):
    """PyYAML reads YAML 1.1, where ``1.0e13`` is a string; editors read YAML 1.2, where it
    is a number (as the schema's pydantic parser also takes it)."""
    if isinstance(x, dict):
        return {k: yaml12_numbers(v) for k, v in x.items()}
    if isinstance(x, list):
        return [yaml12_numbers(v) for v in x]
    if isinstance(x, str) and _FLOAT.match(x):
        return float(x)
    return x
