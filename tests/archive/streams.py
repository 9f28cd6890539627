"""Archive batches for tests: a real incident (domain commands → view JSON), or synthetic streams.

:func:`incident_batches` runs a real lifecycle through ``domain.incident`` and
cuts its events into batches the way a workflow would hand them over (one per
command), each with the view and columns after it, so the archive is tested
on the JSON ``sla show --json`` really prints.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.archive import ArchiveBatch, ArchivedEvent, StreamColumns, StreamKind
from domain.archive_feed import incident_columns
from domain.commands import Acknowledge, ExtendEstimate, OpenIncident, Resolve
from domain.incident import Command, IncidentState, execute
from domain.read_model import build_view
from domain.report import IncidentReport
from domain.sla import Severity, SlaPolicy

POLICY = SlaPolicy.default()
TUESDAY = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
REPORTER = "Erika Mustermann"
EMAIL = "erika.mustermann@beispiel-versand.de"
PHONE = "+49 2131 123456"


def report(**changes: Any) -> IncidentReport:
    data: dict[str, Any] = {
        "company": "Beispiel Versand GmbH",
        "full_name": REPORTER,
        "phone": PHONE,
        "email": EMAIL,
        "description": "Anmeldung nicht möglich, Fehlermeldung 503 im Versandmodul.",
        "first_noticed_at": TUESDAY - timedelta(minutes=18),
        "scope": "all_workstations",
        "reproducible": True,
        "channel": "chat",
        "attachments": ["https://files.example/screenshot-1.png"],
        "login_impossible": True,
    }
    data.update(changes)
    return IncidentReport.model_validate(data)


def batch_of(state: IncidentState, first_seq: int) -> ArchiveBatch:
    """The events of ``state`` from ``first_seq`` on, with the view after them."""
    events = tuple(
        ArchivedEvent(seq=seq, type=e.type, at=e.at, payload=e.model_dump(mode="json"))
        for seq, e in enumerate(state.events)
        if seq >= first_seq
    )
    return ArchiveBatch(
        stream_id=state.ticket_id,
        kind=StreamKind.INCIDENT,
        events=events,
        view=build_view(state).model_dump(mode="json"),
        columns=incident_columns(state),
    )


def incident_batches(
    ticket_id: str = "INC-20261124-7QK2AB",
    *,
    received_at: datetime = TUESDAY,
    resolve: bool = True,
    **report_changes: Any,
) -> list[ArchiveBatch]:
    """A critical incident: reported, acknowledged, extended, (resolved); one batch per command."""
    hour = timedelta(hours=1)
    commands: list[tuple[Command, datetime]] = [
        (
            OpenIncident(
                ticket_id=ticket_id,
                report=report(
                    first_noticed_at=received_at - timedelta(minutes=18), **report_changes
                ),
                received_at=received_at,
                deadlines=POLICY.all_deadlines(received_at),
            ),
            received_at,
        ),
        (
            Acknowledge(
                severity=Severity.CRITICAL, estimate=received_at + 2 * hour, all_users=False
            ),
            received_at + timedelta(minutes=20),
        ),
        (
            ExtendEstimate(
                estimate=received_at + 3 * hour, reason="Ersatzserver für Müller wird eingerichtet"
            ),
            received_at + hour,
        ),
    ]
    if resolve:
        commands.append(
            (
                Resolve(summary="Datenbankserver ersetzt, Grüße an Frau Mustermann"),
                received_at + 2 * hour,
            )
        )
    batches: list[ArchiveBatch] = []
    state: IncidentState | None = None
    for command, at in commands:
        before = 0 if state is None else len(state.events)
        state, _ = execute(state, command, at)
        batches.append(batch_of(state, before))
    return batches


def synthetic_batch(
    stream_id: str,
    *,
    seqs: range = range(1),
    kind: StreamKind = StreamKind.INCIDENT,
    company: str | None = "Beispiel Versand GmbH",
    status: str = "new",
    severity: str | None = "major",
    opened_at: datetime = TUESDAY,
    resolved_at: datetime | None = None,
    reporter_name: str | None = REPORTER,
    text: str = "Etikettendruck langsam",
) -> ArchiveBatch:
    """A small batch with synthetic events (``seqs``) and a view naming its status."""
    events = tuple(
        ArchivedEvent(
            seq=seq,
            type="noted",
            at=opened_at + timedelta(minutes=seq),
            payload={"type": "noted", "seq": seq, "note": f"{text} {seq}"},
        )
        for seq in seqs
    )
    columns = StreamColumns(
        kind=kind,
        stream_id=stream_id,
        company=company,
        status=status,
        severity=severity,
        reporter_name=reporter_name,
        reporter_email=None,
        opened_at=opened_at,
        resolved_at=resolved_at,
        search_text=text,
    )
    view = {
        "ticket_id": stream_id,
        "status": status,
        "severity": severity,
        "received_at": opened_at.isoformat(),
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
        "last": seqs[-1] if seqs else None,
        "events": [e.payload for e in events],
    }
    return ArchiveBatch(stream_id=stream_id, kind=kind, events=events, view=view, columns=columns)
