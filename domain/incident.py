"""The incident as an event-sourced decider.

Two pure functions carry every rule of the SLA's incident process:

* :func:`decide` takes the current state, a command and the current instant and
  returns the events the command causes, or raises a :class:`DomainError`;
* :func:`evolve` applies one event to a state.

:func:`pending_timers` tells the workflow which instant-triggered commands are
outstanding (reaction breach, missed estimate, warnings, pages), so the workflow
only has to sleep until the earliest one and hand the command back to
:func:`decide`.

Nothing here reads a clock or a calendar: every business-time instant arrives
precomputed inside a command (DESIGN §3: calendar arithmetic happens in local
activities, never in workflow code).

Events live in :mod:`domain.events`, commands in :mod:`domain.commands`; both
are re-exported here, the module the rest of the code talks to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from domain import follow_up, reopen
from domain.calendar import BusinessCalendar
from domain.commands import (
    Acknowledge,
    AmendReport,
    BreachReaction,
    BreachResolution,
    ClassifyAsChangeRequest,
    Command,
    DecideResources,
    Escalate,
    ExtendEstimate,
    FollowMaster,
    LinkAsDuplicate,
    LinkDevTicket,
    MasterFacts,
    MissEstimate,
    NoteReply,
    OpenIncident,
    PageOnDuty,
    PostStatusUpdate,
    Reclassify,
    RecomputeDeadlines,
    RecordAlert,
    RecordChangeRequest,
    RecordCustomerMessage,
    RecordDeliveryFailure,
    RecordDevTicketLink,
    RecordDiscussion,
    RecordReestimateOverdue,
    RegisterDuplicate,
    RemindFollowUp,
    Reopen,
    Resolve,
    TimerCommand,
    WarnDeadline,
    _Command,
)
from domain.decider import fold_with
from domain.errors import (
    AlreadyDone,
    InvalidEscalation,
    InvalidEstimate,
    MissingText,
    NotDue,
    NotPublished,
    RecordFull,
    WrongStatus,
    describe_validation_error,
)
from domain.events import (
    RULES,
    STAGE_ORDER,
    Acknowledged,
    AlertNotified,
    ChangeRequestRecorded,
    ClassifiedAsChangeRequest,
    CustomerMessageReceived,
    DeadlineKind,
    DeadlinesRecomputed,
    DeadlineWarned,
    DeliveryFailed,
    DevTicketLinked,
    DiscussionRecorded,
    DuplicateRegistered,
    Escalated,
    EscalatedBy,
    EscalationStage,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    FollowUp,
    FollowUpReminded,
    IncidentReopened,
    IncidentReported,
    IncidentStatus,
    LinkedAsDuplicate,
    OnDutyPaged,
    PageReason,
    ReactionBreached,
    Reclassified,
    ReestimateOverdue,
    ReopenSource,
    ReportAmended,
    ResolutionBreached,
    Resolved,
    ResourcesDecided,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
    stage_rank,
)
from domain.follow_up import FOLLOW_UP_RULES
from domain.report import ChangeRequest, IncidentReport
from domain.sla import Deadlines, Severity

_C = TypeVar("_C", bound=_Command)

REESTIMATE_STATUS_MESSAGE = (
    "Die angekündigte Zeit konnte nicht eingehalten werden. Eine neue Zeitabschätzung folgt."
)
"""What the status page says between a missed estimate and the next one (rules 2)."""

UNCONFIRMED_STATUS_MESSAGE = (
    "Wir prüfen eine gemeldete Störung von myconvento. Weitere Informationen folgen."
)
"""Public text of a report published before an operator described it (rules 3).

A monitoring alert (``publish_unconfirmed``) or an overrun maintenance goes on
the page at once; the reporter's own words are not for the public page."""

RESOLVED_STATUS_MESSAGE = "Die Störung ist behoben."
"""Public resolution text when the operator gave none (rules 3): the customer
summary is written for the reporter, not for every user."""

__all__ = [
    "CHANGE_REQUEST_STATUS_MESSAGE",
    "REESTIMATE_STATUS_MESSAGE",
    "RESOLVED_STATUS_MESSAGE",
    "RULES",
    "STAGE_ORDER",
    "UNCONFIRMED_STATUS_MESSAGE",
    "Acknowledge",
    "Acknowledged",
    "AlertNotified",
    "AmendReport",
    "BreachReaction",
    "BreachResolution",
    "ChangeRequestRecorded",
    "ClassifiedAsChangeRequest",
    "ClassifyAsChangeRequest",
    "Command",
    "CustomerMessageReceived",
    "DeadlineKind",
    "DeadlineWarned",
    "DeadlinesRecomputed",
    "DecideResources",
    "DeliveryFailed",
    "DevTicketLinked",
    "DiscussionRecorded",
    "DuplicateRegistered",
    "Escalate",
    "Escalated",
    "EscalatedBy",
    "EscalationStage",
    "EscalationTrigger",
    "EstimateExtended",
    "EstimateMissed",
    "Event",
    "ExtendEstimate",
    "FollowMaster",
    "FollowUp",
    "FollowUpReminded",
    "IncidentOutcome",
    "IncidentReopened",
    "IncidentReported",
    "IncidentState",
    "IncidentStatus",
    "LinkAsDuplicate",
    "LinkDevTicket",
    "LinkedAsDuplicate",
    "MasterFacts",
    "MissEstimate",
    "NoteReply",
    "OnDutyPaged",
    "OpenIncident",
    "PageOnDuty",
    "PageReason",
    "PostStatusUpdate",
    "ReactionBreached",
    "Reclassified",
    "Reclassify",
    "RecomputeDeadlines",
    "RecordAlert",
    "RecordChangeRequest",
    "RecordCustomerMessage",
    "RecordDeliveryFailure",
    "RecordDevTicketLink",
    "RecordDiscussion",
    "RecordReestimateOverdue",
    "ReestimateOverdue",
    "RegisterDuplicate",
    "RemindFollowUp",
    "Reopen",
    "ReopenSource",
    "ReportAmended",
    "ResolutionBreached",
    "Resolve",
    "Resolved",
    "ResourcesDecided",
    "StatusPublished",
    "StatusResolved",
    "StatusUpdated",
    "TimerCommand",
    "TimerDue",
    "WarnDeadline",
    "change_request_of",
    "change_request_request_id",
    "check_link",
    "decide",
    "evolve",
    "execute",
    "fold",
    "master_facts",
    "outcome",
    "pending_timers",
    "period_states",
    "resolution_communicated_in_time",
    "resolved_within_target",
    "stage_rank",
]


# -- state ---------------------------------------------------------------------


