"""Tests for ``domain.incident``: the incident decider (DESIGN §2, "The SLA contract").

One small test per rule. Most incidents are received on Tuesday 2026-11-24 at
09:30 (business hours, no holiday near), so the critical deadlines are easy to
read: reaction due 10:30, resolution due 13:30. Every other deadline is computed
with the shipped policy, with a few hard-coded sanity checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import pytest

from domain.errors import (
    AlreadyDone,
    DomainError,
    InvalidEscalation,
    InvalidEstimate,
    MissingText,
    NotDue,
    NotPublished,
    WrongStatus,
)
from domain.incident import (
    Acknowledge,
    Acknowledged,
    BreachReaction,
    BreachResolution,
    Command,
    DeadlineKind,
    DeadlineWarned,
    DecideResources,
    Escalate,
    Escalated,
    EscalatedBy,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    ExtendEstimate,
    IncidentReported,
    IncidentState,
    IncidentStatus,
    MissEstimate,
    OnDutyPaged,
    OpenIncident,
    PageOnDuty,
    PageReason,
    PostStatusUpdate,
    ReactionBreached,
    Reclassified,
    Reclassify,
    ResolutionBreached,
    Resolve,
    Resolved,
    ResourcesDecided,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
    TimerDue,
    WarnDeadline,
    decide,
    execute,
    fold,
    outcome,
    pending_timers,
)
from domain.report import Channel, IncidentReport, Scope
from domain.sla import Severity, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
CRITICAL, MAJOR, MINOR = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR

CRITICAL_FACTS: dict[str, Any] = {"login_impossible": True}
MINOR_FACTS: dict[str, Any] = {"workaround_available": True}


def at(hour: int, minute: int = 0, day: int = 24, month: int = 11, year: int = 2026) -> datetime:
    """A Berlin wall-clock instant, by default on Tuesday 2026-11-24."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


TUE = at(9, 30)  # Tuesday, business hours
FRI_LATE = at(17, 30, day=27)  # Friday, 30 minutes before closing
MON_OPENING = at(8, 0, day=30)

DEADLINES = POLICY.all_deadlines(TUE)

E = TypeVar("E")


def make_report(**overrides: object) -> IncidentReport:
    data: dict[str, object] = {
        "company": "Beispiel Versand GmbH",
        "full_name": "Erika Mustermann",
        "phone": "+49 2131 123456",
        "email": "erika.mustermann@beispiel-versand.de",
        "description": "Anmeldung nicht möglich, Fehlermeldung 503.",
        "first_noticed_at": TUE - timedelta(minutes=18),
        "scope": Scope.ALL_WORKSTATIONS,
        "reproducible": True,
        "channel": Channel.CHAT,
    }
    data.update(overrides)
    return IncidentReport.model_validate(data)


def open_command(
    received_at: datetime = TUE, next_opening_page: datetime | None = None, **facts: object
) -> OpenIncident:
    return OpenIncident(
        ticket_id="SLA-1",
        report=make_report(first_noticed_at=received_at - timedelta(minutes=18), **facts),
        received_at=received_at,
        deadlines=POLICY.all_deadlines(received_at),
        next_opening_page=next_opening_page,
    )


def opened(
    received_at: datetime = TUE, next_opening_page: datetime | None = None, **facts: object
) -> IncidentState:
    state, _ = execute(None, open_command(received_at, next_opening_page, **facts), received_at)
    return state


def apply(state: IncidentState, command: Command, now: datetime) -> IncidentState:
    return execute(state, command, now)[0]


def acked(
    state: IncidentState | None = None,
    severity: Severity | None = None,
    estimate: datetime | None = None,
    now: datetime | None = None,
    all_users: bool = False,
) -> IncidentState:
    """A major incident (unless given) acknowledged at 10:00 with estimate 12:00."""
    state = state or opened()
    command = Acknowledge(
        severity=severity or state.severity, estimate=estimate or at(12), all_users=all_users
    )
    return apply(state, command, now or at(10))


def refused(
    state: IncidentState | None, command: Command, now: datetime, error: type[DomainError]
) -> DomainError:
    with pytest.raises(error) as info:
        decide(state, command, now)
    return info.value


def event(events: Sequence[Event], index: int, cls: type[E]) -> E:
    """``events[index]``, checked to be a ``cls``."""
    found = events[index]
    assert isinstance(found, cls), f"expected {cls.__name__}, got {found.type}"
    return found


def types(events: list[Event] | tuple[Event, ...]) -> list[str]:
    return [e.type for e in events]


# -- policy sanity ---------------------------------------------------------------


def test_deadlines_of_a_tuesday_morning_report() -> None:
    assert DEADLINES[CRITICAL].reaction_due == at(10, 30)
    assert DEADLINES[CRITICAL].resolution_due == at(13, 30)
    assert DEADLINES[CRITICAL].reaction_warning == at(10, 15)
    assert DEADLINES[CRITICAL].resolution_warning == at(12, 30)
    assert DEADLINES[MAJOR].reaction_due == at(10, 30)
    assert DEADLINES[MAJOR].resolution_due == at(9, 30, day=14, month=12)  # 14 business days
    assert DEADLINES[MINOR].reaction_due == at(13, 30, day=26)  # 24 business hours


# -- opening ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "severity"),
    [
        ({}, MAJOR),
        ({"login_impossible": True}, CRITICAL),
        ({"shipping_module_affected": True}, CRITICAL),
        ({"workaround_available": True}, MINOR),
        ({"customer_says_not_critical": True}, MINOR),
        ({"login_impossible": True, "workaround_available": True}, CRITICAL),
        ({"shipping_module_affected": True, "customer_says_not_critical": True}, CRITICAL),
    ],
)
def test_opening_suggests_the_severity_from_the_reported_facts(
    facts: dict[str, Any], severity: Severity
) -> None:
    state = opened(**facts)
    assert state.severity is severity
    assert not state.classified
    assert state.events[0].type == "reported"
    assert event(state.events, 0, IncidentReported).severity is severity


