"""A reply to a resolved ticket through the real mailbox intake (dovecot) and Temporal.

Dovecot as in ``test_mailbox_dovecot.py``; the sink is the real
:class:`service.mail_sink.TemporalIntakeSink` against the time-skipping server
with a worker. Within the reopen window a reply is kept on the closed ticket
(``[reopen] on_reply = "note"``: timeline + team notice, still closed) or
reopens it (``"reopen"``); after the window it opens a new report, as before.
Idempotent by Message-ID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.notifications import MessageKind
from domain.sla import ReplyHandling, SlaPolicy
from service.incidents import Targets
from service.mail_sink import TemporalIntakeSink
from service.mailbox import ImapSettings, IntakeRound, MailIntake
from service.queries import incident_view
from tests.conftest import make_stack
from tests.realservers.dovecot import Dovecot, dovecot_or_skip, running_dovecot
from tests.realservers.test_mailbox_dovecot import OURS, mail
from tests.workflows.test_incident_workflow import POLICY, Harness, harness_for
from tests.workflows.test_reopen_workflow import resolved_incident
from tests.workflows.waiting import eventually
from workflows.incident import IncidentWorkflow

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    binary = dovecot_or_skip()
    with running_dovecot(binary) as server:
        yield server


@pytest.fixture
async def h(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    stack = make_stack(time_env.client, time_env, tmp_path / "stack")
    async with stack.worker, harness_for(stack) as harness:
        yield harness


def mailbox(
    server: Dovecot,
    h: Harness,
    tmp_path: Path,
    policy: SlaPolicy = POLICY,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MailIntake:
    sink = TemporalIntakeSink(
        h.stack.client,
        policy,
        targets=Targets(task_queue=h.stack.task_queue, status_page_id=h.stack.status_page_id),
        archive=None,
        clock=clock,
    )
    return MailIntake(
        ImapSettings(**server.settings()), sink, data_dir=tmp_path / "mail", our_domains=OURS
    )


def reply(ticket: str, message_id: str, text: str = "Der Fehler ist wieder da.") -> bytes:
    return mail(f"Re: Störung behoben [{ticket}]", text, message_id=message_id)


async def closed(h: Harness, ticket: str) -> None:
    handle = h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_reply_within_the_window_is_noted_on_the_closed_ticket_once(
    dovecot: Dovecot, h: Harness, tmp_path: Path
) -> None:
    incident = await resolved_incident(h)
    resolved_at = await h.stack.now()
    # The mailbox judges the window by its clock: the time-skipping server's.
    async with mailbox(dovecot, h, tmp_path, clock=lambda: resolved_at) as box:
        dovecot.append(reply(incident.ticket, "<r-1@beispiel-versand.de>"))
        assert await box.run_once() == IntakeRound(replies=1, tickets=(incident.ticket,))
        await closed(h, incident.ticket)
        view = await incident_view(h.stack.client, incident.ticket)
        assert view.status == "resolved"
        assert [e.type for e in view.events][-1] == "customer_message"

        async def team_told() -> None:
            assert len(h.stack.emails_of_kind(MessageKind.CUSTOMER_MESSAGE)) == 1

        await eventually(team_told)
        run = (await incident.handle.describe()).run_id

        # The same mail again (delivered twice): recorded once, no new run.
        dovecot.append(reply(incident.ticket, "<r-1@beispiel-versand.de>"))
        again = await box.run_once()
        assert again.opened == 0 and again.deferred == 0
        assert (await incident.handle.describe()).run_id == run
        view = await incident_view(h.stack.client, incident.ticket)
        assert [e.type for e in view.events].count("customer_message") == 1
    assert h.stack.emails_of_kind(MessageKind.REOPENED) == []


async def test_a_reply_reopens_when_the_policy_says_so(
    dovecot: Dovecot, h: Harness, tmp_path: Path
) -> None:
    incident = await resolved_incident(h)
    now = await h.stack.now()
    policy = POLICY.model_copy(
        update={"reopen": POLICY.reopen.model_copy(update={"on_reply": ReplyHandling.REOPEN})}
    )
    async with mailbox(dovecot, h, tmp_path, policy, clock=lambda: now) as box:
        dovecot.append(reply(incident.ticket, "<r-2@beispiel-versand.de>"))
        assert await box.run_once() == IntakeRound(replies=1, tickets=(incident.ticket,))

    async def reopened() -> None:
        view = await incident_view(h.stack.client, incident.ticket)
        assert view.status == "new"
        assert [e.type for e in view.events][-2:] == ["reopened", "customer_message"]
        (event,) = [e for e in view.events if e.type == "reopened"]
        assert event.source == "customer_reply"
        assert event.reason.startswith(
            "Antwort des Kunden (erika.mustermann@beispiel-versand.de): "
        )
        assert len(h.stack.emails_of_kind(MessageKind.REOPENED)) == 1

    await eventually(reopened)
    h.started.append(h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident.ticket))


async def test_a_reply_after_the_window_opens_a_new_report(
    dovecot: Dovecot, h: Harness, tmp_path: Path
) -> None:
    incident = await resolved_incident(h)
    weeks_later = await h.stack.now() + timedelta(weeks=4)
    async with mailbox(dovecot, h, tmp_path, clock=lambda: weeks_later) as box:
        dovecot.append(reply(incident.ticket, "<r-3@beispiel-versand.de>"))
        round_ = await box.run_once()
    assert round_.opened == 1 and round_.replies == 0
    (new_ticket,) = round_.tickets
    assert new_ticket != incident.ticket
    h.started.append(h.stack.client.get_workflow_handle_for(IncidentWorkflow.run, new_ticket))
    view = await incident_view(h.stack.client, incident.ticket)
    assert "customer_message" not in [e.type for e in view.events]
