"""Planned maintenance ("Geplante Wartungsarbeiten") as a small event-sourced decider.

The SLA promises customers an e-mail announcement at least 48 hours
(calendar time, ``policy.maintenance.notice``) before a maintenance window,
naming the affected services and whether shipments can be scheduled for
processing during the window. The usual window is Friday 18:00–22:00 in the
calendar's zone; other windows are allowed, but the operator is warned.

Lifecycle::

    planned ──start──▶ in_progress ──end (timer) or end early (operator)──▶ completed
       │  ▲                 │  ▲
       │  │                 │  └─ extend (re-announced; the end moves later)
       │  │                 └─ business hours begin: overrun, an incident is opened
       │  └─ reschedule / extend (re-announced; a reschedule needs the notice period again)
       └──cancel──▶ cancelled

A window is meant to lie outside business hours (myconvento is locked while it
runs). When the first business-hours instant after its start
(``MaintenanceStarted.business_opens_at``, computed by a local activity) comes
while the window still runs, the maintenance records an overrun and the
workflow opens an incident through the ordinary intake
(:func:`overrun_report`), with a request ID derived from the maintenance ID.

Like :mod:`domain.incident`, the rules are two pure functions,
:func:`decide` (command → events, or a :class:`~domain.errors.DomainError`)
and :func:`evolve` (event → state); :func:`pending_timer` tells the workflow
when to wake up, and :func:`messages_for` builds the customer e-mails of an
event. Nothing here reads a clock: ``now`` is always a parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from domain.calendar import WEEKDAYS, OutsideSupportedYearsError, parse_clock
from domain.decider import fold_with
from domain.errors import DomainError, MissingText, NotDue, WrongStatus
from domain.ids import id_code
from domain.messages import OutgoingMessage, make_message_id
from domain.report import Channel, IncidentReport, Scope
from domain.sla import MaintenancePolicy, MaintenanceWindow, Plan, SlaPolicy
from domain.values import AwareDatetime, FreeText, NonEmptyLine, NonEmptyText

# -- vocabulary and errors --------------------------------------------------------


class MaintenanceStatus(StrEnum):
    """Lifecycle state (also the ``LifecycleState`` search attribute)."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        """Whether nothing can happen to the maintenance any more."""
        return self in (MaintenanceStatus.COMPLETED, MaintenanceStatus.CANCELLED)


class MaintenanceErrorKind(StrEnum):
    """Refusals specific to maintenance; travel as the ``ApplicationError`` type."""

    INSUFFICIENT_NOTICE = "InsufficientNotice"
    INVALID_WINDOW = "InvalidWindow"
    NO_SERVICES = "NoServices"


# ``DomainError.kind`` is typed with the incident's closed enum; maintenance
# extends the vocabulary with its own StrEnum (same ``.value`` protocol, so
# ``ApplicationError(type=error.kind.value)`` works unchanged).


class InsufficientNotice(DomainError):
    """The window starts sooner than the notice period allows."""

    kind = MaintenanceErrorKind.INSUFFICIENT_NOTICE


class InvalidWindow(DomainError):
    """The window ends before (or when) it starts, or a reschedule changes nothing."""

    kind = MaintenanceErrorKind.INVALID_WINDOW


class NoServices(DomainError):
    """No affected service was named."""

    kind = MaintenanceErrorKind.NO_SERVICES


def _utc(value: datetime) -> datetime:
    # Two datetimes sharing one ZoneInfo subtract and compare by wall clock
    # (PEP 495), which is wrong across a DST change; UTC instants are not.
    return value.astimezone(UTC)


def _shown(value: datetime | None) -> str:
    # Messages are built where no zone database may be used (workflow code),
    # so they name instants in UTC, unambiguously.
    return f"{_utc(value):%Y-%m-%d %H:%M} UTC" if value is not None else "–"


# -- the plan ---------------------------------------------------------------------


class MaintenancePlan(BaseModel):
    """What the operator plans: the window, the affected services, shipments, a text.

    Attributes:
        start: Start of the window (aware; stored as UTC).
        end: End of the window (aware; stored as UTC).
        services: Affected services as customers know them ("Versand", "Statistik").
        shipments_possible: Whether shipments can be scheduled for processing in
            the window (entered ahead, processed by the shipping system anyway).
        message: Public text for e-mails and the status page (German).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    services: tuple[NonEmptyLine, ...]
    shipments_possible: bool = False
    message: NonEmptyText

    @field_validator("start", "end")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("services")
    @classmethod
    def _once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for service in value:
            seen.setdefault(service.casefold(), service)
        return tuple(seen.values())


