"""The error of bad input, shared by every layer (scenario, builder, learning, report).

A neutral module: the data readers of :mod:`fedsl_sim.learning` and the report code raise it
without importing the scenario schema.
"""

from __future__ import annotations

from typing import Any


def _rebuild_input_error(
    cls: type[ScenarioError], source: str, message: str, path: str | None
) -> ScenarioError:
    """Unpickle a :class:`ScenarioError` (or subclass) whatever its ``__init__`` signature."""
    exc = cls.__new__(cls)
    ScenarioError.__init__(exc, source, message, path)
    return exc


class ScenarioError(Exception):
    """Invalid input: names the file, the dotted field path, what was expected and given.

    Survives pickling (a sweep's worker process or Ray task sends it to the parent), with
    its subclasses, whose constructors take other arguments."""

    def __init__(self, source: str, message: str, path: str | None = None) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_input_error, (type(self), self.source, self.message, self.path))
