"""Ticket monitoring ("Ticketsystem-Überwachung"): the rules of the daily and weekly audits.

The SLA promises that support tickets are checked daily and development tickets
weekly. This module decides what such a check reports; it is pure (no I/O, no
clock, no ``temporalio``): the activities of :mod:`activities.audit` gather the
inputs and call it, the workflow only orchestrates.

Daily (support tickets = open incidents), per ticket:

* **overdue**: a deadline that still applies has passed (reaction while
  unacknowledged, the SLA resolution deadline, the communicated estimate);
* **near a deadline**: one of those is at most ``policy.audit.near_deadline``
  of business time away;
* **unacknowledged**: no classification and estimate yet;
* **stale**: no update by a person for ``policy.audit.stale_after_business_days``
  business days, measured in business time (a business day has as many hours
  as the calendar is open, e.g. 10 h for 08:00–18:00).

Daily, besides: every bug ticket linked to a critical incident that is not
fixed yet (``open``, ``in_progress``) is listed (:func:`critical_bugs`), until
an operator marks it fixed.

Weekly (development tickets): the running change requests and, from the
tracker (:func:`tracker_dev_tickets`), every open bug (until its fix is
released) and every planned change request. A ticket whose last progress lies
more than ``[audit] dev_stalled_after_business_days`` business days back
(default :data:`DEV_TICKET_STALLED_AFTER_BUSINESS_DAYS`) is **stalled** — except
one that waits for its release (a fixed bug, a planned change request): that
is the plan, not a stall. Where the summaries come from is behind
:class:`DevTicketSource`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import Weekday, parse_clock
from domain.dev_ticket import (
    OPEN_BUG_STATES,
    UNFIXED_BUG_STATES,
    DevTicket,
    DevTicketKind,
    DevTicketStatus,
)
from domain.events import Escalated, EscalationStage, EscalationTrigger, IncidentStatus
from domain.messages import OutgoingMessage, make_message_id
from domain.read_model import IncidentView
from domain.sla import Severity, SlaPolicy

DEV_TICKET_STALLED_AFTER_BUSINESS_DAYS = 5
"""The default of ``[audit] dev_stalled_after_business_days`` (and what reports
written before it was policy data read back as): a development ticket without
progress for more than this many business days is stalled.
"""

_MINUTE = timedelta(minutes=1)

# Events the engine records on its own (timers, pages, failed deliveries). They
# show that the clock runs, not that anybody worked on the ticket, so they do not
# count as an update; otherwise a critical incident paged every 30 minutes could
# never look stale.
_AUTOMATIC_EVENTS = frozenset(
    {
        "deadline_warned",
        "reaction_breached",
        "resolution_breached",
        "estimate_missed",
        "on_duty_paged",
        "delivery_failed",
        "deadlines_recomputed",  # a booked on-call window moved the deadlines
        "follow_up_scheduled",
        "follow_up_reminded",
        "reestimate_overdue",
    }
)


class AuditKind(StrEnum):
    """Which audit: daily (support tickets) or weekly (development tickets)."""

    DAILY = "daily"
    WEEKLY = "weekly"


class AuditTiming(BaseModel):
    """When an audit runs: weekdays and wall-clock time in the policy's time zone."""

    model_config = ConfigDict(frozen=True)

    weekdays: tuple[Weekday, ...]
    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM")


AUDIT_TIMINGS: dict[AuditKind, AuditTiming] = {
    # Shortly after opening (08:00), so the lead starts the day with the list.
    # Holidays cannot be expressed in a schedule spec: the audit itself skips them.
    AuditKind.DAILY: AuditTiming(weekdays=("mon", "tue", "wed", "thu", "fri"), at="08:15"),
    AuditKind.WEEKLY: AuditTiming(weekdays=("mon",), at="08:30"),
}
"""When the Temporal Schedules start each audit (``sla schedules apply``)."""


class SkipReason(StrEnum):
    """Why an audit did not check anything."""

    HOLIDAY = "holiday"  # not a business day in the policy calendar (e.g. an NRW holiday)


class AuditDeadline(StrEnum):
    """The deadlines an audit watches."""

    REACTION = "reaction"
    RESOLUTION = "resolution"
    ESTIMATE = "estimate"


