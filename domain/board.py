"""The operator's board: the next deadline of each incident, business time left, urgency, order.

Pure (time is a parameter): ``sla list`` renders it, and a live board can tick
with it. "Business time left" is measured with the policy's calendar, so a
deadline on Monday 09:00 seen on Friday 17:00 is two hours away, not
sixty-four.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.calendar import BusinessCalendar
from domain.events import IncidentStatus
from domain.read_model import IncidentSummary, next_deadline

__all__ = ["Standing", "Urgency", "business_time_left", "most_urgent_first", "standing"]


class Urgency(StrEnum):
    """How urgently an incident needs the operator."""

    BREACHED = "breached"  # an SLA breach is recorded, or the next deadline has passed
    DUE_SOON = "due_soon"  # the next deadline is at most the due-soon threshold away
    ON_TRACK = "on_track"
    CLOSED = "closed"  # resolved: no deadline left to watch


@dataclass(frozen=True)
class Standing:
    """Where one incident stands at an instant.

    Attributes:
        deadline: Which deadline is next: ``reaction``, ``estimate`` or
            ``resolution``; ``""`` once resolved.
        due: When it is due; ``None`` once resolved.
        left: Business time until ``due``; negative (or zero, while closed)
            once it has passed; ``None`` once resolved.
        overdue: ``due`` has passed (compared as instants: a deadline at
            closing time is overdue on the evening after, with zero business
            time between).
        urgency: What the board colours the row by.
    """

    deadline: str
    due: datetime | None
    left: timedelta | None
    overdue: bool
    urgency: Urgency


def business_time_left(due: datetime, now: datetime, calendar: BusinessCalendar) -> timedelta:
    """Business time from ``now`` until ``due``; negative when ``due`` lies before ``now``.

    Args:
        due: A deadline (aware).
        now: The instant to measure from (aware).
        calendar: The policy's business calendar.
    """
    return calendar.between(now, due)


def standing(
    summary: IncidentSummary,
    now: datetime,
    calendar: BusinessCalendar,
    *,
    due_soon: timedelta,
) -> Standing:
    """Where ``summary`` stands at ``now``.

    Args:
        summary: The incident.
        now: The instant (aware).
        calendar: The policy's business calendar.
        due_soon: Business time before a deadline from which it counts as due
            soon (the CLI passes the policy's ``[audit] near_deadline``, the
            same threshold the daily audit reports "near a deadline" by).
    """
    name, due = next_deadline(summary)
    if due is None:
        return Standing(deadline=name, due=None, left=None, overdue=False, urgency=Urgency.CLOSED)
    left = business_time_left(due, now, calendar)
    overdue = due <= now
    if overdue or summary.reaction_breached or summary.resolution_breached:
        urgency = Urgency.BREACHED
    elif left <= due_soon:
        urgency = Urgency.DUE_SOON
    else:
        urgency = Urgency.ON_TRACK
    return Standing(deadline=name, due=due, left=left, overdue=overdue, urgency=urgency)


def most_urgent_first(
    summaries: Iterable[IncidentSummary], now: datetime, calendar: BusinessCalendar
) -> list[IncidentSummary]:
    """``summaries`` by business time left to their next deadline, least first.

    Resolved incidents (no deadline) come last, most recently resolved first.
    Equal business time (two deadlines in the same closed night) is broken by
    the instants, then by ticket ID, so the order never depends on the input's.
    """
    items = list(summaries)

    def key(s: IncidentSummary) -> tuple[int, timedelta, float, str]:
        _, due = next_deadline(s)
        if due is None or s.status is IncidentStatus.RESOLVED:
            closed = s.resolved_at or s.received_at
            return (1, timedelta(0), -closed.timestamp(), s.ticket_id)
        return (0, business_time_left(due, now, calendar), due.timestamp(), s.ticket_id)

    return sorted(items, key=key)
