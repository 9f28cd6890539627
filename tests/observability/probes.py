"""Tiny workflows for the observability tests (their own module: the sandbox re-imports it)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.events import Escalated, EscalationTrigger, ReactionBreached
    from domain.messages import OutgoingMessage
    from domain.sla import Severity
    from workflows.metrics import record_incident_metrics


@workflow.defn
class MetricsProbe:
    """Counts one escalation and one breach in workflow code, then sends one e-mail."""

    @workflow.run
    async def run(self, to: str) -> str:
        now = workflow.now()
        workflow.logger.info("probe running")
        record_incident_metrics(
            [
                Escalated(
                    at=now,
                    stage=1,
                    previous=0,
                    trigger=EscalationTrigger.ESTIMATE_MISSED,
                    reason="estimate missed",
                ),
                ReactionBreached(at=now, due=now),
            ],
            severity=Severity.CRITICAL,
        )
        sent = await workflow.execute_activity_method(
            NotificationActivities.send_message,
            OutgoingMessage(
                template="maintenance_announcement",
                message_id=f"<{workflow.uuid4().hex}@sla.test>",
                to=(to,),
                date=now,
            ),
            start_to_close_timeout=timedelta(seconds=10),
        )
        return sent.where


@activity.defn
async def traced_activity(text: str) -> str:
    """Upper-cases ``text``."""
    return text.upper()


@workflow.defn
class TracedProbe:
    """Runs one activity."""

    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            traced_activity, text, start_to_close_timeout=timedelta(seconds=10)
        )
