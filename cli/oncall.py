"""``sla oncall …``: extended on-call bookings (erweiterte Bereitschaft).

``book`` validates on this side (lead time in business days, end after start,
a reason) and prints the booking ID; ``list`` reads visibility; ``show`` asks
the booking's workflow (window, operator, terms, billing); ``cancel`` and
``assign`` (name or replace the operator) are updates their validators may
refuse.
Every command accepts ``--json``; a refusal prints one line on stderr and
exits 1. Warnings about an accepted booking (a company outside the customer
directory) go to stderr, exit code 0.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    build_command,
    client,
    fail,
    instant_or_fail,
    policy_or_fail,
    print_json,
    run,
)
from cli.render import format_duration, local
from cli.terminal import safe
from domain.calendar import BusinessCalendar
from domain.oncall import (
    OPEN_STATUSES,
    AssignOperator,
    BookingRefused,
    BookingSummary,
    CancelBooking,
    OnCallBooking,
    bill,
    booking_warnings,
    check_booking,
    hours_billed,
    regular_time_between,
    terms_of,
)
from domain.sla import OnCallPolicy, SlaPolicy
from service.oncall import BookingReceipt, book_oncall, bookings_query, find_bookings
from service.queries import query_settled
from workflows import names
from workflows.oncall import OnCallBookingWorkflow

app = typer.Typer(
    help="Extended on-call (erweiterte Bereitschaft): booking day + 3 business days <= start "
    "day, billed per started hour outside business time; the operator can be named later.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IdArgument = Annotated[str, typer.Argument(help="Booking ID, e.g. ONC-20261205-7QK2.")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


@app.command()
def book(
    company: Annotated[str, typer.Option(help="The customer, as in the customer directory.")],
    start: Annotated[str, typer.Option(help="Start of the window (ISO 8601; naive = Berlin).")],
    end: Annotated[str, typer.Option(help="End of the window (ISO 8601; naive = Berlin).")],
    reason: Annotated[str, typer.Option(help="What the customer needs it for.")],
    operator: Annotated[str | None, typer.Option(help="The assigned operator.")] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Book extended on-call; prints the booking ID."""
    sla_policy = policy_or_fail(policy)
    zone = sla_policy.calendar_spec.timezone
    booked_at = datetime.now(UTC)
    try:
        request = check_booking(
            sla_policy,
            company=company,
            start=instant_or_fail(start, zone, "--start"),
            end=instant_or_fail(end, zone, "--end"),
            reason=reason,
            operator=operator,
            booked_at=booked_at,
        )
    except BookingRefused as error:
        fail(str(error))
    for warning in booking_warnings(sla_policy, request):
        print(f"warning: {warning}", file=sys.stderr)

    async def body() -> BookingReceipt:
        try:
            return await book_oncall(
                await client(), request, policy=sla_policy, booked_at=booked_at
            )
        except BookingRefused as error:
            raise CliError(str(error)) from None

    receipt = run(body)
    if as_json:
        print_json(receipt)
    else:
        print(receipt.booking_id)