def parse_services(text: str) -> tuple[str, ...]:
    """``"Versand, Statistik"`` → ``("Versand", "Statistik")`` (empty items dropped)."""
    return tuple(s.strip() for s in text.split(",") if s.strip())


def check_window(start: datetime, end: datetime, now: datetime, policy: MaintenancePolicy) -> None:
    """Refuse a window that ends before it starts or starts too soon.

    The notice period is calendar time: real elapsed time between the two
    instants, so across a DST change 48 h of notice is not "the same wall-clock
    time two days later". A start exactly ``notice`` after ``now`` is accepted.

    Raises:
        InvalidWindow: ``end`` is not after ``start``.
        InsufficientNotice: ``start`` is less than ``policy.notice`` after ``now``.
    """
    if _utc(end) <= _utc(start):
        raise InvalidWindow(
            f"the window must end after it starts ({_shown(start)} – {_shown(end)})"
        )
    earliest = _utc(now) + policy.notice
    if _utc(start) < earliest:
        hours = policy.notice / timedelta(hours=1)
        raise InsufficientNotice(
            f"maintenance must be announced at least {hours:g} hours ahead: the start "
            f"{_shown(start)} is before {_shown(earliest)}"
        )


def check_plan(plan: MaintenancePlan, now: datetime, policy: MaintenancePolicy) -> None:
    """Refuse a plan without services, with a reversed window, or with too little notice.

    Raises:
        NoServices: ``plan.services`` is empty.
        InvalidWindow: See :func:`check_window`.
        InsufficientNotice: See :func:`check_window`.
    """
    if not plan.services:
        raise NoServices("name at least one affected service (e.g. --services Versand)")
    check_window(plan.start, plan.end, now, policy)


def is_usual_window(start: datetime, end: datetime, window: MaintenanceWindow, zone: str) -> bool:
    """Whether ``start``–``end`` lies inside the usual slot (Friday 18:00–22:00) of one day.

    The slot is read as wall-clock time in ``zone`` on the day the
    maintenance starts.
    """
    tz = ZoneInfo(zone)
    local_start = start.astimezone(tz)
    if WEEKDAYS[local_start.weekday()] != window.weekday:
        return False
    midnight = datetime.combine(local_start.date(), time(0), tzinfo=tz)
    # Adding to an aware datetime is wall-clock arithmetic, which is what a
    # "18:00" on the policy means; "24:00" becomes the next midnight.
    slot_start = midnight + timedelta(seconds=parse_clock(window.start))
    slot_end = midnight + timedelta(seconds=parse_clock(window.end))
    return _utc(slot_start) <= _utc(start) and _utc(end) <= _utc(slot_end)


def window_warnings(start: datetime, end: datetime, policy: SlaPolicy) -> list[str]:
    """Warnings for the operator (English) about an accepted but unusual window."""
    window = policy.maintenance.window
    zone = policy.calendar_spec.timezone
    if is_usual_window(start, end, window, zone):
        return []
    tz = ZoneInfo(zone)
    shown = f"{start.astimezone(tz):%a %d.%m.%Y %H:%M} – {end.astimezone(tz):%a %d.%m.%Y %H:%M}"
    return [
        f"the window {shown} is outside the usual maintenance window "
        f"({window.weekday} {window.start}–{window.end}, {zone})"
    ]


def business_hours_warnings(start: datetime, end: datetime, policy: SlaPolicy) -> list[str]:
    """A warning (English) when ``start``–``end`` reaches business hours.

    A window still running when business hours begin opens an incident
    (:func:`overrun_report`); the operator should know when planning or
    extending, not learn it from the incident.
    """
    try:
        opens = policy.calendar.next_open(start)
    except OutsideSupportedYearsError:
        return []
    if _utc(opens) >= _utc(end):
        return []
    zone = policy.calendar_spec.timezone
    return [
        f"the window reaches business hours at {opens.astimezone(ZoneInfo(zone)):%a %d.%m.%Y %H:%M}"
        f" ({zone}): if it still runs then, a {policy.maintenance.overrun_severity.value} "
        "incident is opened for all users"
    ]


