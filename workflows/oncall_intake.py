"""Booking API for extended on-call: validate, then start the booking workflow, idempotently.

Used by ``sla oncall book`` (and any intake that books for a customer)::

    request = check_booking(policy, company=..., start=..., end=..., reason=...,
                            operator=None, booked_at=now)
    receipt = await book_oncall(client, request, policy=policy, booked_at=now)
    receipt.booking_id   # "ONC-20261205-7QK2"

Validation (lead time, end after start, a reason) happens here, on the client,
with the policy calendar: a workflow cannot do calendar arithmetic, and a
refused booking must not leave anything behind.

Idempotency: the booking ID is derived from the company and the window, so the
same request twice returns the running booking of that window. Once that
booking is finished (cancelled), the same window can be booked again under a
new ID.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.oncall import MEMO_OPERATOR, MEMO_REQUEST, MEMO_WINDOW_END
from domain.oncall import (
    BookingRefused,
    BookingRequest,
    BookingStatus,
    booking_id_for,
    booking_seed,
    local_day,
    new_booking,
)
from domain.sla import SlaPolicy
from workflows import names
from workflows.oncall import OnCallBookingInput, OnCallBookingWorkflow


class BookingReceipt(BaseModel):
    """What booking answers.

    Attributes:
        booking_id: The booking ID (also the workflow ID).
        created: ``False`` when the same window of the same company was already
            booked and that booking is returned.
    """

    model_config = ConfigDict(frozen=True)

    booking_id: str
    created: bool


async def book_oncall(
    client: Client,
    request: BookingRequest,
    *,
    policy: SlaPolicy,
    booked_at: datetime,
    task_queue: str = names.TASK_QUEUE,
) -> BookingReceipt:
    """Start the booking workflow for a request validated by ``domain.oncall.check_booking``.

    Args:
        client: Temporal client (with the pydantic data converter).
        request: The validated request.
        policy: Policy snapshot for the booking (rate, contacts, calendar).
        booked_at: When the booking was made (the lead time was judged on it).
        task_queue: Worker task queue.

    Raises:
        BookingRefused: No free booking ID could be found (retry).
    """
    seed = booking_seed(request)
    start_day = local_day(policy.calendar, request.start)
    for attempt in range(5):
        booking_id = booking_id_for(start_day, seed if attempt == 0 else f"{seed}#{attempt}")
        try:
            await client.start_workflow(
                OnCallBookingWorkflow.run,
                OnCallBookingInput(
                    booking=new_booking(booking_id, request, booked_at), policy=policy
                ),
                id=booking_id,
                task_queue=task_queue,
                # A booking ID is never reused, not even after the booking ended.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                memo={
                    MEMO_WINDOW_END: request.end.isoformat(),
                    MEMO_OPERATOR: request.operator,
                    MEMO_REQUEST: seed,
                },
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(names.COMPANY, request.company),
                        SearchAttributePair(names.WINDOW_START, request.start),
                        SearchAttributePair(names.LIFECYCLE_STATE, BookingStatus.BOOKED.value),
                    ]
                ),
                static_summary=f"{booking_id} · {request.company} · erweiterte Bereitschaft",
                static_details=(
                    f"**{request.company}** – {request.start.isoformat()} bis "
                    f"{request.end.isoformat()}\n\nOperator: {request.operator or '–'}\n\n"
                    f"{request.reason}"
                ),
            )
            return BookingReceipt(booking_id=booking_id, created=True)
        except WorkflowAlreadyStartedError:
            description = await client.get_workflow_handle(booking_id).describe()
            memo = await description.memo()
            if (
                memo.get(MEMO_REQUEST) == seed
                and description.status is WorkflowExecutionStatus.RUNNING
            ):
                return BookingReceipt(booking_id=booking_id, created=False)
            # A finished booking of the same window, or another window with the
            # same code: try the next ID.
    raise BookingRefused("could not allocate a booking ID; please retry")
