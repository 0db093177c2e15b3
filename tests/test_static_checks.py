"""The checks that keep the code base in shape, run with the test suite: ruff (with its
docstring rules) on everything, and mypy, strict, on the radio library, the registry and the
builder layer (configuration in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(module: str) -> list[str]:
    try:
        __import__(module)
    except ImportError:
        pytest.fail(f"{module} is not installed: install the test extra (.[test])")
    return [sys.executable, "-m", module]


def test_ruff_with_the_docstring_rules():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: install the test extra (.[test])")
    out = subprocess.run(
        [ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_on_channels_registry_and_builder(tmp_path):
    out = subprocess.run(
        [
            *_tool("mypy"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "channels",
            "fedsl_registry",
            "fedsl_sim/build",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
