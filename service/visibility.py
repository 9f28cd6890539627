r"""Visibility queries: one builder, one quoting rule, keys from :mod:`workflows.names`.

Every list in the engine (``sla list``, the SLA report, the audits, on-call
look-ups) is a conjunction of clauses on the workflow type, the execution
status, a task queue and our search attributes. :class:`Query` builds them so
that no caller writes SQL-like text by hand, and :func:`literal` is the single
quoting rule for values: single quotes with backslash escapes, the form
Temporal's visibility parser reads back verbatim for every character (double
quotes would need JSON-style ``\\uXXXX`` escapes, which it does not decode, so
``Müller`` written that way never matched).

Example::

    query = (
        Query.workflows("IncidentWorkflow")
        .where(names.COMPANY, "Müller's \\"Söhne\\"")
        .where_not(names.TICKET_STATUS, "resolved")
        .running()
    )
    async for execution in client.list_workflows(str(query)): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey

Value = str | bool | int | datetime | Enum
"""What a clause compares with: text, a flag, a number, an instant or an enum member."""

_UNMATCHABLE = ('"', "\\")
"""Characters after which the server's equality on a keyword no longer matches."""


def _text_of(value: Value) -> str | None:
    """The text of a text or enum value (``None`` for flags, numbers and instants)."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return value
    return None


def _server_prefix(text: str) -> str | None:
    """The part of ``text`` the server can match, or ``None`` when it matches all of it."""
    cut = min((i for i in (text.find(c) for c in _UNMATCHABLE) if i >= 0), default=-1)
    return None if cut < 0 else text[:cut]


@dataclass(frozen=True)
class _Exact:
    """A check the client makes on each listed execution (see the module docstring)."""

    key: SearchAttributeKey[Any]
    values: frozenset[str]

    def holds(self, execution: WorkflowExecution) -> bool:
        return execution.typed_search_attributes.get(self.key) in self.values


def literal(value: Value) -> str:
    r"""``value`` as a visibility-query literal (the one quoting rule).

    Text and enum values go in single quotes with ``\\`` and ``'`` escaped;
    instants in RFC 3339 UTC; booleans as ``true``/``false``; integers bare.

    Raises:
        ValueError: Text with a control character (a NUL or newline cannot be
            quoted for the parser and never occurs in a value we store).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and not isinstance(value, Enum):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime in a visibility query: {value.isoformat()}")
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        text = str(value.value if isinstance(value, Enum) else value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"control character in a visibility query value: {text!r}")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Query:
    """An immutable conjunction of visibility clauses; ``str(query)`` is the server's part."""

    clauses: tuple[str, ...] = ()
    exact: tuple[_Exact, ...] = ()

    @classmethod
    def workflows(cls, workflow_type: str | type) -> Query:
        """Workflows of one type (a workflow class or its name)."""
        name = workflow_type if isinstance(workflow_type, str) else workflow_type.__name__
        return cls((f"WorkflowType = {literal(name)}",))

    def _and(self, clause: str) -> Query:
        return Query((*self.clauses, clause), self.exact)

    def _checked(self, key: SearchAttributeKey[Any], texts: Iterable[str]) -> Query:
        return Query(self.clauses, (*self.exact, _Exact(key, frozenset(texts))))

    def where(self, key: SearchAttributeKey[Any], value: Value) -> Query:
        """``key = value``."""
        text = _text_of(value)
        prefix = None if text is None else _server_prefix(text)
        if text is None or prefix is None:
            return self._and(f"{key.name} = {literal(value)}")
        narrowed = self._and(f"{key.name} STARTS_WITH {literal(prefix)}") if prefix else self
        return narrowed._checked(key, [text])

    def where_not(self, key: SearchAttributeKey[Any], value: Value) -> Query:
        r"""``key != value``.

        Raises:
            ValueError: ``value`` is text the server cannot match (``"`` or ``\\``).
        """
        text = _text_of(value)
        if text is not None and _server_prefix(text) is not None:
            raise ValueError(f"cannot exclude {text!r} in a visibility query")
        return self._and(f"{key.name} != {literal(value)}")

    def where_in(self, key: SearchAttributeKey[Any], values: Iterable[Value]) -> Query:
        """``key IN (…)``; repeats dropped. An empty ``values`` adds no clause (no filter)."""
        chosen = list(dict.fromkeys(values))
        if not chosen:
            return self
        texts = [_text_of(v) for v in chosen]
        if any(t is not None and _server_prefix(t) is not None for t in texts):
            # The server cannot match all of them: the client picks them out.
            wanted = [t if t is not None else str(v) for t, v in zip(texts, chosen, strict=True)]
            return self._checked(key, wanted)
        return self._and(f"{key.name} IN ({', '.join(literal(v) for v in chosen)})")

    def between(
        self,
        key: SearchAttributeKey[Any],
        low: datetime,
        high: datetime,
        *,
        include_high: bool = True,
    ) -> Query:
        """``low <= key <= high`` (or ``< high``)."""
        upper = "<=" if include_high else "<"
        return self._and(f"{key.name} >= {literal(low)}")._and(
            f"{key.name} {upper} {literal(high)}"
        )

    def running(self) -> Query:
        """Only running executions (a terminated one keeps its last attributes)."""
        return self._and(f"ExecutionStatus = {literal('Running')}")

    def on_task_queue(self, task_queue: str | None) -> Query:
        """Only workflows of ``task_queue`` (``None``: any)."""
        if task_queue is None:
            return self
        return self._and(f"TaskQueue = {literal(task_queue)}")

    def matches(self, execution: WorkflowExecution) -> bool:
        """Whether a listed execution passes the checks the server could not make."""
        return all(check.holds(execution) for check in self.exact)

    def __str__(self) -> str:
        """The server's part of the query (clauses joined with ``AND``)."""
        return " AND ".join(self.clauses)


async def executions(
    client: Client, query: Query, limit: int | None = None
) -> AsyncIterator[WorkflowExecution]:
    """The executions matching ``query``, at most ``limit`` of them."""
    found = 0
    async for execution in client.list_workflows(str(query)):
        if not query.matches(execution):
            continue
        yield execution
        found += 1
        if limit is not None and found >= limit:
            return


async def listed(
    client: Client, query: Query, limit: int | None = None
) -> dict[str, WorkflowExecutionStatus]:
    """Running or completed workflows matching ``query``: ID -> status, no repeats.

    A continued-as-new workflow can briefly be listed twice; failed or
    terminated runs keep stale search attributes and are left out.
    """
    found: dict[str, WorkflowExecutionStatus] = {}
    async for execution in executions(client, query, limit):
        status = execution.status
        if status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
            found.setdefault(execution.id, status)
    return found


async def listed_ids(client: Client, query: Query, limit: int | None = None) -> list[str]:
    """IDs of running or completed workflows matching ``query``, without repeats."""
    return list(await listed(client, query, limit))