class IncidentState(BaseModel):
    """The folded state of one incident, including every event so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    report: IncidentReport
    received_at: datetime
    status: IncidentStatus = IncidentStatus.NEW
    severity: Severity
    classified: bool = False
    deadlines: dict[Severity, Deadlines]
    estimate: datetime | None = None
    estimate_failed: bool = False
    failed_estimates: int = 0
    escalation_stage: EscalationStage = 0
    all_users: bool = False
    on_status_page: bool = False
    reaction_breached: bool = False
    resolution_breached: bool = False
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_summary: str | None = None
    management_decision: str | None = None
    warned: tuple[DeadlineWarned, ...] = ()
    pages_sent: int = 0
    next_opening_page: datetime | None = None
    next_reminder_at: datetime | None = None
    change_request_id: str | None = None
    dev_tickets: tuple[str, ...] = ()
    master: str | None = None
    duplicates: tuple[str, ...] = ()
    rules: int = 1
    # Index in ``events`` of the ``IncidentReopened`` that began the current
    # period, and its instant (0 and ``None``: the first period, from receipt).
    period_start: int = 0
    clock_started_at: datetime | None = None
    events: tuple[Event, ...] = ()

    @property
    def period_events(self) -> tuple[Event, ...]:
        """The events of the current period (all of them until a reopen).

        Rules that look back (was an extension sent, when was it resolved,
        which follow-up is open) judge the current period only: a reopened
        incident starts afresh, and the earlier periods keep their figures.
        """
        return self.events[self.period_start :]

    @property
    def clock_start(self) -> datetime:
        """When the current period's clock started: receipt, or the last reopen."""
        return self.clock_started_at or self.received_at

    @property
    def period(self) -> int:
        """The number of the current period: 1, then 2 after the first reopen, and so on."""
        return 1 + sum(isinstance(e, IncidentReopened) for e in self.events)

    @property
    def current_deadlines(self) -> Deadlines:
        """Deadlines under the current severity."""
        return self.deadlines[self.severity]

    @property
    def reaction_due(self) -> datetime:
        """Acknowledgement deadline under the current severity."""
        return self.current_deadlines.reaction_due

    @property
    def resolution_due(self) -> datetime:
        """SLA resolution deadline under the current severity."""
        return self.current_deadlines.resolution_due

    @property
    def is_open(self) -> bool:
        """Whether the incident is not yet resolved."""
        return self.status is not IncidentStatus.RESOLVED

    @property
    def breached(self) -> bool:
        """Whether any SLA deadline was breached."""
        return self.reaction_breached or self.resolution_breached

    def was_warned(self, kind: DeadlineKind, due: datetime) -> bool:
        """Whether the warning for this deadline (at this instant) was sent."""
        return any(w.kind is kind and w.due == due for w in self.warned)

    @property
    def classification(self) -> ClassifiedAsChangeRequest | None:
        """The event that classified the report as a change request, if one did."""
        return next(
            (e for e in self.period_events if isinstance(e, ClassifiedAsChangeRequest)), None
        )


# -- decide --------------------------------------------------------------------


