"""Where an incident is read from: Temporal while it holds the run, the archive after.

Temporal deletes a closed run after the namespace's retention; the archive
(DESIGN §5) keeps every event and the last view. ``sla show``, ``sla list
--all`` and ``GET /v1/incidents…`` read Temporal first and fall back to the
archive, and every answer says which one it came from (``source``): an
archived incident is final, so an operator knows no command can reach it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from archive.errors import ArchiveError, UnknownStream
from archive.records import ArchivedStream, StreamRecord
from archive.store import ArchiveStore
from domain.archive import StreamKind, readable_after_erasure
from domain.incident import IncidentStatus
from domain.read_model import IncidentSummary, IncidentView
from domain.sla import Severity
from service.archive import open_archive_if_any
from service.incident_list import list_incidents
from service.queries import Unreadable, incident_view

__all__ = [
    "ArchiveOpener",
    "IncidentNotFound",
    "IncidentSource",
    "LocatedSummary",
    "LocatedView",
    "archived_incident_view",
    "find_incident",
    "list_incidents_anywhere",
]

log = logging.getLogger(__name__)

ArchiveOpener = Callable[[], ArchiveStore | None]
"""Opens the archive for reading (default :func:`service.archive.open_archive_if_any`);
it answers ``None`` when there is none yet."""


class IncidentSource(StrEnum):
    """Which system an answer was read from."""

    TEMPORAL = "temporal"
    ARCHIVE = "archive"


class LocatedView(IncidentView):
    """An incident's full view and where it was read.

    Attributes:
        source: Temporal, or the archive.
        erased_at: When the reporter's personal data was erased (archive only);
            the view then shows placeholders for them.
    """

    source: IncidentSource = IncidentSource.TEMPORAL
    erased_at: datetime | None = None


class LocatedSummary(IncidentSummary):
    """An incident at a glance and where it was read."""

    source: IncidentSource = IncidentSource.TEMPORAL


class IncidentNotFound(LookupError):
    """Neither Temporal nor the archive knows the ticket (or the archive could not say).

    Attributes:
        ticket_id: The ticket asked for.
        archive_error: Why the archive could not be read, if that was the case.
    """

    def __init__(self, ticket_id: str, archive_error: str | None = None) -> None:
        detail = f" (the archive could not be read: {archive_error})" if archive_error else ""
        super().__init__(f"unknown ticket {ticket_id}{detail}")
        self.ticket_id = ticket_id
        self.archive_error = archive_error


async def find_incident(
    client: Client, ticket_id: str, *, archive: ArchiveOpener | None = open_archive_if_any
) -> LocatedView:
    """The incident from Temporal, or from the archive once Temporal no longer has it.

    Raises:
        IncidentNotFound: Neither has it, or Temporal has not and the archive
            cannot be read (the message says which).
        RPCError: Temporal failed otherwise (not a NOT_FOUND).
    """
    try:
        view = await incident_view(client, ticket_id)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    else:
        return LocatedView.model_validate({**view.model_dump(), "source": IncidentSource.TEMPORAL})
    if archive is None:
        raise IncidentNotFound(ticket_id)
    try:
        archived = await asyncio.to_thread(_archived_view, archive, ticket_id)
    except ArchiveError as error:
        raise IncidentNotFound(ticket_id, str(error)) from None
    if archived is None:
        raise IncidentNotFound(ticket_id)
    return archived


def _archived_view(archive: ArchiveOpener, ticket_id: str) -> LocatedView | None:
    store = archive()
    if store is None:
        return None
    try:
        stream = store.get(ticket_id)
    except UnknownStream:
        return None
    finally:
        store.close()
    if stream.kind is not StreamKind.INCIDENT:
        return None
    return archived_incident_view(stream)


def archived_incident_view(stream: ArchivedStream) -> LocatedView:
    """An archived incident stream as the view ``sla show`` prints (``source``: archive).

    The archive keeps the view without its events, and each event as a row.
    """
    whole = {**stream.view, "events": [event.payload for event in stream.events]}
    if stream.erased_at is not None:
        whole = readable_after_erasure(whole)
    return LocatedView.model_validate(
        {**whole, "source": IncidentSource.ARCHIVE, "erased_at": stream.erased_at}
    )


async def list_incidents_anywhere(
    client: Client,
    *,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    company: str | None = None,
    breached: bool = False,
    include_resolved: bool = False,
    limit: int = 200,
    archive: ArchiveOpener | None = open_archive_if_any,
) -> tuple[list[LocatedSummary], list[Unreadable], str | None]:
    """:func:`service.incident_list.list_incidents`, plus closed incidents only the archive has.

    The archive is read only when closed incidents are asked for (``--all`` or
    a closed status): an open incident always has its run in Temporal.

    Returns:
        The summaries (Temporal's first, in their order, then the archive's,
        newest first), the workflows that could not be read, and why the
        archive could not be read (``None``: it was, or was not needed).
    """
    summaries, skipped = await list_incidents(
        client,
        status=status,
        severity=severity,
        company=company,
        breached=breached,
        include_resolved=include_resolved,
        limit=limit,
    )
    located = [
        LocatedSummary.model_validate({**s.model_dump(), "source": IncidentSource.TEMPORAL})
        for s in summaries
    ]
    wants_closed = include_resolved or status is IncidentStatus.RESOLVED
    if archive is None or not wants_closed or len(located) >= limit:
        return located, skipped, None
    known = {s.ticket_id for s in located} | {u.workflow_id for u in skipped}
    try:
        records = await asyncio.to_thread(
            _archived_records, archive, status, severity, company, limit
        )
    except ArchiveError as error:
        log.warning("archive not read for the incident list: %s", error)
        return located, skipped, str(error)
    for record in records:
        if record.stream_id in known or len(located) >= limit:
            continue
        summary = LocatedSummary.model_validate(
            {**readable_after_erasure(record.summary), "source": IncidentSource.ARCHIVE}
        )
        if breached and not (summary.reaction_breached or summary.resolution_breached):
            continue
        located.append(summary)
    return located, skipped, None


def _archived_records(
    archive: ArchiveOpener,
    status: IncidentStatus | None,
    severity: Severity | None,
    company: str | None,
    limit: int,
) -> list[StreamRecord]:
    store = archive()
    if store is None:
        return []
    try:
        return store.list(
            kind=StreamKind.INCIDENT,
            status=None if status is None else status.value,
            severity=None if severity is None else severity.value,
            company=company,
            limit=limit,
        )
    finally:
        store.close()
