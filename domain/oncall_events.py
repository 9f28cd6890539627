"""The events of an on-call booking, for the archive: what changed, in the order it did.

A booking is kept as one snapshot (:class:`~domain.oncall.OnCallBooking`, the
``view`` of its workflow), not as an event stream: its rules read the snapshot,
and its histories replay against that. The archive (DESIGN §5) keeps every
stream as events, so the workflow compares each new snapshot with the one
before (:func:`booking_changes`) and records what changed as events. Every
change of a booking goes through one of the functions of :mod:`domain.oncall`,
and each touches the fields one event below names, so comparing the two
snapshots finds exactly the step taken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.oncall import BillingRecord, OnCallBooking

__all__ = [
    "BookingEvent",
    "BookingEventBase",
    "booking_changes",
]


class BookingEventBase(BaseModel):
    """What every booking event has: when it happened."""

    model_config = ConfigDict(frozen=True)

    at: datetime


class BookingMade(BookingEventBase):
    """The booking was made (the window, why, and whom it names)."""

    type: Literal["booked"] = "booked"
    company: str
    start: datetime
    end: datetime
    reason: str
    operator: str | None = None


class ReminderScheduled(BookingEventBase):
    """When on-duty is reminded was computed (the previous business day's opening)."""

    type: Literal["reminder_scheduled"] = "reminder_scheduled"
    reminder_at: datetime


class Reminded(BookingEventBase):
    """On-duty was reminded of the window."""

    type: Literal["reminded"] = "reminded"


class Activated(BookingEventBase):
    """The window began: its hours count as business time for the company's incidents."""

    type: Literal["activated"] = "activated"


class OperatorAssigned(BookingEventBase):
    """An operator was named, or replaced the one named."""

    type: Literal["operator_assigned"] = "operator_assigned"
    operator: str
    previous: str | None = None


class BookingCancelled(BookingEventBase):
    """The booking was cancelled (before or while it ran)."""

    type: Literal["cancelled"] = "cancelled"
    reason: str | None = None


class BookingCompleted(BookingEventBase):
    """The window ended."""

    type: Literal["completed"] = "completed"


class BookingBilled(BookingEventBase):
    """The billing record was written to the ledger."""

    type: Literal["billed"] = "billed"
    billing: BillingRecord


class BookingNoted(BookingEventBase):
    """A problem worth an operator's eye (an undeliverable e-mail, a failed sync …)."""

    type: Literal["noted"] = "noted"
    note: str


BookingEvent = Annotated[
    BookingMade
    | ReminderScheduled
    | Reminded
    | Activated
    | OperatorAssigned
    | BookingCancelled
    | BookingCompleted
    | BookingBilled
    | BookingNoted,
    Field(discriminator="type"),
]
"""One event of an on-call booking."""


def booking_changes(
    before: OnCallBooking | None, after: OnCallBooking, at: datetime
) -> tuple[BookingEvent, ...]:
    """The events that take ``before`` (``None``: nothing booked yet) to ``after``.

    Args:
        before: The snapshot before the step.
        after: The snapshot after it (the same booking).
        at: When the step was taken, for what the snapshot keeps no instant
            of (the reminder's computation, the billing, a note).

    Returns:
        The events in a fixed order (made, assignments, reminder, start, end,
        billing, notes); empty when nothing changed.
    """
    events: list[BookingEvent] = []
    if before is None:
        events.append(
            BookingMade(
                at=after.booked_at,
                company=after.company,
                start=after.start,
                end=after.end,
                reason=after.reason,
                operator=after.operator,
            )
        )
    known_assignments = len(before.assignments) if before is not None else 0
    events.extend(
        OperatorAssigned(at=a.at, operator=a.operator, previous=a.previous)
        for a in after.assignments[known_assignments:]
    )
    if after.reminder_at is not None and (before is None or before.reminder_at is None):
        events.append(ReminderScheduled(at=at, reminder_at=after.reminder_at))
    if after.reminded_at is not None and (before is None or before.reminded_at is None):
        events.append(Reminded(at=after.reminded_at))
    if after.activated_at is not None and (before is None or before.activated_at is None):
        events.append(Activated(at=after.activated_at))
    if after.cancelled_at is not None and (before is None or before.cancelled_at is None):
        events.append(BookingCancelled(at=after.cancelled_at, reason=after.cancel_reason))
    if after.completed_at is not None and (before is None or before.completed_at is None):
        events.append(BookingCompleted(at=after.completed_at))
    if after.billing is not None and (before is None or before.billing is None):
        events.append(BookingBilled(at=at, billing=after.billing))
    known_notes = len(before.notes) if before is not None else 0
    events.extend(BookingNoted(at=at, note=note) for note in after.notes[known_notes:])
    return tuple(events)
