"""What a stream hands to the archive: its new events, its view and the columns.

Pure (workflow code builds it): :func:`stream_batch` cuts the events from a
position on into one :class:`~domain.archive.ArchiveBatch`; each stream's
builder (:func:`incident_batch`, :func:`maintenance_batch`,
:func:`change_request_batch`, :func:`oncall_batch`) adds its view as
its ``show`` command prints it (for an incident without the events, which the
archive keeps as rows: the batch stays small however long the incident runs)
and the columns lists, reports and search filter on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from domain.archive import (
    BATCH_EVENTS_MAX,
    SEARCH_TEXT_MAX,
    ArchiveBatch,
    ArchivedEvent,
    StreamColumns,
    StreamKind,
)
from domain.change_request import ChangeRequestState
from domain.change_request import build_view as change_request_view
from domain.incident import Event, IncidentState
from domain.maintenance import MaintenanceState
from domain.oncall import OnCallBooking
from domain.oncall_events import BookingEvent
from domain.read_model import build_view

__all__ = [
    "TEXT_KEYS",
    "change_request_batch",
    "change_request_columns",
    "event_texts",
    "incident_batch",
    "incident_columns",
    "maintenance_batch",
    "maintenance_columns",
    "oncall_batch",
    "oncall_columns",
    "stream_batch",
    "timeline_text",
]

TEXT_KEYS = ("reason", "summary", "message", "decision", "text", "note", "title")
"""Event fields whose words are worth finding again (reasons, summaries, messages …)."""


def event_texts(events: Iterable[BaseModel], extra: Iterable[str | None] = ()) -> str:
    """The free texts of ``events`` (:data:`TEXT_KEYS`) after ``extra``, one per line.

    Bounded like the archive's column: the newest texts beyond it are not indexed.
    """
    texts = [t for t in extra if t]
    for event in events:
        dumped = event.model_dump(mode="json")
        texts.extend(v for k in TEXT_KEYS if isinstance(v := dumped.get(k), str) and v)
    return "\n".join(texts)[:SEARCH_TEXT_MAX]


def stream_batch(
    events: tuple[BaseModel, ...],
    first: int,
    limit: int,
    view: Callable[[], dict[str, Any]],
    columns: Callable[[], StreamColumns],
) -> ArchiveBatch | None:
    """The events of a stream from position ``first`` on, or ``None`` when there are none.

    At most ``limit`` events (and never more than
    :data:`~domain.archive.BATCH_EVENTS_MAX`): a longer backlog goes in
    several batches. ``view`` and ``columns`` are called only when there is a
    batch (a turn with nothing new builds nothing). Every event model has a
    ``type`` discriminator and an ``at`` instant.
    """
    if first >= len(events):
        return None
    stream = columns()
    return ArchiveBatch(
        stream_id=stream.stream_id,
        kind=stream.kind,
        events=tuple(
            ArchivedEvent(
                seq=seq,
                type=getattr(event, "type"),  # noqa: B009 - every stream's events have one
                at=getattr(event, "at"),  # noqa: B009
                payload=event.model_dump(mode="json"),
            )
            for seq, event in enumerate(
                events[first : first + min(limit, BATCH_EVENTS_MAX)], start=first
            )
        ),
        view=view(),
        columns=stream,
    )


def timeline_text(events: tuple[Event, ...]) -> str:
    """The free texts of the timeline and the report's description, one per line."""
    descriptions = (event.report.description for event in events if event.type == "reported")
    return event_texts(events, descriptions)


def incident_columns(state: IncidentState) -> StreamColumns:
    """The archive's filter and search columns of an incident."""
    report = state.report
    return StreamColumns(
        kind=StreamKind.INCIDENT,
        stream_id=state.ticket_id,
        company=report.company_or_unknown,
        status=state.status.value,
        severity=state.severity.value,
        reporter_name=report.full_name,
        reporter_email=report.email,
        opened_at=state.received_at,
        resolved_at=state.resolved_at,
        search_text=timeline_text(state.events),
    )