def decide(state: IncidentState | None, command: Command, now: datetime) -> list[Event]:
    """Events caused by ``command`` at instant ``now``.

    Args:
        state: Current state; ``None`` before the incident is opened.
        command: What an operator, timer or intake asks for.
        now: The current instant (aware).

    Returns:
        The events to append, oldest first (possibly empty: nothing to do).

    Raises:
        DomainError: The rules refuse the command; the message says why.
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if isinstance(command, OpenIncident):
        if state is not None:
            raise AlreadyDone(f"incident {state.ticket_id} is already open")
        return _open(command, now)
    if state is None:
        raise WrongStatus("no such incident: it was never opened")
    if isinstance(command, RecordDeliveryFailure):
        # Also after resolution: the resolution confirmation itself may bounce.
        return [
            DeliveryFailed(
                at=now, message_kind=command.message_kind, to=command.to, error=command.error
            )
        ]
    # Both record what an activity answered; the incident may be closed by then
    # (classification closes it at once; a resolve may overtake a link).
    if isinstance(command, RecordChangeRequest):
        return _record_change_request(state, command, now)
    if isinstance(command, RecordDevTicketLink):
        return _record_dev_ticket_link(state, command, now)
    if isinstance(command, FollowMaster) and not state.is_open:
        return []  # resolved by hand (or with the master) before the master's news came
    # The only commands for a resolved incident: both start a new run of it.
    if isinstance(command, Reopen):
        return _reopen(state, command, now)
    if isinstance(command, NoteReply):
        return _note_reply(state, command, now)
    if not state.is_open:
        raise WrongStatus(
            f"incident {state.ticket_id} is resolved; nothing can change after resolution"
        )
    match command:
        case Acknowledge():
            return _caught_up(state, now, _acknowledge, command)
        case Reclassify():
            return _caught_up(state, now, _reclassify, command)
        case ExtendEstimate():
            return _caught_up(state, now, _extend, command)
        case Escalate():
            return _caught_up(state, now, _escalate, command)
        case DecideResources():
            return _caught_up(state, now, _decide_resources, command)
        case PostStatusUpdate():
            return _caught_up(state, now, _status_update, command)
        case Resolve():
            return _caught_up(state, now, _resolve, command)
        case ClassifyAsChangeRequest():
            return _caught_up(state, now, _classify, command)
        case RecomputeDeadlines():
            return _caught_up(state, now, _recompute, command)
        case AmendReport():
            return _amend(state, command, now)
        case RecordCustomerMessage():
            return _customer_message(state, command, now)
        case RecordAlert():
            return [AlertNotified(at=now, status=command.status, text=command.text)]
        case RecordDiscussion():
            return _caught_up(state, now, follow_up.record_discussion, command)
        case LinkAsDuplicate():
            return _link_as_duplicate(state, command, now)
        case RegisterDuplicate():
            return _register_duplicate(state, command, now)
        case FollowMaster():
            return _follow_master(state, command.facts, now)
        case RecordReestimateOverdue():
            return follow_up.record_overdue(state, command, now)
        case RemindFollowUp():
            return follow_up.remind(state, command, now)
        case MissEstimate():
            return _miss_estimate(state, command, now)
        case BreachReaction():
            return _breach_reaction(state, now)
        case BreachResolution():
            return _breach_resolution(state, now)
        case WarnDeadline():
            return _warn(state, command, now)
        case PageOnDuty():
            return _page(state, command, now)
    raise TypeError(f"unknown command {command!r}")  # pragma: no cover - exhaustive above


def _caught_up(
    state: IncidentState,
    now: datetime,
    handler: Callable[[IncidentState, _C, datetime], list[Event]],
    command: _C,
) -> list[Event]:
    """Run ``handler`` on ``state`` after recording deadlines that already passed.

    A timer and an operator command can race: an acknowledgement arriving after
    the reaction deadline, before its timer fired, still is a breach. A
    deadline instant itself already counts as passed, as it does for the
    timers (``now >= due``), so the outcome never depends on arrival order. Recording
    the overdue facts first (same ``now``) makes the result independent of
    which one the workflow saw first. Warnings and pages are not facts but
    notifications, so they are not caught up.
    """
    events: list[Event] = []
    for timer in pending_timers(state):
        if timer.at <= now and _is_fact(timer.command):
            overdue = decide(state, timer.command, now)
            state = fold(state, overdue)
            events.extend(overdue)
    return events + handler(state, command, now)


def _is_fact(command: TimerCommand) -> bool:
    """Whether a due timer records a fact (caught up) rather than sends a reminder."""
    if isinstance(command, RemindFollowUp):
        return False
    return isinstance(
        command, BreachReaction | MissEstimate | BreachResolution | RecordReestimateOverdue
    )


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise MissingText(f"{what} is required")
    return text


def _open(command: OpenIncident, now: datetime) -> list[Event]:
    severity = command.report.suggested_severity()
    missing = [s.value for s in Severity if s not in command.deadlines]
    if missing:
        raise ValueError(f"deadlines missing for severities: {', '.join(missing)}")
    # A monitoring alert is public at once only when the policy trusts the
    # monitoring system that far; otherwise an operator confirms (--all-users).
    all_users = command.report.all_users_affected and command.publish_unconfirmed
    events: list[Event] = [
        IncidentReported(
            at=now,
            ticket_id=command.ticket_id,
            report=command.report,
            received_at=command.received_at,
            severity=severity,
            deadlines=command.deadlines,
            all_users=all_users,
            next_opening_page=(
                command.next_opening_page if severity is Severity.CRITICAL else None
            ),
            rules=command.rules,
        )
    ]
    if all_users:
        message = UNCONFIRMED_STATUS_MESSAGE if command.rules >= FOLLOW_UP_RULES else None
        events.append(StatusPublished(at=now, message=message, expected_resolution=None))
    return events


def _amend(state: IncidentState, command: AmendReport, now: datetime) -> list[Event]:
    report = command.changes.applied_to(state.report)
    if report == state.report:
        raise AlreadyDone(f"the report of {state.ticket_id} already says so; nothing to change")
    return [ReportAmended(at=now, changes=command.changes, report=report, source=command.source)]


def _customer_message(
    state: IncidentState, command: RecordCustomerMessage, now: datetime
) -> list[Event]:
    # A mail fetched twice (a crash before it was flagged) is recorded once.
    if any(
        isinstance(e, CustomerMessageReceived) and e.message_id == command.message_id
        for e in state.events
    ):
        return []
    return [
        CustomerMessageReceived(
            at=now,
            message_id=command.message_id,
            sender=command.sender,
            subject=command.subject,
            text=command.text,
            attachments=command.attachments,
        )
    ]


def _reopen(state: IncidentState, command: Reopen, now: datetime) -> list[Event]:
    why = reopen.refusal(state, now, command.window_end, erased=command.erased)
    if why is not None:
        raise WrongStatus(why)
    missing = [s.value for s in Severity if s not in command.deadlines]
    if missing:
        raise ValueError(f"deadlines missing for severities: {', '.join(missing)}")
    return [
        IncidentReopened(
            at=now,
            reason=_text(command.reason, "a reason"),
            by=command.by,
            source=command.source,
            severity=state.severity,
            deadlines=command.deadlines,
            next_opening_page=command.next_opening_page,
        )
    ]


def _note_reply(state: IncidentState, command: NoteReply, now: datetime) -> list[Event]:
    if state.is_open:
        raise WrongStatus(
            f"incident {state.ticket_id} is open; its customer messages are recorded as they come"
        )
    return _customer_message(state, command.as_message(), now)


def _acknowledge(state: IncidentState, command: Acknowledge, now: datetime) -> list[Event]:
    if state.status is not IncidentStatus.NEW:
        raise WrongStatus(
            f"incident {state.ticket_id} is already acknowledged; "
            "use reclassify to change the severity or extend to change the estimate"
        )
    if command.estimate <= now:
        raise InvalidEstimate(f"the estimate {command.estimate.isoformat()} is not in the future")
    estimate_reason = _beyond_deadline_reason(
        state,
        command.estimate,
        command.estimate_reason,
        state.deadlines[command.severity].resolution_due,
    )
    events: list[Event] = []
    if command.severity is not state.severity:
        deadlines = state.deadlines[command.severity]
        events.append(
            Reclassified(
                at=now,
                previous=state.severity,
                severity=command.severity,
                # German: event reasons are quoted in mails (the management timeline).
                reason="bei der Bestätigung klassifiziert",
                reaction_due=deadlines.reaction_due,
                resolution_due=deadlines.resolution_due,
                at_acknowledgement=True,
            )
        )
    # The reaction clock that ran until now is the one that judges this
    # acknowledgement (the suggested severity's); an overdue one was caught up
    # as a breach before this handler ran.
    events.append(
        Acknowledged(
            at=now,
            severity=command.severity,
            estimate=command.estimate,
            all_users=command.all_users or state.all_users,
            on_time=not state.reaction_breached,
            estimate_reason=estimate_reason,
        )
    )
    message = (command.status_message or "").strip() or None
    if (
        command.all_users
        and not state.on_status_page
        and message is None
        and state.rules >= FOLLOW_UP_RULES
    ):
        raise MissingText(
            "publishing on the status page needs a public description (status_message, "
            "--message): what every user notices, without the reporter's details"
        )
    if state.on_status_page:
        events.append(StatusUpdated(at=now, message=message, expected_resolution=command.estimate))
    elif command.all_users:
        events.append(
            StatusPublished(at=now, message=message, expected_resolution=command.estimate)
        )
    return events


def _reclassify(state: IncidentState, command: Reclassify, now: datetime) -> list[Event]:
    reason = _text(command.reason, "a reason for the reclassification")
    if command.severity is state.severity:
        raise AlreadyDone(f"incident {state.ticket_id} is already {state.severity.value}")
    deadlines = state.deadlines[command.severity]
    estimate, estimate_reason = command.estimate, None
    live = state.estimate if not state.estimate_failed else None
    if estimate is not None:
        if state.status is not IncidentStatus.ACKNOWLEDGED:
            raise WrongStatus(
                f"incident {state.ticket_id} is not acknowledged yet: its first estimate "
                "comes with the acknowledgement"
            )
        if estimate <= now:
            raise InvalidEstimate(f"the new estimate {estimate.isoformat()} is not in the future")
        estimate_reason = _beyond_deadline_reason(
            state, estimate, command.estimate_reason, deadlines.resolution_due
        )
    elif state.rules >= FOLLOW_UP_RULES and live is not None and deadlines.resolution_due < live:
        raise InvalidEstimate(
            f"as {command.severity.value}, incident {state.ticket_id} is due for resolution "
            f"by {deadlines.resolution_due.isoformat()}, before the estimate the customer "
            f"holds ({live.isoformat()}): give a new estimate with the reclassification"
        )
    return [
        Reclassified(
            at=now,
            previous=state.severity,
            severity=command.severity,
            reason=reason,
            reaction_due=deadlines.reaction_due,
            resolution_due=deadlines.resolution_due,
            estimate=estimate,
            estimate_reason=estimate_reason,
        )
    ]


def _beyond_deadline_reason(
    state: IncidentState, estimate: datetime, reason: str | None, resolution_due: datetime
) -> str | None:
    """The reason an estimate after the resolution deadline needs (rules 3), else ``None``.

    The customer holds the SLA's resolution time; an estimate beyond it breaks
    that promise in advance, so the acknowledgement or reclassification mail
    must say why.

    Raises:
        InvalidEstimate: The estimate lies after the deadline and no reason is given.
    """
    if state.rules < FOLLOW_UP_RULES or estimate <= resolution_due:
        return None
    text = (reason or "").strip()
    if not text:
        raise InvalidEstimate(
            f"the estimate {estimate.isoformat()} lies after the resolution deadline "
            f"{resolution_due.isoformat()}: give a reason (the customer is told why)"
        )
    return text


def _estimate_failure(
    state: IncidentState, trigger: EscalationTrigger, now: datetime
) -> Event | None:
    """The escalation caused by the current estimate failing, if it raises the stage.

    Counting rule (DESIGN §2): each communicated estimate fails at most once;
    the first failure means stage 1, the second stage 2; stages only go up.
    """
    if state.master is not None:
        return None  # a duplicate's escalation is its master's (one outage, one escalation)
    failures = state.failed_estimates + 1
    target: EscalationStage = 1 if failures == 1 else 2
    if stage_rank(target) <= stage_rank(state.escalation_stage):
        return None
    reason = (
        "die mitgeteilte Störungsbehebungszeit ist ohne Behebung verstrichen"
        if trigger is EscalationTrigger.ESTIMATE_MISSED
        else "die mitgeteilte Störungsbehebungszeit wurde vor ihrem Ablauf verlängert"
    )
    return Escalated(
        at=now, stage=target, previous=state.escalation_stage, trigger=trigger, reason=reason
    )


def _extend(state: IncidentState, command: ExtendEstimate, now: datetime) -> list[Event]:
    if state.status is not IncidentStatus.ACKNOWLEDGED or state.estimate is None:
        raise WrongStatus(f"incident {state.ticket_id} has no estimate yet; acknowledge it first")
    reason = _text(command.reason, "a reason for the extension")
    if command.estimate <= now:
        raise InvalidEstimate(
            f"the new estimate {command.estimate.isoformat()} is not in the future"
        )
    if command.estimate <= state.estimate:
        raise InvalidEstimate(
            f"the new estimate {command.estimate.isoformat()} is not later than the current "
            f"one ({state.estimate.isoformat()})"
        )
    events: list[Event] = []
    # Replacing a live estimate counts as its failure (stage 1/2); an estimate
    # that already failed is answered by this extension, which raises nothing.
    replaced_live = not state.estimate_failed
    if replaced_live:
        escalation = _estimate_failure(state, EscalationTrigger.ESTIMATE_REPLACED, now)
        if escalation is not None:
            events.append(escalation)
    events.append(
        EstimateExtended(
            at=now,
            previous=state.estimate,
            estimate=command.estimate,
            reason=reason,
            replaced_live=replaced_live,
        )
    )
    if state.on_status_page:
        events.append(StatusUpdated(at=now, message=None, expected_resolution=command.estimate))
    return events


def _escalate(state: IncidentState, command: Escalate, now: datetime) -> list[Event]:
    reason = _text(command.reason, "a reason for the escalation")
    if stage_rank(command.stage) <= stage_rank(state.escalation_stage):
        raise InvalidEscalation(
            f"incident {state.ticket_id} is already at escalation stage "
            f"{state.escalation_stage}; stages only go up"
        )
    if command.stage == "extended" and state.escalation_stage == 0:
        raise InvalidEscalation(
            "the extended escalation follows an escalation that found no solution; "
            f"incident {state.ticket_id} has not been escalated yet"
        )
    return [
        Escalated(
            at=now,
            stage=command.stage,
            previous=state.escalation_stage,
            trigger=EscalationTrigger.OPERATOR,
            reason=reason,
            by=command.by,
        )
    ]


def _decide_resources(state: IncidentState, command: DecideResources, now: datetime) -> list[Event]:
    decision = _text(command.decision, "management's decision")
    if stage_rank(state.escalation_stage) < stage_rank(3):
        raise InvalidEscalation(
            f"incident {state.ticket_id} was not escalated to management (stage 3)"
        )
    return [ResourcesDecided(at=now, decision=decision)]


def _status_update(state: IncidentState, command: PostStatusUpdate, now: datetime) -> list[Event]:
    message = _text(command.message, "a status message")
    if state.on_status_page:
        return [StatusUpdated(at=now, message=message, expected_resolution=state.estimate)]
    if not command.all_users:
        raise NotPublished(
            f"incident {state.ticket_id} is not on the status page (only disturbances that "
            "affect all users are); post with all_users to publish it"
        )
    return [StatusPublished(at=now, message=message, expected_resolution=state.estimate)]


def _resolve(state: IncidentState, command: Resolve, now: datetime) -> list[Event]:
    summary = _text(command.summary, "a resolution summary")
    # Overdue breaches were caught up before this runs, so the flags are final.
    events: list[Event] = [
        Resolved(
            at=now,
            summary=summary,
            reaction_met=not state.reaction_breached,
            resolution_met=not state.resolution_breached,
        )
    ]
    if state.on_status_page:
        public = (command.public_message or "").strip()
        if state.rules < FOLLOW_UP_RULES:
            public = public or summary  # as recorded before the texts were separate
        events.append(StatusResolved(at=now, message=public or RESOLVED_STATUS_MESSAGE))
    return events


# -- one outage, many reports ----------------------------------------------------

DUPLICATE_ESTIMATE_REASON = (
    "Ihre Meldung betrifft eine bereits bekannte Störung, an deren Behebung wir arbeiten; "
    "die Zeitabschätzung gilt für alle Meldungen dazu."
)
"""Why a duplicate's estimate is what it is, when its master gave no reason (German:
the duplicate's reporter reads it)."""

