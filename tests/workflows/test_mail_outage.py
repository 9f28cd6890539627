"""A mail outage delays e-mails, never deadlines; after recovery every message arrives once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.mail import DeliveryReport, OutboxMailer
from domain.incident import Acknowledge, Resolve
from domain.sla import Severity
from tests.conftest import make_stack, skip_time
from tests.workflows.test_incident_workflow import (
    POLICY,
    harness_for,
    next_business_morning,
)
from tests.workflows.waiting import eventually, settled
from workflows.incident import IncidentWorkflow


@dataclass
class FlakyServer:
    """An SMTP stand-in that refuses connections while ``down``; counts every delivery."""

    outbox: OutboxMailer
    down: bool = True
    refused: int = 0
    delivered: Counter[str] = field(default_factory=Counter)

    async def send(self, message: EmailMessage) -> DeliveryReport:
        if self.down:
            self.refused += 1
            raise ConnectionRefusedError("mail server unreachable")
        self.delivered[str(message["Message-ID"])] += 1
        return await self.outbox.send(message)


async def test_deadlines_pass_on_time_while_mail_is_down_and_mail_arrives_once_after(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    server = FlakyServer(OutboxMailer(tmp_path / "outbox"))
    stack = make_stack(time_env.client, time_env, tmp_path, mailer=server)
    async with stack.worker, harness_for(stack) as h:
        await stack.skip_to(next_business_morning(await stack.now()))
        incident = await h.report(login_impossible=False)  # major: reaction 1 h
        due = POLICY.deadlines(Severity.MAJOR, incident.received).reaction_due

        # The mail server is down: the receipt keeps failing, yet the reaction
        # deadline passes exactly on time and is recorded.
        await stack.skip_to(due + timedelta(minutes=1))

        async def breached_on_time() -> None:
            view = await incident.view()
            (breach,) = [e for e in view.events if e.type == "reaction_breached"]
            assert breach.at - due < timedelta(seconds=5)

        await eventually(breached_on_time)
        assert server.refused >= 2, "the receipt was retried while the server was down"
        assert server.delivered == Counter()

        server.down = False
        await incident.handle.execute_update(
            IncidentWorkflow.acknowledge,
            Acknowledge(severity=Severity.MAJOR, estimate=await stack.now() + timedelta(hours=4)),
        )
        await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="ok"))

        async def all_delivered() -> None:
            kinds = [str(m["X-SLA-Kind"]) for m in stack.emails()]
            assert "resolution" in kinds, kinds

        # Retries back off up to minutes: move the clock so they come due.
        for _ in range(20):
            try:
                await eventually(all_delivered, 0.5)
                break
            except AssertionError:
                await skip_time(time_env, timedelta(minutes=5))
        await incident.handle.result()
        await settled(incident.handle)

        kinds = Counter(str(m["X-SLA-Kind"]) for m in stack.emails())
        assert kinds["receipt"] == 1
        assert kinds["reaction_breach"] == 1
        assert kinds["acknowledgement"] == 1
        assert kinds["resolution"] == 1
        # Each Message-ID went out exactly once after the recovery.
        assert set(server.delivered.values()) == {1}
