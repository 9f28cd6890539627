"""The bug lifecycle on the time-skipping server: read, move, and tell the reporters.

``ReadDevTicketsWorkflow`` and ``TransitionDevTicketWorkflow`` reach the
worker's tracker; a release starts ``NotifyReportersWorkflow`` (one German mail
per linked incident's reporter). A bug linked to an open incident opened under
rules 4 is told to its reporter by the incident itself; a resolved incident's
link (``LinkBugWorkflow``) tells the reporter too.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from activities.dev_tickets import (
    ILLEGAL_DEV_TICKET_TRANSITION,
    UNKNOWN_DEV_TICKET,
    DevTicket,
    IncidentLink,
    NewDevTicket,
    SqliteDevTicketTracker,
)
from domain.dev_ticket import (
    BUG_LINKED,
    BUG_RELEASED,
    DevTicketKind,
    DevTicketStatus,
    IncidentContact,
    bug_released_messages,
)
from domain.incident import LinkDevTicket, Resolve
from domain.sla import Severity
from service.dev_tickets import root_message
from tests.conftest import Stack
from tests.workflows.test_incident_workflow import REPORTER, Harness
from tests.workflows.waiting import eventually, settled
from workflows.change_request import LinkBugWorkflow
from workflows.dev_ticket import (
    DevTicketMove,
    DevTicketMoved,
    DevTicketRead,
    NotifyReportersWorkflow,
    ReadDevTicketsWorkflow,
    ReporterMails,
    TransitionDevTicketWorkflow,
)
from workflows.incident import IncidentWorkflow

ERIKA = IncidentContact(
    email="erika.mustermann@beispiel-versand.de",
    name="Erika Mustermann",
    company="Beispiel Versand GmbH",
    severity=Severity.CRITICAL,
)
MAX = IncidentContact(email="max.muster@beispiel-versand.de", name="Max Muster")


def ledger(stack: Stack) -> SqliteDevTicketTracker:
    return SqliteDevTicketTracker.in_data_dir(stack.data_dir)


def text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


async def move(stack: Stack, dev: str, status: DevTicketStatus, **extra: Any) -> DevTicketMoved:
    handle = await stack.client.start_workflow(
        TransitionDevTicketWorkflow.run,
        DevTicketMove(dev_ticket_id=dev, status=status, **extra),
        id=f"dev-ticket.{dev}.{status.value}.{uuid.uuid4().hex[:8]}",
        task_queue=stack.task_queue,
    )
    result: DevTicketMoved = await handle.result()
    if result.notification_workflow is not None:
        await stack.client.get_workflow_handle(result.notification_workflow).result()
    return result


async def refused_move(stack: Stack, dev: str, status: DevTicketStatus, **extra: Any) -> str:
    with pytest.raises(WorkflowFailureError) as info:
        await move(stack, dev, status, **extra)
    return root_message(info.value)


async def a_bug(stack: Stack, *links: tuple[str, IncidentContact | None]) -> DevTicket:
    tracker = ledger(stack)
    ticket = await tracker.create(
        NewDevTicket(key=f"bug:{uuid.uuid4()}", kind=DevTicketKind.BUG, title="Umlaute im Export")
    )
    for ticket_id, contact in links:
        ticket = await tracker.link(ticket.id, ticket_id, contact)
    return ticket


async def test_a_bug_goes_to_released_and_every_reachable_reporter_is_told_once(
    stack: Stack,
) -> None:
    bug = await a_bug(
        stack,
        ("INC-20261124-AAAAAA", ERIKA),
        ("INC-20261124-BBBBBB", MAX),
        ("INC-20261124-CCCCCC", None),  # linked before contacts were stored
    )
    assert (await move(stack, bug.id, DevTicketStatus.IN_PROGRESS)).ticket.status.value == (
        "in_progress"
    )
    fixed = await move(stack, bug.id, DevTicketStatus.FIXED, note="Zeichensatz korrigiert")
    assert fixed.notification_workflow is None and stack.emails() == []

    released = await move(stack, bug.id, DevTicketStatus.RELEASED, release="2027.1")

    assert released.ticket.status is DevTicketStatus.RELEASED
    assert released.ticket.release == "2027.1"
    assert released.notifying == ("INC-20261124-AAAAAA", "INC-20261124-BBBBBB")
    assert released.not_notified == ("INC-20261124-CCCCCC",)
    mails = stack.emails_of_kind(BUG_RELEASED)
    assert sorted(str(m["To"]) for m in mails) == [ERIKA.email, MAX.email]
    erika = next(m for m in mails if m["To"] == ERIKA.email)
    assert str(erika["Subject"]) == (
        f"Fehlerbehebung ausgeliefert – Entwicklungs-Ticket {bug.id} [INC-20261124-AAAAAA]"
    )
    body = text(erika)
    assert body.startswith("Guten Tag Erika Mustermann,")
    assert f"der Programmfehler {bug.id} („Umlaute im Export“)" in body
    assert "mit der Version 2027.1 von myconvento ausgeliefert" in body
    assert "Ihre Ticket-ID: INC-20261124-AAAAAA" in body
    assert "Zeichensatz korrigiert" not in body  # the operator's note stays internal

    # A retried notification sends the same messages (same Message-IDs): the
    # outbox holds one file per message, not a second mail per reporter.
    again = bug_released_messages(released.ticket, released.ticket.history[-1].at, "UTC")
    await stack.client.execute_workflow(
        NotifyReportersWorkflow.run,
        ReporterMails(messages=tuple(again)),
        id=f"notify-again-{uuid.uuid4()}",
        task_queue=stack.task_queue,
    )
    assert len(stack.emails_of_kind(BUG_RELEASED)) == 2


async def test_illegal_moves_and_unknown_tickets_are_refused_with_the_trackers_words(
    stack: Stack,
) -> None:
    bug = await a_bug(stack)
    assert "a release is required" in await refused_move(stack, bug.id, DevTicketStatus.RELEASED)
    await move(stack, bug.id, DevTicketStatus.FIXED)
    assert "is fixed already" in await refused_move(stack, bug.id, DevTicketStatus.FIXED)
    await move(stack, bug.id, DevTicketStatus.RELEASED, release="2027.1")
    assert "released bug ticket is final" in await refused_move(
        stack, bug.id, DevTicketStatus.IN_PROGRESS
    )
    assert "unknown development ticket DEV-0999" in await refused_move(
        stack, "DEV-0999", DevTicketStatus.FIXED
    )
    feature = await ledger(stack).create(
        NewDevTicket(key="CR-1", kind=DevTicketKind.FEATURE, title="CSV-Export")
    )
    words = await refused_move(stack, feature.id, DevTicketStatus.IN_PROGRESS)
    assert "feature ticket" in words and "sla change-request" in words
    assert (await ledger(stack).get(feature.id)).status is DevTicketStatus.OPEN

    with pytest.raises(WorkflowFailureError) as info:
        await stack.client.execute_workflow(
            TransitionDevTicketWorkflow.run,
            DevTicketMove(dev_ticket_id=feature.id, status=DevTicketStatus.FIXED),
            id=f"refused-{uuid.uuid4()}",
            task_queue=stack.task_queue,
        )
    cause = info.value.cause
    assert getattr(cause, "type", None) == ILLEGAL_DEV_TICKET_TRANSITION


async def test_the_read_workflow_lists_by_status_and_kind_and_shows_one(stack: Stack) -> None:
    bug = await a_bug(stack, ("INC-20261124-AAAAAA", ERIKA))
    feature = await ledger(stack).create(
        NewDevTicket(key="CR-1", kind=DevTicketKind.FEATURE, title="CSV-Export")
    )

    async def read(**fields: Any) -> list[str]:
        found = await stack.client.execute_workflow(
            ReadDevTicketsWorkflow.run,
            DevTicketRead(**fields),
            id=f"read-{uuid.uuid4()}",
            task_queue=stack.task_queue,
        )
        return [t.id for t in found.tickets]

    assert await read() == [bug.id, feature.id]
    assert await read(kind=DevTicketKind.FEATURE) == [feature.id]
    assert await read(status=(DevTicketStatus.FIXED,)) == []
    assert await read(dev_ticket_id=bug.id) == [bug.id]
    with pytest.raises(WorkflowFailureError) as info:
        await read(dev_ticket_id="DEV-0999")
    assert getattr(info.value.cause, "type", None) == UNKNOWN_DEV_TICKET


async def test_a_bug_linked_to_an_open_incident_is_told_to_its_reporter_by_the_incident(
    stack: Stack,
) -> None:
    h = Harness(stack)
    try:
        incident = await h.report(login_impossible=True)
        await eventually(incident.view)
        bug = await incident.handle.execute_update(
            IncidentWorkflow.link_dev_ticket, LinkDevTicket(title="Umlaute im Export")
        )
        # The link stores whom to tell of the release, and the incident's severity.
        contact = bug.linked[0].contact
        assert (contact.email, contact.severity) == (REPORTER, Severity.CRITICAL)

        async def told() -> EmailMessage:
            mails = stack.emails_of_kind(BUG_LINKED)
            assert len(mails) == 1, mails
            return mails[0]

        mail = await eventually(told)
        assert mail["To"] == REPORTER
        assert str(mail["Message-ID"]) == (
            f"<{incident.ticket}.{bug.id}.bug_linked@sla.myconvento.com>"
        )
        assert f"unter der ID {bug.id} („Umlaute im Export“)" in text(mail)
        await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Behoben"))
        await incident.handle.result()
    finally:
        await h.cleanup()


async def test_linking_a_resolved_incident_tells_its_reporter_the_dev_id(stack: Stack) -> None:
    link = IncidentLink(
        ticket_id="INC-20261124-DDDDDD", title="Export bricht bei Umlauten ab", contact=ERIKA
    )
    handle = await stack.client.start_workflow(
        LinkBugWorkflow.run, link, id=f"link-bug-{uuid.uuid4()}", task_queue=stack.task_queue
    )
    bug = await handle.result()
    await settled(handle)

    async def told() -> EmailMessage:
        mails = stack.emails_of_kind(BUG_LINKED)
        assert len(mails) == 1, mails
        return mails[0]

    mail = await eventually(told)
    assert mail["To"] == ERIKA.email
    assert str(mail["Subject"]) == (
        f"Programmfehler erfasst – Entwicklungs-Ticket {bug.id} [INC-20261124-DDDDDD]"
    )
    body = text(mail)
    assert "Ihre Störungsmeldung ist bereits abgeschlossen" in body
    assert bug.linked[0].contact == ERIKA

    # Without a contact (how runs recorded before it behaved) nobody is mailed.
    before = len(stack.emails())
    await stack.client.execute_workflow(
        LinkBugWorkflow.run,
        IncidentLink(ticket_id="INC-20261124-EEEEEE", dev_ticket_id=bug.id),
        id=f"link-bug-{uuid.uuid4()}",
        task_queue=stack.task_queue,
    )
    assert len(stack.emails()) == before