def test_opening_starts_the_clock_at_receipt_with_every_severitys_deadlines() -> None:
    state = opened(**CRITICAL_FACTS)
    assert state.status is IncidentStatus.NEW
    assert state.received_at == TUE
    assert state.deadlines == DEADLINES
    assert state.reaction_due == at(10, 30)
    assert state.resolution_due == at(13, 30)
    assert state.estimate is None
    assert state.escalation_stage == 0
    assert not state.on_status_page
    assert types(state.events) == ["reported"]


def test_opening_emits_one_reported_event_with_the_report() -> None:
    command = open_command(**CRITICAL_FACTS)
    events = decide(None, command, TUE)
    assert events == [
        IncidentReported(
            at=TUE,
            ticket_id="SLA-1",
            report=command.report,
            received_at=TUE,
            severity=CRITICAL,
            deadlines=DEADLINES,
            all_users=False,
        )
    ]


def test_a_monitoring_report_is_published_on_the_status_page_at_once() -> None:
    events = decide(None, open_command(channel=Channel.MONITORING), TUE)
    assert types(events) == ["reported", "status_published"]
    assert events[1] == StatusPublished(at=TUE, message=None, expected_resolution=None)
    state = fold(None, events)
    assert state.on_status_page
    assert state.all_users


def test_opening_an_open_incident_again_is_refused() -> None:
    refused(opened(), open_command(), at(9, 40), AlreadyDone)


@pytest.mark.parametrize(
    "command",
    [
        Acknowledge(severity=MAJOR, estimate=at(12)),
        Reclassify(severity=MINOR, reason="Workaround gefunden"),
        ExtendEstimate(estimate=at(14), reason="länger"),
        Escalate(stage=3, reason="keine Lösung"),
        DecideResources(decision="zwei Entwickler"),
        PostStatusUpdate(message="Wir arbeiten daran", all_users=True),
        Resolve(summary="behoben"),
        MissEstimate(),
        BreachReaction(),
        BreachResolution(),
        WarnDeadline(deadline=DeadlineKind.REACTION),
        PageOnDuty(reason=PageReason.RECEIVED),
    ],
    ids=lambda c: c.kind,
)
def test_commands_on_an_incident_never_opened_are_refused(command: Command) -> None:
    refused(None, command, at(11), WrongStatus)


def test_next_opening_page_is_kept_for_critical_reports_only() -> None:
    assert opened(FRI_LATE, MON_OPENING, **CRITICAL_FACTS).next_opening_page == MON_OPENING
    assert opened(FRI_LATE, MON_OPENING).next_opening_page is None


def test_a_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(opened(), BreachReaction(), datetime(2026, 11, 24, 11, 0))


def test_opening_without_deadlines_for_every_severity_is_rejected() -> None:
    command = open_command().model_copy(update={"deadlines": {MAJOR: DEADLINES[MAJOR]}})
    with pytest.raises(ValueError, match="critical"):
        decide(None, command, TUE)


# -- acknowledge ---------------------------------------------------------------------


def test_acknowledging_records_status_estimate_and_classification() -> None:
    state, events = execute(opened(), Acknowledge(severity=MAJOR, estimate=at(12)), at(10))
    assert events == [
        Acknowledged(at=at(10), severity=MAJOR, estimate=at(12), all_users=False, on_time=True)
    ]
    assert state.status is IncidentStatus.ACKNOWLEDGED
    assert state.severity is MAJOR
    assert state.classified
    assert state.estimate == at(12)
    assert state.acknowledged_at == at(10)
    assert not state.reaction_breached
    assert not state.on_status_page


def test_acknowledging_with_another_severity_reclassifies_to_its_deadlines() -> None:
    state, events = execute(
        opened(**CRITICAL_FACTS), Acknowledge(severity=MAJOR, estimate=at(12)), at(10)
    )
    assert types(events) == ["reclassified", "acknowledged"]
    reclassified = events[0]
    assert isinstance(reclassified, Reclassified)
    assert (reclassified.previous, reclassified.severity) == (CRITICAL, MAJOR)
    assert reclassified.reaction_due == POLICY.reaction_due(MAJOR, TUE)
    assert reclassified.resolution_due == POLICY.resolution_due(MAJOR, TUE)
    assert state.severity is MAJOR
    assert state.resolution_due == DEADLINES[MAJOR].resolution_due


@pytest.mark.parametrize("estimate", [at(10), at(9, 59)], ids=["now", "past"])
def test_acknowledging_with_an_estimate_not_in_the_future_is_refused(estimate: datetime) -> None:
    refused(opened(), Acknowledge(severity=MAJOR, estimate=estimate), at(10), InvalidEstimate)


def test_acknowledging_twice_is_refused_and_points_to_reclassify() -> None:
    error = refused(acked(), Acknowledge(severity=MINOR, estimate=at(15)), at(11), WrongStatus)
    assert "reclassify" in error.message


def test_a_late_acknowledgement_records_the_reaction_breach_first() -> None:
    state, events = execute(
        opened(**CRITICAL_FACTS), Acknowledge(severity=CRITICAL, estimate=at(13)), at(10, 45)
    )
    assert events == [
        ReactionBreached(at=at(10, 45), due=at(10, 30)),
        Acknowledged(
            at=at(10, 45), severity=CRITICAL, estimate=at(13), all_users=False, on_time=False
        ),
    ]
    assert state.reaction_breached


def test_until_classified_the_reaction_clock_runs_on_the_suggested_severity() -> None:
    # Suggested major (1 h); classifying as minor (24 h) at 10:45 does not undo the breach.
    state, events = execute(opened(), Acknowledge(severity=MINOR, estimate=at(15)), at(10, 45))
    assert types(events) == ["reaction_breached", "reclassified", "acknowledged"]
    assert event(events, -1, Acknowledged).on_time is False
    assert state.reaction_breached


