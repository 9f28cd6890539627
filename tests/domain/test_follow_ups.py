"""Every next step the SLA expects is watched until it is done (issue 16; rules 3).

A small driver plays the workflow's part: it asks the domain which follow-ups
need an instant, computes them with the policy's business calendar (as the
``add_business_time`` local activity does), and fires every timer that falls
due, at its own instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidEscalation, InvalidEstimate, NotDue, WrongStatus
from domain.events import DiscussionRecorded
from domain.follow_up import ScheduledFollowUp, active_follow_ups, follow_ups_to_schedule
from domain.incident import (
    RULES,
    Acknowledge,
    DecideResources,
    Escalate,
    ExtendEstimate,
    FollowUp,
    FollowUpReminded,
    IncidentState,
    MissEstimate,
    OpenIncident,
    PageOnDuty,
    PostStatusUpdate,
    Reclassified,
    Reclassify,
    RecordDiscussion,
    ReestimateOverdue,
    RemindFollowUp,
    Resolve,
    execute,
    pending_timers,
)
from domain.notifications import MessageKind, notifications_for
from domain.sla import Severity
from tests.domain.test_incident import POLICY, TUE, make_report

CAL = POLICY.calendar
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
CONTACTS = POLICY.contacts


def opened(rules: int = RULES, **facts: object) -> IncidentState:
    received = TUE
    pages = POLICY.critical_pages(received)
    state, _ = execute(
        None,
        OpenIncident(
            ticket_id="SLA-1",
            report=make_report(**facts),
            received_at=received,
            deadlines=POLICY.all_deadlines(received),
            next_opening_page=pages[1] if len(pages) > 1 else None,
            rules=rules,
        ),
        received,
    )
    return state


def settle(
    state: IncidentState,
    until: datetime,
    scheduled: dict[FollowUp, ScheduledFollowUp] | None = None,
) -> IncidentState:
    """Run the workflow's loop up to ``until`` (exclusive): schedule, then fire what is due.

    ``scheduled`` plays the workflow's own record of computed instants.
    """
    scheduled = {} if scheduled is None else scheduled
    while True:
        for need in follow_ups_to_schedule(state, POLICY.follow_up, scheduled):
            scheduled[need.kind] = ScheduledFollowUp(
                after=need.after, due=CAL.add(need.after, need.every)
            )
        timers = pending_timers(state, scheduled)
        if not timers or timers[0].at >= until:
            return state
        timer = timers[0]
        at = max(timer.at, state.events[-1].at)
        command = timer.command
        if isinstance(command, PageOnDuty):
            command = command.model_copy(
                update={"next_reminder_at": CAL.add(at, POLICY.alerts.critical_reminder_every)}
            )
        if isinstance(command, MissEstimate) and state.rules >= 3:
            within = POLICY.follow_up.reestimate_within[state.severity]
            command = command.model_copy(update={"reestimate_due": CAL.add(at, within)})
        state, _ = execute(state, command, at)


def reminders(state: IncidentState, kind: FollowUp) -> list[FollowUpReminded]:
    return [e for e in state.events if isinstance(e, FollowUpReminded) and e.kind is kind]


def mails(state: IncidentState, kind: MessageKind) -> list[tuple[str, ...]]:
    return [
        n.to
        for sequence in range(len(state.events))
        for n in notifications_for(state, sequence, POLICY)
        if n.kind is kind
    ]


def missed_major(rules: int = RULES) -> tuple[IncidentState, datetime]:
    """A major incident whose first estimate (one hour after acknowledgement) passed."""
    state = opened(rules, login_impossible=False)
    ack_at = TUE + 10 * MINUTE
    state, _ = execute(state, Acknowledge(severity=Severity.MAJOR, estimate=ack_at + HOUR), ack_at)
    miss = ack_at + HOUR
    return settle(state, miss + MINUTE), miss


# -- the new estimate after a miss ------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(business_minutes=st.integers(min_value=1, max_value=1500))
def test_a_missed_estimate_is_reminded_until_a_new_one_and_overdue_after_the_policy_time(
    business_minutes: int,
) -> None:
    state, miss = missed_major()
    answered_at = CAL.add(miss, business_minutes * MINUTE)
    state = settle(state, answered_at)
    state, _ = execute(
        state,
        ExtendEstimate(estimate=answered_at + 200 * HOUR, reason="Ersatzteil bestellt"),
        answered_at,
    )
    every = POLICY.follow_up.reestimate_reminder_every // MINUTE
    within = POLICY.follow_up.reestimate_within[Severity.MAJOR] // MINUTE
    # Oracle: a reminder every `every` business minutes strictly before the answer;
    # the new estimate is overdue when it came at or after the policy time.
    assert len(reminders(state, FollowUp.REESTIMATE)) == (business_minutes - 1) // every
    overdue = [e for e in state.events if isinstance(e, ReestimateOverdue)]
    assert len(overdue) == (1 if business_minutes >= within else 0)
    if overdue:
        assert overdue[0].missed_at == miss
        assert overdue[0].due == CAL.add(miss, within * MINUTE)
    # Answered: nothing more about this miss, however long it stays open.
    later = settle(state, answered_at + 150 * HOUR)
    assert len(reminders(later, FollowUp.REESTIMATE)) == len(reminders(state, FollowUp.REESTIMATE))
    assert FollowUp.REESTIMATE not in active_follow_ups(later)


def test_reminders_go_to_on_duty_and_the_support_lead_and_overdue_to_the_support_lead() -> None:
    state, miss = missed_major()
    state = settle(state, CAL.add(miss, 5 * HOUR))
    assert set(mails(state, MessageKind.FOLLOW_UP_REMINDER)) == {
        (CONTACTS.on_duty, CONTACTS.support_lead)
    }
    assert mails(state, MessageKind.REESTIMATE_OVERDUE) == [(CONTACTS.support_lead,)]
    assert all(e.since == miss for e in reminders(state, FollowUp.REESTIMATE))


def test_an_answer_racing_the_overdue_timer_is_still_overdue() -> None:
    state, miss = missed_major()
    due = CAL.add(miss, POLICY.follow_up.reestimate_within[Severity.MAJOR])
    state = settle(state, due)  # the overdue timer has not fired yet
    state, events = execute(
        state, ExtendEstimate(estimate=due + 100 * HOUR, reason="Ersatzteil"), due
    )
    assert isinstance(events[0], ReestimateOverdue)


def test_incidents_opened_before_rule_set_3_have_no_follow_ups() -> None:
    state, miss = missed_major(rules=2)
    state = settle(state, miss + 20 * HOUR)
    assert active_follow_ups(state) == {}
    assert not follow_ups_to_schedule(state, POLICY.follow_up, {})
    assert not reminders(state, FollowUp.REESTIMATE)
    assert not [e for e in state.events if isinstance(e, ReestimateOverdue)]


def test_a_reminder_counted_from_an_old_anchor_is_refused() -> None:
    state, miss = missed_major()
    stale = RemindFollowUp(follow_up=FollowUp.REESTIMATE, after=miss - HOUR, due=miss)
    with pytest.raises(NotDue):
        execute(state, stale, miss + HOUR)
    early = RemindFollowUp(follow_up=FollowUp.REESTIMATE, after=miss, due=miss + HOUR)
    with pytest.raises(NotDue):
        execute(state, early, miss + MINUTE)
    with pytest.raises(WrongStatus):  # stage 1: no discussion is due
        execute(
            state,
            RemindFollowUp(follow_up=FollowUp.DISCUSSION, after=miss, due=miss),
            miss + HOUR,
        )
    # Old instants simply do not apply once the step is done.
    done, _ = execute(state, ExtendEstimate(estimate=miss + 9 * HOUR, reason="x"), miss + HOUR)
    assert pending_timers(done, {FollowUp.REESTIMATE: ScheduledFollowUp(after=miss, due=miss)}) == [
        t for t in pending_timers(done) if not isinstance(t.command, RemindFollowUp)
    ]


# -- interim status updates --------------------------------------------------------


def test_a_public_disturbance_prompts_for_interim_updates_counted_from_the_last_post() -> None:
    state = opened(login_impossible=False)
    ack_at = TUE + 5 * MINUTE
    state, _ = execute(
        state,
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=ack_at + 100 * HOUR,
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
        ack_at,
    )
    every = POLICY.follow_up.status_update_every
    state = settle(state, CAL.add(ack_at, 2 * every) + MINUTE)
    prompts = reminders(state, FollowUp.STATUS_UPDATE)
    assert [p.at for p in prompts] == [CAL.add(ack_at, every), CAL.add(ack_at, 2 * every)]
    posted_at = CAL.add(ack_at, 2 * every + 30 * MINUTE)
    state = settle(state, posted_at)
    state, _ = execute(state, PostStatusUpdate(message="Wir tauschen den Server."), posted_at)
    state = settle(state, CAL.add(posted_at, every) + MINUTE)
    after = [p for p in reminders(state, FollowUp.STATUS_UPDATE) if p.at > posted_at]
    assert [p.at for p in after] == [CAL.add(posted_at, every)]
    assert after[0].since == posted_at


def test_a_disturbance_not_on_the_status_page_is_not_prompted() -> None:
    state = opened(login_impossible=False)
    state, _ = execute(
        state, Acknowledge(severity=Severity.MAJOR, estimate=TUE + 100 * HOUR), TUE + MINUTE
    )
    state = settle(state, TUE + 30 * HOUR)
    assert not reminders(state, FollowUp.STATUS_UPDATE)


# -- stage 2 and stage 3 ------------------------------------------------------------


def second_miss() -> tuple[IncidentState, datetime]:
    """Two estimates missed: stage 2."""
    state, miss = missed_major()
    extended_at = miss + 5 * MINUTE
    state, _ = execute(
        state, ExtendEstimate(estimate=extended_at + HOUR, reason="Ersatzteil"), extended_at
    )
    second = extended_at + HOUR
    state = settle(state, second + MINUTE)
    assert state.escalation_stage == 2
    return state, second


def test_stage_2_asks_for_the_discussion_until_it_is_recorded() -> None:
    state, stage_2_at = second_miss()
    every = POLICY.follow_up.discussion_reminder_every
    state = settle(state, CAL.add(stage_2_at, 2 * every) + MINUTE)
    asked = reminders(state, FollowUp.DISCUSSION)
    assert [a.at for a in asked] == [CAL.add(stage_2_at, every), CAL.add(stage_2_at, 2 * every)]
    at = asked[-1].at + MINUTE
    state, events = execute(
        state,
        RecordDiscussion(note="Workaround per CSV vereinbart", experts=("Netzwerk", "Netzwerk")),
        at,
    )
    assert events == [
        DiscussionRecorded(at=at, note="Workaround per CSV vereinbart", experts=("Netzwerk",))
    ]
    state = settle(state, CAL.add(at, 3 * every))
    assert len(reminders(state, FollowUp.DISCUSSION)) == 2
    assert FollowUp.DISCUSSION not in active_follow_ups(state)


def test_a_discussion_belongs_to_stage_2() -> None:
    state, miss = missed_major()  # stage 1
    with pytest.raises(InvalidEscalation, match="stage 2"):
        execute(state, RecordDiscussion(note="zu früh"), miss + MINUTE)


def test_stage_3_reminds_management_until_it_decides() -> None:
    state = opened(login_impossible=False)
    state, _ = execute(
        state, Acknowledge(severity=Severity.MAJOR, estimate=TUE + 100 * HOUR), TUE + MINUTE
    )
    escalated_at = TUE + 10 * MINUTE
    state, _ = execute(state, Escalate(stage=3, reason="Kunde verlangt es"), escalated_at)
    every = POLICY.follow_up.decision_reminder_every
    state = settle(state, CAL.add(escalated_at, every) + MINUTE)
    assert mails(state, MessageKind.FOLLOW_UP_REMINDER) == [
        (CONTACTS.management, CONTACTS.support_lead)
    ]
    decided_at = CAL.add(escalated_at, every + 5 * MINUTE)
    state, _ = execute(state, DecideResources(decision="Externer Dienstleister"), decided_at)
    state = settle(state, CAL.add(decided_at, 5 * every))
    assert len(reminders(state, FollowUp.DECISION)) == 1


# -- critical incidents stay on the desk ------------------------------------------


def test_an_acknowledged_critical_incident_is_reminded_until_resolved() -> None:
    state = opened(login_impossible=True)
    ack_at = TUE + 20 * MINUTE
    state = settle(state, ack_at)
    state, _ = execute(
        state, Acknowledge(severity=Severity.CRITICAL, estimate=ack_at + 3 * HOUR), ack_at
    )
    every = POLICY.follow_up.critical_open_reminder_every
    state = settle(state, CAL.add(ack_at, 2 * every) + MINUTE)
    open_reminders = reminders(state, FollowUp.CRITICAL_OPEN)
    assert [r.at for r in open_reminders] == [CAL.add(ack_at, every), CAL.add(ack_at, 2 * every)]
    resolved_at = open_reminders[-1].at + MINUTE
    state, _ = execute(state, Resolve(summary="Server getauscht"), resolved_at)
    assert pending_timers(state) == []
    assert active_follow_ups(state) == {}


# -- estimates after the resolution deadline ----------------------------------------


def test_an_estimate_after_the_resolution_deadline_needs_a_reason_the_customer_reads() -> None:
    state = opened(login_impossible=True)
    due = state.deadlines[Severity.CRITICAL].resolution_due
    late = Acknowledge(severity=Severity.CRITICAL, estimate=due + HOUR)
    with pytest.raises(InvalidEstimate, match="give a reason"):
        execute(state, late, TUE + MINUTE)
    reasoned = late.model_copy(update={"estimate_reason": "Hardware wird erst morgen geliefert"})
    state, events = execute(state, reasoned, TUE + MINUTE)
    assert events[-1].estimate_reason == "Hardware wird erst morgen geliefert"  # type: ignore[union-attr]
    # Within the deadline no reason is asked for, and none is recorded.
    fresh = opened(login_impossible=True)
    _, events = execute(
        fresh,
        Acknowledge(severity=Severity.CRITICAL, estimate=due, estimate_reason="unnötig"),
        TUE + MINUTE,
    )
    assert events[-1].estimate_reason is None  # type: ignore[union-attr]
    # Incidents opened under rule set 2 decide as they recorded.
    _, events = execute(opened(rules=2, login_impossible=True), late, TUE + MINUTE)
    assert events


def test_a_reclassification_before_the_live_estimate_needs_a_new_estimate() -> None:
    state = opened(login_impossible=False)
    state, _ = execute(
        state, Acknowledge(severity=Severity.MAJOR, estimate=TUE + 20 * HOUR), TUE + MINUTE
    )
    at = TUE + 10 * MINUTE
    critical_due = state.deadlines[Severity.CRITICAL].resolution_due
    assert critical_due < TUE + 20 * HOUR
    to_critical = Reclassify(severity=Severity.CRITICAL, reason="Versand steht")
    with pytest.raises(InvalidEstimate, match="give a new estimate"):
        execute(state, to_critical, at)
    with_estimate = to_critical.model_copy(update={"estimate": critical_due - HOUR})
    state, events = execute(state, with_estimate, at)
    reclassified = events[-1]
    assert isinstance(reclassified, Reclassified)
    assert reclassified.estimate == critical_due - HOUR
    assert state.estimate == critical_due - HOUR and not state.estimate_failed
    # Under rule set 2 the old estimate simply stays.
    old = opened(rules=2, login_impossible=False)
    old, _ = execute(
        old, Acknowledge(severity=Severity.MAJOR, estimate=TUE + 20 * HOUR), TUE + MINUTE
    )
    old, _ = execute(old, to_critical, at)
    assert old.estimate == TUE + 20 * HOUR
