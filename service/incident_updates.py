"""Sending an update to an incident, as every door does (CLI, HTTP API, mailbox, monitoring).

:func:`send_update` is the one answer to "the update did not reach a running
incident": an unknown ticket stays the server's ``NOT_FOUND``; a resolved or
closed incident, or a run reset under the update, becomes
:class:`UpdateNotTaken` with a sentence for the operator or the API client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from domain.incident import AmendReport, RecordAlert, RecordCustomerMessage
from domain.read_model import IncidentSummary
from domain.report import ReportChanges
from service.intake import parse_intake
from workflows.incident import IncidentWorkflow

__all__ = [
    "Handle",
    "UpdateNotTaken",
    "add_customer_message",
    "amend_report",
    "record_alert",
    "send_update",
]

Handle = WorkflowHandle[IncidentWorkflow, Any]


class UpdateNotTaken(Exception):
    """The incident exists but took no update: it is closed, or its run was reset under it.

    Attributes:
        closed: Whether the incident is closed (``False``: the run was reset; send again).
    """

    def __init__(self, message: str, *, closed: bool) -> None:
        """Carry ``message`` (one sentence naming the ticket)."""
        super().__init__(message)
        self.closed = closed


async def send_update(
    handle: Handle, call: Callable[[Handle], Awaitable[IncidentSummary]]
) -> IncidentSummary:
    """Send an update; the workflow's validator refuses what the rules refuse.

    Raises:
        RPCError: ``NOT_FOUND`` when there is no such ticket.
        UpdateNotTaken: The incident is closed, or its run was reset before it
            accepted the update (nothing changed).
        WorkflowUpdateFailedError: The rules refused it (the cause says why).
    """
    try:
        return await call(handle)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            status = (await handle.describe()).status
        except RPCError as missing:
            if missing.status == RPCStatusCode.NOT_FOUND:
                raise error from None  # no such ticket: the caller names it
            raise
        if status == WorkflowExecutionStatus.RUNNING:
            # The run it was waiting for closed before accepting it (e.g. reset
            # by `sla repair`): it took no effect and was not re-applied.
            raise UpdateNotTaken(
                f"the command to incident {handle.id} was aborted before it took effect "
                "(its workflow was reset or restarted); nothing changed, send it again",
                closed=False,
            ) from None
        if status == WorkflowExecutionStatus.COMPLETED:
            # A resolved incident's workflow has completed and takes no updates;
            # the server answers "not found" although the ticket exists.
            raise UpdateNotTaken(
                f"incident {handle.id} is resolved; nothing can change after resolution",
                closed=True,
            ) from None
        name = status.name.lower() if status is not None else "closed"
        raise UpdateNotTaken(
            f"incident {handle.id} is closed ({name}); nothing can change", closed=True
        ) from None


def _handle(client: Client, ticket_id: str) -> Handle:
    return client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)


async def amend_report(
    client: Client,
    ticket_id: str,
    changes: ReportChanges | Mapping[str, Any] | str | bytes,
    *,
    source: str = "",
) -> IncidentSummary:
    """Fill in (or correct) report items of ``ticket_id``; returns the incident afterwards.

    Raises:
        IntakeError: ``changes`` are malformed or empty (every field named).
        RPCError: ``NOT_FOUND`` for an unknown ticket.
        UpdateNotTaken: The incident is closed.
        WorkflowUpdateFailedError: Nothing would change.
    """
    parsed = parse_intake(ReportChanges, changes, "report details")
    command = AmendReport(changes=parsed, source=source)
    return await send_update(
        _handle(client, ticket_id),
        lambda h: h.execute_update(IncidentWorkflow.amend_report, command),
    )


def _update_id(kind: str, *parts: str) -> str:
    """A deterministic update ID: the server drops a second update with the same ID.

    A webhook retried after a timeout, or a mail fetched twice, is then
    recorded once even before the domain's own check sees it.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]
    return f"{kind}-{digest}"


async def add_customer_message(
    client: Client, ticket_id: str, message: RecordCustomerMessage
) -> IncidentSummary:
    """Record a customer's message on ``ticket_id`` (once per Message-ID); the team is told.

    Raises:
        RPCError: ``NOT_FOUND`` for an unknown ticket.
        UpdateNotTaken: The incident is closed.
    """
    return await send_update(
        _handle(client, ticket_id),
        lambda h: h.execute_update(
            IncidentWorkflow.add_customer_message,
            message,
            id=_update_id("customer-message", ticket_id, message.message_id),
        ),
    )


async def record_alert(
    client: Client, ticket_id: str, alert: RecordAlert, *, notification_id: str
) -> IncidentSummary:
    """Record another notification of a monitoring alert group on ``ticket_id``.

    ``notification_id`` identifies the notification (a digest of the webhook
    body): a webhook retried after a timeout is recorded once.

    Raises:
        RPCError: ``NOT_FOUND`` for an unknown ticket.
        UpdateNotTaken: The incident is closed.
    """
    return await send_update(
        _handle(client, ticket_id),
        lambda h: h.execute_update(
            IncidentWorkflow.record_alert,
            alert,
            id=_update_id("alert", ticket_id, notification_id),
        ),
    )
