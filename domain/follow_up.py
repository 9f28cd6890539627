"""Follow-ups: the next step the SLA expects after an event, watched until it is done.

The SLA asks for more than deadlines: after a missed estimate "schätzen wir die
Störungsbehebungszeit neu", at stage 2 "das weitere Vorgehen wird mit dem Kunden
besprochen", at stage 3 management decides, a public disturbance is kept
current, and a critical incident stays on someone's desk until it is fixed.
Incidents opened under rule set 3 watch each of these steps (:class:`FollowUp`):

* a step is *active* from the event that asks for it until the event that does
  it (``active_follow_ups``), counted from its *anchor* — that event, or the
  last reminder about it;
* the workflow computes when an active step is due (business time from the
  anchor: ``follow_ups_to_schedule`` → a local activity, recorded in history)
  and keeps the instants beside the state (``Schedule``); an instant counted
  from an old anchor (a new status post, a reminder) is simply not used;
* at that instant the team is reminded (``FollowUpReminded``), which moves the
  anchor and so asks for the next instant.

The new estimate after a miss also has a deadline: ``EstimateMissed.reestimate_due``
(computed when the miss is recorded); passing it is recorded once as
``ReestimateOverdue`` and counted in the SLA report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from domain.commands import RecordDiscussion, RecordReestimateOverdue, RemindFollowUp
from domain.errors import InvalidEscalation, MissingText, NotDue, WrongStatus
from domain.events import (
    Acknowledged,
    DiscussionRecorded,
    Escalated,
    EscalationStage,
    EstimateMissed,
    Event,
    FollowUp,
    FollowUpReminded,
    IncidentStatus,
    Reclassified,
    ReestimateOverdue,
    StatusPublished,
    StatusUpdated,
    stage_rank,
)
from domain.sla import FollowUpPolicy, Severity


class IncidentState(Protocol):
    """What follow-ups read of ``domain.incident.IncidentState`` (which imports this module)."""

    @property
    def ticket_id(self) -> str: ...  # noqa: D102
    @property
    def rules(self) -> int: ...  # noqa: D102
    @property
    def is_open(self) -> bool: ...  # noqa: D102
    @property
    def status(self) -> IncidentStatus: ...  # noqa: D102
    @property
    def severity(self) -> Severity: ...  # noqa: D102
    @property
    def estimate_failed(self) -> bool: ...  # noqa: D102
    @property
    def on_status_page(self) -> bool: ...  # noqa: D102
    @property
    def escalation_stage(self) -> EscalationStage: ...  # noqa: D102
    @property
    def management_decision(self) -> str | None: ...  # noqa: D102
    @property
    def master(self) -> str | None: ...  # noqa: D102
    @property
    def events(self) -> tuple[Event, ...]: ...  # noqa: D102
    @property
    def period_events(self) -> tuple[Event, ...]: ...  # noqa: D102


FOLLOW_UP_RULES = 3
"""The first incident rule set (``IncidentReported.rules``) that watches follow-ups."""


class ActiveFollowUp(BaseModel):
    """A step that is still to be done.

    Attributes:
        since: When it became due (the event that asked for it).
        anchor: What its next instant counts from: ``since`` or the last reminder.
    """

    model_config = ConfigDict(frozen=True)

    since: datetime
    anchor: datetime


class ScheduledFollowUp(BaseModel):
    """When a step is due, and the anchor it was counted from."""

    model_config = ConfigDict(frozen=True)

    after: datetime
    due: datetime


Schedule = Mapping[FollowUp, ScheduledFollowUp]
"""The instants the workflow computed, by step (only those matching the anchor count)."""


class FollowUpNeed(BaseModel):
    """An active step without a scheduled instant: ``every`` of business time after ``after``."""

    model_config = ConfigDict(frozen=True)

    kind: FollowUp
    after: datetime
    every: timedelta


def _last(events: tuple[Event, ...], match: Callable[[Event], bool]) -> datetime | None:
    return next((e.at for e in reversed(events) if match(e)), None)


def _step(
    events: tuple[Event, ...], kind: FollowUp, since: datetime | None
) -> ActiveFollowUp | None:
    """The step ``kind`` that became due at ``since``, anchored on its last reminder."""
    if since is None:
        return None
    reminded = _last(events, lambda e: isinstance(e, FollowUpReminded) and e.kind is kind)
    anchor = max(since, reminded) if reminded is not None else since
    return ActiveFollowUp(since=since, anchor=anchor)


def active_follow_ups(state: IncidentState) -> dict[FollowUp, ActiveFollowUp]:
    """The steps ``state`` still waits for (none before rule set 3 or after resolution).

    A duplicate waits for nothing itself: its master's team is reminded, and
    the duplicate follows the master's answers.
    """
    if state.rules < FOLLOW_UP_RULES or not state.is_open or state.master is not None:
        return {}
    events = state.period_events
    found: dict[FollowUp, ActiveFollowUp | None] = {}
    acknowledged = state.status is IncidentStatus.ACKNOWLEDGED
    if acknowledged and state.estimate_failed:
        missed = _last(events, lambda e: isinstance(e, EstimateMissed))
        found[FollowUp.REESTIMATE] = _step(events, FollowUp.REESTIMATE, missed)
    if state.on_status_page:
        posted = _last(events, lambda e: isinstance(e, StatusPublished | StatusUpdated))
        found[FollowUp.STATUS_UPDATE] = _step(events, FollowUp.STATUS_UPDATE, posted)
    stage = stage_rank(state.escalation_stage)
    # Stage 2's task: only where stage 2 was reached (an operator may go to 3 at once).
    stage_2 = _last(events, lambda e: isinstance(e, Escalated) and e.stage == 2)
    if not any(isinstance(e, DiscussionRecorded) for e in events):
        found[FollowUp.DISCUSSION] = _step(events, FollowUp.DISCUSSION, stage_2)
    if stage >= stage_rank(3) and state.management_decision is None:
        escalated = _last(
            events, lambda e: isinstance(e, Escalated) and stage_rank(e.stage) >= stage_rank(3)
        )
        found[FollowUp.DECISION] = _step(events, FollowUp.DECISION, escalated)
    if acknowledged and state.severity is Severity.CRITICAL:
        # From the acknowledgement, or from the reclassification that made it critical.
        since = _last(events, lambda e: isinstance(e, Acknowledged | Reclassified))
        found[FollowUp.CRITICAL_OPEN] = _step(events, FollowUp.CRITICAL_OPEN, since)
    return {kind: step for kind, step in found.items() if step is not None}


def interval(kind: FollowUp, policy: FollowUpPolicy) -> timedelta:
    """Business time from a step's anchor to its next instant."""
    match kind:
        case FollowUp.REESTIMATE:
            return policy.reestimate_reminder_every
        case FollowUp.STATUS_UPDATE:
            return policy.status_update_every
        case FollowUp.DISCUSSION:
            return policy.discussion_reminder_every
        case FollowUp.DECISION:
            return policy.decision_reminder_every
        case FollowUp.CRITICAL_OPEN:
            return policy.critical_open_reminder_every


