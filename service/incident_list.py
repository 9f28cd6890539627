"""The incident list of every door (``sla list``, ``GET /v1/incidents``): one query, one order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus

from domain.incident import IncidentStatus
from domain.read_model import IncidentSummary, next_deadline
from domain.sla import Severity
from service.queries import Unreadable, gather_readable, incident_view
from service.visibility import Query, executions, listed
from workflows import names
from workflows.incident import IncidentWorkflow

__all__ = ["OpenTicket", "closed_tickets", "list_incidents", "open_tickets"]


async def list_incidents(
    client: Client,
    *,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    company: str | None = None,
    breached: bool = False,
    include_resolved: bool = False,
    limit: int = 200,
) -> tuple[list[IncidentSummary], list[Unreadable]]:
    """Incidents matching every filter given, open ones first, next deadline first.

    Without ``status`` only open incidents are listed unless ``include_resolved``.

    Returns:
        The summaries, and the workflows whose state could not be read (named,
        so that one wedged incident never hides the others).
    """
    query = Query.workflows(IncidentWorkflow)
    if status is not None:
        query = query.where(names.TICKET_STATUS, status)
    elif not include_resolved:
        query = query.where_not(names.TICKET_STATUS, IncidentStatus.RESOLVED)
    if severity is not None:
        query = query.where(names.SEVERITY, severity)
    if breached:
        query = query.where(names.SLA_BREACHED, True)
    if company is not None:
        query = query.where(names.COMPANY, company)

    found = await listed(client, query, limit)

    async def summary(ticket_id: str) -> IncidentSummary:
        # The listing knows each status: no describe before the query or result.
        return (await incident_view(client, ticket_id, found[ticket_id])).summary()

    summaries, skipped = await gather_readable(list(found), summary)
    summaries.sort(key=lambda s: (s.status is IncidentStatus.RESOLVED, _due(s)))
    return summaries, skipped


def _due(summary: IncidentSummary) -> datetime:
    return next_deadline(summary)[1] or summary.received_at


@dataclass(frozen=True)
class OpenTicket:
    """An open incident as the listing knows it, without asking the workflow (completion)."""

    ticket_id: str
    severity: str | None
    status: str | None
    company: str | None

    def describe(self) -> str:
        """``critical, new, Beispiel Versand GmbH``: the help a shell shows beside the ID."""
        return ", ".join(part for part in (self.severity, self.status, self.company) if part)


async def open_tickets(client: Client, *, prefix: str = "", limit: int = 100) -> list[OpenTicket]:
    """Open incidents whose ticket ID starts with ``prefix``, by ID.

    One visibility listing and nothing else: the search attributes carry
    severity, status and company, so no workflow is queried. Shell completion
    asks this on every Tab, and must answer at once.

    Args:
        client: The Temporal client.
        prefix: What the operator typed so far.
        limit: At most this many (of the matching ones).
    """
    query = Query.workflows(IncidentWorkflow).where_not(
        names.TICKET_STATUS, IncidentStatus.RESOLVED
    )
    return await _tickets(client, query.running(), prefix, limit, running=True)


async def closed_tickets(client: Client, *, prefix: str = "", limit: int = 100) -> list[OpenTicket]:
    """Resolved incidents whose run has closed and whose ticket ID starts with ``prefix``.

    The candidates of ``sla reopen``'s completion: one visibility listing, as
    :func:`open_tickets` (Temporal keeps closed runs for its retention only).
    """
    query = Query.workflows(IncidentWorkflow).where(names.TICKET_STATUS, IncidentStatus.RESOLVED)
    return await _tickets(client, query, prefix, limit, running=False)


async def _tickets(
    client: Client, query: Query, prefix: str, limit: int, *, running: bool
) -> list[OpenTicket]:
    """Up to ``limit`` tickets of ``query`` starting with ``prefix``, running or closed, by ID."""
    found: dict[str, OpenTicket] = {}
    async for execution in executions(client, query):
        if (execution.status is WorkflowExecutionStatus.RUNNING) is not running:
            continue
        if not execution.id.startswith(prefix) or execution.id in found:
            continue
        attributes = execution.typed_search_attributes
        found[execution.id] = OpenTicket(
            ticket_id=execution.id,
            severity=attributes.get(names.SEVERITY),
            status=attributes.get(names.TICKET_STATUS),
            company=attributes.get(names.COMPANY),
        )
        if len(found) >= limit:
            break
    return sorted(found.values(), key=lambda t: t.ticket_id)
