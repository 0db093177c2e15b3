"""Every registered model is one the scenario schema accepts, under the same name, and the
exported JSON schema (what editors validate against) names it."""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any, Literal, Union

import pytest
from pydantic import BaseModel

import channels
from channels.scheduling import SCHEDULERS
from fedsl_sim.compression.registry import CODECS
from fedsl_sim.learning.data import DATASETS
from fedsl_sim.learning.models import MODELS
from fedsl_sim.learning.partition import PARTITIONS
from fedsl_sim.scenario import SCHEMES as SCHEMA_SCHEMES
from fedsl_sim.scenario import Scenario
from fedsl_sim.schemes.base import SCHEMES
from fedsl_sim.sim.access import ACCESS
from fedsl_sim.sim.outage import OUTAGE_POLICIES


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a field's type (Annotated, Optional and unions unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    if origin is list:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _literals(annotation: Any) -> set[str]:
    return {
        v
        for m in _members(annotation)
        if typing.get_origin(m) is Literal
        for v in typing.get_args(m)
    }


def _field(path: str) -> Any:
    """The annotation of a dotted field path of the schema (through nested models)."""
    model: Any = Scenario
    annotation = None
    for part in path.split("."):
        models = [m for m in _members(model) if isinstance(m, type) and issubclass(m, BaseModel)]
        annotation = next(m.model_fields[part].annotation for m in models if part in m.model_fields)
        model = annotation
    return annotation


def _accepted(section: str, key: str) -> set[str]:
    """The names a union section accepts: its members' ``key`` literals."""
    out: set[str] = set()
    for m in _members(_field(section)):
        if isinstance(m, type) and issubclass(m, BaseModel) and key in m.model_fields:
            out |= _literals(m.model_fields[key].annotation)
    return out


CASES = [
    ("fading model", channels.fading.MODELS.names(), lambda: _accepted("network.fading", "kind")),
    (
        "fading process",
        channels.doppler.PROCESSES.names(),
        lambda: _accepted("network.fading", "kind"),
    ),
    ("path loss", channels.pathloss.MODELS.names(), lambda: _accepted("network.pathloss", "kind")),
    ("mobility", channels.mobility.MODELS.names(), lambda: _accepted("devices.mobility", "kind")),
    ("partition", PARTITIONS.names(), lambda: _accepted("learning.partition", "kind")),
    ("dataset", DATASETS.names(), lambda: _accepted("learning.dataset", "kind")),
    ("model", MODELS.names(), lambda: _accepted("learning.model", "kind")),
    ("scheme", SCHEMES.names(), lambda: _literals(_field("scheme"))),
    ("access", ACCESS.names(), lambda: _literals(_field("network.access.kind"))),
    ("outage policy", OUTAGE_POLICIES.names(), lambda: _literals(_field("network.outage.policy"))),
    ("scheduler", list(SCHEDULERS), lambda: _literals(_field("network.access.scheduler"))),
    (
        "codec",
        CODECS.names(),
        lambda: _accepted("compression.pipelines.model_upload", "kind"),
    ),
]


@pytest.mark.parametrize(("what", "registered", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_every_registered_name_is_in_the_schema(what, registered, accepted):
    assert registered, f"no {what} registered"
    assert set(registered) == accepted(), f"{what}: registry and schema differ"
    exported = json.dumps(Scenario.model_json_schema())
    missing = [n for n in registered if f'"{n}"' not in exported]
    assert not missing, f"{what}: {missing} missing from the exported JSON schema"


def test_the_shipped_schemes_are_the_registry():
    assert sorted(SCHEMA_SCHEMES) == SCHEMES.names()
