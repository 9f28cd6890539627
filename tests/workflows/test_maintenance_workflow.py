"""``MaintenanceWorkflow`` on the time-skipping server: announcements, timers, page, refusals.

Windows are placed relative to the server's clock (the test's own server,
starting at the wall clock), so the tests do not depend on the date they run on; unless
a test asks for another slot, on a Saturday, so that no window reaches business
hours and overruns by accident. Every workflow a test starts — maintenance, its
status page, an overrun's incident — is terminated at the end once it has
nothing in flight: a workflow left with a timer or an activity stops a
time-skipping server's clock (see ``time_env`` in tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar, cast

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.maintenance import OverrunIncidentRequest
from domain.errors import DomainErrorKind
from domain.maintenance import (
    CancelMaintenance,
    EndMaintenance,
    ExtendMaintenance,
    InsufficientNotice,
    MaintenanceErrorKind,
    MaintenanceIncidentOpened,
    MaintenanceOverran,
    MaintenancePlan,
    MaintenancePlanned,
    MaintenanceState,
    MaintenanceStatus,
    RescheduleMaintenance,
    maintenance_id,
    overrun_report,
    overrun_request_id,
)
from domain.sla import Severity
from domain.status import RESOLVED_RETENTION, public_reference
from service.maintenance import open_overrun_incident, start_maintenance
from tests.conftest import Stack
from tests.maintenance_support import EXPECTED_RECIPIENTS, directory_policy, next_weekday_at
from tests.workflows.waiting import eventually, settled
from workflows import names
from workflows.incident import IncidentWorkflow
from workflows.maintenance import WINDOW_END_MEMO, MaintenanceWorkflow

POLICY = directory_policy()
CUSTOMERS = len(EXPECTED_RECIPIENTS)
SATURDAY, SUNDAY, FRIDAY = 5, 6, 4

T = TypeVar("T")
Handle = WorkflowHandle[MaintenanceWorkflow, MaintenanceState]


# -- harness -------------------------------------------------------------------------


@dataclass
class Harness:
    """A stack plus the workflows a test started, terminated at its end."""

    stack: Stack
    started: list[str] = field(default_factory=list)

    async def plan(
        self,
        *,
        lead: timedelta = timedelta(hours=49),
        length: timedelta = timedelta(hours=4),
        shipments_possible: bool = True,
        message: str = "Wir spielen ein Update der Datenbank ein.",
        weekday: int = SATURDAY,
        at: time = time(10, 0),
    ) -> tuple[Handle, MaintenancePlan]:
        """Plan a maintenance on the first ``weekday`` at ``at`` (Berlin) ``lead`` or more ahead."""
        now = await self.stack.now()
        start = next_weekday_at(now, weekday, at, lead=lead)
        plan = MaintenancePlan(
            start=start,
            end=start + length,
            services=("Versand", "Statistik"),
            shipments_possible=shipments_possible,
            message=message,
        )
        workflow_id = await start_maintenance(
            self.stack.client,
            plan,
            policy=POLICY,
            now=now,
            task_queue=self.stack.task_queue,
            status_page_id=self.stack.status_page_id,
        )
        self.started.append(workflow_id)
        handle = self.stack.client.get_workflow_handle_for(MaintenanceWorkflow.run, workflow_id)
        return handle, plan

    async def cleanup(self) -> None:
        for workflow_id in [*self.started, self.stack.status_page_id]:
            handle = self.stack.client.get_workflow_handle(workflow_id)
            with suppress(RPCError):
                await settled(handle)
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test over")


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    harness = Harness(stack)
    try:
        yield harness
    finally:
        await harness.cleanup()


async def view(handle: Handle) -> MaintenanceState:
    return await handle.query(MaintenanceWorkflow.view)


async def status_is(handle: Handle, status: MaintenanceStatus) -> MaintenanceState:
    async def check() -> MaintenanceState:
        state = await view(handle)
        assert state.status is status, state.status
        return state

    return await eventually(check)


def mails(stack: Stack, template: str, maintenance: str) -> list[EmailMessage]:
    return [m for m in stack.emails_of_kind(template) if maintenance in str(m["Message-ID"])]


def recipients(message: EmailMessage) -> frozenset[str]:
    return frozenset(a.strip() for a in str(message["To"]).split(","))


async def announced(stack: Stack, template: str, maintenance: str) -> list[EmailMessage]:
    """Wait for one message of ``template`` per directory customer; returns them."""

    async def check() -> list[EmailMessage]:
        sent = mails(stack, template, maintenance)
        assert {recipients(m) for m in sent} == EXPECTED_RECIPIENTS, sent
        assert len(sent) == CUSTOMERS
        return sent

    return await eventually(check)


def page_entry(stack: Stack, maintenance: str) -> dict[str, Any]:
    path = stack.status_dir / "status.json"
    assert path.exists(), "status site not written yet"
    document = json.loads(path.read_text("utf-8"))
    entries = [m for m in document["maintenance"] if m["id"] == maintenance]
    assert len(entries) == 1, document["maintenance"]
    return cast(dict[str, Any], entries[0])


async def page_shows(
    stack: Stack, maintenance: str, state: str, heading: str, *, start: datetime | None = None
) -> dict[str, Any]:
    """Wait until the status site shows the entry in ``state`` (and at ``start``, if given)."""

    async def check() -> dict[str, Any]:
        entry = page_entry(stack, maintenance)
        assert entry["state"] == state, entry
        if start is not None:
            assert datetime.fromisoformat(entry["start"]) == start, entry
        assert heading in (stack.status_dir / "index.html").read_text("utf-8")
        return entry

    return await eventually(check)


async def refused(call: Awaitable[object], kind: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == kind, (cause.type, cause.message)
    return cause


# -- lifecycle ------------------------------------------------------------------------


async def test_plan_announces_then_the_status_page_follows_the_window(h: Harness) -> None:
    handle, plan = await h.plan()
    mid = handle.id

    sent = await announced(h.stack, "maintenance_announcement", mid)
    for message in sent:
        assert "Wartungsarbeiten" in str(message["Subject"])
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = " ".join(str(body.get_content()).split())
        assert "Betroffene Dienste: Versand, Statistik" in text
        assert "vorab zeitversetzt ein" in text
    entry = await page_shows(h.stack, mid, "planned", "Geplante Wartungsarbeiten")
    assert datetime.fromisoformat(entry["start"]) == plan.start
    assert datetime.fromisoformat(entry["end"]) == plan.end
    assert entry["services"] == ["Versand", "Statistik"]
    assert entry["shipments_possible"] is True

    description = await handle.describe()
    assert description.typed_search_attributes.get(names.LIFECYCLE_STATE) == "planned"
    assert description.typed_search_attributes.get(names.WINDOW_START) == plan.start
    assert (await description.memo())[WINDOW_END_MEMO] == plan.end.isoformat()

    await h.stack.skip_to(plan.start + timedelta(seconds=1))
    running = await status_is(handle, MaintenanceStatus.IN_PROGRESS)
    assert running.started_at is not None and running.started_at >= plan.start
    await page_shows(h.stack, mid, "in_progress", "Laufende Wartungsarbeiten")
    lifecycle = (await handle.describe()).typed_search_attributes.get(names.LIFECYCLE_STATE)
    assert lifecycle == "in_progress"

    await h.stack.skip_to(plan.end + timedelta(seconds=1))
    done = await status_is(handle, MaintenanceStatus.COMPLETED)
    assert [e.type for e in done.events] == ["planned", "started", "completed"]
    await page_shows(h.stack, mid, "completed", "Abgeschlossene Wartungsarbeiten")

    async def closed() -> None:
        description = await handle.describe()
        assert description.status is WorkflowExecutionStatus.COMPLETED
        assert description.typed_search_attributes.get(names.LIFECYCLE_STATE) == "completed"

    await eventually(closed)
    assert (await handle.result()).status is MaintenanceStatus.COMPLETED
    # Start and end tell nobody by e-mail; the announcement went out once.
    assert len(mails(h.stack, "maintenance_announcement", mid)) == CUSTOMERS
    assert len(h.stack.emails()) == CUSTOMERS

    # Shown as completed for 7 days, like a resolved incident, then gone.
    await h.stack.skip_to(plan.end + RESOLVED_RETENTION + timedelta(seconds=5))

    async def aged_off() -> None:
        document = json.loads((h.stack.status_dir / "status.json").read_text("utf-8"))
        assert document["maintenance"] == []

    await eventually(aged_off)


async def test_reschedule_re_announces_and_moves_the_timers(h: Harness) -> None:
    handle, plan = await h.plan(lead=timedelta(hours=60))
    mid = handle.id
    await announced(h.stack, "maintenance_announcement", mid)

    later = plan.start + timedelta(days=14)  # a Saturday again: no business hours
    state = await handle.execute_update(
        MaintenanceWorkflow.reschedule,
        RescheduleMaintenance(start=later, end=later + timedelta(hours=2)),
    )
    assert state.start == later and state.revision == 1
    sent = await announced(h.stack, "maintenance_rescheduled", mid)
    assert all(".r1." in str(m["Message-ID"]) for m in sent)
    await page_shows(h.stack, mid, "planned", "Geplante Wartungsarbeiten", start=later)
    window_start = (await handle.describe()).typed_search_attributes.get(names.WINDOW_START)
    assert window_start == later

    # The old start passes without effect.
    await h.stack.skip_to(plan.start + timedelta(minutes=1))
    assert (await view(handle)).status is MaintenanceStatus.PLANNED

    # Moved again, this time earlier than the pending timer: the timer follows.
    # A minute of slack: the validator judges by the workflow's (slightly later) clock.
    earlier = next_weekday_at(
        await h.stack.now(), SUNDAY, time(10, 0), lead=timedelta(hours=48, minutes=1)
    )
    assert earlier < later
    state = await handle.execute_update(
        MaintenanceWorkflow.reschedule,
        RescheduleMaintenance(start=earlier, end=earlier + timedelta(hours=1)),
    )
    assert state.revision == 2
    sent = await eventually(
        lambda: _count(mails(h.stack, "maintenance_rescheduled", mid), 2 * CUSTOMERS)
    )
    assert sum(".r2." in str(m["Message-ID"]) for m in sent) == CUSTOMERS

    await h.stack.skip_to(earlier + timedelta(seconds=1))
    running = await status_is(handle, MaintenanceStatus.IN_PROGRESS)
    assert running.started_at is not None and running.started_at < later
    await page_shows(h.stack, mid, "in_progress", "Laufende Wartungsarbeiten")


async def _count(messages: list[EmailMessage], expected: int) -> list[EmailMessage]:
    assert len(messages) == expected, len(messages)
    return messages


async def test_cancel_tells_the_customers_and_marks_the_page(h: Harness) -> None:
    handle, _ = await h.plan(shipments_possible=False)
    mid = handle.id
    await announced(h.stack, "maintenance_announcement", mid)

    state = await handle.execute_update(
        MaintenanceWorkflow.cancel, CancelMaintenance(reason="Das Update wird verschoben.")
    )
    assert state.status is MaintenanceStatus.CANCELLED

    sent = await announced(h.stack, "maintenance_cancelled", mid)
    body = sent[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert "Das Update wird verschoben." in str(body.get_content())
    entry = await page_shows(h.stack, mid, "cancelled", "abgesagt")
    assert entry["reason"] == "Das Update wird verschoben."

    final = await handle.result()
    assert final.status is MaintenanceStatus.CANCELLED
    assert [e.type for e in final.events] == ["planned", "cancelled"]
    lifecycle = (await handle.describe()).typed_search_attributes.get(names.LIFECYCLE_STATE)
    assert lifecycle == "cancelled"


# -- refusals --------------------------------------------------------------------------------


async def test_refused_updates_reach_the_client_and_change_nothing(h: Harness) -> None:
    handle, plan = await h.plan()
    await announced(h.stack, "maintenance_announcement", handle.id)
    now = await h.stack.now()

    soon = now + timedelta(hours=47)
    cause = await refused(
        handle.execute_update(
            MaintenanceWorkflow.reschedule,
            RescheduleMaintenance(start=soon, end=soon + timedelta(hours=2)),
        ),
        MaintenanceErrorKind.INSUFFICIENT_NOTICE.value,
    )
    assert "48 hours" in cause.message
    await refused(
        handle.execute_update(
            MaintenanceWorkflow.reschedule,
            RescheduleMaintenance(start=plan.end, end=plan.start),
        ),
        MaintenanceErrorKind.INVALID_WINDOW.value,
    )
    await refused(
        handle.execute_update(MaintenanceWorkflow.cancel, CancelMaintenance(reason=" ")),
        DomainErrorKind.MISSING_TEXT.value,
    )
    state = await view(handle)
    assert [e.type for e in state.events] == ["planned"]
    assert state.start == plan.start

    await h.stack.skip_to(plan.start + timedelta(seconds=1))
    await status_is(handle, MaintenanceStatus.IN_PROGRESS)
    far = plan.start + timedelta(days=7)
    cause = await refused(
        handle.execute_update(
            MaintenanceWorkflow.reschedule,
            RescheduleMaintenance(start=far, end=far + timedelta(hours=2)),
        ),
        DomainErrorKind.WRONG_STATUS.value,
    )
    assert "in progress" in cause.message
    await refused(
        handle.execute_update(MaintenanceWorkflow.cancel, CancelMaintenance(reason="zu spät")),
        DomainErrorKind.WRONG_STATUS.value,
    )
    assert [e.type for e in (await view(handle)).events] == ["planned", "started"]
    # Validators refuse before anything is written: no update reached the history.
    types = [e.event_type async for e in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in types


async def test_a_plan_with_too_little_notice_starts_nothing(h: Harness) -> None:
    now = await h.stack.now()
    plan = MaintenancePlan(
        start=now + timedelta(hours=47, minutes=59),
        end=now + timedelta(hours=50),
        services=("Versand",),
        message="Update",
    )
    with pytest.raises(InsufficientNotice):
        await start_maintenance(
            h.stack.client, plan, policy=POLICY, now=now, task_queue=h.stack.task_queue
        )
    handle = h.stack.client.get_workflow_handle(maintenance_id(plan, "Europe/Berlin"))
    with pytest.raises(RPCError):
        await handle.describe()


async def test_planning_the_same_maintenance_again_is_idempotent(h: Harness) -> None:
    handle, plan = await h.plan()
    await announced(h.stack, "maintenance_announcement", handle.id)
    first_run = (await handle.describe()).run_id

    again = await start_maintenance(
        h.stack.client,
        plan,
        policy=POLICY,
        now=await h.stack.now(),
        task_queue=h.stack.task_queue,
        status_page_id=h.stack.status_page_id,
    )

    assert again == handle.id
    assert (await handle.describe()).run_id == first_run
    assert len(mails(h.stack, "maintenance_announcement", handle.id)) == CUSTOMERS


# -- follow-through: who is told, extend, end early, overrun (issue 16) -------------------------


def body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


async def test_the_plan_records_who_was_told_and_the_customer_without_contact(
    h: Harness,
) -> None:
    handle, _ = await h.plan()
    await announced(h.stack, "maintenance_announcement", handle.id)
    opened = (await view(handle)).events[0]
    assert isinstance(opened, MaintenancePlanned)
    assert opened.recipients == CUSTOMERS
    assert opened.unreached == ("Ohne Kontakt GmbH",)


async def test_extend_a_running_window_re_announces_and_moves_the_end(h: Harness) -> None:
    handle, plan = await h.plan()
    mid = handle.id
    await announced(h.stack, "maintenance_announcement", mid)
    await h.stack.skip_to(plan.start + timedelta(seconds=1))
    await status_is(handle, MaintenanceStatus.IN_PROGRESS)

    new_end = plan.end + timedelta(hours=2)
    state = await handle.execute_update(
        MaintenanceWorkflow.extend,
        ExtendMaintenance(end=new_end, reason="Die Migration dauert länger."),
    )
    assert state.end == new_end and state.revision == 1
    sent = await announced(h.stack, "maintenance_extended", mid)
    assert "Grund: Die Migration dauert länger." in body_text(sent[0])

    async def page_extended() -> None:
        entry = await page_shows(h.stack, mid, "in_progress", "Laufende Wartungsarbeiten")
        assert datetime.fromisoformat(entry["end"]) == new_end, entry
        assert entry["reason"] == "Die Migration dauert länger."

    await eventually(page_extended)
    memo = await (await handle.describe()).memo()
    assert memo[WINDOW_END_MEMO] == new_end.isoformat()

    # The old end passes: still running. The new one ends it.
    await h.stack.skip_to(plan.end + timedelta(minutes=1))
    assert (await view(handle)).status is MaintenanceStatus.IN_PROGRESS
    await h.stack.skip_to(new_end + timedelta(seconds=1))
    done = await status_is(handle, MaintenanceStatus.COMPLETED)
    assert [e.type for e in done.events] == ["planned", "started", "extended", "completed"]
    assert done.incident_ticket_id is None  # Saturday: no business hours reached


async def test_end_early_completes_at_once_and_tells_everybody(h: Harness) -> None:
    handle, plan = await h.plan()
    mid = handle.id
    await announced(h.stack, "maintenance_announcement", mid)
    await refused(
        handle.execute_update(MaintenanceWorkflow.end, EndMaintenance()),
        DomainErrorKind.WRONG_STATUS.value,
    )
    await h.stack.skip_to(plan.start + timedelta(hours=1))
    await status_is(handle, MaintenanceStatus.IN_PROGRESS)

    state = await handle.execute_update(
        MaintenanceWorkflow.end, EndMaintenance(note="Das Update ist eingespielt.")
    )
    assert state.status is MaintenanceStatus.COMPLETED
    assert state.end < plan.end
    sent = await announced(h.stack, "maintenance_ended", mid)
    assert "früher als angekündigt abgeschlossen" in body_text(sent[0])
    await page_shows(h.stack, mid, "completed", "Abgeschlossene Wartungsarbeiten")
    final = await handle.result()
    assert [e.type for e in final.events] == ["planned", "started", "ended_early"]
    await refused_closed(
        handle.execute_update(
            MaintenanceWorkflow.extend,
            ExtendMaintenance(end=plan.end + timedelta(hours=1), reason="zu spät"),
        )
    )


async def refused_closed(call: Awaitable[object]) -> None:
    """A closed maintenance's workflow takes no update at all."""
    with pytest.raises((RPCError, WorkflowUpdateFailedError)):
        await call


