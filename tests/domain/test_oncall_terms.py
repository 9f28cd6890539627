"""Tests for the terms of an on-call booking: business hours, cancellation, the operator.

``domain.oncall`` fixes the terms on the booking when it is made
(``OnCallTerms``): rate and currency, whether hours inside the regular business
time are billed (default: not), the parts of the window that are regular
business time, and the cancellation terms. Bookings without recorded terms
(started before they existed) keep the old reading: every hour billed, free
cancellation until the start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import AlreadyDone, RecordFull, WrongStatus
from domain.oncall import (
    MAX_ASSIGNMENTS,
    AssignOperator,
    BookingRequest,
    BookingStatus,
    CancelBooking,
    OnCallBooking,
    OnCallTerms,
    RegularTime,
    activate,
    assign_operator,
    bill,
    booking_terms,
    cancel,
    check_booking,
    complete,
    confirmation_message,
    duration_de,
    earliest_start_day,
    free_cancellation_deadline,
    hours_billed,
    lead_time_met,
    new_booking,
    operator_message,
    regular_time_in,
    terms_of,
)
from domain.sla import OnCallPolicy, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
CALENDAR = POLICY.calendar
H = timedelta(hours=1)
NRW = holidays.country_holidays("DE", subdiv="NW", years=range(2025, 2031))
BOOKED_AT = datetime(2026, 11, 23, 9, tzinfo=BERLIN)  # a Monday, well ahead of December


def berlin(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN)


def policy_with(**oncall: Any) -> SlaPolicy:
    data = POLICY.model_dump(mode="json", by_alias=True)
    data["oncall"] = {**data["oncall"], **oncall}
    return SlaPolicy.from_mapping(data)


def booked(
    start: datetime,
    end: datetime,
    policy: SlaPolicy = POLICY,
    *,
    operator: str | None = None,
    booked_at: datetime = BOOKED_AT,
) -> OnCallBooking:
    request = check_booking(
        policy,
        company="Beispiel Versand GmbH",
        start=start,
        end=end,
        reason="Migration",
        operator=operator,
        booked_at=booked_at,
    )
    return new_booking("ONC-TEST-AAAA", request, booked_at)


def span(start: datetime, end: datetime) -> RegularTime:
    return RegularTime(start=start, end=end)


# -- policy ---------------------------------------------------------------------------


def test_policy_defaults_leave_business_hours_unbilled_and_cancellation_free_until_the_start() -> (
    None
):
    oncall = OnCallPolicy()
    assert oncall.bill_business_hours is False
    assert oncall.free_cancellation_business_days == 0
    assert oncall.cancellation_fee == Decimal("0.00")
    shipped = POLICY.oncall
    assert (shipped.lead_business_days, shipped.hourly_rate, shipped.currency) == (
        3,
        Decimal("95.00"),
        "EUR",
    )
    assert shipped.bill_business_hours is False
    assert shipped.cancellation_fee == Decimal("0.00")


def test_policy_reads_the_new_terms_and_refuses_nonsense() -> None:
    policy = policy_with(
        bill_business_hours=True, free_cancellation_business_days=2, cancellation_fee="47.50"
    )
    assert policy.oncall.bill_business_hours is True
    assert policy.oncall.free_cancellation_business_days == 2
    assert policy.oncall.cancellation_fee == Decimal("47.50")
    for bad in ({"cancellation_fee": "-1"}, {"free_cancellation_business_days": -1}):
        with pytest.raises((ValidationError, ValueError)):
            policy_with(**bad)


# -- regular business time inside a window ----------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Friday afternoon into the evening: 16–18 is regular business time.
        (berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 20), [(16, 18)]),
        # Saturday: none.
        (berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14), []),
        # Sunday night to Monday 10:00: Monday 08–10.
        (berlin(2026, 12, 6, 20), berlin(2026, 12, 7, 10), [(8, 10)]),
        # Christmas Day (NRW holiday): none; 24 December is a business day.
        (berlin(2026, 12, 25, 8), berlin(2026, 12, 25, 18), []),
        (berlin(2026, 12, 24, 6), berlin(2026, 12, 24, 9), [(8, 9)]),
    ],
)
def test_regular_time_in_a_window(
    start: datetime, end: datetime, expected: list[tuple[int, int]]
) -> None:
    spans = regular_time_in(CALENDAR, start, end)
    assert [(s.start.astimezone(BERLIN).hour, s.end.astimezone(BERLIN).hour) for s in spans] == (
        expected
    )


def test_a_window_over_two_business_days_has_two_regular_spans() -> None:
    spans = regular_time_in(CALENDAR, berlin(2026, 12, 3, 17), berlin(2026, 12, 4, 9))
    assert spans == (
        span(berlin(2026, 12, 3, 17), berlin(2026, 12, 3, 18)),
        span(berlin(2026, 12, 4, 8), berlin(2026, 12, 4, 9)),
    )


def _is_business_minute(instant: datetime) -> bool:
    local = instant.astimezone(BERLIN)
    return local.weekday() < 5 and local.date() not in NRW and 8 <= local.hour < 18


@settings(max_examples=120, deadline=None)
@given(
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2029, 12, 1)),
    start_minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    length_minutes=st.integers(min_value=1, max_value=40 * 60),
    bill_business_hours=st.booleans(),
)
def test_billed_hours_match_minute_counting(
    day: date, start_minute: int, length_minutes: int, bill_business_hours: bool
) -> None:
    """Oracle: walk the window minute by minute; each started hour outside office hours bills."""
    # Minutes are walked in UTC (real time); the window is given in Berlin time,
    # as bookings are, so that wall-clock arithmetic across DST would show.
    first = (datetime.combine(day, time(0), BERLIN) + timedelta(minutes=start_minute)).astimezone(
        UTC
    )
    start = first.astimezone(BERLIN)
    end = (first + timedelta(minutes=length_minutes)).astimezone(BERLIN)
    terms = OnCallTerms(
        hourly_rate=Decimal("95.00"),
        currency="EUR",
        bill_business_hours=bill_business_hours,
        regular_time=regular_time_in(CALENDAR, start, end),
        free_cancellation_until=start,
    )
    counted = sum(
        1
        for n in range(length_minutes)
        if bill_business_hours or not _is_business_minute(first + timedelta(minutes=n))
    )
    assert hours_billed(terms, start, end) == -(-counted // 60)


# -- billing with terms ------------------------------------------------------------------------


def test_hours_inside_business_time_are_not_billed_by_default() -> None:
    b = booked(berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 20, 30))
    assert b.terms is not None
    assert b.terms.bill_business_hours is False
    assert b.terms.regular_time == (span(berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 18)),)

    done = complete(activate(b, b.start), b.end)
    record = bill(done, POLICY.oncall)
    assert record is not None
    # 18:00–20:30 outside business time: 2 h 30 min → 3 started hours.
    assert (record.hours, record.amount, record.fee) == (3, Decimal("285.00"), Decimal("0"))
    assert (record.start, record.end) == (b.start, b.end)


def test_a_night_across_the_dst_change_bills_the_hours_that_passed() -> None:
    # Saturday 24.10.2026 22:00 to Sunday 06:00: the clocks go back, 9 h pass.
    b = booked(berlin(2026, 10, 24, 22), berlin(2026, 10, 25, 6), booked_at=berlin(2026, 10, 19))
    record = bill(complete(activate(b, b.start), b.end), POLICY.oncall)
    assert record is not None and record.hours == 9
    # Friday 27.03.2026 17:00 to Sunday 29.03. 06:00 (clocks go forward): 1 h in business time.
    b = booked(berlin(2026, 3, 27, 17), berlin(2026, 3, 29, 6), booked_at=berlin(2026, 3, 20))
    record = bill(complete(activate(b, b.start), b.end), POLICY.oncall)
    assert record is not None and record.hours == 36 - 1


def test_business_hours_are_billed_when_the_policy_says_so() -> None:
    policy = policy_with(bill_business_hours=True)
    b = booked(berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 20, 30), policy)
    record = bill(complete(activate(b, b.start), b.end), policy.oncall)
    assert record is not None
    assert (record.hours, record.amount) == (5, Decimal("475.00"))


def test_a_window_wholly_inside_business_time_bills_nothing() -> None:
    b = booked(berlin(2026, 12, 4, 9), berlin(2026, 12, 4, 12))
    assert bill(complete(activate(b, b.start), b.end), POLICY.oncall) is None


def test_a_cancellation_while_running_bills_only_started_hours_outside_business_time() -> None:
    b = booked(berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 22))
    still_in_office_hours = cancel(activate(b, b.start), CancelBooking(), berlin(2026, 12, 4, 17))
    assert bill(still_in_office_hours, POLICY.oncall) is None
    evening = cancel(activate(b, b.start), CancelBooking(), berlin(2026, 12, 4, 19, 10))
    record = bill(evening, POLICY.oncall)
    assert record is not None
    assert (record.hours, record.end) == (2, berlin(2026, 12, 4, 19, 10))


def test_terms_are_fixed_at_booking_and_a_later_policy_change_does_not_alter_them() -> None:
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 12))
    dearer = policy_with(hourly_rate="150.00", currency="CHF", cancellation_fee="80.00")
    record = bill(complete(activate(b, b.start), b.end), dearer.oncall)
    assert record is not None
    assert (record.rate, record.amount, record.currency) == (
        Decimal("95.00"),
        Decimal("190.00"),
        "EUR",
    )
    late = cancel(b, CancelBooking(), berlin(2026, 12, 5, 9))
    assert bill(late, dearer.oncall) is None  # no fee was agreed


def test_a_booking_without_recorded_terms_is_billed_the_old_way() -> None:
    """Bookings started before terms existed: every hour, policy snapshot's rate, free until start.

    This is what keeps their workflows replaying: ``bill`` decides whether a
    billing activity runs.
    """
    request = BookingRequest(
        company="Beispiel Versand GmbH",
        start=berlin(2026, 12, 4, 16),
        end=berlin(2026, 12, 4, 20, 30),
        reason="Migration",
    )
    legacy = new_booking("ONC-OLD-AAAA", request, BOOKED_AT)
    assert legacy.terms is None
    strict = policy_with(cancellation_fee="50.00", free_cancellation_business_days=5)
    terms = terms_of(legacy, strict.oncall)
    assert terms.bill_business_hours is True
    assert terms.free_cancellation_until == legacy.start

    record = bill(complete(activate(legacy, legacy.start), legacy.end), strict.oncall)
    assert record is not None
    assert (record.hours, record.amount) == (5, Decimal("475.00"))
    late = cancel(legacy, CancelBooking(), berlin(2026, 12, 4, 15))
    assert bill(late, strict.oncall) is None


# -- cancellation terms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_day", "days", "free_until_day"),
    [
        # Saturday start, 3 days: Wed, Thu, Fri count → free through Tuesday.
        (date(2026, 12, 5), 3, date(2026, 12, 2)),
        # Thursday start, 3 days: Tue, Wed, Thu → free through Monday ("Mon for Thu").
        (date(2026, 12, 3), 3, date(2026, 12, 1)),
        # Monday 28.12., 2 days: Mon 28 and Thu 24 (25/26 are holidays) → through Wed 23.
        (date(2026, 12, 28), 2, date(2026, 12, 24)),
    ],
)
def test_free_cancellation_ends_as_the_lead_time_counts(
    start_day: date, days: int, free_until_day: date
) -> None:
    deadline = free_cancellation_deadline(CALENDAR, start_day, days)
    assert deadline == datetime.combine(free_until_day, time(0), BERLIN)
    assert deadline.utcoffset() == timedelta(hours=1)


@settings(max_examples=200, deadline=None)
@given(
    cancel_day=st.dates(min_value=date(2026, 1, 1), max_value=date(2029, 12, 1)),
    days_ahead=st.integers(min_value=0, max_value=14),
    business_days=st.integers(min_value=1, max_value=5),
)
def test_a_cancellation_is_free_exactly_when_a_booking_would_still_be_allowed(
    cancel_day: date, days_ahead: int, business_days: int
) -> None:
    start_day = cancel_day + timedelta(days=days_ahead)
    deadline = free_cancellation_deadline(CALENDAR, start_day, business_days)
    cancelled_at = datetime.combine(cancel_day, time(12), BERLIN)
    assert (cancelled_at < deadline) == lead_time_met(
        CALENDAR, cancel_day, start_day, business_days
    )
    # And the last free day is one: the day after the deadline's day is not.
    last_free = deadline.astimezone(BERLIN).date() - timedelta(days=1)
    assert earliest_start_day(CALENDAR, last_free, business_days) <= start_day
    assert earliest_start_day(CALENDAR, last_free + timedelta(days=1), business_days) > start_day


FEE_POLICY = policy_with(cancellation_fee="50.00", free_cancellation_business_days=3)


def test_a_late_cancellation_before_the_start_costs_the_fee() -> None:
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14), FEE_POLICY)
    assert b.terms is not None
    assert b.terms.free_cancellation_until == berlin(2026, 12, 2)
    assert b.terms.cancellation_fee == Decimal("50.00")

    in_time = cancel(b, CancelBooking(), berlin(2026, 12, 1, 23, 59))
    assert bill(in_time, FEE_POLICY.oncall) is None

    late = cancel(b, CancelBooking(), berlin(2026, 12, 2, 0, 0))
    record = bill(late, FEE_POLICY.oncall)
    assert record is not None
    assert (record.hours, record.fee, record.amount) == (0, Decimal("50.00"), Decimal("50.00"))
    assert record.start == record.end == berlin(2026, 12, 2)

    # Once it runs, the started hours are billed and no fee.
    running = cancel(b, CancelBooking(), berlin(2026, 12, 5, 10, 30))
    record = bill(running, FEE_POLICY.oncall)
    assert record is not None
    assert (record.hours, record.fee) == (1, Decimal("0"))


def test_without_a_fee_cancelling_is_free_until_the_start_whatever_the_days() -> None:
    policy = policy_with(free_cancellation_business_days=3)
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14), policy)
    assert b.terms is not None and b.terms.free_cancellation_until == b.start
    assert bill(cancel(b, CancelBooking(), berlin(2026, 12, 5, 9, 59)), policy.oncall) is None


# -- operator ---------------------------------------------------------------------------------


def test_an_operator_is_named_later_and_replaced() -> None:
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14))
    assert b.operator is None

    b = assign_operator(b, AssignOperator(operator=" Erika Muster "), berlin(2026, 11, 24, 9))
    assert b.operator == "Erika Muster"
    b = assign_operator(b, AssignOperator(operator="Max Muster"), berlin(2026, 11, 25, 9))
    assert b.operator == "Max Muster"
    assert [(a.operator, a.previous) for a in b.assignments] == [
        ("Erika Muster", None),
        ("Max Muster", "Erika Muster"),
    ]
    assert b.assignments[-1].at == berlin(2026, 11, 25, 9)

    with pytest.raises(AlreadyDone, match="already the operator"):
        assign_operator(b, AssignOperator(operator="Max Muster"), berlin(2026, 11, 26, 9))


def test_the_operator_can_be_replaced_while_the_window_runs_but_not_after() -> None:
    b = activate(booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14)), berlin(2026, 12, 5, 10))
    b = assign_operator(b, AssignOperator(operator="Ersatz"), berlin(2026, 12, 5, 12))
    assert b.status is BookingStatus.ACTIVE and b.operator == "Ersatz"
    with pytest.raises(WrongStatus, match="can no longer change"):
        assign_operator(b, AssignOperator(operator="Zu spät"), b.end)
    with pytest.raises(WrongStatus):
        assign_operator(complete(b, b.end), AssignOperator(operator="X"), b.end)
    cancelled = cancel(b, CancelBooking(), berlin(2026, 12, 5, 13))
    with pytest.raises(WrongStatus):
        assign_operator(cancelled, AssignOperator(operator="X"), berlin(2026, 12, 5, 13))


def test_operator_changes_are_bounded() -> None:
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14))
    for n in range(MAX_ASSIGNMENTS):
        b = assign_operator(b, AssignOperator(operator=f"Op {n}"), BOOKED_AT + n * H)
    with pytest.raises(RecordFull):
        assign_operator(b, AssignOperator(operator="one more"), BOOKED_AT + 100 * H)


@pytest.mark.parametrize("name", ["", "   ", "Zeile 1\nZeile 2"])
def test_an_operator_must_be_one_line_of_text(name: str) -> None:
    with pytest.raises(ValidationError):
        AssignOperator(operator=name)


def test_the_operator_notice_goes_to_the_customer_and_on_duty_once_per_change() -> None:
    b = booked(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14), operator="Erika")
    with pytest.raises(ValueError, match="no operator assignment"):
        operator_message(b, POLICY)
    first = assign_operator(b, AssignOperator(operator="Max"), berlin(2026, 11, 24, 9))
    second = assign_operator(first, AssignOperator(operator="Erika"), berlin(2026, 11, 25, 9))

    one, two = operator_message(first, POLICY), operator_message(second, POLICY)
    assert one.template == "oncall_operator"
    assert one.to == ("it@beispiel-versand.de", POLICY.contacts.on_duty)
    assert (one.context["previous"], two.context["previous"]) == ("Erika", "Max")
    assert one.date == berlin(2026, 11, 24, 9)
    assert one.message_id != two.message_id
    assert one.message_id == operator_message(first, POLICY).message_id


# -- what the booking shows ----------------------------------------------------------------


def test_the_confirmation_context_carries_the_terms_from_the_booking() -> None:
    b = booked(berlin(2026, 12, 4, 16), berlin(2026, 12, 4, 20, 30), FEE_POLICY)
    context = confirmation_message(b, FEE_POLICY).context
    assert context["rate"] == "95,00"
    assert context["currency"] == "EUR"
    assert context["bill_business_hours"] is False
    assert context["regular_duration"] == "2 Std."
    assert context["expected_hours"] == 3
    assert context["expected_amount"] == "285,00"
    assert context["cancellation_fee"] == "50,00"
    assert context["free_cancellation_over"] is False
    assert datetime.fromisoformat(str(context["free_cancellation_until"])) == berlin(2026, 12, 2)


def test_german_durations() -> None:
    assert duration_de(timedelta(hours=2)) == "2 Std."
    assert duration_de(timedelta(hours=1, minutes=30, seconds=59)) == "1 Std. 30 Min."
    assert duration_de(timedelta(minutes=45)) == "45 Min."
    assert duration_de(timedelta(0)) == "0 Min."


def test_booking_terms_follow_the_policy() -> None:
    terms = booking_terms(
        policy_with(hourly_rate="120.5", currency="CHF"),
        berlin(2026, 12, 5, 10),
        berlin(2026, 12, 5, 12),
    )
    assert (terms.hourly_rate, terms.currency) == (Decimal("120.50"), "CHF")
    assert terms.regular_time == ()
