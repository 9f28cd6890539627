"""``sla archive rebuild``: the archive filled from Temporal, for the streams it still retains.

How a new or restored database, or one that missed events (the feed gave up
after an hour-long outage, or a run predates the feed), is filled: every
incident, maintenance window, change request and on-call booking workflow
Temporal lists, running or completed, is read and its events are appended in
the batches the feed cuts (:mod:`domain.archive_feed`):

* an incident: its view carries every event of every run (as ``sla show
  --json`` prints it); its state is folded from those events;
* a maintenance window: its state (the workflow's result, else its ``view``);
* a change request: its view's events, folded;
* an on-call booking: its snapshot and the events its workflow recorded (the
  ``events`` query: a booking keeps a snapshot, the workflow the events).

Development tickets have no workflow of their own: their tracker lives with
the worker, which hands every ticket it changes to the archive. The rebuild
reads every ticket through the worker (``ReadDevTicketsWorkflow``, as ``sla
dev-ticket list`` does) and appends each one's derived events
(:func:`domain.dev_ticket_archive.dev_ticket_batch`), so what the feed missed
in an outage arrives here. The tracker keeps its tickets for good: a rebuild
brings every ticket back, however old.

The archive stores each ``(stream_id, seq)`` once, so a rebuild can run any
number of times and only adds what was missing; an erased stream stays erased
(later appends arrive erased). It must run before the namespace retention (30
days in compose) deletes what the archive lacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from archive.store import ArchiveStore
from domain import change_request, incident
from domain.archive import ArchiveBatch, StreamKind
from domain.archive_feed import (
    change_request_batch,
    incident_batch,
    maintenance_batch,
    oncall_batch,
)
from domain.dev_ticket_archive import dev_ticket_batch
from service.dev_tickets import DevTicketRefused, read_dev_tickets
from service.queries import QUERY_TIMEOUT, Unreadable, gather_readable, incident_view, query_settled
from service.visibility import Query, listed
from workflows import names
from workflows.change_request import ChangeRequestWorkflow
from workflows.incident import IncidentWorkflow
from workflows.maintenance import MaintenanceWorkflow
from workflows.oncall import OnCallBookingWorkflow

__all__ = ["RebuildResult", "rebuild_archive"]

REBUILD_LIMIT = 1_000_000
"""Workflows one rebuild lists at most (far more than a retention period holds)."""

DEV_TICKETS_WAIT = timedelta(minutes=2)
"""How long a rebuild waits for a worker to read the dev tickets (none may be running)."""

DEV_TICKETS = "dev-tickets"
"""What :attr:`RebuildResult.unreadable` names when the dev tickets could not be read."""


class RebuildResult(BaseModel):
    """What a rebuild did.

    Attributes:
        streams: Streams read from Temporal and the tracker and handed to the archive.
        by_kind: How many of them of each kind (``incident``, ``maintenance``,
            ``change_request``, ``oncall``, ``dev_ticket``).
        events_appended: Events the archive did not have before.
        events_present: Events it had already (the feed, or an earlier rebuild).
        unreadable: Workflows whose state could not be read, and why; a dev
            ticket the archive refuses under its ID, and :data:`DEV_TICKETS`
            when the tickets could not be read at all (no worker answered).
    """

    model_config = ConfigDict(frozen=True)

    streams: int
    by_kind: dict[str, int]
    events_appended: int
    events_present: int
    unreadable: tuple[tuple[str, str], ...]


@dataclass
class _Counts:
    appended: int = 0
    present: int = 0

    async def append(self, store: ArchiveStore, batch: ArchiveBatch) -> int:
        """Append ``batch``, count what was new; the stream's last ``seq`` afterwards."""
        result = await asyncio.to_thread(store.append, batch)
        self.appended += result.appended
        self.present += len(batch.events) - result.appended
        return result.last_seq

    async def append_all(self, store: ArchiveStore, cut: Cut) -> None:
        """Append every batch ``cut`` gives, from the stream's first event on (each counted)."""
        first = 0
        while (batch := cut(first)) is not None:
            await self.append(store, batch)
            first = batch.last_seq + 1


Cut = Callable[[int], ArchiveBatch | None]
"""A stream's batches: ``cut(first)`` is the one from ``first`` on, ``None`` after the last."""

Reader = Callable[[Client, str, WorkflowExecutionStatus | None], Awaitable[Cut]]
"""Reads one workflow's stream from Temporal (its ID and the status its listing showed)."""


async def _result_or_view(
    client: Client, workflow: Any, workflow_id: str, status: WorkflowExecutionStatus | None
) -> Any:
    """A completed workflow's result (no worker needed), else its ``view`` query.

    For the workflows whose result is their final view (maintenance, change
    requests, on-call bookings).
    """
    handle = client.get_workflow_handle_for(workflow.run, workflow_id)
    if status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result(follow_runs=False)
    return await query_settled(lambda: handle.query(workflow.view, rpc_timeout=QUERY_TIMEOUT))


