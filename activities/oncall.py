"""Extended on-call I/O: the billing ledger and telling incidents about windows.

* :meth:`OnCallActivities.record_oncall_billing` appends one line per booking
  to ``$SLA_DATA_DIR/billing/oncall.csv``. It may be retried (a lost reply, a
  worker crash after the write), so it checks the ledger for the booking ID
  under a file lock before appending: a booking is never billed twice.
* :meth:`OnCallActivities.sync_incident_windows` sends the company's current
  windows to each of its open incidents, through :class:`OnCallLookups`
  (``service.oncall.TemporalOnCallLookups`` in the worker: visibility and the
  incident's ``update_oncall_windows`` signal).
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.files import write_atomic
from domain.oncall import (
    BillingRecord,
    OnCallWindow,
    OnCallWindowsUpdate,
    reminder_instant,
)
from domain.sla import SlaPolicy

LEDGER_COLUMNS = (
    "booking_id",
    "company",
    "start",
    "end",
    "billed_hours",
    "rate",
    "amount",
    "currency",
)


class OnCallLookups(Protocol):
    """What the booking activities need from Temporal (``service.oncall`` implements it)."""

    async def windows(self, company: str) -> Sequence[OnCallWindow]:
        """The company's booked or running windows, as visibility shows them."""
        ...

    async def open_incidents(self, company: str) -> Sequence[str]:
        """Ticket IDs of the company's open incidents."""
        ...

    async def send_windows(self, ticket_id: str, update: OnCallWindowsUpdate) -> bool:
        """Tell one incident its company's windows; ``False`` when it no longer runs."""
        ...


# -- activities --------------------------------------------------------------------


class OnCallReminderRequest(BaseModel):
    """Input of :meth:`OnCallActivities.compute_oncall_reminder`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    start: datetime


class SyncWindowsRequest(BaseModel):
    """Input of :meth:`OnCallActivities.sync_incident_windows`.

    Attributes:
        company: Whose incidents to tell.
        booking_id: The booking that changed.
        window: Its window as it now counts (``None``: cancelled before the
            start). It replaces whatever visibility says about this booking,
            which may lag behind the change.
    """

    model_config = ConfigDict(frozen=True)

    company: str
    booking_id: str
    window: OnCallWindow | None


class SyncWindowsResult(BaseModel):
    """The windows sent, and to which incidents."""

    model_config = ConfigDict(frozen=True)

    windows: tuple[OnCallWindow, ...]
    incidents: tuple[str, ...]


class LedgerEntry(BaseModel):
    """Result of :meth:`OnCallActivities.record_oncall_billing`."""

    model_config = ConfigDict(frozen=True)

    path: str
    appended: bool  # False: the booking was already in the ledger (a retry)


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""


def spreadsheet_text(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never evaluates.

    A cell starting with ``=``, ``+``, ``-``, ``@``, TAB or CR (and LF) gets a
    leading single quote (OWASP "CSV Injection"): ``=HYPERLINK(…)`` in a company
    name is then shown, not run, when billing opens the ledger. The quote stays
    in the file; readers of the ledger see it as part of the text.
    """
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def ledger_line(record: BillingRecord) -> list[str]:
    """The CSV fields of ``record`` (see :data:`LEDGER_COLUMNS`).

    Text columns go through :func:`spreadsheet_text`. The numbers and instants
    are ours and stay as they are: ISO dates start with a digit, hours are
    never negative (0 on a cancellation fee's line, whose amount is the fee),
    and rate and fee (``>= 0`` by the policy) and amount are never negative.
    """
    return [
        spreadsheet_text(record.booking_id),
        spreadsheet_text(record.company),
        record.start.isoformat(timespec="seconds"),
        record.end.isoformat(timespec="seconds"),
        str(record.hours),
        f"{record.rate:.2f}",
        f"{record.amount:.2f}",
        spreadsheet_text(record.currency),
    ]


def read_ledger(path: Path) -> list[dict[str, str]]:
    """The ledger's rows (empty when there is no ledger yet)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class OnCallActivities:
    """Activities of the on-call booking workflow; ``worker.py`` wires them.

    Args:
        ledger: The billing CSV, e.g. ``$SLA_DATA_DIR/billing/oncall.csv``.
        lookups: Bookings and incidents of a company, and the signal to an
            incident (tests on the time-skipping server, which has no
            visibility, answer the look-ups themselves).
    """

    def __init__(self, ledger: Path, lookups: OnCallLookups) -> None:
        self._ledger = ledger
        self._lookups = lookups

    @activity.defn
    async def compute_oncall_reminder(self, request: OnCallReminderRequest) -> datetime:
        """Local activity: opening time of the last business day before the window's day."""
        return reminder_instant(request.policy.calendar, request.start)

    @activity.defn
    async def sync_incident_windows(self, request: SyncWindowsRequest) -> SyncWindowsResult:
        """Send the company's current windows to each of its open incidents.

        Raises:
            ApplicationError: ``VisibilityUnavailable`` (non-retryable) when the
                server has no visibility API or rejects the query.
        """
        try:
            visible = await self._lookups.windows(request.company)
            tickets = await self._lookups.open_incidents(request.company)
        except RPCError as error:
            if error.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
                raise ApplicationError(
                    f"cannot look up bookings and incidents: {error.message}",
                    type="VisibilityUnavailable",
                    non_retryable=True,
                ) from error
            raise
        windows = [w for w in visible if w.booking_id != request.booking_id]
        if request.window is not None:
            windows.append(request.window)
        update = OnCallWindowsUpdate(windows=tuple(sorted(windows, key=lambda w: w.start)))
        signalled = []
        for ticket in tickets:
            # False: resolved meanwhile, its deadlines no longer matter.
            if await self._lookups.send_windows(ticket, update):
                signalled.append(ticket)
        activity.logger.info(
            "on-call windows of %s (%d) sent to %d incident(s)",
            request.company,
            len(update.windows),
            len(signalled),
        )
        return SyncWindowsResult(windows=update.windows, incidents=tuple(signalled))

    @activity.defn
    async def record_oncall_billing(self, record: BillingRecord) -> LedgerEntry:
        """Append ``record`` to the ledger unless its booking is already there."""
        appended = await asyncio.to_thread(self._append, record)
        activity.logger.info(
            "%s billing of %s: %d h, %s %s",
            "recorded" if appended else "already recorded",
            record.booking_id,
            record.hours,
            record.amount,
            record.currency,
        )
        return LedgerEntry(path=str(self._ledger), appended=appended)

    def _append(self, record: BillingRecord) -> bool:
        self._ledger.parent.mkdir(parents=True, exist_ok=True)
        # Lock a separate file: the ledger itself is replaced on every write.
        lock_path = self._ledger.with_name(f"{self._ledger.name}.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if any(
                    row.get("booking_id") == record.booking_id for row in read_ledger(self._ledger)
                ):
                    return False
                old = self._ledger.read_bytes() if self._ledger.exists() else b""
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                if not old:
                    writer.writerow(LEDGER_COLUMNS)
                writer.writerow(ledger_line(record))
                write_atomic(self._ledger, old + buffer.getvalue().encode("utf-8"))
                return True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
