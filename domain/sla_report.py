"""The monthly SLA compliance report: pure figures per severity (``sla sla-report``).

A support lead sends it upward once a month. This module computes every figure
from incident views, on-call bookings, the policy, the month and the instant the
report is made at (``as_of``); it does no I/O, reads no clock and knows nothing
of Temporal (``reporting.gather`` collects the inputs, ``reporting.charts`` and
``reporting.html`` render the result).

Rules (one place, so that the HTML, the JSON and the tests agree):

* **Month**: an incident belongs to the month in which it was *received*, in the
  policy's time zone (Europe/Berlin). Everything about it counts there, even an
  escalation or a resolution in the next month.
* **Reopened incidents** count each period as its own incident
  (:func:`domain.read_model.period_views`): the first from receipt to its
  resolution, each reopened one from its reopen instant, with its own
  reaction and resolution measurement, verdicts and escalations. A period
  belongs to the month its clock started in (receipt or reopen).
* **Change requests**: a report classified as a change request is no
  disturbance (SLA "Störungsmeldung oder Änderungswunsch?"): it is counted
  apart (``change_requests``) and in no severity figure.
* **Severity**: the incident's current one (the operator's classification,
  else the suggested one).
* **Met, breached, open** (for the reaction and, separately, the resolution):
  *breached* when the engine recorded the breach, or when the incident is
  still waiting for it and its deadline has passed at ``as_of`` (a timer not
  yet fired is no excuse; the deadline instant itself counts as passed, as in
  the engine); *met* when it happened without a recorded breach; *open*
  ("offen") when it has not happened and is not yet due. The recorded verdict
  is used rather than a recomputation on purpose: an acknowledgement is judged
  by the reaction clock that ran until then (the suggested severity's), and
  booked extended on-call windows move deadlines; the report agrees with
  ``sla show`` and with the e-mails the customer got. A resolution
  confirmation before any acknowledgement is the reaction as well (as in
  :func:`domain.incident.outcome`). So ``met + breached + open == incidents``.
* **Percentages** are shares of *all* incidents of the severity (so met,
  breached and open add up to 100 % up to rounding), rounded to one decimal;
  ``None`` without incidents.
* **Business time to react / resolve** is ``policy.calendar.between(received_at,
  reacted_at / resolved_at)``: the regular business hours of the policy
  (Bereitschaftszeit). Booked extended on-call windows are not counted here, so
  that the times of all customers are measured alike.
* **Median and p90** use the *nearest-rank* method, no interpolation: the
  p-th percentile of n sorted values is the value at rank ``ceil(p/100 * n)``
  (1-based); the median is the 50th percentile by the same rule (for an even
  n the lower of the two middle values). Every reported value is a real
  observation, and ``p90 >= median`` always.
* **Escalations by stage**: how many of the month's incidents reached each
  stage (1, 2, 3, extended), from the recorded ``escalated`` events; stages only
  go up and may be skipped (0 → 3), so each incident counts once per stage it
  reached.
* **Extended on-call billed**: the billing records of on-call bookings whose
  billed period starts in the month (one record per booking, started hours).
  The records come from the booking workflows (see ``reporting.gather`` for
  why they, and not the CSV ledger, are the source).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.events import (
    ClassifiedAsChangeRequest,
    Escalated,
    EscalationStage,
    ReestimateOverdue,
)
from domain.oncall import BillingRecord, OnCallBooking
from domain.read_model import IncidentView, period_views
from domain.sla import Severity, SlaPolicy

PERCENTILE_METHOD = (
    "nearest rank: the p-th percentile of n sorted values is the value at rank "
    "ceil(p/100 * n); the median is the 50th percentile (lower middle value for even n)"
)
"""How medians and p90 are computed (stated in the JSON and the HTML)."""

QUERY_MARGIN = timedelta(days=31)
"""Slack on the upper bound of :func:`reaction_due_window` (a policy changed since receipt)."""

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ReportMonthError(ValueError):
    """A month that is not ``YYYY-MM``; the message says what was expected."""


def _utc(instant: datetime) -> datetime:
    """``instant`` in UTC: aware datetimes sharing a ZoneInfo compare by wall clock (PEP 495)."""
    return instant.astimezone(UTC)


# -- the month -------------------------------------------------------------------


class ReportMonth(BaseModel):
    """A calendar month of the report, e.g. ``2026-11``."""

    model_config = ConfigDict(frozen=True)

    year: int = Field(ge=1971, le=9998)
    month: int = Field(ge=1, le=12)

    @classmethod
    def parse(cls, text: str) -> ReportMonth:
        """Parse ``YYYY-MM``.

        Raises:
            ReportMonthError: Anything else (``2026-13``, ``11/2026``, ``2026-1``).
        """
        match = _MONTH.match(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or not 1971 <= int(match[1]) <= 9998:
            raise ReportMonthError(
                f"{text!r} is not a month; expected YYYY-MM with a month 01-12, e.g. 2026-11"
            )
        return cls(year=int(match[1]), month=int(match[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        """The first day of the following month."""
        if self.month == 12:
            return date(self.year + 1, 1, 1)
        return date(self.year, self.month + 1, 1)

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """Start (inclusive) and end (exclusive) of the month as instants in ``timezone``."""
        zone = ZoneInfo(timezone)
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        following = self.next_first_day
        end = datetime(following.year, following.month, 1, tzinfo=zone)
        return _utc(start), _utc(end)

    def contains(self, instant: datetime, timezone: str) -> bool:
        """Whether ``instant`` falls into the month in ``timezone``."""
        local = instant.astimezone(ZoneInfo(timezone))
        return (local.year, local.month) == (self.year, self.month)


def reaction_due_window(policy: SlaPolicy, month: ReportMonth) -> tuple[datetime, datetime]:
    """Instants between which the reaction deadline of every incident received in ``month`` lies.

    Visibility has no receipt attribute (the dev server allows three datetime
    attributes), but every incident carries ``ReactionDue``. A deadline never
    lies before its receipt, so the month's start is a sound lower bound; the
    upper bound is the longest reaction time of the policy added to the month's
    end, plus :data:`QUERY_MARGIN` for incidents that run under an older policy.
    The window may hold incidents of other months: the report filters them out.
    """
    start, end = month.bounds(policy.calendar_spec.timezone)
    longest = max(policy.targets(s).reaction for s in Severity)
    return start, _utc(policy.calendar.add(end, longest)) + QUERY_MARGIN


# -- statistics --------------------------------------------------------------------


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile of ``values`` by the nearest-rank method.

    Args:
        values: Observations, in any order.
        percent: 1 to 100.

    Returns:
        The value at rank ``ceil(percent/100 * n)`` of the sorted values;
        ``None`` for no values.

    Raises:
        ValueError: ``percent`` outside 1..100.
    """
    if not 1 <= percent <= 100:
        raise ValueError(f"percent must be 1..100, got {percent}")
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil without floats
    return ordered[rank - 1]


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


