"""``AuditWorkflow``: one run of the ticket monitoring ("Ticketsystem-Überwachung").

Started by the Temporal Schedules of ``sla schedules apply`` (daily: support
tickets, weekly: development tickets) or at once by ``sla audit run``.
Orchestration only; the rules are in :mod:`domain.audit`. The workflow

* asks a local activity which calendar day the audit instant falls on and
  whether it is a business day (holidays need the calendar, which must not run
  in workflow code) — on a holiday the daily audit records the skip and sends
  nothing (the next business day has its own); the weekly audit moves to the
  next business day at the same time (Easter Monday, Whit Monday would skip a
  whole week otherwise);
* lets an activity read the open tickets and build the report;
* writes the report files, then e-mails the support lead;
* returns the report.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

from workflows.options import LOCAL_TIMEOUT, RETRY

WEEKLY_ON_NEXT_BUSINESS_DAY = "weekly-audit-next-business-day-2026-12"
"""Patch: a weekly audit on a holiday runs on the next business day instead of skipping."""

with workflow.unsafe.imports_passed_through():
    from activities.audit import (
        TASK_QUEUE_PATTERN,
        AuditActivities,
        AuditDay,
        AuditDayRequest,
        CollectRequest,
        StoreAuditRequest,
    )
    from activities.notifications import NotificationActivities
    from domain.audit import AuditKind, AuditReport, audit_message, skipped_report
    from domain.sla import SlaPolicy


class AuditInput(BaseModel):
    """Start input of :class:`AuditWorkflow`.

    Attributes:
        kind: ``daily`` (support tickets) or ``weekly`` (development tickets).
        policy: The policy snapshot: calendar, limits, the support lead's address.
        at: The audit instant; ``None`` means when the workflow starts. Set it
            to audit "as of" another time (tests, a re-run for a past day).
        task_queue: Only audit workflows on this task queue (``None``: every
            workflow in the namespace). Keeps tests on a shared server apart.
    """

    model_config = ConfigDict(frozen=True)

    kind: AuditKind
    policy: SlaPolicy
    at: datetime | None = None
    task_queue: str | None = Field(default=None, pattern=TASK_QUEUE_PATTERN)


@workflow.defn
class AuditWorkflow:
    """One audit run; the workflow ID is the audit ID (and the e-mail's Message-ID seed)."""

    @workflow.run
    async def run(self, input: AuditInput) -> AuditReport:
        """Audit, store the report, e-mail the support lead; returns the report."""
        audit_id = workflow.info().workflow_id
        at = input.at or workflow.now()
        day = await workflow.execute_local_activity_method(
            AuditActivities.check_audit_day,
            AuditDayRequest(policy=input.policy, at=at),
            start_to_close_timeout=LOCAL_TIMEOUT,
            summary="business day?",
        )
        if (
            not day.business_day
            and input.kind is AuditKind.WEEKLY
            and day.next_business_at is not None
            and day.next_business_day is not None
            and workflow.patched(WEEKLY_ON_NEXT_BUSINESS_DAY)
        ):
            if input.at is None:  # scheduled: wait for the day; a re-run audits as of it
                await workflow.sleep(
                    day.next_business_at - at, summary="weekly audit: next business day"
                )
            at = day.next_business_at
            day = AuditDay(day=day.next_business_day, business_day=True)
        if day.business_day:
            collect = (
                AuditActivities.audit_support_tickets
                if input.kind is AuditKind.DAILY
                else AuditActivities.audit_dev_tickets
            )
            report = await workflow.execute_activity_method(
                collect,
                CollectRequest(
                    audit_id=audit_id,
                    policy=input.policy,
                    at=at,
                    day=day.day,
                    task_queue=input.task_queue,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
                summary=f"{input.kind.value} audit",
            )
        else:
            workflow.logger.info("audit %s skipped: %s is no business day", audit_id, day.day)
            report = skipped_report(audit_id, input.kind, at, day.day, input.policy)
        message = audit_message(report, input.policy)
        await workflow.execute_activity_method(
            AuditActivities.store_audit_report,
            StoreAuditRequest(report=report, message=message),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
            summary="write report files",
        )
        if report.skipped is None:
            await workflow.execute_activity_method(
                NotificationActivities.send_message,
                message,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
                summary=f"e-mail {message.kind} to {', '.join(message.to)}",
            )
        return report
