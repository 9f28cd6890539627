"""E-mail rendering, composition and transports, without a Temporal server.

Notifications are built the way the workflow builds them: domain commands are
executed on an incident state and ``notifications_for`` routes each new event.
SMTP is tested against a tiny in-process SMTP server (stdlib asyncio only).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mail import OutboxMailer, SmtpMailer, outbox_name
from activities.notifications import NotificationActivities
from activities.rendering import MessageRenderer
from domain.events import FollowUp
from domain.incident import (
    RULES,
    Acknowledge,
    BreachReaction,
    BreachResolution,
    ClassifyAsChangeRequest,
    Command,
    DeadlineKind,
    DecideResources,
    Escalate,
    EscalatedBy,
    ExtendEstimate,
    IncidentState,
    MissEstimate,
    OpenIncident,
    PageOnDuty,
    PageReason,
    Reclassify,
    RecordAlert,
    RecordChangeRequest,
    RecordCustomerMessage,
    RecordDeliveryFailure,
    RecordDevTicketLink,
    RecordReestimateOverdue,
    RemindFollowUp,
    Reopen,
    Resolve,
    WarnDeadline,
    execute,
    fold,
)
from domain.notifications import MessageKind, Notification, notifications_for
from domain.report import IncidentReport
from domain.sla import Severity, SlaPolicy
from tests.conftest import report

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
TICKET = "INC-20261124-TESTAB"
REPORTER = "erika.mustermann@beispiel-versand.de"
SENDER = "myconvento Support <support@myconvento.com>"
WINTER = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin (CET)


def berlin_text(instant: datetime) -> str:
    """Independent rendering of the expected wall-clock text: ``24.11.2026, 10:00 Uhr``."""
    return f"{instant.astimezone(BERLIN):%d.%m.%Y, %H:%M} Uhr"


def open_incident(received: datetime, **facts: Any) -> IncidentState:
    return open_incident_from(IncidentReport.model_validate(report(**facts)), received)


def open_incident_from(
    incident_report: IncidentReport,
    received: datetime,
    rules: int = 1,
    policy: SlaPolicy = POLICY,
) -> IncidentState:
    pages = policy.critical_pages(received)
    state, _ = execute(
        None,
        OpenIncident(
            ticket_id=TICKET,
            report=incident_report,
            received_at=received,
            deadlines=policy.all_deadlines(received),
            next_opening_page=pages[1] if len(pages) > 1 else None,
            rules=rules,
        ),
        received,
    )
    return state


@dataclass
class Scenario:
    """An incident driven through commands, collecting every notification on the way."""

    state: IncidentState
    notifications: list[Notification] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._route(0)

    def _route(self, start: int) -> None:
        for sequence in range(start, len(self.state.events)):
            self.notifications.extend(notifications_for(self.state, sequence, POLICY))

    def run(self, command: Command, at: datetime) -> None:
        before = len(self.state.events)
        self.state, events = execute(self.state, command, at)
        assert events, command
        self._route(before)

    def of_kind(self, kind: MessageKind) -> Notification:
        found = [n for n in self.notifications if n.kind is kind]
        assert len(found) == 1, (kind, [n.kind for n in self.notifications])
        return found[0]


def full_scenario() -> Scenario:
    """A critical incident that passes through every kind of message."""
    received = WINTER
    scenario = Scenario(open_incident(received, login_impossible=True))
    critical = POLICY.deadlines(Severity.CRITICAL, received)
    minute = timedelta(minutes=1)
    scenario.run(
        PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=received + 30 * minute), received
    )
    scenario.run(WarnDeadline(deadline=DeadlineKind.REACTION), critical.reaction_warning)
    scenario.run(BreachReaction(), critical.reaction_due)
    acked_at = critical.reaction_due + 5 * minute
    first = acked_at + 60 * minute
    scenario.run(Acknowledge(severity=Severity.CRITICAL, estimate=first, all_users=True), acked_at)
    scenario.run(MissEstimate(), first)
    second = first + 90 * minute
    scenario.run(ExtendEstimate(estimate=second, reason="Ersatzserver wird eingerichtet"), first)
    scenario.run(MissEstimate(), second)
    scenario.run(
        Escalate(stage=3, reason="Standardprozess reicht nicht", by=EscalatedBy.COMPANY),
        second + minute,
    )
    scenario.run(DecideResources(decision="Externer Dienstleister"), second + 2 * minute)
    scenario.run(
        Escalate(stage="extended", reason="Kunde bittet um Gespräch", by=EscalatedBy.CUSTOMER),
        second + 3 * minute,
    )
    scenario.run(BreachResolution(), critical.resolution_due)
    after = critical.resolution_due + minute
    scenario.run(Reclassify(severity=Severity.MAJOR, reason="Versand läuft wieder"), after)
    scenario.run(
        RecordDeliveryFailure(
            message_kind="receipt", to=(REPORTER,), error="550 5.1.1 mailbox unavailable"
        ),
        after + minute,
    )
    scenario.run(
        RecordCustomerMessage(
            message_id="<reply-1@beispiel-versand.de>",
            sender=REPORTER,
            subject="AW: Ihre Störungsmeldung",
            text="Seit 10 Uhr geht auch der Druck nicht mehr.",
        ),
        after + minute,
    )
    scenario.run(RecordAlert(status="firing", text="3 Alarme: HostDown"), after + minute)
    scenario.run(RecordAlert(status="resolved", text="HostDown behoben"), after + minute)
    scenario.run(Resolve(summary="Datenbankserver ersetzt"), after + 2 * minute)
    return scenario


def classified_scenario() -> Scenario:
    """A report classified as a change request at acknowledgement (the one message of its own)."""
    received = WINTER
    scenario = Scenario(open_incident(received, login_impossible=False))
    scenario.run(
        ClassifyAsChangeRequest(title="CSV-Export", reason="Der Export fehlt, er ist nicht defekt"),
        received + timedelta(minutes=20),
    )
    scenario.run(
        RecordChangeRequest(change_request_id="CR-20261124-ABCDEF"),
        received + timedelta(minutes=21),
    )
    return scenario


SCENARIO = full_scenario()


def missed_scenario() -> Scenario:
    """Rules 2: an estimate missed, the customer told (the scenario above runs under rules 1)."""
    received = WINTER
    incident_report = IncidentReport.model_validate(report(login_impossible=False))
    scenario = Scenario(open_incident_from(incident_report, received, rules=RULES))
    estimate = received + timedelta(hours=2)
    scenario.run(
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=estimate,
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
        received + timedelta(minutes=20),
    )
    scenario.run(MissEstimate(), estimate)
    return scenario


def follow_up_scenario() -> Scenario:
    """Rules 3: a missed estimate reminded once, then its new estimate overdue."""
    received = WINTER
    incident_report = IncidentReport.model_validate(report(login_impossible=False))
    scenario = Scenario(open_incident_from(incident_report, received, rules=RULES))
    estimate = received + timedelta(hours=2)
    scenario.run(
        Acknowledge(severity=Severity.MAJOR, estimate=estimate), received + timedelta(minutes=20)
    )
    overdue = estimate + timedelta(hours=4)
    scenario.run(MissEstimate(reestimate_due=overdue), estimate)
    reminder = estimate + timedelta(minutes=30)
    scenario.run(
        RemindFollowUp(follow_up=FollowUp.REESTIMATE, after=estimate, due=reminder), reminder
    )
    scenario.run(RecordReestimateOverdue(), overdue)
    return scenario


def bug_linked_scenario(rules: int = RULES) -> Scenario:
    """Rules 4: a bug found while the incident is open; the reporter is told its DEV ID."""
    received = WINTER
    incident_report = IncidentReport.model_validate(report(login_impossible=False))
    scenario = Scenario(open_incident_from(incident_report, received, rules=rules))
    scenario.run(
        RecordDevTicketLink(dev_ticket_id="DEV-0042", title="Export bricht bei Umlauten ab"),
        received + timedelta(minutes=30),
    )
    return scenario


def reopened_scenario() -> Scenario:
    """Resolved, then reopened the next day: the customer and the team are told."""
    received = WINTER
    incident_report = IncidentReport.model_validate(report(login_impossible=False))
    scenario = Scenario(open_incident_from(incident_report, received, rules=RULES))
    scenario.run(Resolve(summary="Index neu aufgebaut"), received + timedelta(hours=1))
    reopen_at = received + timedelta(days=1)
    scenario.run(
        Reopen(
            reason="Der Fehler tritt erneut auf.",
            by="ops",
            deadlines=POLICY.all_deadlines(reopen_at),
            window_end=reopen_at + timedelta(days=10),
        ),
        reopen_at,
    )
    return scenario


CLASSIFIED = classified_scenario()
REOPENED = reopened_scenario()
MISSED = missed_scenario()
FOLLOWED_UP = follow_up_scenario()
BUG_LINKED = bug_linked_scenario()
OWN_SCENARIO = {
    MessageKind.CLASSIFIED_AS_CHANGE_REQUEST: CLASSIFIED,
    MessageKind.ESTIMATE_MISSED: MISSED,
    MessageKind.FOLLOW_UP_REMINDER: FOLLOWED_UP,
    MessageKind.REESTIMATE_OVERDUE: FOLLOWED_UP,
    MessageKind.BUG_LINKED: BUG_LINKED,
    MessageKind.REOPENED: REOPENED,
    MessageKind.REOPENED_TEAM: REOPENED,
}


def notification_of(kind: MessageKind) -> Notification:
    """The one notification of ``kind`` from the scenario that produces it."""
    return OWN_SCENARIO.get(kind, SCENARIO).of_kind(kind)


RENDERER = MessageRenderer()


def composer(directory: Path | None = None) -> NotificationActivities:
    return NotificationActivities(OutboxMailer(directory or Path("unused")), RENDERER, SENDER)


# German subject fragment per kind (from the SLA's vocabulary).
SUBJECTS: dict[MessageKind, str] = {
    MessageKind.RECEIPT: "Ihre Störungsmeldung ist eingegangen",
    MessageKind.ACKNOWLEDGEMENT: "Bestätigung Ihrer Störungsmeldung: kritisch",
    MessageKind.RECLASSIFICATION: "Neue Klassifizierung Ihrer Störungsmeldung: wesentlich",
    MessageKind.EXTENSION: "Neue Störungsbehebungszeit",
    MessageKind.NEW_ESTIMATE_REQUIRED: "Eskalationsstufe 1",
    MessageKind.STAGE_2: "Eskalationsstufe 2",
    MessageKind.MANAGEMENT_ESCALATION: "Eskalationsstufe 3",
    MessageKind.EXTENDED_ESCALATION: "Erweiterter Eskalationsprozess",
    MessageKind.RESOURCES_DECIDED: "Entscheidung der Geschäftsführung",
    MessageKind.DEADLINE_WARNING: "Frist bald erreicht: Reaktion",
    MessageKind.REACTION_BREACH: "Reaktionszeit überschritten",
    MessageKind.RESOLUTION_BREACH: "Störungsbehebungszeit überschritten",
    MessageKind.ON_DUTY_PAGE: "KRITISCHE STÖRUNG",
    MessageKind.RESOLUTION: "Störung behoben",
    MessageKind.DELIVERY_FAILED: "Zustellung fehlgeschlagen",
    MessageKind.CLASSIFIED_AS_CHANGE_REQUEST: "als Änderungswunsch erfasst – CR-20261124-ABCDEF",
    MessageKind.CUSTOMER_MESSAGE: "Nachricht des Kunden: Beispiel Versand GmbH",
    MessageKind.ESTIMATE_MISSED: "Störungsbehebung verzögert sich – neue Zeitabschätzung folgt",
    MessageKind.ALERT_RESOLVED: "Alarm behoben – bitte prüfen",
    MessageKind.FOLLOW_UP_REMINDER: "Erinnerung: neue Zeitabschätzung fällig",
    MessageKind.REESTIMATE_OVERDUE: "Neue Zeitabschätzung überfällig",
    MessageKind.BUG_LINKED: "Programmfehler erfasst – Entwicklungs-Ticket DEV-0042",
    MessageKind.REOPENED: "Ihre Störungsmeldung wurde wieder eröffnet",
    MessageKind.REOPENED_TEAM: "Wieder eröffnet: Beispiel Versand GmbH",
}
CUSTOMER_KINDS = {
    MessageKind.ESTIMATE_MISSED,
    MessageKind.RECEIPT,
    MessageKind.ACKNOWLEDGEMENT,
    MessageKind.RECLASSIFICATION,
    MessageKind.EXTENSION,
    MessageKind.STAGE_2,
    MessageKind.EXTENDED_ESCALATION,
    MessageKind.RESOLUTION,
    MessageKind.CLASSIFIED_AS_CHANGE_REQUEST,
    MessageKind.BUG_LINKED,
    MessageKind.REOPENED,
}


def test_the_scenarios_produce_every_message_kind_once() -> None:
    kinds = [n.kind for n in SCENARIO.notifications]
    assert sorted(kinds) == sorted(set(MessageKind) - set(OWN_SCENARIO))
    classified = [n.kind for n in CLASSIFIED.notifications]
    assert classified == [MessageKind.RECEIPT, MessageKind.CLASSIFIED_AS_CHANGE_REQUEST]


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_message_kind_renders_a_german_subject_and_body(kind: MessageKind) -> None:
    notification = notification_of(kind)
    subject, body = RENDERER.render(notification)

    assert SUBJECTS[kind] in subject
    assert subject.endswith(f"[{TICKET}]")
    assert "\n" not in subject
    assert body.strip()
    assert TICKET in body
    for leftover in ("{{", "}}", "{%", "None", "Undefined"):
        assert leftover not in subject + body, leftover
    if kind in CUSTOMER_KINDS:
        assert body.startswith("Guten Tag Erika Mustermann,")
        assert "Mit freundlichen Grüßen" in body
    else:
        assert "Kunde:         Beispiel Versand GmbH" in body
        assert "Reaktion bis:" in body and "Uhr" in body


def test_the_reporter_is_told_the_bug_id_under_rules_4_only() -> None:
    notification = BUG_LINKED.of_kind(MessageKind.BUG_LINKED)
    assert notification.to == (REPORTER,)
    assert notification.message_id == f"<{TICKET}.DEV-0042.bug_linked@sla.myconvento.com>"
    subject, body = RENDERER.render(notification)
    assert subject == f"Programmfehler erfasst – Entwicklungs-Ticket DEV-0042 [{TICKET}]"
    assert "unter der ID DEV-0042 („Export bricht bei Umlauten ab“)" in " ".join(body.split())
    assert "Ihre Störungsmeldung bearbeiten wir unabhängig davon weiter" in body
    assert "Sobald sie ausgeliefert ist, informieren wir Sie erneut." in body
    # Incidents opened under rules 3 replay as recorded: the link mails nobody.
    assert bug_linked_scenario(rules=3).notifications[1:] == []


def test_message_texts_carry_the_facts_of_their_event() -> None:
    def body(kind: MessageKind) -> str:
        return RENDERER.render(SCENARIO.of_kind(kind))[1]

    assert "Ersatzserver wird eingerichtet" in body(MessageKind.EXTENSION)
    assert "Externer Dienstleister" in body(MessageKind.RESOURCES_DECIDED)
    assert "Datenbankserver ersetzt" in body(MessageKind.RESOLUTION)
    classified = RENDERER.render(notification_of(MessageKind.CLASSIFIED_AS_CHANGE_REQUEST))[1]
    assert "Der Export fehlt, er ist nicht defekt" in classified
    assert "„CSV-Export“" in classified and "CR-20261124-ABCDEF" in classified
    assert "Entwicklungs-Ticket" in classified
    assert "mailbox unavailable" in body(MessageKind.DELIVERY_FAILED)
    assert "auf Wunsch des Kunden" in body(MessageKind.EXTENDED_ESCALATION)
    assert "kritisch → wesentlich" in body(MessageKind.RECLASSIFICATION)
    management = body(MessageKind.MANAGEMENT_ESCALATION)
    timeline = management.split("Verlauf:", 1)[1]
    assert "Störungsmeldung eingegangen" in timeline
    assert "Reaktionszeit überschritten" in timeline
    assert "Eskaliert – Standardprozess reicht nicht" in timeline


def test_recipients_follow_the_routing_rules() -> None:
    contacts = POLICY.contacts
    assert SCENARIO.of_kind(MessageKind.RECEIPT).to == (REPORTER,)
    assert SCENARIO.of_kind(MessageKind.ON_DUTY_PAGE).to == (contacts.on_duty,)
    stage_2 = set(SCENARIO.of_kind(MessageKind.STAGE_2).to)
    assert {REPORTER, "it@beispiel-versand.de", contacts.experts} <= stage_2
    assert contacts.management in SCENARIO.of_kind(MessageKind.MANAGEMENT_ESCALATION).to
    assert SCENARIO.of_kind(MessageKind.DELIVERY_FAILED).to == (contacts.support_lead,)


@pytest.mark.parametrize(
    ("received", "shown"),
    [
        (WINTER, "Dienstag, 24.11.2026, 10:00 Uhr"),  # CET, UTC+1
        (datetime(2026, 7, 14, 8, 0, tzinfo=UTC), "Dienstag, 14.07.2026, 10:00 Uhr"),  # CEST
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Sonntag, 29.03.2026, 03:30 Uhr"),  # DST day
    ],
    ids=["winter", "summer", "dst-switch"],
)
def test_times_are_shown_in_berlin_wall_clock_time(received: datetime, shown: str) -> None:
    scenario = Scenario(open_incident(received, login_impossible=True))
    receipt = scenario.of_kind(MessageKind.RECEIPT)
    _, body = RENDERER.render(receipt)
    assert f"am {shown} erhalten" in body
    reaction_due = POLICY.reaction_due(Severity.CRITICAL, received)
    assert berlin_text(reaction_due) in body
    # The message carries the instant in UTC; only the text is local.
    assert receipt.facts.timezone == "Europe/Berlin"


def test_compose_is_deterministic_for_identical_notifications() -> None:
    notification = SCENARIO.of_kind(MessageKind.ACKNOWLEDGEMENT)
    first = composer().compose(notification)
    second = composer().compose(notification)
    assert bytes(first) == bytes(second)

    # The same event routed again from a state rebuilt from the events (as after
    # a workflow replay or retry) gives the same message, byte for byte.
    sequence = next(i for i, e in enumerate(SCENARIO.state.events) if e.type == "acknowledged")
    rebuilt = fold(None, SCENARIO.state.events[: sequence + 1])
    routed = notifications_for(rebuilt, sequence, POLICY)
    assert [n.message_id for n in routed] == [notification.message_id]

    assert notification.message_id == f"<{TICKET}.{sequence}.acknowledgement@sla.myconvento.com>"
    assert first["Message-ID"] == notification.message_id
    assert first["X-SLA-Kind"] == "acknowledgement"
    assert first["X-SLA-Ticket"] == TICKET
    assert first["From"] == SENDER
    assert first["To"] == REPORTER


def test_message_ids_are_unique_per_event() -> None:
    ids = [n.message_id for n in SCENARIO.notifications]
    assert len(set(ids)) == len(ids)
    for n in SCENARIO.notifications:
        assert re.fullmatch(rf"<{TICKET}\.\d+\.{n.kind.value}@sla\.myconvento\.com>", n.message_id)


def test_composed_message_survives_a_round_trip_as_utf8_text() -> None:
    notification = SCENARIO.of_kind(MessageKind.EXTENSION)
    subject, body = RENDERER.render(notification)
    message = composer().compose(notification)
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert parsed["Subject"] == subject
    content = parsed.get_body(preferencelist=("plain",))
    assert content is not None
    assert content.get_content() == body
    assert content.get_content_charset() == "utf-8"


async def test_send_notification_activity_writes_the_message_to_the_outbox(
    tmp_path: Path,
) -> None:
    notification = SCENARIO.of_kind(MessageKind.RECEIPT)
    activities = composer(tmp_path)
    report = await ActivityEnvironment().run(activities.send_notification, notification)
    path = Path(report.where)
    assert path == tmp_path / f"{TICKET}.0.receipt.eml"
    assert path.read_bytes() == bytes(activities.compose(notification))


# -- outbox ----------------------------------------------------------------------


def test_outbox_file_name_comes_from_the_message_id() -> None:
    assert outbox_name("<INC-1.3.receipt@host>") == "INC-1.3.receipt.eml"
    assert outbox_name("<weird/../id 1@host>") == "weird_.._id_1.eml"


async def test_outbox_writes_one_file_per_message_id_and_a_resend_replaces_it(
    tmp_path: Path,
) -> None:
    mailer = OutboxMailer(tmp_path / "outbox")
    notification = SCENARIO.of_kind(MessageKind.STAGE_2)
    message = composer().compose(notification)
    sequence = notification.message_id.strip("<>").split(".")[1]

    path = Path((await mailer.send(message)).where)
    assert path.name == f"{TICKET}.{sequence}.stage_2.eml"
    assert path.read_bytes() == bytes(message)
    inode = path.stat().st_ino

    changed = composer().compose(notification)
    changed.replace_header("Subject", "geändert")
    assert Path((await mailer.send(changed)).where) == path
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    assert path.read_bytes() == bytes(changed)
    # Replaced by rename (a new file), not rewritten in place: readers never see half a file.
    assert path.stat().st_ino != inode


async def test_outbox_write_that_fails_midway_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer = OutboxMailer(tmp_path)
    notification = SCENARIO.of_kind(MessageKind.RESOLUTION)
    original = composer().compose(notification)
    path = Path((await mailer.send(original)).where)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("activities.files.os.fsync", disk_full)
    changed = composer().compose(notification)
    changed.replace_header("Subject", "geändert")
    with pytest.raises(OSError, match="No space left"):
        await mailer.send(changed)
    monkeypatch.undo()

    assert path.read_bytes() == bytes(original)
    assert sorted(os.listdir(tmp_path)) == [path.name]


# -- SMTP ------------------------------------------------------------------------


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSmtpServer:
    """Speaks just enough SMTP; answers RCPT for refused addresses with their code."""

    refuse: dict[str, int] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(text: str) -> None:
            writer.write(text.encode("ascii") + b"\r\n")

        sender, recipients = "", list[str]()
        reply("220 fake.smtp.test ESMTP ready")
        try:
            while line := await reader.readline():
                command = line.decode("ascii").rstrip("\r\n")
                self.commands.append(command)
                verb = command.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    reply("250-fake.smtp.test")
                    reply("250 8BITMIME")
                elif verb == "HELO":
                    reply("250 fake.smtp.test")
                elif verb == "MAIL":
                    sender, recipients = _address(command), []
                    reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    address = _address(command)
                    code = next((c for a, c in self.refuse.items() if a in address), None)
                    if code is None:
                        recipients.append(address)
                        reply("250 2.1.5 OK")
                    else:
                        reply(f"{code} {code // 100}.1.1 <{address}>: mailbox unavailable")
                elif verb == "DATA":
                    if not recipients:
                        reply("554 5.5.1 no valid recipients")
                        continue
                    reply("354 end data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (chunk := await reader.readline()) != b".\r\n":
                        lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    self.deliveries.append(Delivery(sender, recipients, b"".join(lines)))
                    reply("250 2.0.0 queued")
                elif verb in ("RSET", "NOOP"):
                    reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    reply("221 2.0.0 bye")
                    await writer.drain()
                    break
                else:
                    reply("502 5.5.2 command not implemented")
                await writer.drain()
        finally:
            writer.close()


def _address(command: str) -> str:
    match = re.search(r"<([^>]*)>", command)
    assert match, command
    return match.group(1)


@pytest.fixture
async def smtp_server() -> AsyncIterator[FakeSmtpServer]:
    fake = FakeSmtpServer()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    async with server:
        yield fake


def compose_to(kind: MessageKind, to: Sequence[str] | None = None) -> EmailMessage:
    message = composer().compose(SCENARIO.of_kind(kind))
    if to is not None:
        message.replace_header("To", ", ".join(to))
    return message


async def test_smtp_mailer_delivers_the_message(smtp_server: FakeSmtpServer) -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_server.port, timeout=5)
    message = compose_to(MessageKind.STAGE_2)

    report = await mailer.send(message)

    assert report.where == f"smtp://127.0.0.1:{smtp_server.port}"
    assert report.refused == {}
    (delivery,) = smtp_server.deliveries
    assert delivery.sender == "support@myconvento.com"
    assert set(delivery.recipients) == set(SCENARIO.of_kind(MessageKind.STAGE_2).to)
    received = message_from_bytes(delivery.data, policy=policy.default)
    assert received["Message-ID"] == message["Message-ID"]
    # Long subjects are folded on the wire; unfolded they are the same text.
    assert str(received["Subject"]).strip() == str(message["Subject"])
    assert received["X-SLA-Kind"] == "stage_2"
    assert any(c.upper().startswith("QUIT") for c in smtp_server.commands)


async def test_smtp_550_for_the_recipient_is_a_permanent_failure(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.refuse = {"bad@": 550}
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_server.port, timeout=5)

    with pytest.raises(ApplicationError) as info:
        await mailer.send(compose_to(MessageKind.RECEIPT, ["bad@beispiel-versand.de"]))

    assert info.value.type == "PermanentDeliveryError"
    assert info.value.non_retryable is True
    assert "bad@beispiel-versand.de" in info.value.message
    assert smtp_server.deliveries == []


async def test_smtp_temporary_refusal_is_left_to_retry(smtp_server: FakeSmtpServer) -> None:
    smtp_server.refuse = {"busy@": 450}
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_server.port, timeout=5)

    with pytest.raises(Exception) as info:
        await mailer.send(compose_to(MessageKind.RECEIPT, ["busy@beispiel-versand.de"]))

    error = info.value
    assert not (isinstance(error, ApplicationError) and error.non_retryable), error


async def test_smtp_refused_connection_is_a_retryable_error() -> None:
    with socket.socket() as probe:  # a port on which nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)

    with pytest.raises(OSError) as info:
        await mailer.send(compose_to(MessageKind.RECEIPT))

    assert not isinstance(info.value, ApplicationError)


async def test_smtp_550_for_one_of_several_recipients_is_reported_not_dropped(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.refuse = {"bad@": 550}
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_server.port, timeout=5)
    message = compose_to(
        MessageKind.STAGE_2, ["bad@beispiel-versand.de", "experten@myconvento.com"]
    )

    report = await mailer.send(message)

    # The accepted recipient has the message: no retry; the refused one is reported.
    assert list(report.refused) == ["bad@beispiel-versand.de"]
    assert report.refused["bad@beispiel-versand.de"].startswith("550")
    (delivery,) = smtp_server.deliveries
    assert delivery.recipients == ["experten@myconvento.com"]


def test_every_event_type_has_a_german_timeline_label() -> None:
    from activities.rendering import event_de
    from domain.timeline_words import event_types

    # The mails' labels come from domain.timeline_words (tested there in both languages).
    assert [t for t in sorted(event_types()) if event_de(t) == t] == []


def test_a_message_that_cannot_be_composed_fails_permanently_not_forever() -> None:
    # An estimate far beyond any calendar, as histories recorded before intake
    # bounded dates may hold: the template's date arithmetic overflows. Before,
    # that raised OverflowError on every retry and held back every effect behind it.
    acknowledgement = notification_of(MessageKind.ACKNOWLEDGEMENT)
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    event = acknowledgement.event.model_copy(update={"estimate": far})
    broken = acknowledgement.model_copy(update={"event": event})
    with pytest.raises(ApplicationError) as info:
        composer().compose(broken)
    assert info.value.non_retryable
    assert info.value.type == "MessageNotComposable"
    assert "cannot be composed" in info.value.message


async def test_a_poison_address_is_a_permanent_delivery_failure(tmp_path: Path) -> None:
    receipt = notification_of(MessageKind.RECEIPT)
    poisoned = receipt.model_copy(update={"to": ("=?utf-8?q?x=0D=0A?=@example.de",)})
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(composer(tmp_path).send_notification, poisoned)
    assert info.value.non_retryable


def test_an_encoded_word_in_customer_text_cannot_add_a_header() -> None:
    # Refused at intake now; recorded incidents may still carry it.
    page = notification_of(MessageKind.ON_DUTY_PAGE)
    facts = page.facts.model_copy(update={"company": "=?utf-8?q?Evil=0D=0AX-Injected:_yes?="})
    message = composer().compose(page.model_copy(update={"facts": facts}))
    assert message["X-Injected"] is None
    assert message["X-SLA-Kind"] == "on_duty_page"
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])


def test_the_receipt_asks_for_exactly_the_missing_items_and_how_to_send_them() -> None:
    data = report(login_impossible=False)
    for item in ("full_name", "phone", "scope"):
        del data[item]
    scenario = Scenario(open_incident_from(IncidentReport.model_validate(data), WINTER))
    subject, body = RENDERER.render(scenario.of_kind(MessageKind.RECEIPT))
    assert subject.startswith("Ihre Störungsmeldung ist eingegangen")
    assert body.startswith("Guten Tag,")  # no name to address
    assert "fehlen uns noch" in body
    asked = [line[2:] for line in body.splitlines() if line.startswith("- ")]
    assert asked == [
        "Ihr vollständiger Name (Vor- und Nachname)",
        "Ihre Telefonnummer",
        "Tritt der Fehler an allen Arbeitsplätzen auf oder nur vereinzelt?",
    ]
    assert "antworten Sie einfach auf diese E-Mail" in body
    complete = RENDERER.render(SCENARIO.of_kind(MessageKind.RECEIPT))[1]
    assert "fehlen uns noch" not in complete


def test_a_critical_report_by_mail_alone_is_told_to_use_chat_or_phone() -> None:
    by_mail = IncidentReport.model_validate(report(login_impossible=True, channel="email"))
    body = RENDERER.render(
        Scenario(open_incident_from(by_mail, WINTER)).of_kind(MessageKind.RECEIPT)
    )[1]
    assert "nicht allein auf die E-Mail" in body
    assert (
        "nicht allein auf die E-Mail"
        not in RENDERER.render(SCENARIO.of_kind(MessageKind.RECEIPT))[1]
    )  # the scenario's report came by chat
    minor = IncidentReport.model_validate(report(login_impossible=False, channel="email"))
    minor_body = RENDERER.render(
        Scenario(open_incident_from(minor, WINTER)).of_kind(MessageKind.RECEIPT)
    )[1]
    assert "nicht allein auf die E-Mail" not in minor_body


def test_a_phone_report_without_an_address_sends_the_customer_nothing_and_pages_on_duty() -> None:
    data = report(login_impossible=True, channel="phone")
    del data["email"]
    state = open_incident_from(IncidentReport.model_validate(data), WINTER)
    scenario = Scenario(state)
    scenario.run(PageOnDuty(reason=PageReason.RECEIVED), WINTER)
    kinds = [n.kind for n in scenario.notifications]
    assert kinds == [MessageKind.ON_DUTY_PAGE]
    page = RENDERER.render(scenario.notifications[0])[1]
    assert "(keine E-Mail), +49" in page
    assert "Fehlende Angaben: email" in page


def test_the_on_duty_page_carries_the_whole_report() -> None:
    page = RENDERER.render(SCENARIO.of_kind(MessageKind.ON_DUTY_PAGE))[1]
    assert "Betroffen:     alle Arbeitsplätze" in page
    assert "Reproduzierbar: ja" in page
    assert (
        f"Zuerst bemerkt: Dienstag, {berlin_text(datetime(2026, 11, 24, 8, 12, tzinfo=UTC))}"
        in page
    )
    assert "https://files.example/screenshot-1.png" in page
    assert "Fehlende Angaben" not in page


def test_a_missed_estimate_is_told_in_german_with_the_time_that_passed() -> None:
    body = RENDERER.render(MISSED.of_kind(MessageKind.ESTIMATE_MISSED))[1]
    missed_at = berlin_text(WINTER + timedelta(hours=2))
    assert f"leider konnten wir die Störung nicht wie angekündigt bis Dienstag, {missed_at}" in body
    assert "schätzen die Störungsbehebungszeit jetzt neu" in body
    assert "Eskalationsstufe 1" in body or "Stufe 1" in body


def test_customer_mails_that_mention_the_status_page_name_its_address() -> None:
    acknowledgement = RENDERER.render(SCENARIO.of_kind(MessageKind.ACKNOWLEDGEMENT))[1]
    assert "unserer Störungsseite: http://stoerung.convento.de" in acknowledgement
    missed = RENDERER.render(MISSED.of_kind(MessageKind.ESTIMATE_MISSED))[1]
    assert "Störungsseite: http://stoerung.convento.de" in missed


def _scenario_times() -> tuple[datetime, datetime]:
    """The scenario's first and second estimate (as ``full_scenario`` sets them)."""
    critical = POLICY.deadlines(Severity.CRITICAL, WINTER)
    first = critical.reaction_due + timedelta(minutes=5) + timedelta(minutes=60)
    return first, first + timedelta(minutes=90)


