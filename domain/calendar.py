"""Business-time arithmetic ("Bereitschaftszeit") on aware datetimes.

A :class:`BusinessCalendar` knows when the support team is on duty: weekdays,
opening hours as wall-clock times in one time zone, public holidays and extra
closed dates, plus optional extra windows (booked extended on-call).  It answers
four questions about instants:

* :meth:`~BusinessCalendar.add` — the earliest instant at which a given amount of
  business time has elapsed since a start (a deadline),
* :meth:`~BusinessCalendar.between` — business time between two instants,
* :meth:`~BusinessCalendar.is_open` and :meth:`~BusinessCalendar.next_open`.

Why an index: deadlines of 900 business hours span months. Instead of stepping
day by day, the calendar keeps a sorted list of open intervals (as UTC
microseconds) with the cumulative business time before each one, so ``add`` and
``between`` are two bisects whatever the duration. The index covers whole years
and is rebuilt, wider, the first time an instant outside it is asked about.

Supported range (:attr:`BusinessCalendar.supported_years`): instants whose wall
time in the calendar's zone falls in the years 1971–9998, narrowed to the years
the holiday table covers when the calendar has one (``holidays`` silently
returns *no* holidays outside them: DE covers 1991–2100). Every question about
an instant or day outside it, and every answer that would fall outside it,
raises :class:`OutsideSupportedYearsError` — from the first call on, whatever
was asked before.

The module is pure: no clock, no I/O. ``holidays`` is only consulted while the
index is built.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# The index grows by at least this many years at a time, so a long series of
# look-ups around the edge of the index does not rebuild it over and over.
_GROWTH_YEARS = 2
# The widest range of years an index may span, as wall-clock years in the
# calendar's zone. The upper end is 9998 because the index ends at the local
# midnight *after* its last year, and 10000-01-01 is not a datetime.
_MIN_YEAR = 1971
_MAX_YEAR = 9998


class OutsideSupportedYearsError(ValueError):
    """An instant, day or result outside the calendar's supported years.

    A ``ValueError``, so callers that already refuse bad input with ``ValueError``
    keep working.
    """


@lru_cache(maxsize=32)
def _holiday_years(country: str, subdivision: str | None) -> tuple[int, int]:
    """First and last year the ``holidays`` table of a country knows.

    Cached: building the table object costs most of a millisecond, and every
    calendar (one per set of on-call windows) asks.
    """
    table = holidays_lib.country_holidays(country, subdiv=subdivision)
    return int(table.start_year), int(table.end_year)


class HolidaySource(BaseModel):
    """Public holidays taken from the ``holidays`` package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(min_length=2, max_length=3, description="ISO 3166 code, e.g. DE")
    subdivision: str | None = Field(default=None, description="e.g. NW for Nordrhein-Westfalen")

    @model_validator(mode="after")
    def _known_to_holidays(self) -> HolidaySource:
        supported = holidays_lib.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"unknown holiday country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(
                f"unknown subdivision {self.subdivision!r} of {self.country}; "
                f"known: {', '.join(supported[self.country])}"
            )
        return self


