"""Tests for ``domain.calendar.BusinessCalendar`` (DESIGN §2, "The SLA contract").

The property tests compare the indexed implementation with a deliberately naive
oracle below that walks the calendar one local day at a time. The oracle does all
arithmetic on UTC datetimes, because subtracting or comparing two aware datetimes
that share one ``tzinfo`` uses wall clocks in Python, not instants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    BusinessCalendar,
    CalendarSpec,
    HolidaySource,
    OutsideSupportedYearsError,
)
from domain.sla import SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
ONE_DAY = timedelta(days=1)
US = timedelta(microseconds=1)
H = timedelta(hours=1)

NRW_HOLIDAYS = holidays.country_holidays("DE", subdiv="NW", years=range(2020, 2036))
DAY_NUMBERS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


# -- the oracle -----------------------------------------------------------------


@dataclass(frozen=True)
class Oracle:
    """Business hours stepped day by day: no index, no merging, no cleverness."""

    zone: ZoneInfo = BERLIN
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(8)
    closes: time | None = time(18)  # None means 24:00 (the next local midnight)
    nrw_holidays: bool = True
    closed: frozenset[date] = field(default_factory=frozenset)

    def is_business_day(self, day: date) -> bool:
        if day.weekday() not in self.weekdays or day in self.closed:
            return False
        return not (self.nrw_holidays and day in NRW_HOLIDAYS)

    def interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The open interval of local ``day`` as UTC datetimes, or None."""
        if not self.is_business_day(day):
            return None
        start = datetime.combine(day, self.opens, tzinfo=self.zone)
        if self.closes is None:
            end = datetime.combine(day + ONE_DAY, time(0), tzinfo=self.zone)
        else:
            end = datetime.combine(day, self.closes, tzinfo=self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals of the local day of ``instant`` and every day after it."""
        day = instant.astimezone(self.zone).date() - ONE_DAY  # one day of slack
        while True:
            window = self.interval(day)
            if window is not None:
                yield window
            day += ONE_DAY

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if duration == timedelta(0):
            return start
        s = start.astimezone(UTC)
        remaining = duration
        for opens, closes in self.intervals_from(s):
            opens = max(opens, s)
            if closes <= opens:
                continue
            available = closes - opens
            if remaining <= available:
                return opens + remaining  # exactly on closing time stays there
            remaining -= available
        raise AssertionError("unreachable")

    def between(self, start: datetime, end: datetime) -> timedelta:
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        if e < s:
            return -self.between(end, start)
        total = timedelta(0)
        for opens, closes in self.intervals_from(s):
            if opens >= e:
                break
            overlap = min(closes, e) - max(opens, s)
            if overlap > timedelta(0):
                total += overlap
        return total

    def window_at(self, instant: datetime) -> tuple[datetime, datetime] | None:
        x = instant.astimezone(UTC)
        for opens, closes in self.intervals_from(x):
            if opens > x:
                return None
            if opens <= x < closes:
                return opens, closes
        raise AssertionError("unreachable")

    def is_open(self, instant: datetime) -> bool:
        return self.window_at(instant) is not None

    def next_opening_after(self, instant: datetime) -> datetime:
        x = instant.astimezone(UTC)
        for opens, _ in self.intervals_from(x):
            if opens > x:
                return opens
        raise AssertionError("unreachable")


MYCONVENTO = SlaPolicy.default().calendar
ORACLE = Oracle()

TWENTY_FOUR_SEVEN = BusinessCalendar(
    CalendarSpec(weekdays=tuple(DAY_NUMBERS), opens="00:00", closes="24:00", holidays=None)
)
ORACLE_24_7 = Oracle(weekdays=frozenset(range(7)), opens=time(0), closes=None, nrw_holidays=False)

ODD_CLOSED = (date(2026, 3, 4), date(2027, 7, 7), date(2028, 12, 27))
ODD_HOURS = BusinessCalendar(
    CalendarSpec(
        weekdays=("tue", "wed", "sat"),
        opens="07:30",
        closes="16:45",
        holidays=HolidaySource(country="DE", subdivision="NW"),
        closed_dates=ODD_CLOSED,
    )
)
ORACLE_ODD = Oracle(
    weekdays=frozenset({1, 2, 5}),
    opens=time(7, 30),
    closes=time(16, 45),
    closed=frozenset(ODD_CLOSED),
)

CALENDARS = [(MYCONVENTO, ORACLE), (TWENTY_FOUR_SEVEN, ORACLE_24_7), (ODD_HOURS, ORACLE_ODD)]


def berlin(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=BERLIN)


def utc(instant: datetime) -> datetime:
    """The same instant in UTC, for comparing instants.

    Never compare the calendar's Europe/Berlin results with ``==``/``<`` directly:
    within one zone Python compares wall clocks (ignoring ``fold``), and across
    zones ``==`` is always False for an instant in the repeated fall-back hour
    (PEP 495), even when both denote the same instant.
    """
    return instant.astimezone(UTC)


def utc_window(window: tuple[datetime, datetime] | None) -> tuple[datetime, datetime] | None:
    return None if window is None else (utc(window[0]), utc(window[1]))


def assert_berlin_fixed_offset(result: datetime) -> None:
    """Results show Berlin wall time with a fixed offset (no PEP 495 fold traps)."""
    assert isinstance(result.tzinfo, timezone)
    assert result.utcoffset() == result.astimezone(BERLIN).utcoffset()
    assert result.replace(tzinfo=None) == result.astimezone(BERLIN).replace(tzinfo=None)


def same_instant_in_berlin(result: datetime, expected: datetime) -> None:
    assert utc(result) == utc(expected)
    assert_berlin_fixed_offset(result)


# -- strategies -------------------------------------------------------------------

MIN = datetime(2024, 1, 1)
MAX = datetime(2030, 12, 31, 23, 59, 59, 999_999)

microsecond_instants = st.datetimes(min_value=MIN, max_value=MAX, timezones=st.just(UTC))
second_instants = microsecond_instants.map(lambda d: d.replace(microsecond=0))


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


DST_SUNDAYS = [_last_sunday(y, m) for y in range(2024, 2031) for m in (3, 10)]
dst_days = st.sampled_from(DST_SUNDAYS).flatmap(
    lambda d: st.sampled_from([d - 2 * ONE_DAY, d - ONE_DAY, d, d + ONE_DAY])
)


@st.composite
def boundary_instants(draw: st.DrawFn) -> datetime:
    """Opening/closing times and their neighbours, also on weekends, holidays, DST nights."""
    day = draw(st.one_of(st.dates(min_value=MIN.date(), max_value=MAX.date()), dst_days))
    clock = draw(st.sampled_from([time(0), time(7, 30), time(8), time(16, 45), time(18)]))
    clock = draw(st.sampled_from([clock] * 4 + [time(2, 30, fold=0), time(2, 30, fold=1)]))
    nudge = draw(st.sampled_from([timedelta(0)] * 4 + [-US, US, -timedelta(seconds=1)]))
    return datetime.combine(day, clock, tzinfo=BERLIN).astimezone(UTC) + nudge


offsets = st.sampled_from(
    [UTC, BERLIN, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]
)
instants = st.builds(
    lambda d, tz: d.astimezone(tz),
    st.one_of(microsecond_instants, second_instants, boundary_instants()),
    offsets,
)

MAX_US = 900 * 3600 * 10**6
durations = st.one_of(
    st.integers(0, MAX_US).map(lambda us: timedelta(microseconds=us)),
    st.integers(0, 900 * 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(0, 900).map(lambda h: timedelta(hours=h)),
    st.integers(0, 90).map(lambda days: timedelta(hours=10 * days)),
    st.integers(0, 59_999_999).map(lambda us: timedelta(microseconds=us)),  # sub-minute
    st.sampled_from([timedelta(0), H, 4 * H, 24 * H, 140 * H, 900 * H]),
)
positive_durations = durations.filter(lambda d: d > timedelta(0))
calendar_spans = st.integers(0, 200 * 24 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))
calendars = st.sampled_from(CALENDARS)

PROPERTY = settings(max_examples=300, deadline=None)


# -- properties against the oracle ------------------------------------------------


@PROPERTY
@given(instants, durations)
def test_add_matches_oracle_on_myconvento_calendar(start: datetime, duration: timedelta) -> None:
    same_instant_in_berlin(MYCONVENTO.add(start, duration), ORACLE.add(start, duration))


@PROPERTY
@given(calendars, instants, durations)
def test_add_matches_oracle_on_other_calendars(
    pair: tuple[BusinessCalendar, Oracle], start: datetime, duration: timedelta
) -> None:
    calendar, oracle = pair
    same_instant_in_berlin(calendar.add(start, duration), oracle.add(start, duration))


@PROPERTY
@given(calendars, instants, instants)
def test_between_matches_oracle(
    pair: tuple[BusinessCalendar, Oracle], a: datetime, b: datetime
) -> None:
    calendar, oracle = pair
    assert calendar.between(a, b) == oracle.between(a, b)


@PROPERTY
@given(instants, calendar_spans)
def test_between_matches_oracle_for_nearby_instants(start: datetime, span: timedelta) -> None:
    end = utc(start) + span
    assert MYCONVENTO.between(start, end) == ORACLE.between(start, end)


@PROPERTY
@given(calendars, instants, positive_durations)
def test_between_inverts_add(
    pair: tuple[BusinessCalendar, Oracle], start: datetime, duration: timedelta
) -> None:
    calendar, _ = pair
    assert calendar.between(start, calendar.add(start, duration)) == duration


@PROPERTY
@given(calendars, instants, calendar_spans)
def test_add_of_between_is_earliest_instant_not_after_end(
    pair: tuple[BusinessCalendar, Oracle], start: datetime, span: timedelta
) -> None:
    calendar, _ = pair
    end = utc(start) + span  # real time: wall-clock arithmetic would drop fold
    elapsed = calendar.between(start, end)
    assert elapsed >= timedelta(0)
    back = calendar.add(start, elapsed)
    assert utc(back) <= utc(end)
    assert calendar.between(start, back) == elapsed
    if utc(back) != utc(end):  # the gap between the deadline and end is closed time
        assert calendar.between(back, end) == timedelta(0)
        assert not calendar.is_open(back) or elapsed == timedelta(0)


@PROPERTY
@given(calendars, instants, durations, durations)
def test_add_is_not_before_start_and_monotonic_in_duration(
    pair: tuple[BusinessCalendar, Oracle], start: datetime, d1: timedelta, d2: timedelta
) -> None:
    calendar, _ = pair
    shorter, longer = sorted((d1, d2))
    first, second = calendar.add(start, shorter), calendar.add(start, longer)
    assert utc(start) <= utc(first) <= utc(second)
    if shorter < longer:
        assert utc(first) < utc(second)


@PROPERTY
@given(instants, positive_durations)
def test_deadline_is_earliest_instant_reaching_duration(
    start: datetime, duration: timedelta
) -> None:
    due = MYCONVENTO.add(start, duration)
    assert ORACLE.between(start, due) == duration
    assert ORACLE.between(start, utc(due) - US) < duration


@PROPERTY
@given(calendars, instants, instants)
def test_between_is_antisymmetric(
    pair: tuple[BusinessCalendar, Oracle], a: datetime, b: datetime
) -> None:
    calendar, _ = pair
    assert calendar.between(a, b) == -calendar.between(b, a)


@PROPERTY
@given(calendars, instants)
def test_is_open_matches_oracle(pair: tuple[BusinessCalendar, Oracle], instant: datetime) -> None:
    calendar, oracle = pair
    assert calendar.is_open(instant) == oracle.is_open(instant)


@PROPERTY
@given(instants)
def test_open_window_matches_oracle(instant: datetime) -> None:
    window = MYCONVENTO.open_window(instant)
    expected = ORACLE.window_at(instant)
    if expected is None:
        assert window is None
    else:
        assert window is not None
        same_instant_in_berlin(window[0], expected[0])
        same_instant_in_berlin(window[1], expected[1])


@PROPERTY
@given(calendars, instants)
def test_next_open_is_the_first_open_instant_from_x(
    pair: tuple[BusinessCalendar, Oracle], instant: datetime
) -> None:
    calendar, oracle = pair
    result = calendar.next_open(instant)
    assert_berlin_fixed_offset(result)
    assert utc(result) >= utc(instant)
    assert calendar.is_open(result)
    if oracle.is_open(instant):
        assert utc(result) == utc(instant)
    else:
        # no business time in between, and it is the oracle's next opening
        assert oracle.between(instant, result) == timedelta(0)
        assert not oracle.is_open(utc(result) - US)
        assert utc(result) == oracle.next_opening_after(instant)


@PROPERTY
@given(instants, durations)
def test_fresh_calendar_agrees_with_long_lived_one(start: datetime, duration: timedelta) -> None:
    """The lazily grown index gives the same answers however it was grown."""
    fresh = BusinessCalendar(SlaPolicy.default().calendar_spec)
    assert utc(fresh.add(start, duration)) == utc(MYCONVENTO.add(start, duration))
    assert utc(fresh.next_open(start)) == utc(MYCONVENTO.next_open(start))


# -- named cases --------------------------------------------------------------------


def test_deadline_exactly_on_closing_time_stays_at_closing_time() -> None:
    # 2026-03-02 is a Monday
    due = MYCONVENTO.add(berlin(2026, 3, 2, 14), 4 * H)
    same_instant_in_berlin(due, berlin(2026, 3, 2, 18))
    assert due != berlin(2026, 3, 3, 8)


def test_friday_late_report_continues_on_monday() -> None:
    # 2026-03-06 is a Friday
    same_instant_in_berlin(MYCONVENTO.add(berlin(2026, 3, 6, 17), 2 * H), berlin(2026, 3, 9, 9))


def test_saturday_report_starts_clock_at_monday_opening() -> None:
    saturday = berlin(2026, 3, 7, 11, 23)
    monday_opening = berlin(2026, 3, 9, 8)
    same_instant_in_berlin(MYCONVENTO.next_open(saturday), monday_opening)
    same_instant_in_berlin(MYCONVENTO.add(saturday, H), berlin(2026, 3, 9, 9))
    assert MYCONVENTO.between(saturday, monday_opening) == timedelta(0)
    assert not MYCONVENTO.is_open(saturday)
    assert MYCONVENTO.open_window(saturday) is None


def test_friday_to_monday_across_spring_forward_has_summer_offset() -> None:
    friday = berlin(2026, 3, 27, 17)
    assert friday.utcoffset() == timedelta(hours=1)
    due = MYCONVENTO.add(friday, 2 * H)
    assert due == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert due.isoformat() == "2026-03-30T09:00:00+02:00"
    assert MYCONVENTO.between(friday, due) == 2 * H


def test_friday_to_monday_across_fall_back_has_winter_offset() -> None:
    friday = berlin(2026, 10, 23, 17)
    assert friday.utcoffset() == timedelta(hours=2)
    due = MYCONVENTO.add(friday, 2 * H)
    assert due == datetime(2026, 10, 26, 8, tzinfo=UTC)
    assert due.isoformat() == "2026-10-26T09:00:00+01:00"


def test_round_the_clock_calendar_adds_real_hours_across_spring_forward() -> None:
    start = berlin(2026, 3, 28, 12)  # Saturday, +01:00
    due = TWENTY_FOUR_SEVEN.add(start, 24 * H)
    assert due.astimezone(UTC) - start.astimezone(UTC) == 24 * H
    assert due.isoformat() == "2026-03-29T13:00:00+02:00"  # 25 wall-clock hours later


def test_round_the_clock_calendar_counts_short_and_long_dst_days() -> None:
    assert TWENTY_FOUR_SEVEN.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * H
    assert TWENTY_FOUR_SEVEN.between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * H
    # the repeated hour 02:00-03:00 of the fall-back night counts twice
    first = berlin(2026, 10, 25, 2, 30)  # fold=0: +02:00
    second = first.replace(fold=1)  # +01:00
    assert TWENTY_FOUR_SEVEN.between(first, second) == H
    later = TWENTY_FOUR_SEVEN.add(first, H)
    assert utc(later) == utc(second)
    assert later.isoformat() == "2026-10-25T02:30:00+01:00"
    assert later.utcoffset() == timedelta(hours=1)  # fixed offset: fold is not needed


@pytest.mark.parametrize(
    "holiday", [date(2026, 4, 3), date(2026, 4, 6)], ids=["good-fri", "easter-mon"]
)
def test_easter_holidays_2026_are_closed(holiday: date) -> None:
    assert not MYCONVENTO.is_business_day(holiday)
    assert not MYCONVENTO.is_open(datetime.combine(holiday, time(10), tzinfo=BERLIN))


def test_easter_weekend_2026_skips_good_friday_to_easter_monday() -> None:
    # Thu 2026-04-02 17:00 + 2 h: Fri, Sat, Sun, Mon closed → Tue 09:00
    same_instant_in_berlin(MYCONVENTO.add(berlin(2026, 4, 2, 17), 2 * H), berlin(2026, 4, 7, 9))
    assert MYCONVENTO.between(berlin(2026, 4, 2, 18), berlin(2026, 4, 7, 8)) == timedelta(0)


def test_corpus_christi_is_closed_in_nrw() -> None:
    assert not MYCONVENTO.is_business_day(date(2026, 6, 4))  # Thursday
    assert not MYCONVENTO.is_open(berlin(2026, 6, 4, 12))
    same_instant_in_berlin(MYCONVENTO.add(berlin(2026, 6, 3, 17), 2 * H), berlin(2026, 6, 5, 9))


def test_all_saints_on_a_monday_is_closed() -> None:
    assert date(2027, 11, 1).weekday() == 0
    assert not MYCONVENTO.is_business_day(date(2027, 11, 1))
    assert not MYCONVENTO.is_open(berlin(2027, 11, 1, 10))
    same_instant_in_berlin(MYCONVENTO.add(berlin(2027, 10, 29, 17), 2 * H), berlin(2027, 11, 2, 9))


@pytest.mark.parametrize(
    "day", [date(2025, 12, 24), date(2025, 12, 31), date(2026, 12, 24), date(2026, 12, 31)]
)
def test_christmas_eve_and_new_years_eve_are_business_days(day: date) -> None:
    assert day.weekday() < 5
    assert MYCONVENTO.is_business_day(day)
    assert MYCONVENTO.is_open(datetime.combine(day, time(12), tzinfo=BERLIN))
    assert (
        MYCONVENTO.between(
            datetime.combine(day, time(0), tzinfo=BERLIN),
            datetime.combine(day + ONE_DAY, time(0), tzinfo=BERLIN),
        )
        == 10 * H
    )


def test_christmas_days_are_closed() -> None:
    # 2025-12-25/26 are Thursday and Friday
    for day in (date(2025, 12, 25), date(2025, 12, 26)):
        assert not MYCONVENTO.is_business_day(day)
        assert not MYCONVENTO.is_open(datetime.combine(day, time(12), tzinfo=BERLIN))
    # Wed 24 Dec 17:00 + 2 h → Mon 29 Dec 09:00
    same_instant_in_berlin(MYCONVENTO.add(berlin(2025, 12, 24, 17), 2 * H), berlin(2025, 12, 29, 9))


def test_opening_instant_is_open_and_closing_instant_is_not() -> None:
    opening, closing = berlin(2026, 3, 3, 8), berlin(2026, 3, 3, 18)
    assert MYCONVENTO.is_open(opening)
    assert not MYCONVENTO.is_open(opening - US)
    assert MYCONVENTO.is_open(closing - US)
    assert not MYCONVENTO.is_open(closing)
    same_instant_in_berlin(MYCONVENTO.next_open(opening), opening)
    same_instant_in_berlin(MYCONVENTO.next_open(closing), berlin(2026, 3, 4, 8))
    assert utc_window(MYCONVENTO.open_window(opening)) == utc_window((opening, closing))
    assert MYCONVENTO.open_window(closing) is None


def test_sub_minute_durations_keep_sub_second_precision() -> None:
    d = timedelta(seconds=59.5)
    same_instant_in_berlin(
        MYCONVENTO.add(berlin(2026, 3, 3, 10), d), berlin(2026, 3, 3, 10, 0, 59, 500_000)
    )
    # 30 s before closing, the other 29.5 s after Wednesday's opening
    same_instant_in_berlin(
        MYCONVENTO.add(berlin(2026, 3, 3, 17, 59, 30), d), berlin(2026, 3, 4, 8, 0, 29, 500_000)
    )
    assert (
        MYCONVENTO.between(berlin(2026, 3, 3, 17, 59, 30), berlin(2026, 3, 4, 8, 0, 29, 500_000))
        == d
    )


def test_nine_hundred_hours_match_oracle_and_known_date() -> None:
    start = berlin(2026, 3, 2, 10)  # Monday
    due = MYCONVENTO.add(start, 900 * H)
    same_instant_in_berlin(due, ORACLE.add(start, 900 * H))
    # 19 weeks Mon 2 Mar - Fri 10 Jul = 95 weekdays, minus Good Friday, Easter
    # Monday, 1 May, Ascension, Whit Monday, Corpus Christi = 89 business days;
    # Mon 13 Jul is the 90th, so 8 h + 89 * 10 h = 898 h end Mon 13 Jul 18:00,
    # and the last 2 h end on Tuesday at 10:00.
    same_instant_in_berlin(due, berlin(2026, 7, 14, 10))
    assert MYCONVENTO.between(start, due) == 900 * H


def test_add_and_between_are_inverse_for_a_named_example() -> None:
    start = berlin(2026, 3, 5, 16, 15)  # Thursday
    due = MYCONVENTO.add(start, 14 * H)
    # Thu 1.75 h + Fri 10 h + Mon 2.25 h
    same_instant_in_berlin(due, berlin(2026, 3, 9, 10, 15))
    assert MYCONVENTO.between(start, due) == 14 * H
    assert MYCONVENTO.between(due, start) == -14 * H


def test_instants_are_compared_not_wall_clocks() -> None:
    utc_start = datetime(2026, 3, 2, 13, tzinfo=UTC)  # Monday 14:00 in Berlin
    tokyo_start = utc_start.astimezone(ZoneInfo("Asia/Tokyo"))
    for start in (utc_start, tokyo_start):
        same_instant_in_berlin(MYCONVENTO.add(start, 4 * H), berlin(2026, 3, 2, 18))
    assert MYCONVENTO.between(utc_start, tokyo_start) == timedelta(0)


def test_zero_duration_returns_start_even_when_closed() -> None:
    sunday = datetime(2026, 3, 8, 12, tzinfo=UTC)
    same_instant_in_berlin(MYCONVENTO.add(sunday, timedelta(0)), sunday)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, naive: c.add(naive, H),
        lambda c, naive: c.between(naive, berlin(2026, 3, 2)),
        lambda c, naive: c.between(berlin(2026, 3, 2), naive),
        lambda c, naive: c.is_open(naive),
        lambda c, naive: c.next_open(naive),
        lambda c, naive: c.open_window(naive),
        lambda c, naive: BusinessCalendar(extra_windows=[(naive, berlin(2026, 3, 3))]),
    ],
    ids=["add", "between-start", "between-end", "is_open", "next_open", "open_window", "window"],
)
def test_naive_datetime_is_refused(call) -> None:
    with pytest.raises(ValueError, match="naive"):
        call(MYCONVENTO, datetime(2026, 3, 2, 10))


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        MYCONVENTO.add(berlin(2026, 3, 2, 10), -US)


def test_extra_window_on_saturday_counts_as_business_time() -> None:
    saturday = (berlin(2026, 3, 7, 10), berlin(2026, 3, 7, 14))
    spec = SlaPolicy.default().calendar_spec
    for calendar in (
        BusinessCalendar(spec, extra_windows=[saturday]),
        MYCONVENTO.with_windows([saturday]),
    ):
        assert calendar.is_open(berlin(2026, 3, 7, 11))
        assert not calendar.is_open(berlin(2026, 3, 7, 14))
        same_instant_in_berlin(calendar.add(berlin(2026, 3, 6, 17), 2 * H), berlin(2026, 3, 7, 11))
        same_instant_in_berlin(calendar.add(berlin(2026, 3, 6, 17), 5 * H), berlin(2026, 3, 7, 14))
        same_instant_in_berlin(calendar.add(berlin(2026, 3, 6, 17), 6 * H), berlin(2026, 3, 9, 9))
        assert calendar.between(berlin(2026, 3, 6, 18), berlin(2026, 3, 9, 8)) == 4 * H
        same_instant_in_berlin(calendar.next_open(berlin(2026, 3, 6, 18)), saturday[0])
        assert utc_window(calendar.open_window(berlin(2026, 3, 7, 12))) == utc_window(saturday)
    assert not MYCONVENTO.is_open(berlin(2026, 3, 7, 11))  # the original is unchanged


def test_extra_window_overlapping_regular_hours_is_not_counted_twice() -> None:
    evening = (berlin(2026, 3, 3, 16), berlin(2026, 3, 3, 20))  # Tuesday, overlaps 16-18
    calendar = MYCONVENTO.with_windows([evening])
    assert calendar.between(berlin(2026, 3, 3, 8), berlin(2026, 3, 4, 8)) == 12 * H
    same_instant_in_berlin(calendar.add(berlin(2026, 3, 3, 17), 3 * H), berlin(2026, 3, 3, 20))
    assert utc_window(calendar.open_window(berlin(2026, 3, 3, 19))) == utc_window(
        (berlin(2026, 3, 3, 8), evening[1])
    )


def test_extra_window_touching_closing_time_extends_the_open_window() -> None:
    evening = (berlin(2026, 3, 3, 18), berlin(2026, 3, 3, 20))  # Tuesday right after closing
    calendar = MYCONVENTO.with_windows([evening])
    assert calendar.is_open(berlin(2026, 3, 3, 18))
    assert utc_window(calendar.open_window(berlin(2026, 3, 3, 17, 30))) == utc_window(
        (berlin(2026, 3, 3, 8), evening[1])
    )
    same_instant_in_berlin(calendar.add(berlin(2026, 3, 3, 17), 3 * H), berlin(2026, 3, 3, 20))


def test_opening_hours_inside_the_spring_forward_gap_give_no_business_time() -> None:
    # Sundays 02:30-03:00: on 2026-03-29 that wall-clock half hour does not exist,
    # so that Sunday has no business time; the Sundays around it have 30 min each.
    calendar = BusinessCalendar(CalendarSpec(weekdays=("sun",), opens="02:30", closes="03:00"))
    saturday = berlin(2026, 3, 28, 12)
    assert calendar.between(saturday, berlin(2026, 3, 30)) == timedelta(0)
    assert calendar.between(berlin(2026, 3, 22), berlin(2026, 4, 6)) == H
    same_instant_in_berlin(calendar.add(saturday, timedelta(minutes=10)), berlin(2026, 4, 5, 2, 40))


def test_closed_dates_close_a_weekday() -> None:
    wednesday = date(2026, 3, 4)
    spec = SlaPolicy.default().calendar_spec.model_copy(update={"closed_dates": (wednesday,)})
    calendar = BusinessCalendar(spec)
    assert not calendar.is_business_day(wednesday)
    assert not calendar.is_open(berlin(2026, 3, 4, 12))
    same_instant_in_berlin(calendar.add(berlin(2026, 3, 3, 17), 2 * H), berlin(2026, 3, 5, 9))
    assert MYCONVENTO.is_open(berlin(2026, 3, 4, 12))


def test_results_are_aware_and_expressed_in_berlin() -> None:
    start = datetime(2026, 7, 1, 6, tzinfo=UTC)  # Wednesday 08:00 CEST
    results = [
        MYCONVENTO.add(start, 3 * H),
        MYCONVENTO.add(start, timedelta(0)),
        MYCONVENTO.next_open(start),
        MYCONVENTO.next_open(datetime(2026, 7, 4, 6, tzinfo=UTC)),
        *MYCONVENTO.open_window(start),  # type: ignore[misc]
    ]
    for result in results:
        assert result.utcoffset() == timedelta(hours=2)
        assert_berlin_fixed_offset(result)
    assert results[0].isoformat() == "2026-07-01T11:00:00+02:00"


def test_default_calendar_matches_design() -> None:
    spec = SlaPolicy.default().calendar_spec
    assert spec.timezone == "Europe/Berlin"
    assert spec.weekdays == ("mon", "tue", "wed", "thu", "fri")
    assert (spec.opens, spec.closes) == ("08:00", "18:00")
    assert spec.holidays == HolidaySource(country="DE", subdivision="NW")


# -- supported range: refused at the door, whatever was asked before ----------------
#
# A calendar answers for the years 1971–9998 (wall time in its zone), narrowed to
# the years its holiday table knows (DE: 1991–2100; outside them ``holidays``
# returns no holidays at all). Every case below starts from a fresh calendar: the
# bug this guards against answered 0 h or 1971-01-01 on a first call for 1970 and
# refused only once an index existed.

WIDE_SPEC = CalendarSpec()  # Mon–Fri 08–18 Berlin, no holiday table: 1971–9998
NRW_SPEC = SlaPolicy.default().calendar_spec  # DE-NW holidays: 1991–2100
MINUS_5 = timezone(timedelta(hours=-5))
PLUS_9 = timezone(timedelta(hours=9))


def wide() -> BusinessCalendar:
    return BusinessCalendar(WIDE_SPEC)


def nrw() -> BusinessCalendar:
    return BusinessCalendar(NRW_SPEC)


INSIDE = berlin(1995, 3, 1, 10)  # inside both ranges

ASK = {
    "add": lambda c, x: c.add(x, H),
    "add-zero": lambda c, x: c.add(x, timedelta(0)),
    "add-900h": lambda c, x: c.add(x, 900 * H),
    "between-start": lambda c, x: c.between(x, INSIDE),
    "between-end": lambda c, x: c.between(INSIDE, x),
    "between-same": lambda c, x: c.between(x, x),
    "is_open": lambda c, x: c.is_open(x),
    "next_open": lambda c, x: c.next_open(x),
    "open_window": lambda c, x: c.open_window(x),
}

OUTSIDE_WIDE = {
    "1970-01-01": datetime(1970, 1, 1, tzinfo=UTC),
    "1970-mid": datetime(1970, 6, 15, 10, tzinfo=UTC),
    "just-before-1971": berlin(1971, 1, 1) - US,
    # The year is read in the calendar's zone, whatever offset the instant carries.
    "1970-in-berlin-shown-in-new-york": datetime(1970, 12, 31, 22, 59, tzinfo=UTC).astimezone(
        MINUS_5
    ),
    "year-1": datetime(1, 1, 1, tzinfo=UTC),
    "9999-01-01": berlin(9999, 1, 1),
    "9999-mid": datetime(9999, 6, 1, 12, tzinfo=UTC),
    "9999-end-minus-5h": datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=MINUS_5),
    "9999-end-plus-9h": datetime(9999, 12, 31, 23, 59, tzinfo=PLUS_9),
}
OUTSIDE_NRW = {
    "1970-01-01": datetime(1970, 1, 1, tzinfo=UTC),
    "just-before-1991": berlin(1991, 1, 1) - US,
    "2101-01-01": berlin(2101, 1, 1),
    "2101-mid": berlin(2101, 7, 1, 10),
    "9999-01-01": berlin(9999, 1, 1),
}


def _cases(
    make: Callable[[], BusinessCalendar], outside: dict[str, datetime]
) -> list[Any]:  # pytest.param(...) objects
    return [
        pytest.param(make, x, ask, id=f"{make.__name__}-{name}-{ask_name}")
        for name, x in outside.items()
        for ask_name, ask in ASK.items()
    ]


@pytest.mark.parametrize(
    ("make", "instant", "ask"), _cases(wide, OUTSIDE_WIDE) + _cases(nrw, OUTSIDE_NRW)
)
def test_instant_outside_supported_years_is_refused_on_a_fresh_calendar(make, instant, ask) -> None:
    calendar = make()
    with pytest.raises(OutsideSupportedYearsError, match="outside the supported years"):
        ask(calendar, instant)


@pytest.mark.parametrize(
    ("make", "instant", "ask"), _cases(wide, OUTSIDE_WIDE) + _cases(nrw, OUTSIDE_NRW)
)
def test_instant_outside_supported_years_is_refused_after_other_questions(
    make, instant, ask
) -> None:
    calendar = make()
    calendar.add(berlin(1995, 3, 1, 10), 900 * H)  # an index around 1995 exists
    calendar.is_open(berlin(1997, 3, 3, 10))  # … and was grown once
    with pytest.raises(OutsideSupportedYearsError, match="outside the supported years"):
        ask(calendar, instant)


def test_out_of_range_error_is_a_value_error_naming_instant_range_and_reason() -> None:
    with pytest.raises(ValueError) as caught:
        nrw().is_open(datetime(1970, 1, 1, tzinfo=UTC))
    message = str(caught.value)
    assert "1970-01-01T00:00:00+00:00" in message
    assert "1991–2100" in message
    assert "holiday table of DE-NW" in message
    with pytest.raises(
        ValueError, match=r"after 9999-12-31 is outside the supported years 1971–9998"
    ):
        wide().is_open(OUTSIDE_WIDE["9999-end-minus-5h"])


def test_issue_examples_are_refused_instead_of_answered_wrongly() -> None:
    """Issue 14: 0 h for the week after 1970-01-01, 1971-01-01 as next opening."""
    for make in (wide, nrw):
        with pytest.raises(OutsideSupportedYearsError):
            make().between(datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 8, tzinfo=UTC))
        with pytest.raises(OutsideSupportedYearsError):
            make().next_open(datetime(1970, 1, 2, tzinfo=UTC))


def test_supported_years() -> None:
    assert wide().supported_years == range(1971, 9999)
    assert nrw().supported_years == range(1991, 2101)
    assert MYCONVENTO.supported_years == range(1991, 2101)


@pytest.mark.parametrize(
    ("make", "day"),
    [
        (wide, date(1970, 12, 31)),
        (wide, date(9999, 1, 1)),
        (wide, date(1, 1, 1)),
        (wide, date(9999, 12, 31)),
        (nrw, date(1990, 12, 31)),
        (nrw, date(2101, 1, 1)),
    ],
    ids=str,
)
def test_is_business_day_outside_supported_years_is_refused(make, day: date) -> None:
    with pytest.raises(OutsideSupportedYearsError, match=f"day {day.isoformat()} is outside"):
        make().is_business_day(day)


# Just inside the bounds: one fresh calendar per question, answers checked by hand
# (1971-01-01 and 1991-01-01 … Fri/Tue; 9998-12-31 is a Thursday, 2100-12-31 a Friday).
JUST_INSIDE = [
    ("wide-first-instant-is_open", wide, lambda c: c.is_open(berlin(1971, 1, 1)), False),
    (
        "wide-first-instant-next_open",
        wide,
        lambda c: utc(c.next_open(berlin(1971, 1, 1))),
        utc(berlin(1971, 1, 1, 8)),
    ),
    ("wide-first-instant-open_window", wide, lambda c: c.open_window(berlin(1971, 1, 1)), None),
    (
        "wide-first-week-between",
        wide,
        lambda c: c.between(berlin(1971, 1, 1), berlin(1971, 1, 8)),
        50 * H,
    ),
    (
        "wide-first-instant-add",
        wide,
        lambda c: utc(c.add(berlin(1971, 1, 1), H)),
        utc(berlin(1971, 1, 1, 9)),
    ),
    (
        "wide-first-instant-add-zero",
        wide,
        lambda c: utc(c.add(berlin(1971, 1, 1), timedelta(0))),
        utc(berlin(1971, 1, 1)),
    ),
    ("wide-first-day", wide, lambda c: c.is_business_day(date(1971, 1, 1)), True),
    (
        "wide-first-instant-in-utc-is-1970",
        wide,
        lambda c: utc(c.next_open(datetime(1970, 12, 31, 23, tzinfo=UTC))),
        utc(berlin(1971, 1, 1, 8)),
    ),
    (
        "wide-last-instant-is_open",
        wide,
        lambda c: c.is_open(berlin(9998, 12, 31, 23, 59, 59, 999_999)),
        False,
    ),
    (
        "wide-last-day-between",
        wide,
        lambda c: c.between(berlin(9998, 12, 31, 8), berlin(9998, 12, 31, 23, 59, 59, 999_999)),
        10 * H,
    ),
    (
        "wide-last-closing-add",
        wide,
        lambda c: utc(c.add(berlin(9998, 12, 31, 8), 10 * H)),
        utc(berlin(9998, 12, 31, 18)),
    ),
    (
        "wide-last-opening-next_open",
        wide,
        lambda c: utc(c.next_open(berlin(9998, 12, 31, 7))),
        utc(berlin(9998, 12, 31, 8)),
    ),
    (
        "wide-last-open_window",
        wide,
        lambda c: utc_window(c.open_window(berlin(9998, 12, 31, 12))),
        utc_window((berlin(9998, 12, 31, 8), berlin(9998, 12, 31, 18))),
    ),
    ("wide-last-day", wide, lambda c: c.is_business_day(date(9998, 12, 31)), True),
    (
        "nrw-first-instant-next_open-skips-new-year",
        nrw,
        lambda c: utc(c.next_open(berlin(1991, 1, 1))),
        utc(berlin(1991, 1, 2, 8)),
    ),
    ("nrw-first-day-is-new-year", nrw, lambda c: c.is_business_day(date(1991, 1, 1)), False),
    (
        "nrw-first-week-between",
        nrw,
        lambda c: c.between(berlin(1991, 1, 1), berlin(1991, 1, 8)),
        40 * H,
    ),
    (
        "nrw-last-closing-add",
        nrw,
        lambda c: utc(c.add(berlin(2100, 12, 31, 8), 10 * H)),
        utc(berlin(2100, 12, 31, 18)),
    ),
    (
        "nrw-last-instant-between",
        nrw,
        lambda c: c.between(berlin(2100, 12, 31), berlin(2100, 12, 31, 23, 59, 59, 999_999)),
        10 * H,
    ),
    ("nrw-christmas-2100-closed", nrw, lambda c: c.is_business_day(date(2100, 12, 25)), False),
]


@pytest.mark.parametrize(
    ("make", "ask", "expected"),
    [pytest.param(make, ask, expected, id=name) for name, make, ask, expected in JUST_INSIDE],
)
def test_just_inside_supported_years_is_answered(make, ask, expected) -> None:
    assert ask(make()) == expected


@pytest.mark.parametrize(
    ("make", "ask"),
    [
        (wide, lambda c: c.add(berlin(9998, 12, 31, 8), 10 * H + US)),
        (wide, lambda c: c.next_open(berlin(9998, 12, 31, 18))),
        (wide, lambda c: c.add(berlin(2026, 3, 2, 8), timedelta.max)),
        (nrw, lambda c: c.add(berlin(2100, 12, 31, 8), 10 * H + US)),
        (nrw, lambda c: c.next_open(berlin(2100, 12, 31, 18))),
        (nrw, lambda c: c.add(berlin(2026, 3, 2, 8), 900 * 365 * 24 * H)),
    ],
    ids=["wide-add", "wide-next_open", "wide-add-max", "nrw-add", "nrw-next_open", "nrw-add-long"],
)
def test_answer_after_the_last_supported_year_is_refused(make, ask) -> None:
    with pytest.raises(OutsideSupportedYearsError, match="the answer lies after the end of"):
        ask(make())


def test_long_add_grows_the_index_without_rebuilding_it_every_year() -> None:
    """A century of business time stays exact, and fast enough for a unit test."""
    calendar = wide()
    start = berlin(2026, 3, 2, 9, 17)
    duration = 100 * 2500 * H + timedelta(minutes=7)  # ~250 business days of 10 h a year
    end = calendar.add(start, duration)
    assert end.year > 2100
    assert calendar.between(start, end) == duration
    assert calendar.is_open(end - US)


# Call-history independence: bands of instants near both ends of the range and in
# the present. Pairs that would build an index of thousands of years (low band and
# high band of the wide calendar) are left out only to keep the test fast.
def _band(lo: datetime, hi: datetime) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda d, tz: d.astimezone(tz),
        st.datetimes(min_value=lo, max_value=hi, timezones=st.just(UTC)),
        st.sampled_from([UTC, BERLIN, MINUS_5, PLUS_9]),
    )


HISTORY_BANDS = {
    WIDE_SPEC: {
        "low": _band(datetime(1970, 6, 1), datetime(1973, 12, 31)),
        "now": _band(datetime(2024, 1, 1), datetime(2027, 12, 31)),
        "high": _band(datetime(9996, 6, 1), datetime(9999, 12, 20)),
    },
    NRW_SPEC: {
        "low": _band(datetime(1990, 6, 1), datetime(1992, 12, 31)),
        "now": _band(datetime(2024, 1, 1), datetime(2027, 12, 31)),
        "high": _band(datetime(2099, 6, 1), datetime(2101, 6, 30)),
    },
}
HISTORY_PAIRS = {
    WIDE_SPEC: [("low", "low"), ("low", "now"), ("now", "low"), ("now", "now"), ("high", "high")],
    NRW_SPEC: [(a, b) for a in ("low", "now", "high") for b in ("low", "now", "high")],
}
QUESTION_KINDS = ("add", "between", "is_open", "next_open", "open_window")
history_durations = st.one_of(
    durations,
    st.integers(0, 3 * 2500).map(lambda h: timedelta(hours=h)),  # up to three years' worth
)


Question = tuple[str, datetime, datetime, timedelta]
"""What to ask (add, between, …), the instant, a second instant, a duration."""


@st.composite
def history_questions(draw: st.DrawFn, band: st.SearchStrategy[datetime]) -> Question:
    kind = draw(st.sampled_from(QUESTION_KINDS))
    instant = draw(band)
    other = instant + timedelta(seconds=draw(st.integers(-20 * 24 * 3600, 20 * 24 * 3600)))
    return kind, instant, other, draw(history_durations)


def answer(calendar: BusinessCalendar, question: Question) -> tuple[str, object]:
    """The answer as comparable data: instants with their offsets, or the refusal."""
    kind, instant, other, duration = question

    def shown(value: datetime) -> tuple[datetime, timedelta | None]:
        return utc(value), value.utcoffset()

    try:
        if kind == "add":
            return ("ok", shown(calendar.add(instant, duration)))
        if kind == "between":
            return ("ok", calendar.between(instant, other))
        if kind == "is_open":
            return ("ok", calendar.is_open(instant))
        if kind == "next_open":
            return ("ok", shown(calendar.next_open(instant)))
        window = calendar.open_window(instant)
        return ("ok", None if window is None else (shown(window[0]), shown(window[1])))
    except OutsideSupportedYearsError as refused:
        return ("refused", str(refused))


@st.composite
def histories(draw: st.DrawFn) -> tuple[CalendarSpec, list[Question], Question]:
    spec = draw(st.sampled_from([WIDE_SPEC, NRW_SPEC]))
    before_band, band = draw(st.sampled_from(HISTORY_PAIRS[spec]))
    bands = HISTORY_BANDS[spec]
    before = draw(st.lists(history_questions(bands[before_band]), min_size=1, max_size=3))
    return spec, before, draw(history_questions(bands[band]))


@settings(max_examples=200, deadline=None)
@given(histories())
def test_answer_does_not_depend_on_earlier_questions(
    history: tuple[CalendarSpec, list[Question], Question],
) -> None:
    """Asking A (then more) before B gives B the same answer as asking B alone."""
    spec, before, question = history
    used = BusinessCalendar(spec)
    for earlier in before:
        answer(used, earlier)
    assert answer(used, question) == answer(BusinessCalendar(spec), question)
