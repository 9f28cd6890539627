"""Waiting helpers for workflow tests on the real or time-skipping server.

Timers fire and activities run asynchronously after the clock moves, so tests
poll; and a test must leave nothing in flight before a time-skipping server
moves on (see ``settled``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError

from tests.conftest import CACHELESS

T = TypeVar("T")

PATIENCE = 30.0
"""Real seconds a test waits for something to happen before it fails.

Generous on purpose: a passing check returns at once, so the limit costs
nothing on a quick machine, while on a loaded one (CI, ``make test-loaded``)
workflow tasks, activities and mail can take seconds each. A tight limit only
turned load into failures."""

CACHELESS_PATIENCE = 90.0
"""The least a test waits without a workflow cache (``SLA_TEST_CACHELESS=1``).

With no cache, core keeps a run pinned while its local activity runs and
buffers every other run's workflow task meanwhile ("Buffering WFT because
cache is full", temporalio/sdk-rust#886); the buffered task then waits out the
10 s workflow task timeout and runs on the retry. Every task that records
events also appends them to the archive as a local activity, so a chain of
tasks across two workflows (an on-call booking telling an open incident about
its window) meets that stall several times: 40 s measured alone, more under
load. A cache of any size (production: 1000) has no such stall."""


async def eventually(check: Callable[[], Awaitable[T]], seconds: float = PATIENCE) -> T:
    """Retry ``check`` (which asserts) until it passes or ``seconds`` of real time are up.

    Timers fire and activities run asynchronously after the clock moves; a
    query may also come before the incident has opened (``NotOpenYet``).
    Without a workflow cache, at least :data:`CACHELESS_PATIENCE`.
    """
    if CACHELESS:
        seconds = max(seconds, CACHELESS_PATIENCE)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            return await check()
        except (AssertionError, WorkflowQueryFailedError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}
_ACTIVITY_CLOSED = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
)
_TASK_CLOSED = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
)


async def settled(handle: WorkflowHandle[Any, Any], seconds: float = PATIENCE) -> None:
    """Wait until ``handle``'s run has no workflow task and no activity in flight."""

    async def check() -> None:
        types = await history_event_types(handle)
        if types and types[-1] in _CLOSED:
            return
        running = types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) - sum(
            types.count(t) for t in _ACTIVITY_CLOSED
        )
        tasks = types.count(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) - sum(
            types.count(t) for t in _TASK_CLOSED
        )
        assert running == 0 and tasks == 0, (running, tasks)

    await eventually(check, seconds)


async def history_event_types(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    return [e.event_type async for e in handle.fetch_history_events()]


async def result_of(handle: WorkflowHandle[Any, T], seconds: float = PATIENCE) -> T:
    """The workflow's result once it has closed, however long a loaded machine takes.

    ``handle.result()`` is one long poll for the close event; when the poll
    ends before the workflow closes (a busy worker replaying every task, as in
    ``make test-cacheless`` on a loaded machine), the SDK raises "No completion
    event found". Waiting for the close first makes the result a single read.
    """

    async def closed() -> None:
        description = await handle.describe()
        assert description.status is not None
        assert description.status != WorkflowExecutionStatus.RUNNING, "still running"

    await eventually(closed, seconds)
    return await handle.result()
