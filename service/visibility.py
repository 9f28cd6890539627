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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey

Value = str | bool | int | datetime | Enum
"""What a clause compares with: text, a flag, a number, an instant or an enum member."""


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
    """An immutable conjunction of visibility clauses; ``str(query)`` is the query text."""

    clauses: tuple[str, ...] = ()

    @classmethod
    def workflows(cls, workflow_type: str | type) -> Query:
        """Workflows of one type (a workflow class or its name)."""
        name = workflow_type if isinstance(workflow_type, str) else workflow_type.__name__
        return cls((f"WorkflowType = {literal(name)}",))

    def _and(self, clause: str) -> Query:
        return Query((*self.clauses, clause))

    def where(self, key: SearchAttributeKey[Any], value: Value) -> Query:
        """``key = value``."""
        return self._and(f"{key.name} = {literal(value)}")

    def where_not(self, key: SearchAttributeKey[Any], value: Value) -> Query:
        """``key != value``."""
        return self._and(f"{key.name} != {literal(value)}")

    def where_in(self, key: SearchAttributeKey[Any], values: Iterable[Value]) -> Query:
        """``key IN (…)``; repeats dropped. An empty ``values`` adds no clause (no filter)."""
        unique = list(dict.fromkeys(literal(v) for v in values))
        if not unique:
            return self
        return self._and(f"{key.name} IN ({', '.join(unique)})")

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

    def __str__(self) -> str:
        """The query text (clauses joined with ``AND``)."""
        return " AND ".join(self.clauses)


async def listed(
    client: Client, query: Query | str, limit: int | None = None
) -> dict[str, WorkflowExecutionStatus]:
    """Running or completed workflows matching ``query``: ID -> status, no repeats.

    A continued-as-new workflow can briefly be listed twice; failed or
    terminated runs keep stale search attributes and are left out.
    """
    found: dict[str, WorkflowExecutionStatus] = {}
    async for execution in client.list_workflows(str(query), limit=limit):
        status = execution.status
        if status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
            found.setdefault(execution.id, status)
    return found


async def listed_ids(client: Client, query: Query | str, limit: int | None = None) -> list[str]:
    """IDs of running or completed workflows matching ``query``, without repeats."""
    return list(await listed(client, query, limit))