def incident_batch(
    state: IncidentState, first: int, limit: int = BATCH_EVENTS_MAX
) -> ArchiveBatch | None:
    """The events of ``state`` from position ``first`` on, or ``None`` when there are none.

    The view is ``sla show --json`` without its events (the archive keeps
    them as rows). At most ``limit`` events: a longer backlog (a run that
    carried many events over continue-as-new before it fed the archive) goes
    in several batches.
    """
    return stream_batch(
        state.events,
        first,
        limit,
        lambda: build_view(state).model_dump(mode="json", exclude={"events"}),
        lambda: incident_columns(state),
    )


def maintenance_columns(state: MaintenanceState) -> StreamColumns:
    """The archive's filter and search columns of a maintenance window.

    No company (a window concerns every customer) and no reporter (the plan
    names no person); it ends when it completes or is cancelled.
    """
    return StreamColumns(
        kind=StreamKind.MAINTENANCE,
        stream_id=state.maintenance_id,
        status=state.status.value,
        opened_at=state.planned_at,
        resolved_at=state.completed_at or state.cancelled_at,
        search_text=event_texts(state.events, (", ".join(state.services), state.message)),
    )


def maintenance_batch(
    state: MaintenanceState, first: int, limit: int = BATCH_EVENTS_MAX
) -> ArchiveBatch | None:
    """The events of a maintenance window from ``first`` on, or ``None`` when there are none.

    The view is the ``view`` query's (``sla maintenance show --json``) without
    its events, as for an incident.
    """
    return stream_batch(
        state.events,
        first,
        limit,
        lambda: state.model_dump(mode="json", exclude={"events"}),
        lambda: maintenance_columns(state),
    )


def change_request_columns(state: ChangeRequestState) -> StreamColumns:
    """The archive's filter and search columns of a change request.

    The requester is the reporter (personal data, erased like an incident's);
    it ends when it is planned or declined.
    """
    request = state.request
    return StreamColumns(
        kind=StreamKind.CHANGE_REQUEST,
        stream_id=state.change_request_id,
        company=request.company,
        status=state.status.value,
        reporter_name=request.full_name,
        reporter_email=request.email,
        opened_at=state.received_at,
        resolved_at=state.closed_at,
        search_text=event_texts(state.events, (request.title, request.description)),
    )


def change_request_batch(
    state: ChangeRequestState, first: int, limit: int = BATCH_EVENTS_MAX
) -> ArchiveBatch | None:
    """The events of a change request from ``first`` on, or ``None`` when there are none.

    The view is the ``view`` query's (``sla change-request show --json``)
    without its events, as for an incident.
    """
    return stream_batch(
        state.events,
        first,
        limit,
        lambda: change_request_view(state).model_dump(mode="json", exclude={"events"}),
        lambda: change_request_columns(state),
    )


def oncall_columns(booking: OnCallBooking, events: tuple[BookingEvent, ...]) -> StreamColumns:
    """The archive's filter and search columns of an on-call booking.

    No reporter (a booking names the company and an operator, not a person
    of the customer's); it ends when it completes or is cancelled.
    """
    return StreamColumns(
        kind=StreamKind.ONCALL,
        stream_id=booking.booking_id,
        company=booking.company,
        status=booking.status.value,
        opened_at=booking.booked_at,
        resolved_at=booking.completed_at or booking.cancelled_at,
        search_text=event_texts(events, (booking.reason, booking.operator)),
    )


def oncall_batch(
    booking: OnCallBooking,
    events: tuple[BookingEvent, ...],
    first: int,
    limit: int = BATCH_EVENTS_MAX,
) -> ArchiveBatch | None:
    """The events of an on-call booking from ``first`` on, or ``None`` when there are none.

    ``events`` are those its workflow recorded (:func:`domain.oncall_events.booking_changes`);
    the view is the ``view`` query's (``sla oncall show --json``).
    """
    return stream_batch(
        events,
        first,
        limit,
        lambda: booking.model_dump(mode="json"),
        lambda: oncall_columns(booking, events),
    )
