"""The incident list of every door (``sla list``, ``GET /v1/incidents``): one query, one order."""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client

from domain.incident import IncidentStatus
from domain.read_model import IncidentSummary, next_deadline
from domain.sla import Severity
from service.queries import Unreadable, gather_readable, incident_view
from service.visibility import Query, listed
from workflows import names
from workflows.incident import IncidentWorkflow

__all__ = ["list_incidents"]


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