class DeadlineCheck(BaseModel):
    """One deadline of one ticket as seen at the audit instant.

    Attributes:
        kind: Which deadline.
        due: When it is (was) due.
        business_minutes_left: Business time until ``due`` in whole minutes;
            negative (or zero) once it has passed.
    """

    model_config = ConfigDict(frozen=True)

    kind: AuditDeadline
    due: datetime
    business_minutes_left: int


class TicketAudit(BaseModel):
    """The audit findings for one open support ticket (incident)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    company: str
    severity: Severity
    status: IncidentStatus
    escalation_stage: EscalationStage
    received_at: datetime
    last_update_at: datetime
    idle_business_minutes: int = Field(description="business time since the last update")
    overdue: tuple[DeadlineCheck, ...] = ()
    near_deadline: tuple[DeadlineCheck, ...] = ()
    unacknowledged: bool = False
    stale: bool = False
    resolution_communicated_in_time: bool | None = Field(
        default=None,
        description="the SLA's obligation: resolved or told a reasoned new time by the deadline",
    )
    resolved_within_target: bool | None = Field(
        default=None, description="the KPI: resolved by the resolution deadline"
    )

    @property
    def flagged(self) -> bool:
        """Whether anything about this ticket needs attention."""
        return bool(self.overdue or self.near_deadline or self.unacknowledged or self.stale)


class UnreadableTicket(BaseModel):
    """A ticket the audit could not read (its workflow did not answer the query)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    error: str


class DevTicketSummary(BaseModel):
    """What the weekly audit needs to know about one open development ticket.

    Any source can provide it: today the change-request workflows' search
    attributes (visibility), later possibly the development-ticket ledger.

    Attributes:
        key: Where the ticket lives (workflow ID or ledger key).
        dev_ticket: The development ticket ID, once one was assigned.
        company: The requesting customer.
        lifecycle_state: Lifecycle state as the source names it (e.g. ``discussed``).
        opened_at: When the ticket was opened.
        last_progress_at: The last recorded progress (at least ``opened_at``).
        kind: Bug or feature (``None``: a running change request seen by visibility).
        title: The ticket's title, where the source knows it.
        awaiting_release: Done but not shipped (a fixed bug, a planned change
            request): listed, never stalled.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    dev_ticket: str | None = None
    company: str | None = None
    lifecycle_state: str | None = None
    opened_at: datetime
    last_progress_at: datetime
    # From the tracker (reports written before read back without them):
    kind: DevTicketKind | None = None
    title: str | None = None
    awaiting_release: bool = False


class BugAudit(BaseModel):
    """A bug ticket linked to a critical incident and not fixed yet (daily audit).

    Attributes:
        dev_ticket: The bug ticket's ID.
        title: Its title.
        status: ``open`` or ``in_progress``.
        opened_at: When the ticket was created.
        incidents: The critical incidents linked to it.
    """

    model_config = ConfigDict(frozen=True)

    dev_ticket: str
    title: str
    status: DevTicketStatus
    opened_at: datetime
    incidents: tuple[str, ...]


class DevTicketSource(Protocol):
    """Something that lists the open development tickets."""

    async def open_dev_tickets(self) -> Sequence[DevTicketSummary]:
        """Every open development ticket."""
        ...


class DevTicketAudit(DevTicketSummary):
    """A development ticket with the weekly audit's verdict."""

    idle_business_minutes: int
    stalled: bool


class AuditThresholds(BaseModel):
    """The limits an audit applied (so the report explains itself)."""

    model_config = ConfigDict(frozen=True)

    stale_after_business_days: int
    near_deadline_minutes: int
    dev_stalled_after_business_days: int = DEV_TICKET_STALLED_AFTER_BUSINESS_DAYS
    business_day_minutes: int


