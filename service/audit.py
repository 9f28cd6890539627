"""What the ticket audits read: open incidents and open development tickets.

:class:`TemporalAuditReader` is the ``activities.audit.AuditReader`` the worker
wires: visibility lists the open incidents with their status; those the
archive holds at that status are read from it, all in a few queries (the feed
archives every change within its workflow task); the rest are read by their
``view`` query, with a timeout so that one stuck incident is reported as
unreadable instead of costing the whole audit. The running change requests
come from visibility (search attributes, and the last progress from their
history).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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

from archive.errors import ArchiveError
from archive.store import STREAMS_OF_MAX, ArchiveStore
from domain.archive import StreamKind
from domain.audit import DevTicketSummary, UnreadableTicket
from domain.incident import IncidentStatus
from domain.read_model import IncidentView
from service.incident_source import archived_incident_view
from service.visibility import Query, executions
from workflows import names
from workflows.change_request import ChangeRequestWorkflow
from workflows.incident import IncidentWorkflow

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


log = logging.getLogger(__name__)


def incident_query(task_queue: str | None = None) -> Query:
    """Visibility query for the open incidents (optionally on one task queue only)."""
    return (
        Query.workflows(IncidentWorkflow)
        .running()
        .where_not(names.TICKET_STATUS, IncidentStatus.RESOLVED)
        .on_task_queue(task_queue)
    )


def change_request_query(task_queue: str | None = None) -> Query:
    """Visibility query for the open change requests (optionally on one task queue only)."""
    return Query.workflows(ChangeRequestWorkflow).running().on_task_queue(task_queue)


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
        query = change_request_query(self._task_queue)
        found = [e async for e in executions(self._client, query)]
        return list(await asyncio.gather(*(self._summary(e) for e in found)))

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


class TemporalAuditReader:
    """Reads open tickets for the audits (``activities.audit.AuditReader``).

    Args:
        client: Reaches visibility and the workflows.
        concurrency: At most this many ``view`` queries or history reads at a time.
        query_timeout: How long one incident may take to answer.
    """

    def __init__(
        self,
        client: Client,
        *,
        concurrency: int = 8,
        query_timeout: timedelta = timedelta(seconds=10),
        archive: Callable[[], ArchiveStore] | None = None,
    ) -> None:
        self._client = client
        self._concurrency = concurrency
        self._query_timeout = query_timeout
        self._archive = archive

    async def open_incidents(
        self, task_queue: str | None, on_read: Callable[[], None]
    ) -> tuple[list[IncidentView], list[UnreadableTicket]]:
        """Every open incident's view; those that do not answer are reported unreadable.

        Visibility lists them with their status. With an archive, a listed
        incident whose archived view has that same status is read from the
        archive (a few queries for all of them); the others — not archived
        yet, or archived behind Temporal, e.g. during an archive outage — are
        asked by their ``view`` query.
        """
        statuses = {
            e.id: e.typed_search_attributes.get(names.TICKET_STATUS)
            async for e in executions(self._client, incident_query(task_queue))
        }
        views: list[IncidentView] = []
        if self._archive is not None and statuses:
            try:
                views = await asyncio.to_thread(self._archived_views, statuses)
            except ArchiveError as error:
                # The audit goes on from Temporal alone: the archive is a shortcut here.
                log.warning("audit: archive not read (%s); asking Temporal", error)
            for _ in views:
                on_read()
        ids = [i for i in statuses if i not in {v.ticket_id for v in views}]
        gate = asyncio.Semaphore(self._concurrency)
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
                on_read()

        await asyncio.gather(*(read(i) for i in ids))
        return views, unreadable

    def _archived_views(self, statuses: dict[str, str | None]) -> list[IncidentView]:
        """The archived views of the listed incidents whose archived status is the listed one."""
        assert self._archive is not None
        store = self._archive()
        ids = list(statuses)
        views: list[IncidentView] = []
        for first in range(0, len(ids), STREAMS_OF_MAX):
            for stream in store.streams_of(ids[first : first + STREAMS_OF_MAX]):
                if stream.kind is StreamKind.INCIDENT and stream.status == statuses.get(
                    stream.stream_id
                ):
                    views.append(archived_incident_view(stream))
        return views

    async def open_dev_tickets(
        self, task_queue: str | None, on_read: Callable[[], None]
    ) -> list[DevTicketSummary]:
        """Every running change request (:class:`VisibilityDevTickets`)."""
        source = VisibilityDevTickets(
            self._client,
            task_queue=task_queue,
            concurrency=self._concurrency,
            on_progress=on_read,
        )
        return await source.open_dev_tickets()
