"""One discriminator spelling (``kind``); the old ones still work, with a warning; validating
a scenario never imports torch."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import yaml
from simtools import TINY

from fedsl_sim.scenario import (
    RENAMED_DISCRIMINATORS,
    ScenarioDeprecationWarning,
    ScenarioError,
    apply_overrides,
    load_scenario,
    validate_scenario,
)

OLD = {
    "name": "old",
    "learning": {
        "dataset": {"name": "digits"},
        "model": {"name": "small_cnn"},
        "optimizer": {"name": "adam", "lr": 0.01},
        "server_optimizer": {"name": "sgd"},
        "split_layer": {"rule": "by_distance", "layers": [1, 2]},
    },
    "devices": {"count": 2},
    "network": {
        "pathloss": {"model": "free_space"},
        "fading": {"model": "rician", "k_db": 3.0},
        "rate": {"model": "cqi"},
    },
}


def test_the_old_spellings_still_work_with_a_warning_each():
    with pytest.warns(ScenarioDeprecationWarning) as record:
        old = validate_scenario(OLD, "old.yaml")
    messages = {str(w.message) for w in record}
    for section, key in RENAMED_DISCRIMINATORS.items():
        assert f"old.yaml: {section}.{key} is deprecated; write {section}.kind" in messages
    new = validate_scenario(yaml.safe_load(old.to_yaml()), "new.yaml")  # written with kind
    assert new == old and old.network.fading.kind == "rician" and old.learning.optimizer.lr == 0.01
    assert "kind: rician" in old.to_yaml() and "model: rician" not in old.to_yaml()


def test_the_new_spelling_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_scenario(TINY, "tiny.yaml")


def test_both_spellings_at_once_are_an_error():
    data = {"network": {"fading": {"model": "rician", "kind": "rayleigh"}}}
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "both.yaml")
    assert err.value.path == "network.fading" and "got both" in err.value.message


def test_overrides_with_the_old_spelling(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(TINY))
    with pytest.warns(ScenarioDeprecationWarning, match="network.fading.model"):
        sc = load_scenario(path, overrides={"network.fading.model": "rayleigh"})
    assert sc.network.fading.kind == "rayleigh"
    # an old-spelled base file takes a new-spelled override (and the reverse)
    old_base = {"network": {"fading": {"model": "none"}}}
    with pytest.warns(ScenarioDeprecationWarning):
        merged = apply_overrides(old_base, {"network.fading.kind": "rician"}, "s.yaml")
    assert merged["network"]["fading"] == {"kind": "rician"}


def test_validating_imports_no_torch(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(TINY))
    code = (
        "import sys; from fedsl_sim.scenario import load_scenario; "
        f"load_scenario({str(path)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_removed_placeholder_fields_warn_and_are_dropped():
    data = {
        **TINY,
        "compression": {"pruning": {"structure": "unstructured", "method": "magnitude"}},
    }
    with pytest.warns(ScenarioDeprecationWarning, match="has no effect") as record:
        sc = validate_scenario(data, "p.yaml")
    assert len(record) == 2 and "structure" not in sc.to_yaml() and "method" not in sc.to_yaml()
    with pytest.raises(ScenarioError, match="compression.pruning.method"):
        validate_scenario({**TINY, "compression": {"pruning": {"method": "random"}}}, "p.yaml")


def test_the_command_line_prints_deprecations_as_plain_warnings(tmp_path, capsys):
    from fedsl_sim.cli import main

    f = tmp_path / "old.yaml"
    f.write_text(yaml.safe_dump({**TINY, "network": {"fading": {"model": "none"}}}))
    assert main(["validate", str(f)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {f}: network.fading.model is deprecated; write network.fading.kind" in err
    assert "ScenarioDeprecationWarning" not in err


def test_overrides_never_change_the_callers_values():
    section = {"rate": 0.2, "scope": "layer"}
    ov = {"compression.pruning": section, "compression.pruning.rate": 0.0}
    merged = apply_overrides(TINY, ov, "s.yaml")
    assert merged["compression"]["pruning"] == {"rate": 0.0, "scope": "layer"}
    assert section == {"rate": 0.2, "scope": "layer"}  # the caller's mapping is untouched