class AuditReport(BaseModel):
    """The result of one audit run (workflow result, JSON file, e-mail context).

    Attributes:
        audit_id: The run's ID (the workflow ID; unique per scheduled run).
        kind: Daily or weekly.
        at: The audit instant.
        day: The calendar day of ``at`` in the policy's time zone.
        timezone: The policy's time zone (for display).
        skipped: Why nothing was checked, or ``None``.
        thresholds: The limits that applied.
        open_tickets: Number of support tickets checked (daily).
        tickets: Every checked support ticket, flagged ones first (daily).
        unreadable: Support tickets that could not be read (daily).
        dev_tickets: Every open development ticket, stalled ones first (weekly).
        bugs: Bug tickets linked to a critical incident, not fixed yet (daily).
    """

    model_config = ConfigDict(frozen=True)

    audit_id: str
    kind: AuditKind
    at: datetime
    day: date
    timezone: str
    skipped: SkipReason | None = None
    thresholds: AuditThresholds
    open_tickets: int = 0
    tickets: tuple[TicketAudit, ...] = ()
    unreadable: tuple[UnreadableTicket, ...] = ()
    dev_tickets: tuple[DevTicketAudit, ...] = ()
    bugs: tuple[BugAudit, ...] = ()

    @property
    def overdue(self) -> tuple[TicketAudit, ...]:
        """Tickets past a deadline."""
        return tuple(t for t in self.tickets if t.overdue)

    @property
    def near_deadline(self) -> tuple[TicketAudit, ...]:
        """Tickets close to a deadline."""
        return tuple(t for t in self.tickets if t.near_deadline)

    @property
    def unacknowledged(self) -> tuple[TicketAudit, ...]:
        """Tickets not yet acknowledged."""
        return tuple(t for t in self.tickets if t.unacknowledged)

    @property
    def stale(self) -> tuple[TicketAudit, ...]:
        """Tickets without an update for too long."""
        return tuple(t for t in self.tickets if t.stale)

    @property
    def stalled(self) -> tuple[DevTicketAudit, ...]:
        """Development tickets without progress for too long."""
        return tuple(t for t in self.dev_tickets if t.stalled)

    @property
    def needs_attention(self) -> bool:
        """Whether the report lists anything to act on."""
        return bool(
            any(t.flagged for t in self.tickets) or self.unreadable or self.stalled or self.bugs
        )


# -- rules -------------------------------------------------------------------------


def business_day_length(policy: SlaPolicy) -> timedelta:
    """Opening hours of one business day (10 h for 08:00–18:00)."""
    spec = policy.calendar_spec
    return timedelta(seconds=parse_clock(spec.closes) - parse_clock(spec.opens))


def thresholds(policy: SlaPolicy) -> AuditThresholds:
    """The limits of ``policy`` as they appear in reports."""
    return AuditThresholds(
        stale_after_business_days=policy.audit.stale_after_business_days,
        near_deadline_minutes=policy.audit.near_deadline // _MINUTE,
        dev_stalled_after_business_days=policy.audit.dev_stalled_after_business_days,
        business_day_minutes=business_day_length(policy) // _MINUTE,
    )


def last_update(view: IncidentView) -> datetime:
    """When a person last did something about the incident.

    The report itself counts (so a ticket nobody touched ages from receipt);
    events the engine records on its own do not (see ``_AUTOMATIC_EVENTS``), nor
    does an escalation raised by an expired estimate.
    """
    latest = view.received_at
    for event in view.events:
        if event.type in _AUTOMATIC_EVENTS:
            continue
        if isinstance(event, Escalated) and event.trigger is EscalationTrigger.ESTIMATE_MISSED:
            continue
        latest = max(latest, event.at)
    return latest


def _minutes(value: timedelta) -> int:
    # Floor towards zero, so "59 s left" is 0 minutes left, not -1.
    minutes = abs(value) // _MINUTE
    return minutes if value >= timedelta(0) else -minutes


def _deadlines(view: IncidentView) -> list[tuple[AuditDeadline, datetime]]:
    """The deadlines that still apply to an open incident."""
    deadlines: list[tuple[AuditDeadline, datetime]] = []
    if view.status is IncidentStatus.NEW:
        deadlines.append((AuditDeadline.REACTION, view.reaction_due))
    deadlines.append((AuditDeadline.RESOLUTION, view.resolution_due))
    if view.estimate is not None:
        deadlines.append((AuditDeadline.ESTIMATE, view.estimate))
    return deadlines


