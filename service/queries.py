"""Reading a workflow's state by query, through the short windows where a query cannot answer.

Two answers are transient and worth a short retry, not an operator-facing error:

* ``NotOpenYet`` — the incident's first task has not run yet (just reported);
* ``ClockBehindHistory`` (:mod:`workflows.timers`) — the worker rebuilt the
  workflow for this query after a crash and met a timer that fired after its
  last completed task with a stale time; it refuses rather than answer from
  a state the real task would not reach (docs/RELIABILITY.md). The next try
  replays again and answers.

:func:`incident_view` reads a *closed* incident from its result instead of a
query: no worker needs to run, and no replay of its history is needed (one that
cannot be replayed any more — docs/RELIABILITY.md — stays readable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.read_model import IncidentView
from workflows.incident import IncidentWorkflow
from workflows.timers import STALE_CLOCK_MARK

T = TypeVar("T")

_TRANSIENT = ("still being opened", STALE_CLOCK_MARK)


def is_transient(error: WorkflowQueryFailedError) -> bool:
    """Whether the query failed for a reason that passes by itself within seconds."""
    return any(mark in str(error) for mark in _TRANSIENT)


async def query_settled(
    call: Callable[[], Awaitable[T]], *, attempts: int = 8, first_delay: float = 0.2
) -> T:
    """Run ``call`` (a query), retrying transient failures with backoff (about 5 s in all).

    Raises:
        WorkflowQueryFailedError: a permanent failure, or a transient one that did not pass.
    """
    delay = first_delay
    for attempt in range(attempts):
        try:
            return await call()
        except WorkflowQueryFailedError as error:
            if attempt == attempts - 1 or not is_transient(error):
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@dataclass(frozen=True)
class Unreadable:
    """A workflow whose state could not be read, and why (it is skipped, never fatal)."""

    workflow_id: str
    reason: str


async def gather_readable(
    items: Iterable[str], fetch: Callable[[str], Awaitable[T]], at_once: int = 16
) -> tuple[list[T], list[Unreadable]]:
    """``fetch`` every item, ``at_once`` at a time; items that cannot be read are skipped, named.

    One wedged workflow (a task that cannot complete, a query that times out)
    must not cost an operator the whole list or report.
    """
    gate = asyncio.Semaphore(at_once)
    found: list[T] = []
    skipped: list[Unreadable] = []

    async def one(item: str) -> None:
        async with gate:
            try:
                found.append(await fetch(item))
            except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
                skipped.append(Unreadable(item, str(error) or type(error).__name__))

    await asyncio.gather(*(one(i) for i in items))
    return found, skipped


class WorkflowLookupError(LookupError):
    """An ID that names no workflow, or one of another kind; ``str()`` is one clear line."""


async def describe_kind(
    client: Client, workflow_id: str, workflow: type, unknown: str, other: str
) -> WorkflowExecutionDescription:
    """Describe ``workflow_id``, refusing an unknown ID and a workflow of another type.

    Args:
        client: Temporal.
        workflow_id: What the operator typed.
        workflow: The workflow class it must be.
        unknown: The refusal when Temporal does not know the ID.
        other: The refusal when it is another kind of workflow.

    Raises:
        WorkflowLookupError: With ``unknown`` or ``other``.
        RPCError: Temporal failed otherwise.
    """
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowLookupError(unknown) from None
        raise
    if described.workflow_type != workflow.__name__:
        raise WorkflowLookupError(other)
    return described


QUERY_TIMEOUT = timedelta(seconds=10)
"""How long one workflow may take to answer a query before it counts as unreadable."""


async def incident_view(
    client: Client, ticket_id: str, status: WorkflowExecutionStatus | None = None
) -> IncidentView:
    """The incident's full view: from the workflow's result once it completed, else a query.

    ``status`` is the workflow's status if the caller knows it (e.g. from a
    visibility listing); otherwise the workflow is described first.

    Raises:
        RPCError: NOT_FOUND for an unknown ticket.
        WorkflowQueryFailedError: the query failed for good (see :func:`query_settled`).
    """
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
    if status is None:
        status = (await handle.describe()).status
    if status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result(follow_runs=False)
        if result.view is not None:
            return result.view
    return await query_settled(
        lambda: handle.query(IncidentWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
    )
