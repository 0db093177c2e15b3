"""Hostile or careless input files: only regular files of bounded size, no duplicate keys, no
alias bombs, no booleans for numbers, error paths that are the user's field names, and values
echoed back in messages bounded in size."""

from __future__ import annotations

import os
import threading

import pytest
import yaml
from simtools import TINY, make_scenario

from fedsl_sim.cli import main
from fedsl_sim.scenario import MAX_YAML_BYTES, ScenarioError, load_scenario, read_yaml_mapping


def validate(capsys, path) -> str:
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("err", validate(capsys, fifo)))
    t.start()
    t.join(timeout=20)
    if t.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "expected a regular file" in result["err"]


def test_a_device_file_is_refused(capsys):
    assert "expected a regular file" in validate(capsys, "/dev/zero")


def test_a_file_over_the_size_limit_is_refused(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(TINY) + "#" * (MAX_YAML_BYTES + 10) + "\n")
    assert "expected at most 10 MiB" in validate(capsys, big)


def test_duplicate_keys_are_refused(tmp_path, capsys):
    f = tmp_path / "dup.yaml"
    f.write_text(yaml.safe_dump(TINY) + "devices: {count: 2}\n")
    assert "found duplicate key 'devices'" in validate(capsys, f)


@pytest.mark.parametrize("where", ["scenario", "sweep"])
def test_an_alias_bomb_is_refused_quickly_and_quietly(tmp_path, capsys, where):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb = "\n".join(lines) + "\n"
    f = tmp_path / "bomb.yaml"
    if where == "scenario":
        f.write_text(bomb)
    else:
        (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY))
        f.write_text("base: base.yaml\ngrid:\n  seed: [1, 2]\n" + bomb.replace("\n", "\n", 1))
    err = validate(capsys, f)
    assert "expands to more than" in err and len(err) < 2000


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"compression": {"quantization": {"bits": True}}}, "compression.quantization.bits"),
        ({"devices__count": True}, "devices.count"),
        ({"seed": False}, "seed"),
        ({"network__bandwidth_hz": True}, "network.bandwidth_hz"),
    ],
)
def test_booleans_are_not_numbers(overrides, path):
    with pytest.raises(ScenarioError, match="expected numbers, got a boolean") as exc:
        make_scenario(**overrides)
    assert exc.value.path == path


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (0, "learning.split_layer"),
        ([1, 0], "learning.split_layer.1"),
        ({"kind": "by_distance", "layers": [0]}, "learning.split_layer.layers.0"),
    ],
)
def test_messages_name_the_users_fields_only(value, path):
    with pytest.raises(ScenarioError) as exc:
        make_scenario(learning__split_layer=value)
    assert exc.value.path == path
    assert "constrained" not in str(exc.value) and "SplitRule" not in str(exc.value)


def test_a_huge_value_is_not_echoed_whole(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**TINY, "name": "x" * 100_000}))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    assert len(str(exc.value)) < 1000


def test_a_normal_file_still_reads(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(TINY))
    assert read_yaml_mapping(f)["name"] == "tiny"


@pytest.mark.parametrize(
    ("distance_m", "threshold_db"),
    [(9e5, -5.0), (100.0, 100.0)],
    ids=["far-device", "threshold-100-dB"],
)
def test_a_link_that_can_never_deliver_stops_with_a_message(
    tmp_path, capsys, distance_m, threshold_db
):
    data = {**TINY, "devices": {**TINY["devices"]}, "network": {**TINY["network"]}}
    data["devices"]["placement"] = {"kind": "fixed", "positions_m": [[distance_m, 0.0]]}
    data["network"]["fading"] = {"kind": "rayleigh", "coherence_s": 0.01}
    data["network"]["outage"] = {"snr_threshold_db": threshold_db, "max_wait_s": 60.0}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "device 0 cannot deliver" in err and "network.outage.max_wait_s = 60" in err
    assert "mean SNR" in err and "Traceback" not in err
    assert not out.exists()


def test_the_link_budget_of_a_hopeless_device_has_no_overflow(tmp_path, capsys):
    data = {**TINY, "network": {**TINY["network"], "fading": {"kind": "rayleigh"}}}
    data["devices"] = {**TINY["devices"], "placement": {"kind": "fixed", "positions_m": [[9e5, 0]]}}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data))
    assert main(["link", str(f), "--json"]) == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"network__bandwidth_hz": 1e-300}, "network.bandwidth_hz"),
        ({"network__bandwidth_hz": 1e308}, "network.bandwidth_hz"),
        (
            {"devices__mobility": {"kind": "random_waypoint", "speed_mps": [1.0, 1e308]}},
            "devices.mobility.speed_mps.1",
        ),
        ({"devices__placement": {"kind": "uniform_disc", "radius_m": 1e308}}, None),
        ({"network__fading": {"kind": "rayleigh", "coherence_s": 1e-12}}, None),
        ({"devices__count": 10**9}, "devices.count"),
        ({"learning__dataset": {"kind": "synthetic", "n_train": 10**10}}, None),
        ({"devices__compute": {"cpu_hz": 1e-300}}, "devices.compute.cpu_hz"),
        ({"devices__compute": {"kappa": 1e300}}, "devices.compute.kappa"),
        ({"server__flops_per_s": 1e-300}, "server.flops_per_s"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_extreme_physical_values_are_refused(overrides, path):
    with pytest.raises(ScenarioError) as exc:
        make_scenario(**overrides)
    if path is not None:
        assert exc.value.path == path
    assert "expected" in str(exc.value)


@pytest.mark.parametrize("t_up", ["inf", "1e300"])
def test_an_availability_trace_with_an_endless_outage_is_refused(tmp_path, t_up):
    from fedsl_sim.engine import Simulation

    trace = tmp_path / "down.csv"
    trace.write_text(f"device,t_down_s,t_up_s\n0,0.0,{t_up}\n")
    sc = make_scenario(rounds__availability={"kind": "trace", "path": str(trace)})
    with pytest.raises(ScenarioError, match="t_up_s"):
        Simulation.build(sc)
