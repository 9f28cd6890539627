"""Extended on-call ("erweiterte Bereitschaft"): booking rules, billing and lifecycle.

The SLA lets a customer book an operator outside the regular business time:
"bitte bestellen Sie diese erweiterte Bereitschaftszeit spätestens 3 Werktage
vor dem gewünschten Termin … Diesen Service berechnen wir Ihnen auf
Stundenbasis." This module holds every rule of it, pure (no clock, no I/O):

* **Lead time** (:func:`check_booking`), the plain reading of "spätestens
  3 Werktage vor dem gewünschten Termin": booking day + N business days ≤
  start day, N = ``policy.oncall.lead_business_days``. Counted are the
  business days after the booking day up to and including the start day;
  the booking day itself never counts. Business days are those of the policy
  calendar (weekdays without NRW holidays and closed dates); booked windows
  never make a day a business day. Example with 3 days: booked on Monday →
  Thursday is the first possible day ("Mon for Thu"); booked on Friday →
  Wednesday; booked on Wednesday → Monday, so not the Saturday before (only
  Thu and Fri are business days up to it); a holiday on the way pushes the
  start one business day later.
* **Terms** (:class:`OnCallTerms`, :func:`booking_terms`): rate, currency,
  whether hours inside the regular business time are billed, the parts of
  the window that are regular business time, and the cancellation terms are
  fixed on the booking when it is made, from ``policy.oncall``. The
  confirmation states them and billing applies them, so a later policy change
  never alters a booking. Bookings recorded before terms existed have none
  and are read as they were billed then (:func:`terms_of`).
* **Billing** (:func:`billed_hours`, :func:`bill`): per *started* hour of wall
  time (elapsed real time, so a window across a DST change bills the hours
  that actually passed): 2 h → 2, 2 h 00 min 01 s → 3, nothing → 0. Unless
  ``bill_business_hours`` is set, time inside the regular business time
  (Bereitschaftszeit, which the standard support covers) is left out before
  rounding up: Fri 16:00–20:00 bills 18:00–20:00, 2 h. The amount is
  ``hours × rate`` in :class:`~decimal.Decimal`, rounded to cents. Nothing to
  bill produces no billing record.
* **Cancellation**: free until ``free_cancellation_until`` (the start, unless
  the policy has a cancellation fee and ``free_cancellation_business_days``:
  then cancellation day + N business days ≤ start day, the lead-time count);
  later but before the start the cancellation fee; while it runs, the hours
  started until the cancellation.
* **Operator** (:func:`assign_operator`): named at booking or later, and
  replaceable until the window is over; each change is kept on the booking
  and the customer and on-duty are told.
* **Lifecycle** (:class:`OnCallBooking`): ``booked → active → completed``, or
  ``cancelled`` from ``booked`` or ``active``. Transitions are judged on
  instants, not on which timer fired first: a cancellation at or after the
  start counts as a cancellation of a running booking.
* **Unknown companies** may book (the directory is optional, DESIGN §4); the
  booking tool warns, and the confirmation goes to the support lead, who
  forwards it, since there is no customer address to send it to.
* **Incidents** of the company count a booked window as business time
  (:func:`with_oncall_windows`); :func:`merge_windows` says which windows an
  open incident keeps when the bookings change, so that business time that
  already elapsed is never re-judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from domain.calendar import BusinessCalendar, parse_clock
from domain.errors import (
    AlreadyDone,
    NotDue,
    RecordFull,
    WrongStatus,
    describe_validation_error,
)
from domain.ids import day_stamped_id
from domain.messages import OutgoingMessage, make_message_id
from domain.sla import OnCallPolicy, Plan, SlaPolicy
from domain.values import (
    AwareDatetime,
    FreeText,
    NonEmptyLine,
    NonEmptyText,
    SingleLineText,
    check_instant,
)

_HOUR_US = 3_600_000_000
_CENT = Decimal("0.01")


def _utc(instant: datetime) -> datetime:
    """``instant`` in UTC, for comparing and subtracting.

    Aware datetimes sharing one ``ZoneInfo`` compare and subtract by wall clock
    (PEP 495), which is wrong across a DST change.
    """
    return instant.astimezone(UTC)


# -- windows -------------------------------------------------------------------


class OnCallWindow(BaseModel):
    """A booked window during which the company's incidents count business time.

    Attributes:
        booking_id: The booking the window belongs to.
        start: First instant of the window (aware).
        end: End of the window, exclusive (aware, after ``start``).
    """

    model_config = ConfigDict(frozen=True)

    booking_id: str
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> OnCallWindow:
        if _utc(self.end) <= _utc(self.start):
            raise ValueError(f"window ends before it starts: {self.start} – {self.end}")
        return self

    def pair(self) -> tuple[datetime, datetime]:
        """``(start, end)`` as :class:`~domain.calendar.BusinessCalendar` takes it."""
        return (self.start, self.end)


class OnCallWindowsUpdate(BaseModel):
    """Signal payload: the company's current on-call windows (all of them)."""

    model_config = ConfigDict(frozen=True)

    windows: tuple[OnCallWindow, ...] = ()


