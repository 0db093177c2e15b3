"""channels package: public names, no torch/simpy, no global randomness."""

import re
import subprocess
import sys
from pathlib import Path

import channels

CHANNELS_DIR = Path(channels.__file__).parent


def test_public_modules():
    assert set(channels.__all__) == {
        "doppler",
        "fading",
        "link",
        "mobility",
        "pathloss",
        "placement",
        "registry",
        "scheduling",
        "shadowing",
        "units",
    }
    for name in channels.__all__:
        assert hasattr(channels, name)


def test_import_does_not_pull_torch_or_simpy():
    code = "import sys, channels; print('torch' in sys.modules, 'simpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_no_module_level_numpy_random_functions():
    # every draw goes through an explicit Generator: only the type may be named
    pattern = re.compile(r"np\.random\.(?!Generator\b)\w+")
    offenders = {p.name: pattern.findall(p.read_text()) for p in CHANNELS_DIR.glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