async def test_a_window_extended_into_business_hours_opens_one_incident(h: Harness) -> None:
    # The usual Friday window, extended into the next business day (Monday 08:00,
    # or later after a holiday: the calendar says when).
    handle, plan = await h.plan(weekday=FRIDAY, at=time(18, 0))
    mid = handle.id
    await announced(h.stack, "maintenance_announcement", mid)
    await h.stack.skip_to(plan.start + timedelta(seconds=1))
    running = await status_is(handle, MaintenanceStatus.IN_PROGRESS)
    opening = POLICY.calendar.next_open(plan.start)
    assert running.business_opens_at == opening

    await handle.execute_update(
        MaintenanceWorkflow.extend,
        ExtendMaintenance(end=opening + timedelta(hours=2), reason="Migration dauert an."),
    )
    await announced(h.stack, "maintenance_extended", mid)
    await h.stack.skip_to(opening + timedelta(seconds=5))

    async def incident_recorded() -> MaintenanceState:
        state = await view(handle)
        assert state.incident_ticket_id is not None, [e.type for e in state.events]
        return state

    state = await eventually(incident_recorded)
    ticket_id = state.incident_ticket_id
    assert ticket_id is not None
    h.started.append(ticket_id)
    overruns = [e for e in state.events if isinstance(e, MaintenanceOverran)]
    incidents = [e for e in state.events if isinstance(e, MaintenanceIncidentOpened)]
    assert [e.at for e in overruns] == [opening]
    assert [e.ticket_id for e in incidents] == [ticket_id]
    assert state.status is MaintenanceStatus.IN_PROGRESS

    incident = h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
    description = await incident.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    assert description.typed_search_attributes.get(names.SEVERITY) == Severity.CRITICAL.value
    assert (await description.memo())["request_id"] == overrun_request_id(mid)

    # All users are locked out: the incident is on the status page at once.
    async def published() -> None:
        document = json.loads((h.stack.status_dir / "status.json").read_text("utf-8"))
        assert [e["id"] for e in document["active"]] == [public_reference(ticket_id)], document[
            "active"
        ]

    await eventually(published)

    # Asking intake again (a retried activity) finds the same incident.
    again = await open_overrun_incident(
        h.stack.client,
        overrun_report(state, POLICY),
        OverrunIncidentRequest(
            maintenance=state,
            policy=POLICY,
            task_queue=h.stack.task_queue,
            status_page_id=h.stack.status_page_id,
        ),
    )
    assert (again.ticket_id, again.created) == (ticket_id, False)

    # Ended early after all: customers are told; the incident stays for the operator.
    await handle.execute_update(MaintenanceWorkflow.end, EndMaintenance())
    final = await handle.result()
    assert final.incident_ticket_id == ticket_id
    assert sum(isinstance(e, MaintenanceIncidentOpened) for e in final.events) == 1
    assert (await incident.describe()).status is WorkflowExecutionStatus.RUNNING