DUPLICATE_RESOLUTION_SUMMARY = "Die gemeldete Störung wurde behoben."
"""Resolution summary of a duplicate whose master was resolved without one."""


def master_facts(state: IncidentState) -> MasterFacts:
    """What the duplicates of ``state`` follow: acknowledgement, estimate, resolution."""
    resolved = next((e for e in reversed(state.period_events) if isinstance(e, Resolved)), None)
    reason: str | None = None
    for event in reversed(state.period_events):
        if isinstance(event, EstimateExtended):
            reason = event.reason
            break
        if isinstance(event, Acknowledged | Reclassified) and event.estimate is not None:
            reason = event.estimate_reason
            break
    return MasterFacts(
        master_ticket_id=state.ticket_id,
        acknowledged=state.acknowledged_at is not None,
        estimate=state.estimate,
        estimate_failed=state.estimate_failed,
        reason=reason,
        resolved=resolved is not None,
        summary=resolved.summary if resolved is not None else None,
    )


def _link_as_duplicate(
    state: IncidentState, command: LinkAsDuplicate, now: datetime
) -> list[Event]:
    master = command.master_ticket_id
    if master == state.ticket_id:
        raise WrongStatus(f"{state.ticket_id} cannot be a duplicate of itself")
    if state.master == master:
        return []  # linked before (a retried command)
    if state.master is not None:
        raise WrongStatus(f"{state.ticket_id} is already a duplicate of {state.master}")
    if state.duplicates:
        raise WrongStatus(
            f"{state.ticket_id} is the master of {', '.join(state.duplicates)}: "
            "a master cannot become a duplicate"
        )
    events: list[Event] = [
        LinkedAsDuplicate(at=now, master_ticket_id=master, merged_status=state.on_status_page)
    ]
    if command.facts is not None:
        if command.facts.master_ticket_id != master:
            raise WrongStatus("the facts sent with the link are not the master's")
        events += _follow_master(fold(state, events), command.facts, now)
    return events