class Verdict(StrEnum):
    """How an incident stands against one SLA deadline."""

    MET = "met"
    BREACHED = "breached"
    OPEN = "open"  # "offen": not happened, not yet due


def reacted_at(incident: IncidentView) -> datetime | None:
    """When the customer got the reaction: the acknowledgement, else the resolution."""
    return incident.acknowledged_at or incident.resolved_at


def reaction_verdict(incident: IncidentView, as_of: datetime) -> Verdict:
    """The incident's standing against its reaction deadline at ``as_of`` (module docstring)."""
    if incident.reaction_breached:
        return Verdict.BREACHED
    if reacted_at(incident) is not None:
        return Verdict.MET
    return Verdict.BREACHED if _utc(as_of) >= _utc(incident.reaction_due) else Verdict.OPEN


def resolution_verdict(incident: IncidentView, as_of: datetime) -> Verdict:
    """The incident's standing against its resolution deadline at ``as_of``."""
    if incident.resolution_breached:
        return Verdict.BREACHED
    if incident.resolved_at is not None:
        return Verdict.MET
    return Verdict.BREACHED if _utc(as_of) >= _utc(incident.resolution_due) else Verdict.OPEN


def obligation_verdict(incident: IncidentView, as_of: datetime) -> Verdict:
    """The SLA's resolution obligation at ``as_of`` (the report's "Zusage").

    Kept when, by the resolution deadline, the incident was resolved or the
    customer got a reasoned extension with a new time
    (``IncidentView.resolution_communicated_in_time``).
    """
    if incident.resolution_communicated_in_time is not None:
        return Verdict.MET if incident.resolution_communicated_in_time else Verdict.BREACHED
    return Verdict.BREACHED if _utc(as_of) >= _utc(incident.resolution_due) else Verdict.OPEN


