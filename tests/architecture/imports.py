"""The project's module import graph, read from the source (AST), not by importing it.

Every ``import`` counts: at module level, inside functions, under
``TYPE_CHECKING`` and inside ``workflow.unsafe.imports_passed_through()``. A
cycle hidden behind a function-local import is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "build", ".git", "__pycache__", ".sla", "test-artifacts"}


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``line`` (``local``: inside a function)."""

    importer: str
    imported: str
    line: int
    local: bool


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the project."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if SKIPPED_DIRS & set(relative.parts):
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a project module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _package_of(module: str, path: Path) -> list[str]:
    parts = module.split(".")
    return parts if path.name == "__init__.py" else parts[:-1]


def edges(modules: dict[str, Path] | None = None) -> Iterator[Edge]:
    """Every import of a project module by a project module."""
    modules = project_modules() if modules is None else modules
    for module, path in modules.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        yield from _ImportVisitor(module, path, modules).collect(tree)


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, modules: dict[str, Path]) -> None:
        self._module = module
        self._path = path
        self._modules = modules
        self._depth = 0
        self._found: list[Edge] = []

    def collect(self, tree: ast.AST) -> list[Edge]:
        self.visit(tree)
        return self._found

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def _add(self, name: str, node: ast.stmt) -> None:
        target = _resolve(name, self._modules)
        if target is not None and target != self._module:
            self._found.append(Edge(self._module, target, node.lineno, self._depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = _package_of(self._module, self._path)
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            # `from pkg import module` imports the module; `from module import name` the module.
            full = f"{base}.{alias.name}" if base else alias.name
            self._add(full if full in self._modules else base, node)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