def test_acknowledging_into_a_shorter_reaction_time_is_judged_consistently() -> None:
    # Suggested minor (reaction due Thursday); at 11:00 the operator classifies as major
    # (reaction 1 h, due 10:30 under that severity).
    state, events = execute(
        opened(**MINOR_FACTS), Acknowledge(severity=MAJOR, estimate=at(15)), at(11)
    )
    acknowledged = events[-1]
    assert isinstance(acknowledged, Acknowledged)
    assert acknowledged.on_time is (not state.reaction_breached)
    resolved = apply(state, Resolve(summary="behoben"), at(12))
    assert outcome(resolved, POLICY.calendar).reaction_met is acknowledged.on_time


def test_an_acknowledgement_at_the_reaction_deadline_does_not_depend_on_timer_order() -> None:
    state = opened(**CRITICAL_FACTS)
    due = state.reaction_due
    ack = Acknowledge(severity=CRITICAL, estimate=at(13))
    ack_first = apply(state, ack, due)
    timer_first = apply(apply(state, BreachReaction(), due), ack, due)
    assert ack_first.reaction_breached == timer_first.reaction_breached


def test_a_resolution_at_the_resolution_deadline_does_not_depend_on_timer_order() -> None:
    state = acked(opened(**CRITICAL_FACTS), estimate=at(16))
    due = state.resolution_due
    resolve = Resolve(summary="behoben")
    resolve_first = apply(state, resolve, due)
    timer_first = apply(apply(state, BreachResolution(), due), resolve, due)
    assert outcome(resolve_first, POLICY.calendar) == outcome(timer_first, POLICY.calendar)


def test_acknowledging_for_all_users_publishes_with_the_estimate() -> None:
    state, events = execute(
        opened(),
        Acknowledge(severity=MAJOR, estimate=at(12), all_users=True, status_message=" Störung "),
        at(10),
    )
    assert events[-1] == StatusPublished(at=at(10), message="Störung", expected_resolution=at(12))
    assert event(events, 0, Acknowledged).all_users is True
    assert state.on_status_page
    assert state.all_users


def test_acknowledging_a_published_incident_updates_the_status_page() -> None:
    state = opened(channel=Channel.MONITORING)
    _, events = execute(state, Acknowledge(severity=MAJOR, estimate=at(12)), at(10))
    assert types(events) == ["acknowledged", "status_updated"]
    assert event(events, 0, Acknowledged).all_users is True
    assert events[1] == StatusUpdated(at=at(10), message=None, expected_resolution=at(12))


def test_acknowledging_without_all_users_does_not_publish() -> None:
    state = acked()
    assert not state.on_status_page
    assert "status_published" not in types(state.events)


# -- reclassify ------------------------------------------------------------------


def test_reclassifying_recomputes_the_deadlines_from_receipt() -> None:
    state, events = execute(acked(), Reclassify(severity=CRITICAL, reason="Versand steht"), at(11))
    assert events == [
        Reclassified(
            at=at(11),
            previous=MAJOR,
            severity=CRITICAL,
            reason="Versand steht",
            reaction_due=at(10, 30),
            resolution_due=at(13, 30),
        )
    ]
    assert state.severity is CRITICAL
    assert state.reaction_due == DEADLINES[CRITICAL].reaction_due
    assert state.resolution_due == at(13, 30)


def test_reclassifying_to_critical_pages_on_duty_at_once() -> None:
    state = apply(acked(), Reclassify(severity=CRITICAL, reason="Versand steht"), at(11))
    assert pending_timers(state)[0] == TimerDue(
        at=TUE, command=PageOnDuty(reason=PageReason.RECEIVED)
    )


def test_reclassifying_to_the_same_severity_is_refused() -> None:
    refused(acked(), Reclassify(severity=MAJOR, reason="nochmal"), at(11), AlreadyDone)


@pytest.mark.parametrize("reason", ["", "   "])
def test_reclassifying_without_a_reason_is_refused(reason: str) -> None:
    refused(acked(), Reclassify(severity=MINOR, reason=reason), at(11), MissingText)


def test_reclassifying_works_before_acknowledgement() -> None:
    state = apply(opened(), Reclassify(severity=MINOR, reason="Workaround vorhanden"), at(10))
    assert state.status is IncidentStatus.NEW
    assert state.severity is MINOR
    assert state.classified
    assert state.reaction_due == DEADLINES[MINOR].reaction_due == at(13, 30, day=26)
    assert TimerDue(at=state.reaction_due, command=BreachReaction()) in pending_timers(state)


def test_acknowledging_after_a_reclassification_keeps_that_severity() -> None:
    state = apply(opened(), Reclassify(severity=MINOR, reason="Workaround vorhanden"), at(10))
    _, events = execute(state, Acknowledge(severity=MINOR, estimate=at(15)), at(11))
    assert types(events) == ["acknowledged"]
    assert event(events, 0, Acknowledged).on_time is True


# -- extend --------------------------------------------------------------------------


def test_extending_before_acknowledgement_is_refused() -> None:
    refused(opened(), ExtendEstimate(estimate=at(14), reason="länger"), at(10), WrongStatus)


@pytest.mark.parametrize("estimate", [at(12), at(11, 30)], ids=["same", "earlier"])
def test_extending_to_an_estimate_not_later_than_the_current_is_refused(
    estimate: datetime,
) -> None:
    refused(acked(), ExtendEstimate(estimate=estimate, reason="x"), at(11), InvalidEstimate)


def test_extending_to_an_estimate_in_the_past_is_refused() -> None:
    state = apply(acked(), MissEstimate(), at(12))
    refused(state, ExtendEstimate(estimate=at(12, 30), reason="x"), at(13), InvalidEstimate)


@pytest.mark.parametrize("reason", ["", "  "])
def test_extending_without_a_reason_is_refused(reason: str) -> None:
    refused(acked(), ExtendEstimate(estimate=at(14), reason=reason), at(11), MissingText)


def test_replacing_a_live_estimate_is_its_failure_and_raises_stage_1() -> None:
    state, events = execute(acked(), ExtendEstimate(estimate=at(14), reason="Migration"), at(11))
    assert types(events) == ["escalated", "estimate_extended"]
    escalated, extended = events
    assert isinstance(escalated, Escalated)
    assert (escalated.stage, escalated.previous) == (1, 0)
    assert escalated.trigger is EscalationTrigger.ESTIMATE_REPLACED
    assert extended == EstimateExtended(
        at=at(11), previous=at(12), estimate=at(14), reason="Migration", replaced_live=True
    )
    assert state.escalation_stage == 1
    assert state.failed_estimates == 1
    assert state.estimate == at(14)
    assert not state.estimate_failed