def _register_duplicate(
    state: IncidentState, command: RegisterDuplicate, now: datetime
) -> list[Event]:
    duplicate = command.ticket_id
    if duplicate == state.ticket_id:
        raise WrongStatus(f"{state.ticket_id} cannot be a duplicate of itself")
    if state.master is not None:
        raise WrongStatus(
            f"{state.ticket_id} is itself a duplicate of {state.master}: link to {state.master}"
        )
    if duplicate in state.duplicates:
        return []
    events: list[Event] = [DuplicateRegistered(at=now, ticket_id=duplicate)]
    if command.on_status_page and not state.on_status_page:
        # One entry per outage: the duplicate's moves to its master.
        message = (command.public_message or "").strip() or UNCONFIRMED_STATUS_MESSAGE
        live = state.estimate if not state.estimate_failed else None
        events.append(StatusPublished(at=now, message=message, expected_resolution=live))
    return events


def _follow_master(state: IncidentState, facts: MasterFacts, now: datetime) -> list[Event]:
    """The duplicate's answer to its master's news: the same acknowledgement, estimate, end.

    Each step goes through the duplicate's own rules (so its reporter gets the
    same mails a master's reporter gets, and its own clock judges it); what is
    already the same, or not in the future any more, is left alone.
    """
    if state.master != facts.master_ticket_id:
        raise WrongStatus(
            f"{state.ticket_id} does not follow {facts.master_ticket_id}"
            + (f" (its master is {state.master})" if state.master else "")
        )
    if facts.resolved:
        summary = (facts.summary or "").strip() or DUPLICATE_RESOLUTION_SUMMARY
        return _caught_up(state, now, _resolve, Resolve(summary=summary))
    estimate = facts.estimate
    if not facts.acknowledged or estimate is None or facts.estimate_failed or estimate <= now:
        return []  # nothing to follow yet: the next estimate comes with the master's next news
    reason = (facts.reason or "").strip() or DUPLICATE_ESTIMATE_REASON
    if state.status is IncidentStatus.NEW:
        needs_reason = estimate > state.deadlines[state.severity].resolution_due
        return _caught_up(
            state,
            now,
            _acknowledge,
            Acknowledge(
                severity=state.severity,
                estimate=estimate,
                estimate_reason=reason if needs_reason else None,
            ),
        )
    if state.estimate is not None and estimate <= state.estimate:
        return []  # the same, or its own later one still stands: no earlier promise is made
    return _caught_up(state, now, _extend, ExtendEstimate(estimate=estimate, reason=reason))


CHANGE_REQUEST_STATUS_MESSAGE = "Keine Störung: Die Meldung wurde als Änderungswunsch erfasst."
"""Public status-page text when a published report turns out to be a change request."""

_DESCRIPTION_LIMIT = 20_000  # ChangeRequest.description


def change_request_request_id(ticket_id: str) -> str:
    """Intake request ID of the change request made from incident ``ticket_id``.

    Derived from the ticket alone, so a retried start returns the same change request.
    """
    return f"incident:{ticket_id}"


def change_request_of(state: IncidentState, event: ClassifiedAsChangeRequest) -> ChangeRequest:
    """The change request built from the report of a classified incident.

    The description keeps the report's text and names the incident and the
    reason (the report's text is shortened if both would not fit).

    Raises:
        MissingText: The result is not a valid change request (message names the fields).
    """
    report = state.report
    reference = f"\n\nÜbernommen aus der Störungsmeldung {state.ticket_id}: {event.reason}"
    description = report.description[: max(0, _DESCRIPTION_LIMIT - len(reference))] + reference
    try:
        return ChangeRequest(
            company=report.company,
            full_name=report.full_name,
            email=report.email,
            phone=report.phone,
            title=event.title,
            description=description,
            attachments=report.attachments,
            request_id=event.change_request_request_id,
        )
    except ValidationError as error:
        raise MissingText(
            f"cannot make a change request of {state.ticket_id}: {describe_validation_error(error)}"
        ) from None


def _classify(state: IncidentState, command: ClassifyAsChangeRequest, now: datetime) -> list[Event]:
    # Also after acknowledgement (issue 16): work on a "disturbance" may show it
    # is a missing feature. The reason is required either way and told.
    if state.duplicates:
        raise WrongStatus(
            f"{state.ticket_id} has duplicates ({', '.join(state.duplicates)}): several "
            "reports of it make it a disturbance, not a change request"
        )
    title = _text(command.title, "a title for the change request")
    reason = _text(command.reason, "a reason why this is a change request")
    # Overdue breaches were caught up before this runs: the reaction the
    # classification gives is judged like an acknowledgement.
    classified = ClassifiedAsChangeRequest(
        at=now,
        title=title,
        reason=reason,
        summary=f"Keine Störung: als Änderungswunsch „{title}“ übernommen. {reason}",
        change_request_request_id=change_request_request_id(state.ticket_id),
        reaction_met=not state.reaction_breached,
        resolution_met=not state.resolution_breached,
    )
    change_request_of(state, classified)  # refuse now what intake would refuse later
    events: list[Event] = [classified]
    if state.on_status_page:
        events.append(StatusResolved(at=now, message=CHANGE_REQUEST_STATUS_MESSAGE))
    return events