def _sorted(windows: Iterable[OnCallWindow]) -> tuple[OnCallWindow, ...]:
    return tuple(sorted(windows, key=lambda w: (w.start, w.end, w.booking_id)))


def merge_windows(
    previous: Sequence[OnCallWindow], current: Sequence[OnCallWindow], now: datetime
) -> tuple[OnCallWindow, ...]:
    """The windows an open incident uses after the company's bookings changed.

    The part of ``previous`` before ``now`` is kept: that business time has
    elapsed and was counted (a completed booking, or the run part of one
    cancelled while it ran, stays business time). Everything from ``now`` on
    comes from ``current``, the company's bookings as they are now, so a
    window cancelled before it started disappears. Windows of the same
    booking are joined (one booking is one contiguous window).

    Args:
        previous: Windows the incident used so far.
        current: The company's current windows.
        now: The instant of the change (aware).

    Returns:
        The merged windows, sorted by start.
    """
    by_booking: dict[str, OnCallWindow] = {}
    kept = [
        w.model_copy(update={"end": min(_utc(w.end), _utc(now))})
        for w in previous
        if _utc(w.start) < _utc(now)
    ]
    for window in [*kept, *current]:
        seen = by_booking.get(window.booking_id)
        if seen is not None:
            window = window.model_copy(
                update={
                    "start": min(_utc(seen.start), _utc(window.start)),
                    "end": max(_utc(seen.end), _utc(window.end)),
                }
            )
        by_booking[window.booking_id] = window
    return _sorted(by_booking.values())


def with_oncall_windows(policy: SlaPolicy, windows: Iterable[OnCallWindow]) -> SlaPolicy:
    """``policy`` whose calendar is also open in ``windows``.

    Every business-time method of the result (``deadlines``,
    ``critical_pages``, ``calendar.add`` …) counts the windows. The serialized
    policy is unchanged: windows are not part of the policy file.
    """
    pairs = [w.pair() for w in windows]
    if not pairs:
        return policy
    windowed = policy.model_copy()
    # ``SlaPolicy.calendar`` is a ``functools.cached_property``, which keeps its
    # value in the instance ``__dict__``: seeding it there makes every method
    # of the copy use the widened calendar without re-validating the policy.
    windowed.__dict__["calendar"] = policy.calendar.with_windows(pairs)
    return windowed


# -- booking rules ---------------------------------------------------------------


class BookingRefused(ValueError):
    """A booking request the SLA's rules refuse; the message names every problem."""


class RegularTime(BaseModel):
    """A part of a booked window that lies in the regular business time.

    Attributes:
        start: First instant (aware).
        end: End, exclusive (aware, after ``start``).
    """

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime


class OnCallTerms(BaseModel):
    """The commercial terms of one booking, fixed when it is booked.

    Attributes:
        hourly_rate: Price per started hour.
        currency: ISO 4217 code.
        bill_business_hours: Whether hours inside the regular business time
            are billed too (``False``: the standard support covers them).
        regular_time: The parts of the window inside the regular business time.
        free_cancellation_until: A cancellation before this instant is free.
        cancellation_fee: Charged for a cancellation from
            ``free_cancellation_until`` until the start (0: none).
    """

    model_config = ConfigDict(frozen=True)

    hourly_rate: Decimal
    currency: str
    bill_business_hours: bool
    regular_time: tuple[RegularTime, ...] = ()
    free_cancellation_until: datetime
    cancellation_fee: Decimal = Decimal("0.00")


class BookingRequest(BaseModel):
    """A validated booking request (see :func:`check_booking`).

    ``terms`` are the ones :func:`check_booking` read from the policy; a
    request built without them books on the policy's terms of the day, read
    the legacy way (:func:`terms_of`).
    """

    model_config = ConfigDict(frozen=True)

    company: NonEmptyLine
    start: AwareDatetime
    end: AwareDatetime
    reason: NonEmptyText
    operator: SingleLineText | None = None
    terms: OnCallTerms | None = None