def test_a_late_extension_says_the_time_could_not_be_kept() -> None:
    first, _ = _scenario_times()
    body = " ".join(RENDERER.render(SCENARIO.of_kind(MessageKind.EXTENSION))[1].split())
    expected = (
        "leider konnten wir die Störung nicht wie angekündigt bis "
        f"Dienstag, {berlin_text(first)} beheben."
    )
    assert expected in body


def test_the_stage_2_mail_names_the_estimate_that_was_missed() -> None:
    _, second = _scenario_times()
    body = " ".join(RENDERER.render(SCENARIO.of_kind(MessageKind.STAGE_2))[1].split())
    assert f"verlängerte Störungsbehebungszeit (Dienstag, {berlin_text(second)})" in body


def test_no_english_reason_and_no_internal_event_reaches_a_mail() -> None:
    management = RENDERER.render(SCENARIO.of_kind(MessageKind.MANAGEMENT_ESCALATION))[1]
    assert "ohne Behebung verstrichen" in management
    assert "communicated" not in management and "classified at" not in management
    extended = SCENARIO.of_kind(MessageKind.EXTENDED_ESCALATION)
    shown = {event.type for event in extended.timeline}
    assert not shown & {"on_duty_paged", "deadline_warned", "reaction_breached", "delivery_failed"}
    assert {"reported", "acknowledged", "escalated"} <= shown
    body = RENDERER.render(extended)[1]
    assert "Bereitschaft alarmiert" not in body and "Warnung" not in body


