"""Scenario sections whose kinds come from a registry: the path-loss, fading and mobility
models of :mod:`channels`.

A section accepts exactly the registered entries that declared a parameter model (a pydantic
model of the section's base with a ``Literal`` discriminator), and hears of later
registrations: registering a model (``MODELS.register("name", params=Params)``) makes
scenarios that name it valid and puts it in the exported JSON schema, without touching this
package. The field is rebuilt in place (same classes, so ``isinstance`` holds everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from fedsl_registry import Registry


def registry_union(registry: Registry[Any], key: str) -> Any:
    """The discriminated union (on ``key``) of the parameter models of ``registry``."""
    models = []
    for name in registry.names():
        params = registry.params(name)
        if params is not None:
            models.append(params)
    if not models:
        raise ValueError(f"no {registry.kind} declares a parameter model")
    if len(models) == 1:  # a discriminated union needs two members
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator=key)]  # noqa: UP007


def bind_section(
    model: type[BaseModel],
    field: str,
    registry: Registry[Any],
    key: str,
    parents: Sequence[type[BaseModel]],
) -> None:
    """Make ``model.field`` the union of ``registry``'s parameter models now and after every
    change of the registry, rebuilding ``model`` and then ``parents`` (outermost last)."""

    def rebuild() -> None:
        old = model.__pydantic_fields__[field]
        new = FieldInfo.from_annotated_attribute(registry_union(registry, key), old.default)
        new.description = old.description
        model.__pydantic_fields__[field] = new
        model.model_rebuild(force=True)
        for parent in parents:
            parent.model_rebuild(force=True)

    rebuild()
    registry.subscribe(rebuild)
