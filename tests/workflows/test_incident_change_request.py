"""``IncidentWorkflow`` on the time-skipping server: change requests and bug links.

A report classified as a change request closes the incident and starts a
``ChangeRequestWorkflow`` (with its development ticket); a bug found while
resolving an incident is linked to a development ticket and recorded on the incident.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import timedelta
from email.message import EmailMessage

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.dev_tickets import UNKNOWN_DEV_TICKET, SqliteDevTicketTracker
from domain.change_request import ChangeRequestStatus, ChangeRequestView, DevTicketKind
from domain.incident import (
    Acknowledge,
    ClassifyAsChangeRequest,
    IncidentStatus,
    LinkDevTicket,
    Resolve,
)
from domain.notifications import MessageKind
from domain.read_model import IncidentView
from domain.sla import Severity
from tests.conftest import Stack, publishing_monitoring
from tests.workflows.test_incident_workflow import (
    REPORTER,
    Harness,
    entry_of,
    event_types,
    kinds_of,
    only,
    recipients,
    status_json,
)
from tests.workflows.waiting import eventually, settled
from workflows.change_request import ChangeRequestWorkflow
from workflows.incident import IncidentWorkflow

CLASSIFY = ClassifyAsChangeRequest(
    title="CSV-Export der Sendungsliste",
    reason="Der Export fehlt bisher; es ist nichts defekt.",
)


class CrHarness(Harness):
    """The incident harness; also terminates the change requests the incidents started."""

    change_requests: list[str]

    async def cleanup(self) -> None:
        for cr in dict.fromkeys(getattr(self, "change_requests", [])):
            handle = self.stack.client.get_workflow_handle(cr)
            with suppress(RPCError):
                await settled(handle)
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test over")
        await super().cleanup()


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[CrHarness]:
    harness = CrHarness(stack)
    harness.change_requests = []
    try:
        yield harness
    finally:
        await harness.cleanup()


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_a_report_classified_as_change_request_closes_and_starts_the_change_request(
    h: CrHarness,
) -> None:
    incident = await h.report(login_impossible=False)
    await eventually(incident.view)

    closed = await incident.handle.execute_update(
        IncidentWorkflow.classify_as_change_request, CLASSIFY
    )
    assert closed.status is IncidentStatus.RESOLVED
    assert closed.resolution_summary is not None and "Änderungswunsch" in closed.resolution_summary
    assert "classified_as_change_request" in event_types(await incident.view())

    outcome = await incident.handle.result()
    assert outcome.status is IncidentStatus.RESOLVED
    assert outcome.reaction_met is True and outcome.resolution_met is True
    assert not outcome.reaction_breached and not outcome.resolution_breached
    assert outcome.change_request_id is not None
    cr = outcome.change_request_id
    h.change_requests.append(cr)

    final = await incident.view()
    assert final.change_request_id == cr
    assert event_types(final)[-1] == "change_request_recorded"

    handle = h.stack.client.get_workflow_handle_for(ChangeRequestWorkflow.run, cr)

    async def with_dev_ticket() -> ChangeRequestView:
        view = await handle.query(ChangeRequestWorkflow.view)
        assert view.dev_ticket_id is not None
        return view

    request = await eventually(with_dev_ticket)
    assert request.status is ChangeRequestStatus.SUBMITTED
    assert request.dev_ticket_id == "DEV-0001"
    assert request.request.title == CLASSIFY.title
    assert request.request.request_id == f"incident:{incident.ticket}"
    assert request.request.email == REPORTER
    assert incident.ticket in request.request.description
    (ticket,) = SqliteDevTicketTracker.in_data_dir(h.stack.data_dir).all_sync()
    assert ticket.kind is DevTicketKind.FEATURE and ticket.reference == cr

    async def mailed() -> None:
        assert len(h.stack.emails_of_kind("change_request_received")) == 1

    await eventually(mailed)
    told = only(h.stack, MessageKind.CLASSIFIED_AS_CHANGE_REQUEST)
    assert recipients(told) == {REPORTER}
    assert cr in str(told["Subject"]) and incident.ticket in str(told["Subject"])
    assert CLASSIFY.reason in body(told) and "Entwicklungs-Ticket" in body(told)
    kinds = kinds_of(h.stack)
    assert "resolution" not in kinds and "acknowledgement" not in kinds
    assert "DEV-0001" in body(h.stack.emails_of_kind("change_request_received")[0])


async def test_a_published_report_classified_as_change_request_leaves_the_status_page(
    h: CrHarness,
) -> None:
    incident = await h.report(
        login_impossible=False, channel="monitoring", policy=publishing_monitoring()
    )
    assert (await eventually(incident.view)).on_status_page

    await incident.handle.execute_update(IncidentWorkflow.classify_as_change_request, CLASSIFY)
    outcome = await incident.handle.result()
    assert outcome.change_request_id is not None
    h.change_requests.append(outcome.change_request_id)

    async def resolved_on_the_page() -> None:
        document = status_json(h.stack)
        assert document["active"] == []
        entry_of(document, "resolved", incident.ticket)

    await eventually(resolved_on_the_page)


async def test_classification_after_acknowledgement_closes_the_incident(h: CrHarness) -> None:
    # Issue 16: work on an acknowledged "disturbance" may show it is a missing feature.
    incident = await h.report(login_impossible=False)
    now = await h.stack.now()
    await incident.handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=3)),
    )
    await incident.handle.execute_update(IncidentWorkflow.classify_as_change_request, CLASSIFY)
    outcome = await incident.handle.result()
    assert outcome.status is IncidentStatus.RESOLVED
    assert outcome.change_request_id is not None
    h.change_requests.append(outcome.change_request_id)


async def test_a_bug_link_is_recorded_on_the_incident(h: CrHarness) -> None:
    incident = await h.report(login_impossible=False)
    await eventually(incident.view)

    bug = await incident.handle.execute_update(
        IncidentWorkflow.link_dev_ticket, LinkDevTicket(title="Umlaute im Export")
    )
    assert bug.id == "DEV-0001" and bug.kind is DevTicketKind.BUG
    assert bug.links == (incident.ticket,)
    again = await incident.handle.execute_update(
        IncidentWorkflow.link_dev_ticket, LinkDevTicket(title="Umlaute im Export")
    )
    assert again.id == bug.id  # the incident's bug ticket is reused

    view: IncidentView = await incident.view()
    linked = [e for e in view.events if e.type == "dev_ticket_linked"]
    assert len(linked) == 1  # linking the same ticket again records nothing new
    assert (linked[0].dev_ticket_id, linked[0].title) == ("DEV-0001", "Umlaute im Export")
    assert view.dev_tickets == ("DEV-0001",)

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await incident.handle.execute_update(
            IncidentWorkflow.link_dev_ticket, LinkDevTicket(dev_ticket_id="DEV-0099")
        )
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == UNKNOWN_DEV_TICKET
    assert "unknown development ticket DEV-0099" in cause.message
    assert event_types(await incident.view()).count("dev_ticket_linked") == 1

    await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Behoben"))
    await incident.handle.result()
    assert (await incident.view()).dev_tickets == ("DEV-0001",)