def is_change_request(incident: IncidentView) -> bool:
    """Whether the report was classified as a change request (no disturbance)."""
    return any(isinstance(e, ClassifiedAsChangeRequest) for e in incident.events)


# -- the report's models -----------------------------------------------------------------


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True)


class Compliance(_Figures):
    """Met, breached and open incidents against one kind of deadline."""

    met: int
    breached: int
    open: int
    met_pct: float | None
    breached_pct: float | None
    open_pct: float | None

    @classmethod
    def of(cls, verdicts: Iterable[Verdict]) -> Compliance:
        """Count ``verdicts``; percentages of their number."""
        counts = Counter(verdicts)
        total = sum(counts.values())
        return cls(
            met=counts[Verdict.MET],
            breached=counts[Verdict.BREACHED],
            open=counts[Verdict.OPEN],
            met_pct=_share(counts[Verdict.MET], total),
            breached_pct=_share(counts[Verdict.BREACHED], total),
            open_pct=_share(counts[Verdict.OPEN], total),
        )


class Durations(_Figures):
    """Business times (seconds) of the incidents where the step happened."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None
    values_seconds: tuple[float, ...] = Field(description="every observation, ascending")

    @classmethod
    def of(cls, durations: Iterable[timedelta]) -> Durations:
        """Median and p90 (nearest rank) of ``durations``."""
        values = tuple(sorted(d.total_seconds() for d in durations))
        return cls(
            count=len(values),
            median_seconds=nearest_rank(values, 50),
            p90_seconds=nearest_rank(values, 90),
            values_seconds=values,
        )


class BreachCounts(_Figures):
    """Breached deadlines: reactions, resolutions, and incidents with either."""

    reaction: int
    resolution: int
    incidents: int
    reestimates_overdue: int = Field(
        default=0,
        description="missed estimates not followed by a new one within the policy time (rules 3)",
    )


class EscalationCounts(_Figures):
    """Incidents that reached each escalation stage."""

    stage_1: int = 0
    stage_2: int = 0
    stage_3: int = 0
    extended: int = 0


class SeverityFigures(_Figures):
    """Every figure of one severity (``severity`` is ``None`` for the total row)."""

    severity: Severity | None
    label_de: str
    incidents: int
    reaction: Compliance
    resolution: Compliance
    obligation: Compliance = Field(
        description="the SLA's word: resolved, or told a reasoned new time, by the deadline"
    )
    time_to_react: Durations
    time_to_resolve: Durations
    breaches: BreachCounts
    escalations: EscalationCounts


class WeekVolume(_Figures):
    """Incidents received in one ISO week (the days of it inside the month)."""

    week: str = Field(description="ISO week, e.g. 2026-W45")
    label_de: str = Field(description="e.g. KW 45")
    first_day: date
    last_day: date
    counts: dict[Severity, int]
    total: int


class BreachedIncident(_Figures):
    """One incident with a breached deadline (the report lists them)."""

    ticket_id: str
    company: str
    severity: Severity
    received_at: datetime
    reaction: Verdict
    resolution: Verdict
    escalation_stage: str


class CompanyOnCall(_Figures):
    """Extended on-call billed to one company."""

    company: str
    bookings: int
    hours: int
    amount: Decimal


class OnCallFigures(_Figures):
    """Extended on-call ("erweiterte Bereitschaft") billed for the month."""

    bookings: int
    hours: int
    amount: Decimal
    currency: str
    by_company: tuple[CompanyOnCall, ...]


class SlaReport(_Figures):
    """The monthly SLA compliance report."""

    month: str
    policy: str
    timezone: str
    as_of: datetime = Field(description="verdicts of open incidents are as of this instant")
    method: str = PERCENTILE_METHOD
    severities: tuple[SeverityFigures, ...] = Field(description="critical, major, minor")
    total: SeverityFigures
    change_requests: int = Field(description="reports classified as change requests (apart)")
    weeks: tuple[WeekVolume, ...]
    breached_incidents: tuple[BreachedIncident, ...]
    oncall: OnCallFigures


# -- building it ---------------------------------------------------------------------


_STAGE_FIELDS: dict[EscalationStage, str] = {
    1: "stage_1",
    2: "stage_2",
    3: "stage_3",
    "extended": "extended",
}


def _escalations(incidents: Sequence[IncidentView]) -> EscalationCounts:
    reached: Counter[str] = Counter()
    for incident in incidents:
        stages = {e.stage for e in incident.events if isinstance(e, Escalated)}
        for stage in stages:
            key = _STAGE_FIELDS.get(stage)
            if key is not None:
                reached[key] += 1
    return EscalationCounts(**reached)


def _figures(
    severity: Severity | None,
    incidents: Sequence[IncidentView],
    policy: SlaPolicy,
    as_of: datetime,
) -> SeverityFigures:
    calendar = policy.calendar
    reactions = [reaction_verdict(i, as_of) for i in incidents]
    resolutions = [resolution_verdict(i, as_of) for i in incidents]
    to_react = [
        calendar.between(i.received_at, at) for i in incidents if (at := reacted_at(i)) is not None
    ]
    to_resolve = [
        calendar.between(i.received_at, i.resolved_at)
        for i in incidents
        if i.resolved_at is not None
    ]
    return SeverityFigures(
        severity=severity,
        label_de=severity.label_de if severity is not None else "gesamt",
        incidents=len(incidents),
        reaction=Compliance.of(reactions),
        resolution=Compliance.of(resolutions),
        obligation=Compliance.of([obligation_verdict(i, as_of) for i in incidents]),
        time_to_react=Durations.of(to_react),
        time_to_resolve=Durations.of(to_resolve),
        breaches=BreachCounts(
            reaction=reactions.count(Verdict.BREACHED),
            resolution=resolutions.count(Verdict.BREACHED),
            incidents=sum(
                Verdict.BREACHED in pair for pair in zip(reactions, resolutions, strict=True)
            ),
            reestimates_overdue=sum(
                isinstance(e, ReestimateOverdue) for i in incidents for e in i.events
            ),
        ),
        escalations=_escalations(incidents),
    )


def _weeks(
    incidents: Sequence[IncidentView], month: ReportMonth, timezone: str
) -> tuple[WeekVolume, ...]:
    zone = ZoneInfo(timezone)
    by_week: dict[tuple[int, int], Counter[Severity]] = {}
    days: dict[tuple[int, int], list[date]] = {}
    day = month.first_day
    while day < month.next_first_day:
        key = day.isocalendar()[:2]
        by_week.setdefault(key, Counter())
        days.setdefault(key, []).append(day)
        day += timedelta(days=1)
    for incident in incidents:
        key = incident.received_at.astimezone(zone).date().isocalendar()[:2]
        by_week[key][incident.severity] += 1
    return tuple(
        WeekVolume(
            week=f"{year:04d}-W{week:02d}",
            label_de=f"KW {week}",
            first_day=days[(year, week)][0],
            last_day=days[(year, week)][-1],
            counts={s: counts[s] for s in Severity},
            total=sum(counts.values()),
        )
        for (year, week), counts in sorted(by_week.items())
    )


def _breached(incidents: Sequence[IncidentView], as_of: datetime) -> tuple[BreachedIncident, ...]:
    rows = []
    for incident in sorted(incidents, key=lambda i: (_utc(i.received_at), i.ticket_id)):
        reaction = reaction_verdict(incident, as_of)
        resolution = resolution_verdict(incident, as_of)
        if Verdict.BREACHED in (reaction, resolution):
            rows.append(
                BreachedIncident(
                    ticket_id=incident.ticket_id,
                    company=incident.company,
                    severity=incident.severity,
                    received_at=incident.received_at,
                    reaction=reaction,
                    resolution=resolution,
                    escalation_stage=str(incident.escalation_stage),
                )
            )
    return tuple(rows)


def oncall_figures(
    bookings: Iterable[OnCallBooking], month: ReportMonth, policy: SlaPolicy
) -> OnCallFigures:
    """Extended on-call billed for ``month``: records whose billed period starts in it."""
    timezone = policy.calendar_spec.timezone
    records: dict[str, BillingRecord] = {}
    for booking in bookings:
        record = booking.billing
        if record is not None and month.contains(record.start, timezone):
            records[record.booking_id] = record  # one record per booking
    companies: dict[str, list[BillingRecord]] = {}
    for record in records.values():
        companies.setdefault(record.company, []).append(record)
    by_company = tuple(
        CompanyOnCall(
            company=company,
            bookings=len(billed),
            hours=sum(r.hours for r in billed),
            amount=sum((r.amount for r in billed), Decimal("0.00")),
        )
        for company, billed in sorted(companies.items(), key=lambda kv: kv[0].casefold())
    )
    return OnCallFigures(
        bookings=len(records),
        hours=sum(c.hours for c in by_company),
        amount=sum((c.amount for c in by_company), Decimal("0.00")),
        currency=policy.oncall.currency,
        by_company=by_company,
    )


def build_report(
    incidents: Iterable[IncidentView],
    policy: SlaPolicy,
    month: ReportMonth,
    as_of: datetime,
    bookings: Iterable[OnCallBooking] = (),
) -> SlaReport:
    """The SLA report of ``month`` (rules in the module docstring).

    Args:
        incidents: Incident views; those received outside ``month`` are
            ignored, so a caller may pass more. A ticket passed twice counts
            once; a reopened one counts once per period (``period_views``).
        policy: Time zone and business calendar for the figures.
        month: The report month.
        as_of: The instant open incidents are judged at (aware).
        bookings: Extended on-call bookings; those billed outside ``month``
            are ignored.

    Raises:
        ValueError: ``as_of`` is naive.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be an aware datetime")
    timezone = policy.calendar_spec.timezone
    unique = {
        (p.ticket_id, _utc(p.received_at)): p
        for i in incidents
        for p in period_views(i)
        if month.contains(p.received_at, timezone)
    }
    of_month = sorted(unique.values(), key=lambda i: (_utc(i.received_at), i.ticket_id))
    disturbances = [i for i in of_month if not is_change_request(i)]
    return SlaReport(
        month=str(month),
        policy=policy.name,
        timezone=timezone,
        as_of=as_of,
        severities=tuple(
            _figures(s, [i for i in disturbances if i.severity is s], policy, as_of)
            for s in Severity
        ),
        total=_figures(None, disturbances, policy, as_of),
        change_requests=len(of_month) - len(disturbances),
        weeks=_weeks(disturbances, month, timezone),
        breached_incidents=_breached(disturbances, as_of),
        oncall=oncall_figures(bookings, month, policy),
    )