def business_days_after(calendar: BusinessCalendar, first: date, last: date) -> int:
    """Business days strictly after ``first``, up to and including ``last``.

    Only regular business days count (:meth:`BusinessCalendar.is_business_day`):
    weekdays that are no holiday and no closed date. Zero when ``last`` is not
    after ``first``.
    """
    count = 0
    day = first + timedelta(days=1)
    while day <= last:
        count += calendar.is_business_day(day)
        day += timedelta(days=1)
    return count


def lead_time_met(
    calendar: BusinessCalendar, booked_on: date, start_day: date, lead_business_days: int
) -> bool:
    """Whether ``booked_on`` + ``lead_business_days`` business days ≤ ``start_day``."""
    return start_day >= earliest_start_day(calendar, booked_on, lead_business_days)


def earliest_start_day(
    calendar: BusinessCalendar, booked_on: date, lead_business_days: int
) -> date:
    """The first day a window may start on when booked on ``booked_on``.

    It is the ``lead_business_days``-th business day after ``booked_on``
    (``booked_on`` itself never counts; with 0 it is ``booked_on``).
    """
    day = booked_on
    found = 0
    while found < lead_business_days:
        day += timedelta(days=1)
        found += calendar.is_business_day(day)
    return day


def local_day(calendar: BusinessCalendar, instant: datetime) -> date:
    """The calendar day of ``instant`` in the calendar's time zone."""
    return instant.astimezone(calendar.zone).date()


def _local_midnight(calendar: BusinessCalendar, day: date) -> datetime:
    midnight = datetime.combine(day, time(0), calendar.zone)
    # A fixed UTC offset, like every instant the calendar returns.
    return midnight.replace(tzinfo=timezone(midnight.utcoffset() or timedelta(0)))


def regular_time_in(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> tuple[RegularTime, ...]:
    """The parts of ``[start, end)`` that are regular business time of ``calendar``.

    ``calendar`` must be the policy's own, without on-call windows: a booked
    window is extended on-call, not regular business time.
    """
    spans: list[RegularTime] = []
    cursor = calendar.next_open(start)
    while _utc(cursor) < _utc(end):
        opened = calendar.open_window(cursor)
        if opened is None:  # pragma: no cover - next_open always lands on an open instant
            break
        close = opened[1]
        spans.append(RegularTime(start=cursor, end=min(close, end, key=_utc)))
        cursor = calendar.next_open(close)
    return tuple(spans)


def free_cancellation_deadline(
    calendar: BusinessCalendar, start_day: date, business_days: int
) -> datetime:
    """Midnight that ends the last day on which cancelling is still free.

    The last free day ``D`` is the latest with ``D`` + ``business_days``
    business days ≤ ``start_day``, counted as the lead time is
    (:func:`earliest_start_day`), so a booking that may be made on a day may
    also be cancelled free on it.
    """
    day = start_day
    found = 0
    while found < business_days:
        found += calendar.is_business_day(day)
        day -= timedelta(days=1)
    return _local_midnight(calendar, day + timedelta(days=1))


def booking_terms(policy: SlaPolicy, start: datetime, end: datetime) -> OnCallTerms:
    """The terms of a booking of ``[start, end)`` under ``policy`` (module docstring)."""
    oncall = policy.oncall
    free_until = start
    # Without a fee a free period would promise nothing: cancelling is free until the start.
    if oncall.cancellation_fee > 0 and oncall.free_cancellation_business_days > 0:
        calendar = policy.calendar
        deadline = free_cancellation_deadline(
            calendar, local_day(calendar, start), oncall.free_cancellation_business_days
        )
        free_until = min(deadline, start, key=_utc)
    return OnCallTerms(
        hourly_rate=oncall.hourly_rate.quantize(_CENT),
        currency=oncall.currency,
        bill_business_hours=oncall.bill_business_hours,
        regular_time=regular_time_in(policy.calendar, start, end),
        free_cancellation_until=free_until,
        cancellation_fee=oncall.cancellation_fee.quantize(_CENT),
    )


def check_booking(
    policy: SlaPolicy,
    *,
    company: str,
    start: datetime,
    end: datetime,
    reason: str,
    operator: str | None,
    booked_at: datetime,
) -> BookingRequest:
    """Validate a booking made at ``booked_at`` (module docstring: the lead-time rule).

    Raises:
        BookingRefused: Naive times, an empty company or reason, an end not
            after the start, or a start less than the lead time ahead; the
            message names every problem.
    """
    problems: list[str] = []
    company = company.strip()
    reason = reason.strip()
    if not company:
        problems.append("a company is required")
    if not reason:
        problems.append("a reason is required")
    times = (start, end, booked_at)
    if any(t.tzinfo is None or t.utcoffset() is None for t in times):
        raise BookingRefused("start, end and booking time need a time zone or UTC offset")
    for what, instant in (("start", start), ("end", end)):
        try:
            check_instant(instant)
        except ValueError as error:
            # Before any calendar arithmetic: the calendar refuses far years.
            raise BookingRefused(f"booking refused: {what} {error}") from None
    if _utc(end) <= _utc(start):
        problems.append(
            f"the end ({end.isoformat()}) must be after the start ({start.isoformat()})"
        )
    calendar = policy.calendar
    lead = policy.oncall.lead_business_days
    booked_on = local_day(calendar, booked_at)
    if _utc(start) <= _utc(booked_at):
        problems.append(f"the start ({start.isoformat()}) is not in the future")
    elif not lead_time_met(calendar, booked_on, local_day(calendar, start), lead):
        earliest = earliest_start_day(calendar, booked_on, lead)
        problems.append(
            f"extended on-call must be booked at least {lead} business days ahead: "
            f"booked on {booked_on.isoformat()}, the earliest start day is {earliest.isoformat()}"
        )
    if problems:
        raise BookingRefused("booking refused: " + "; ".join(problems))
    entry = policy.customer(company)
    try:
        return BookingRequest(
            company=entry.company if entry else company,  # the directory's spelling
            start=start,
            end=end,
            reason=reason,
            operator=(operator or "").strip() or None,
            terms=booking_terms(policy, start, end),
        )
    except ValidationError as error:
        raise BookingRefused(f"booking refused: {describe_validation_error(error)}") from None


def booking_warnings(policy: SlaPolicy, request: BookingRequest) -> list[str]:
    """Things the operator should know about an accepted booking."""
    if policy.customer(request.company) is None:
        return [
            f"{request.company!r} is not in the customer directory; booked anyway, the "
            "confirmation goes to the support lead for forwarding"
        ]
    return []


def booking_id_for(start_day: date, seed: str) -> str:
    """``ONC-YYYYMMDD-XXXX``: the start day and a code derived from ``seed``."""
    return day_stamped_id("ONC", start_day, seed, 4)


def booking_seed(request: BookingRequest) -> str:
    """What makes two requests the same booking: company and window."""
    return f"{request.company.casefold()}|{request.start.timestamp()}|{request.end.timestamp()}"


def reminder_instant(calendar: BusinessCalendar, start: datetime) -> datetime:
    """When on-duty is reminded: opening time of the last business day before the start day."""
    day = local_day(calendar, start) - timedelta(days=1)
    while not calendar.is_business_day(day):
        day -= timedelta(days=1)
    seconds = parse_clock(calendar.spec.opens)
    opening = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60), calendar.zone)
    # A fixed UTC offset, like every instant the calendar returns.
    return opening.replace(tzinfo=timezone(opening.utcoffset() or timedelta(0)))