def test_follow_up_mails_name_the_step_the_time_and_the_command() -> None:
    reminder = RENDERER.render(FOLLOWED_UP.of_kind(MessageKind.FOLLOW_UP_REMINDER))[1]
    miss = FOLLOWED_UP.of_kind(MessageKind.FOLLOW_UP_REMINDER).event.since  # type: ignore[union-attr]
    assert f"seit Dienstag, {berlin_text(miss)} verstrichen" in reminder.replace("\n", " ")
    assert f"sla extend {TICKET} --until" in reminder
    overdue = RENDERER.render(FOLLOWED_UP.of_kind(MessageKind.REESTIMATE_OVERDUE))[1]
    assert "im SLA-Bericht ausgewiesen" in overdue
    assert berlin_text(miss + timedelta(hours=4)) in overdue


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (FollowUp.STATUS_UPDATE, ("Zwischenstand", "sla status-update")),
        (FollowUp.DISCUSSION, ("mit dem Kunden besprochen", "sla record-discussion")),
        (FollowUp.DECISION, ("Geschäftsführung", "sla decide")),
        (FollowUp.CRITICAL_OPEN, ("kritische Störung ist seit", "noch nicht")),
    ],
)
def test_every_follow_up_reminder_reads_in_german(kind: FollowUp, words: tuple[str, ...]) -> None:
    base = FOLLOWED_UP.of_kind(MessageKind.FOLLOW_UP_REMINDER)
    event = base.event.model_copy(update={"kind": kind})
    subject, body = RENDERER.render(base.model_copy(update={"event": event}))
    assert subject.startswith("Erinnerung: ") and subject.endswith(f"[{TICKET}]")
    flat = " ".join(body.split())
    for word in words:
        assert word in flat, word


