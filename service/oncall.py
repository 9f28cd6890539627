"""Extended on-call from the client side: booking, and finding bookings and incidents.

Booking (``sla oncall book``, and any intake that books for a customer)::

    request = check_booking(policy, company=..., start=..., end=..., reason=...,
                            operator=None, booked_at=now)
    receipt = await book_oncall(client, request, policy=policy, booked_at=now)
    receipt.booking_id   # "ONC-20261205-7QK2"

Validation (lead time, end after start, a reason) happens before, with the
policy calendar (``domain.oncall.check_booking``): a workflow cannot do
calendar arithmetic, and a refused booking must not leave anything behind.

Idempotency: the booking ID is derived from the company and the window, so the
same request twice returns the running booking of that window. Once that
booking is finished (cancelled), the same window can be booked again under a
new ID.

Look-ups read visibility: ``Company``, ``WindowStart`` and ``LifecycleState``
search attributes, the window end from the memo (the dev server allows only
three datetime attributes). :class:`TemporalOnCallLookups` hands them, and the
signal that tells an incident about new windows, to the booking workflow's
activities (``worker.py`` wires it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import IntakeError
from domain.incident import IncidentStatus
from domain.oncall import (
    OPEN_STATUSES,
    BookingRefused,
    BookingRequest,
    BookingStatus,
    BookingSummary,
    OnCallWindow,
    OnCallWindowsUpdate,
    booking_id_for,
    booking_seed,
    local_day,
    new_booking,
)
from domain.sla import SlaPolicy
from service.intake import owned_by, start_idempotently
from service.visibility import Query, executions, listed_ids
from workflows import names
from workflows.incident import IncidentWorkflow
from workflows.oncall import OPERATOR_MEMO, OnCallBookingInput, OnCallBookingWorkflow

MEMO_WINDOW_END = "window_end"
MEMO_OPERATOR = OPERATOR_MEMO  # the workflow upserts it when the operator changes
MEMO_REQUEST = "request"
"""Memo keys of a booking workflow (set at start, read by the look-ups)."""


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

    async def owns(booking_id: str) -> bool | None:
        # A finished booking of the same window is not this request's: book anew.
        return await owned_by(client, booking_id, seed, memo_key=MEMO_REQUEST, running_only=True)

    async def start(booking_id: str) -> None:
        await client.start_workflow(
            OnCallBookingWorkflow.run,
            OnCallBookingInput(
                booking=new_booking(booking_id, request, booked_at),
                policy=policy,
                archive_feed=True,
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

    try:
        booking_id, created = await start_idempotently(
            id_for=booking_id_for,
            today=local_day(policy.calendar, request.start),
            seed=seed,
            owns=owns,
            start=start,
            what="booking",
            look_back_days=0,  # the day in the ID is the window's, not the request's
        )
    except IntakeError as error:
        raise BookingRefused(str(error)) from None
    return BookingReceipt(booking_id=booking_id, created=created)


# -- look-ups ----------------------------------------------------------------------


def bookings_query(
    *,
    companies: Sequence[str] = (),
    statuses: Sequence[BookingStatus] = (),
    running_only: bool = False,
) -> Query:
    """The visibility query for bookings of ``companies`` in ``statuses`` (all if empty)."""
    query = (
        Query.workflows(OnCallBookingWorkflow)
        .where_in(names.COMPANY, companies)
        .where_in(names.LIFECYCLE_STATE, statuses)
    )
    # A terminated booking keeps its last LifecycleState; it covers nothing.
    return query.running() if running_only else query


async def find_bookings(client: Client, query: Query, *, limit: int = 500) -> list[BookingSummary]:
    """Bookings matching a visibility ``query`` (see :func:`bookings_query`), by window start."""
    found: dict[str, BookingSummary] = {}
    async for execution in executions(client, query, limit):
        attributes = execution.typed_search_attributes
        company = attributes.get(names.COMPANY)
        start = attributes.get(names.WINDOW_START)
        state = attributes.get(names.LIFECYCLE_STATE)
        memo = await execution.memo()
        end = memo.get(MEMO_WINDOW_END)
        if company is None or start is None or state is None or not isinstance(end, str):
            continue  # not started by the booking client: nothing reliable to show
        operator = memo.get(MEMO_OPERATOR)
        found[execution.id] = BookingSummary(
            booking_id=execution.id,
            company=company,
            start=start,
            end=datetime.fromisoformat(end),
            status=BookingStatus(state),
            operator=operator if isinstance(operator, str) else None,
        )
    return sorted(found.values(), key=lambda b: (b.start, b.booking_id))


async def company_windows(client: Client, *companies: str) -> tuple[OnCallWindow, ...]:
    """Windows of the companies' bookings that are booked or running.

    Raises:
        RPCError: Visibility failed (``UNIMPLEMENTED`` on the time-skipping test server).
    """
    query = bookings_query(companies=companies, statuses=OPEN_STATUSES, running_only=True)
    return tuple(
        OnCallWindow(booking_id=b.booking_id, start=b.start, end=b.end)
        for b in await find_bookings(client, query)
        if b.end > b.start
    )


async def open_incidents(client: Client, company: str) -> list[str]:
    """Ticket IDs of the company's incidents that are not resolved."""
    query = (
        Query.workflows(IncidentWorkflow)
        .where(names.COMPANY, company)
        .where_not(names.TICKET_STATUS, IncidentStatus.RESOLVED)
        .running()
    )
    return await listed_ids(client, query)


class TemporalOnCallLookups:
    """The booking activities' view of Temporal (``activities.oncall.OnCallLookups``)."""

    def __init__(self, client: Client) -> None:
        """Look up and signal through ``client``."""
        self._client = client

    async def windows(self, company: str) -> Sequence[OnCallWindow]:
        """The company's booked or running windows (:func:`company_windows`)."""
        return await company_windows(self._client, company)

    async def open_incidents(self, company: str) -> Sequence[str]:
        """The company's open incidents (:func:`open_incidents`)."""
        return await open_incidents(self._client, company)

    async def send_windows(self, ticket_id: str, update: OnCallWindowsUpdate) -> bool:
        """Signal the windows to one incident; ``False`` when it no longer runs."""
        handle = self._client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
        try:
            await handle.signal(IncidentWorkflow.update_oncall_windows, update)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True
