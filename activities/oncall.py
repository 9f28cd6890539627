"""Extended on-call I/O: the billing ledger, telling incidents about windows, visibility look-ups.

* :meth:`OnCallActivities.record_oncall_billing` appends one line per booking
  to ``$SLA_DATA_DIR/billing/oncall.csv``. It may be retried (a lost reply, a
  worker crash after the write), so it checks the ledger for the booking ID
  under a file lock before appending: a booking is never billed twice.
* :meth:`OnCallActivities.sync_incident_windows` sends the company's current
  windows to each of its open incidents (``IncidentWorkflow.update_oncall_windows``).
* :func:`find_bookings` and :func:`company_windows` read bookings from
  visibility: ``Company``, ``WindowStart`` and ``LifecycleState`` search
  attributes, the window end from the memo (the dev server allows only three
  datetime attributes).
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.files import write_atomic
from domain.oncall import (
    OPEN_STATUSES,
    BillingRecord,
    BookingStatus,
    BookingSummary,
    OnCallWindow,
    OnCallWindowsUpdate,
    reminder_instant,
)
from domain.sla import SlaPolicy
from workflows import names

WORKFLOW_TYPE = "OnCallBookingWorkflow"
MEMO_WINDOW_END = "window_end"
MEMO_OPERATOR = "operator"
MEMO_REQUEST = "request"
"""Memo keys of a booking workflow (set by the booking client at start)."""

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

WindowsFinder = Callable[[str], Awaitable[Sequence[OnCallWindow]]]
IncidentFinder = Callable[[str], Awaitable[Sequence[str]]]


# -- visibility ------------------------------------------------------------------


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def bookings_query(
    *,
    companies: Sequence[str] = (),
    statuses: Sequence[BookingStatus] = (),
    running_only: bool = False,
) -> str:
    """The visibility query for bookings of ``companies`` in ``statuses`` (all if empty)."""
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if companies:
        clauses.append(f"Company IN ({', '.join(_quoted(c) for c in dict.fromkeys(companies))})")
    if statuses:
        clauses.append(f"LifecycleState IN ({', '.join(_quoted(s.value) for s in statuses)})")
    if running_only:
        # A terminated booking keeps its last LifecycleState; it covers nothing.
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


async def find_bookings(client: Client, query: str, *, limit: int = 500) -> list[BookingSummary]:
    """Bookings matching a visibility ``query`` (see :func:`bookings_query`), by window start."""
    found: dict[str, BookingSummary] = {}
    async for execution in client.list_workflows(query, limit=limit):
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
        f"WorkflowType = 'IncidentWorkflow' AND Company = {_quoted(company)} "
        "AND TicketStatus != 'resolved' AND ExecutionStatus = 'Running'"
    )
    ids = [execution.id async for execution in client.list_workflows(query)]
    return list(dict.fromkeys(ids))


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


def ledger_line(record: BillingRecord) -> list[str]:
    """The CSV fields of ``record`` (see :data:`LEDGER_COLUMNS`)."""
    return [
        record.booking_id,
        record.company,
        record.start.isoformat(timespec="seconds"),
        record.end.isoformat(timespec="seconds"),
        str(record.hours),
        f"{record.rate:.2f}",
        f"{record.amount:.2f}",
        record.currency,
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
        client: Reaches visibility and the incidents.
        ledger: The billing CSV, e.g. ``$SLA_DATA_DIR/billing/oncall.csv``.
        find_windows: Override of :func:`company_windows` (tests on the
            time-skipping server, which has no visibility).
        find_incidents: Override of :func:`open_incidents` (same reason).
    """

    def __init__(
        self,
        client: Client,
        ledger: Path,
        *,
        find_windows: WindowsFinder | None = None,
        find_incidents: IncidentFinder | None = None,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._find_windows = find_windows or (lambda company: company_windows(client, company))
        self._find_incidents = find_incidents or (lambda company: open_incidents(client, company))

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
        # Imported here: workflows import activities' models, not the other way round.
        from workflows.incident import IncidentWorkflow

        try:
            visible = await self._find_windows(request.company)
            tickets = await self._find_incidents(request.company)
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
            handle = self._client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
            try:
                await handle.signal(IncidentWorkflow.update_oncall_windows, update)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # resolved meanwhile: its deadlines no longer matter
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