def test_an_estimate_beyond_the_deadline_is_explained_to_the_customer() -> None:
    incident_report = IncidentReport.model_validate(report(login_impossible=True))
    scenario = Scenario(open_incident_from(incident_report, WINTER, rules=RULES))
    due = scenario.state.resolution_due
    scenario.run(
        Acknowledge(
            severity=Severity.CRITICAL,
            estimate=due + timedelta(hours=2),
            estimate_reason="Das Ersatzteil wird erst morgen geliefert.",
        ),
        WINTER + timedelta(minutes=5),
    )
    body = " ".join(RENDERER.render(scenario.of_kind(MessageKind.ACKNOWLEDGEMENT))[1].split())
    assert (
        f"nach der im SLA vereinbarten Störungsbehebungszeit (Dienstag, {berlin_text(due)})" in body
    )
    assert "Begründung: Das Ersatzteil wird erst morgen geliefert." in body


def test_a_reclassification_with_a_new_estimate_tells_it() -> None:
    incident_report = IncidentReport.model_validate(report(login_impossible=False))
    scenario = Scenario(open_incident_from(incident_report, WINTER, rules=RULES))
    scenario.run(
        Acknowledge(severity=Severity.MAJOR, estimate=WINTER + timedelta(hours=30)),
        WINTER + timedelta(minutes=5),
    )
    new = scenario.state.deadlines[Severity.CRITICAL].resolution_due - timedelta(minutes=30)
    scenario.run(
        Reclassify(severity=Severity.CRITICAL, reason="Versand steht", estimate=new),
        WINTER + timedelta(minutes=10),
    )
    body = RENDERER.render(scenario.of_kind(MessageKind.RECLASSIFICATION))[1]
    assert f"Unsere neue Schätzung:                   Dienstag, {berlin_text(new)}" in body
    assert "Unsere aktuelle Schätzung" not in body