def test_replacing_the_second_estimate_raises_stage_2() -> None:
    state = apply(acked(), ExtendEstimate(estimate=at(14), reason="eins"), at(11))
    state, events = execute(state, ExtendEstimate(estimate=at(16), reason="zwei"), at(13))
    assert types(events) == ["escalated", "estimate_extended"]
    assert event(events, 0, Escalated).stage == 2
    assert event(events, 0, Escalated).previous == 1
    assert state.escalation_stage == 2
    assert state.failed_estimates == 2


def test_a_third_failed_estimate_raises_nothing_more() -> None:
    state = apply(acked(), ExtendEstimate(estimate=at(14), reason="eins"), at(11))
    state = apply(state, ExtendEstimate(estimate=at(16), reason="zwei"), at(13))
    state, events = execute(state, ExtendEstimate(estimate=at(17), reason="drei"), at(15))
    assert types(events) == ["estimate_extended"]
    assert event(events, 0, EstimateExtended).replaced_live is True
    assert state.escalation_stage == 2
    assert state.failed_estimates == 3


def test_an_extension_after_a_miss_answers_that_stage_and_raises_nothing() -> None:
    missed = apply(acked(), MissEstimate(), at(12))
    assert missed.escalation_stage == 1
    state, events = execute(missed, ExtendEstimate(estimate=at(15), reason="neu"), at(12, 10))
    assert events == [
        EstimateExtended(
            at=at(12, 10), previous=at(12), estimate=at(15), reason="neu", replaced_live=False
        )
    ]
    assert state.escalation_stage == 1
    assert state.failed_estimates == 1
    assert not state.estimate_failed


def test_an_extension_after_an_unnoticed_miss_catches_the_miss_up_first() -> None:
    # The estimate (12:00) passed, its timer has not fired yet.
    state, events = execute(acked(), ExtendEstimate(estimate=at(15), reason="neu"), at(12, 10))
    assert types(events) == ["estimate_missed", "escalated", "estimate_extended"]
    assert events[0] == EstimateMissed(at=at(12, 10), estimate=at(12))
    assert event(events, 1, Escalated).stage == 1
    assert event(events, 1, Escalated).trigger is EscalationTrigger.ESTIMATE_MISSED
    assert event(events, 2, EstimateExtended).replaced_live is False
    assert state.escalation_stage == 1
    assert state.failed_estimates == 1


def test_an_extension_at_the_estimate_instant_answers_its_miss() -> None:
    # The estimate instant itself counts as passed, as it does for the MissEstimate timer.
    state, events = execute(acked(), ExtendEstimate(estimate=at(15), reason="neu"), at(12))
    assert types(events) == ["estimate_missed", "escalated", "estimate_extended"]
    assert event(events, 2, EstimateExtended).replaced_live is False
    assert state.failed_estimates == 1


def test_an_extension_updates_the_status_page_when_published() -> None:
    state = acked(all_users=True)
    _, events = execute(state, ExtendEstimate(estimate=at(14), reason="Migration"), at(11))
    assert events[-1] == StatusUpdated(at=at(11), message=None, expected_resolution=at(14))


def test_an_extension_leaves_an_unpublished_status_page_alone() -> None:
    _, events = execute(acked(), ExtendEstimate(estimate=at(14), reason="Migration"), at(11))
    assert "status_updated" not in types(events)


# -- the MissEstimate timer -----------------------------------------------------------


def test_missing_the_estimate_before_it_passed_is_not_due() -> None:
    refused(acked(), MissEstimate(), at(11, 59), NotDue)


def test_missing_the_estimate_before_acknowledgement_is_refused() -> None:
    refused(opened(), MissEstimate(), at(12), WrongStatus)


def test_a_missed_estimate_raises_stage_1() -> None:
    state, events = execute(acked(), MissEstimate(), at(12))
    assert types(events) == ["estimate_missed", "escalated"]
    assert events[0] == EstimateMissed(at=at(12), estimate=at(12))
    escalated = events[1]
    assert isinstance(escalated, Escalated)
    assert (escalated.stage, escalated.previous) == (1, 0)
    assert escalated.trigger is EscalationTrigger.ESTIMATE_MISSED
    assert state.estimate_failed
    assert state.failed_estimates == 1
    assert state.escalation_stage == 1


def test_missing_the_extended_estimate_raises_stage_2() -> None:
    state = apply(acked(), MissEstimate(), at(12))
    state = apply(state, ExtendEstimate(estimate=at(15), reason="neu"), at(12, 10))
    state, events = execute(state, MissEstimate(), at(15))
    assert types(events) == ["estimate_missed", "escalated"]
    assert event(events, 1, Escalated).stage == 2
    assert state.escalation_stage == 2
    assert state.failed_estimates == 2


def test_a_miss_at_stage_3_does_not_lower_or_re_raise_the_stage() -> None:
    state = apply(acked(), Escalate(stage=3, reason="keine Lösung in Sicht"), at(11))
    state, events = execute(state, MissEstimate(), at(12))
    assert types(events) == ["estimate_missed"]
    assert state.escalation_stage == 3
    assert state.failed_estimates == 1


def test_the_same_estimate_cannot_fail_twice() -> None:
    state = apply(acked(), MissEstimate(), at(12))
    refused(state, MissEstimate(), at(12, 5), AlreadyDone)


def test_a_replaced_estimate_cannot_be_missed_at_its_old_instant() -> None:
    state = apply(acked(), ExtendEstimate(estimate=at(14), reason="Migration"), at(11))
    refused(state, MissEstimate(), at(12), NotDue)


# -- escalate ----------------------------------------------------------------------