def _record_change_request(
    state: IncidentState, command: RecordChangeRequest, now: datetime
) -> list[Event]:
    classified = state.classification
    if classified is None:
        raise WrongStatus(f"incident {state.ticket_id} was not classified as a change request")
    if state.change_request_id == command.change_request_id:
        return []  # recorded before (a repeated answer)
    if state.change_request_id is not None:
        raise AlreadyDone(
            f"incident {state.ticket_id} is already change request {state.change_request_id}"
        )
    return [
        ChangeRequestRecorded(
            at=now,
            change_request_id=command.change_request_id,
            title=classified.title,
            reason=classified.reason,
        )
    ]


RECORD_BUDGET = 1_000_000
"""Bytes (JSON) an incident's state may grow to through operator commands.

The state travels whole in the continue-as-new input, and the ``view`` query
returns it with every event: both are single payloads, which Temporal refuses
above 2 MB. Commands are bounded (5 000 characters of text), and this bound
on their number keeps the state at half the limit, whatever operators send
(`tests/domain/test_payload_budget.py`).
"""


def check_room(state: IncidentState, command: Command) -> None:
    """Refuse a command that would grow the state past :data:`RECORD_BUDGET`.

    For the workflow's update validators only: a refusal there is not
    recorded, and replaying accepted commands never runs this check.

    Raises:
        RecordFull: The state plus the command exceed the budget.
    """
    size = len(state.model_dump_json()) + len(command.model_dump_json())
    if size > RECORD_BUDGET:
        raise RecordFull(
            f"incident {state.ticket_id} holds {size // 1000} kB of {RECORD_BUDGET // 1000} kB "
            "it may grow to: write less here, or resolve it and open a follow-up incident"
        )


def check_link(state: IncidentState, command: LinkDevTicket) -> None:
    """Whether the incident may be linked to a development ticket now.

    While the incident is open only: once resolved, its workflow completes and
    takes no more updates (the tracker can still link it, see ``LinkBugWorkflow``).

    Raises:
        DomainError: The incident is resolved, or a new ticket has no title.
    """
    if not state.is_open:
        raise WrongStatus(
            f"incident {state.ticket_id} is resolved; nothing can change after resolution"
        )
    if command.dev_ticket_id is None:
        _text(command.title, "a title for the bug ticket")


def _record_dev_ticket_link(
    state: IncidentState, command: RecordDevTicketLink, now: datetime
) -> list[Event]:
    if command.dev_ticket_id in state.dev_tickets:
        return []  # linking is idempotent: the same ticket again records nothing
    return [DevTicketLinked(at=now, dev_ticket_id=command.dev_ticket_id, title=command.title)]


def _recompute(state: IncidentState, command: RecomputeDeadlines, now: datetime) -> list[Event]:
    """New deadlines from a changed calendar; nothing when they did not change.

    Runs after ``_caught_up``: a deadline that passed under the old calendar
    is recorded as breached first, and stays so (history does not change).
    The timers then follow the new deadlines.
    """
    missing = [s.value for s in Severity if s not in command.deadlines]
    if missing:
        raise ValueError(f"deadlines missing for severities: {', '.join(missing)}")
    if command.deadlines == state.deadlines:
        return []
    current = command.deadlines[state.severity]
    return [
        DeadlinesRecomputed(
            at=now,
            deadlines=command.deadlines,
            reaction_due=current.reaction_due,
            resolution_due=current.resolution_due,
            windows=command.windows,
        )
    ]


def _require_due(due: datetime | None, now: datetime, what: str) -> None:
    if due is None or now < due:
        raise NotDue(f"{what} is not due yet")


def _miss_estimate(state: IncidentState, command: MissEstimate, now: datetime) -> list[Event]:
    if state.status is not IncidentStatus.ACKNOWLEDGED or state.estimate is None:
        raise WrongStatus("there is no communicated estimate to miss")
    if state.estimate_failed:
        raise AlreadyDone("this estimate has already failed")
    _require_due(state.estimate, now, "the estimate")
    follow_up = state.rules >= 2
    reestimate_due = command.reestimate_due if state.rules >= FOLLOW_UP_RULES else None
    if reestimate_due is not None and reestimate_due < now:
        raise NotDue("the new estimate cannot be due before the miss")
    events: list[Event] = [
        EstimateMissed(
            at=now, estimate=state.estimate, followed_up=follow_up, reestimate_due=reestimate_due
        )
    ]
    escalation = _estimate_failure(state, EscalationTrigger.ESTIMATE_MISSED, now)
    if escalation is not None:
        events.append(escalation)
    if follow_up and state.on_status_page:
        # Never a past "voraussichtlich behoben" on the public page.
        events.append(
            StatusUpdated(
                at=now,
                message=REESTIMATE_STATUS_MESSAGE,
                expected_resolution=None,
                estimate_withdrawn=True,
            )
        )
    return events


def _breach_reaction(state: IncidentState, now: datetime) -> list[Event]:
    if state.status is not IncidentStatus.NEW:
        raise WrongStatus("the incident was acknowledged; the reaction deadline cannot pass")
    if state.reaction_breached:
        raise AlreadyDone("the reaction breach is already recorded")
    _require_due(state.reaction_due, now, "the reaction deadline")
    return [ReactionBreached(at=now, due=state.reaction_due)]


def _breach_resolution(state: IncidentState, now: datetime) -> list[Event]:
    if state.resolution_breached:
        raise AlreadyDone("the resolution breach is already recorded")
    _require_due(state.resolution_due, now, "the resolution deadline")
    informed = _extended_beyond(state, state.resolution_due)
    return [ResolutionBreached(at=now, due=state.resolution_due, customer_informed=informed)]


def _extended_beyond(state: IncidentState, due: datetime) -> bool:
    """Whether a reasoned new time after ``due`` was sent by ``due``.

    An extension always carries a reason; an acknowledgement or a
    reclassification does when its estimate lies after the deadline (rules 3).
    """
    for e in state.period_events:
        if e.at > due:
            break
        if isinstance(e, EstimateExtended) and e.estimate > due:
            return True
        if (
            isinstance(e, Acknowledged | Reclassified)
            and e.estimate_reason
            and e.estimate is not None
            and e.estimate > due
        ):
            return True
    return False