def maintenance_id(plan: MaintenancePlan, zone: str) -> str:
    """``MNT-20261127-1800-K3QF``: local start plus a digest of the plan.

    The digest makes the ID deterministic: planning the very same maintenance
    twice (a retried command) yields the same ID, so the workflow start is
    idempotent and no customer is announced the same window twice.
    """
    suffix = id_code(plan.model_dump_json(), 4)
    return f"MNT-{plan.start.astimezone(ZoneInfo(zone)):%Y%m%d-%H%M}-{suffix}"


# -- events -------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime


class MaintenancePlanned(_Event):
    """Planned and announced (revision 0).

    Attributes:
        recipients: How many directory customers were told (``None`` in events
            recorded before it was kept).
        unreached: Directory customers without any contact: nobody there was told.
    """

    type: Literal["planned"] = "planned"
    maintenance_id: str
    plan: MaintenancePlan
    recipients: int | None = None
    unreached: tuple[str, ...] = ()


class MaintenanceRescheduled(_Event):
    """Moved to a new window; announced again with the next revision."""

    type: Literal["rescheduled"] = "rescheduled"
    previous_start: datetime
    previous_end: datetime
    start: datetime
    end: datetime
    revision: int


class MaintenanceStarted(_Event):
    """The window has begun.

    Attributes:
        business_opens_at: The first business-hours instant at or after the
            start; a window still running then has overrun. ``None``: not
            watched (started before overruns were watched, or the calendar
            has no opening in its supported years).
    """

    type: Literal["started"] = "started"
    business_opens_at: datetime | None = None


class MaintenanceExtended(_Event):
    """The end moved later (before or during the window); announced again with the next revision."""

    type: Literal["extended"] = "extended"
    previous_end: datetime
    end: datetime
    reason: str
    revision: int


class MaintenanceCompleted(_Event):
    """The window is over (its end has come)."""

    type: Literal["completed"] = "completed"


class MaintenanceEndedEarly(_Event):
    """The operator ended a running window before its end; customers are told."""

    type: Literal["ended_early"] = "ended_early"
    planned_end: datetime
    note: str | None = None


class MaintenanceOverran(_Event):
    """Business hours began while the window still ran: an incident is to be opened."""

    type: Literal["overran"] = "overran"
    business_opens_at: datetime
    request_id: str


class MaintenanceIncidentOpened(_Event):
    """The overrun's incident exists (opened now, or found from an earlier attempt)."""

    type: Literal["incident_opened"] = "incident_opened"
    ticket_id: str


class MaintenanceCancelled(_Event):
    """Called off before it started."""

    type: Literal["cancelled"] = "cancelled"
    reason: str


class MaintenanceDeliveryFailed(_Event):
    """A customer e-mail that could not be delivered (kept for the operator to follow up)."""

    type: Literal["delivery_failed"] = "delivery_failed"
    template: str
    to: tuple[str, ...]
    error: str


MaintenanceEvent = Annotated[
    MaintenancePlanned
    | MaintenanceRescheduled
    | MaintenanceStarted
    | MaintenanceExtended
    | MaintenanceCompleted
    | MaintenanceEndedEarly
    | MaintenanceOverran
    | MaintenanceIncidentOpened
    | MaintenanceCancelled
    | MaintenanceDeliveryFailed,
    Field(discriminator="type"),
]
"""Any maintenance event (discriminated by ``type``)."""


# -- commands -----------------------------------------------------------------------


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanMaintenance(_Command):
    """Open the maintenance (the workflow's start)."""

    kind: Literal["plan"] = "plan"
    maintenance_id: str
    plan: MaintenancePlan
    recipients: int | None = None
    unreached: tuple[str, ...] = ()


class RescheduleMaintenance(_Command):
    """Move the window (operator update)."""

    kind: Literal["reschedule"] = "reschedule"
    start: AwareDatetime
    end: AwareDatetime


class CancelMaintenance(_Command):
    """Call the maintenance off (operator update)."""

    kind: Literal["cancel"] = "cancel"
    reason: FreeText


class ExtendMaintenance(_Command):
    """Move the end later, before or during the window (operator update)."""

    kind: Literal["extend"] = "extend"
    end: AwareDatetime
    reason: FreeText


class EndMaintenance(_Command):
    """End a running window before its end (operator update)."""

    kind: Literal["end"] = "end"
    note: FreeText | None = None


