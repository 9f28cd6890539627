"""Intake API for change requests: validate, then start the workflow, idempotently.

Used by intake services and by ``sla change-request submit``::

    receipt = await submit_change_request(client, request_json)
    receipt.change_request_id   # "CR-20261124-7QK2AB", at once

The development ticket is created by the workflow (an activity), so the
receipt carries only the change request ID; the ``DEV-…`` ID shows in the
workflow's ``view`` (``sla change-request show``) and in the customer's e-mail
moments later. Intake never waits for the tracker.

Idempotency follows :func:`service.incidents.report_incident`: a request with a
``request_id`` always maps to the same change request; its ID is derived from
the request ID and the receipt date, and a retry after midnight finds the
change request of the previous day first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from activities.change_requests import ChangeRequestStarted, ChangeRequestStartRequest
from domain.change_request import ChangeRequestStatus
from domain.errors import IntakeError
from domain.ids import change_request_id_for
from domain.report import ChangeRequest, check_limits
from domain.sla import SlaPolicy
from service.intake import (
    MEMO_CONTENT,
    MEMO_REQUEST_ID,
    content_digest,
    owned_by,
    parse_intake,
    receipt_day,
    start_idempotently,
)
from workflows import names
from workflows.change_request import ChangeRequestInput, ChangeRequestWorkflow

__all__ = [
    "ChangeRequestReceipt",
    "change_request_id_for",
    "customer_recipients",
    "parse_change_request",
    "start_for_incident",
    "submit_change_request",
]


class ChangeRequestReceipt(BaseModel):
    """What intake answers.

    Attributes:
        change_request_id: The change request ID (also the workflow ID).
        created: ``False`` when the ``request_id`` was seen before and the
            existing change request is returned.
    """

    model_config = ConfigDict(frozen=True)

    change_request_id: str
    created: bool


def parse_change_request(data: ChangeRequest | Mapping[str, Any] | str | bytes) -> ChangeRequest:
    """Validate a change request given as a model, a mapping or JSON text.

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named).
    """
    return parse_intake(ChangeRequest, data, "change request")


def customer_recipients(request: ChangeRequest, policy: SlaPolicy) -> tuple[str, ...]:
    """The requester plus the company's directory contacts, without repeats."""
    entry = policy.customer(request.company)
    addresses = [request.email, *(entry.contacts if entry else ())]
    return tuple(dict.fromkeys(a.lower() for a in addresses))


async def submit_change_request(
    client: Client,
    data: ChangeRequest | Mapping[str, Any] | str | bytes,
    *,
    policy: SlaPolicy | None = None,
    received_at: datetime | None = None,
    task_queue: str = names.TASK_QUEUE,
) -> ChangeRequestReceipt:
    """Validate ``data`` and start its change request workflow.

    The same ``request_id`` returns the same change request and starts nothing new.

    Args:
        client: Temporal client (with the pydantic data converter).
        data: The change request as model, mapping or JSON text.
        policy: For the time zone, the receipt day and the customer directory
            (default: the shipped policy).
        received_at: Receipt instant (default: now).
        task_queue: Worker task queue.

    Raises:
        IntakeError: The request is refused; nothing was started.
    """
    policy = policy or SlaPolicy.default()
    request = parse_change_request(data)
    problems = check_limits(request, policy)
    if problems:
        raise IntakeError(f"change request refused: {'; '.join(problems)}")
    received_at = received_at or datetime.now(UTC)
    today = receipt_day(received_at, policy)
    request_id = request.request_id

    async def owns(change_request_id: str) -> bool | None:
        assert request_id is not None  # only asked for requests with an ID
        return await owned_by(
            client,
            change_request_id,
            request_id,
            workflow_type=ChangeRequestWorkflow.__name__,
            content=content_digest(request),
        )

    async def start(change_request_id: str) -> None:
        await _start(client, change_request_id, request, policy, received_at, task_queue)

    change_request_id, created = await start_idempotently(
        id_for=change_request_id_for,
        today=today,
        seed=None if request_id is None else f"change-request:{request_id}",
        owns=owns,
        start=start,
        what="change request",
    )
    return ChangeRequestReceipt(change_request_id=change_request_id, created=created)


async def start_for_incident(
    client: Client, start: ChangeRequestStartRequest
) -> ChangeRequestStarted:
    """Start the change request an incident was classified as (its activity's intake).

    Raises:
        IntakeError: The request is refused; nothing was started.
    """
    receipt = await submit_change_request(
        client,
        start.request,
        policy=start.policy,
        received_at=start.received_at,
        task_queue=start.task_queue,
    )
    return ChangeRequestStarted(
        change_request_id=receipt.change_request_id, created=receipt.created
    )


async def _start(
    client: Client,
    change_request_id: str,
    request: ChangeRequest,
    policy: SlaPolicy,
    received_at: datetime,
    task_queue: str,
) -> None:
    await client.start_workflow(
        ChangeRequestWorkflow.run,
        ChangeRequestInput(
            change_request_id=change_request_id,
            request=request,
            received_at=received_at,
            recipients=customer_recipients(request, policy),
            timezone=policy.calendar_spec.timezone,
            give_up_after=policy.effects.give_up_after,
            archive_feed=True,
        ),
        id=change_request_id,
        task_queue=task_queue,
        # A change request ID is never reused, not even after it was decided.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo=(
            {MEMO_REQUEST_ID: request.request_id, MEMO_CONTENT: content_digest(request)}
            if request.request_id
            else None
        ),
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.COMPANY, request.company),
                SearchAttributePair(names.LIFECYCLE_STATE, ChangeRequestStatus.SUBMITTED.value),
            ]
        ),
        static_summary=f"{change_request_id} · {request.company} · Änderungswunsch",
        static_details=(
            f"**{request.title}**\n\n{request.company} – {request.full_name} ({request.email})"
            f"\n\n{request.description}"
        ),
    )