def resolution_communicated_in_time(state: IncidentState) -> bool | None:
    """Whether the customer got the SLA's resolution message in time.

    The SLA's message table: by the resolution deadline, either the resolution
    confirmation or a reasoned extension with a new time. This is the
    contractual obligation, beside the KPI (resolved by the deadline): a vendor
    that extends in time, with a reason, keeps its word even when the fix takes
    longer.

    Returns:
        ``True`` or ``False`` once decided; ``None`` while the deadline has not
        passed and the incident is open.
    """
    due = state.resolution_due
    closed = next(
        (e for e in state.period_events if isinstance(e, Resolved | ClassifiedAsChangeRequest)),
        None,
    )
    if closed is not None and closed.at <= due:
        return True
    if _extended_beyond(state, due):
        return True
    if closed is not None or state.resolution_breached:
        return False
    return None


def resolved_within_target(state: IncidentState) -> bool | None:
    """The KPI beside the obligation: resolved by the resolution deadline.

    Returns:
        ``True``/``False`` once decided (resolved, or the deadline passed
        while open); ``None`` while open within the deadline.
    """
    if state.resolved_at is not None:
        return state.resolved_at <= state.resolution_due and not state.resolution_breached
    return False if state.resolution_breached else None


def _warn(state: IncidentState, command: WarnDeadline, now: datetime) -> list[Event]:
    if command.deadline is DeadlineKind.REACTION:
        if state.status is not IncidentStatus.NEW or state.reaction_breached:
            raise WrongStatus("no reaction deadline is pending")
        due, warning = state.reaction_due, state.current_deadlines.reaction_warning
    else:
        if state.resolution_breached:
            raise WrongStatus("the resolution deadline has already passed")
        due, warning = state.resolution_due, state.current_deadlines.resolution_warning
    if state.was_warned(command.deadline, due):
        raise AlreadyDone(f"the {command.deadline.value} warning was already sent")
    _require_due(warning, now, f"the {command.deadline.value} warning")
    return [DeadlineWarned(at=now, kind=command.deadline, due=due)]


def _page(state: IncidentState, command: PageOnDuty, now: datetime) -> list[Event]:
    if state.severity is not Severity.CRITICAL:
        raise WrongStatus("only critical incidents page on-duty")
    if command.reason is PageReason.RECEIVED:
        if state.pages_sent:
            raise AlreadyDone("on-duty was already paged")
    else:
        if state.status is not IncidentStatus.NEW:
            raise WrongStatus("the incident was acknowledged; no more pages")
        due = (
            state.next_opening_page
            if command.reason is PageReason.NEXT_OPENING
            else state.next_reminder_at
        )
        _require_due(due, now, f"the {command.reason.value} page")
    next_reminder = command.next_reminder_at if state.status is IncidentStatus.NEW else None
    if next_reminder is not None and next_reminder <= now:
        raise NotDue("the next reminder must lie in the future")
    return [OnDutyPaged(at=now, reason=command.reason, next_reminder_at=next_reminder)]


# -- evolve --------------------------------------------------------------------


def evolve(state: IncidentState | None, event: Event) -> IncidentState:
    """Apply one event; returns the new state (the old one is unchanged).

    Raises:
        ValueError: A first event that is not ``IncidentReported``.
    """
    if state is None:
        if not isinstance(event, IncidentReported):
            raise ValueError(f"an incident starts with 'reported', not {event.type!r}")
        return IncidentState(
            ticket_id=event.ticket_id,
            report=event.report,
            received_at=event.received_at,
            severity=event.severity,
            deadlines=event.deadlines,
            all_users=event.all_users,
            next_opening_page=event.next_opening_page,
            rules=event.rules,
            events=(event,),
        )
    changes: dict[str, object] = {"events": (*state.events, event)}
    match event:
        case Acknowledged():
            changes |= {
                "status": IncidentStatus.ACKNOWLEDGED,
                "severity": event.severity,
                "classified": True,
                "estimate": event.estimate,
                "estimate_failed": False,
                "all_users": state.all_users or event.all_users,
                "acknowledged_at": event.at,
                "next_reminder_at": None,
            }
        case Reclassified():
            changes |= {"severity": event.severity, "classified": True}
            if event.estimate is not None:
                changes |= {"estimate": event.estimate, "estimate_failed": False}
        case EstimateExtended():
            changes |= {"estimate": event.estimate, "estimate_failed": False}
            if event.replaced_live:
                changes["failed_estimates"] = state.failed_estimates + 1
        case EstimateMissed():
            changes |= {"estimate_failed": True, "failed_estimates": state.failed_estimates + 1}
        case Escalated():
            # Stages only go up, even if a stale event says otherwise.
            if stage_rank(event.stage) > stage_rank(state.escalation_stage):
                changes["escalation_stage"] = event.stage
        case ResourcesDecided():
            changes["management_decision"] = event.decision
        case DeadlineWarned():
            changes["warned"] = (*state.warned, event)
        case ReactionBreached():
            changes["reaction_breached"] = True
        case ResolutionBreached():
            changes["resolution_breached"] = True
        case OnDutyPaged():
            changes |= {
                "pages_sent": state.pages_sent + 1,
                "next_reminder_at": event.next_reminder_at,
            }
            if event.reason is PageReason.NEXT_OPENING:
                changes["next_opening_page"] = None
        case StatusPublished():
            changes |= {"on_status_page": True, "all_users": True}
        case DeadlinesRecomputed():
            changes["deadlines"] = event.deadlines
        case Resolved() | ClassifiedAsChangeRequest():
            changes |= {
                "status": IncidentStatus.RESOLVED,
                "resolved_at": event.at,
                "resolution_summary": event.summary,
                "next_reminder_at": None,
                "next_opening_page": None,
            }
        case ChangeRequestRecorded():
            changes["change_request_id"] = event.change_request_id
        case DevTicketLinked():
            changes["dev_tickets"] = (*state.dev_tickets, event.dev_ticket_id)
        case LinkedAsDuplicate():
            changes["master"] = event.master_ticket_id
            if event.merged_status:
                changes["on_status_page"] = False
        case DuplicateRegistered():
            changes["duplicates"] = (*state.duplicates, event.ticket_id)
        case IncidentReopened():
            # A new period: open again under the incident's severity, with the
            # clock of the reopen instant; what the earlier periods recorded
            # stays in ``events`` (and in their figures), nothing of it carries
            # on into the new period's deadlines, warnings, breaches or stages.
            changes |= {
                "status": IncidentStatus.NEW,
                "deadlines": event.deadlines,
                "estimate": None,
                "estimate_failed": False,
                "failed_estimates": 0,
                "escalation_stage": 0,
                "all_users": False,
                "on_status_page": False,
                "reaction_breached": False,
                "resolution_breached": False,
                "acknowledged_at": None,
                "resolved_at": None,
                "resolution_summary": None,
                "management_decision": None,
                "warned": (),
                "pages_sent": 0,
                "next_opening_page": event.next_opening_page,
                "next_reminder_at": None,
                # Followed no master and tells no duplicates any more: those
                # were closed with the first period.
                "master": None,
                "duplicates": (),
                "period_start": len(state.events),
                "clock_started_at": event.at,
            }
        case ReportAmended():
            changes["report"] = event.report
        case _:
            pass  # recorded in the event list only (status updates, first report)
    return state.model_copy(update=changes)