class CalendarSpec(BaseModel):
    """The ``[calendar]`` section of a policy file.

    Attributes:
        timezone: IANA zone whose wall clock the opening hours are read in.
        weekdays: Days the team works.
        opens: Opening time, ``HH:MM``.
        closes: Closing time, ``HH:MM``; ``"24:00"`` means the end of the day.
        holidays: Where public holidays come from; ``None`` for none.
        closed_dates: Extra days without support.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Europe/Berlin"
    weekdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    opens: str = "08:00"
    closes: str = "18:00"
    holidays: HolidaySource | None = None
    closed_dates: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _some_weekdays(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("at least one weekday is needed")
        if len(set(value)) != len(value):
            raise ValueError("weekdays must not repeat")
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        parse_clock(value)
        return value

    @model_validator(mode="after")
    def _opens_before_closes(self) -> CalendarSpec:
        if parse_clock(self.opens) >= parse_clock(self.closes):
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


def parse_clock(value: str) -> int:
    """Seconds after midnight for ``HH:MM`` (``24:00`` allowed).

    Raises:
        ValueError: Not ``HH:MM`` or no such time of day.
    """
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"time must look like HH:MM, got {value!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise ValueError(f"no such time of day: {value!r}")
    return hours * 3600 + minutes * 60


def _to_us(instant: datetime) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"naive datetime {instant.isoformat()} refused: business time needs an aware "
            "datetime (with a UTC offset or time zone)"
        )
    return (instant - _EPOCH) // _US


def _us_to_utc(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


_OFFSETS: dict[timedelta, timezone] = {}


def _fixed_local(value: datetime, zone: ZoneInfo) -> datetime:
    """``value`` in ``zone``'s wall time, but with a *fixed* UTC offset.

    A ``ZoneInfo`` datetime in the repeated hour of a DST change compares and
    subtracts by wall clock (PEP 495), so two instants an hour apart can look
    equal. A fixed offset (+01:00/+02:00) shows the same local time and
    behaves as an instant everywhere.
    """
    local = value.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    fixed = _OFFSETS.get(offset)
    if fixed is None:
        fixed = _OFFSETS.setdefault(offset, timezone(offset))
    return local.replace(tzinfo=fixed, fold=0)


@dataclass(frozen=True, slots=True)
class _Index:
    """Open intervals ``[starts[i], ends[i])`` in UTC microseconds, sorted and disjoint.

    ``cum[i]`` is the business time before interval ``i`` (from the index's first
    interval), ``cum_end[i] = cum[i] + (ends[i] - starts[i])``.
    """

    first_year: int
    last_year: int
    lo_us: int  # start of first_year (local midnight), everything before is unknown
    hi_us: int  # end of last_year
    starts: list[int]
    ends: list[int]
    cum: list[int]
    cum_end: list[int]


class BusinessCalendar:
    """Business time over aware datetimes; see the module docstring.

    Instances are immutable from the outside and safe to share between threads:
    the lazily grown index is swapped in whole under a lock.
    """

    def __init__(
        self,
        spec: CalendarSpec | None = None,
        *,
        extra_windows: Iterable[tuple[datetime, datetime]] = (),
    ) -> None:
        """Build a calendar.

        Args:
            spec: Weekdays, hours, zone and holidays; the default is Mon–Fri
                08:00–18:00 Europe/Berlin without holidays.
            extra_windows: Additional open intervals (aware ``(start, end)``), e.g.
                a booked extended on-call window. They are merged with the
                regular hours.

        Raises:
            ValueError: A window is naive or ends before it starts.
        """
        self.spec = spec or CalendarSpec()
        self.zone = ZoneInfo(self.spec.timezone)
        self._weekdays = frozenset(WEEKDAYS.index(d) for d in self.spec.weekdays)
        self._opens = parse_clock(self.spec.opens)
        self._closes = parse_clock(self.spec.closes)
        self._closed_dates = frozenset(self.spec.closed_dates)
        windows: list[tuple[int, int]] = []
        for start, end in extra_windows:
            s, e = _to_us(start), _to_us(end)
            if e <= s:
                raise ValueError(f"extra window ends before it starts: {start} – {end}")
            windows.append((s, e))
        self._windows = tuple(sorted(windows))
        first, last = _MIN_YEAR, _MAX_YEAR
        self._limited_by: str | None = None  # the holiday table, if it narrows the range
        source = self.spec.holidays
        if source is not None:
            # Outside its years the holiday table is empty, not refused: an
            # answer there would silently count Christmas as business time.
            known = _holiday_years(source.country, source.subdivision)
            if known[0] > first or known[1] < last:
                first, last = max(first, known[0]), min(last, known[1])
                region = source.country + (f"-{source.subdivision}" if source.subdivision else "")
                self._limited_by = f"the holiday table of {region} covers no other years"
        self._first_year, self._last_year = first, last
        # The same range as UTC microseconds, [_min_us, _max_us): computed
        # exactly as ``_build`` computes an index's ends, so an index spanning
        # all supported years covers exactly this range.
        self._min_us = _to_us(datetime.combine(date(first, 1, 1), time(0), tzinfo=self.zone))
        self._max_us = _to_us(datetime.combine(date(last + 1, 1, 1), time(0), tzinfo=self.zone))
        self._lock = threading.Lock()
        self._index: _Index | None = None

    # -- public API ---------------------------------------------------------

    @property
    def supported_years(self) -> range:
        """Years (wall time in the calendar's zone) this calendar answers for.

        1971–9998, narrowed to the years of the holiday table if there is one.
        """
        return range(self._first_year, self._last_year + 1)

    def with_windows(self, windows: Iterable[tuple[datetime, datetime]]) -> BusinessCalendar:
        """Return a calendar that is also open in ``windows`` (e.g. booked on-call)."""
        existing = [(_us_to_utc(s), _us_to_utc(e)) for s, e in self._windows]
        return BusinessCalendar(self.spec, extra_windows=[*existing, *windows])

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which ``duration`` of business time has elapsed.

        Business time counts from ``start``, or from the next opening if the
        calendar is closed at ``start``. A result that lands exactly on a closing
        time stays there (Mon 14:00 + 4 h → Mon 18:00). ``duration == 0`` returns
        ``start`` itself.

        Args:
            start: Aware instant.
            duration: Non-negative business time.

        Returns:
            Aware datetime showing wall time in the calendar's zone, with a
            fixed UTC offset (so it compares as an instant even in DST folds).

        Raises:
            ValueError: ``start`` is naive or ``duration`` negative.
            OutsideSupportedYearsError: ``start`` or the result is outside the
                supported years.
        """
        s = _to_us(start)
        d = duration // _US
        if d < 0:
            raise ValueError(f"duration must not be negative, got {duration}")
        # Before the zero-duration shortcut, so that an out-of-range start is
        # refused whatever the duration.
        index = self._covering(s)
        if d == 0:
            return _fixed_local(start, self.zone)
        target = self._position(index, s) + d
        while target > index.cum_end[-1]:
            # Business time never runs faster than wall time: the result is at
            # least s + d, which bounds how far the index must reach.
            index = self._grow_later(index, s + d)
            target = self._position(index, s) + d  # the origin may have moved
        j = bisect_left(index.cum_end, target)
        result = index.starts[j] + (target - index.cum[j])
        return _fixed_local(_us_to_utc(result), self.zone)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end``; negative if ``end`` is earlier.

        Raises:
            ValueError: An argument is naive.
            OutsideSupportedYearsError: An argument is outside the supported years.
        """
        s, e = _to_us(start), _to_us(end)
        index = self._covering(min(s, e), max(s, e))
        return timedelta(microseconds=self._position(index, e) - self._position(index, s))

    def is_open(self, instant: datetime) -> bool:
        """Whether the team is on duty at ``instant`` (opening inclusive, closing exclusive).

        Raises:
            ValueError: ``instant`` is naive.
            OutsideSupportedYearsError: ``instant`` is outside the supported years.
        """
        s = _to_us(instant)
        index = self._covering(s)
        i = bisect_right(index.starts, s) - 1
        return i >= 0 and s < index.ends[i]

    def next_open(self, instant: datetime) -> datetime:
        """``instant`` itself if open, else the next opening after it.

        Raises:
            ValueError: ``instant`` is naive.
            OutsideSupportedYearsError: ``instant`` or the next opening is outside
                the supported years.
        """
        s = _to_us(instant)
        index = self._covering(s)
        i = bisect_right(index.starts, s) - 1
        if i >= 0 and s < index.ends[i]:
            return _fixed_local(instant, self.zone)
        while i + 1 >= len(index.starts) or index.starts[i + 1] >= index.hi_us:
            index = self._grow_later(index, s)
            i = bisect_right(index.starts, s) - 1
        return _fixed_local(_us_to_utc(index.starts[i + 1]), self.zone)

    def open_window(self, instant: datetime) -> tuple[datetime, datetime] | None:
        """The open interval containing ``instant``, or ``None`` when closed.

        Raises:
            ValueError: ``instant`` is naive.
            OutsideSupportedYearsError: ``instant`` is outside the supported years.
        """
        s = _to_us(instant)
        index = self._covering(s)
        i = bisect_right(index.starts, s) - 1
        if i < 0 or s >= index.ends[i]:
            return None
        return (
            _fixed_local(_us_to_utc(index.starts[i]), self.zone),
            _fixed_local(_us_to_utc(index.ends[i]), self.zone),
        )

    def is_business_day(self, day: date) -> bool:
        """Whether ``day`` has regular opening hours (weekday, no holiday, not closed).

        Raises:
            OutsideSupportedYearsError: ``day`` is outside the supported years.
        """
        # Refused like an instant of that day would be, although no index is
        # needed here: one range for every question.
        if not self._first_year <= day.year <= self._last_year:
            raise self._error(f"day {day.isoformat()} is outside")
        return (
            day.weekday() in self._weekdays
            and day not in self._closed_dates
            and day not in self._holidays_for(day.year, day.year)
        )

    # -- index --------------------------------------------------------------

    @staticmethod
    def _position(index: _Index, us: int) -> int:
        """Business time from the index origin to ``us``."""
        i = bisect_right(index.starts, us) - 1
        if i < 0:
            return 0
        return index.cum[i] + min(us - index.starts[i], index.ends[i] - index.starts[i])

    def _covering(self, lo_us: int, hi_us: int | None = None) -> _Index:
        """The index, grown if needed so that it covers ``[lo_us, hi_us]``.

        Raises:
            OutsideSupportedYearsError: ``lo_us`` or ``hi_us`` is outside the
                supported range.
        """
        hi_us = lo_us if hi_us is None else hi_us
        index = self._index
        # An index never reaches outside the supported range, so the fast path
        # needs no range check of its own; the slow path makes it explicit
        # before the years are clamped in ``_grow`` (which would otherwise build
        # an index that does not contain the instant and answer wrongly).
        if index is not None and index.lo_us <= lo_us and hi_us < index.hi_us:
            return index
        if lo_us < self._min_us:
            raise self._outside(lo_us)
        if hi_us >= self._max_us:
            raise self._outside(hi_us)
        return self._grow(self._year_of(lo_us), self._year_of(hi_us))

    def _grow_later(self, index: _Index, floor_us: int) -> _Index:
        """A wider index for an answer beyond ``index``, known to be at or after ``floor_us``.

        The span doubles at each step, so that a long ``add`` rebuilds the index
        a logarithmic number of times instead of once per year.

        Raises:
            OutsideSupportedYearsError: The answer would be after the supported range.
        """
        if index.last_year >= self._last_year or floor_us >= self._max_us:
            raise self._error("the answer lies after the end of")
        span = index.last_year - index.first_year + 1
        last_year = max(index.last_year + span, self._year_of(floor_us))
        return self._grow(index.first_year, min(last_year, self._last_year))

    def _year_of(self, us: int) -> int:
        """Local year of an instant inside the supported range."""
        return _us_to_utc(us).astimezone(self.zone).year

    def _outside(self, us: int) -> OutsideSupportedYearsError:
        # Outside the range, the instant may not survive a conversion to UTC
        # as a datetime (e.g. 9999-12-31 23:00-05:00), so it is shown by its
        # side of the range only when it cannot be shown as itself.
        try:
            shown = _us_to_utc(us).isoformat()
        except OverflowError:
            shown = "after 9999-12-31" if us > 0 else "before 0001-01-01"
        return self._error(f"instant {shown} is outside")

    def _error(self, what: str) -> OutsideSupportedYearsError:
        """One wording for every out-of-range refusal: ``what`` + the range and why."""
        why = f"wall time in {self.spec.timezone}"
        if self._limited_by is not None:
            why += f"; {self._limited_by}"
        return OutsideSupportedYearsError(
            f"{what} the supported years {self._first_year}–{self._last_year} "
            f"of the business calendar ({why})"
        )

    def _grow(self, first_year: int, last_year: int) -> _Index:
        """Rebuild the index so that it covers at least ``first_year..last_year``."""
        with self._lock:
            current = self._index
            if current is None:
                lo, hi = first_year - 1, last_year + 1
            else:
                if current.first_year <= first_year and last_year <= current.last_year:
                    return current  # another thread grew it meanwhile
                lo = min(current.first_year, first_year - _GROWTH_YEARS)
                if first_year >= current.first_year:
                    lo = current.first_year
                hi = max(current.last_year, last_year + _GROWTH_YEARS)
                if last_year <= current.last_year:
                    hi = current.last_year
            lo, hi = max(lo, self._first_year), min(hi, self._last_year)
            if current is not None and lo == current.first_year and hi == current.last_year:
                # Callers check the range first; this only stops an endless loop.
                raise self._error("instant or duration outside")
            self._index = self._build(lo, hi)
            return self._index

    def _holidays_for(self, first_year: int, last_year: int) -> frozenset[date]:
        source = self.spec.holidays
        if source is None:
            return frozenset()
        table = holidays_lib.country_holidays(
            source.country, subdiv=source.subdivision, years=range(first_year, last_year + 1)
        )
        return frozenset(table.keys())

    def _build(self, first_year: int, last_year: int) -> _Index:
        closed = self._closed_dates | self._holidays_for(first_year, last_year)
        intervals: list[tuple[int, int]] = []
        day = date(first_year, 1, 1)
        last = date(last_year, 12, 31)
        one_day = timedelta(days=1)
        opens = time(self._opens // 3600, self._opens % 3600 // 60)
        closes_next_midnight = self._closes == 86_400
        closes = (
            None if closes_next_midnight else time(self._closes // 3600, self._closes % 3600 // 60)
        )
        while day <= last:
            if day.weekday() in self._weekdays and day not in closed:
                start = datetime.combine(day, opens, tzinfo=self.zone)
                end = (
                    datetime.combine(day + one_day, time(0), tzinfo=self.zone)
                    if closes is None
                    else datetime.combine(day, closes, tzinfo=self.zone)
                )
                s, e = _to_us(start), _to_us(end)
                if e > s:  # hours inside a spring-forward gap can collapse to nothing
                    intervals.append((s, e))
            day += one_day
        lo_us = _to_us(datetime.combine(date(first_year, 1, 1), time(0), tzinfo=self.zone))
        hi_us = _to_us(datetime.combine(last + one_day, time(0), tzinfo=self.zone))
        for s, e in self._windows:
            if e > lo_us and s < hi_us:
                intervals.append((max(s, lo_us), min(e, hi_us)))
        merged = _merge(sorted(intervals))
        starts = [s for s, _ in merged]
        ends = [e for _, e in merged]
        cum: list[int] = []
        cum_end: list[int] = []
        total = 0
        for s, e in merged:
            cum.append(total)
            total += e - s
            cum_end.append(total)
        if not merged:
            # A calendar with no open hour in these years (all closed dates):
            # keep the lists non-empty so bisects have something to land on.
            starts, ends, cum, cum_end = [hi_us], [hi_us], [0], [0]
        return _Index(first_year, last_year, lo_us, hi_us, starts, ends, cum, cum_end)


def _merge(intervals: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of sorted intervals; touching ones become one."""
    merged: list[tuple[int, int]] = []
    for s, e in intervals:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged
