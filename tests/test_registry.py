"""The neutral registry: lazy entries, parameter models, listeners and their rollback."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel
from simtools import make_scenario

import channels
from fedsl_registry import Registry
from fedsl_sim.scenario import FadingParams, Scenario, ScenarioError


class Widget:
    target = "not an import path"  # a class attribute named like the lazy marker

    def __init__(self, size: int = 1) -> None:
        self.size = size


def test_lazy_entries_load_once_and_plain_ones_stay_plain():
    reg: Registry[object] = Registry("thing")
    reg.register_lazy("od", "collections:OrderedDict")
    assert "od" in reg and reg.names() == ["od"]
    first = reg.make("od", a=1)
    assert type(first).__name__ == "OrderedDict" and reg.resolve("od") is reg.get("od")
    reg.register("widget")(Widget)
    assert reg.resolve("widget") is Widget and reg.make("widget", size=3).size == 3
    with pytest.raises(ValueError, match="package.module:attribute"):
        reg.register_lazy("bad", "no-colon")
    with pytest.raises(KeyError, match="unknown thing 'nope'"):
        reg.get("nope")


def test_a_listener_that_refuses_a_registration_rolls_it_back():
    reg: Registry[object] = Registry("thing")
    reg.register("a")(Widget)
    seen: list[list[str]] = []

    def listener() -> None:
        seen.append(reg.names())
        if "bad" in reg:
            raise ValueError("refused")

    reg.subscribe(listener)
    with pytest.raises(ValueError, match="refused"):
        reg.register("bad")(Widget)
    assert reg.names() == ["a"] and seen[-1] == ["a"]  # undone, and the listener heard it


class WrongKind(FadingParams):
    kind: Literal["something_else"]


class NotPydantic:
    pass


@pytest.mark.parametrize("params", [WrongKind, NotPydantic])
def test_a_bad_parameter_model_is_refused_and_the_schema_keeps_working(params):
    with pytest.raises(ValueError, match="must be a pydantic model with kind"):
        channels.fading.MODELS.register("toy_bad", params=params)(object)
    assert "toy_bad" not in channels.fading.MODELS
    assert make_scenario(network__fading={"kind": "rician"}).network.fading.kind == "rician"
    assert '"toy_bad"' not in str(Scenario.model_json_schema())
    assert issubclass(FadingParams, BaseModel)


def test_duplicate_spellings_in_overrides_are_an_error():
    from fedsl_sim.scenario import ScenarioDeprecationWarning

    with pytest.warns(ScenarioDeprecationWarning), pytest.raises(ScenarioError, match="twice"):
        make_scenario(network__fading__model="rician", network__fading__kind="rayleigh")
