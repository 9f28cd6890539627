"""Small value types shared by the domain models (pydantic annotated types)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, StringConstraints

# Deliberately simple: one "@", a dot in the domain, no spaces. Full RFC 5322
# validation would need an extra dependency and still not prove deliverability.
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$")
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,6})?)S)?$")


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _check_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone or UTC offset, e.g. 2026-11-24T09:12:00+01:00")
    return value


def parse_business_duration(value: object) -> timedelta:
    """Parse an ISO 8601 business-time duration written in hours/minutes/seconds.

    Day, week, month and year designators are refused on purpose: in business
    time a "day" is ambiguous (10 business hours? 24?), so policy files spell
    durations out in hours, e.g. ``PT140H`` for the SLA's "14 Tage".

    Args:
        value: A string such as ``"PT1H30M"`` or an existing ``timedelta``.

    Returns:
        The duration.

    Raises:
        ValueError: Not such a duration, or not positive.
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, str):
        match = _DURATION.match(value.strip().upper())
        if not match or not any(match.groups()):
            hint = " (write days as hours: a business day has 10 h)" if "D" in value.upper() else ""
            raise ValueError(f"not an ISO 8601 duration like PT4H or PT30M: {value!r}{hint}")
        hours, minutes, seconds = match.groups()
        duration = timedelta(
            hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0)
        )
    else:
        raise ValueError(f"expected a duration string like PT4H, got {value!r}")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    return duration


def format_business_duration(value: timedelta) -> str:
    """``timedelta`` → ``PT…H…M…S`` (the inverse of :func:`parse_business_duration`)."""
    total_us = value // timedelta(microseconds=1)
    hours, rest = divmod(total_us, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds or micros or text == "PT":
        text += f"{seconds}.{micros:06d}S".replace(".000000S", "S")
    return text


EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_check_email)
]
"""An e-mail address (whitespace stripped, shape checked)."""

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Text that is not empty after stripping whitespace."""

AwareDatetime = Annotated[datetime, AfterValidator(_check_aware)]
"""A datetime that carries a UTC offset (naive ones are refused)."""

BusinessDuration = Annotated[
    timedelta,
    BeforeValidator(parse_business_duration),
    PlainSerializer(format_business_duration, return_type=str, when_used="json"),
]
"""A positive duration of business time, ``PT…`` in files and JSON."""