def test_escalating_to_stage_3_from_0_is_allowed_with_a_reason() -> None:
    state, events = execute(acked(), Escalate(stage=3, reason=" keine Lösung "), at(11))
    assert events == [
        Escalated(
            at=at(11),
            stage=3,
            previous=0,
            trigger=EscalationTrigger.OPERATOR,
            reason="keine Lösung",
            by=EscalatedBy.COMPANY,
        )
    ]
    assert state.escalation_stage == 3


def test_the_extended_escalation_from_stage_0_is_refused() -> None:
    refused(acked(), Escalate(stage="extended", reason="Kunde"), at(11), InvalidEscalation)


def _at_stage(stage: int) -> IncidentState:
    state = acked()
    if stage >= 1:
        state = apply(state, MissEstimate(), at(12))
    if stage >= 2:
        state = apply(state, ExtendEstimate(estimate=at(15), reason="neu"), at(12, 10))
        state = apply(state, MissEstimate(), at(15))
    if stage >= 3:
        state = apply(state, Escalate(stage=3, reason="keine Lösung"), at(15, 10))
    assert state.escalation_stage == stage
    return state


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_the_extended_escalation_follows_any_earlier_stage(stage: int) -> None:
    state, events = execute(
        _at_stage(stage),
        Escalate(stage="extended", reason="Kunde fordert", by=EscalatedBy.CUSTOMER),
        at(16),
    )
    assert types(events) == ["escalated"]
    assert event(events, 0, Escalated).previous == stage
    assert event(events, 0, Escalated).by is EscalatedBy.CUSTOMER
    assert state.escalation_stage == "extended"


@pytest.mark.parametrize(("stage", "target"), [(3, 3), ("extended", 3), ("extended", "extended")])
def test_escalating_to_a_lower_or_equal_stage_is_refused(
    stage: int | str, target: Literal[3, "extended"]
) -> None:
    state = _at_stage(3)
    if stage == "extended":
        state = apply(state, Escalate(stage="extended", reason="Kunde"), at(16))
    refused(state, Escalate(stage=target, reason="nochmal"), at(16, 30), InvalidEscalation)


@pytest.mark.parametrize("reason", ["", " "])
def test_escalating_without_a_reason_is_refused(reason: str) -> None:
    refused(acked(), Escalate(stage=3, reason=reason), at(11), MissingText)


@pytest.mark.parametrize("by", list(EscalatedBy))
def test_an_escalation_records_who_triggered_it(by: EscalatedBy) -> None:
    _, events = execute(acked(), Escalate(stage=3, reason="keine Lösung", by=by), at(11))
    assert event(events, 0, Escalated).by is by


def test_escalating_to_stage_3_above_an_automatic_stage_is_allowed() -> None:
    state, events = execute(_at_stage(2), Escalate(stage=3, reason="keine Lösung"), at(16))
    assert event(events, 0, Escalated).previous == 2
    assert state.escalation_stage == 3


# -- decide_resources ----------------------------------------------------------------


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_a_resource_decision_below_stage_3_is_refused(stage: int) -> None:
    refused(
        _at_stage(stage), DecideResources(decision="zwei Entwickler"), at(16), InvalidEscalation
    )


def test_a_resource_decision_at_stage_3_is_recorded() -> None:
    state, events = execute(_at_stage(3), DecideResources(decision="zwei Entwickler"), at(16))
    assert events == [ResourcesDecided(at=at(16), decision="zwei Entwickler")]
    assert state.management_decision == "zwei Entwickler"


def test_an_empty_resource_decision_is_refused() -> None:
    refused(_at_stage(3), DecideResources(decision=" "), at(16), MissingText)


# -- status updates -------------------------------------------------------------------


def test_a_status_update_for_an_unpublished_incident_is_refused() -> None:
    refused(acked(), PostStatusUpdate(message="Wir arbeiten daran"), at(11), NotPublished)


def test_a_status_update_for_all_users_publishes_the_incident() -> None:
    state, events = execute(
        acked(), PostStatusUpdate(message="Wir arbeiten daran", all_users=True), at(11)
    )
    assert events == [
        StatusPublished(at=at(11), message="Wir arbeiten daran", expected_resolution=at(12))
    ]
    assert state.on_status_page
    assert state.all_users


def test_a_status_update_of_a_published_incident_carries_the_current_estimate() -> None:
    state = apply(acked(all_users=True), ExtendEstimate(estimate=at(14), reason="x"), at(11))
    _, events = execute(state, PostStatusUpdate(message="Fortschritt"), at(11, 30))
    assert events == [
        StatusUpdated(at=at(11, 30), message="Fortschritt", expected_resolution=at(14))
    ]


def test_an_empty_status_message_is_refused() -> None:
    refused(acked(all_users=True), PostStatusUpdate(message="  "), at(11), MissingText)


# -- resolve ---------------------------------------------------------------------------


@pytest.mark.parametrize("summary", ["", "   "])
def test_resolving_without_a_summary_is_refused(summary: str) -> None:
    refused(acked(), Resolve(summary=summary), at(11), MissingText)


def test_resolving_a_new_incident_before_the_reaction_deadline_meets_both() -> None:
    state, events = execute(opened(), Resolve(summary="Cache geleert"), at(10))
    assert events == [
        Resolved(at=at(10), summary="Cache geleert", reaction_met=True, resolution_met=True)
    ]
    assert state.status is IncidentStatus.RESOLVED
    assert state.resolved_at == at(10)
    assert state.resolution_summary == "Cache geleert"


def test_resolving_a_new_incident_after_the_reaction_deadline_catches_up_the_breach() -> None:
    _, events = execute(opened(), Resolve(summary="behoben"), at(11))
    assert types(events) == ["reaction_breached", "resolved"]
    assert event(events, 1, Resolved).reaction_met is False


def test_resolving_after_the_resolution_deadline_catches_up_the_breach() -> None:
    state = acked(opened(**CRITICAL_FACTS), estimate=at(16))
    state, events = execute(state, Resolve(summary="behoben"), at(14))
    assert events == [
        ResolutionBreached(at=at(14), due=at(13, 30), customer_informed=False),
        Resolved(at=at(14), summary="behoben", reaction_met=True, resolution_met=False),
    ]
    assert state.resolution_breached


