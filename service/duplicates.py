"""One outage, many reports: link a report to the master it duplicates (``sla link-duplicate``).

The link is two updates, duplicate first:

1. the duplicate records ``linked_as_duplicate`` (its status-page entry, if
   any, is merged away) and follows the master's facts as read just now;
2. the master records ``duplicate_registered`` and from then on signals every
   change (acknowledgement, new estimate, resolution) to its duplicates, the
   first time at once, so a change between 1 and 2 is not lost.

Both updates are idempotent: running the command again changes nothing. Each
ticket keeps its own SLA clock and outcome (docs/SLA.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus

from domain.incident import (
    IncidentState,
    LinkAsDuplicate,
    RegisterDuplicate,
    StatusPublished,
    StatusUpdated,
    fold,
    master_facts,
)
from domain.read_model import IncidentSummary
from domain.report import RequestId
from service.incident_updates import send_update
from service.queries import WorkflowLookupError, describe_kind, incident_view
from workflows.incident import IncidentWorkflow

__all__ = ["DuplicateLink", "DuplicateRefused", "link_duplicate"]


class DuplicateRefused(Exception):
    """The link cannot be made; the message says why, naming the tickets."""


class DuplicateLink(BaseModel):
    """The result of a link: both incidents as they are afterwards."""

    model_config = ConfigDict(frozen=True)

    duplicate: IncidentSummary
    master: IncidentSummary


async def _running_state(client: Client, ticket_id: str, role: str) -> IncidentState:
    try:
        described = await describe_kind(
            client,
            ticket_id,
            IncidentWorkflow,
            unknown=f"unknown ticket {ticket_id} ({role})",
            other=f"{ticket_id} is not an incident ticket ({role})",
        )
    except WorkflowLookupError as error:
        raise DuplicateRefused(str(error)) from None
    if described.status != WorkflowExecutionStatus.RUNNING:
        raise DuplicateRefused(
            f"{ticket_id} ({role}) is resolved or closed; only open incidents can be linked"
        )
    view = await incident_view(client, ticket_id, described.status)
    return fold(None, view.events)


def _public_message(state: IncidentState) -> str | None:
    """The duplicate's current public text, which its master takes over."""
    for event in reversed(state.events):
        if isinstance(event, StatusPublished | StatusUpdated) and event.message:
            return event.message
    return None


async def link_duplicate(
    client: Client, ticket_id: RequestId, master_id: RequestId
) -> DuplicateLink:
    """Make ``ticket_id`` follow ``master_id`` (see the module docstring).

    Raises:
        DuplicateRefused: A ticket is unknown, closed, not an incident, or the
            link breaks a rule (itself, already linked elsewhere, a master's
            master); the message names the tickets.
        UpdateNotTaken: An incident closed while the link was being made.
        WorkflowUpdateFailedError: The workflow's rules refused it (raced).
    """
    if ticket_id == master_id:
        raise DuplicateRefused(f"{ticket_id} cannot be a duplicate of itself")
    duplicate = await _running_state(client, ticket_id, "duplicate")
    master = await _running_state(client, master_id, "master")
    if master.master is not None:
        raise DuplicateRefused(
            f"{master_id} is itself a duplicate of {master.master}: link {ticket_id} "
            f"to {master.master}"
        )
    if duplicate.master not in (None, master_id):
        raise DuplicateRefused(f"{ticket_id} is already a duplicate of {duplicate.master}")
    if duplicate.duplicates:
        raise DuplicateRefused(
            f"{ticket_id} is the master of {', '.join(duplicate.duplicates)}: link those "
            f"to {master_id} first"
        )
    link = LinkAsDuplicate(master_ticket_id=master_id, facts=master_facts(master))
    linked = await send_update(
        client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id),
        lambda h: h.execute_update(IncidentWorkflow.link_as_duplicate, link),
    )
    register = RegisterDuplicate(
        ticket_id=ticket_id,
        on_status_page=duplicate.on_status_page,
        public_message=_public_message(duplicate) if duplicate.on_status_page else None,
    )
    registered = await send_update(
        client.get_workflow_handle_for(IncidentWorkflow.run, master_id),
        lambda h: h.execute_update(IncidentWorkflow.register_duplicate, register),
    )
    return DuplicateLink(duplicate=linked, master=registered)
