"""The import graph points one way: ui, instrumentation -> exporter -> receiver -> ledger -> proto.

Every module of the package is parsed (no import is executed), every import of a
``chatsnapshot`` module is an edge, including imports inside functions and under
``TYPE_CHECKING``: a lazy import still ties two modules together. The test fails
on an edge that points up the layers, on an import of the storage engine from
outside ``chatsnapshot.ledger``, and on any cycle between modules.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer and the layers below it.
LAYERS = [
    ("chatsnapshot.errors", "chatsnapshot.environment_variables", "chatsnapshot.lazy", "chatsnapshot.proto"),
    ("chatsnapshot.ledger",),
    ("chatsnapshot.receiver",),
    ("chatsnapshot.exporter",),
    ("chatsnapshot.instrumentation",),
    ("chatsnapshot.ui",),  # the web app reads through the ledger and the receiver's client
    ("chatsnapshot.cli", "chatsnapshot"),  # the command line and the facade sit on top
]
ENGINE = "chatsnapshot.ledger._engine"


def _modules() -> dict[str, Path]:
    """Every module of the package, by dotted name, from pyproject's package-dir."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    modules: dict[str, Path] = {}
    for package, folder in config.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            name = ".".join((package, *rel))
            if any(part.startswith(".") or part == "__pycache__" for part in rel):
                continue
            # chatsnapshot/ itself holds no mapped sub-package folders, but guard against doubles
            modules.setdefault(name, path)
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports (a ``from X import y`` of a
    submodule ``X.y`` counts as importing ``X.y``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("chatsnapshot") and target != name:
                found.add(target)
    return found


def _layer(name: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank >= 0, f"{name} belongs to no layer: add it to LAYERS"
    return rank


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_graph_sees_every_role() -> None:
    names = set(_graph())
    for expected in ("chatsnapshot.proto.attributes", "chatsnapshot.ledger.ledger",
                     "chatsnapshot.ledger._engine.writer", "chatsnapshot.receiver.promotion",
                     "chatsnapshot.exporter.spool", "chatsnapshot.instrumentation.ag2", "chatsnapshot.cli.main"):
        assert expected in names


def test_imports_point_down() -> None:
    upward = [f"{a} -> {b}" for a, deps in _graph().items() for b in sorted(deps) if _layer(b) > _layer(a)]
    assert upward == [], "imports that point up the layers:\n" + "\n".join(upward)


def test_the_engine_is_private_to_the_ledger() -> None:
    leaks = [f"{a} -> {b}" for a, deps in _graph().items() for b in sorted(deps)
             if b.startswith(ENGINE) and not a.startswith("chatsnapshot.ledger")]
    assert leaks == [], "the storage engine is imported from outside chatsnapshot.ledger:\n" + "\n".join(leaks)


def test_no_module_imports_its_own_package() -> None:
    """A submodule importing its package's ``__init__`` (which imports the submodules) is a cycle in waiting."""
    inward = [f"{a} -> {b}" for a, deps in _graph().items() for b in sorted(deps)
              if a.startswith(b + ".") and b != "chatsnapshot"]
    assert inward == [], "modules that import their own package:\n" + "\n".join(inward)


def test_no_circular_imports() -> None:
    # A package re-exporting its own submodules is how a package works: those edges are not cycles.
    edges = {a: {b for b in deps if not b.startswith(a + ".")} for a, deps in _graph().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "circular imports:\n" + "\n".join(" -> ".join(c) for c in cycles)
