"""Scenario fields whose values come from a registry: the path-loss, fading and mobility
models of :mod:`channels` (sections), and the scheme (a name).

A section accepts exactly the registered entries that declared a parameter model (a pydantic
model of the section's base with a ``Literal`` discriminator), and hears of later
registrations: registering a model (``MODELS.register("name", params=Params)``) makes
scenarios that name it valid and puts it in the exported JSON schema, without touching this
package. The field is rebuilt in place (same classes, so ``isinstance`` holds everywhere).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from fedsl_registry import Registry


def registry_union(registry: Registry[Any], key: str) -> Any:
    """The discriminated union (on ``key``) of the parameter models of ``registry``."""
    models = []
    for name in registry.names():
        params = registry.params(name)
        if params is None:
            continue
        field = getattr(params, "model_fields", {}).get(key)
        if field is None or typing.get_args(field.annotation) != (name,):
            raise ValueError(
                f"the parameter model of {registry.kind} {name!r} must be a pydantic model "
                f"with {key}: Literal[{name!r}]"
            )
        models.append(params)
    if not models:
        raise ValueError(f"no {registry.kind} declares a parameter model")
    if len(models) == 1:  # a discriminated union needs two members
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator=key)]  # noqa: UP007


def registry_names(registry: Registry[Any]) -> Any:
    """``Literal`` of the names registered in ``registry``."""
    names = registry.names()
    if not names:
        raise ValueError(f"no {registry.kind} is registered")
    return Literal[tuple(names)]


def bind_names(
    model: type[BaseModel], field: str, registry: Registry[Any], parents: Sequence[type[BaseModel]]
) -> None:
    """Make ``model.field`` accept exactly the names registered in ``registry``, now and
    after every change of it (e.g. ``scheme``: every registered scheme)."""
    _bind(model, field, registry, lambda: registry_names(registry), parents)


def bind_section(
    model: type[BaseModel],
    field: str,
    registry: Registry[Any],
    key: str,
    parents: Sequence[type[BaseModel]],
    as_list: bool = False,
) -> None:
    """Make ``model.field`` the union of ``registry``'s parameter models (``as_list``: an
    optional list of them, e.g. a pipeline of registered stages) now and after every change
    of the registry, rebuilding ``model`` and then ``parents`` (outermost last)."""

    def annotation() -> Any:
        union = registry_union(registry, key)
        return Union[list[union], None] if as_list else union  # noqa: UP007

    _bind(model, field, registry, annotation, parents)


def _bind(
    model: type[BaseModel],
    field: str,
    registry: Registry[Any],
    annotation: Callable[[], Any],
    parents: Sequence[type[BaseModel]],
) -> None:
    def rebuild() -> None:
        old = model.__pydantic_fields__[field]
        new = FieldInfo.from_annotated_attribute(annotation(), old.default)
        new.description = old.description
        model.__pydantic_fields__[field] = new
        model.model_rebuild(force=True)
        for parent in parents:
            parent.model_rebuild(force=True)

    rebuild()
    registry.subscribe(rebuild)
