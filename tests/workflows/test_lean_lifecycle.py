"""What a plain incident lifecycle costs in history, and local-first e-mail when mail is slow.

Incidents started since the ``LEAN_LIFECYCLE`` patch send each e-mail as one
local activity (a marker) and fall back to a regular activity with backoff only
when that attempt fails; they do not cancel their timer when they complete.
Older runs replay the way they were recorded (``tests/histories/pre_lean_*``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

import workflows.delivery
from activities.mail import DeliveryReport, OutboxMailer
from domain.incident import Acknowledge, Resolve
from domain.read_model import SearchIndex
from domain.report import IncidentReport
from domain.sla import Severity
from tests.conftest import make_stack, report
from tests.workflows.test_incident_workflow import (
    POLICY,
    harness_for,
    kinds_of,
    next_business_morning,
)
from tests.workflows.waiting import eventually, settled
from workflows.converter import sla_data_converter
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.visibility import incident_search_attributes

PAYLOADS = sla_data_converter.payload_converter
# The target for one plain lifecycle (report -> acknowledge -> resolve).
MAX_EVENTS = 30


def _summary(event: HistoryEvent) -> str | None:
    if not event.user_metadata.HasField("summary"):
        return None
    return str(PAYLOADS.from_payload(event.user_metadata.summary, str))


def _upserts(events: list[HistoryEvent]) -> list[Mapping[str, Payload]]:
    return [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]


async def test_a_plain_lifecycle_sends_mail_locally_and_stays_within_30_events(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker, harness_for(stack) as h:
        # Paced like an operator: every step gets a workflow task of its own.
        incident = await h.report(login_impossible=False, workaround_available=True)  # minor
        await settled(incident.handle)
        await incident.handle.execute_update(
            IncidentWorkflow.acknowledge,
            Acknowledge(severity=Severity.MINOR, estimate=incident.received + timedelta(days=1)),
        )
        await settled(incident.handle)
        await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="ok"))
        await incident.handle.result()

        events = [e async for e in incident.handle.fetch_history_events()]
        types = [e.event_type for e in events]
        assert len(events) <= MAX_EVENTS, [EventType.Name(t) for t in types]
        # No e-mail needed an activity task. The acknowledgement moved the next
        # deadline (one timer cancelled and one started); resolving cancelled none.
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in types
        assert types.count(EventType.EVENT_TYPE_TIMER_STARTED) == 2
        assert types.count(EventType.EVENT_TYPE_TIMER_CANCELED) == 1
        # The starter set the search attributes: opening upserts none of ours
        # (only the patch's TemporalChangeVersion); acknowledge and resolve one each.
        upserted = [sorted(fields) for fields in _upserts(events)]
        assert upserted == [["TemporalChangeVersion"], ["TicketStatus"], ["TicketStatus"]]
        mail_markers = [
            s
            for e in events
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and (s := _summary(e)) is not None
            and s.startswith("e-mail ")
        ]
        assert [s.split()[1] for s in mail_markers] == ["receipt", "acknowledgement", "resolution"]
        assert kinds_of(stack) == ["receipt", "acknowledgement", "resolution"]


async def test_search_attributes_the_starter_got_wrong_are_corrected_at_open(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker:
        received = await stack.now()
        ticket = f"INC-TEST-{uuid.uuid4().hex[:8].upper()}"
        incident_report = IncidentReport.model_validate(report(login_impossible=False))
        right = POLICY.deadlines(Severity.MAJOR, received)
        # E.g. an intake service with an older holiday table than the worker's.
        wrong = SearchIndex(
            ticket_status="new",
            severity="major",
            company=incident_report.company,
            channel=incident_report.channel.value,
            escalation_stage="0",
            reaction_due=right.reaction_due + timedelta(days=1),
            resolution_due=right.resolution_due,
            sla_breached=False,
            all_users=False,
        )
        handle = await stack.client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(
                ticket_id=ticket,
                report=incident_report,
                received_at=received,
                policy=POLICY,
                status_page_id=stack.status_page_id,
                search_index=wrong,
            ),
            id=ticket,
            task_queue=stack.task_queue,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(k, v) for k, v in incident_search_attributes(wrong)]
            ),
        )
        await settled(handle)
        await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="ok"))
        await handle.result()

        events = [e async for e in handle.fetch_history_events()]
        (opening, *_) = [
            fields for fields in _upserts(events) if "TemporalChangeVersion" not in fields
        ]
        assert sorted(opening) == ["ReactionDue"]  # only what differed
        corrected = PAYLOADS.from_payload(opening["ReactionDue"], datetime)
        assert corrected == right.reaction_due


@dataclass
class SlowFirstAttempt:
    """A mail server that hangs on the first attempt of each message, then accepts it."""

    outbox: OutboxMailer
    hang: float
    attempts: Counter[str] = field(default_factory=Counter)

    async def send(self, message: EmailMessage) -> DeliveryReport:
        message_id = str(message["Message-ID"])
        self.attempts[message_id] += 1
        if self.attempts[message_id] == 1:
            await asyncio.sleep(self.hang)  # cancelled when the local attempt times out
        return await self.outbox.send(message)


async def test_mail_slower_than_the_local_attempt_goes_out_once_by_activity_and_deadlines_keep_time(
    time_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workflow reads the limit when it sends (the module is shared with the sandbox).
    monkeypatch.setattr(workflows.delivery, "LOCAL_ATTEMPT", timedelta(milliseconds=300))
    server = SlowFirstAttempt(OutboxMailer(tmp_path / "outbox"), hang=30.0)
    stack = make_stack(time_env.client, time_env, tmp_path, mailer=server)
    async with stack.worker, harness_for(stack) as h:
        await stack.skip_to(next_business_morning(await stack.now()))
        incident = await h.report(login_impossible=False)  # major: reaction 1 h
        due = POLICY.deadlines(Severity.MAJOR, incident.received).reaction_due

        async def receipt_sent() -> None:
            assert kinds_of(stack) == ["receipt"]

        await eventually(receipt_sent, 10)
        await settled(incident.handle)
        events = [e async for e in incident.handle.fetch_history_events()]
        scheduled = [
            _summary(e) or ""
            for e in events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        assert [s.split()[1] for s in scheduled] == ["receipt"], scheduled
        assert sum(server.attempts.values()) == 2  # the local attempt, then the activity

        # The hanging attempt held the workflow task for at most the limit:
        # the reaction deadline is still recorded at its own instant.
        await stack.skip_to(due + timedelta(minutes=1))

        async def breached_on_time() -> None:
            view = await incident.view()
            (breach,) = [e for e in view.events if e.type == "reaction_breached"]
            assert breach.at - due < timedelta(seconds=5)

        await eventually(breached_on_time, 10)
        await settled(incident.handle)
    messages = stack.emails()
    assert Counter(str(m["X-SLA-Kind"]) for m in messages)["receipt"] == 1
    assert len({str(m["Message-ID"]) for m in messages}) == len(messages)
