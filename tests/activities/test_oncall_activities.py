"""On-call activities without a server: billing ledger, telling incidents, calendar cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities, ClockRequest
from activities.oncall import (
    LEDGER_COLUMNS,
    OnCallActivities,
    SyncWindowsRequest,
    read_ledger,
)
from domain.oncall import BillingRecord, OnCallWindow, OnCallWindowsUpdate
from domain.sla import Severity, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()


def record(booking_id: str = "ONC-20261205-AAAA", hours: int = 3) -> BillingRecord:
    start = datetime(2026, 12, 5, 10, tzinfo=BERLIN)
    return BillingRecord(
        booking_id=booking_id,
        company="Beispiel Versand GmbH",
        start=start,
        end=start + timedelta(hours=2, minutes=1),
        hours=hours,
        rate=Decimal("95.00"),
        amount=Decimal("95.00") * hours,
        currency="EUR",
    )


@dataclass
class FakeLookups:
    """Stands in for visibility and the incidents' signal (service.oncall in production)."""

    windows_found: list[OnCallWindow] = field(default_factory=list)
    incidents_found: list[str] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)
    signals: list[tuple[str, OnCallWindowsUpdate]] = field(default_factory=list)
    failure: Exception | None = None

    async def windows(self, company: str) -> list[OnCallWindow]:
        if self.failure is not None:
            raise self.failure
        return list(self.windows_found)

    async def open_incidents(self, company: str) -> list[str]:
        return list(self.incidents_found)

    async def send_windows(self, ticket_id: str, update: OnCallWindowsUpdate) -> bool:
        if ticket_id in self.closed:
            return False
        self.signals.append((ticket_id, update))
        return True


def ledger_activities(path: Path, lookups: FakeLookups | None = None) -> OnCallActivities:
    return OnCallActivities(path, lookups or FakeLookups())


async def test_the_ledger_gets_one_line_per_booking_however_often_it_is_called(
    tmp_path: Path,
) -> None:
    path = tmp_path / "billing" / "oncall.csv"
    activities = ledger_activities(path)
    env = ActivityEnvironment()

    first = await env.run(activities.record_oncall_billing, record())
    again = await env.run(activities.record_oncall_billing, record())
    racing = await asyncio.gather(
        *(env.run(activities.record_oncall_billing, record("ONC-20261212-BBBB")) for _ in range(8))
    )

    assert first.appended and not again.appended
    assert sum(r.appended for r in racing) == 1
    assert path.read_text("utf-8").splitlines()[0] == ",".join(LEDGER_COLUMNS)
    rows = read_ledger(path)
    assert [r["booking_id"] for r in rows] == ["ONC-20261205-AAAA", "ONC-20261212-BBBB"]
    assert rows[0] == {
        "booking_id": "ONC-20261205-AAAA",
        "company": "Beispiel Versand GmbH",
        "start": "2026-12-05T10:00:00+01:00",
        "end": "2026-12-05T12:01:00+01:00",
        "billed_hours": "3",
        "rate": "95.00",
        "amount": "285.00",
        "currency": "EUR",
    }
    assert list(path.parent.glob(".*.tmp")) == []


def win(booking_id: str, day: int) -> OnCallWindow:
    start = datetime(2026, 12, day, 10, tzinfo=BERLIN)
    return OnCallWindow(booking_id=booking_id, start=start, end=start + timedelta(hours=4))


async def test_incidents_get_the_other_bookings_plus_this_one_as_it_now_counts(
    tmp_path: Path,
) -> None:
    lookups = FakeLookups(
        # Visibility still shows this booking's old window: the request wins.
        windows_found=[win("OTHER", 12), win("THIS", 5)],
        incidents_found=["INC-1", "INC-CLOSED", "INC-2"],
        closed={"INC-CLOSED"},
    )
    activities = ledger_activities(tmp_path / "l.csv", lookups)
    env = ActivityEnvironment()

    result = await env.run(
        activities.sync_incident_windows,
        SyncWindowsRequest(company="X", booking_id="THIS", window=None),
    )
    assert result.incidents == ("INC-1", "INC-2")
    assert [w.booking_id for w in result.windows] == ["OTHER"]
    assert [t for t, _ in lookups.signals] == ["INC-1", "INC-2"]

    result = await env.run(
        activities.sync_incident_windows,
        SyncWindowsRequest(company="X", booking_id="THIS", window=win("THIS", 19)),
    )
    assert [w.booking_id for w in result.windows] == ["OTHER", "THIS"]
    assert result.windows[1] == win("THIS", 19)


async def test_missing_visibility_is_a_permanent_failure(tmp_path: Path) -> None:
    unimplemented = RPCError(
        "ListWorkflowExecutions is unimplemented", RPCStatusCode.UNIMPLEMENTED, b""
    )
    activities = ledger_activities(tmp_path / "l.csv", FakeLookups(failure=unimplemented))
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            activities.sync_incident_windows,
            SyncWindowsRequest(company="X", booking_id="B", window=None),
        )
    assert info.value.type == "VisibilityUnavailable"
    assert info.value.non_retryable


async def test_the_calendar_cache_tells_windows_apart() -> None:
    calendar = CalendarActivities()
    env = ActivityEnvironment()
    received = datetime(2026, 12, 5, 10, 30, tzinfo=BERLIN)
    saturday = win("B", 5)

    plain = await env.run(
        calendar.compute_incident_clock, ClockRequest(policy=POLICY, received_at=received)
    )
    windowed = await env.run(
        calendar.compute_incident_clock,
        ClockRequest(policy=POLICY, received_at=received, windows=(saturday,)),
    )
    plain_again = await env.run(
        calendar.compute_incident_clock, ClockRequest(policy=POLICY, received_at=received)
    )

    expected = POLICY.calendar.with_windows([saturday.pair()]).add(received, timedelta(hours=1))
    assert windowed.deadlines[Severity.CRITICAL].reaction_due == expected
    assert plain.deadlines == plain_again.deadlines == POLICY.all_deadlines(received)
    assert windowed.next_opening_page is None  # on duty during the window: paged once
    assert plain.next_opening_page is not None