def test_resolving_a_published_incident_resolves_the_status_page() -> None:
    _, events = execute(acked(all_users=True), Resolve(summary="behoben"), at(11))
    assert types(events) == ["resolved", "status_resolved"]
    assert events[1] == StatusResolved(at=at(11), message="behoben")


@pytest.mark.parametrize(
    "command",
    [
        Acknowledge(severity=MAJOR, estimate=at(15)),
        Reclassify(severity=MINOR, reason="x"),
        ExtendEstimate(estimate=at(15), reason="x"),
        Escalate(stage=3, reason="x"),
        DecideResources(decision="x"),
        PostStatusUpdate(message="x", all_users=True),
        Resolve(summary="nochmal"),
        MissEstimate(),
        BreachReaction(),
        BreachResolution(),
        WarnDeadline(deadline=DeadlineKind.RESOLUTION),
        PageOnDuty(reason=PageReason.RECEIVED),
    ],
    ids=lambda c: c.kind,
)
def test_nothing_is_accepted_after_resolution(command: Command) -> None:
    state = apply(acked(), Resolve(summary="behoben"), at(11))
    error = refused(state, command, at(14, day=16, month=12), WrongStatus)
    assert "resolved" in error.message


def test_no_timers_are_pending_after_resolution() -> None:
    state = apply(acked(opened(**CRITICAL_FACTS)), Resolve(summary="behoben"), at(11))
    assert pending_timers(state) == []


# -- breach timers ------------------------------------------------------------------------


def test_the_reaction_breach_is_not_due_before_the_deadline() -> None:
    refused(opened(), BreachReaction(), at(10, 29), NotDue)


def test_the_reaction_breach_is_recorded_at_the_deadline() -> None:
    state, events = execute(opened(), BreachReaction(), at(10, 30))
    assert events == [ReactionBreached(at=at(10, 30), due=at(10, 30))]
    assert state.reaction_breached
    assert state.breached


def test_the_reaction_breach_is_recorded_once() -> None:
    refused(apply(opened(), BreachReaction(), at(10, 30)), BreachReaction(), at(11), AlreadyDone)


def test_the_reaction_breach_cannot_happen_after_acknowledgement() -> None:
    refused(acked(), BreachReaction(), at(10, 30), WrongStatus)


def test_the_resolution_breach_is_not_due_before_the_deadline() -> None:
    refused(acked(opened(**CRITICAL_FACTS)), BreachResolution(), at(13, 29), NotDue)


def test_the_resolution_breach_is_recorded_at_the_deadline_after_acknowledgement() -> None:
    state, events = execute(acked(opened(**CRITICAL_FACTS)), BreachResolution(), at(13, 30))
    assert types(events) == ["resolution_breached"]
    assert events[0] == ResolutionBreached(at=at(13, 30), due=at(13, 30), customer_informed=False)
    assert state.resolution_breached


def test_the_resolution_breach_is_recorded_once() -> None:
    state = apply(acked(opened(**CRITICAL_FACTS)), BreachResolution(), at(13, 30))
    refused(state, BreachResolution(), at(14), AlreadyDone)


def test_a_breach_timer_does_not_catch_up_other_deadlines() -> None:
    # The estimate (12:00) passed too, but a timer command records only its own fact.
    _, events = execute(acked(opened(**CRITICAL_FACTS)), BreachResolution(), at(13, 30))
    assert types(events) == ["resolution_breached"]


# -- warnings ---------------------------------------------------------------------------


def test_the_reaction_warning_is_not_due_before_75_percent() -> None:
    refused(opened(), WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 14), NotDue)


def test_the_reaction_warning_fires_at_75_percent_of_the_reaction_time() -> None:
    assert DEADLINES[MAJOR].reaction_warning == at(10, 15)
    _, events = execute(opened(), WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 15))
    assert events == [DeadlineWarned(at=at(10, 15), kind=DeadlineKind.REACTION, due=at(10, 30))]


def test_the_resolution_warning_fires_at_75_percent_of_the_resolution_time() -> None:
    state = acked(opened(**CRITICAL_FACTS), estimate=at(13))
    refused(state, WarnDeadline(deadline=DeadlineKind.RESOLUTION), at(12, 29), NotDue)
    _, events = execute(state, WarnDeadline(deadline=DeadlineKind.RESOLUTION), at(12, 30))
    assert events == [DeadlineWarned(at=at(12, 30), kind=DeadlineKind.RESOLUTION, due=at(13, 30))]


@pytest.mark.parametrize("kind", list(DeadlineKind))
def test_a_warning_is_sent_once_per_deadline(kind: DeadlineKind) -> None:
    state = opened(**CRITICAL_FACTS)
    due = state.reaction_due if kind is DeadlineKind.REACTION else state.resolution_due
    warning = (
        state.current_deadlines.reaction_warning
        if kind is DeadlineKind.REACTION
        else state.current_deadlines.resolution_warning
    )
    state = apply(state, WarnDeadline(deadline=kind), warning)
    assert state.was_warned(kind, due)
    assert WarnDeadline(deadline=kind) not in [t.command for t in pending_timers(state)]
    refused(state, WarnDeadline(deadline=kind), warning + timedelta(minutes=5), AlreadyDone)


def test_no_reaction_warning_after_acknowledgement() -> None:
    refused(acked(), WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 15), WrongStatus)


def test_no_resolution_warning_after_the_resolution_breach() -> None:
    state = apply(acked(opened(**CRITICAL_FACTS), estimate=at(16)), BreachResolution(), at(13, 30))
    refused(state, WarnDeadline(deadline=DeadlineKind.RESOLUTION), at(13, 31), WrongStatus)


def test_a_reclassification_with_another_due_allows_the_warning_again() -> None:
    state = apply(opened(), WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 15))
    state = apply(state, Reclassify(severity=MINOR, reason="Workaround"), at(10, 20))
    warning = DEADLINES[MINOR].reaction_warning
    assert warning == at(17, 30, day=25)
    assert TimerDue(
        at=warning, command=WarnDeadline(deadline=DeadlineKind.REACTION)
    ) in pending_timers(state)
    _, events = execute(state, WarnDeadline(deadline=DeadlineKind.REACTION), warning)
    assert events == [
        DeadlineWarned(at=warning, kind=DeadlineKind.REACTION, due=DEADLINES[MINOR].reaction_due)
    ]