async def _incident(
    client: Client, workflow_id: str, status: WorkflowExecutionStatus | None
) -> Cut:
    view = await incident_view(client, workflow_id, status)
    state = incident.fold(None, view.events)
    return lambda first: incident_batch(state, first)


async def _maintenance(
    client: Client, workflow_id: str, status: WorkflowExecutionStatus | None
) -> Cut:
    state = await _result_or_view(client, MaintenanceWorkflow, workflow_id, status)
    return lambda first: maintenance_batch(state, first)


async def _change_request(
    client: Client, workflow_id: str, status: WorkflowExecutionStatus | None
) -> Cut:
    view = await _result_or_view(client, ChangeRequestWorkflow, workflow_id, status)
    state = change_request.fold(None, view.events)
    return lambda first: change_request_batch(state, first)


async def _oncall(client: Client, workflow_id: str, status: WorkflowExecutionStatus | None) -> Cut:
    booking = await _result_or_view(client, OnCallBookingWorkflow, workflow_id, status)
    handle = client.get_workflow_handle_for(OnCallBookingWorkflow.run, workflow_id)
    # Not in its result: the events are the workflow's, read by a query (a
    # completed booking is replayed by a worker to answer it).
    events = await query_settled(
        lambda: handle.query(OnCallBookingWorkflow.events, rpc_timeout=QUERY_TIMEOUT)
    )
    return lambda first: oncall_batch(booking, events, first)


SOURCES: tuple[tuple[StreamKind, type[Any], Reader], ...] = (
    (StreamKind.INCIDENT, IncidentWorkflow, _incident),
    (StreamKind.MAINTENANCE, MaintenanceWorkflow, _maintenance),
    (StreamKind.CHANGE_REQUEST, ChangeRequestWorkflow, _change_request),
    (StreamKind.ONCALL, OnCallBookingWorkflow, _oncall),
)
"""Every stream the workflows feed, with the workflow it lives in and how to read it."""


async def rebuild_archive(
    client: Client, store: ArchiveStore, *, task_queue: str | None = None
) -> RebuildResult:
    """Append every event of every stream Temporal still has that the archive lacks.

    Then every development ticket the worker's tracker holds.

    Args:
        client: Temporal.
        store: The archive (migrated).
        task_queue: Only workflows on this task queue (``None``: all); the dev
            tickets are read by the worker on this queue (``None``: the
            engine's queue).

    Raises:
        ArchiveError: The archive refused or could not be reached (what was
            appended before stays; running again continues).
    """
    counts = _Counts()
    by_kind: dict[str, int] = {}
    unreadable: list[Unreadable] = []
    for kind, workflow, read in SOURCES:
        found = await listed(
            client, Query.workflows(workflow).on_task_queue(task_queue), REBUILD_LIMIT
        )

        async def one(workflow_id: str, read: Reader = read, found: Any = found) -> str:
            await counts.append_all(store, await read(client, workflow_id, found[workflow_id]))
            return workflow_id

        # A few at a time: each is a query to Temporal and a few writes.
        done, failed = await gather_readable(list(found), one, at_once=4)
        by_kind[kind.value] = len(done)
        unreadable.extend(failed)
    dev_tickets, refused = await _rebuild_dev_tickets(
        client, store, task_queue or names.TASK_QUEUE, counts
    )
    by_kind[StreamKind.DEV_TICKET.value] = dev_tickets
    unreadable.extend(refused)
    return RebuildResult(
        streams=sum(by_kind.values()),
        by_kind=by_kind,
        events_appended=counts.appended,
        events_present=counts.present,
        unreadable=tuple((u.workflow_id, u.reason) for u in _sorted(unreadable)),
    )


async def _rebuild_dev_tickets(
    client: Client, store: ArchiveStore, task_queue: str, counts: _Counts
) -> tuple[int, list[Unreadable]]:
    """Append every dev ticket's events; how many tickets, and those that were not.

    Raises:
        ArchiveError: As :func:`rebuild_archive`.
    """
    try:
        tickets = await read_dev_tickets(client, task_queue=task_queue, timeout=DEV_TICKETS_WAIT)
    except (DevTicketRefused, RPCError) as error:
        return 0, [Unreadable(DEV_TICKETS, f"no worker on {task_queue} read them: {error}")]
    done = 0
    refused: list[Unreadable] = []
    for ticket in tickets:
        try:
            await counts.append_all(store, partial(dev_ticket_batch, ticket))
        except ValidationError as error:  # e.g. an ID a stream ID cannot be
            refused.append(Unreadable(ticket.id, f"not archivable: {error.errors()[0]['msg']}"))
            continue
        done += 1
    return done, refused


def _sorted(unreadable: list[Unreadable]) -> list[Unreadable]:
    return sorted(unreadable, key=lambda u: u.workflow_id)
