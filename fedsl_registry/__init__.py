"""A tiny name -> factory registry, one per extension point (filled by a decorator).

A neutral package of its own: the radio library (:mod:`channels`) and the simulator's learning
and compression code use it without importing each other.

An entry may declare its *parameter model* (``register(name, params=Model)``, or
:meth:`Registry.declare_params` when the model lives elsewhere, e.g. the scenario schema's
sections for the radio library's entries): the scenario schema derives a section's accepted
kinds from the registry, and code that derives something from the registry subscribes to hear
of later registrations (:meth:`Registry.subscribe`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a string name to a factory; scenarios name entries by string.

    Parameters
    ----------
    kind : str
        What the entries are ("path-loss model", "scheme", ...), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._params: dict[str, Any] = {}
        self._lazy: dict[str, tuple[str, Callable[..., T]]] = {}  # name -> (target, loader)
        self._attributes: dict[str, Mapping[str, Any]] = {}  # a lazy entry's declared ones
        self._listeners: list[Callable[[], None]] = []

    def register(
        self, name: str, params: Any = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name`` (names are unique), with its
        parameter model ``params`` if given."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            if params is not None:
                self._params[name] = params
            try:
                self._notify()
            except BaseException:  # e.g. a parameter model the schema refuses: undo it
                del self._entries[name]
                self._params.pop(name, None)
                self._notify()
                raise
            return factory

        return decorate

    def register_lazy(
        self,
        name: str,
        target: str,
        params: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Register the factory ``target`` (``"package.module:attribute"``, a name in code,
        never from input) under ``name`` without importing it: it is imported when the entry
        is first used, so that listing or validating names never imports a heavy module.
        ``attributes`` declares what :meth:`attribute` answers for the entry before it is
        imported (the values of the target's own attributes of those names)."""
        module, sep, attribute = target.partition(":")
        if not sep or not module or not attribute.isidentifier():
            raise ValueError(f"target must be 'package.module:attribute', got {target!r}")

        def load(**params: Any) -> T:
            return self.resolve(name)(**params)

        self.register(name, params)(load)
        self._lazy[name] = (target, load)
        if attributes:
            self._attributes[name] = dict(attributes)

    def attribute(self, name: str, attribute: str, default: Any = None) -> Any:
        """Attribute ``attribute`` of entry ``name``'s factory (e.g. a scheme class's
        ``shape``), ``default`` if it has none. A lazy entry not imported yet answers with
        the value it declared (:meth:`register_lazy`'s ``attributes``) without importing it."""
        self.get(name)
        declared = self._attributes.get(name, {})
        if name in self._lazy and attribute in declared:
            return declared[attribute]
        return getattr(self.resolve(name), attribute, default)

    def resolve(self, name: str) -> Callable[..., T]:
        """The factory of entry ``name`` itself (a lazy entry's target imported, once)."""
        factory = self.get(name)
        lazy = self._lazy.get(name)
        if lazy is None or factory is not lazy[1]:
            return factory
        import importlib

        module, _, attribute = lazy[0].partition(":")
        loaded: Callable[..., T] = getattr(importlib.import_module(module), attribute)
        if self._entries.get(name) is factory:  # still this entry: later calls go straight
            self._entries[name] = loaded
            del self._lazy[name]
        return loaded

    def declare_params(self, name: str, params: Any) -> None:
        """Declare the parameter model of the registered entry ``name``."""
        self.get(name)
        previous = self._params.get(name)
        self._params[name] = params
        try:
            self._notify()
        except BaseException:  # undo it
            if previous is None:
                del self._params[name]
            else:
                self._params[name] = previous
            self._notify()
            raise

    def params(self, name: str) -> Any:
        """The parameter model of entry ``name`` (None if it declared none)."""
        self.get(name)
        return self._params.get(name)

    def unregister(self, name: str) -> None:
        """Remove entry ``name`` (e.g. a model a test added)."""
        factory = self.get(name)
        params = self._params.pop(name, None)
        lazy = self._lazy.pop(name, None)
        attributes = self._attributes.pop(name, None)
        del self._entries[name]
        try:
            self._notify()
        except BaseException:  # e.g. the last entry a schema section needs: keep it
            self._entries[name] = factory
            if params is not None:
                self._params[name] = params
            if lazy is not None:
                self._lazy[name] = lazy
            if attributes is not None:
                self._attributes[name] = attributes
            self._notify()
            raise

    @contextmanager
    def registered(
        self, name: str, factory: Callable[..., T], params: Any = None
    ) -> Iterator[Callable[..., T]]:
        """``factory`` registered as ``name`` for the duration of a ``with`` block."""
        self.register(name, params)(factory)
        try:
            yield factory
        finally:
            self.unregister(name)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change of the entries or their parameter models."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def make(self, name: str, /, **params: Any) -> T:
        """Build the entry ``name`` with keyword parameters."""
        return self.get(name)(**params)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