# -- billing ------------------------------------------------------------------------


def started_hours(elapsed: timedelta) -> int:
    """Started hours in ``elapsed`` (0 if it is not positive)."""
    micros = elapsed // timedelta(microseconds=1)
    if micros <= 0:
        return 0
    return -(-micros // _HOUR_US)


def billed_hours(start: datetime, end: datetime) -> int:
    """Started hours from ``start`` to ``end`` (elapsed real time; 0 if ``end <= start``)."""
    return started_hours(_utc(end) - _utc(start))


def _overlap(spans: Iterable[RegularTime], start: datetime, end: datetime) -> timedelta:
    total = timedelta(0)
    for span in spans:
        lo = max(_utc(span.start), _utc(start))
        hi = min(_utc(span.end), _utc(end))
        if hi > lo:
            total += hi - lo
    return total


def regular_time_between(terms: OnCallTerms, start: datetime, end: datetime) -> timedelta:
    """How much of ``[start, end)`` lies in the window's regular business time."""
    return _overlap(terms.regular_time, start, end)


def hours_billed(terms: OnCallTerms, start: datetime, end: datetime) -> int:
    """Started hours billed for ``[start, end)`` under ``terms`` (module docstring)."""
    if terms.bill_business_hours:
        return billed_hours(start, end)
    # Real elapsed time: ``start + timedelta`` would add wall time across a DST change.
    return started_hours(_utc(end) - _utc(start) - regular_time_between(terms, start, end))


def billing_amount(hours: int, rate: Decimal) -> Decimal:
    """``hours × rate``, rounded half up to cents."""
    return (Decimal(hours) * rate).quantize(_CENT, rounding=ROUND_HALF_UP)


def format_money_de(amount: Decimal) -> str:
    """German notation: ``1.234,50``."""
    text = f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


class BillingRecord(BaseModel):
    """One line of the on-call billing ledger.

    Attributes:
        booking_id: The booking (one record per booking).
        company: Who pays.
        start: Start of the billed period.
        end: End of the billed period (the window end, or the cancellation).
        hours: Started hours billed (0 for a cancellation fee).
        rate: Hourly rate.
        amount: ``hours × rate``, plus ``fee``.
        currency: ISO 4217 code.
        fee: The cancellation fee included in ``amount`` (a late cancellation
            before the start; its period is the cancellation instant).
    """

    model_config = ConfigDict(frozen=True)

    booking_id: str
    company: str
    start: datetime
    end: datetime
    hours: int
    rate: Decimal
    amount: Decimal
    currency: str
    fee: Decimal = Decimal("0.00")


# -- lifecycle ----------------------------------------------------------------------


class BookingStatus(StrEnum):
    """Lifecycle state of a booking (also the ``LifecycleState`` search attribute)."""

    BOOKED = "booked"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (BookingStatus.BOOKED, BookingStatus.ACTIVE)
"""States in which a booking's window still counts for new incidents."""


class StepKind(StrEnum):
    """What a booking waits for."""

    REMIND = "remind"
    ACTIVATE = "activate"
    COMPLETE = "complete"


class BookingStep(BaseModel):
    """The next timer of a booking."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: StepKind


class CancelBooking(BaseModel):
    """Operator command: cancel a booking (before or while it runs)."""

    model_config = ConfigDict(frozen=True)

    reason: FreeText | None = None


class AssignOperator(BaseModel):
    """Operator command: name the operator of a booking, or replace the one named."""

    model_config = ConfigDict(frozen=True)

    operator: NonEmptyLine


class OperatorAssignment(BaseModel):
    """One change of a booking's operator.

    Attributes:
        operator: The operator named.
        previous: Whom they replace (``None``: nobody was named).
        at: When.
    """

    model_config = ConfigDict(frozen=True)

    operator: str
    previous: str | None = None
    at: datetime


MAX_ASSIGNMENTS = 50
"""Operator changes one booking keeps (its view is a workflow payload, and bounded)."""


class OnCallBooking(BaseModel):
    """One booking of extended on-call, as it stands (also the ``view`` of its workflow).

    Attributes:
        booking_id: ``ONC-YYYYMMDD-XXXX`` (also the workflow ID).
        company: The customer (directory spelling when known).
        start: Start of the booked window.
        end: End of the booked window.
        reason: Why the customer needs it (e.g. a migration).
        operator: The assigned operator, if named.
        booked_at: When the booking was made.
        status: Lifecycle state.
        reminder_at: When on-duty is reminded (set once computed).
        reminded_at: When the reminder went out.
        activated_at: When the window started.
        completed_at: When the window ended.
        cancelled_at: When it was cancelled.
        cancel_reason: Why it was cancelled.
        billing: The billing record, once written to the ledger.
        notes: Problems worth an operator's eye (undeliverable mail …).
        terms: Price and cancellation terms agreed at booking (``None``:
            booked before terms were recorded, see :func:`terms_of`).
        assignments: Operator changes after the booking, oldest first.
    """

    model_config = ConfigDict(frozen=True)

    booking_id: str
    company: str
    start: datetime
    end: datetime
    reason: str
    operator: str | None = None
    booked_at: datetime
    status: BookingStatus = BookingStatus.BOOKED
    reminder_at: datetime | None = None
    reminded_at: datetime | None = None
    activated_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    billing: BillingRecord | None = None
    notes: tuple[str, ...] = ()
    terms: OnCallTerms | None = None
    assignments: tuple[OperatorAssignment, ...] = ()

    @property
    def is_finished(self) -> bool:
        """Completed or cancelled."""
        return self.status not in OPEN_STATUSES

    @property
    def started(self) -> bool:
        """Whether the window began before the booking finished."""
        return self.activated_at is not None

    def window(self) -> OnCallWindow | None:
        """The window that counts as business time: booked, run so far, or none.

        A booking cancelled before its start has none; one cancelled while it
        ran keeps the part up to the cancellation.
        """
        if self.status is BookingStatus.CANCELLED:
            if self.cancelled_at is None or _utc(self.cancelled_at) <= _utc(self.start):
                return None
            return OnCallWindow(
                booking_id=self.booking_id,
                start=self.start,
                end=min(_utc(self.cancelled_at), _utc(self.end)),
            )
        return OnCallWindow(booking_id=self.booking_id, start=self.start, end=self.end)


def new_booking(booking_id: str, request: BookingRequest, booked_at: datetime) -> OnCallBooking:
    """A fresh booking in state ``booked``."""
    return OnCallBooking(
        booking_id=booking_id,
        company=request.company,
        start=request.start,
        end=request.end,
        reason=request.reason,
        operator=request.operator,
        booked_at=booked_at,
        terms=request.terms,
    )


def terms_of(booking: OnCallBooking, policy: OnCallPolicy) -> OnCallTerms:
    """The booking's terms; for a booking without recorded terms, the legacy reading.

    Such bookings were started before terms were fixed on the booking: every
    hour was billed at the rate of the booking's policy snapshot and
    cancelling was free until the start. Reading them the same way keeps their
    workflows issuing the commands their histories recorded.
    """
    if booking.terms is not None:
        return booking.terms
    return OnCallTerms(
        hourly_rate=policy.hourly_rate,
        currency=policy.currency,
        bill_business_hours=True,
        free_cancellation_until=booking.start,
    )


def next_step(booking: OnCallBooking) -> BookingStep | None:
    """The booking's next timer (``None`` when finished).

    A reminder that is due when the worker wakes after the start is still sent
    before activation: late, it still tells on-duty who covers the window.
    """
    if booking.status is BookingStatus.BOOKED:
        if booking.reminder_at is not None and booking.reminded_at is None:
            return BookingStep(at=min(booking.reminder_at, booking.start), kind=StepKind.REMIND)
        return BookingStep(at=booking.start, kind=StepKind.ACTIVATE)
    if booking.status is BookingStatus.ACTIVE:
        return BookingStep(at=booking.end, kind=StepKind.COMPLETE)
    return None


def _due(at: datetime, now: datetime, what: str) -> None:
    if _utc(now) < _utc(at):
        raise NotDue(f"{what} is not due before {at.isoformat()}")


def schedule_reminder(booking: OnCallBooking, at: datetime) -> OnCallBooking:
    """Record when on-duty is to be reminded."""
    return booking.model_copy(update={"reminder_at": at})


def remind(booking: OnCallBooking, now: datetime) -> OnCallBooking:
    """Record that on-duty was reminded.

    Raises:
        WrongStatus: Not booked.
        AlreadyDone: Already reminded.
        NotDue: Before the reminder instant.
    """
    if booking.status is not BookingStatus.BOOKED:
        raise WrongStatus(f"booking {booking.booking_id} is {booking.status.value}")
    if booking.reminded_at is not None:
        raise AlreadyDone(f"on-duty was already reminded of {booking.booking_id}")
    if booking.reminder_at is None:
        raise NotDue("the reminder instant is not known yet")
    _due(booking.reminder_at, now, "the reminder")
    return booking.model_copy(update={"reminded_at": now})


def activate(booking: OnCallBooking, now: datetime) -> OnCallBooking:
    """The window starts.

    Raises:
        WrongStatus: Not booked.
        NotDue: Before the start.
    """
    if booking.status is not BookingStatus.BOOKED:
        raise WrongStatus(f"booking {booking.booking_id} is {booking.status.value}")
    _due(booking.start, now, "the start")
    return booking.model_copy(update={"status": BookingStatus.ACTIVE, "activated_at": now})


def complete(booking: OnCallBooking, now: datetime) -> OnCallBooking:
    """The window ends.

    Raises:
        WrongStatus: Not active.
        NotDue: Before the end.
    """
    if booking.status is not BookingStatus.ACTIVE:
        raise WrongStatus(f"booking {booking.booking_id} is {booking.status.value}, not active")
    _due(booking.end, now, "the end")
    return booking.model_copy(update={"status": BookingStatus.COMPLETED, "completed_at": now})


def cancel(booking: OnCallBooking, command: CancelBooking, now: datetime) -> OnCallBooking:
    """Cancel before or while the window runs.

    At or after the start the booking counts as running even if its start
    timer has not fired yet, so the outcome never depends on timer order.

    Raises:
        AlreadyDone: Already cancelled.
        WrongStatus: Completed, or the window is over (its end has passed).
    """
    if booking.status is BookingStatus.CANCELLED:
        raise AlreadyDone(f"booking {booking.booking_id} is already cancelled")
    if booking.status is BookingStatus.COMPLETED or _utc(now) >= _utc(booking.end):
        raise WrongStatus(
            f"booking {booking.booking_id} is over (it ended {booking.end.isoformat()}); "
            "nothing to cancel"
        )
    started = _utc(now) >= _utc(booking.start)
    return booking.model_copy(
        update={
            "status": BookingStatus.CANCELLED,
            "cancelled_at": now,
            "cancel_reason": (command.reason or "").strip() or None,
            "activated_at": booking.activated_at or (booking.start if started else None),
        }
    )


def assign_operator(
    booking: OnCallBooking, command: AssignOperator, now: datetime
) -> OnCallBooking:
    """Name the booking's operator, or replace the one named, until the window is over.

    Raises:
        WrongStatus: Completed or cancelled, or the window is over.
        AlreadyDone: ``command.operator`` is already the operator.
        RecordFull: The booking already holds :data:`MAX_ASSIGNMENTS` changes.
    """
    if booking.is_finished or _utc(now) >= _utc(booking.end):
        raise WrongStatus(
            f"booking {booking.booking_id} is {booking.status.value} "
            f"(window until {booking.end.isoformat()}); its operator can no longer change"
        )
    operator = command.operator.strip()
    if operator == booking.operator:
        raise AlreadyDone(f"{operator} is already the operator of {booking.booking_id}")
    if len(booking.assignments) >= MAX_ASSIGNMENTS:
        raise RecordFull(
            f"booking {booking.booking_id} already had {MAX_ASSIGNMENTS} operator changes"
        )
    change = OperatorAssignment(operator=operator, previous=booking.operator, at=now)
    return booking.model_copy(
        update={"operator": operator, "assignments": (*booking.assignments, change)}
    )


def billable_period(booking: OnCallBooking) -> tuple[datetime, datetime] | None:
    """The period to bill: the whole window, the run part of a cancelled one, or none."""
    if booking.status is BookingStatus.COMPLETED:
        return booking.start, booking.end
    if booking.status is BookingStatus.CANCELLED:
        window = booking.window()
        return (window.start, window.end) if window else None
    return None


def late_cancellation_fee(booking: OnCallBooking, terms: OnCallTerms) -> Decimal | None:
    """The fee a cancellation before the start owes, ``None`` when it is free or ran."""
    cancelled_at = booking.cancelled_at
    if booking.status is not BookingStatus.CANCELLED or cancelled_at is None or booking.started:
        return None
    if terms.cancellation_fee <= 0 or _utc(cancelled_at) < _utc(terms.free_cancellation_until):
        return None
    return terms.cancellation_fee


def bill(booking: OnCallBooking, policy: OnCallPolicy) -> BillingRecord | None:
    """The billing record of a finished booking; ``None`` when nothing is billed.

    ``policy`` (the booking's policy snapshot) matters only for a booking
    without recorded terms (:func:`terms_of`).
    """
    terms = terms_of(booking, policy)
    fee = late_cancellation_fee(booking, terms)
    if fee is not None and booking.cancelled_at is not None:
        return BillingRecord(
            booking_id=booking.booking_id,
            company=booking.company,
            start=booking.cancelled_at,
            end=booking.cancelled_at,
            hours=0,
            rate=terms.hourly_rate.quantize(_CENT),
            amount=fee.quantize(_CENT),
            currency=terms.currency,
            fee=fee.quantize(_CENT),
        )
    period = billable_period(booking)
    if period is None:
        return None
    hours = hours_billed(terms, *period)
    if hours == 0:
        return None
    return BillingRecord(
        booking_id=booking.booking_id,
        company=booking.company,
        start=period[0],
        end=period[1],
        hours=hours,
        rate=terms.hourly_rate.quantize(_CENT),
        amount=billing_amount(hours, terms.hourly_rate),
        currency=terms.currency,
    )


def with_billing(booking: OnCallBooking, record: BillingRecord) -> OnCallBooking:
    """Record that ``record`` is in the ledger."""
    return booking.model_copy(update={"billing": record})


def with_note(booking: OnCallBooking, note: str) -> OnCallBooking:
    """Add a note for operators."""
    return booking.model_copy(update={"notes": (*booking.notes, note)})


# -- read model ----------------------------------------------------------------------


class BookingSummary(BaseModel):
    """A booking at a glance (``sla oncall list``), from visibility."""

    model_config = ConfigDict(frozen=True)

    booking_id: str
    company: str
    start: datetime
    end: datetime
    status: BookingStatus
    operator: str | None = None


# -- messages ------------------------------------------------------------------------


def customer_recipients(policy: SlaPolicy, company: str) -> tuple[tuple[str, ...], bool]:
    """Recipients of customer mail, and whether they are the support lead standing in.

    Customers outside the directory have no known address: the support lead
    gets their mail to forward.
    """
    entry = policy.customer(company)
    if entry is not None and entry.contacts:
        return tuple(entry.contacts), False
    return (policy.contacts.support_lead,), True


def duration_de(value: timedelta) -> str:
    """German hours and minutes: ``2 Std.``, ``1 Std. 30 Min.``, ``45 Min.`` (seconds dropped)."""
    minutes = max(value, timedelta(0)) // timedelta(minutes=1)
    hours, minutes = divmod(minutes, 60)
    parts = ([f"{hours} Std."] if hours else []) + ([f"{minutes} Min."] if minutes else [])
    return " ".join(parts) or "0 Min."


def _context(booking: OnCallBooking, policy: SlaPolicy) -> dict[str, object]:
    """What every on-call template may show: the booking and its terms, ready to print."""
    terms = terms_of(booking, policy.oncall)
    expected = hours_billed(terms, booking.start, booking.end)
    fee = terms.cancellation_fee
    # A booking names a directory customer (an operator books it), so its entry's
    # plan is the customer's: premium customers see their phone support number.
    entry = policy.customer(booking.company)
    premium = entry is not None and entry.plan is Plan.PREMIUM
    return {
        "support_hotline": policy.support.hotline if premium else None,
        "booking": booking.model_dump(mode="json"),
        "rate": format_money_de(terms.hourly_rate),
        "currency": terms.currency,
        "lead_business_days": policy.oncall.lead_business_days,
        "bill_business_hours": terms.bill_business_hours,
        "regular_time": [span.model_dump(mode="json") for span in terms.regular_time],
        "regular_duration": duration_de(regular_time_between(terms, booking.start, booking.end)),
        "expected_hours": expected,
        "expected_amount": format_money_de(billing_amount(expected, terms.hourly_rate)),
        "cancellation_fee": format_money_de(fee) if fee > 0 else None,
        "free_cancellation_until": terms.free_cancellation_until.isoformat(),
        "free_cancellation_over": _utc(terms.free_cancellation_until) <= _utc(booking.booked_at),
    }


def _message(
    template: str,
    booking: OnCallBooking,
    policy: SlaPolicy,
    to: Sequence[str],
    at: datetime,
    *,
    key: str | None = None,
    **extra: object,
) -> OutgoingMessage:
    context = {**_context(booking, policy), **extra}
    return OutgoingMessage.model_validate(
        {
            "template": template,
            "message_id": make_message_id(booking.booking_id, template, *filter(None, [key])),
            # Every mail of a booking threads under its confirmation.
            "thread_root": make_message_id(booking.booking_id, "oncall_confirmation"),
            "to": tuple(dict.fromkeys(to)),
            "date": at,
            "timezone": policy.calendar_spec.timezone,
            "context": context,
        }
    )


def confirmation_message(booking: OnCallBooking, policy: SlaPolicy) -> OutgoingMessage:
    """The customer's booking confirmation (German), dated at the booking."""
    to, forward = customer_recipients(policy, booking.company)
    return _message("oncall_confirmation", booking, policy, to, booking.booked_at, forward=forward)


def reminder_message(booking: OnCallBooking, policy: SlaPolicy, at: datetime) -> OutgoingMessage:
    """On-duty's reminder the business day before the window (German)."""
    return _message("oncall_reminder", booking, policy, (policy.contacts.on_duty,), at)


def operator_message(booking: OnCallBooking, policy: SlaPolicy) -> OutgoingMessage:
    """The customer is told the operator named by the latest assignment, on-duty copied (German).

    The confirmation promised to name one ("wird Ihnen rechtzeitig benannt");
    a replacement is announced the same way. One Message-ID per assignment.

    Raises:
        ValueError: The booking has no assignment.
    """
    if not booking.assignments:
        raise ValueError(f"booking {booking.booking_id} has no operator assignment")
    change = booking.assignments[-1]
    to, forward = customer_recipients(policy, booking.company)
    return _message(
        "oncall_operator",
        booking,
        policy,
        (*to, policy.contacts.on_duty),
        change.at,
        key=str(len(booking.assignments)),
        forward=forward,
        previous=change.previous,
    )


def cancellation_message(
    booking: OnCallBooking, policy: SlaPolicy, record: BillingRecord | None
) -> OutgoingMessage:
    """The cancellation notice to the customer, copied to on-duty (German)."""
    to, forward = customer_recipients(policy, booking.company)
    at = booking.cancelled_at or booking.booked_at
    return _message(
        "oncall_cancelled",
        booking,
        policy,
        (*to, policy.contacts.on_duty),
        at,
        forward=forward,
        billed_hours=record.hours if record else 0,
        billed_amount=format_money_de(record.amount) if record else None,
        fee_charged=record is not None and record.fee > 0,
        started=booking.started,
    )
