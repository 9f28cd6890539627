"""What a development ticket hands to the archive: events derived from the tracker's ticket.

A dev ticket has no event stream of its own: the tracker
(:mod:`activities.dev_tickets`) holds the ticket with its status history and
its links. :func:`dev_ticket_events` derives the stream from that: ``created``,
then every status change and every incident link, in the order the tracker
recorded them. The archive keeps each event once by ``(stream_id, seq)``, so
the list must be append-only: a later tracker change may only add events at
its end, never insert one before an event the archive holds already. It is,
because the order is the tracker's own recording order, which it stamps into
``at`` (see :meth:`activities.dev_tickets.DevTicketTracker.transition`: every
change of a ticket is stamped later than the ticket's previous ones). So the
feed sends a ticket's whole list after each change and the archive stores
what is new.

Personal data: a link's contact (the reporter's name and address, stored so
that the reporter hears of the release) stays with the tracker. The archive
gets the incident's ticket ID only; the reporter's data is in the incident's
own stream, where ``sla erase`` finds it. The contact can also be filled in by
a later link, which would change an event the archive holds already.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.archive import BATCH_EVENTS_MAX, ArchiveBatch, StreamColumns, StreamKind
from domain.archive_feed import event_texts, stream_batch
from domain.dev_ticket import (
    DevTicket,
    DevTicketKind,
    DevTicketStatus,
    TransitionSource,
    allowed_transitions,
)

__all__ = [
    "DevTicketCreated",
    "DevTicketEvent",
    "DevTicketIncidentLinked",
    "DevTicketStatusChanged",
    "dev_ticket_batch",
    "dev_ticket_columns",
    "dev_ticket_events",
    "dev_ticket_view",
    "is_final",
]


class DevTicketCreated(BaseModel):
    """The tracker opened the ticket (always the stream's first event).

    Attributes:
        type: ``created``.
        at: The ticket's creation.
        dev_ticket_id: The tracker's ID.
        kind: Feature (change request) or bug.
        title: The one-line title.
        description: The full text.
        company: The customer who asked, if any.
        reference: Where it comes from (change request or incident ID).
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["created"] = "created"
    at: datetime
    dev_ticket_id: str
    kind: DevTicketKind
    title: str
    description: str
    company: str | None = None
    reference: str | None = None


class DevTicketStatusChanged(BaseModel):
    """One status change the tracker recorded.

    Attributes:
        type: ``status_changed``.
        at: When the tracker recorded it.
        previous: The status before.
        status: The status after.
        note: Why (discussion note, decline reason, operator's note).
        release: The planned release or the release shipping a fix.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["status_changed"] = "status_changed"
    at: datetime
    previous: DevTicketStatus
    status: DevTicketStatus
    note: str | None = None
    release: str | None = None


class DevTicketIncidentLinked(BaseModel):
    """An incident was linked to the ticket (its ID only: no contact data).

    Attributes:
        type: ``incident_linked``.
        at: When the tracker recorded the link (a repeated link keeps it).
        ticket_id: The incident's ticket ID.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["incident_linked"] = "incident_linked"
    at: datetime
    ticket_id: str


DevTicketEvent = DevTicketCreated | DevTicketStatusChanged | DevTicketIncidentLinked
"""One event of a dev ticket's archived stream."""

# At the same instant (a ledger written before it stamped every change later
# than the previous one) a status change sorts before a link: a fixed rule, so
# the recorded part of the list never reorders.
_CHANGE, _LINK = 0, 1


def dev_ticket_events(ticket: DevTicket) -> tuple[DevTicketEvent, ...]:
    """The ticket's events, oldest first: created, then its changes and links by time.

    Status changes keep the tracker's order (its history is append-only);
    links are placed among them by their ``at``. Prefix-stable as long as the
    tracker stamps each change of a ticket later than the ticket's earlier
    ones (the local ledger does): the events of a ticket are a prefix of the
    events of the same ticket after further changes.

    Links the tracker reports without a time (``links`` without a ``linked``
    entry, from trackers that keep no link data) are no events; the view
    still names them.
    """
    created = DevTicketCreated(
        at=ticket.created_at,
        dev_ticket_id=ticket.id,
        kind=ticket.kind,
        title=ticket.title,
        description=ticket.description,
        company=ticket.company,
        reference=ticket.reference,
    )
    dated: list[tuple[datetime, int, int, DevTicketEvent]] = [
        (
            change.at,
            _CHANGE,
            index,
            DevTicketStatusChanged(
                at=change.at,
                previous=change.previous,
                status=change.status,
                note=change.note,
                release=change.release,
            ),
        )
        for index, change in enumerate(ticket.history)
    ]
    dated.extend(
        (link.at, _LINK, index, DevTicketIncidentLinked(at=link.at, ticket_id=link.ticket_id))
        for index, link in enumerate(ticket.linked)
    )
    dated.sort(key=lambda item: item[:3])
    return (created, *(event for *_, event in dated))


def is_final(kind: DevTicketKind, status: DevTicketStatus) -> bool:
    """Whether nobody can move a ticket of ``kind`` out of ``status`` any more.

    Taken from the tracker's rule (:func:`~domain.dev_ticket.allowed_transitions`):
    a feature ticket ends planned or declined, a bug ticket released.
    """
    return not any(allowed_transitions(kind, status, source) for source in TransitionSource)


def dev_ticket_view(ticket: DevTicket) -> dict[str, Any]:
    """The ticket as JSON, as the archive's view: without history and contact data.

    The history is the stream's events (rows in the archive); ``linked``
    carries the reporters' contacts, which stay with the tracker (``links``
    names the incidents).
    """
    return ticket.model_dump(mode="json", exclude={"history", "linked"})


def dev_ticket_columns(ticket: DevTicket) -> StreamColumns:
    """The archive's filter and search columns of a dev ticket.

    No reporter (the contacts stay with the tracker); it opens at its creation
    and ends at the change into its final status (:func:`is_final`). The
    search text is the title, the description and the notes of its changes.
    """
    final = is_final(ticket.kind, ticket.status)
    return StreamColumns(
        kind=StreamKind.DEV_TICKET,
        stream_id=ticket.id,
        company=ticket.company or None,
        status=ticket.status.value,
        opened_at=ticket.created_at,
        resolved_at=ticket.last_change_at if final else None,
        search_text=event_texts(ticket.history, (ticket.title, ticket.description)),
    )


def dev_ticket_batch(
    ticket: DevTicket, first: int = 0, limit: int = BATCH_EVENTS_MAX
) -> ArchiveBatch | None:
    """The ticket's events from position ``first`` on, or ``None`` when there are none.

    Args:
        ticket: The ticket as the tracker returned it (after its latest change).
        first: The first event to send (``0``: the whole history, which the
            archive stores only as far as it lacks it).
        limit: At most this many events (a longer history goes in several batches).

    Raises:
        pydantic.ValidationError: The ticket cannot be archived as it is (an ID
            with characters a stream ID refuses, a time without a zone).
    """
    return stream_batch(
        dev_ticket_events(ticket),
        first,
        limit,
        lambda: dev_ticket_view(ticket),
        lambda: dev_ticket_columns(ticket),
    )
