"""When a resolved incident can be reopened (``[reopen]`` in the policy): pure rules.

The reading (docs/SLA.md, "Reopen"): the window counts
``window_business_days`` business days of the policy's calendar after the day
of resolution (the day itself does not count; weekends, public holidays and
``closed_dates`` do not either) and lasts to the end of the last of them, at
midnight in the policy's time zone, so that a customer who answers in the
evening of the last day is still in time. ``0`` turns reopening off.

Whether a reopen is allowed is decided with the incident's state in
:func:`domain.incident.decide` (``Reopen``); :func:`refusal` says why not in
one line, for the service to refuse before it starts anything.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Protocol

from domain.calendar import BusinessCalendar
from domain.events import ClassifiedAsChangeRequest

__all__ = ["refusal", "window_end"]


class IncidentState(Protocol):
    """What the reopen rules read of ``domain.incident.IncidentState`` (which imports this)."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def classification(self) -> ClassifiedAsChangeRequest | None: ...


def window_end(
    calendar: BusinessCalendar, resolved_at: datetime, business_days: int
) -> datetime | None:
    """The instant the reopen window of an incident resolved at ``resolved_at`` closes.

    Args:
        calendar: The policy's business calendar.
        resolved_at: When the incident was resolved (aware).
        business_days: ``[reopen] window_business_days``.

    Returns:
        Midnight (policy time zone) after the ``business_days``-th business
        day after the day of resolution; ``None`` when reopening is off (0).

    Raises:
        ValueError: ``resolved_at`` is naive or ``business_days`` negative.
        OutsideSupportedYearsError: The window runs past the calendar's years.
    """
    if resolved_at.tzinfo is None:
        raise ValueError("resolved_at must be an aware datetime")
    if business_days < 0:
        raise ValueError("business_days must not be negative")
    if business_days == 0:
        return None
    day: date = resolved_at.astimezone(calendar.zone).date()
    found = 0
    while found < business_days:
        day += timedelta(days=1)
        found += calendar.is_business_day(day)
    following = day + timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=calendar.zone)


def refusal(
    state: IncidentState, now: datetime, end: datetime | None, *, erased: bool = False
) -> str | None:
    """Why ``state`` cannot be reopened at ``now`` (``None``: it can).

    Args:
        state: The incident.
        now: The instant of the reopen (aware).
        end: :func:`window_end` of its resolution (``None``: reopening is off).
        erased: The reporter's personal data was erased.
    """
    if state.is_open:
        return f"incident {state.ticket_id} is still open; only a resolved incident can be reopened"
    if state.classification is not None:
        return (
            f"incident {state.ticket_id} was classified as a change request, not a disturbance; "
            "it cannot be reopened"
        )
    if erased:
        return (
            f"incident {state.ticket_id}: the reporter's personal data was erased; "
            "it cannot be reopened (open a new report)"
        )
    if end is None:
        return "reopening is off in this policy ([reopen] window_business_days = 0)"
    if now >= end:
        return (
            f"the reopen window of incident {state.ticket_id} ended {end.isoformat()}; "
            "open a new report"
        )
    return None
