"""Client side of the development tickets: read and move them through the worker.

The tracker lives with the worker (its ``SLA_DATA_DIR``), so every call here
runs a short workflow on the task queue (``workflows.dev_ticket``) and waits
for its answer. A refusal of the tracker (unknown ID, illegal move) comes back
as :class:`DevTicketRefused` with the tracker's own words.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.dev_tickets import DevTicket
from domain.dev_ticket import DevTicketKind, DevTicketStatus, IncidentContact, contact_for
from domain.sla import SlaPolicy
from service.queries import incident_view
from workflows import names
from workflows.dev_ticket import (
    DevTicketMove,
    DevTicketMoved,
    DevTicketRead,
    ReadDevTicketsWorkflow,
    TransitionDevTicketWorkflow,
)


class DevTicketRefused(Exception):
    """The tracker refused the request; ``str()`` is its reason (one line)."""


def root_message(error: BaseException) -> str:
    """The innermost ``ApplicationError`` message of a failure chain (the adapter's words)."""
    cause: BaseException | None = error
    message = str(error)
    while cause is not None:
        if isinstance(cause, ApplicationError):
            message = cause.message
        cause = getattr(cause, "cause", None) or cause.__cause__
    return message


async def read_dev_tickets(
    client: Client,
    *,
    dev_ticket_id: str | None = None,
    status: tuple[DevTicketStatus, ...] = (),
    kind: DevTicketKind | None = None,
    task_queue: str = names.TASK_QUEUE,
    timeout: timedelta | None = None,
) -> list[DevTicket]:
    """One ticket (``dev_ticket_id``) or every ticket matching ``status`` and ``kind``.

    Args:
        client: Reaches the worker's task queue.
        dev_ticket_id: One ticket; ``None``: every ticket matching the filters.
        status: Only tickets in one of these (empty: any).
        kind: Only tickets of this kind (``None``: any).
        task_queue: The worker's task queue.
        timeout: Give up after this long (the read's execution timeout);
            ``None``: wait for a worker however long it takes.

    Raises:
        DevTicketRefused: E.g. an unknown ``dev_ticket_id``, or the timeout.
    """
    read = DevTicketRead(dev_ticket_id=dev_ticket_id, status=status, kind=kind)
    try:
        found = await client.execute_workflow(
            ReadDevTicketsWorkflow.run,
            read,
            id=f"dev-ticket-read.{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timeout,
        )
    except WorkflowFailureError as error:
        raise DevTicketRefused(root_message(error)) from None
    return list(found.tickets)


async def transition_dev_ticket(
    client: Client,
    dev_ticket_id: str,
    status: DevTicketStatus,
    *,
    note: str | None = None,
    release: str | None = None,
    policy: SlaPolicy | None = None,
    task_queue: str = names.TASK_QUEUE,
) -> DevTicketMoved:
    """Move a bug ticket; a release starts telling every linked incident's reporter.

    Args:
        client: Reaches the worker's task queue.
        dev_ticket_id: The bug ticket.
        status: ``in_progress``, ``fixed`` or ``released``.
        note: Kept in the ticket's history.
        release: The release shipping the fix (required for ``released``).
        policy: Time zone and give-up time of the release mails (default: shipped policy).
        task_queue: The worker's task queue.

    Raises:
        DevTicketRefused: Unknown ticket, or a move the rules refuse.
    """
    chosen = policy or SlaPolicy.default()
    move = DevTicketMove(
        dev_ticket_id=dev_ticket_id,
        status=status,
        note=note,
        release=release,
        timezone=chosen.calendar_spec.timezone,
        give_up_after=chosen.effects.give_up_after,
    )
    try:
        return await client.execute_workflow(
            TransitionDevTicketWorkflow.run,
            move,
            id=f"dev-ticket.{move.dev_ticket_id}.{status.value}.{uuid.uuid4().hex[:12]}",
            task_queue=task_queue,
        )
    except WorkflowFailureError as error:
        raise DevTicketRefused(root_message(error)) from None


async def incident_contact(
    client: Client, ticket_id: str, status: WorkflowExecutionStatus | None = None
) -> IncidentContact | None:
    """Whom to tell about a bug linked to incident ``ticket_id`` (``None``: unreadable).

    A link is still made when the incident cannot be read (e.g. its result
    predates the report in the view); its reporter then is not told.
    """
    try:
        view = await incident_view(client, ticket_id, status)
    except (RPCError, WorkflowFailureError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        return None  # the link matters more than the mail: see above
    if view.report is None:
        return None
    return contact_for(view.report, view.severity)