@app.command("list")
def list_bookings(
    company: Annotated[str | None, typer.Option(help="Only this company.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include completed and cancelled bookings.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List bookings (booked and running unless --all), by window start."""
    sla_policy = policy_or_fail(policy)
    query = bookings_query(
        companies=(company,) if company else (), statuses=() if all_ else OPEN_STATUSES
    )

    async def body() -> list[BookingSummary]:
        return await find_bookings(await client(), query, limit=limit)

    bookings = run(body)
    if as_json:
        print_json(bookings)
        return
    if not bookings:
        print("no bookings")
        return
    _console().print(_table(bookings, sla_policy.calendar))


def _table(bookings: list[BookingSummary], calendar: BusinessCalendar) -> Table:
    table = Table(header_style="bold")
    for column in ("booking", "company", "start", "end", "state", "operator"):
        table.add_column(column)
    for b in bookings:
        table.add_row(
            b.booking_id,
            safe(b.company),
            local(b.start, calendar),
            local(b.end, calendar),
            b.status.value,
            safe(b.operator or "–"),
        )
    return table


async def _view(c: Client, booking_id: str) -> OnCallBooking:
    handle = c.get_workflow_handle_for(OnCallBookingWorkflow.run, booking_id)
    try:
        return await query_settled(lambda: handle.query(OnCallBookingWorkflow.view))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CliError(f"unknown booking {booking_id}") from None
        raise


@app.command()
def show(booking_id: IdArgument, policy: PolicyOption = None, as_json: JsonOption = False) -> None:
    """State, window, operator, reminder and billing of one booking."""
    sla_policy = policy_or_fail(policy)

    async def body() -> OnCallBooking:
        return await _view(await client(), booking_id)

    booking = run(body)
    if as_json:
        print_json(booking)
        return
    _print(booking, sla_policy)


def _print(booking: OnCallBooking, policy: SlaPolicy) -> None:
    calendar = policy.calendar
    console = _console()
    console.print(f"[bold]{booking.booking_id}[/bold]  {safe(booking.company)}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("state", booking.status.value)
    facts.add_row("window", f"{local(booking.start, calendar)} – {local(booking.end, calendar)}")
    facts.add_row("operator", safe(booking.operator or "not assigned"))
    for change in booking.assignments:
        was = f" (replaced {safe(change.previous)})" if change.previous else ""
        facts.add_row("", f"{local(change.at, calendar)}: {safe(change.operator)}{was}")
    facts.add_row("reason", safe(booking.reason, multiline=True))
    facts.add_row("booked", local(booking.booked_at, calendar))
    facts.add_row("reminder", local(booking.reminded_at or booking.reminder_at, calendar))
    facts.add_row("rate", _rate(booking, policy))
    facts.add_row("cancellation", _cancellation(booking, policy))
    if booking.cancelled_at is not None:
        why = f" ({safe(booking.cancel_reason)})" if booking.cancel_reason else ""
        facts.add_row("cancelled", local(booking.cancelled_at, calendar) + why)
    if booking.billing is not None:
        b = booking.billing
        if b.fee:
            facts.add_row("billed", f"cancellation fee {b.fee} {b.currency}")
        else:
            facts.add_row("billed", f"{b.hours} h × {b.rate} = {b.amount} {b.currency}")
    for note in booking.notes:
        facts.add_row("note", safe(note, multiline=True))
    console.print(facts)


def _rate(booking: OnCallBooking, policy: SlaPolicy) -> str:
    """The price line: rate, what is billed, and the whole window's started hours."""
    terms = terms_of(booking, policy.oncall)
    rate, currency = terms.hourly_rate, terms.currency
    regular = regular_time_between(terms, booking.start, booking.end)
    hours = hours_billed(terms, booking.start, booking.end)
    text = f"{rate} {currency} per started hour; whole window {hours} h"
    if terms.bill_business_hours:
        return text + (f" (incl. {format_duration(regular)} business time)" if regular else "")
    return text + f"; business time not billed ({format_duration(regular)} of the window)"


def _cancellation(booking: OnCallBooking, policy: SlaPolicy) -> str:
    terms = terms_of(booking, policy.oncall)
    if not terms.cancellation_fee:
        return "free until the start"
    free_until = local(terms.free_cancellation_until, policy.calendar)
    return (
        f"free until {free_until}, then {terms.cancellation_fee} {terms.currency} until the start"
    )


async def _closed(handle: WorkflowHandle[Any, Any], booking_id: str, what: str) -> CliError:
    """The refusal when the server answered an update "not found".

    A finished booking's workflow has completed and takes no updates; the
    server answers "not found" although the booking exists.
    """
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return CliError(f"unknown booking {booking_id}")
        raise
    state = description.typed_search_attributes.get(names.LIFECYCLE_STATE) or "finished"
    return CliError(f"booking {booking_id} is {state}; {what}")


@app.command()
def cancel(
    booking_id: IdArgument,
    reason: Annotated[str | None, typer.Option(help="Why (sent to the customer).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a booking: free or the agreed fee before the start; after it, the started hours."""

    async def body() -> OnCallBooking:
        c = await client()
        handle = c.get_workflow_handle_for(OnCallBookingWorkflow.run, booking_id)
        try:
            return await handle.execute_update(
                OnCallBookingWorkflow.cancel, CancelBooking(reason=reason)
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        raise await _closed(handle, booking_id, "nothing to cancel")

    booking = run(body)
    if as_json:
        print_json(booking)
        return
    # The update answers at the cancellation; the ledger line follows moments later.
    # The booking carries its terms; the default policy only stands in for the
    # rate of a booking made before terms were recorded, and no rate is printed.
    record = bill(booking, OnCallPolicy())
    if record is None:
        outcome = "nothing billed"
    elif record.fee:
        outcome = f"cancellation fee {record.fee} {record.currency} billed"
    else:
        outcome = f"{record.hours} started h billed"
    print(f"{booking_id}: cancelled; {outcome}")


@app.command()
def assign(
    booking_id: IdArgument,
    operator: Annotated[str, typer.Option(help="The operator who covers the window.")],
    as_json: JsonOption = False,
) -> None:
    """Name the booking's operator, or replace the one named; the customer and on-duty are told."""
    command = build_command(lambda: AssignOperator(operator=operator))

    async def body() -> OnCallBooking:
        c = await client()
        handle = c.get_workflow_handle_for(OnCallBookingWorkflow.run, booking_id)
        try:
            return await handle.execute_update(OnCallBookingWorkflow.assign, command)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        raise await _closed(handle, booking_id, "its operator can no longer change")

    booking = run(body)
    if as_json:
        print_json(booking)
        return
    change = booking.assignments[-1]
    was = f" (replaces {safe(change.previous)})" if change.previous else ""
    print(f"{booking_id}: operator {safe(change.operator)}{was}")
