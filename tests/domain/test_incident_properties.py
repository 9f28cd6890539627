"""Property tests for ``domain.incident``: random command sequences (DESIGN §2).

Hypothesis drives an incident through random operator and timer commands at
non-decreasing instants, skipping every command the rules refuse, and checks the
invariants the SLA contract and the event-sourced design promise: stages only go
up, stages 1/2 come only from failed estimates and 3/extended only from explicit
escalations, no event is lost, folding the events reproduces the state, and
nothing changes after resolution.

All instants the test makes are UTC, so Python's aware-datetime arithmetic and
comparisons are on instants (the deadlines themselves are Berlin wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, WrongStatus
from domain.incident import (
    STAGE_ORDER,
    Acknowledge,
    Acknowledged,
    BreachReaction,
    BreachResolution,
    Command,
    DeadlineKind,
    DecideResources,
    Escalate,
    Escalated,
    EscalatedBy,
    EscalationStage,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    ExtendEstimate,
    IncidentState,
    MissEstimate,
    OpenIncident,
    PageOnDuty,
    PageReason,
    PostStatusUpdate,
    Reclassify,
    Resolve,
    WarnDeadline,
    decide,
    evolve,
    fold,
    pending_timers,
    stage_rank,
)
from domain.report import Channel, IncidentReport, Scope
from domain.sla import Deadlines, Severity, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FACT_TIMERS = (BreachReaction, MissEstimate, BreachResolution)
"""Timer commands whose overdue facts an operator command catches up first."""
TIMERS = (*FACT_TIMERS, WarnDeadline, PageOnDuty)


# -- the incident under test ------------------------------------------------------------


@lru_cache(maxsize=4096)
def deadlines_at(received_at: datetime) -> dict[Severity, Deadlines]:
    return POLICY.all_deadlines(received_at)


@lru_cache(maxsize=4096)
def second_page(received_at: datetime) -> datetime | None:
    pages = POLICY.critical_pages(received_at)
    return pages[1] if len(pages) > 1 else None


def open_command(received_at: datetime, facts: dict[str, bool], channel: Channel) -> OpenIncident:
    report = IncidentReport(
        company="Beispiel Versand GmbH",
        full_name="Erika Mustermann",
        phone="+49 2131 123456",
        email="erika.mustermann@beispiel-versand.de",
        description="Versandmodul druckt keine Etiketten.",
        first_noticed_at=received_at.astimezone(UTC) - timedelta(minutes=7),
        scope=Scope.SOME_WORKSTATIONS,
        reproducible=True,
        channel=channel,
        **facts,
    )
    return OpenIncident(
        ticket_id="SLA-P",
        report=report,
        received_at=received_at,
        deadlines=deadlines_at(received_at),
        next_opening_page=second_page(received_at),
    )


# -- actions: what hypothesis draws ------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    severity: Severity
    estimate_in: timedelta
    all_users: bool
    message: str | None

    def command(self, state: IncidentState, now: datetime) -> Command:
        return Acknowledge(
            severity=self.severity,
            estimate=now + self.estimate_in,
            all_users=self.all_users,
            status_message=self.message,
        )


@dataclass(frozen=True)
class Reclass:
    severity: Severity
    reason: str

    def command(self, state: IncidentState, now: datetime) -> Command:
        return Reclassify(severity=self.severity, reason=self.reason)


@dataclass(frozen=True)
class Extend:
    later_by: timedelta  # after the later of now and the current estimate
    reason: str

    def command(self, state: IncidentState, now: datetime) -> Command:
        base = max(now, state.estimate) if state.estimate is not None else now
        return ExtendEstimate(estimate=base.astimezone(UTC) + self.later_by, reason=self.reason)


@dataclass(frozen=True)
class Esc:
    stage: Literal[3, "extended"]
    reason: str
    by: EscalatedBy

    def command(self, state: IncidentState, now: datetime) -> Command:
        return Escalate(stage=self.stage, reason=self.reason, by=self.by)


@dataclass(frozen=True)
class Decide:
    decision: str

    def command(self, state: IncidentState, now: datetime) -> Command:
        return DecideResources(decision=self.decision)


@dataclass(frozen=True)
class Status:
    message: str
    all_users: bool

    def command(self, state: IncidentState, now: datetime) -> Command:
        return PostStatusUpdate(message=self.message, all_users=self.all_users)


@dataclass(frozen=True)
class Close:
    summary: str

    def command(self, state: IncidentState, now: datetime) -> Command:
        return Resolve(summary=self.summary)


@dataclass(frozen=True)
class Timer:
    """A timer command issued at a random instant (often early, stale or repeated)."""

    timer: MissEstimate | BreachReaction | BreachResolution | WarnDeadline | PageOnDuty
    reminder_in: timedelta | None

    def command(self, state: IncidentState, now: datetime) -> Command:
        if isinstance(self.timer, PageOnDuty) and self.reminder_in is not None:
            return PageOnDuty(reason=self.timer.reason, next_reminder_at=now + self.reminder_in)
        return self.timer


@dataclass(frozen=True)
class FireNext:
    """Wait for the earliest pending timer and issue it, as the workflow does."""

    reminder_in: timedelta


Action = Ack | Reclass | Extend | Esc | Decide | Status | Close | Timer | FireNext


@dataclass(frozen=True)
class Step:
    advance: timedelta
    action: Action


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


texts = st.sampled_from(["Grund", " Datenbank-Migration ", "Grund", "", "   "])
summaries = st.sampled_from(["", "  ", "", "behoben"])  # resolve rarely, so runs go on
severities = st.sampled_from(list(Severity))
estimate_offsets = st.one_of(
    st.integers(-60, 600).map(minutes), st.integers(-60, 60 * 24 * 30).map(minutes)
)
reminders = st.integers(1, 90).map(minutes)
timer_commands = st.sampled_from(
    [
        MissEstimate(),
        BreachReaction(),
        BreachResolution(),
        WarnDeadline(deadline=DeadlineKind.REACTION),
        WarnDeadline(deadline=DeadlineKind.RESOLUTION),
        PageOnDuty(reason=PageReason.RECEIVED),
        PageOnDuty(reason=PageReason.NEXT_OPENING),
        PageOnDuty(reason=PageReason.REMINDER),
    ]
)

acks = st.builds(Ack, severities, estimate_offsets, st.booleans(), st.none() | texts)
extends = st.builds(Extend, estimate_offsets, texts)
actions: st.SearchStrategy[Action] = st.one_of(
    acks,
    acks,
    st.builds(Reclass, severities, texts),
    extends,
    extends,
    extends,
    st.builds(Esc, st.sampled_from([3, "extended"]), texts, st.sampled_from(list(EscalatedBy))),
    st.builds(Decide, texts),
    st.builds(Status, texts, st.booleans()),
    st.builds(Close, summaries),
    st.builds(Timer, timer_commands, st.none() | reminders),
    st.builds(FireNext, reminders),
    st.builds(FireNext, reminders),
    st.builds(FireNext, reminders),
)
advances = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 120).map(minutes),
    st.integers(1, 72).map(lambda h: timedelta(hours=h)),
    st.integers(1, 20).map(lambda d: timedelta(days=d)),
)
steps = st.integers(0, 40).flatmap(
    lambda n: st.lists(st.builds(Step, advances, actions), min_size=n, max_size=n)
)
FIRST_RECEIPT = datetime(2026, 10, 19, tzinfo=UTC)
receipts = st.integers(0, 60 * 24 * 390).map(
    lambda m: (FIRST_RECEIPT + minutes(m)).astimezone(BERLIN)
)
"""Receipt instants over a year, both DST changes included (valid Berlin wall clocks)."""
facts = st.fixed_dictionaries(
    {
        "login_impossible": st.booleans(),
        "shipping_module_affected": st.booleans(),
        "workaround_available": st.booleans(),
        "customer_says_not_critical": st.booleans(),
    }
)
channels = st.sampled_from(list(Channel))


# -- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    command: Command
    now: datetime
    before: IncidentState
    events: list[Event]
    after: IncidentState


def run(
    received_at: datetime, report_facts: dict[str, bool], channel: Channel, plan: list[Step]
) -> tuple[IncidentState, list[Accepted]]:
    """Apply ``plan`` with ``decide`` + ``fold``, checking the per-step invariants."""
    opening = open_command(received_at, report_facts, channel)
    now = received_at.astimezone(UTC)
    events = decide(None, opening, now)
    state = fold(None, events)
    history = [Accepted(opening, now, state, events, state)]
    for step in plan:
        now += step.advance
        must_accept = False
        if isinstance(step.action, FireNext):
            timers = pending_timers(state)
            if not timers:
                continue
            now = max(now, timers[0].at).astimezone(UTC)
            command: Command = timers[0].command
            if isinstance(command, PageOnDuty):
                command = PageOnDuty(
                    reason=command.reason, next_reminder_at=now + step.action.reminder_in
                )
            must_accept = True
        else:
            command = step.action.command(state, now)

        if not state.is_open:  # (4) nothing is accepted after resolution
            with pytest.raises(WrongStatus, match="resolved"):
                decide(state, command, now)
            continue
        try:
            events = decide(state, command, now)
        except DomainError as refusal:
            assert not must_accept, f"pending timer {command!r} refused at its instant: {refusal}"
            check_same_refusal_when_timers_fired_first(state, command, now)
            continue
        before, state = state, fold(state, events)
        history.append(Accepted(command, now, before, events, state))
        check_step(history[-1])
    return state, history


def overdue_facts_fired(state: IncidentState, now: datetime) -> IncidentState:
    """``state`` after issuing every due breach/miss timer at ``now`` one by one.

    A deadline instant itself counts as passed (timers fire at ``now >= due``).
    """
    for timer in pending_timers(state):
        if timer.at <= now and isinstance(timer.command, FACT_TIMERS):
            state = fold(state, decide(state, timer.command, now))
    return state


def check_same_refusal_when_timers_fired_first(
    state: IncidentState, command: Command, now: datetime
) -> None:
    if isinstance(command, TIMERS):
        return
    with pytest.raises(DomainError):
        decide(overdue_facts_fired(state, now), command, now)


def check_step(step: Accepted) -> None:
    before, after, events, command = step.before, step.after, step.events, step.command
    # (1) stages only go up
    assert stage_rank(after.escalation_stage) >= stage_rank(before.escalation_stage)
    # (2) the state records exactly the new events, appended
    assert after.events == before.events + tuple(events)
    # pending timers come earliest first
    instants = [t.at for t in pending_timers(after)]
    assert instants == sorted(instants)
    failures = [
        e
        for e in events
        if isinstance(e, EstimateMissed) or (isinstance(e, EstimateExtended) and e.replaced_live)
    ]
    escalations = [e for e in events if isinstance(e, Escalated)]
    running = before.escalation_stage
    for escalated in escalations:
        # (1) every escalation event raises the stage it starts from
        assert escalated.previous == running
        assert stage_rank(escalated.stage) > stage_rank(running)
        running = escalated.stage
        if escalated.stage in (1, 2):
            # (5) stages 1/2 come only from a failed estimate of this same decision
            assert escalated.trigger in (
                EscalationTrigger.ESTIMATE_MISSED,
                EscalationTrigger.ESTIMATE_REPLACED,
            )
            # (an escalate command may catch up an overdue miss before its own stage 3)
            assert failures, f"stage {escalated.stage} without a failed estimate"
        else:
            # (6) stage 3 / extended only from an explicit escalate command
            assert isinstance(command, Escalate)
            assert escalated.stage == command.stage
            assert escalated.trigger is EscalationTrigger.OPERATOR
            assert escalated.by is command.by
            # the extended process follows an escalation that found no solution
            assert escalated.stage != "extended" or escalated.previous != 0
    assert len([e for e in escalations if e.stage in (1, 2)]) <= len(failures)
    assert after.escalation_stage == running
    if isinstance(command, Escalate):
        assert [e.stage for e in escalations][-1:] == [command.stage]
    # (4) an accepted resolution closes the incident for good
    if isinstance(command, Resolve):
        assert not after.is_open
        assert pending_timers(after) == []
        closing = ["resolved", "status_resolved"] if after.on_status_page else ["resolved"]
        assert [e.type for e in events][-len(closing) :] == closing
    # Order independence: an operator command gives the same result whether the
    # workflow issued the overdue breach/miss timers before it or not.
    if not isinstance(command, TIMERS):
        timers_first = overdue_facts_fired(before, step.now)
        assert fold(timers_first, decide(timers_first, command, step.now)) == after
    # Overdue facts are recorded before an operator command (reclassification and
    # classification at acknowledgement may move deadlines into the past).
    if isinstance(command, ExtendEstimate | Escalate | DecideResources | PostStatusUpdate):
        overdue = [
            t
            for t in pending_timers(after)
            if t.at <= step.now and isinstance(t.command, FACT_TIMERS)
        ]
        assert overdue == []


def check_each_estimate_fails_once(events: list[Event]) -> None:
    """Counting rule: an estimate fails once, by expiry or by live replacement.

    An extension that does not replace a live estimate answers a failure.
    """
    failed: bool | None = None  # None: no estimate communicated yet
    for event in events:
        if isinstance(event, Acknowledged):
            assert failed is None
            failed = False
        elif isinstance(event, EstimateMissed):
            assert failed is False, "an estimate failed twice (or before it existed)"
            failed = True
        elif isinstance(event, EstimateExtended):
            assert failed is not None
            assert event.replaced_live is (not failed)
            failed = False


def stage_bound(history: list[Accepted]) -> list[tuple[int, int, int]]:
    """(stage rank, min(failed, 2), highest operator rank) after every accepted step."""
    operator = 0
    rows = []
    for step in history:
        if isinstance(step.command, Escalate):
            operator = max(operator, stage_rank(step.command.stage))
        rows.append(
            (
                stage_rank(step.after.escalation_stage),
                min(step.after.failed_estimates, 2),
                operator,
            )
        )
    return rows


# -- properties ------------------------------------------------------------------------------


@PROPERTY
@given(receipts, facts, channels, steps)
def test_random_command_sequences_keep_the_sla_invariants(
    received_at: datetime, report_facts: dict[str, bool], channel: Channel, plan: list[Step]
) -> None:
    state, history = run(received_at, report_facts, channel, plan)

    # (1) the stage never decreases over the whole run
    ranks = [stage_rank(step.after.escalation_stage) for step in history]
    assert ranks == sorted(ranks)

    # (2) no event is lost: the state holds every emitted event, in order
    emitted = [event for step in history for event in step.events]
    assert len(state.events) == len(emitted)
    assert list(state.events) == emitted

    # (3) folding the recorded events from nothing reproduces the state
    assert fold(None, state.events) == state
    # ... also after a JSON round trip (compared as JSON: a receipt in the autumn DST
    # fold never equals its fixed-offset copy under Python's PEP 495 rules).
    as_json = state.model_dump_json()
    restored = IncidentState.model_validate_json(as_json)
    assert restored.model_dump_json() == as_json
    assert fold(None, restored.events).model_dump_json() == as_json

    # (5) every communicated estimate fails at most once and each failure is counted
    missed = sum(isinstance(e, EstimateMissed) for e in emitted)
    replaced = sum(isinstance(e, EstimateExtended) and e.replaced_live for e in emitted)
    assert state.failed_estimates == missed + replaced

    check_each_estimate_fails_once(emitted)

    # (5)+(6) the stage is exactly what failed estimates and escalate commands made it
    for stage, from_estimates, from_operator in stage_bound(history):
        assert stage == max(from_estimates, from_operator)


@PROPERTY
@given(receipts, facts, channels, steps)
def test_replaying_any_prefix_of_the_events_reproduces_the_intermediate_states(
    received_at: datetime, report_facts: dict[str, bool], channel: Channel, plan: list[Step]
) -> None:
    state, history = run(received_at, report_facts, channel, plan)
    for step in history:
        assert fold(None, state.events[: len(step.after.events)]) == step.after


stages = st.sampled_from(STAGE_ORDER)


@settings(max_examples=100, deadline=None)
@given(stages, stages, receipts)
def test_evolve_never_lowers_the_stage(
    current: EscalationStage, incoming: EscalationStage, received_at: datetime
) -> None:
    now = received_at.astimezone(UTC)
    state = fold(None, decide(None, open_command(received_at, {}, Channel.CHAT), now))
    if current != 0:
        state = evolve(
            state,
            Escalated(
                at=now, stage=current, previous=0, trigger=EscalationTrigger.OPERATOR, reason="x"
            ),
        )
    stale = Escalated(
        at=now, stage=incoming, previous=current, trigger=EscalationTrigger.OPERATOR, reason="x"
    )
    after = evolve(state, stale)
    expected = incoming if stage_rank(incoming) > stage_rank(current) else current
    assert after.escalation_stage == expected
    assert after.events[-1] == stale  # recorded even when it changes nothing
