"""Bugs in the audits and the reporters' bug mails: the rules and the German texts.

The daily audit lists bugs of critical incidents until they are fixed; the
weekly audit lists open bugs and planned change requests from the tracker
beside the running change requests. The reporter's mails (the bug's DEV ID,
the released fix) are rendered the way ``NotifyReportersWorkflow`` sends them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.audit import AuditActivities, CollectRequest
from activities.dev_tickets import LEDGER_FILE, NewDevTicket, SqliteDevTicketTracker
from activities.rendering import MessageRenderer
from domain.audit import (
    DevTicketSummary,
    UnreadableTicket,
    audit_message,
    combine_dev_tickets,
    critical_bugs,
    development_report,
    support_report,
    tracker_dev_tickets,
)
from domain.dev_ticket import (
    DevTicket,
    DevTicketKind,
    DevTicketStatus,
    DevTicketTransition,
    IncidentContact,
    LinkedIncident,
    StatusChange,
    TransitionSource,
    bug_linked_message,
    bug_released_messages,
)
from domain.read_model import IncidentView
from domain.sla import Severity, SlaPolicy
from tests.domain.test_audit import incident
from tests.domain.test_incident import CRITICAL_FACTS, MINOR_FACTS

POLICY = SlaPolicy.default()
RENDERER = MessageRenderer()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)  # Monday 08:30 in Berlin
DAY = date(2026, 11, 30)
ERIKA = IncidentContact(
    email="erika.mustermann@beispiel-versand.de",
    name="Erika Mustermann",
    company="Beispiel Versand GmbH",
    severity=Severity.CRITICAL,
)


def ticket(
    dev: str,
    kind: DevTicketKind = DevTicketKind.BUG,
    status: DevTicketStatus = DevTicketStatus.OPEN,
    *links: tuple[str, Severity | None],
    **changes: Any,
) -> DevTicket:
    history: tuple[StatusChange, ...] = ()
    if status is not DevTicketStatus.OPEN:
        history = (
            StatusChange(at=T0 + timedelta(days=1), previous=DevTicketStatus.OPEN, status=status),
        )
    fields: dict[str, Any] = {"release": None, **changes}
    return DevTicket(
        id=dev,
        key=f"key-{dev}",
        kind=kind,
        title=f"Titel {dev}",
        description="",
        company="Beispiel Versand GmbH",
        reference=None,
        status=status,
        created_at=T0,
        links=tuple(t for t, _ in links),
        history=history,
        linked=tuple(
            LinkedIncident(ticket_id=t, at=T0, contact=IncidentContact(severity=s))
            for t, s in links
        ),
        **fields,
    )


# -- daily: bugs of critical incidents until fixed -----------------------------------------


def test_unfixed_bugs_of_critical_incidents_are_listed_until_fixed() -> None:
    critical, minor = Severity.CRITICAL, Severity.MINOR
    tickets = [
        ticket("DEV-0001", DevTicketKind.BUG, DevTicketStatus.OPEN, ("INC-A", critical)),
        ticket("DEV-0002", DevTicketKind.BUG, DevTicketStatus.IN_PROGRESS, ("INC-B", critical)),
        ticket("DEV-0003", DevTicketKind.BUG, DevTicketStatus.FIXED, ("INC-C", critical)),
        ticket("DEV-0004", DevTicketKind.BUG, DevTicketStatus.RELEASED, ("INC-D", critical)),
        ticket("DEV-0005", DevTicketKind.BUG, DevTicketStatus.OPEN, ("INC-E", minor)),
        ticket("DEV-0006", DevTicketKind.BUG, DevTicketStatus.OPEN, ("INC-F", None)),
        ticket("DEV-0007", DevTicketKind.FEATURE, DevTicketStatus.OPEN, ("INC-G", critical)),
        ticket(
            "DEV-0008",
            DevTicketKind.BUG,
            DevTicketStatus.OPEN,
            ("INC-H", minor),
            ("INC-I", critical),
        ),
    ]
    bugs = critical_bugs(tickets, [])
    assert [(b.dev_ticket, b.incidents) for b in bugs] == [
        ("DEV-0001", ("INC-A",)),
        ("DEV-0002", ("INC-B",)),
        ("DEV-0008", ("INC-I",)),
    ]


def test_an_open_incident_counts_by_its_current_severity() -> None:
    critical_now = incident(T0, **CRITICAL_FACTS).model_copy(update={"ticket_id": "INC-CRIT"})
    minor_now = incident(T0, **MINOR_FACTS).model_copy(update={"ticket_id": "INC-MINOR"})
    assert (critical_now.severity, minor_now.severity) == (Severity.CRITICAL, Severity.MINOR)
    tickets = [
        ticket(
            "DEV-0001",
            DevTicketKind.BUG,
            DevTicketStatus.OPEN,
            (minor_now.ticket_id, Severity.CRITICAL),
        ),
        ticket(
            "DEV-0002",
            DevTicketKind.BUG,
            DevTicketStatus.OPEN,
            (critical_now.ticket_id, Severity.MINOR),
        ),
    ]
    bugs = critical_bugs(tickets, [critical_now, minor_now])
    assert [b.dev_ticket for b in bugs] == ["DEV-0002"]


def daily_text(bugs_of: list[DevTicket], views: list[IncidentView]) -> tuple[str, str]:
    report = support_report(
        "daily-1",
        NOW,
        DAY,
        POLICY,
        views,
        [UnreadableTicket(ticket_id="INC-X", error="kaputt")],
        critical_bugs(bugs_of, views),
    )
    assert report.needs_attention
    return RENDERER.render_message(audit_message(report, POLICY))


def test_the_daily_audit_mail_lists_the_unfixed_bugs_of_critical_incidents() -> None:
    subject, body = daily_text(
        [
            ticket(
                "DEV-0009",
                DevTicketKind.BUG,
                DevTicketStatus.IN_PROGRESS,
                ("INC-20261124-AAAAAA", Severity.CRITICAL),
            )
        ],
        [],
    )
    assert "1 Programmfehler kritischer Störungen offen" in subject
    assert "5. Programmfehler zu kritischen Störungen, noch nicht behoben (1)" in body
    assert (
        "DEV-0009 „Titel DEV-0009“ – in Bearbeitung, erfasst am Montag, 02.11.2026, 10:00 Uhr"
        in body
    )
    assert "kritische Störungen: INC-20261124-AAAAAA" in body
    assert "6. Nicht lesbar (1)" in body


def test_a_daily_audit_without_such_bugs_says_nothing_of_them() -> None:
    report = support_report("daily-2", NOW, DAY, POLICY, [])
    subject, body = RENDERER.render_message(audit_message(report, POLICY))
    assert subject.endswith("keine Auffälligkeiten")
    assert "Programmfehler" not in body


# -- weekly: open bugs and planned change requests ---------------------------------------


def test_the_weekly_audit_takes_open_bugs_and_planned_change_requests_from_the_tracker() -> None:
    tickets = [
        ticket("DEV-0001", DevTicketKind.BUG, DevTicketStatus.OPEN),
        ticket("DEV-0002", DevTicketKind.BUG, DevTicketStatus.FIXED),
        ticket("DEV-0003", DevTicketKind.BUG, DevTicketStatus.RELEASED),
        ticket("DEV-0004", DevTicketKind.FEATURE, DevTicketStatus.PLANNED),
        ticket(
            "DEV-0005", DevTicketKind.FEATURE, DevTicketStatus.IN_DISCUSSION
        ),  # runs: visibility
        ticket("DEV-0006", DevTicketKind.FEATURE, DevTicketStatus.DECLINED),
    ]
    tracked = tracker_dev_tickets(tickets)
    assert [(t.dev_ticket, t.awaiting_release) for t in tracked] == [
        ("DEV-0001", False),
        ("DEV-0002", True),
        ("DEV-0004", True),
    ]
    running = [
        DevTicketSummary(key="CR-1", dev_ticket="DEV-0005", opened_at=T0, last_progress_at=T0),
        DevTicketSummary(key="CR-2", dev_ticket="DEV-0004", opened_at=T0, last_progress_at=T0),
        DevTicketSummary(key="CR-3", opened_at=T0, last_progress_at=T0),  # no ticket yet
    ]
    combined = combine_dev_tickets(running, tracked)
    assert [t.key for t in combined] == [
        "key-DEV-0001",
        "key-DEV-0002",
        "key-DEV-0004",
        "CR-1",
        "CR-3",
    ]

    report = development_report("weekly-1", NOW, DAY, POLICY, combined)
    # Four weeks idle: the open bug and the running change requests stall; what
    # waits for its release (the fixed bug, the planned request) does not.
    assert {t.key for t in report.stalled} == {"key-DEV-0001", "CR-1", "CR-3"}


def test_the_weekly_audit_mail_names_bugs_and_what_awaits_its_release() -> None:
    tracked = tracker_dev_tickets(
        [
            ticket("DEV-0001", DevTicketKind.BUG, DevTicketStatus.IN_PROGRESS),
            ticket("DEV-0002", DevTicketKind.BUG, DevTicketStatus.FIXED),
            ticket("DEV-0004", DevTicketKind.FEATURE, DevTicketStatus.PLANNED),
        ]
    )
    recent = NOW - timedelta(hours=1)
    fresh = [t.model_copy(update={"last_progress_at": recent}) for t in tracked]
    report = development_report("weekly-2", NOW, DAY, POLICY, fresh)
    subject, body = RENDERER.render_message(audit_message(report, POLICY))
    flat = " ".join(body.split())
    assert subject.endswith("keine Auffälligkeiten")
    assert "Offen sind 3 Entwicklungs-Tickets: 2 Programmfehler" in flat
    assert "und 1 Änderungswünsche" in flat
    assert "2. In Arbeit (1)" in body
    assert "DEV-0001 (Programmfehler) – „Titel DEV-0001“, Beispiel Versand GmbH" in body
    assert "Status: in Bearbeitung" in body
    assert "3. Warten auf die Auslieferung" in body
    assert "DEV-0002 (Programmfehler) – „Titel DEV-0002“" in body
    assert "Status: behoben, nicht ausgeliefert" in body
    assert "DEV-0004 (Änderungswunsch, key-DEV-0004) – „Titel DEV-0004“" in body
    assert "Status: eingeplant" in body


async def test_the_audit_activities_read_the_tracker(tmp_path: Path) -> None:
    tracker = SqliteDevTicketTracker(tmp_path / LEDGER_FILE)
    bug = await tracker.create(
        NewDevTicket(key="bug:INC-1", kind=DevTicketKind.BUG, title="Umlaute")
    )
    await tracker.link(bug.id, "INC-20261124-AAAAAA", ERIKA)
    fixed = await tracker.create(
        NewDevTicket(key="bug:INC-2", kind=DevTicketKind.BUG, title="Druck")
    )
    await tracker.link(fixed.id, "INC-20261124-BBBBBB", ERIKA)
    await tracker.transition(
        DevTicketTransition(
            dev_ticket_id=fixed.id,
            status=DevTicketStatus.FIXED,
            key="k",
            by=TransitionSource.OPERATOR,
        )
    )

    class NoWorkflows:
        async def open_incidents(
            self, task_queue: str | None, on_read: Any
        ) -> tuple[list[IncidentView], list[UnreadableTicket]]:
            return [], []

        async def open_dev_tickets(
            self, task_queue: str | None, on_read: Any
        ) -> list[DevTicketSummary]:
            return []

    activities = AuditActivities(NoWorkflows(), tmp_path / "audits", RENDERER, tracker=tracker)
    request = CollectRequest(audit_id="a-1", policy=POLICY, at=NOW, day=DAY)
    env = ActivityEnvironment()
    daily = await env.run(activities.audit_support_tickets, request)
    weekly = await env.run(activities.audit_dev_tickets, request)
    assert [b.dev_ticket for b in daily.bugs] == [bug.id]  # the fixed one is gone
    assert [t.dev_ticket for t in weekly.dev_tickets] == [bug.id, fixed.id]
    without = AuditActivities(NoWorkflows(), tmp_path / "audits", RENDERER)
    assert (await env.run(without.audit_support_tickets, request)).bugs == ()


# -- the reporters' mails ----------------------------------------------------------------


def test_a_resolved_incidents_reporter_reads_the_bug_id_in_german() -> None:
    bug = ticket("DEV-0042")
    message = bug_linked_message(bug, "INC-20261124-AAAAAA", ERIKA, NOW, "Europe/Berlin")
    assert message is not None
    subject, body = RENDERER.render_message(message)
    flat = " ".join(body.split())
    assert subject == "Programmfehler erfasst – Entwicklungs-Ticket DEV-0042 [INC-20261124-AAAAAA]"
    assert body.startswith("Guten Tag Erika Mustermann,")
    assert "einen Programmfehler in myconvento festgestellt" in flat
    assert "unter der ID DEV-0042 („Titel DEV-0042“)" in flat
    assert "Ihre Störungsmeldung ist bereits abgeschlossen" in flat
    assert "Ihre Ticket-ID: INC-20261124-AAAAAA" in body
    assert "Premium-Support" not in body  # the tracker cannot prove the plan


def test_the_release_mail_names_the_release_and_the_local_time() -> None:
    released = ticket(
        "DEV-0042",
        DevTicketKind.BUG,
        DevTicketStatus.RELEASED,
        release="2027.1",
    ).model_copy(
        update={
            "links": ("INC-20261124-AAAAAA",),
            "linked": (LinkedIncident(ticket_id="INC-20261124-AAAAAA", at=T0, contact=ERIKA),),
        }
    )
    (message,) = bug_released_messages(released, NOW, "Europe/Berlin")
    subject, body = RENDERER.render_message(message)
    flat = " ".join(body.split())
    assert (
        subject
        == "Fehlerbehebung ausgeliefert – Entwicklungs-Ticket DEV-0042 [INC-20261124-AAAAAA]"
    )
    assert "der Programmfehler DEV-0042 („Titel DEV-0042“)" in flat
    assert (
        "mit der Version 2027.1 von myconvento ausgeliefert (Montag, 30.11.2026, 08:30 Uhr)" in flat
    )
    for leftover in ("{{", "}}", "None", "Undefined"):
        assert leftover not in subject + body
