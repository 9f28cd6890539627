"""Tests for reopening a resolved incident (``[reopen]``; docs/SLA.md "Reopen").

The incident of ``tests.domain.test_incident`` (Tuesday 2026-11-24 09:30, major,
acknowledged at 10:00) is resolved at 11:00 and reopened later. The window of
the shipped policy is 10 business days after the day of resolution: Wed 25.11.
… Tue 08.12. (no holiday in between), so it ends at midnight before Wed 09.12.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import reopen
from domain.errors import MissingText, WrongStatus
from domain.incident import (
    Acknowledge,
    BreachReaction,
    ClassifyAsChangeRequest,
    DeadlineKind,
    DeadlineWarned,
    Escalate,
    IncidentReopened,
    IncidentState,
    IncidentStatus,
    NoteReply,
    ReactionBreached,
    RecordCustomerMessage,
    Reopen,
    ReopenSource,
    Resolve,
    Resolved,
    WarnDeadline,
    decide,
    fold,
    outcome,
    pending_timers,
    period_states,
)
from domain.read_model import build_view, period_views
from domain.sla import PolicyError, ReplyHandling, Severity, SlaPolicy
from domain.sla_report import ReportMonth, build_report
from tests.domain.test_incident import BERLIN, POLICY, acked, apply, at, opened, refused

RESOLVED_AT = at(11)
WINDOW_END = datetime(2026, 12, 9, 0, 0, tzinfo=BERLIN)
REOPEN_AT = at(14, day=1, month=12)  # Tuesday 01.12.2026 14:00


def resolved() -> IncidentState:
    return apply(acked(), Resolve(summary="Index neu aufgebaut"), RESOLVED_AT)


def reopen_command(now: datetime = REOPEN_AT, **overrides: object) -> Reopen:
    data: dict[str, object] = {
        "reason": "Fehler tritt erneut auf",
        "by": "ops",
        "deadlines": POLICY.all_deadlines(now),
        "window_end": WINDOW_END,
    }
    data.update(overrides)
    return Reopen.model_validate(data)


def reopened(now: datetime = REOPEN_AT) -> IncidentState:
    return apply(resolved(), reopen_command(now), now)


# -- policy ------------------------------------------------------------------------


def test_the_shipped_policy_reopens_within_ten_business_days_and_notes_replies() -> None:
    assert POLICY.reopen.window_business_days == 10
    assert POLICY.reopen.on_reply is ReplyHandling.NOTE


def test_a_policy_without_reopen_section_never_reopens() -> None:
    text = "\n".join(
        line
        for line in Path("domain/policies/myconvento.toml").read_text("utf-8").splitlines()
        if not line.startswith(("[reopen]", "window_business_days", "on_reply"))
    )
    policy = SlaPolicy.from_toml(text)
    assert policy.reopen.window_business_days == 0
    assert reopen.window_end(policy.calendar, RESOLVED_AT, 0) is None


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("window_business_days", -1, "reopen.window_business_days"),
        ("window_business_days", 1000, "reopen.window_business_days"),
        ("on_reply", "ignore", "reopen.on_reply"),
        ("windows", 3, "reopen.windows"),
    ],
)
def test_a_wrong_reopen_setting_is_named(key: str, value: object, says: str) -> None:
    data = tomllib.loads(Path("domain/policies/myconvento.toml").read_text("utf-8"))
    data["reopen"][key] = value
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_mapping(data, source="p.toml")
    assert says in str(info.value)


# -- the window --------------------------------------------------------------------


def test_the_window_ends_at_midnight_after_the_tenth_business_day() -> None:
    assert reopen.window_end(POLICY.calendar, RESOLVED_AT, 10) == WINDOW_END


def test_the_window_skips_weekends_and_nrw_holidays() -> None:
    # Resolved Wed 23.12.2026: Thu 24. (business day), Fri 25./Sat/Sun/Mon 28.? 25. and
    # 26. are holidays, 27. a Sunday; so one business day on: Thu 24., two: Mon 28.
    resolved_at = datetime(2026, 12, 23, 17, 0, tzinfo=BERLIN)
    assert reopen.window_end(POLICY.calendar, resolved_at, 1) == datetime(
        2026, 12, 25, tzinfo=BERLIN
    )
    assert reopen.window_end(POLICY.calendar, resolved_at, 2) == datetime(
        2026, 12, 29, tzinfo=BERLIN
    )


def test_a_resolution_at_the_weekend_counts_from_the_next_business_day() -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN)
    assert reopen.window_end(POLICY.calendar, saturday, 1) == datetime(2026, 12, 1, tzinfo=BERLIN)


@settings(max_examples=50, deadline=None)
@given(
    resolved_at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(BERLIN)
    ),
    days=st.integers(min_value=1, max_value=30),
)
def test_a_longer_window_never_ends_earlier_and_holds_exactly_its_business_days(
    resolved_at: datetime, days: int
) -> None:
    end = reopen.window_end(POLICY.calendar, resolved_at, days)
    longer = reopen.window_end(POLICY.calendar, resolved_at, days + 1)
    assert end is not None and longer is not None
    assert resolved_at < end < longer
    first = resolved_at.astimezone(BERLIN).date() + timedelta(days=1)
    last = (end - timedelta(hours=12)).date()
    counted = sum(
        POLICY.calendar.is_business_day(first + timedelta(days=i))
        for i in range((last - first).days + 1)
    )
    assert counted == days
    assert POLICY.calendar.is_business_day(last)


# -- may it be reopened ------------------------------------------------------------


def test_an_open_incident_cannot_be_reopened() -> None:
    error = refused(acked(), reopen_command(), REOPEN_AT, WrongStatus)
    assert "still open" in error.message


def test_after_the_window_the_refusal_names_its_end() -> None:
    error = refused(resolved(), reopen_command(), WINDOW_END, WrongStatus)
    assert "ended 2026-12-09T00:00:00+01:00" in error.message


def test_erased_personal_data_refuses_a_reopen() -> None:
    error = refused(resolved(), reopen_command(erased=True), REOPEN_AT, WrongStatus)
    assert "erased" in error.message


def test_a_change_request_cannot_be_reopened() -> None:
    classified = apply(
        acked(),
        ClassifyAsChangeRequest(title="CSV-Export", reason="Neue Funktion"),
        RESOLVED_AT,
    )
    error = refused(classified, reopen_command(), REOPEN_AT, WrongStatus)
    assert "change request" in error.message


def test_reopening_is_off_when_the_window_is_zero() -> None:
    assert "off" in (reopen.refusal(resolved(), REOPEN_AT, None) or "")


def test_a_blank_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 character"):
        reopen_command(reason=" ")
    # A command built without validation (from a history) is refused by the rules too.
    blank = reopen_command().model_copy(update={"reason": " "})
    with pytest.raises(MissingText):
        decide(resolved(), blank, REOPEN_AT)


def test_a_reason_with_control_characters_or_too_long_is_refused_at_the_door() -> None:
    with pytest.raises(ValueError):
        reopen_command(reason="x" * 5001)
    with pytest.raises(ValueError):
        reopen_command(reason="bad\x1b[31m")


# -- the new period ------------------------------------------------------------------


def test_reopening_opens_a_new_period_with_a_reaction_clock_from_the_reopen_instant() -> None:
    state = reopened()
    event = state.events[-1]
    assert isinstance(event, IncidentReopened)
    assert event.severity is Severity.MAJOR
    assert state.status is IncidentStatus.NEW
    assert state.is_open
    assert state.period == 2
    assert state.clock_start == REOPEN_AT
    assert (
        state.reaction_due
        == POLICY.reaction_due(Severity.MAJOR, REOPEN_AT)
        == at(15, day=1, month=12)
    )
    assert state.resolution_due == POLICY.resolution_due(Severity.MAJOR, REOPEN_AT)
    assert state.received_at == at(9, 30)  # the ticket's receipt stays


def test_the_new_period_starts_fresh_breaches_estimate_and_stage() -> None:
    first = resolved()
    state = reopened()
    assert (state.estimate, state.escalation_stage, state.failed_estimates) == (None, 0, 0)
    assert not state.reaction_breached and not state.resolution_breached
    assert state.warned == () and state.acknowledged_at is None and state.resolved_at is None
    assert state.events[: len(first.events)] == first.events  # the first period is kept


def test_the_new_period_warns_and_breaches_on_its_own_deadlines() -> None:
    state = reopened()
    commands = [type(t.command) for t in pending_timers(state)]
    assert BreachReaction in commands and WarnDeadline in commands
    warning = state.current_deadlines.reaction_warning
    state = apply(state, WarnDeadline(deadline=DeadlineKind.REACTION), warning)
    assert isinstance(state.events[-1], DeadlineWarned)
    state = apply(state, BreachReaction(), state.reaction_due)
    assert isinstance(state.events[-1], ReactionBreached)
    assert state.reaction_breached


def test_the_reopened_incident_is_acknowledged_resolved_and_reopened_again() -> None:
    state = apply(
        reopened(),
        Acknowledge(severity=Severity.MAJOR, estimate=at(17, day=1, month=12)),
        at(14, 30, day=1, month=12),
    )
    state = apply(state, Escalate(stage=3, reason="Hersteller nötig"), at(15, day=1, month=12))
    state = apply(state, Resolve(summary="wieder behoben"), at(16, day=1, month=12))
    assert not state.is_open
    again = apply(state, reopen_command(at(9, day=2, month=12)), at(9, day=2, month=12))
    assert again.period == 3 and again.escalation_stage == 0


def test_each_period_keeps_its_own_outcome() -> None:
    state = apply(reopened(), BreachReaction(), at(15, day=1, month=12))
    first, second = period_states(state)
    assert first == resolved()
    assert outcome(first, POLICY.calendar).reaction_breached is False
    assert outcome(first, POLICY.calendar).time_to_react == timedelta(minutes=30)
    assert outcome(second, POLICY.calendar).reaction_breached is True
    assert outcome(second, POLICY.calendar).resolution_met is None


def test_a_critical_reopened_incident_pages_on_duty_at_once() -> None:
    state = apply(
        opened(login_impossible=True),
        Acknowledge(severity=Severity.CRITICAL, estimate=at(12)),
        at(10),
    )
    state = apply(state, Resolve(summary="ok"), RESOLVED_AT)
    state = apply(state, reopen_command(), REOPEN_AT)
    first = pending_timers(state)[0]
    assert first.at == REOPEN_AT and type(first.command).__name__ == "PageOnDuty"


def test_a_resolution_in_the_first_period_does_not_close_the_second() -> None:
    state = reopened()
    assert [e for e in state.period_events if isinstance(e, Resolved)] == []
    assert outcome(state, POLICY.calendar).resolution_met is None


@settings(max_examples=30, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 6))
def test_the_new_reaction_deadline_is_the_policy_s_from_the_reopen_instant(minutes: int) -> None:
    now = RESOLVED_AT + timedelta(minutes=1 + minutes)
    state = apply(resolved(), reopen_command(now), now)
    assert state.reaction_due == POLICY.reaction_due(Severity.MAJOR, now)
    assert state.reaction_due >= now
    assert fold(None, state.events) == state


# -- replies to a resolved incident ----------------------------------------------------


def note(message_id: str = "<r1@beispiel-versand.de>") -> NoteReply:
    return NoteReply(
        message_id=message_id,
        sender="erika.mustermann@beispiel-versand.de",
        subject="Re: Störung behoben",
        text="Es geht wieder nicht.",
    )


def test_a_noted_reply_is_kept_on_the_closed_timeline_and_nothing_reopens() -> None:
    state = apply(resolved(), note(), REOPEN_AT)
    assert state.events[-1].type == "customer_message"
    assert not state.is_open
    assert decide(state, note(), REOPEN_AT) == []  # the same mail again


def test_a_note_on_an_open_incident_is_refused() -> None:
    refused(acked(), note(), REOPEN_AT, WrongStatus)


def test_a_reply_that_reopens_names_the_customer_as_the_source() -> None:
    state = apply(
        resolved(),
        reopen_command(source=ReopenSource.CUSTOMER_REPLY, reason="Antwort des Kunden"),
        REOPEN_AT,
    )
    state = apply(
        state,
        RecordCustomerMessage(
            message_id="<r2@x.de>", sender="erika.mustermann@beispiel-versand.de", text="kaputt"
        ),
        REOPEN_AT,
    )
    reopened_event = state.events[-2]
    assert isinstance(reopened_event, IncidentReopened)
    assert reopened_event.source is ReopenSource.CUSTOMER_REPLY


# -- reports count both periods -------------------------------------------------------


def test_the_sla_report_counts_each_period_as_its_own_measurement() -> None:
    # Period 1: acknowledged after 30 min, resolved at 11:00 (in time). Period 2:
    # reopened Tue 01.12. 14:00, nobody acknowledges: the reaction breaches at 15:00.
    state = apply(reopened(), BreachReaction(), at(15, day=1, month=12))
    view = build_view(state)
    first, second = period_views(view)
    assert (first.received_at, second.received_at) == (at(9, 30), REOPEN_AT)
    assert first.events[0].type == "reported" and second.events[0].type == "reopened"

    as_of = at(16, day=1, month=12)
    november = build_report([view], POLICY, ReportMonth(year=2026, month=11), as_of)
    december = build_report([view, view], POLICY, ReportMonth(year=2026, month=12), as_of)
    assert november.total.incidents == 1 and november.total.reaction.met == 1
    assert november.total.time_to_react.values_seconds == (1800.0,)
    assert december.total.incidents == 1  # passed twice, counted once
    assert december.total.reaction.breached == 1
    assert december.total.resolution.open == 1
    assert [b.received_at for b in december.breached_incidents] == [REOPEN_AT]


def test_a_report_over_both_periods_counts_the_ticket_twice() -> None:
    state = apply(
        reopened(),
        Acknowledge(severity=Severity.MAJOR, estimate=at(17, day=1, month=12)),
        at(14, 20, day=1, month=12),
    )
    state = apply(state, Resolve(summary="wieder behoben"), at(16, day=1, month=12))
    views = period_views(build_view(state))
    assert [v.ticket_id for v in views] == [state.ticket_id] * 2
    assert [v.resolved_at for v in views] == [RESOLVED_AT, at(16, day=1, month=12)]
    assert [v.reaction_breached for v in views] == [False, False]
    assert period_views(build_view(resolved())) == [build_view(resolved())]
