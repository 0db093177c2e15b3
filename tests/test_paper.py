"""The paper's study (scenarios/paper/): the smoke sweeps run end to end on the CPU, on a tiny
CIFAR-10 in the official binary format, and their reports show the expected trends."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from datafixtures import cifar_arrays, write_cifar_binary

from fedsl_sim.cli import main
from fedsl_sim.scenario import load_scenario

PAPER = Path(__file__).resolve().parents[1] / "scenarios" / "paper"


@pytest.fixture(scope="module")
def cifar(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    write_cifar_binary(root / "cifar-10-batches-bin", cifar_arrays())
    return root


def smoke_sweep(name: str, cifar: Path, tmp: Path) -> Path:
    """The shipped smoke sweep ``name`` on the fixture (its 100 images: no subsets), one
    round: the time of a round does not need more."""
    spec = yaml.safe_load((PAPER / "smoke" / name).read_text())
    spec["base"] = str(PAPER / "smoke" / spec["base"])
    spec["set"] = {
        **spec.get("set", {}),
        "learning.dataset.root": str(cifar),
        "learning.dataset.train_subset": None,
        "learning.dataset.test_subset": None,
        "stop.max_rounds": 1,
    }
    path = tmp / name
    path.write_text(yaml.safe_dump(spec))
    return path


def per_round_times(report_dir: Path) -> list[float]:
    rows = list(csv.DictReader((report_dir / "report.csv").open()))
    return [float(r["sim_time_per_round_s_mean"]) for r in rows]


@pytest.mark.parametrize(
    ("sweep", "key", "values", "direction"),
    [
        ("pruning_rate.yaml", "compression.pruning.rate", [0, 0.2, 0.4, 0.6], "down"),
        ("quantization_bits.yaml", "compression.quantization.bits", [4, 8, 16, 32], "up"),
    ],
)
def test_smoke_sweep_runs_and_shows_the_trend(sweep, key, values, direction, cifar, tmp_path):
    path = smoke_sweep(sweep, cifar, tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    index = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["status"] for r in index] == ["done"] * len(values)
    assert main(["report", str(out)]) == 0
    report = out / "report"
    assert (report / "report.md").exists() and (report / "latency_breakdown.png").exists()
    times = per_round_times(report)
    # higher pruning rate -> less device compute; fewer bits -> shorter downlink
    ordered = sorted(times, reverse=direction == "down")
    assert times == ordered and len(set(times)) == len(times), times
    for row in index:
        run = yaml.safe_load((out / row["run_dir"] / "scenario.yaml").read_text())
        section, *rest = key.split(".")
        leaf = run[section]
        for part in rest:
            leaf = leaf[part]
        assert leaf in values
        assert run["learning"]["model"]["kind"] == "vgg19"
        assert run["learning"]["dataset"]["kind"] == "cifar10"


def test_full_and_smoke_have_the_same_structure():
    full = {p.name for p in (PAPER / "full").glob("*.yaml")}
    smoke = {p.name for p in (PAPER / "smoke").glob("*.yaml")}
    assert full == smoke and len(full) == 7
    for name in full - {"lightweight_fedsl.yaml"}:
        a = yaml.safe_load((PAPER / "full" / name).read_text())
        b = yaml.safe_load((PAPER / "smoke" / name).read_text())
        assert a.get("grid") == b.get("grid") and a.get("cases") == b.get("cases"), name
    f = load_scenario(PAPER / "full" / "lightweight_fedsl.yaml")
    s = load_scenario(PAPER / "smoke" / "lightweight_fedsl.yaml")
    assert (f.learning.model, f.scheme, f.network) == (s.learning.model, s.scheme, s.network)
    assert f.learning.compute_device == s.learning.compute_device == "auto"