class StartMaintenance(_Command):
    """Timer: the window begins.

    Attributes:
        business_opens_at: See :attr:`MaintenanceStarted.business_opens_at`.
    """

    kind: Literal["start"] = "start"
    business_opens_at: datetime | None = None


class CompleteMaintenance(_Command):
    """Timer: the window ends."""

    kind: Literal["complete"] = "complete"


class OverrunMaintenance(_Command):
    """Timer: business hours begin while the window still runs."""

    kind: Literal["overrun"] = "overrun"


class RecordOverrunIncident(_Command):
    """The overrun's incident was opened (or found) by intake."""

    kind: Literal["record_overrun_incident"] = "record_overrun_incident"
    ticket_id: str


class RecordDeliveryFailure(_Command):
    """An e-mail was permanently refused (for some or all of its recipients)."""

    kind: Literal["record_delivery_failure"] = "record_delivery_failure"
    template: str
    to: tuple[str, ...]
    error: str


MaintenanceCommand = (
    PlanMaintenance
    | RescheduleMaintenance
    | ExtendMaintenance
    | EndMaintenance
    | CancelMaintenance
    | StartMaintenance
    | CompleteMaintenance
    | OverrunMaintenance
    | RecordOverrunIncident
    | RecordDeliveryFailure
)


# -- state ----------------------------------------------------------------------------


class MaintenanceState(BaseModel):
    """The folded maintenance; also what the ``view`` query and ``sla maintenance show`` return.

    Attributes:
        revision: Announcement revision: 0 for the first announcement, one more
            per reschedule or extension (part of the Message-IDs).
        business_opens_at: When business hours begin after the start (set at
            the start; ``None`` when not watched).
        overran_at: When the window ran into business hours, if it did.
        incident_ticket_id: The ticket opened for the overrun.
    """

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    status: MaintenanceStatus
    start: datetime
    end: datetime
    services: tuple[str, ...]
    shipments_possible: bool
    message: str
    planned_at: datetime
    revision: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    business_opens_at: datetime | None = None
    overran_at: datetime | None = None
    incident_ticket_id: str | None = None
    events: tuple[MaintenanceEvent, ...] = ()