def test_a_reclassification_with_the_same_due_does_not_repeat_the_warning() -> None:
    # Critical and major share the 1 h reaction time: the due does not move.
    state = apply(opened(), WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 15))
    state = apply(state, Reclassify(severity=CRITICAL, reason="Login"), at(10, 20))
    refused(state, WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 25), AlreadyDone)


# -- paging on-duty (critical) -------------------------------------------------------------


def test_a_critical_incident_pages_on_duty_at_receipt_first() -> None:
    timers = pending_timers(opened(**CRITICAL_FACTS))
    assert timers[0] == TimerDue(at=TUE, command=PageOnDuty(reason=PageReason.RECEIVED))


def test_the_receipt_page_is_recorded_with_its_reminder() -> None:
    state, events = execute(
        opened(**CRITICAL_FACTS),
        PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=at(10)),
        TUE,
    )
    assert events == [OnDutyPaged(at=TUE, reason=PageReason.RECEIVED, next_reminder_at=at(10))]
    assert state.pages_sent == 1
    assert state.next_reminder_at == at(10)


def test_the_receipt_page_is_sent_once() -> None:
    state = apply(opened(**CRITICAL_FACTS), PageOnDuty(reason=PageReason.RECEIVED), TUE)
    refused(state, PageOnDuty(reason=PageReason.RECEIVED), at(9, 31), AlreadyDone)


def test_a_critical_report_late_on_friday_is_paged_again_at_the_next_opening() -> None:
    pages = POLICY.critical_pages(FRI_LATE)
    assert pages == [FRI_LATE, MON_OPENING]
    state = opened(FRI_LATE, pages[1], **CRITICAL_FACTS)
    assert pending_timers(state)[0].command == PageOnDuty(reason=PageReason.RECEIVED)
    state = apply(state, PageOnDuty(reason=PageReason.RECEIVED), FRI_LATE)
    next_opening = TimerDue(at=MON_OPENING, command=PageOnDuty(reason=PageReason.NEXT_OPENING))
    assert next_opening in pending_timers(state)
    refused(state, PageOnDuty(reason=PageReason.NEXT_OPENING), at(7, 59, day=30), NotDue)
    state, events = execute(state, PageOnDuty(reason=PageReason.NEXT_OPENING), MON_OPENING)
    assert events == [
        OnDutyPaged(at=MON_OPENING, reason=PageReason.NEXT_OPENING, next_reminder_at=None)
    ]
    assert state.next_opening_page is None
    assert next_opening not in pending_timers(state)


def test_a_critical_report_early_in_the_day_is_paged_once() -> None:
    assert POLICY.critical_pages(TUE) == [TUE]


def test_on_duty_is_reminded_while_the_incident_is_new() -> None:
    state = apply(
        opened(**CRITICAL_FACTS),
        PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=at(10)),
        TUE,
    )
    reminder = TimerDue(at=at(10), command=PageOnDuty(reason=PageReason.REMINDER))
    assert reminder in pending_timers(state)
    refused(state, PageOnDuty(reason=PageReason.REMINDER), at(9, 59), NotDue)
    state, events = execute(
        state, PageOnDuty(reason=PageReason.REMINDER, next_reminder_at=at(10, 30)), at(10)
    )
    assert events == [
        OnDutyPaged(at=at(10), reason=PageReason.REMINDER, next_reminder_at=at(10, 30))
    ]
    assert state.pages_sent == 2
    assert state.next_reminder_at == at(10, 30)


def test_a_reminder_must_be_scheduled_in_the_future() -> None:
    state = opened(**CRITICAL_FACTS)
    refused(state, PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=TUE), TUE, NotDue)


def test_no_pages_after_acknowledgement() -> None:
    state = apply(
        opened(**CRITICAL_FACTS),
        PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=at(10)),
        TUE,
    )
    state = acked(state, estimate=at(13), now=at(9, 50))
    assert state.next_reminder_at is None
    assert not [t for t in pending_timers(state) if isinstance(t.command, PageOnDuty)]
    refused(state, PageOnDuty(reason=PageReason.REMINDER), at(10), WrongStatus)
    refused(state, PageOnDuty(reason=PageReason.NEXT_OPENING), at(10), WrongStatus)


def test_no_pages_after_acknowledgement_of_a_late_friday_report() -> None:
    state = opened(FRI_LATE, MON_OPENING, **CRITICAL_FACTS)
    state = apply(state, PageOnDuty(reason=PageReason.RECEIVED), FRI_LATE)
    state = apply(state, Acknowledge(severity=CRITICAL, estimate=at(12, day=30)), at(17, 45, 27))
    assert not [t for t in pending_timers(state) if isinstance(t.command, PageOnDuty)]


@pytest.mark.parametrize("facts", [{}, MINOR_FACTS])
def test_paging_is_refused_for_a_non_critical_incident(facts: dict[str, Any]) -> None:
    refused(opened(**facts), PageOnDuty(reason=PageReason.RECEIVED), TUE, WrongStatus)


def test_a_non_critical_incident_has_no_page_timers() -> None:
    assert not [t for t in pending_timers(opened()) if isinstance(t.command, PageOnDuty)]


# -- pending timers ---------------------------------------------------------------------


def test_pending_timers_of_a_new_major_incident_in_order() -> None:
    major = DEADLINES[MAJOR]
    assert pending_timers(opened()) == [
        TimerDue(at=major.reaction_warning, command=WarnDeadline(deadline=DeadlineKind.REACTION)),
        TimerDue(at=major.reaction_due, command=BreachReaction()),
        TimerDue(
            at=major.resolution_warning, command=WarnDeadline(deadline=DeadlineKind.RESOLUTION)
        ),
        TimerDue(at=major.resolution_due, command=BreachResolution()),
    ]


