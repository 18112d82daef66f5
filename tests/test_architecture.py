"""docs/architecture.md stays true: which part may import which, and no import cycles.

Imports are read from the source (every ``import`` statement, also those inside
functions), so lazy imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "spatialsnn"

#: The parts of docs/architecture.md and the parts each may import. ``spatialsnn``
#: itself may be imported by any part for ``__version__`` only.
ALLOWED: dict[str, set[str]] = {
    "units": set(),
    "geometry": set(),
    "dynamics": set(),
    "readouts": set(),
    "loss": set(),
    "data": set(),
    "ops": {"dynamics"},
    "model": {"dynamics", "geometry", "ops", "readouts"},
    "derived": set(),
    "io": {"derived", "geometry", "model", "units"},
    "config": {"data", "loss", "model", "ops", "readouts"},
    "checkpoint": {"config"},
    "summary": {"io"},
    "progress": set(),
    "train": {"checkpoint", "config", "data", "io", "loss", "model", "ops", "progress"},
    "brian2": {"dynamics", "io"},
    "export": {"brian2", "dynamics", "io"},
    "validate": {"brian2", "data", "geometry", "io", "model", "progress"},
    "analysis": {"brian2", "data", "geometry", "io", "model"},
    "commands": {
        "analysis",
        "brian2",
        "config",
        "data",
        "derived",
        "export",
        "io",
        "model",
        "ops",
        "summary",
        "train",
        "validate",
    },  # fmt: skip
    "cli": {"commands"},
    "__main__": {"cli"},
}

#: The only modules that import these third-party packages (lazily).
SOLE_IMPORTERS = {
    "brian2": "spatialsnn/brian2/",
    "brian2cuda": "spatialsnn/brian2/",
    "matplotlib": "spatialsnn/analysis/plots/",
}


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imports_of(path: Path) -> set[tuple[str, str | None]]:
    """``(module, name)`` of every import in a file (name None for ``import x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name, None) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {(node.module, alias.name) for alias in node.names}
    return found


def module_files() -> list[Path]:
    """Every module of the package but its ``__init__`` (the public namespace)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of a directed graph as a list of nodes, or None."""
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*stack, node])):
                return cycle
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_every_part_is_described():
    parts = {part_of(p) for p in module_files()}
    assert parts <= set(ALLOWED), f"parts missing from ALLOWED: {parts - set(ALLOWED)}"
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for part in ALLOWED:
        if part not in ("__main__",):
            assert f"`{part}`" in doc, f"docs/architecture.md does not describe {part}"


def test_parts_import_only_what_the_architecture_allows():
    wrong = []
    for path in module_files():
        part = part_of(path)
        for module, name in imports_of(path):
            top, _, rest = module.partition(".")
            if top != "spatialsnn":
                continue
            target = rest.split(".")[0] if rest else (name if name in ALLOWED else None)
            if target is None:  # the package itself: __version__ only
                if name != "__version__":
                    wrong.append(f"{path.relative_to(ROOT)}: from spatialsnn import {name}")
                continue
            if target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(ROOT)} ({part}) imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_allowed_graph_has_no_cycle():
    assert find_cycle(ALLOWED) is None, " -> ".join(find_cycle(ALLOWED))


@pytest.mark.parametrize("package", sorted(SOLE_IMPORTERS))
def test_optional_packages_are_imported_in_one_place(package):
    where = SOLE_IMPORTERS[package]
    for path in module_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(where):
            continue
        tops = {m.partition(".")[0] for m, _ in imports_of(path)}
        assert package not in tops, f"{rel} imports {package}; only {where} may"


def test_benchmarks_import_each_other_without_cycles():
    scripts = {p.stem: p for p in (ROOT / "benchmarks").glob("*.py")}
    graph = {
        name: {m.partition(".")[0] for m, _ in imports_of(p)} & set(scripts)
        for name, p in scripts.items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, "benchmarks import each other: " + " -> ".join(cycle or [])


def test_no_module_is_longer_than_about_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in module_files()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 520
    }
    assert not long, f"split these modules by concept: {long}"
