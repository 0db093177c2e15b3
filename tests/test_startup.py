"""Start-up: what ``fedsl-sim validate`` and the scenario checks import. Validating a scenario
(load, schema, the scheme's rules, the model's architecture, the codecs) imports neither torch
nor scipy, networkx or scikit-learn; each is imported where it is used. (The wall time of
``fedsl-sim validate`` is measured by ``benchmarks/startup.py``.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fedsl_sim.schemes.registry import SCHEMES, SHIPPED_SCHEMES
from fedsl_sim.schemes.shape import SHIPPED_SHAPES

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "scipy", "networkx", "sklearn", "matplotlib", "pandas")


def _loaded_after(code: str) -> dict[str, bool]:
    probe = code + f"\nimport sys; print(' '.join(str(m in sys.modules) for m in {HEAVY!r}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    last = out.stdout.strip().splitlines()[-1].split()
    return dict(zip(HEAVY, (w == "True" for w in last), strict=True))


@pytest.mark.parametrize("scheme", SHIPPED_SCHEMES)
def test_checking_a_scenario_imports_nothing_heavy(scheme: str) -> None:
    code = (
        "from fedsl_sim.scenario import load_scenario\n"
        "from fedsl_sim.build import check_scenario\n"
        f"over = {{'scheme': {scheme!r}}}\n"
        "if over['scheme'] not in ('lightweight_fedsl',):\n"
        "    over['compression.pruning.rate'] = 0.0\n"
        "    over['compression.quantization.bits'] = 32\n"
        "    over['compression.dropout.rate'] = 0.0\n"
        "sc = load_scenario('scenarios/quickstart.yaml', overrides=over)\n"
        "check_scenario(sc, 'quickstart')\n"
    )
    loaded = _loaded_after(code)
    assert not any(loaded.values()), {m for m, v in loaded.items() if v}


def test_validate_command_imports_nothing_heavy() -> None:
    files = ["scenarios/quickstart.yaml", "scenarios/compare_schemes.yaml"]
    files += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml"))[:12]
    code = f"from fedsl_sim.cli import main\nassert main(['validate', *{files!r}]) == 0\n"
    loaded = _loaded_after(code)
    assert not any(loaded.values()), {m for m, v in loaded.items() if v}


def test_a_checked_scenario_still_refuses_what_the_model_cannot_do() -> None:
    """The torch-free checks are the real ones: a split layer past the model's depth and a
    1-bit norm quantizer are still refused."""
    from fedsl_sim.build import check_scenario
    from fedsl_sim.scenario import ScenarioError, load_scenario

    deep = load_scenario("scenarios/quickstart.yaml", overrides={"learning.split_layer": 5})
    with pytest.raises(ScenarioError, match="split_layer"):
        check_scenario(deep, "q")
    stages = [{"kind": "quantize", "bits": 1, "scale": "norm"}]
    norm = load_scenario(
        "scenarios/quickstart.yaml", overrides={"compression.pipelines.model_upload": stages}
    )
    with pytest.raises(ScenarioError, match="bits"):
        check_scenario(norm, "q")


@pytest.mark.parametrize("scheme", SHIPPED_SCHEMES)
def test_a_lazy_scheme_declares_its_class_shape(scheme: str) -> None:
    declared = SCHEMES.attribute(scheme, "shape")
    assert declared is SHIPPED_SHAPES[scheme]
    assert SCHEMES.resolve(scheme).shape == declared  # the class's own (imports it)
    assert SCHEMES.attribute(scheme, "shape") == declared  # loaded: the class answers