def test_pending_timers_are_sorted_by_instant() -> None:
    state = apply(
        opened(FRI_LATE, MON_OPENING, **CRITICAL_FACTS),
        PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=at(8, 30, day=30)),
        FRI_LATE,
    )
    instants = [t.at for t in pending_timers(state)]
    assert instants == sorted(instants)
    assert len(instants) == 6  # next opening, reminder, two warnings, two breaches


def test_pending_timers_wait_for_the_estimate_after_acknowledgement() -> None:
    timers = pending_timers(acked())
    assert TimerDue(at=at(12), command=MissEstimate()) in timers
    assert not [t for t in timers if isinstance(t.command, BreachReaction)]
    assert not [t for t in timers if t.command == WarnDeadline(deadline=DeadlineKind.REACTION)]


def test_pending_timers_drop_a_failed_estimate_and_a_recorded_breach() -> None:
    state = apply(acked(opened(**CRITICAL_FACTS), estimate=at(13)), MissEstimate(), at(13))
    state = apply(state, BreachResolution(), at(13, 30))
    commands = [t.command for t in pending_timers(state)]
    assert MissEstimate() not in commands
    assert BreachResolution() not in commands


# -- outcome --------------------------------------------------------------------------------


def test_outcome_counts_business_time_over_the_weekend() -> None:
    state = opened(FRI_LATE, MON_OPENING, **CRITICAL_FACTS)
    assert state.reaction_due == at(8, 30, day=30)
    assert state.resolution_due == at(11, 30, day=30)
    state = apply(state, PageOnDuty(reason=PageReason.RECEIVED), FRI_LATE)
    state = apply(state, Acknowledge(severity=CRITICAL, estimate=at(11, day=30)), at(8, 15, day=30))
    result = outcome(state, POLICY.calendar)
    assert result.time_to_react == timedelta(minutes=45)
    assert result.reaction_met is True
    assert result.time_to_resolve is None
    assert result.resolution_met is None
    state = apply(state, Resolve(summary="Login wieder möglich"), at(10, day=30))
    result = outcome(state, POLICY.calendar)
    assert result.time_to_resolve == timedelta(hours=2, minutes=30)
    assert result.resolution_met is True
    assert result.status is IncidentStatus.RESOLVED
    assert result.severity is CRITICAL


def test_outcome_of_an_incident_not_yet_reacted_to() -> None:
    result = outcome(opened(), POLICY.calendar)
    assert result.status is IncidentStatus.NEW
    assert result.reaction_met is None
    assert result.resolution_met is None
    assert result.time_to_react is None
    assert result.highest_stage == 0


def test_outcome_of_an_incident_resolved_before_acknowledgement() -> None:
    state = apply(opened(), Resolve(summary="Cache geleert"), at(10))
    result = outcome(state, POLICY.calendar)
    assert result.time_to_react == result.time_to_resolve == timedelta(minutes=30)
    assert result.reaction_met is True


def test_outcome_reports_breaches_stage_and_failed_estimates() -> None:
    state = acked(opened(**CRITICAL_FACTS), estimate=at(12))
    state = apply(state, MissEstimate(), at(12))
    state = apply(state, ExtendEstimate(estimate=at(15), reason="neu"), at(12, 5))
    state = apply(state, Escalate(stage=3, reason="keine Lösung"), at(13))
    state = apply(state, Resolve(summary="behoben"), at(14))
    result = outcome(state, POLICY.calendar)
    assert result.highest_stage == 3
    assert result.failed_estimates == 1
    assert result.reaction_met is True
    assert result.resolution_met is False
    assert result.resolution_breached
    assert not result.reaction_breached


# -- serialization --------------------------------------------------------------------------


def _full_lifecycle() -> IncidentState:
    state = opened(channel=Channel.MONITORING, **CRITICAL_FACTS)
    steps: list[tuple[Command, datetime]] = [
        (PageOnDuty(reason=PageReason.RECEIVED, next_reminder_at=at(10)), TUE),
        (PageOnDuty(reason=PageReason.REMINDER, next_reminder_at=at(10, 30)), at(10)),
        (WarnDeadline(deadline=DeadlineKind.REACTION), at(10, 15)),
        (Acknowledge(severity=CRITICAL, estimate=at(12), status_message="Störung"), at(10, 45)),
        (PostStatusUpdate(message="Ursache gefunden"), at(11)),
        (MissEstimate(), at(12)),
        (ExtendEstimate(estimate=at(13), reason="Datenbank"), at(12, 5)),
        (ExtendEstimate(estimate=at(16), reason="Datenbank"), at(12, 10)),
        (WarnDeadline(deadline=DeadlineKind.RESOLUTION), at(12, 30)),
        (Escalate(stage=3, reason="keine Lösung"), at(12, 40)),
        (DecideResources(decision="zwei Entwickler"), at(13)),
        (Escalate(stage="extended", reason="Kunde", by=EscalatedBy.CUSTOMER), at(13, 10)),
        (BreachResolution(), at(13, 30)),
        (Reclassify(severity=MAJOR, reason="Login geht wieder"), at(13, 40)),
        (Resolve(summary="behoben"), at(15)),
    ]
    for command, now in steps:
        state = apply(state, command, now)
    return state


def test_a_full_lifecycle_touches_every_event_type() -> None:
    state = _full_lifecycle()
    assert set(types(state.events)) == {
        "reported",
        "status_published",
        "on_duty_paged",
        "deadline_warned",
        "reaction_breached",
        "acknowledged",
        "status_updated",
        "estimate_missed",
        "escalated",
        "estimate_extended",
        "resources_decided",
        "reclassified",
        "resolution_breached",
        "resolved",
        "status_resolved",
    }
    assert state.escalation_stage == "extended"
    assert state.failed_estimates == 2


def test_state_and_events_survive_a_json_round_trip() -> None:
    state = _full_lifecycle()
    assert IncidentState.model_validate_json(state.model_dump_json()) == state


def test_folding_the_recorded_events_reproduces_the_state() -> None:
    state = _full_lifecycle()
    assert fold(None, state.events) == state