def follow_ups_to_schedule(
    state: IncidentState, policy: FollowUpPolicy, scheduled: Schedule
) -> list[FollowUpNeed]:
    """Active steps whose instant is not computed yet (or was counted from an old anchor)."""
    needs = []
    for kind, step in active_follow_ups(state).items():
        known = scheduled.get(kind)
        if known is None or known.after != step.anchor:
            needs.append(FollowUpNeed(kind=kind, after=step.anchor, every=interval(kind, policy)))
    return needs


def due_follow_ups(state: IncidentState, scheduled: Schedule) -> list[RemindFollowUp]:
    """The reminder of every active step whose instant is known."""
    due = []
    for kind, step in active_follow_ups(state).items():
        known = scheduled.get(kind)
        if known is not None and known.after == step.anchor:
            due.append(RemindFollowUp(follow_up=kind, after=known.after, due=known.due))
    return due


def pending_reestimate(state: IncidentState) -> EstimateMissed | None:
    """The miss whose new estimate is still awaited with a deadline (rules 3), if any."""
    if state.rules < FOLLOW_UP_RULES or not state.is_open or not state.estimate_failed:
        return None
    if state.master is not None:
        return None  # the master's new estimate is awaited (and judged) on the master
    missed = next((e for e in reversed(state.period_events) if isinstance(e, EstimateMissed)), None)
    if missed is None or missed.reestimate_due is None:
        return None
    if any(
        isinstance(e, ReestimateOverdue) and e.missed_at == missed.at for e in state.period_events
    ):
        return None
    return missed


def remind(state: IncidentState, command: RemindFollowUp, now: datetime) -> list[Event]:
    """The step's instant has come: remind the team."""
    kind = command.follow_up
    step = active_follow_ups(state).get(kind)
    if step is None:
        raise WrongStatus(f"nothing is waiting for {kind.value}")
    if command.after != step.anchor or now < command.due:
        raise NotDue(f"the {kind.value} follow-up is not due yet")
    return [FollowUpReminded(at=now, kind=kind, since=step.since)]


def record_overdue(
    state: IncidentState, command: RecordReestimateOverdue, now: datetime
) -> list[Event]:
    """The new estimate did not come within the policy time after the miss."""
    missed = pending_reestimate(state)
    if missed is None or missed.reestimate_due is None:
        raise WrongStatus("no new estimate is awaited")
    if now < missed.reestimate_due:
        raise NotDue("the new estimate is not due yet")
    return [ReestimateOverdue(at=now, missed_at=missed.at, due=missed.reestimate_due)]


def record_discussion(
    state: IncidentState, command: RecordDiscussion, now: datetime
) -> list[Event]:
    """Stage 2's task done: what was agreed with the customer, and who was drawn in."""
    note = command.note.strip()
    if not note:
        raise MissingText("a note of what was discussed is required")
    if stage_rank(state.escalation_stage) < stage_rank(2):
        raise InvalidEscalation(
            f"incident {state.ticket_id} is at escalation stage {state.escalation_stage}; "
            "the discussion with the customer belongs to stage 2"
        )
    experts = tuple(dict.fromkeys(e.strip() for e in command.experts if e.strip()))
    return [DiscussionRecorded(at=now, note=note, experts=experts)]
