"""The import rules of the architecture (DESIGN: layers, builder), checked on the source.

Every import counts — at module level, inside functions, under ``TYPE_CHECKING`` — since a
lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fedsl_sim", "channels", "fedsl_registry")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names, relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{alias.name}" for alias in node.names)  # `from pkg import mod`
    return out


def _modules() -> dict[str, set[str]]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            mods[_module_name(path)] = _imports(path)
    return mods


MODULES = _modules()


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


#: (importer prefix, forbidden prefix, why)
RULES = [
    ("fedsl_sim.sim", "fedsl_sim.scenario", "runtime classes take explicit arguments"),
    ("fedsl_sim.sim", "fedsl_sim.build", "the builder builds the runtime, not the reverse"),
    ("fedsl_sim.schemes", "fedsl_sim.scenario", "schemes are told SchemeSettings"),
    ("fedsl_sim.learning", "fedsl_sim.scenario", "the learning code takes explicit arguments"),
    ("fedsl_sim.compression", "fedsl_sim.scenario", "codecs take explicit arguments"),
    ("fedsl_sim.control", "fedsl_sim.scenario", "policies take explicit arguments"),
    ("fedsl_sim.control", "torch", "deciding never needs the training code"),
    ("fedsl_sim.scenario", "fedsl_sim.sim", "validating never builds the simulation"),
    ("fedsl_sim.scenario", "fedsl_sim.learning", "validating never imports torch"),
    ("fedsl_sim.scenario", "fedsl_sim.build", "the builder reads the scenario, not the reverse"),
    ("fedsl_sim.scenario", "torch", "validating never imports torch"),
    ("fedsl_sim.report", "fedsl_sim.engine", "reports read outputs, not the engine"),
    ("fedsl_sim.report", "fedsl_sim.simulation", "reports read outputs, not the engine"),
    ("fedsl_sim.learning", "channels", "the registry is neutral (fedsl_registry)"),
    ("fedsl_sim.compression", "channels", "the registry is neutral (fedsl_registry)"),
    ("channels", "fedsl_sim", "the radio library stands alone"),
    ("fedsl_registry", "fedsl_sim", "the registry is neutral"),
    ("fedsl_registry", "channels", "the registry is neutral"),
]


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES)
def test_import_rule(importer: str, forbidden: str, why: str) -> None:
    bad = sorted(
        f"{mod} imports {imp}"
        for mod, imps in MODULES.items()
        if _under(mod, importer)
        for imp in imps
        if _under(imp, forbidden)
    )
    assert not bad, f"{importer} must not import {forbidden} ({why}):\n" + "\n".join(bad)


def _unit(mod: str) -> str:
    """The package a module belongs to for the cycle check: ``fedsl_sim.<sub>`` for modules
    of a sub-package, else the module itself."""
    parts = mod.split(".")
    if parts[0] == "fedsl_sim" and len(parts) > 1:
        sub = ".".join(parts[:2])
        return sub
    return parts[0]


def test_no_import_cycles_between_packages() -> None:
    known = {_unit(m) for m in MODULES}
    graph: dict[str, set[str]] = {u: set() for u in known}
    for mod, imps in MODULES.items():
        for imp in imps:
            target = _unit(imp)
            if target in known and target != _unit(mod) and _unit(mod) != "fedsl_sim":
                graph[_unit(mod)].add(target)
    # depth-first search for a back edge
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                cycle = stack[stack.index(v) :] + [v]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            visit(u)


def test_the_rules_see_the_imports() -> None:
    """The checker itself: it finds the imports the rules are about."""
    assert "fedsl_sim.scenario" in MODULES["fedsl_sim.build.radio"]
    assert "fedsl_registry" in MODULES["channels.fading"]
    assert any(_under(i, "fedsl_sim.sim") for i in MODULES["fedsl_sim.engine"])
