"""The IDs people read and copy: one code rule for tickets, change requests, bookings, maintenance.

Every ID is a prefix, a local day (and for maintenance a time) and a short code
derived from a seed: the same seed always yields the same ID, which is what
makes a retried intake or command idempotent.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date


def id_code(seed: str, length: int = 6) -> str:
    """The readable part of an ID derived from ``seed`` (base32 of its SHA-256).

    Base32 has no lower case and no look-alikes of 0/1/8, so an ID survives
    being read out on the phone.
    """
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def day_stamped_id(prefix: str, day: date, seed: str, length: int = 6) -> str:
    """``PREFIX-YYYYMMDD-CODE``: readable, sortable by day, unique per seed."""
    return f"{prefix}-{day:%Y%m%d}-{id_code(seed, length)}"


def ticket_id_for(day: date, seed: str) -> str:
    """``INC-YYYYMMDD-XXXXXX``: the ticket ID of an incident received on ``day``."""
    return day_stamped_id("INC", day, seed)


def change_request_id_for(day: date, seed: str) -> str:
    """``CR-YYYYMMDD-XXXXXX``: the ID of a change request received on ``day``."""
    return day_stamped_id("CR", day, seed)
