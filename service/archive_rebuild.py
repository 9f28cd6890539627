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
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client

from archive.store import ArchiveStore
from domain.archive_feed import incident_batch
from domain.incident import fold
from service.queries import Unreadable, gather_readable, incident_view
from service.visibility import Query, listed
from workflows.incident import IncidentWorkflow

__all__ = ["RebuildResult", "rebuild_archive"]

REBUILD_LIMIT = 1_000_000
"""Workflows one rebuild lists at most (far more than a retention period holds)."""


class RebuildResult(BaseModel):
    """What a rebuild did.

    Attributes:
        streams: Incidents read from Temporal and handed to the archive.
        events_appended: Events the archive did not have before.
        events_present: Events it had already (the feed, or an earlier rebuild).
        unreadable: Workflows whose state could not be read, and why.
    """

    model_config = ConfigDict(frozen=True)

    streams: int
    events_appended: int
    events_present: int
    unreadable: tuple[tuple[str, str], ...]


@dataclass
class _Counts:
    appended: int = 0
    present: int = 0


async def rebuild_archive(
    client: Client, store: ArchiveStore, *, task_queue: str | None = None
) -> RebuildResult:
    """Append every event of every incident Temporal still has that the archive lacks.

    Args:
        client: Temporal.
        store: The archive (migrated).
        task_queue: Only incidents on this task queue (``None``: all).

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
            result = await asyncio.to_thread(store.append, batch)
            counts.appended += result.appended
            counts.present += len(batch.events) - result.appended
            first = batch.last_seq + 1
        return ticket_id

    # A few at a time: each is a query to Temporal and a few writes.
    done, unreadable = await gather_readable(list(found), one, at_once=4)
    return RebuildResult(
        streams=len(done),
        events_appended=counts.appended,
        events_present=counts.present,
        unreadable=tuple((u.workflow_id, u.reason) for u in _sorted(unreadable)),
    )


def _sorted(unreadable: list[Unreadable]) -> list[Unreadable]:
    return sorted(unreadable, key=lambda u: u.workflow_id)
