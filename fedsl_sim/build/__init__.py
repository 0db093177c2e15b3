"""The builder layer: the only code that reads a :class:`~fedsl_sim.scenario.Scenario` and
constructs the runtime objects (channel, medium, world, data, scheme) from it.

Runtime classes take explicit, unit-named arguments and can be built in a test without a
scenario; everything scenario-shaped (field names, defaults that depend on other fields, the
placement draw, trace files) is resolved here.

The names below load their modules when first used: :func:`check_scenario`
(:mod:`fedsl_sim.build.checks`) does not import torch.
"""

from __future__ import annotations

from fedsl_sim._lazy import lazy_getattr

_WHERE = {
    "check_codecs": "checks",
    "check_model": "checks",
    "check_scenario": "checks",
    "check_scheme": "checks",
    "message_codecs": "checks",
    "pipeline": "checks",
    "build_data": "learning",
    "build_dataset": "learning",
    "build_driver": "learning",
    "build_scheme": "learning",
    "optimizer_spec": "learning",
    "scheme_settings": "learning",
    "DEFAULT_SHADOWING_CORR_M": "radio",
    "DEFAULT_SHADOWING_STD_DB": "radio",
    "MAX_SAMPLE_S": "radio",
    "backhaul_hops": "radio",
    "build_backhaul": "radio",
    "build_channel": "radio",
    "build_medium": "radio",
    "make_mobility": "radio",
    "make_pathloss": "radio",
    "make_rate_model": "radio",
    "max_speed_mps": "radio",
    "min_rate_snr_linear": "radio",
    "start_positions": "radio",
    "build_round_control": "world",
    "build_world": "world",
    "per_device_values": "world",
    "read_down_intervals": "world",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE)
