"""Ticket-monitoring I/O: the business-day check, reading open tickets, writing reports.

The rules live in :mod:`domain.audit`; these activities gather their inputs
through an :class:`AuditReader` (in the worker ``service.audit.TemporalAuditReader``:
visibility lists, the incidents' ``view`` query, the change requests' search
attributes and history) and the worker's development-ticket tracker (open
bugs, planned change requests), and write the report files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from activities.dev_tickets import DevTicketLookup
from activities.files import write_atomic
from activities.rendering import MessageRenderer
from domain.audit import (
    AuditReport,
    DevTicketSummary,
    UnreadableTicket,
    combine_dev_tickets,
    critical_bugs,
    development_report,
    support_report,
    tracker_dev_tickets,
)
from domain.messages import OutgoingMessage
from domain.read_model import IncidentView
from domain.sla import SlaPolicy

TASK_QUEUE_PATTERN = r"^[A-Za-z0-9._:/@-]+$"
"""What a task-queue filter may look like (it is embedded in visibility queries)."""


class AuditDayRequest(BaseModel):
    """Input of :meth:`AuditActivities.check_audit_day`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    at: datetime


class AuditDay(BaseModel):
    """The audit's calendar day in the policy's zone, and whether it is a business day.

    ``next_business_at`` and ``next_business_day`` (no business day only): the
    same wall-clock time on the next business day, where a weekly audit falling
    on a holiday moves.
    """

    model_config = ConfigDict(frozen=True)

    day: date
    business_day: bool
    next_business_at: datetime | None = None
    next_business_day: date | None = None


class CollectRequest(BaseModel):
    """Input of the two audit activities.

    Attributes:
        audit_id: The run's ID (the workflow ID).
        policy: Calendar and limits.
        at: The audit instant.
        day: ``at``'s calendar day in the policy's zone.
        task_queue: Only audit workflows on this task queue (``None``: all).
    """

    model_config = ConfigDict(frozen=True)

    audit_id: str
    policy: SlaPolicy
    at: datetime
    day: date
    task_queue: str | None = Field(default=None, pattern=TASK_QUEUE_PATTERN)


class StoreAuditRequest(BaseModel):
    """Input of :meth:`AuditActivities.store_audit_report`: the report and its e-mail form."""

    model_config = ConfigDict(frozen=True)

    report: AuditReport
    message: OutgoingMessage


class StoredAudit(BaseModel):
    """Where a report was written."""

    model_config = ConfigDict(frozen=True)

    json_path: str
    text_path: str


def report_stem(report: AuditReport) -> str:
    """``<day>-<kind>``: the file name of a report without extension (one per day and kind)."""
    return f"{report.day.isoformat()}-{report.kind.value}"


class AuditReader(Protocol):
    """Where the audits read open tickets (``service.audit.TemporalAuditReader`` in the worker)."""

    async def open_incidents(
        self, task_queue: str | None, on_read: Callable[[], None]
    ) -> tuple[list[IncidentView], list[UnreadableTicket]]:
        """Every open incident's view, and those that could not be read (and why)."""
        ...

    async def open_dev_tickets(
        self, task_queue: str | None, on_read: Callable[[], None]
    ) -> list[DevTicketSummary]:
        """Every open development ticket (running change request)."""
        ...


class AuditActivities:
    """The audit activities; the ticket reader, report directory and renderer are injected."""

    def __init__(
        self,
        reader: AuditReader,
        directory: Path,
        renderer: MessageRenderer | None = None,
        *,
        tracker: DevTicketLookup | None = None,
    ) -> None:
        """Create the activities.

        Args:
            reader: Reads the open incidents and development tickets.
            directory: Where reports are written (``$SLA_DATA_DIR/audits``).
            renderer: Renders the text form of a report (the e-mail's text).
            tracker: The development-ticket tracker (bugs, planned change
                requests); ``None``: the audits see running change requests only.
        """
        self._reader = reader
        self._directory = directory
        self._renderer = renderer or MessageRenderer()
        self._tracker = tracker

    @activity.defn
    async def check_audit_day(self, request: AuditDayRequest) -> AuditDay:
        """The audit's local day and whether the policy calendar has business hours on it."""
        calendar = request.policy.calendar
        local = request.at.astimezone(calendar.zone)
        day = local.date()
        if calendar.is_business_day(day):
            return AuditDay(day=day, business_day=True)
        following = next(
            (
                day + timedelta(days=n)
                for n in range(1, 367)
                if calendar.is_business_day(day + timedelta(days=n))
            ),
            None,
        )
        if following is None:  # a calendar without business days: nothing to move to
            return AuditDay(day=day, business_day=False)
        moved = datetime.combine(following, local.time(), tzinfo=calendar.zone)
        return AuditDay(
            day=day, business_day=False, next_business_at=moved, next_business_day=following
        )

    @activity.defn
    async def audit_support_tickets(self, request: CollectRequest) -> AuditReport:
        """The daily report: every open incident's view, judged by :func:`support_report`."""
        read = 0

        def progress() -> None:
            nonlocal read
            read += 1
            activity.heartbeat(read)

        views, unreadable = await self._reader.open_incidents(request.task_queue, progress)
        tickets = await self._tracker.all() if self._tracker is not None else []
        bugs = critical_bugs(tickets, views)
        activity.logger.info(
            "audited %d open incidents (%d unreadable), %d unfixed bugs of critical incidents",
            len(views),
            len(unreadable),
            len(bugs),
        )
        return support_report(
            request.audit_id, request.at, request.day, request.policy, views, unreadable, bugs
        )

    @activity.defn
    async def audit_dev_tickets(self, request: CollectRequest) -> AuditReport:
        """The weekly report: running change requests, open bugs, planned change requests."""
        running = await self._reader.open_dev_tickets(request.task_queue, activity.heartbeat)
        tracker = self._tracker
        tracked = tracker_dev_tickets(await tracker.all()) if tracker is not None else []
        tickets = combine_dev_tickets(running, tracked)
        activity.logger.info("audited %d open development tickets", len(tickets))
        return development_report(
            request.audit_id, request.at, request.day, request.policy, tickets
        )

    @activity.defn
    async def store_audit_report(self, request: StoreAuditRequest) -> StoredAudit:
        """Write ``<day>-<kind>.json`` and ``.txt`` (the e-mail's text) atomically."""
        subject, body = self._renderer.render_message(request.message)
        stem = report_stem(request.report)
        json_path = self._directory / f"{stem}.json"
        text_path = self._directory / f"{stem}.txt"
        document = request.report.model_dump_json(indent=2) + "\n"
        text = f"{subject}\n\n{body}"

        def write() -> None:
            write_atomic(json_path, document.encode("utf-8"))
            write_atomic(text_path, text.encode("utf-8"))

        await asyncio.to_thread(write)
        return StoredAudit(json_path=str(json_path), text_path=str(text_path))
