"""Ticket-monitoring I/O: the business-day check, reading open tickets, writing reports.

The rules live in :mod:`domain.audit`; these activities gather their inputs
(visibility lists, the incidents' ``view`` query, the change requests' search
attributes and history) and write the report files. The client is injected
(``worker.py`` wires it), so tests can run them against any server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError

from activities.files import write_atomic
from activities.rendering import MessageRenderer
from domain.audit import (
    AuditReport,
    DevTicketSummary,
    UnreadableTicket,
    development_report,
    support_report,
)
from domain.messages import OutgoingMessage
from domain.sla import SlaPolicy
from domain.view import IncidentView
from workflows import names

INCIDENT_WORKFLOW = "IncidentWorkflow"
CHANGE_REQUEST_WORKFLOW = "ChangeRequestWorkflow"
"""Workflow type of change requests (development tickets); owned by the change-request feature."""

TASK_QUEUE_PATTERN = r"^[A-Za-z0-9._:/@-]+$"
"""What a task-queue filter may look like (it is embedded in visibility queries)."""

# History events that show somebody moved a change request on: a signal or an
# accepted update (an operator's command) or a search-attribute upsert (its
# lifecycle state changed).
_PROGRESS_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    }
)


def _scope(task_queue: str | None) -> str:
    # Task queue names are validated by the request models (no quotes), so
    # they can be embedded in the visibility query as they are.
    return f" AND TaskQueue = '{task_queue}'" if task_queue else ""


def incident_query(task_queue: str | None = None) -> str:
    """Visibility query for the open incidents (optionally on one task queue only)."""
    return (
        f"WorkflowType = '{INCIDENT_WORKFLOW}' AND ExecutionStatus = 'Running'"
        f" AND TicketStatus != 'resolved'{_scope(task_queue)}"
    )


def change_request_query(task_queue: str | None = None) -> str:
    """Visibility query for the open change requests (optionally on one task queue only)."""
    return (
        f"WorkflowType = '{CHANGE_REQUEST_WORKFLOW}' AND ExecutionStatus = 'Running'"
        f"{_scope(task_queue)}"
    )


class AuditDayRequest(BaseModel):
    """Input of :meth:`AuditActivities.check_audit_day`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    at: datetime


class AuditDay(BaseModel):
    """The audit's calendar day in the policy's zone, and whether it is a business day."""

    model_config = ConfigDict(frozen=True)

    day: date
    business_day: bool


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


class VisibilityDevTickets:
    """Open development tickets from the change-request workflows (a ``DevTicketSource``).

    Search attributes give the ticket, company and lifecycle state; the last
    progress is the newest signal, accepted update or search-attribute upsert in
    the workflow's history (read newest first), else its start.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str | None = None,
        concurrency: int = 8,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        """Read through ``client``.

        Args:
            client: Reaches visibility and the workflows' histories.
            task_queue: Only change requests on this task queue (``None``: all).
            concurrency: At most this many history reads at a time.
            on_progress: Called after each ticket (the activity heartbeats).
        """
        self._client = client
        self._task_queue = task_queue
        self._gate = asyncio.Semaphore(concurrency)
        self._on_progress = on_progress

    async def open_dev_tickets(self) -> list[DevTicketSummary]:
        """Every running change request."""
        executions = [
            e async for e in self._client.list_workflows(change_request_query(self._task_queue))
        ]
        return list(await asyncio.gather(*(self._summary(e) for e in executions)))

    async def _summary(self, execution: WorkflowExecution) -> DevTicketSummary:
        attributes = execution.typed_search_attributes
        async with self._gate:
            progress = await self._last_progress(execution.id, execution.run_id)
        if self._on_progress is not None:
            self._on_progress()
        return DevTicketSummary(
            key=execution.id,
            dev_ticket=attributes.get(names.DEV_TICKET),
            company=attributes.get(names.COMPANY),
            lifecycle_state=attributes.get(names.LIFECYCLE_STATE),
            opened_at=execution.start_time,
            last_progress_at=max(progress or execution.start_time, execution.start_time),
        )

    async def _last_progress(self, workflow_id: str, run_id: str) -> datetime | None:
        token = b""
        while True:
            response = await self._client.workflow_service.get_workflow_execution_history_reverse(
                GetWorkflowExecutionHistoryReverseRequest(
                    namespace=self._client.namespace,
                    execution=ExecutionRef(workflow_id=workflow_id, run_id=run_id),
                    maximum_page_size=100,
                    next_page_token=token,
                ),
                retry=True,
            )
            for event in response.history.events:
                if event.event_type in _PROGRESS_EVENTS:
                    return event.event_time.ToDatetime().replace(tzinfo=UTC)
            token = response.next_page_token
            if not token:
                return None


class AuditActivities:
    """The audit activities; client, report directory and renderer are injected."""

    def __init__(
        self,
        client: Client,
        directory: Path,
        renderer: MessageRenderer | None = None,
        *,
        concurrency: int = 8,
        query_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        """Create the activities.

        Args:
            client: Reaches visibility and the incident workflows.
            directory: Where reports are written (``$SLA_DATA_DIR/audits``).
            renderer: Renders the text form of a report (the e-mail's text).
            concurrency: At most this many ``view`` queries at a time.
            query_timeout: How long one incident may take to answer.
        """
        self._client = client
        self._directory = directory
        self._renderer = renderer or MessageRenderer()
        self._concurrency = concurrency
        self._query_timeout = query_timeout

    @activity.defn
    async def check_audit_day(self, request: AuditDayRequest) -> AuditDay:
        """The audit's local day and whether the policy calendar has business hours on it."""
        calendar = request.policy.calendar
        day = request.at.astimezone(calendar.zone).date()
        return AuditDay(day=day, business_day=calendar.is_business_day(day))

    @activity.defn
    async def audit_support_tickets(self, request: CollectRequest) -> AuditReport:
        """The daily report: every open incident's view, judged by :func:`support_report`."""
        # Imported here: workflows import activities' models, not the other way round.
        from workflows.incident import IncidentWorkflow

        query = incident_query(request.task_queue)
        # A continued-as-new incident can briefly be listed twice; one view is enough.
        ids = list(dict.fromkeys([e.id async for e in self._client.list_workflows(query)]))
        gate = asyncio.Semaphore(self._concurrency)
        views: list[IncidentView] = []
        unreadable: list[UnreadableTicket] = []

        async def read(ticket_id: str) -> None:
            async with gate:
                handle = self._client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
                try:
                    views.append(
                        await handle.query(IncidentWorkflow.view, rpc_timeout=self._query_timeout)
                    )
                except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
                    # One stuck or broken incident must not cost the support lead
                    # the whole audit: it is reported as unreadable instead.
                    unreadable.append(UnreadableTicket(ticket_id=ticket_id, error=str(error)))
                activity.heartbeat(len(views) + len(unreadable))

        await asyncio.gather(*(read(i) for i in ids))
        activity.logger.info(
            "audited %d open incidents (%d unreadable)", len(views), len(unreadable)
        )
        return support_report(
            request.audit_id, request.at, request.day, request.policy, views, unreadable
        )

    @activity.defn
    async def audit_dev_tickets(self, request: CollectRequest) -> AuditReport:
        """The weekly report over the open change requests (see :class:`VisibilityDevTickets`)."""
        source = VisibilityDevTickets(
            self._client,
            task_queue=request.task_queue,
            concurrency=self._concurrency,
            on_progress=activity.heartbeat,
        )
        tickets = await source.open_dev_tickets()
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
