"""The builder layer: the only code that reads a :class:`~fedsl_sim.scenario.Scenario` and
constructs the runtime objects (channel, medium, world, data, scheme) from it.

Runtime classes take explicit, unit-named arguments and can be built in a test without a
scenario; everything scenario-shaped (field names, defaults that depend on other fields, the
placement draw, trace files) is resolved here.
"""

from __future__ import annotations

from fedsl_sim.build.learning import (
    build_data,
    build_dataset,
    build_driver,
    build_scheme,
    check_codecs,
    check_model,
    check_scheme,
    optimizer_spec,
    scheme_settings,
)
from fedsl_sim.build.radio import (
    DEFAULT_SHADOWING_CORR_M,
    DEFAULT_SHADOWING_STD_DB,
    MAX_SAMPLE_S,
    build_backhaul,
    build_channel,
    build_medium,
    make_mobility,
    make_pathloss,
    make_rate_model,
    max_speed_mps,
    min_rate_snr_linear,
    start_positions,
)
from fedsl_sim.build.world import (
    build_round_control,
    build_world,
    per_device_values,
    read_down_intervals,
)
from fedsl_sim.scenario import Scenario

__all__ = [
    "DEFAULT_SHADOWING_CORR_M",
    "DEFAULT_SHADOWING_STD_DB",
    "MAX_SAMPLE_S",
    "build_backhaul",
    "build_channel",
    "build_data",
    "build_dataset",
    "build_driver",
    "build_medium",
    "build_round_control",
    "build_scheme",
    "build_world",
    "check_codecs",
    "check_model",
    "check_scenario",
    "check_scheme",
    "make_mobility",
    "make_pathloss",
    "make_rate_model",
    "max_speed_mps",
    "min_rate_snr_linear",
    "optimizer_spec",
    "per_device_values",
    "read_down_intervals",
    "scheme_settings",
    "start_positions",
]


def check_scenario(scenario: Scenario, source: str = "scenario") -> Scenario:
    """The checks of a valid scenario that need the runtime code (the scheme's rules, the
    model's architecture);
    returns ``scenario``. Raises :class:`~fedsl_sim.errors.ScenarioError` naming ``source``
    and the field."""
    check_scheme(scenario, source)
    check_model(scenario, source)
    check_codecs(scenario, source)
    return scenario
