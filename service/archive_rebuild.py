"""``sla archive rebuild``: the archive filled from Temporal, for the streams it still retains.

How a new or restored database, or one that missed events (the feed gave up
after an hour-long outage, or a run predates the feed), is filled: every incident workflow
Temporal lists, running or completed, is read (its view carries every event
of every run, as ``sla show --json`` prints it), its state is folded from
those events and appended in the batches
:func:`domain.archive_feed.incident_batch` cuts. The archive stores each
``(stream_id, seq)`` once, so a rebuild can run any number of times and only
adds what was missing; an erased stream stays erased (later appends arrive
erased). It must run before the namespace retention (30 days in compose)
deletes what the archive lacks.

Development tickets have no workflow of their own: their tracker lives with
the worker, which hands every ticket it changes to the archive. The rebuild
reads every ticket through the worker (``ReadDevTicketsWorkflow``, as ``sla
dev-ticket list`` does) and appends each one's derived events
(:func:`domain.dev_ticket_archive.dev_ticket_batch`), so what the feed missed
in an outage arrives here. The tracker keeps its tickets for good: a rebuild
brings every ticket back, however old.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from archive.store import ArchiveStore
from domain.archive import ArchiveBatch
from domain.archive_feed import incident_batch
from domain.dev_ticket_archive import dev_ticket_batch
from domain.incident import fold
from service.dev_tickets import DevTicketRefused, read_dev_tickets
from service.queries import Unreadable, gather_readable, incident_view
from service.visibility import Query, listed
from workflows import names
from workflows.incident import IncidentWorkflow

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
        streams: Incidents read from Temporal and handed to the archive.
        events_appended: Events the archive did not have before (incidents'
            and dev tickets').
        events_present: Events it had already (the feed, or an earlier rebuild).
        unreadable: Workflows whose state could not be read, and why; a dev
            ticket the archive refuses under its ID, and :data:`DEV_TICKETS`
            when the tickets could not be read at all (no worker answered).
        dev_tickets: Development tickets read from the tracker and handed to the archive.
    """

    model_config = ConfigDict(frozen=True)

    streams: int
    events_appended: int
    events_present: int
    unreadable: tuple[tuple[str, str], ...]
    dev_tickets: int = 0


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


async def rebuild_archive(
    client: Client, store: ArchiveStore, *, task_queue: str | None = None
) -> RebuildResult:
    """Append every event of every incident Temporal still has that the archive lacks.

    Then every development ticket the worker's tracker holds.

    Args:
        client: Temporal.
        store: The archive (migrated).
        task_queue: Only incidents on this task queue (``None``: all); the dev
            tickets are read by the worker on this queue (``None``: the
            engine's queue).

    Raises:
        ArchiveError: The archive refused or could not be reached (what was
            appended before stays; running again continues).
    """
    found = await listed(
        client, Query.workflows(IncidentWorkflow).on_task_queue(task_queue), REBUILD_LIMIT
    )
    counts = _Counts()

    async def one(ticket_id: str) -> str:
        view = await incident_view(client, ticket_id, found[ticket_id])
        state = fold(None, view.events)
        first = 0
        while (batch := incident_batch(state, first)) is not None:
            await counts.append(store, batch)
            first = batch.last_seq + 1
        return ticket_id

    # A few at a time: each is a query to Temporal and a few writes.
    done, unreadable = await gather_readable(list(found), one, at_once=4)
    dev_tickets, refused = await _rebuild_dev_tickets(
        client, store, task_queue or names.TASK_QUEUE, counts
    )
    return RebuildResult(
        streams=len(done),
        events_appended=counts.appended,
        events_present=counts.present,
        unreadable=tuple((u.workflow_id, u.reason) for u in _sorted([*unreadable, *refused])),
        dev_tickets=dev_tickets,
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
            first = 0
            while (batch := dev_ticket_batch(ticket, first)) is not None:
                first = max(await counts.append(store, batch), batch.last_seq) + 1
        except ValidationError as error:  # e.g. an ID a stream ID cannot be
            refused.append(Unreadable(ticket.id, f"not archivable: {error.errors()[0]['msg']}"))
            continue
        done += 1
    return done, refused


def _sorted(unreadable: list[Unreadable]) -> list[Unreadable]:
    return sorted(unreadable, key=lambda u: u.workflow_id)
