"""Reopen and a noted reply: new runs of a closed ticket on the time-skipping server.

A resolved incident is reopened by a new run with the same workflow ID that
starts from the closed state (``IncidentInput.reopen``): the customer is told
the reason and the new reaction deadline, the team gets its notice, and the new
period's reaction deadline warns and breaches on time. A reply kept as a note
(``IncidentInput.note``) runs once and ends with the ticket still closed.
Each test runs once with a caching worker and once with a cache-less one
(every workflow task a full replay, as after a worker crash).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.incident import Acknowledge, NoteReply, Resolve
from domain.notifications import MessageKind
from domain.read_model import IncidentView
from domain.sla import Severity
from service.incidents import Targets
from service.queries import incident_view
from service.reopen import ReopenRefused, closed_ticket, note_reply, reopen_incident
from tests import conftest
from tests.conftest import make_stack
from tests.workflows.test_incident_workflow import (
    BERLIN,
    CONTACTS,
    POLICY,
    REPORTER,
    Harness,
    Incident,
    harness_for,
    next_business_morning,
    recipients,
)
from tests.workflows.waiting import eventually, settled
from workflows.incident import IncidentWorkflow


@pytest.fixture(params=[False, True], ids=["cached", "cacheless"])
async def h(
    request: pytest.FixtureRequest,
    time_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    if request.param:
        # Every workflow task a full replay, the path a worker takes after a crash.
        monkeypatch.setattr(conftest, "max_cached_workflows", lambda: 0)
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker, harness_for(stack) as harness:
        yield harness


def targets(h: Harness) -> Targets:
    return Targets(task_queue=h.stack.task_queue, status_page_id=h.stack.status_page_id)


async def resolved_incident(h: Harness) -> Incident:
    """A major incident, acknowledged and resolved on a business morning; its run closed."""
    await h.stack.skip_to(next_business_morning(await h.stack.now()))
    incident = await h.report(login_impossible=False)
    await settled(incident.handle)
    now = await h.stack.now()
    await incident.handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=2)),
    )
    await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    await incident.handle.result()
    return incident


async def view_of(h: Harness, ticket: str) -> IncidentView:
    return await incident_view(h.stack.client, ticket)


def berlin(instant: datetime) -> str:
    return f"{instant.astimezone(BERLIN):%d.%m.%Y, %H:%M} Uhr"


async def test_a_reopen_tells_the_customer_and_its_reaction_deadline_fires_on_time(
    h: Harness,
) -> None:
    incident = await resolved_incident(h)
    first_run = (await incident.handle.describe()).run_id
    now = await h.stack.now()

    result = await reopen_incident(
        h.stack.client,
        incident.ticket,
        reason="Fehler tritt erneut auf",
        by="ops",
        policy=POLICY,
        targets=targets(h),
        now=now,
        archive=None,
    )
    assert result.period == 2 and result.run_id != first_run
    assert result.reopened_at is not None and result.reaction_due is not None
    deadlines = POLICY.deadlines(Severity.MAJOR, result.reopened_at)
    assert result.reaction_due == deadlines.reaction_due
    handle = h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident.ticket)
    h.started.append(handle)

    async def told() -> None:
        (mail,) = h.stack.emails_of_kind(MessageKind.REOPENED)
        assert recipients(mail) == {REPORTER}
        assert mail.is_multipart()
        text = mail.get_body(("plain",))
        assert text is not None
        body = text.get_content()
        assert "wieder eröffnet" in body and "Grund: Fehler tritt erneut auf" in body
        assert berlin(deadlines.reaction_due) in body
        (team,) = h.stack.emails_of_kind(MessageKind.REOPENED_TEAM)
        assert recipients(team) == {CONTACTS.support_lead, CONTACTS.on_duty}

    await eventually(told)
    view = await view_of(h, incident.ticket)
    assert view.status == "new" and view.reaction_due == deadlines.reaction_due
    assert [e.type for e in view.events].count("resolved") == 1  # the first period is kept

    await h.stack.skip_to(deadlines.reaction_warning + timedelta(seconds=1))

    async def warned() -> None:
        assert len(h.stack.emails_of_kind(MessageKind.DEADLINE_WARNING)) == 1
        assert not (await view_of(h, incident.ticket)).reaction_breached

    await eventually(warned)
    await h.stack.skip_to(deadlines.reaction_due + timedelta(seconds=1))

    async def breached() -> IncidentView:
        view = await view_of(h, incident.ticket)
        assert view.reaction_breached
        assert len(h.stack.emails_of_kind(MessageKind.REACTION_BREACH)) == 1
        return view

    view = await eventually(breached)
    (breach,) = [e for e in view.events if e.type == "reaction_breached"]
    assert breach.due == deadlines.reaction_due

    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="wieder behoben"))
    outcome = await handle.result()
    assert outcome.reaction_breached and outcome.status == "resolved"


async def test_a_reopen_of_an_open_ticket_is_refused_and_starts_nothing(h: Harness) -> None:
    await h.stack.skip_to(next_business_morning(await h.stack.now()))
    incident = await h.report(login_impossible=False)
    await settled(incident.handle)
    run = (await incident.handle.describe()).run_id
    with pytest.raises(ReopenRefused, match="still open"):
        await reopen_incident(
            h.stack.client,
            incident.ticket,
            reason="x",
            by="ops",
            policy=POLICY,
            targets=targets(h),
            now=await h.stack.now(),
            archive=None,
        )
    assert (await incident.handle.describe()).run_id == run


async def test_a_noted_reply_runs_once_and_leaves_the_ticket_closed(h: Harness) -> None:
    incident = await resolved_incident(h)
    reply = NoteReply(
        message_id="<reply-1@beispiel-versand.de>",
        sender=REPORTER,
        subject="Re: Störung behoben",
        text="Danke, aber heute früh trat es nochmal kurz auf.",
    )
    ticket = await closed_ticket(h.stack.client, incident.ticket, archive=None)
    assert await note_reply(h.stack.client, ticket, reply, policy=POLICY, targets=targets(h))
    handle = h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident.ticket)
    result = await handle.result()
    assert result.status == "resolved"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    view = await view_of(h, incident.ticket)
    assert view.events[-1].type == "customer_message" and view.status == "resolved"

    async def team_told() -> None:
        (notice,) = h.stack.emails_of_kind(MessageKind.CUSTOMER_MESSAGE)
        assert recipients(notice) == {CONTACTS.support_lead}

    await eventually(team_told)
    assert h.stack.emails_of_kind(MessageKind.REOPENED) == []
    # The same mail again (fetched twice): nothing new starts.
    again = await closed_ticket(h.stack.client, incident.ticket, archive=None)
    assert not await note_reply(h.stack.client, again, reply, policy=POLICY, targets=targets(h))
