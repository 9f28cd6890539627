"""On-call activities without a server: billing ledger, telling incidents, calendar cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities, ClockRequest
from activities.oncall import (
    LEDGER_COLUMNS,
    OnCallActivities,
    SyncWindowsRequest,
    bookings_query,
    read_ledger,
)
from domain.oncall import OPEN_STATUSES, BillingRecord, OnCallWindow
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


def ledger_activities(path: Path, client: Any = None, **finders: Any) -> OnCallActivities:
    return OnCallActivities(cast(Client, client), path, **finders)


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


@dataclass
class FakeHandle:
    ticket: str
    client: FakeClient

    async def signal(self, _signal: Any, update: Any) -> None:
        if self.ticket in self.client.closed:
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
        self.client.signals.append((self.ticket, update))


@dataclass
class FakeClient:
    closed: set[str] = field(default_factory=set)
    signals: list[tuple[str, Any]] = field(default_factory=list)

    def get_workflow_handle_for(self, _run: Any, ticket: str) -> FakeHandle:
        return FakeHandle(ticket, self)


def win(booking_id: str, day: int) -> OnCallWindow:
    start = datetime(2026, 12, day, 10, tzinfo=BERLIN)
    return OnCallWindow(booking_id=booking_id, start=start, end=start + timedelta(hours=4))


async def test_incidents_get_the_other_bookings_plus_this_one_as_it_now_counts(
    tmp_path: Path,
) -> None:
    client = FakeClient(closed={"INC-CLOSED"})

    async def find_windows(company: str) -> list[OnCallWindow]:
        # Visibility still shows this booking's old window: the request wins.
        return [win("OTHER", 12), win("THIS", 5)]

    async def find_incidents(company: str) -> list[str]:
        return ["INC-1", "INC-CLOSED", "INC-2"]

    activities = ledger_activities(
        tmp_path / "l.csv", client, find_windows=find_windows, find_incidents=find_incidents
    )
    env = ActivityEnvironment()

    result = await env.run(
        activities.sync_incident_windows,
        SyncWindowsRequest(company="X", booking_id="THIS", window=None),
    )
    assert result.incidents == ("INC-1", "INC-2")
    assert [w.booking_id for w in result.windows] == ["OTHER"]
    assert [t for t, _ in client.signals] == ["INC-1", "INC-2"]

    result = await env.run(
        activities.sync_incident_windows,
        SyncWindowsRequest(company="X", booking_id="THIS", window=win("THIS", 19)),
    )
    assert [w.booking_id for w in result.windows] == ["OTHER", "THIS"]
    assert result.windows[1] == win("THIS", 19)


async def test_missing_visibility_is_a_permanent_failure(tmp_path: Path) -> None:
    async def unimplemented(company: str) -> list[OnCallWindow]:
        raise RPCError("ListWorkflowExecutions is unimplemented", RPCStatusCode.UNIMPLEMENTED, b"")

    activities = ledger_activities(tmp_path / "l.csv", FakeClient(), find_windows=unimplemented)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            activities.sync_incident_windows,
            SyncWindowsRequest(company="X", booking_id="B", window=None),
        )
    assert info.value.type == "VisibilityUnavailable"
    assert info.value.non_retryable


def test_the_bookings_query_quotes_companies_and_states() -> None:
    query = bookings_query(
        companies=('Müller "&" Söhne',), statuses=OPEN_STATUSES, running_only=True
    )
    assert query == (
        'WorkflowType = \'OnCallBookingWorkflow\' AND Company IN ("Müller \\"&\\" Söhne") '
        'AND LifecycleState IN ("booked", "active") AND ExecutionStatus = \'Running\''
    )


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
