"""The layering holds and no module import cycle exists (counting function-local imports).

domain ← activities ← workflows ← service ← front ends (starter, cli, reporting,
worker). ``workflows/`` holds only sandboxed workflow code and never imports the
client side; activities get client-side behaviour injected (``worker.py``
wires it) instead of importing it.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.architecture.imports import Edge, cycles, edges

ALL = list(edges())
LAYERS_BELOW_SERVICE = ("domain", "activities", "workflows")
FRONT_ENDS = (
    "service",
    "cli",
    "api",
    "reporting",
    "starter",
    "worker",
    "chaos",
    "bench",
    "tests",
)


def _top(module: str) -> str:
    return module.split(".")[0]


def test_no_module_import_cycle_outside_bench() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in ALL:
        if _top(edge.importer) != "bench" and _top(edge.imported) != "bench":
            graph[edge.importer].add(edge.imported)
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_through_a_function_local_import() -> None:
    # The guard above is only worth something if it finds what it looks for.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def _offending(layer: str, forbidden: tuple[str, ...]) -> list[Edge]:
    return [e for e in ALL if _top(e.importer) == layer and _top(e.imported) in forbidden]


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (
            "domain",
            ("activities", "workflows", "service", "cli", "api", "reporting", "starter", "archive"),
        ),
        ("activities", ("workflows", "service", "cli", "api", "reporting", "starter", "worker")),
        # DESIGN §5: workflows/ imports neither archive/ nor service/.
        ("workflows", ("service", "cli", "api", "reporting", "starter", "worker", "archive")),
        # The archive is storage: the domain's models in, records out; no Temporal side.
        (
            "archive",
            ("activities", "workflows", "service", "cli", "api", "reporting", "starter", "worker"),
        ),
        ("service", ("cli", "api", "reporting", "starter", "worker")),
        # The HTTP API calls the client side only (DESIGN §5).
        ("api", ("activities", "workflows", "cli", "reporting", "starter", "worker")),
    ],
)
def test_each_layer_imports_only_the_layers_below_it(
    layer: str, forbidden: tuple[str, ...]
) -> None:
    assert _offending(layer, forbidden) == []


def test_the_domain_knows_nothing_of_temporal() -> None:
    from tests.architecture.imports import project_modules

    texts = {
        name: path.read_text("utf-8")
        for name, path in project_modules().items()
        if _top(name) == "domain"
    }
    assert [n for n, t in texts.items() if "import temporalio" in t or "from temporalio" in t] == []


def test_the_domain_and_the_workflows_know_nothing_of_sqlalchemy() -> None:
    # The archive's wire model (domain/archive.py) is built inside workflows.
    from tests.architecture.imports import project_modules

    texts = {
        name: path.read_text("utf-8")
        for name, path in project_modules().items()
        if _top(name) in ("domain", "workflows")
    }
    imports = ("import sqlalchemy", "from sqlalchemy", "import alembic", "from alembic")
    assert [n for n, t in texts.items() if any(i in t for i in imports)] == []


def test_workflows_hold_only_workflow_code() -> None:
    # Client calls (start, signal, list) belong in service/; a workflow module
    # that needs a Client is client code in the wrong room.
    from tests.architecture.imports import project_modules

    clients = [
        name
        for name, path in project_modules().items()
        if _top(name) == "workflows" and "temporalio.client" in path.read_text("utf-8")
    ]
    assert clients == []
