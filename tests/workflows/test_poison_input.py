"""A report no mail server can take delays nothing else of its incident (issue 14).

Before: an intake e-mail like ``=?utf-8?q?x=0D=0A?=@example.de`` passed the
address check, then composing the receipt raised ``ValueError`` on every
attempt; the retry policy had no limit and effects go out in order, so the
critical incident's on-duty page was never sent, its status post never
appeared and no ``delivery_failed`` was recorded. Intake refuses such an
address now; this test starts the workflow directly (as an incident started
before that check would run) to prove the second line of defence: a message
that cannot be composed is a permanent failure, recorded at once, and the
page, the post and the deadlines keep their time.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.mail import DeliveryReport, OutboxMailer
from domain.commands import Acknowledge
from domain.report import IncidentReport
from domain.sla import EffectsPolicy, Severity
from starter import report_incident
from tests.conftest import make_stack, publishing_monitoring, report, skip_time
from tests.workflows.oncall_support import terminate_settled
from tests.workflows.test_incident_workflow import POLICY, harness_for, next_business_morning
from tests.workflows.waiting import eventually
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.status_page import StatusPageWorkflow

POISON = "=?utf-8?q?x=0D=0A?=@example.de"


async def test_a_poison_address_on_a_critical_incident_delays_no_page_post_or_deadline(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    # Past validation, as an incident started before intake refused the address.
    poisoned = IncidentReport.model_validate(report(channel="monitoring")).model_copy(
        update={"email": POISON}
    )
    ticket = f"INC-POISON-{uuid.uuid4().hex[:6].upper()}"
    async with stack.worker:
        try:
            received = next_business_morning(await stack.now())
            await stack.skip_to(received)
            received = await stack.now()
            handle = await time_env.client.start_workflow(
                IncidentWorkflow.run,
                IncidentInput(
                    ticket_id=ticket,
                    report=poisoned,
                    received_at=received,
                    policy=POLICY,
                    status_page_id=stack.status_page_id,
                ),
                id=ticket,
                task_queue=stack.task_queue,
            )

            async def page_post_and_failure() -> None:
                kinds = [str(m["X-SLA-Kind"]) for m in stack.emails()]
                assert "on_duty_page" in kinds, kinds
                assert "delivery_failed" in kinds, kinds  # the support lead is told
                view = await handle.query(IncidentWorkflow.view)
                failed = [e for e in view.events if e.type == "delivery_failed"]
                assert failed and POISON in failed[0].to, view.events
                assert "cannot be composed" in failed[0].error
                page = time_env.client.get_workflow_handle(stack.status_page_id)
                board = await page.query(StatusPageWorkflow.board)
                assert [e.ticket_id for e in board.entries] == [ticket]

            await eventually(page_post_and_failure, seconds=15)

            due = POLICY.deadlines(Severity.CRITICAL, received).reaction_due
            await stack.skip_to(due + timedelta(minutes=1))

            async def breached_on_time() -> None:
                view = await handle.query(IncidentWorkflow.view)
                (breach,) = [e for e in view.events if e.type == "reaction_breached"]
                assert breach.at - due < timedelta(seconds=5)

            await eventually(breached_on_time, seconds=15)
        finally:
            await terminate_settled(time_env.client, [ticket, stack.status_page_id])


async def test_an_oversized_command_is_refused_by_the_validator_and_changes_nothing(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker, harness_for(stack) as h:
        incident = await h.report(login_impossible=False)
        # Past the client's checks (a client that does not use our models).
        huge = Acknowledge.model_construct(
            severity=Severity.MAJOR,
            estimate=await stack.now() + timedelta(days=2),
            all_users=False,
            status_message="x" * 1_000_000,
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await incident.handle.execute_update(IncidentWorkflow.acknowledge, huge)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "InvalidInput"
        assert "status_message: at most 5000 characters" in cause.message
        view = await incident.view()
        assert view.status.value == "new"
        assert all(e.type != "acknowledged" for e in view.events)


class DownForGood:
    """An SMTP stand-in that never comes back for one address (others go through)."""

    def __init__(self, outbox: OutboxMailer, dead: str) -> None:
        self.outbox = outbox
        self.dead = dead
        self.refused = 0

    async def send(self, message: EmailMessage) -> DeliveryReport:
        if self.dead in str(message["To"]):
            self.refused += 1
            raise ConnectionRefusedError("mail server unreachable")
        return await self.outbox.send(message)


async def test_a_message_that_keeps_failing_is_given_up_after_the_policy_time(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # Transient failures forever (not a permanent refusal): retried with backoff
    # for [effects] give_up_after, then recorded as not delivered; what comes
    # after it goes out.
    policy = POLICY.model_copy(update={"effects": EffectsPolicy(give_up_after=timedelta(hours=1))})
    mailer = DownForGood(OutboxMailer(tmp_path / "outbox"), dead="erika.mustermann@")
    stack = make_stack(time_env.client, time_env, tmp_path, mailer=mailer)
    async with stack.worker, harness_for(stack) as h:
        await stack.skip_to(next_business_morning(await stack.now()))
        ticket = await report_incident(
            stack.client,
            report(login_impossible=False, email="erika.mustermann@beispiel-versand.de"),
            policy=policy,
            task_queue=stack.task_queue,
            status_page_id=stack.status_page_id,
        )
        handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
        h.started.append(handle)
        for _ in range(15):  # retries back off up to minutes: move the clock past the hour
            await skip_time(time_env, timedelta(minutes=5))

        async def given_up() -> None:
            view = await handle.query(IncidentWorkflow.view)
            failed = [e for e in view.events if e.type == "delivery_failed"]
            assert failed, [e.type for e in view.events]
            assert "gave up after 1 h of retries" in failed[0].error

        await eventually(given_up, seconds=15)
        assert mailer.refused >= 3
        kinds = [str(m["X-SLA-Kind"]) for m in stack.emails()]
        assert "delivery_failed" in kinds  # the support lead is told; the queue moved on


async def test_a_customer_mail_server_that_keeps_deferring_holds_back_no_page_or_post(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # The reporter's receipt is the first effect of a critical report; it fails
    # transiently for as long as the test runs (greylisting, a full mailbox).
    # In one lane the on-duty page and the status post would wait behind its
    # retries for up to [effects] give_up_after; in the customers' own lane
    # they go out at once.
    mailer = DownForGood(OutboxMailer(tmp_path / "outbox"), dead="erika.mustermann@")
    stack = make_stack(time_env.client, time_env, tmp_path, mailer=mailer)
    async with stack.worker, harness_for(stack) as h:
        await stack.skip_to(next_business_morning(await stack.now()))
        ticket = await report_incident(
            stack.client,
            report(channel="monitoring", email="erika.mustermann@beispiel-versand.de"),
            policy=publishing_monitoring(POLICY),
            task_queue=stack.task_queue,
            status_page_id=stack.status_page_id,
        )
        handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
        h.started.append(handle)

        async def paged_and_posted_while_the_receipt_waits() -> None:
            assert mailer.refused >= 1  # the receipt was tried and deferred
            kinds = [str(m["X-SLA-Kind"]) for m in stack.emails()]
            assert "on_duty_page" in kinds, kinds
            assert "receipt" not in kinds, kinds
            page = time_env.client.get_workflow_handle(stack.status_page_id)
            board = await page.query(StatusPageWorkflow.board)
            assert [e.ticket_id for e in board.entries] == [ticket]

        await eventually(paged_and_posted_while_the_receipt_waits, seconds=15)
        view = await handle.query(IncidentWorkflow.view)
        # Still retrying, not given up: the lane waits, only the team's went on.
        assert all(e.type != "delivery_failed" for e in view.events), view.events

        mailer.dead = "\x00nobody"  # the customer's server accepts again
        await skip_time(time_env, timedelta(minutes=10))  # past the next retry

        async def the_receipt_follows() -> None:
            kinds = [str(m["X-SLA-Kind"]) for m in stack.emails()]
            assert "receipt" in kinds, kinds

        await eventually(the_receipt_follows, seconds=15)