def audit_incident(view: IncidentView, now: datetime, policy: SlaPolicy) -> TicketAudit:
    """The findings for one incident at ``now``.

    A resolved incident has no findings (it is not open any more).

    Args:
        view: The incident's full view (the ``view`` query).
        now: The audit instant (aware).
        policy: Supplies the calendar and the audit limits.
    """
    calendar = policy.calendar
    updated = last_update(view)
    idle = calendar.between(updated, now)
    overdue: list[DeadlineCheck] = []
    near: list[DeadlineCheck] = []
    is_open = view.status is not IncidentStatus.RESOLVED
    for kind, due in _deadlines(view) if is_open else []:
        if due <= now:
            # Compared as instants: past a deadline that fell at closing time is
            # overdue even while the calendar is closed (0 business minutes late).
            late = calendar.between(due, now)
            overdue.append(DeadlineCheck(kind=kind, due=due, business_minutes_left=-_minutes(late)))
            continue
        left = calendar.between(now, due)
        if left <= policy.audit.near_deadline:
            near.append(DeadlineCheck(kind=kind, due=due, business_minutes_left=_minutes(left)))
    stale_after = business_day_length(policy) * policy.audit.stale_after_business_days
    return TicketAudit(
        ticket_id=view.ticket_id,
        company=view.company,
        severity=view.severity,
        status=view.status,
        escalation_stage=view.escalation_stage,
        received_at=view.received_at,
        last_update_at=updated,
        idle_business_minutes=_minutes(idle),
        overdue=tuple(overdue),
        near_deadline=tuple(near),
        unacknowledged=view.status is IncidentStatus.NEW,
        stale=is_open and idle >= stale_after,
        resolution_communicated_in_time=view.resolution_communicated_in_time,
        resolved_within_target=view.resolved_within_target,
    )


def _urgency(ticket: TicketAudit) -> tuple[bool, datetime, str]:
    """Sort key: flagged first, then the earliest deadline that made it so."""
    dues = [c.due for c in (*ticket.overdue, *ticket.near_deadline)]
    return (not ticket.flagged, min(dues, default=ticket.last_update_at), ticket.ticket_id)


def support_report(
    audit_id: str,
    now: datetime,
    day: date,
    policy: SlaPolicy,
    views: Iterable[IncidentView],
    unreadable: Iterable[UnreadableTicket] = (),
    bugs: Iterable[BugAudit] = (),
) -> AuditReport:
    """The daily audit of the open support tickets in ``views``.

    Args:
        audit_id: The run's ID.
        now: The audit instant.
        day: ``now``'s calendar day in the policy's zone.
        policy: Calendar and limits.
        views: The open incidents (resolved ones are ignored).
        unreadable: Tickets that could not be read; reported as such.
        bugs: Unfixed bugs of critical incidents (:func:`critical_bugs`).
    """
    open_views = [v for v in views if v.status is not IncidentStatus.RESOLVED]
    tickets = sorted((audit_incident(v, now, policy) for v in open_views), key=_urgency)
    return AuditReport(
        audit_id=audit_id,
        kind=AuditKind.DAILY,
        at=now,
        day=day,
        timezone=policy.calendar_spec.timezone,
        thresholds=thresholds(policy),
        open_tickets=len(tickets),
        tickets=tuple(tickets),
        unreadable=tuple(sorted(unreadable, key=lambda u: u.ticket_id)),
        bugs=tuple(bugs),
    )


def critical_bugs(tickets: Iterable[DevTicket], views: Iterable[IncidentView]) -> list[BugAudit]:
    """Bug tickets linked to a critical incident that are not fixed yet, oldest first.

    An incident counts as critical by its current severity while it is open
    (``views``), else by the severity it had when it was linked (stored with
    the link; a resolved incident's bug stays listed until fixed). Links
    without a known severity do not count.
    """
    current = {v.ticket_id: v.severity for v in views}
    found = []
    for ticket in tickets:
        if ticket.kind is not DevTicketKind.BUG or ticket.status not in UNFIXED_BUG_STATES:
            continue
        critical = tuple(
            link.ticket_id
            for link in ticket.linked
            if current.get(link.ticket_id, link.contact.severity) is Severity.CRITICAL
        )
        if critical:
            found.append(
                BugAudit(
                    dev_ticket=ticket.id,
                    title=ticket.title,
                    status=ticket.status,
                    opened_at=ticket.created_at,
                    incidents=critical,
                )
            )
    return sorted(found, key=lambda b: (b.opened_at, b.dev_ticket))


