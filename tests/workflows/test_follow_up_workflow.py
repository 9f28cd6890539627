"""Follow-ups in the workflow (issue 16, rules 3): reminded in business time until done.

The instants come from the ``add_business_time`` local activity (recorded in
history); the expectations here come from the policy's calendar, never from
arithmetic in this file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from domain.errors import DomainErrorKind
from domain.incident import (
    Acknowledge,
    DecideResources,
    Escalate,
    ExtendEstimate,
    RecordDiscussion,
    Resolve,
)
from domain.notifications import MessageKind
from domain.read_model import IncidentView
from domain.sla import Severity
from tests.conftest import Stack
from tests.workflows.test_incident_workflow import (
    CONTACTS,
    POLICY,
    Harness,
    event_types,
    harness_for,
    recipients,
    refused,
)
from tests.workflows.waiting import eventually
from workflows.incident import IncidentWorkflow

CALENDAR = POLICY.calendar
FOLLOW_UP = POLICY.follow_up


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    async with harness_for(stack) as harness:
        yield harness


async def test_a_missed_estimate_is_reminded_then_recorded_overdue_until_a_new_one(
    h: Harness,
) -> None:
    incident = await h.report(login_impossible=False)
    estimate = incident.received + timedelta(hours=1)
    await incident.handle.execute_update(
        IncidentWorkflow.acknowledge, Acknowledge(severity=Severity.MAJOR, estimate=estimate)
    )
    due = CALENDAR.add(estimate, FOLLOW_UP.reestimate_within[Severity.MAJOR])
    expected_reminders = sum(
        1
        for k in range(1, 50)
        if CALENDAR.add(estimate, k * FOLLOW_UP.reestimate_reminder_every) <= due
    )
    await h.stack.skip_to(due + timedelta(seconds=1))

    async def overdue() -> IncidentView:
        view = await incident.view()
        assert event_types(view).count("reestimate_overdue") == 1
        assert event_types(view).count("follow_up_reminded") == expected_reminders
        return view

    view = await eventually(overdue)
    (recorded,) = [e for e in view.events if e.type == "reestimate_overdue"]
    assert recorded.due == due and recorded.missed_at == estimate

    async def mailed() -> None:
        told = h.stack.emails_of_kind(MessageKind.REESTIMATE_OVERDUE)
        assert len(told) == 1 and recipients(told[0]) == {CONTACTS.support_lead}
        reminders = h.stack.emails_of_kind(MessageKind.FOLLOW_UP_REMINDER)
        assert len(reminders) == expected_reminders
        assert all(recipients(m) == {CONTACTS.on_duty, CONTACTS.support_lead} for m in reminders)

    await eventually(mailed)

    # The new estimate ends the reminders; time passing brings no more.
    new_estimate = await h.stack.now() + timedelta(days=3)
    await incident.handle.execute_update(
        IncidentWorkflow.extend, ExtendEstimate(estimate=new_estimate, reason="Ersatzteil")
    )
    later = CALENDAR.add(await h.stack.now(), 3 * FOLLOW_UP.reestimate_reminder_every)
    await h.stack.skip_to(later)
    view = await incident.view()
    assert event_types(view).count("follow_up_reminded") == expected_reminders
    await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    await incident.handle.result()


async def test_stage_3_and_an_open_critical_incident_are_reminded_and_the_discussion_recorded(
    h: Harness,
) -> None:
    incident = await h.report(login_impossible=True)
    # Three business hours: the estimate is missed only after the first open
    # reminder (one business hour), at whatever time of day the test runs. Three
    # wall-clock hours from an evening report ran into the night, and the missed
    # estimate's reminder came first.
    estimate = CALENDAR.add(incident.received, timedelta(hours=3))
    acked = await incident.handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.CRITICAL, estimate=estimate),
    )
    assert acked.escalation_stage == 0
    await refused(
        incident.handle.execute_update(
            IncidentWorkflow.record_discussion, RecordDiscussion(note="zu früh")
        ),
        DomainErrorKind.INVALID_ESCALATION,
    )
    acknowledged_at = (await incident.view()).acknowledged_at
    assert acknowledged_at is not None
    first = CALENDAR.add(acknowledged_at, FOLLOW_UP.critical_open_reminder_every)
    await h.stack.skip_to(first + timedelta(seconds=1))

    async def reminded_open() -> None:
        view = await incident.view()
        reminders = [e for e in view.events if e.type == "follow_up_reminded"]
        assert [(r.kind.value, r.at) for r in reminders] == [("critical_open", first)]

    await eventually(reminded_open)

    await incident.handle.signal(
        IncidentWorkflow.escalate, Escalate(stage=3, reason="Kunde verlangt Geschäftsführung")
    )

    async def escalated() -> IncidentView:
        view = await incident.view()
        assert view.escalation_stage == 3
        return view

    view = await eventually(escalated)
    (stage_3,) = [e for e in view.events if e.type == "escalated"]
    decision_due = CALENDAR.add(stage_3.at, FOLLOW_UP.decision_reminder_every)
    await h.stack.skip_to(decision_due + timedelta(seconds=1))

    async def management_reminded() -> None:
        asked = [
            m
            for m in h.stack.emails_of_kind(MessageKind.FOLLOW_UP_REMINDER)
            if CONTACTS.management in recipients(m)
        ]
        assert len(asked) == 1
        assert "Geschäftsführung" in str(asked[0]["Subject"])

    await eventually(management_reminded)
    await incident.handle.signal(
        IncidentWorkflow.decide_resources, DecideResources(decision="Externer Dienstleister")
    )
    # Stage 3 includes stage 2's task: the discussion can be recorded now.
    summary = await incident.handle.execute_update(
        IncidentWorkflow.record_discussion,
        RecordDiscussion(note="Workaround vereinbart", experts=("Netzwerkteam",)),
    )
    assert summary.escalation_stage == 3
    await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    result = await incident.handle.result()
    assert result.view is not None
    assert "discussion_recorded" in event_types(result.view)
