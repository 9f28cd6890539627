"""Tests for ``domain.oncall``: lead time, billing per started hour, lifecycle, windows, messages.

Lead time (module docstring of ``domain.oncall``), the plain reading: booking
day + ``lead_business_days`` (3) business days ≤ start day ("Mon for Thu"),
judged in Berlin with the NRW holidays.
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

from domain.errors import AlreadyDone, NotDue, WrongStatus
from domain.oncall import (
    BookingRefused,
    BookingRequest,
    BookingStatus,
    CancelBooking,
    OnCallBooking,
    OnCallWindow,
    StepKind,
    activate,
    bill,
    billable_period,
    billed_hours,
    billing_amount,
    booking_id_for,
    booking_seed,
    booking_warnings,
    business_days_after,
    cancel,
    cancellation_message,
    check_booking,
    complete,
    confirmation_message,
    earliest_start_day,
    format_money_de,
    merge_windows,
    new_booking,
    next_step,
    remind,
    reminder_instant,
    reminder_message,
    schedule_reminder,
    with_oncall_windows,
)
from domain.sla import OnCallPolicy, Severity, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
CALENDAR = POLICY.calendar
H = timedelta(hours=1)
NRW = holidays.country_holidays("DE", subdiv="NW", years=range(2025, 2031))


def berlin(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=BERLIN)


def accepted(booked_at: datetime, start: datetime, policy: SlaPolicy = POLICY) -> bool:
    try:
        check_booking(
            policy,
            company="Beispiel Versand GmbH",
            start=start,
            end=start + 2 * H,
            reason="Migration",
            operator="Max",
            booked_at=booked_at,
        )
    except BookingRefused:
        return False
    return True


SAT_10 = berlin(2026, 12, 5, 10)
SAT_12_01 = berlin(2026, 12, 5, 12, 1)


def booking(
    start: datetime = SAT_10, end: datetime = SAT_12_01, company: str = "Beispiel Versand GmbH"
) -> OnCallBooking:
    request = BookingRequest(
        company=company, start=start, end=end, reason="Migration", operator="Max Muster"
    )
    return new_booking(
        booking_id_for(start.date(), booking_seed(request)), request, berlin(2026, 11, 30, 9)
    )


# -- lead time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("booked_on", "refused_day", "first_day"),
    [
        # Monday + Tue, Wed, Thu → Thursday: "Mon for Thu" is allowed.
        (date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 3)),
        # Friday: the weekend does not count → Wednesday (Mon, Tue, Wed).
        (date(2026, 11, 27), date(2026, 12, 1), date(2026, 12, 2)),
        # Saturday: Mon, Tue, Wed → Wednesday, as when booked on Friday.
        (date(2026, 11, 28), date(2026, 12, 1), date(2026, 12, 2)),
        # Wednesday: Thu, Fri, Mon → Monday; the Saturday between is too early.
        (date(2026, 12, 2), date(2026, 12, 5), date(2026, 12, 7)),
        # Christmas (Fri 25 and Sat 26 are NRW holidays; 24 is a business day).
        (date(2026, 12, 22), date(2026, 12, 27), date(2026, 12, 28)),
        # Easter 2027: Good Friday 26.03. and Easter Monday 29.03.
        (date(2027, 3, 24), date(2027, 3, 30), date(2027, 3, 31)),
        # Corpus Christi (Fronleichnam) 27.05.2027, an NRW holiday.
        (date(2027, 5, 25), date(2027, 5, 30), date(2027, 5, 31)),
    ],
)
def test_booking_day_plus_three_business_days_is_the_first_start_day(
    booked_on: date, refused_day: date, first_day: date
) -> None:
    booked_at = datetime.combine(booked_on, time(9, 0), BERLIN)

    assert earliest_start_day(CALENDAR, booked_on, 3) == first_day
    assert not accepted(booked_at, datetime.combine(refused_day, time(23, 0), BERLIN))
    assert not accepted(booked_at, datetime.combine(first_day, time(0, 0), BERLIN) - H)
    assert accepted(booked_at, datetime.combine(first_day, time(0, 0), BERLIN))
    assert accepted(booked_at, datetime.combine(first_day, time(19, 0), BERLIN))


def test_mon_for_thu_is_allowed_as_the_sla_text_reads() -> None:
    monday = berlin(2026, 11, 30, 17, 55)
    assert accepted(monday, berlin(2026, 12, 3, 6))  # Thursday morning
    assert not accepted(monday, berlin(2026, 12, 2, 22))  # Wednesday night
    assert business_days_after(CALENDAR, date(2026, 11, 30), date(2026, 12, 3)) == 3


def test_a_lead_time_of_zero_allows_the_same_day() -> None:
    assert earliest_start_day(CALENDAR, date(2026, 12, 5), 0) == date(2026, 12, 5)
    assert earliest_start_day(CALENDAR, date(2026, 12, 5), 1) == date(2026, 12, 7)


def test_the_booking_day_is_the_berlin_day_whatever_the_offset() -> None:
    # Monday 23:30 UTC is already Tuesday in Berlin: Thursday is then too early.
    start = berlin(2026, 12, 3, 19)
    assert accepted(berlin(2026, 11, 30, 23, 59), start)
    assert not accepted(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), start)


def test_the_refusal_names_the_rule_and_the_earliest_day() -> None:
    with pytest.raises(BookingRefused) as info:
        check_booking(
            POLICY,
            company="Beispiel Versand GmbH",
            start=berlin(2026, 12, 2, 19),
            end=berlin(2026, 12, 2, 23),
            reason="Migration",
            operator=None,
            booked_at=berlin(2026, 11, 30, 9),
        )
    message = str(info.value)
    assert "at least 3 business days ahead" in message
    assert "2026-12-03" in message


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(BookingRefused) as info:
        check_booking(
            POLICY,
            company=" ",
            start=berlin(2026, 12, 10, 19),
            end=berlin(2026, 12, 10, 19),
            reason="  ",
            operator=None,
            booked_at=berlin(2026, 11, 30, 9),
        )
    message = str(info.value)
    assert "a company is required" in message
    assert "a reason is required" in message
    assert "must be after the start" in message


def test_start_in_the_past_and_naive_times_are_refused() -> None:
    lenient = SlaPolicy.from_mapping(
        {**POLICY.model_dump(mode="json", by_alias=True), "oncall": {"lead_business_days": 0}}
    )
    assert accepted(berlin(2026, 11, 30, 9), berlin(2026, 11, 30, 19), lenient)
    assert not accepted(berlin(2026, 11, 30, 20), berlin(2026, 11, 30, 19), lenient)
    with pytest.raises(BookingRefused, match="time zone"):
        check_booking(
            POLICY,
            company="X",
            start=datetime(2026, 12, 10, 19),
            end=datetime(2026, 12, 10, 21),
            reason="r",
            operator=None,
            booked_at=berlin(2026, 11, 30, 9),
        )


def test_known_company_gets_the_directory_spelling_and_unknown_ones_a_warning() -> None:
    common: dict[str, Any] = {
        "start": berlin(2026, 12, 10, 19),
        "end": berlin(2026, 12, 10, 21),
        "reason": " Migration ",
        "operator": "  ",
        "booked_at": berlin(2026, 11, 30, 9),
    }
    known = check_booking(POLICY, company="beispiel versand gmbh", **common)
    assert known.company == "Beispiel Versand GmbH"
    assert known.reason == "Migration"
    assert known.operator is None
    assert booking_warnings(POLICY, known) == []

    unknown = check_booking(POLICY, company="Neukunde AG", **common)
    assert unknown.company == "Neukunde AG"
    (warning,) = booking_warnings(POLICY, unknown)
    assert "not in the customer directory" in warning


def _oracle_business_days(first: date, last: date) -> int:
    """Plain day counting: Mon–Fri that are no NRW holiday, after ``first`` up to ``last``."""
    return sum(
        1
        for n in range(1, (last - first).days + 1)
        if (day := first + timedelta(days=n)).weekday() < 5 and day not in NRW
    )


@settings(max_examples=300, deadline=None)
@given(
    booked_on=st.dates(min_value=date(2026, 1, 1), max_value=date(2029, 12, 20)),
    booked_minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    days_ahead=st.integers(min_value=0, max_value=12),
    start_minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_lead_time_matches_day_counting(
    booked_on: date, booked_minute: int, days_ahead: int, start_minute: int
) -> None:
    booked_at = datetime.combine(booked_on, time(0), BERLIN) + timedelta(minutes=booked_minute)
    start_day = booked_on + timedelta(days=days_ahead)
    start = datetime.combine(start_day, time(0), BERLIN) + timedelta(minutes=start_minute)
    counted = _oracle_business_days(booked_on, start_day)

    assert business_days_after(CALENDAR, booked_on, start_day) == counted
    # booking day + 3 business days <= start day  <=>  3 business days in (booked, start].
    assert accepted(booked_at, start) == (start > booked_at and counted >= 3)
    earliest = earliest_start_day(CALENDAR, booked_on, 3)
    assert _oracle_business_days(booked_on, earliest) == 3
    assert _oracle_business_days(booked_on, earliest - timedelta(days=1)) == 2


# -- billing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "hours"),
    [
        (timedelta(0), 0),
        (-H, 0),
        (timedelta(microseconds=1), 1),
        (H, 1),
        (2 * H, 2),
        (2 * H + timedelta(seconds=1), 3),
        (2 * H + timedelta(minutes=1), 3),
        (2 * H + timedelta(minutes=59, seconds=59), 3),
        (timedelta(hours=10), 10),
    ],
)
def test_billing_counts_started_hours(elapsed: timedelta, hours: int) -> None:
    start = berlin(2026, 12, 5, 10)
    assert billed_hours(start, start + elapsed) == hours


def test_a_night_across_the_dst_change_bills_the_hours_that_passed() -> None:
    # 25.10.2026: 03:00 summer time becomes 02:00 winter time; 00:00–06:00 is 7 h.
    assert billed_hours(berlin(2026, 10, 25, 0), berlin(2026, 10, 25, 6)) == 7


def test_amounts_are_decimal_cents() -> None:
    rate = POLICY.oncall.hourly_rate
    assert billing_amount(3, rate) == Decimal("285.00")
    assert isinstance(billing_amount(3, rate), Decimal)
    assert billing_amount(0, rate) == Decimal("0.00")
    assert billing_amount(3, Decimal("95.55")) == Decimal("286.65")
    assert billing_amount(7, Decimal("0.10")) == Decimal("0.70")  # no float drift
    assert format_money_de(Decimal("1234.5")) == "1.234,50"
    assert format_money_de(Decimal("95")) == "95,00"


@settings(max_examples=100, deadline=None)
@given(
    hours=st.integers(min_value=0, max_value=10_000),
    cents=st.integers(min_value=0, max_value=100_000),
)
def test_amount_is_exactly_hours_times_rate(hours: int, cents: int) -> None:
    rate = Decimal(cents) / 100
    assert billing_amount(hours, rate) == Decimal(hours * cents) / 100


# -- lifecycle ---------------------------------------------------------------------


def test_booked_active_completed_billed_per_started_hour() -> None:
    b = schedule_reminder(booking(), berlin(2026, 12, 4, 8))
    assert b.status is BookingStatus.BOOKED
    assert next_step(b) == next_step(b)  # pure
    step = next_step(b)
    assert step is not None and (step.kind, step.at) == (StepKind.REMIND, berlin(2026, 12, 4, 8))

    with pytest.raises(NotDue):
        remind(b, berlin(2026, 12, 4, 7, 59))
    b = remind(b, berlin(2026, 12, 4, 8))
    with pytest.raises(AlreadyDone):
        remind(b, berlin(2026, 12, 4, 9))
    step = next_step(b)
    assert step is not None and (step.kind, step.at) == (StepKind.ACTIVATE, b.start)

    with pytest.raises(NotDue):
        activate(b, b.start - timedelta(seconds=1))
    with pytest.raises(WrongStatus):
        complete(b, b.end)
    b = activate(b, b.start)
    assert b.status is BookingStatus.ACTIVE
    step = next_step(b)
    assert step is not None and (step.kind, step.at) == (StepKind.COMPLETE, b.end)
    assert bill(b, POLICY.oncall) is None  # nothing billed while it runs

    with pytest.raises(NotDue):
        complete(b, b.end - timedelta(seconds=1))
    b = complete(b, b.end)
    assert b.status is BookingStatus.COMPLETED
    assert next_step(b) is None
    record = bill(b, POLICY.oncall)
    assert record is not None
    assert (record.hours, record.amount, record.currency) == (3, Decimal("285.00"), "EUR")
    assert (record.start, record.end) == (b.start, b.end)
    assert b.window() == OnCallWindow(booking_id=b.booking_id, start=b.start, end=b.end)


def test_cancelled_before_the_start_is_not_billed_and_has_no_window() -> None:
    b = cancel(booking(), CancelBooking(reason=" verschoben "), berlin(2026, 12, 1, 9))
    assert b.status is BookingStatus.CANCELLED
    assert b.cancel_reason == "verschoben"
    assert not b.started
    assert b.window() is None
    assert billable_period(b) is None
    assert bill(b, POLICY.oncall) is None
    assert next_step(b) is None
    with pytest.raises(AlreadyDone):
        cancel(b, CancelBooking(), berlin(2026, 12, 1, 10))


def test_cancelled_while_running_bills_the_started_hours_so_far() -> None:
    b = activate(booking(), berlin(2026, 12, 5, 10))
    b = cancel(b, CancelBooking(), berlin(2026, 12, 5, 11, 30))
    record = bill(b, POLICY.oncall)
    assert record is not None
    assert (record.hours, record.amount) == (2, Decimal("190.00"))
    assert record.end == berlin(2026, 12, 5, 11, 30)
    assert b.window() == OnCallWindow(
        booking_id=b.booking_id, start=b.start, end=berlin(2026, 12, 5, 11, 30)
    )


def test_a_cancellation_after_the_start_counts_as_running_even_before_the_timer_fired() -> None:
    b = booking()  # still booked: the start timer has not fired
    b = cancel(b, CancelBooking(), berlin(2026, 12, 5, 10, 20))
    assert b.started
    record = bill(b, POLICY.oncall)
    assert record is not None and record.hours == 1
    # Cancelled at the very start instant: started, but zero hours → no bill.
    at_start = cancel(booking(), CancelBooking(), berlin(2026, 12, 5, 10))
    assert bill(at_start, POLICY.oncall) is None


def test_completed_or_elapsed_bookings_cannot_be_cancelled() -> None:
    running = activate(booking(), berlin(2026, 12, 5, 10))
    with pytest.raises(WrongStatus, match="is over"):
        cancel(running, CancelBooking(), running.end)
    done = complete(running, running.end)
    with pytest.raises(WrongStatus, match="is over"):
        cancel(done, CancelBooking(), running.end + H)


def test_a_custom_rate_is_used() -> None:
    b = complete(activate(booking(), berlin(2026, 12, 5, 10)), berlin(2026, 12, 5, 12, 1))
    record = bill(b, OnCallPolicy(hourly_rate=Decimal("120.50"), currency="CHF"))
    assert record is not None
    assert (record.rate, record.amount, record.currency) == (
        Decimal("120.50"),
        Decimal("361.50"),
        "CHF",
    )


@pytest.mark.parametrize(
    ("start", "reminder"),
    [
        (berlin(2026, 12, 5, 10), berlin(2026, 12, 4, 8)),  # Saturday → Friday opening
        (berlin(2026, 12, 6, 10), berlin(2026, 12, 4, 8)),  # Sunday → Friday
        (berlin(2026, 12, 7, 6), berlin(2026, 12, 4, 8)),  # Monday morning → Friday
        (berlin(2026, 12, 9, 19), berlin(2026, 12, 8, 8)),  # Wednesday evening → Tuesday
        (berlin(2027, 3, 30, 19), berlin(2027, 3, 25, 8)),  # after Easter → Maundy Thursday
    ],
)
def test_on_duty_is_reminded_at_the_opening_of_the_previous_business_day(
    start: datetime, reminder: datetime
) -> None:
    got = reminder_instant(CALENDAR, start)
    assert got == reminder
    assert got.utcoffset() == reminder.utcoffset()


def test_the_booking_id_names_the_start_day() -> None:
    b = booking()
    assert b.booking_id.startswith("ONC-20261205-")
    assert len(b.booking_id) == len("ONC-20261205-XXXX")
    assert booking().booking_id == b.booking_id  # same company and window, same ID


# -- windows for incidents -----------------------------------------------------------


def window(booking_id: str, start: datetime, end: datetime) -> OnCallWindow:
    return OnCallWindow(booking_id=booking_id, start=start, end=end)


def test_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        window("B", berlin(2026, 12, 5, 12), berlin(2026, 12, 5, 12))


def test_merging_keeps_elapsed_windows_and_takes_the_future_from_the_current_bookings() -> None:
    now = berlin(2026, 12, 5, 12)
    past = window("PAST", berlin(2026, 11, 28, 10), berlin(2026, 11, 28, 14))  # completed
    running = window("RUN", berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14))  # cancelled now
    future = window("FUT", berlin(2026, 12, 12, 10), berlin(2026, 12, 12, 14))  # cancelled
    new = window("NEW", berlin(2026, 12, 19, 10), berlin(2026, 12, 19, 14))

    merged = merge_windows([past, running, future], [new], now)

    assert merged == (
        past,
        window("RUN", berlin(2026, 12, 5, 10), now),
        new,
    )
    # Same booking in both: one window, not two.
    assert merge_windows([running], [running], now) == (running,)
    assert merge_windows([], [], now) == ()


def test_a_policy_with_windows_counts_them_and_leaves_the_original_alone() -> None:
    saturday = window("B", berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 14))
    received = berlin(2026, 12, 5, 10, 30)

    windowed = with_oncall_windows(POLICY, [saturday])

    expected = POLICY.calendar.with_windows([saturday.pair()])
    deadlines = windowed.deadlines(Severity.CRITICAL, received)
    assert deadlines.reaction_due == expected.add(received, H) == berlin(2026, 12, 5, 11, 30)
    assert deadlines.resolution_due == expected.add(received, 4 * H)
    assert POLICY.deadlines(Severity.CRITICAL, received).reaction_due == berlin(2026, 12, 7, 9)
    assert windowed.critical_pages(received) == [received]  # someone is on duty
    assert windowed.model_dump_json() == POLICY.model_dump_json()
    assert with_oncall_windows(POLICY, []) is POLICY


# -- messages ---------------------------------------------------------------------------


def test_confirmation_goes_to_the_directory_contacts_with_a_stable_message_id() -> None:
    b = booking()
    message = confirmation_message(b, POLICY)
    assert message.template == "oncall_confirmation"
    assert message.to == ("it@beispiel-versand.de",)
    assert message.date == b.booked_at
    assert message.context["forward"] is False
    assert message.message_id == confirmation_message(b, POLICY).message_id
    assert b.booking_id in message.message_id


def test_unknown_companies_mail_goes_to_the_support_lead_for_forwarding() -> None:
    b = booking(company="Neukunde AG")
    message = confirmation_message(b, POLICY)
    assert message.to == (POLICY.contacts.support_lead,)
    assert message.context["forward"] is True


def test_reminder_goes_to_on_duty_and_cancellation_to_customer_and_on_duty() -> None:
    b = booking()
    reminder = reminder_message(b, POLICY, berlin(2026, 12, 4, 8))
    assert reminder.to == (POLICY.contacts.on_duty,)
    assert reminder.date == berlin(2026, 12, 4, 8)

    cancelled = cancel(activate(b, b.start), CancelBooking(), berlin(2026, 12, 5, 11))
    message = cancellation_message(cancelled, POLICY, bill(cancelled, POLICY.oncall))
    assert message.to == ("it@beispiel-versand.de", POLICY.contacts.on_duty)
    assert message.context["billed_hours"] == 1
    assert message.context["billed_amount"] == "95,00"
    assert message.date == berlin(2026, 12, 5, 11)