def decide(
    state: MaintenanceState | None,
    command: MaintenanceCommand,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[MaintenanceEvent]:
    """The events ``command`` causes at ``now``.

    Raises:
        WrongStatus: The command does not fit the lifecycle state (e.g. a
            reschedule after the start, anything but ``plan`` before planning).
        NoServices, InvalidWindow, InsufficientNotice: An invalid plan or window.
        MissingText: A cancellation without a reason.
        NotDue: A timer command before its instant.
    """
    if isinstance(command, PlanMaintenance):
        if state is not None:
            raise WrongStatus(f"maintenance {state.maintenance_id} is already planned")
        check_plan(command.plan, now, policy)
        return [
            MaintenancePlanned(
                at=now,
                maintenance_id=command.maintenance_id,
                plan=command.plan,
                recipients=command.recipients,
                unreached=command.unreached,
            )
        ]
    if state is None:
        raise WrongStatus("the maintenance has not been planned yet")
    match command:
        case RescheduleMaintenance():
            _require(state, MaintenanceStatus.PLANNED, "rescheduled")
            start, end = _utc(command.start), _utc(command.end)
            if (start, end) == (state.start, state.end):
                raise InvalidWindow("the new window is the current one; nothing to reschedule")
            check_window(start, end, now, policy)
            return [
                MaintenanceRescheduled(
                    at=now,
                    previous_start=state.start,
                    previous_end=state.end,
                    start=start,
                    end=end,
                    revision=state.revision + 1,
                )
            ]
        case ExtendMaintenance():
            return _extend(state, command, now)
        case EndMaintenance():
            _require(state, MaintenanceStatus.IN_PROGRESS, "ended early")
            if now >= state.end:
                raise InvalidWindow(f"the window ends at {_shown(state.end)} anyway")
            note = (command.note or "").strip() or None
            return [MaintenanceEndedEarly(at=now, planned_end=state.end, note=note)]
        case CancelMaintenance():
            _require(state, MaintenanceStatus.PLANNED, "cancelled")
            reason = command.reason.strip()
            if not reason:
                raise MissingText("a cancellation needs a reason (sent to the customers)")
            return [MaintenanceCancelled(at=now, reason=reason)]
        case StartMaintenance():
            _require(state, MaintenanceStatus.PLANNED, "started")
            if now < state.start:
                raise NotDue(f"the window starts at {_shown(state.start)}")
            return [MaintenanceStarted(at=now, business_opens_at=command.business_opens_at)]
        case CompleteMaintenance():
            _require(state, MaintenanceStatus.IN_PROGRESS, "completed")
            if now < state.end:
                raise NotDue(f"the window ends at {_shown(state.end)}")
            return [MaintenanceCompleted(at=now)]
        case OverrunMaintenance():
            _require(state, MaintenanceStatus.IN_PROGRESS, "overrun")
            opens = state.business_opens_at
            if opens is None or state.overran_at is not None or opens >= state.end:
                raise WrongStatus(
                    f"maintenance {state.maintenance_id} does not reach business hours "
                    f"before its end ({_shown(state.end)})"
                )
            if now < opens:
                raise NotDue(f"business hours begin at {_shown(opens)}")
            return [
                MaintenanceOverran(
                    at=now,
                    business_opens_at=opens,
                    request_id=overrun_request_id(state.maintenance_id),
                )
            ]
        case RecordOverrunIncident():
            if state.overran_at is None:
                raise WrongStatus(f"maintenance {state.maintenance_id} has not overrun")
            if state.incident_ticket_id is not None:
                return []  # a repeated answer of intake: the same incident
            return [MaintenanceIncidentOpened(at=now, ticket_id=command.ticket_id)]
        case RecordDeliveryFailure():
            return [
                MaintenanceDeliveryFailed(
                    at=now, template=command.template, to=command.to, error=command.error
                )
            ]
    raise AssertionError(f"unknown command {command!r}")  # pragma: no cover


def _extend(
    state: MaintenanceState, command: ExtendMaintenance, now: datetime
) -> list[MaintenanceEvent]:
    # Only the end moves: the announced start stands, so the notice period is
    # not asked for again; the customers are told at once.
    if state.status not in (MaintenanceStatus.PLANNED, MaintenanceStatus.IN_PROGRESS):
        _require(state, MaintenanceStatus.IN_PROGRESS, "extended")
    reason = command.reason.strip()
    if not reason:
        raise MissingText("an extension needs a reason (sent to the customers)")
    end = _utc(command.end)
    if end <= state.end:
        raise InvalidWindow(
            f"an extension must end after the current end {_shown(state.end)} "
            f"(to finish a running window sooner, end it early)"
        )
    if end <= _utc(now):
        raise InvalidWindow(f"the new end {_shown(end)} has already passed")
    return [
        MaintenanceExtended(
            at=now, previous_end=state.end, end=end, reason=reason, revision=state.revision + 1
        )
    ]


def _require(state: MaintenanceState, status: MaintenanceStatus, verb: str) -> None:
    if state.status is not status:
        why = {
            MaintenanceStatus.PLANNED: f"it has not started yet (starts {_shown(state.start)})",
            MaintenanceStatus.IN_PROGRESS: f"it is in progress (since {_shown(state.started_at)})",
            MaintenanceStatus.COMPLETED: f"it is completed (since {_shown(state.completed_at)})",
            MaintenanceStatus.CANCELLED: f"it was cancelled ({_shown(state.cancelled_at)})",
        }[state.status]
        raise WrongStatus(f"maintenance {state.maintenance_id} cannot be {verb}: {why}")


def evolve(state: MaintenanceState | None, event: MaintenanceEvent) -> MaintenanceState:
    """``state`` with ``event`` applied."""
    if isinstance(event, MaintenancePlanned):
        plan = event.plan
        return MaintenanceState(
            maintenance_id=event.maintenance_id,
            status=MaintenanceStatus.PLANNED,
            start=plan.start,
            end=plan.end,
            services=plan.services,
            shipments_possible=plan.shipments_possible,
            message=plan.message,
            planned_at=event.at,
            events=(event,),
        )
    if state is None:
        raise ValueError(f"{event.type} event before the maintenance was planned")
    changes: dict[str, object]
    match event:
        case MaintenanceRescheduled():
            changes = {"start": event.start, "end": event.end, "revision": event.revision}
        case MaintenanceStarted():
            changes = {
                "status": MaintenanceStatus.IN_PROGRESS,
                "started_at": event.at,
                "business_opens_at": event.business_opens_at,
            }
        case MaintenanceExtended():
            changes = {"end": event.end, "revision": event.revision}
        case MaintenanceCompleted():
            changes = {"status": MaintenanceStatus.COMPLETED, "completed_at": event.at}
        case MaintenanceEndedEarly():
            # The window shown from now on is the one that really happened.
            changes = {
                "status": MaintenanceStatus.COMPLETED,
                "completed_at": event.at,
                "end": event.at,
            }
        case MaintenanceOverran():
            changes = {"overran_at": event.at}
        case MaintenanceIncidentOpened():
            changes = {"incident_ticket_id": event.ticket_id}
        case MaintenanceCancelled():
            changes = {
                "status": MaintenanceStatus.CANCELLED,
                "cancelled_at": event.at,
                "cancel_reason": event.reason,
            }
        case MaintenanceDeliveryFailed():
            changes = {}
    return state.model_copy(update={**changes, "events": (*state.events, event)})


def fold(state: MaintenanceState | None, events: Iterable[MaintenanceEvent]) -> MaintenanceState:
    """Apply ``events`` in order.

    Raises:
        ValueError: There is no state and no event to start one.
    """
    return fold_with(evolve, state, events, empty="no maintenance events")


def execute(
    state: MaintenanceState | None,
    command: MaintenanceCommand,
    now: datetime,
    policy: MaintenancePolicy,
) -> tuple[MaintenanceState, list[MaintenanceEvent]]:
    """:func:`decide` then :func:`fold`; returns the new state and the new events."""
    events = decide(state, command, now, policy)
    if not events:
        assert state is not None
        return state, events
    return fold(state, events), events


class PendingTimer(BaseModel):
    """The next instant-triggered command."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    command: StartMaintenance | CompleteMaintenance | OverrunMaintenance


def pending_timer(state: MaintenanceState) -> PendingTimer | None:
    """When the workflow must wake up next, and what to tell :func:`decide` then.

    A running window that reaches business hours wakes up when they begin
    (the overrun) before it wakes up for its end. The start command's
    ``business_opens_at`` is left for the workflow to fill in.
    """
    if state.status is MaintenanceStatus.PLANNED:
        return PendingTimer(at=state.start, command=StartMaintenance())
    if state.status is MaintenanceStatus.IN_PROGRESS:
        opens = state.business_opens_at
        if opens is not None and state.overran_at is None and opens < state.end:
            return PendingTimer(at=opens, command=OverrunMaintenance())
        return PendingTimer(at=state.end, command=CompleteMaintenance())
    return None


# -- customer e-mails -----------------------------------------------------------------


class MaintenanceTemplate(StrEnum):
    """The German e-mail templates (``activities/templates/email/<value>.txt.j2``)."""

    ANNOUNCEMENT = "maintenance_announcement"
    RESCHEDULED = "maintenance_rescheduled"
    EXTENDED = "maintenance_extended"
    ENDED = "maintenance_ended"
    CANCELLED = "maintenance_cancelled"


def customer_recipients(policy: SlaPolicy) -> list[tuple[str, tuple[str, ...]]]:
    """``(company, contacts)`` of every directory customer with at least one contact.

    Every address of the customer gets the notice: its general contacts and
    its contacts by role (IT, management). Each customer gets a message of its
    own: one message to all customers would show every customer's address to
    every other one.
    """
    return [
        (customer.company, customer.all_contacts)
        for customer in policy.customers
        if customer.all_contacts
    ]


def _hotline(policy: SlaPolicy, company: str) -> str | None:
    """The premium hotline for a directory customer's own notice (premium entries only)."""
    entry = policy.customer(company)
    return policy.support.hotline if entry is not None and entry.plan is Plan.PREMIUM else None


def unreached_customers(policy: SlaPolicy) -> tuple[str, ...]:
    """Directory customers without any contact: a notice cannot reach them."""
    return tuple(c.company for c in policy.customers if not c.all_contacts)


def recipient_warnings(policy: SlaPolicy) -> list[str]:
    """Warnings for the operator (English) about customers a notice will not reach.

    The SLA promises the announcement to every customer; a directory entry
    without a contact, or a directory without any, breaks that promise
    silently unless the operator hears about it when planning.
    """
    warnings = []
    if not customer_recipients(policy):
        warnings.append(
            f"no customer in the directory of policy {policy.name!r} has a contact: "
            "nobody will be told about this maintenance by e-mail (status page only)"
        )
    unreached = unreached_customers(policy)
    if unreached:
        warnings.append(
            f"{len(unreached)} directory customer(s) without a contact will not be told: "
            + ", ".join(unreached)
        )
    return warnings


def recipients_digest(to: Iterable[str]) -> str:
    """Short stable digest of a recipient set (order and case do not matter)."""
    canonical = ",".join(sorted({a.lower() for a in to}))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


def maintenance_message_id(
    maintenance_id: str,
    planned_at: datetime,
    revision: int,
    template: MaintenanceTemplate,
    to: Iterable[str],
    *,
    domain: str = "sla.myconvento.com",
) -> str:
    """Deterministic Message-ID per maintenance, announcement revision, template and recipients.

    A retried send activity reproduces the same ID, so the outbox overwrites
    the same file and mail clients see one message. The planning instant is
    part of it because a cancelled plan may be planned again under the same
    maintenance ID; its new announcement must not look like a duplicate.
    """
    return make_message_id(
        maintenance_id,
        f"p{_utc(planned_at):%Y%m%dT%H%M%S}",
        f"r{revision}",
        template.value,
        recipients_digest(to),
        domain=domain,
    )


def _context(state: MaintenanceState, company: str) -> dict[str, JsonValue]:
    return {
        "company": company,
        "maintenance_id": state.maintenance_id,
        "start": state.start.isoformat(),
        "end": state.end.isoformat(),
        "services": list(state.services),
        "shipments_possible": state.shipments_possible,
        "message": state.message,
        "revision": state.revision,
    }


def messages_for(
    state: MaintenanceState,
    sequence: int,
    policy: SlaPolicy,
    *,
    mail_domain: str = "sla.myconvento.com",
) -> list[OutgoingMessage]:
    """The customer e-mails caused by ``state.events[sequence]``, one per directory customer.

    ``state`` is the state right after the event's command, so a message shows
    the window as it was announced at that moment.
    """
    event = state.events[sequence]
    extra: dict[str, JsonValue] = {}
    match event:
        case MaintenancePlanned():
            template = MaintenanceTemplate.ANNOUNCEMENT
        case MaintenanceRescheduled():
            template = MaintenanceTemplate.RESCHEDULED
            extra = {
                "previous_start": event.previous_start.isoformat(),
                "previous_end": event.previous_end.isoformat(),
            }
        case MaintenanceExtended():
            template = MaintenanceTemplate.EXTENDED
            extra = {"previous_end": event.previous_end.isoformat(), "reason": event.reason}
        case MaintenanceEndedEarly():
            template = MaintenanceTemplate.ENDED
            extra = {"planned_end": event.planned_end.isoformat(), "note": event.note}
        case MaintenanceCancelled():
            template = MaintenanceTemplate.CANCELLED
            extra = {"reason": event.reason}
        case _:
            return []
    return [
        OutgoingMessage(
            template=template.value,
            message_id=maintenance_message_id(
                state.maintenance_id,
                state.planned_at,
                state.revision,
                template,
                to,
                domain=mail_domain,
            ),
            to=to,
            date=event.at,
            timezone=policy.calendar_spec.timezone,
            # Every mail about this plan threads under its first announcement.
            thread_root=maintenance_message_id(
                state.maintenance_id,
                state.planned_at,
                0,
                MaintenanceTemplate.ANNOUNCEMENT,
                to,
                domain=mail_domain,
            ),
            context={
                **_context(state, company),
                "status_page_url": policy.status_page.url,
                "support_hotline": _hotline(policy, company),
                **extra,
            },
        )
        for company, to in customer_recipients(policy)
    ]


# -- what an event causes outside ------------------------------------------------------


class MaintenancePost(BaseModel):
    """The current facts of one maintenance, sent by its workflow on every change.

    Attributes:
        reason: Why it was cancelled, or (while planned or running) why it was
            last extended.
    """

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    at: datetime
    state: MaintenanceStatus
    services: tuple[str, ...]
    start: datetime
    end: datetime
    message: str
    shipments_possible: bool
    reason: str | None = None


def maintenance_post_for(
    state: MaintenanceState, event: MaintenanceEvent
) -> MaintenancePost | None:
    """The status-page post of a maintenance event, if it changes the entry."""
    reason = _latest_extension_reason(state)
    match event:
        case MaintenancePlanned() | MaintenanceRescheduled():
            shown = MaintenanceStatus.PLANNED
        case MaintenanceStarted():
            shown = MaintenanceStatus.IN_PROGRESS
        case MaintenanceExtended():
            # Posted in the state it is in: a planned window stays planned.
            shown = state.status
        case MaintenanceCompleted() | MaintenanceEndedEarly():
            shown = MaintenanceStatus.COMPLETED
            reason = None
        case MaintenanceCancelled():
            shown = MaintenanceStatus.CANCELLED
            reason = event.reason
        case MaintenanceDeliveryFailed() | MaintenanceOverran() | MaintenanceIncidentOpened():
            # The overrun's incident makes its own entry on the page.
            return None
    return MaintenancePost(
        maintenance_id=state.maintenance_id,
        at=event.at,
        state=shown,
        services=state.services,
        start=state.start,
        end=state.end,
        message=state.message,
        shipments_possible=state.shipments_possible,
        reason=reason,
    )


def _latest_extension_reason(state: MaintenanceState) -> str | None:
    """Why the window was last extended (shown on the page while it is open)."""
    for event in reversed(state.events):
        if isinstance(event, MaintenanceExtended):
            return event.reason
    return None


class MaintenanceEffects(BaseModel):
    """What one event causes outside the workflow: customer e-mails, a status post, an incident.

    Attributes:
        open_incident: The overrun's incident is to be opened through intake.
    """

    model_config = ConfigDict(frozen=True)

    sequence: int
    messages: tuple[OutgoingMessage, ...] = ()
    post: MaintenancePost | None = None
    open_incident: bool = False


def effects_of(state: MaintenanceState, first: int, policy: SlaPolicy) -> list[MaintenanceEffects]:
    """The effects of ``state.events[first:]`` (the events one command just recorded), in order.

    Events that cause nothing outside (a recorded delivery failure) have no entry.
    """
    found = []
    for sequence in range(first, len(state.events)):
        effects = MaintenanceEffects(
            sequence=sequence,
            messages=tuple(messages_for(state, sequence, policy)),
            post=maintenance_post_for(state, state.events[sequence]),
            open_incident=isinstance(state.events[sequence], MaintenanceOverran),
        )
        if effects.messages or effects.post is not None or effects.open_incident:
            found.append(effects)
    return found


# -- the overrun's incident --------------------------------------------------------------


def overrun_request_id(maintenance_id: str) -> str:
    """The intake request ID of a maintenance's overrun incident.

    Fixed per maintenance, so a retried or repeated start finds the incident
    opened the first time instead of opening a second one.
    """
    return f"maintenance-overrun:{maintenance_id}"


def overrun_report(state: MaintenanceState, policy: SlaPolicy) -> IncidentReport:
    """The disturbance report for a window that ran into business hours.

    myconvento is locked while a window runs ("während der Wartungsfenster
    üblicherweise für die Nutzung gesperrt"): for every user, no login is
    possible. The report comes from the engine itself (channel ``monitoring``,
    company as for monitoring alerts, the support lead as contact), is
    received at the overrun instant, and carries the policy's
    ``[maintenance] overrun_severity``.

    Raises:
        ValueError: The maintenance has not overrun.
    """
    if state.overran_at is None or state.business_opens_at is None:
        raise ValueError(f"maintenance {state.maintenance_id} has not overrun")
    tz = ZoneInfo(policy.calendar_spec.timezone)

    def local(value: datetime) -> str:
        return f"{value.astimezone(tz):%d.%m.%Y %H:%M} Uhr"

    description = (
        f"Die Wartungsarbeiten {state.maintenance_id} "
        f"(betroffene Dienste: {', '.join(state.services)}) laufen über den Beginn der "
        f"Bereitschaftszeit am {local(state.business_opens_at)} hinaus; "
        f"angekündigtes Ende: {local(state.end)}. "
        "myconvento ist während der Wartungsarbeiten für die Nutzung gesperrt."
    )
    monitoring = policy.intake.monitoring
    return IncidentReport(
        company=monitoring.company,
        full_name=monitoring.full_name,
        email=policy.contacts.support_lead,
        description=description,
        first_noticed_at=state.overran_at,
        scope=Scope.ALL_WORKSTATIONS,
        reproducible=True,
        channel=Channel.MONITORING,
        request_id=overrun_request_id(state.maintenance_id),
        reported_severity=policy.maintenance.overrun_severity,
        login_impossible=True,
    )