@pytest.mark.parametrize(
    ("received", "at_once"),
    [
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), True),  # Tuesday 10:00 in Berlin
        (datetime(2026, 11, 24, 20, 0, tzinfo=UTC), False),  # Tuesday 21:00: after closing
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_the_first_page_never_says_start_now_outside_business_hours(
    received: datetime, at_once: bool
) -> None:
    scenario = Scenario(open_incident(received, login_impossible=True))
    scenario.run(PageOnDuty(reason=PageReason.RECEIVED), received)
    body = " ".join(RENDERER.render(scenario.of_kind(MessageKind.ON_DUTY_PAGE))[1].split())
    assert ("Bitte sofort mit der Behebung beginnen." in body) is at_once
    if not at_once:
        opening = POLICY.critical_pages(received)[1]
        assert "außerhalb der Bereitschaftszeit eingegangen" in body
        assert f"{berlin_text(opening)} bearbeitet" in body


def test_a_reopen_tells_the_customer_the_reason_and_the_new_reaction_deadline_in_berlin() -> None:
    mail = REOPENED.of_kind(MessageKind.REOPENED)
    assert mail.to == (REPORTER,)
    _, body = RENDERER.render(mail)
    assert "wurde am Mittwoch, 25.11.2026, 10:00 Uhr wieder eröffnet" in body
    assert "Grund: Der Fehler tritt erneut auf." in body
    # Major: 1 business hour from Wed 10:00 Berlin.
    assert "Mittwoch, 25.11.2026, 11:00 Uhr" in body
    team = REOPENED.of_kind(MessageKind.REOPENED_TEAM)
    assert set(team.to) == {POLICY.contacts.support_lead, POLICY.contacts.on_duty}
    assert "von ops" in RENDERER.render(team)[1]
