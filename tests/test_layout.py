"""The house rules, read from the source: dependencies point one way and no module imports itself in a circle.

Every ``import`` and ``from ... import`` of the five packages is read with ``ast`` (nothing is
executed), including imports inside functions and under ``TYPE_CHECKING``: a cycle or a wrong-way
import there still couples the modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "generators", "verifiers", "trainer", "flows")

# What each package may import of ours (DESIGN: flows -> trainer, verifiers, generators -> schemas;
# trainer reuses the verifiers' checks, "one definition of correct").
ALLOWED = {
    "schemas": {"schemas"},
    "generators": {"generators", "schemas"},
    "verifiers": {"verifiers", "schemas"},
    "trainer": {"trainer", "verifiers", "schemas"},
    "flows": {"flows", "trainer", "verifiers", "generators", "schemas"},
}
# Third-party packages a package must not import at all (anywhere, even lazily).
FORBIDDEN = {
    "schemas": {"prefect", "torch", "transformers", "trl", "peft"},
    "generators": {"prefect", "torch", "transformers", "trl", "peft"},
    "verifiers": {"prefect", "trl", "peft"},  # torch only lazily, for the embedding model (semantic)
    "trainer": {"prefect"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files} for name, path in files.items()}


GRAPH = _graph()


def test_the_walk_sees_the_packages() -> None:
    # A walk that found nothing would pass every rule below.
    assert len(GRAPH) > 100 and "verifiers.summary" in GRAPH["flows.verify"]


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package]
    )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_keep_out_of_heavy_stacks(package: str) -> None:
    wrong = sorted(
        f"{_module_name(path)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN[package]
    )
    assert not wrong, "\n".join(wrong)


def test_the_dataset_room_imports_nothing_else_of_trainer() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("trainer.dataset")
        for target in targets
        if target.startswith("trainer") and not target.startswith("trainer.dataset")
    )
    assert not wrong, "\n".join(wrong)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets (each as the path that closes it)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycles() -> None:
    # Edges to a package itself are left out: importing ``a.b`` runs ``a/__init__``, but ours hold only
    # docstrings, so such an edge leads nowhere.
    graph = {
        m: {t for t in ts if not (ROOT / t.replace(".", "/") / "__init__.py").exists()}
        for m, ts in GRAPH.items()
    }
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_relative_imports_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    (package / "mod.py").write_text("from . import other\nfrom ..top import thing\n", "utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert {"pkg.sub.other", "pkg.top", "pkg.top.thing"} <= _imports(package / "mod.py")
