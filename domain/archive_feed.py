"""What an incident hands to the archive: its new events, its view and the columns.

Pure (workflow code builds it): :func:`incident_batch` cuts the events from a
position on into one :class:`~domain.archive.ArchiveBatch`, with the view as
``sla show --json`` prints it (without the events, which the archive keeps as
rows: the batch stays small however long the incident runs) and the columns
lists, reports and search filter on.
"""

from __future__ import annotations

from domain.archive import (
    BATCH_EVENTS_MAX,
    SEARCH_TEXT_MAX,
    ArchiveBatch,
    ArchivedEvent,
    StreamColumns,
    StreamKind,
)
from domain.incident import Event, IncidentState
from domain.read_model import build_view

__all__ = ["TEXT_KEYS", "incident_batch", "incident_columns", "timeline_text"]

TEXT_KEYS = ("reason", "summary", "message", "decision", "text", "note", "title")
"""Event fields whose words are worth finding again (reasons, summaries, messages …)."""


def timeline_text(events: tuple[Event, ...]) -> str:
    """The free texts of the timeline and the report's description, one per line."""
    texts: list[str] = []
    for event in events:
        dumped = event.model_dump(mode="json")
        texts.extend(v for k in TEXT_KEYS if isinstance(v := dumped.get(k), str) and v)
        if event.type == "reported":
            texts.append(dumped["report"].get("description") or "")
    # Bounded like the archive's column: the newest texts beyond it are not indexed.
    return "\n".join(t for t in texts if t)[:SEARCH_TEXT_MAX]


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

    At most ``limit`` events (and never more than
    :data:`~domain.archive.BATCH_EVENTS_MAX`): a longer backlog (a run that
    carried many events over continue-as-new before it fed the archive) goes
    in several batches.
    """
    if first >= len(state.events):
        return None
    return ArchiveBatch(
        stream_id=state.ticket_id,
        kind=StreamKind.INCIDENT,
        events=tuple(
            ArchivedEvent(
                seq=seq, type=event.type, at=event.at, payload=event.model_dump(mode="json")
            )
            for seq, event in enumerate(
                state.events[first : first + min(limit, BATCH_EVENTS_MAX)], start=first
            )
        ),
        view=build_view(state).model_dump(mode="json", exclude={"events"}),
        columns=incident_columns(state),
    )
