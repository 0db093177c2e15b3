"""Scenario I/O: bounded YAML reading, dotted overrides, validation with user-facing errors."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from fedsl_sim.scenario.base import ScenarioError
from fedsl_sim.scenario.schema import Scenario, _FieldError

# --------------------------------------------------------------------------- I/O
#: longest value quoted back in an error message, characters
MAX_ECHO_CHARS = 200
#: largest scenario or sweep file read, bytes
MAX_YAML_BYTES = 10 * 2**20
#: most values (mapping keys and values, list items, scalars) a YAML document may expand to,
#: counting every use of an alias: refuses "billion laughs" documents
MAX_YAML_VALUES = 200_000


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys in a mapping (YAML forbids them;
    PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _too_many_values(data: Any, limit: int) -> bool:
    """Whether ``data`` holds more than ``limit`` values, aliases counted at each use."""
    stack, n = [data], 0
    while stack:
        x = stack.pop()
        n += 1
        if n > limit:
            return True
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping, with errors that name the file. Only a
    regular file of at most :data:`MAX_YAML_BYTES`, without duplicate keys, expanding to at
    most :data:`MAX_YAML_VALUES` values."""
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise ScenarioError(source, "file not found")
    if p.is_dir():
        raise ScenarioError(source, "expected a YAML file, got a directory")
    if not p.is_file():
        raise ScenarioError(source, "expected a regular file (not a device, pipe or socket)")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(source, f"cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ScenarioError(
            source, f"expected at most {MAX_YAML_BYTES // 2**20} MiB, got a larger file"
        )
    if b"\x00" in raw:
        raise ScenarioError(source, "expected a YAML text file, got binary data")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            source, f"expected UTF-8 text, got undecodable bytes ({exc.reason})"
        ) from None
    if not text.strip():
        raise ScenarioError(source, "the file is empty")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ScenarioError(source, f"cannot read a value: {str(exc)[:MAX_ECHO_CHARS]}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, f"YAML syntax error{where}: {problem}") from None
    except RecursionError:
        raise ScenarioError(source, "YAML nested too deeply") from None
    if _too_many_values(data, MAX_YAML_VALUES):
        raise ScenarioError(
            source,
            f"the YAML document expands to more than {MAX_YAML_VALUES} values (anchors and "
            "aliases counted at each use); refused",
        )
    if data is None:
        raise ScenarioError(source, "the file holds no YAML document (only comments?)")
    if not isinstance(data, dict):
        raise ScenarioError(
            source, f"expected a mapping at the top level, got {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``a.b.c=value`` (value read as a YAML scalar/flow value)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(
            "--set", f"expected KEY=VALUE (e.g. learning.split_layer=3), got {text!r}"
        )
    try:
        parsed = yaml.load(value, Loader=_StrictLoader) if value.strip() else None  # noqa: S506
    except yaml.constructor.ConstructorError as exc:  # e.g. a duplicate key in a mapping
        raise ScenarioError("--set", f"{key}: {exc.problem}") from None
    except yaml.YAMLError:
        parsed = value
    except (ValueError, RecursionError) as exc:
        raise ScenarioError(
            "--set", f"{key}: cannot read the value ({str(exc)[:MAX_ECHO_CHARS] or 'too deep'})"
        ) from None
    if _too_many_values(parsed, MAX_YAML_VALUES):
        raise ScenarioError("--set", f"{key}: the value expands to too many values; refused")
    return key, parsed


#: every section's discriminator is ``kind``; these sections spelled it otherwise before
#: (section path -> the old key), and the old spelling still works with a warning
RENAMED_DISCRIMINATORS: dict[str, str] = {
    "network.pathloss": "model",
    "network.fading": "model",
    "network.rate": "model",
    "learning.dataset": "name",
    "learning.model": "name",
    "learning.optimizer": "name",
    "learning.server_optimizer": "name",
    "learning.split_layer": "rule",
}


#: fields that never had an effect (each had one possible value) and were removed: dotted
#: path -> that value; a scenario that still sets it to that value gets a warning
REMOVED_FIELDS: dict[str, Any] = {
    "compression.pruning.structure": "unstructured",
    "compression.pruning.method": "magnitude",
}


class ScenarioDeprecationWarning(FutureWarning):
    """A scenario uses a spelling that still works but will not for ever (shown by
    default)."""


def _deprecated(source: str, old: str, new: str) -> None:
    warnings.warn(
        f"{source}: {old} is deprecated; write {new}",
        ScenarioDeprecationWarning,
        stacklevel=4,
    )


def upgrade_spellings(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` (changed in place, and returned) with every section's discriminator spelled
    ``kind`` (see :data:`RENAMED_DISCRIMINATORS`) and without the removed fields that still
    hold their only value (:data:`REMOVED_FIELDS`), warning for each."""
    for dotted, only in REMOVED_FIELDS.items():
        section, _, key = dotted.rpartition(".")
        node = _section_node(data, section)
        if node is not None and key in node and node[key] == only:
            del node[key]
            warnings.warn(
                f"{source}: {dotted} is deprecated and has no effect (it had one value, "
                f"{only}); remove it",
                ScenarioDeprecationWarning,
                stacklevel=3,
            )
    for section, old in RENAMED_DISCRIMINATORS.items():
        node = _section_node(data, section)
        if node is None or old not in node:
            continue
        if "kind" in node:
            raise ScenarioError(
                source,
                f"expected kind (or the deprecated {old}), got both",
                path=section,
            )
        _deprecated(source, f"{section}.{old}", f"{section}.kind")
        renamed = {"kind": node.pop(old)}
        renamed.update(node)
        node.clear()
        node.update(renamed)
    return data


def _upgrade_key(dotted: str, source: str) -> str:
    """An override key with an old discriminator spelling, renamed (with a warning)."""
    section, _, last = dotted.rpartition(".")
    if RENAMED_DISCRIMINATORS.get(section) == last:
        _deprecated(source, dotted, f"{section}.kind")
        return f"{section}.kind"
    return dotted


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides applied (creates missing mappings)."""
    import copy

    out = upgrade_spellings(copy.deepcopy(data), source)
    upgraded: dict[str, Any] = {}
    for given, value in overrides.items():
        dotted = _upgrade_key(given, source)
        if dotted in upgraded:
            raise ScenarioError(
                source, f"expected {dotted} once, got it twice (also as {given})", path=dotted
            )
        upgraded[dotted] = value
    for dotted, value in upgraded.items():
        parts = dotted.split(".")
        if any(not p for p in parts):
            raise ScenarioError(source, f"malformed override key {dotted!r}")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ScenarioError(
                    source,
                    f"cannot set {dotted!r}: {'.'.join(parts[: i + 1])} is a "
                    f"{type(nxt).__name__}, not a mapping",
                    path=dotted,
                )
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)  # never the caller's own object
    return out


def _dotted(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted path of a pydantic error location, without discriminated-union tags."""
    parts: list[str] = []
    node = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, (list, tuple)) and isinstance(item, int) and item < len(node):
            parts.append(str(item))
            node = node[item]
        elif not isinstance(node, dict) and isinstance(item, str) and i > 0:
            continue  # a union branch's tag over a value that is not a mapping
        elif last or not isinstance(item, str) or item.startswith("function-"):
            if not (isinstance(item, str) and item.startswith("function-")):
                parts.append(str(item))
            node = None
        else:
            # a union tag inserted by pydantic, not a field of the input
            continue
    return ".".join(parts)


def _describe(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        return "unknown field (not part of the schema; check the spelling)"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        return msg
    if msg.startswith("Input should be"):
        msg = "expected" + msg[len("Input should be") :]
    if isinstance(given, (dict, list)):
        given_s = type(given).__name__
    else:
        given_s = repr(given)
        if len(given_s) > MAX_ECHO_CHARS:  # never echo a huge value back
            given_s = given_s[:MAX_ECHO_CHARS] + f"... ({len(given_s)} characters)"
    return f"{msg}, got {given_s}"


def _outdated(data: Any) -> bool:
    """Whether ``data`` holds an old discriminator spelling or a removed field."""
    keys = [(section, old) for section, old in RENAMED_DISCRIMINATORS.items()]
    keys += [tuple(dotted.rsplit(".", 1)) for dotted in REMOVED_FIELDS]  # type: ignore[misc]
    return any(key in (_section_node(data, section) or {}) for section, key in keys)


def _section_node(data: Any, section: str) -> dict[str, Any] | None:
    """The mapping at the dotted ``section`` of ``data``, or None."""
    node: Any = data
    for part in section.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def validate_scenario(
    data: dict[str, Any], source: str, base_dir: str | Path | None = None
) -> Scenario:
    """Validate a raw mapping; errors become one :class:`ScenarioError` naming each field.
    Relative file paths in the scenario are resolved against ``base_dir``."""
    if _outdated(data):
        import copy

        data = upgrade_spellings(copy.deepcopy(data), source)
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise input_error(exc, data, source) from None


def input_error(exc: ValidationError, data: Any, source: str) -> ScenarioError:
    """One :class:`ScenarioError` for a pydantic error on the YAML ``data`` of ``source``
    (a scenario or any other input file): each failing field as a dotted path with what was
    expected and what was given."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldError):
            loc = loc + ctx_err.loc
        lines.append((_dotted(loc, data) or "(top level)", _describe(err)))
    if len(lines) == 1:
        return ScenarioError(source, lines[0][1], path=lines[0][0])
    text = "\n  ".join(f"{field}: {message}" for field, message in lines)
    return ScenarioError(source, f"{len(lines)} invalid fields:\n  {text}")


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | None = None, seed: int | None = None
) -> Scenario:
    """Load, override and validate a scenario file.

    Parameters
    ----------
    path : scenario YAML file.
    overrides : dotted keys to values, e.g. ``{"learning.split_layer": 3}``.
    seed : replaces the scenario's ``seed`` when given.
    """
    source = str(path)
    data = read_yaml_mapping(path)
    merged = dict(overrides or {})
    if seed is not None:
        merged["seed"] = seed
    if merged:
        data = apply_overrides(data, merged, source)
    return validate_scenario(data, source, base_dir=Path(path).resolve().parent)
