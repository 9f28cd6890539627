"""The on-call billing ledger is opened in spreadsheets: no cell may run as a formula.

OWASP "CSV Injection": a text cell starting with ``=``, ``+``, ``-``, ``@``,
TAB or CR gets a leading single quote; the numbers and ISO instants the engine
produces itself stay as they are (issue 14).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.testing import ActivityEnvironment

from activities.oncall import (
    FORMULA_TRIGGERS,
    LEDGER_COLUMNS,
    OnCallActivities,
    ledger_line,
    read_ledger,
    spreadsheet_text,
)
from domain.oncall import BillingRecord, billing_amount
from tests.activities.test_oncall_activities import FakeLookups

BERLIN = ZoneInfo("Europe/Berlin")
HYPERLINK = '=HYPERLINK("http://evil","x")'


def record(company: str, booking_id: str = "ONC-20261205-AAAA", hours: int = 3) -> BillingRecord:
    start = datetime(2026, 12, 5, 10, tzinfo=BERLIN)
    return BillingRecord(
        booking_id=booking_id,
        company=company,
        start=start,
        end=start + timedelta(hours=2, minutes=1),
        hours=hours,
        rate=Decimal("95.00"),
        amount=billing_amount(hours, Decimal("95.00")),
        currency="EUR",
    )


async def test_formula_companies_read_back_as_quoted_text(tmp_path: Path) -> None:
    path = tmp_path / "billing" / "oncall.csv"
    activities = OnCallActivities(path, FakeLookups())
    env = ActivityEnvironment()
    await env.run(activities.record_oncall_billing, record(HYPERLINK))
    await env.run(activities.record_oncall_billing, record("@SUM(1)", "ONC-20261205-BBBB"))
    await env.run(activities.record_oncall_billing, record("Beispiel Versand GmbH", "ONC-C"))

    rows = read_ledger(path)
    assert [r["company"] for r in rows] == [
        "'" + HYPERLINK,
        "'@SUM(1)",
        "Beispiel Versand GmbH",
    ]
    assert rows[0] == {
        "booking_id": "ONC-20261205-AAAA",
        "company": "'" + HYPERLINK,
        "start": "2026-12-05T10:00:00+01:00",
        "end": "2026-12-05T12:01:00+01:00",
        "billed_hours": "3",
        "rate": "95.00",
        "amount": "285.00",
        "currency": "EUR",
    }
    # No cell of the file starts with a formula trigger.
    for row in rows:
        assert set(row) == set(LEDGER_COLUMNS)
        for column, value in row.items():
            assert not value.startswith(FORMULA_TRIGGERS), (column, value)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+49 2131", "'+49 2131"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ACME = GmbH", "ACME = GmbH"),
        ("'already", "'already"),
        ("", ""),
    ],
)
def test_spreadsheet_text(text: str, cell: str) -> None:
    assert spreadsheet_text(text) == cell


def test_numbers_and_instants_stay_numbers() -> None:
    line = ledger_line(record("=cmd|' /C calc'!A0", hours=7))
    assert line == [
        "ONC-20261205-AAAA",
        "'=cmd|' /C calc'!A0",
        "2026-12-05T10:00:00+01:00",
        "2026-12-05T12:01:00+01:00",
        "7",
        "95.00",
        "665.00",
        "EUR",
    ]


@given(
    hours=st.integers(min_value=1, max_value=10_000),
    rate=st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_the_numeric_columns_never_start_with_a_trigger(hours: int, rate: Decimal) -> None:
    """Rate >= 0 (the policy's constraint) and hours >= 1: the amount is never negative."""
    billing = record("X", hours=hours).model_copy(
        update={"rate": rate, "amount": billing_amount(hours, rate)}
    )
    for cell in ledger_line(billing)[2:7]:
        assert not cell.startswith(FORMULA_TRIGGERS), cell