def tracker_dev_tickets(tickets: Iterable[DevTicket]) -> list[DevTicketSummary]:
    """The tracker's tickets the weekly audit covers: open bugs and planned change requests.

    A bug is open until its fix is released; a fixed bug and a planned change
    request wait for their release (listed, never stalled). Change requests
    still under discussion come from their running workflows.
    """
    summaries = []
    for t in tickets:
        bug_open = t.kind is DevTicketKind.BUG and t.status in OPEN_BUG_STATES
        planned = t.kind is DevTicketKind.FEATURE and t.status is DevTicketStatus.PLANNED
        if not (bug_open or planned):
            continue
        summaries.append(
            DevTicketSummary(
                key=t.key,
                dev_ticket=t.id,
                company=t.company,
                lifecycle_state=t.status.value,
                opened_at=t.created_at,
                last_progress_at=t.last_change_at,
                kind=t.kind,
                title=t.title,
                awaiting_release=planned or t.status is DevTicketStatus.FIXED,
            )
        )
    return summaries


def combine_dev_tickets(
    running: Iterable[DevTicketSummary], tracked: Iterable[DevTicketSummary]
) -> list[DevTicketSummary]:
    """Running change requests plus the tracker's tickets, each development ticket once.

    A change request planned a moment ago may still run (its last mail goes
    out) while the tracker says planned: the tracker's entry wins, it knows more.
    """
    tracked = list(tracked)
    known = {t.dev_ticket for t in tracked}
    return [*tracked, *(r for r in running if r.dev_ticket is None or r.dev_ticket not in known)]


def audit_dev_ticket(ticket: DevTicketSummary, now: datetime, policy: SlaPolicy) -> DevTicketAudit:
    """Whether ``ticket`` has stalled at ``now``: no progress for more than the limit.

    A ticket awaiting its release (a fixed bug, a planned change request) never stalls.
    """
    progress = max(ticket.last_progress_at, ticket.opened_at)
    idle = policy.calendar.between(progress, now)
    limit = business_day_length(policy) * policy.audit.dev_stalled_after_business_days
    return DevTicketAudit(
        **ticket.model_dump(exclude={"last_progress_at"}),
        last_progress_at=progress,
        idle_business_minutes=_minutes(idle),
        stalled=idle > limit and not ticket.awaiting_release,
    )


def development_report(
    audit_id: str,
    now: datetime,
    day: date,
    policy: SlaPolicy,
    tickets: Iterable[DevTicketSummary],
) -> AuditReport:
    """The weekly audit of the open development tickets (stalled ones first, oldest first)."""
    audited = sorted(
        (audit_dev_ticket(t, now, policy) for t in tickets),
        key=lambda t: (not t.stalled, t.last_progress_at, t.key),
    )
    return AuditReport(
        audit_id=audit_id,
        kind=AuditKind.WEEKLY,
        at=now,
        day=day,
        timezone=policy.calendar_spec.timezone,
        thresholds=thresholds(policy),
        dev_tickets=tuple(audited),
    )


def skipped_report(
    audit_id: str, kind: AuditKind, now: datetime, day: date, policy: SlaPolicy
) -> AuditReport:
    """The record of an audit that did not run because ``day`` is no business day."""
    return AuditReport(
        audit_id=audit_id,
        kind=kind,
        at=now,
        day=day,
        timezone=policy.calendar_spec.timezone,
        skipped=SkipReason.HOLIDAY,
        thresholds=thresholds(policy),
    )


def audit_message(report: AuditReport, policy: SlaPolicy) -> OutgoingMessage:
    """The e-mail to the support lead for ``report`` (template ``audit_<kind>``).

    The Message-ID is the audit ID (unique per scheduled run, and free of the
    ``INC-`` prefix of incident messages), so a retried send delivers the same
    message, not a second one.
    """
    template = f"audit_{report.kind.value}"
    return OutgoingMessage(
        template=template,
        message_id=make_message_id(report.audit_id),
        to=(policy.contacts.support_lead,),
        date=report.at,
        timezone=report.timezone,
        context={"report": report.model_dump(mode="json")},
        kind=template,
    )