def fold(state: IncidentState | None, events: Iterable[Event]) -> IncidentState:
    """Apply ``events`` in order (``evolve`` repeatedly).

    Raises:
        ValueError: The sequence is empty and ``state`` is ``None``.
    """
    return fold_with(evolve, state, events)


def execute(
    state: IncidentState | None, command: Command, now: datetime
) -> tuple[IncidentState, list[Event]]:
    """:func:`decide` then :func:`fold`: the new state and the events that made it."""
    events = decide(state, command, now)
    if not events:
        if state is None:  # pragma: no cover - _open always emits
            raise ValueError("opening produced no events")
        return state, events
    return fold(state, events), events


# -- timers --------------------------------------------------------------------


class TimerDue(BaseModel):
    """An instant at which a timer command becomes due."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    command: TimerCommand


def pending_timers(
    state: IncidentState, follow_ups: follow_up.Schedule | None = None
) -> list[TimerDue]:
    """Timer commands still to come for ``state``, earliest first.

    An entry whose instant lies in the past is due at once. After resolution
    there are none. ``follow_ups`` are the instants the workflow computed for
    the open follow-ups (rules 3; see :mod:`domain.follow_up`).
    """
    if not state.is_open:
        return []
    timers: list[TimerDue] = []
    new = state.status is IncidentStatus.NEW
    if state.severity is Severity.CRITICAL:
        if state.pages_sent == 0:
            timers.append(
                TimerDue(at=state.clock_start, command=PageOnDuty(reason=PageReason.RECEIVED))
            )
        elif new and state.next_opening_page is not None:
            timers.append(
                TimerDue(
                    at=state.next_opening_page, command=PageOnDuty(reason=PageReason.NEXT_OPENING)
                )
            )
        if new and state.pages_sent and state.next_reminder_at is not None:
            timers.append(
                TimerDue(at=state.next_reminder_at, command=PageOnDuty(reason=PageReason.REMINDER))
            )
    if new and not state.reaction_breached:
        if not state.was_warned(DeadlineKind.REACTION, state.reaction_due):
            timers.append(
                TimerDue(
                    at=state.current_deadlines.reaction_warning,
                    command=WarnDeadline(deadline=DeadlineKind.REACTION),
                )
            )
        timers.append(TimerDue(at=state.reaction_due, command=BreachReaction()))
    if state.estimate is not None and not state.estimate_failed:
        timers.append(TimerDue(at=state.estimate, command=MissEstimate()))
    if not state.resolution_breached:
        if not state.was_warned(DeadlineKind.RESOLUTION, state.resolution_due):
            timers.append(
                TimerDue(
                    at=state.current_deadlines.resolution_warning,
                    command=WarnDeadline(deadline=DeadlineKind.RESOLUTION),
                )
            )
        timers.append(TimerDue(at=state.resolution_due, command=BreachResolution()))
    missed = follow_up.pending_reestimate(state)
    if missed is not None and missed.reestimate_due is not None:
        timers.append(TimerDue(at=missed.reestimate_due, command=RecordReestimateOverdue()))
    for reminder in follow_up.due_follow_ups(state, follow_ups or {}):
        timers.append(TimerDue(at=reminder.due, command=reminder))
    return sorted(timers, key=lambda t: t.at)


# -- outcome -------------------------------------------------------------------


class IncidentOutcome(BaseModel):
    """The SLA result of an incident (the workflow's result)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    severity: Severity
    status: IncidentStatus
    reaction_met: bool | None
    resolution_met: bool | None
    time_to_react: timedelta | None
    time_to_resolve: timedelta | None
    reaction_breached: bool
    resolution_breached: bool
    highest_stage: EscalationStage
    failed_estimates: int
    change_request_id: str | None = None
    resolution_communicated_in_time: bool | None = None
    resolved_within_target: bool | None = None


def outcome(state: IncidentState, calendar: BusinessCalendar) -> IncidentOutcome:
    """Summarize ``state`` as an :class:`IncidentOutcome`.

    Business time to react counts to the acknowledgement (or to resolution,
    for incidents fixed before an acknowledgement was needed); ``None`` where
    it has not happened.
    """
    reacted_at = state.acknowledged_at or state.resolved_at
    # A report classified as a change request closes like a resolved one.
    resolved: Resolved | ClassifiedAsChangeRequest | None = next(
        (e for e in state.period_events if isinstance(e, Resolved | ClassifiedAsChangeRequest)),
        None,
    )
    return IncidentOutcome(
        ticket_id=state.ticket_id,
        severity=state.severity,
        status=state.status,
        reaction_met=(
            resolved.reaction_met
            if resolved
            else (None if reacted_at is None else not state.reaction_breached)
        ),
        resolution_met=resolved.resolution_met if resolved else None,
        time_to_react=(
            calendar.between(state.clock_start, reacted_at) if reacted_at is not None else None
        ),
        time_to_resolve=(
            calendar.between(state.clock_start, state.resolved_at)
            if state.resolved_at is not None
            else None
        ),
        reaction_breached=state.reaction_breached,
        resolution_breached=state.resolution_breached,
        highest_stage=state.escalation_stage,
        failed_estimates=state.failed_estimates,
        change_request_id=state.change_request_id,
        resolution_communicated_in_time=resolution_communicated_in_time(state),
        resolved_within_target=resolved_within_target(state),
    )


# -- periods ------------------------------------------------------------------


def period_states(state: IncidentState) -> list[IncidentState]:
    """The state of every period of ``state``, oldest first (one until a reopen).

    Each earlier period is the state just before the reopen that ended it:
    its figures as they were when it closed (the SLA reports count each period
    as its own measurement). The last entry is ``state`` itself.
    """
    cuts = [i for i, e in enumerate(state.events) if isinstance(e, IncidentReopened)]
    return [fold(None, state.events[:cut]) for cut in cuts] + [state]
