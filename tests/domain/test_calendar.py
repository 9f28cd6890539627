"""Tests for ``domain.calendar.BusinessCalendar`` (DESIGN §2, "The SLA contract").

The property tests compare the indexed implementation with a deliberately naive
oracle below that walks the calendar one local day at a time. The oracle does all
arithmetic on UTC datetimes, because subtracting or comparing two aware datetimes
that share one ``tzinfo`` uses wall clocks in Python, not instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import BusinessCalendar, CalendarSpec, HolidaySource
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
