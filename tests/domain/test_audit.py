"""Tests for ``domain.audit``: what the daily and weekly ticket audits report.

Incidents come from the real decider (``tests/domain/test_incident.py`` helpers)
under the shipped policy: business time Mon–Fri 08:00–18:00 Europe/Berlin with
NRW holidays, audit limits ``stale_after_business_days = 2`` (= 20 business
hours) and ``near_deadline = PT2H``. Tuesday 2026-11-24 is the usual day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit import (
    AUDIT_TIMINGS,
    DEV_TICKET_STALLED_AFTER_BUSINESS_DAYS,
    AuditDeadline,
    AuditKind,
    DevTicketSummary,
    SkipReason,
    UnreadableTicket,
    audit_dev_ticket,
    audit_incident,
    audit_message,
    business_day_length,
    development_report,
    last_update,
    skipped_report,
    support_report,
    thresholds,
)
from domain.incident import (
    DeadlineKind,
    DeadlineWarned,
    Escalated,
    EscalationTrigger,
    EstimateMissed,
    IncidentStatus,
    OnDutyPaged,
    PageReason,
    ReactionBreached,
    Resolve,
)
from domain.read_model import IncidentView, build_view
from domain.sla import Severity
from tests.domain.test_incident import (
    BERLIN,
    CRITICAL_FACTS,
    MINOR_FACTS,
    POLICY,
    acked,
    apply,
    opened,
)
from tests.domain.test_incident import at as berlin

TWENTY_HOURS = 20 * 60


def incident(received_at: datetime, **facts: object) -> IncidentView:
    return build_view(opened(received_at, None, **facts))


def with_events(v: IncidentView, *events: object) -> IncidentView:
    return v.model_copy(update={"events": (*v.events, *events)})


# -- stale: business time since the last update ------------------------------------


FRIDAY_1700 = berlin(17, 0, day=27)


def test_a_business_day_has_the_calendar_opening_hours() -> None:
    assert business_day_length(POLICY) == timedelta(hours=10)


def test_weekend_does_not_count_towards_staleness() -> None:
    # Fri 17:00–18:00 (1 h) + Mon 08:00–18:00 (10 h) + Tue 08:00–09:00 (1 h) = 12 h.
    ticket = audit_incident(
        incident(FRIDAY_1700, **MINOR_FACTS), berlin(9, 0, day=1, month=12), POLICY
    )
    assert ticket.idle_business_minutes == 12 * 60
    assert not ticket.stale


def test_stale_after_two_business_days_exactly() -> None:
    v = incident(FRIDAY_1700, **MINOR_FACTS)
    # 1 h + 10 h + 9 h = 20 h = two business days of 10 h.
    just_before = audit_incident(v, berlin(16, 59, day=1, month=12), POLICY)
    exactly = audit_incident(v, berlin(17, 0, day=1, month=12), POLICY)
    wednesday = audit_incident(v, berlin(8, 0, day=2, month=12), POLICY)
    assert (just_before.idle_business_minutes, just_before.stale) == (TWENTY_HOURS - 1, False)
    assert (exactly.idle_business_minutes, exactly.stale) == (TWENTY_HOURS, True)
    assert (wednesday.idle_business_minutes, wednesday.stale) == (21 * 60, True)


def test_nrw_holidays_do_not_count_towards_staleness() -> None:
    # Easter 2026: Good Friday 3 April and Easter Monday 6 April are NRW holidays.
    thursday = berlin(17, 0, day=2, month=4)
    ticket = audit_incident(incident(thursday, **MINOR_FACTS), berlin(9, 0, day=7, month=4), POLICY)
    assert ticket.idle_business_minutes == 2 * 60
    assert not ticket.stale


def test_an_operator_update_resets_the_idle_time() -> None:
    received = berlin(9, 0, day=19)  # Thursday before
    state = acked(opened(received), estimate=berlin(12, day=30), now=berlin(10, 0, day=23))
    v = build_view(state)
    assert last_update(v) == berlin(10, 0, day=23)
    ticket = audit_incident(v, berlin(11, 0), POLICY)  # Tue: Mon 8 h + Tue 3 h
    assert ticket.idle_business_minutes == 11 * 60
    assert not ticket.stale


def test_engine_events_are_no_update() -> None:
    received = berlin(9, 0, day=19)
    v = incident(received, **CRITICAL_FACTS)
    later = berlin(10, 0, day=23)
    v = with_events(
        v,
        OnDutyPaged(at=later, reason=PageReason.REMINDER, next_reminder_at=None),
        DeadlineWarned(at=later, kind=DeadlineKind.REACTION, due=later),
        ReactionBreached(at=later, due=later),
        EstimateMissed(at=later, estimate=later),
        Escalated(
            at=later,
            stage=1,
            previous=0,
            trigger=EscalationTrigger.ESTIMATE_MISSED,
            reason="estimate expired",
        ),
    )
    assert last_update(v) == v.events[0].at
    assert audit_incident(v, berlin(11, 0), POLICY).stale


def test_an_operator_escalation_is_an_update() -> None:
    v = incident(berlin(9, 0, day=19), **CRITICAL_FACTS)
    later = berlin(10, 0, day=23)
    v = with_events(
        v,
        Escalated(at=later, stage=3, previous=0, trigger=EscalationTrigger.OPERATOR, reason="x"),
    )
    assert last_update(v) == later


# -- deadlines ---------------------------------------------------------------------


def test_past_the_reaction_deadline() -> None:
    # Critical, received Tue 09:30: reaction due 10:30, resolution due 13:30.
    ticket = audit_incident(incident(berlin(9, 30), **CRITICAL_FACTS), berlin(10, 45), POLICY)
    (overdue,) = ticket.overdue
    assert overdue.kind is AuditDeadline.REACTION
    assert overdue.due == berlin(10, 30)
    assert overdue.business_minutes_left == -15
    assert ticket.near_deadline == ()  # resolution is 2 h 45 min away
    assert ticket.unacknowledged
    assert ticket.flagged


def test_near_a_deadline_within_two_business_hours_inclusive() -> None:
    v = incident(berlin(9, 30), **CRITICAL_FACTS)
    before = audit_incident(v, berlin(11, 29), POLICY)
    at_limit = audit_incident(v, berlin(11, 30), POLICY)
    assert [c.kind for c in before.near_deadline] == []
    (near,) = at_limit.near_deadline
    assert (near.kind, near.due, near.business_minutes_left) == (
        AuditDeadline.RESOLUTION,
        berlin(13, 30),
        120,
    )


def test_near_counts_business_time_across_the_weekend() -> None:
    # Critical, received Fri 17:30: reaction due Mon 08:30 (30 min Fri + 30 min Mon).
    v = incident(berlin(17, 30, day=27), **CRITICAL_FACTS)
    ticket = audit_incident(v, berlin(12, 0, day=28), POLICY)  # Saturday noon
    (near,) = [c for c in ticket.near_deadline if c.kind is AuditDeadline.REACTION]
    assert near.due == berlin(8, 30, day=30)
    assert near.business_minutes_left == 30
    assert ticket.overdue == ()


def test_a_deadline_at_closing_time_is_overdue_while_closed() -> None:
    # Critical, received Tue 14:00: resolution due Tue 18:00; checked at 19:00.
    v = acked(opened(berlin(14, 0), **CRITICAL_FACTS), estimate=berlin(17), now=berlin(14, 30))
    ticket = audit_incident(build_view(v), berlin(19, 0), POLICY)
    kinds = {c.kind: c for c in ticket.overdue}
    assert set(kinds) == {AuditDeadline.RESOLUTION, AuditDeadline.ESTIMATE}
    assert kinds[AuditDeadline.RESOLUTION].business_minutes_left == 0
    assert kinds[AuditDeadline.ESTIMATE].business_minutes_left == -60


def test_acknowledged_ticket_watches_estimate_and_resolution_not_reaction() -> None:
    state = acked(opened(berlin(9, 30), **CRITICAL_FACTS), estimate=berlin(12), now=berlin(10))
    ticket = audit_incident(build_view(state), berlin(12, 30), POLICY)
    assert [c.kind for c in ticket.overdue] == [AuditDeadline.ESTIMATE]
    assert ticket.overdue[0].business_minutes_left == -30
    assert [(c.kind, c.business_minutes_left) for c in ticket.near_deadline] == [
        (AuditDeadline.RESOLUTION, 60)
    ]
    assert not ticket.unacknowledged
    assert ticket.status is IncidentStatus.ACKNOWLEDGED


def test_resolved_incident_has_no_findings_and_is_not_counted() -> None:
    state = apply(opened(berlin(9, 0, day=19)), Resolve(summary="behoben"), berlin(9, 0, day=20))
    ticket = audit_incident(build_view(state), berlin(12, 0), POLICY)
    assert not ticket.flagged
    report = support_report("a", berlin(12, 0), date(2026, 11, 24), POLICY, [build_view(state)])
    assert report.open_tickets == 0
    assert report.tickets == ()


# -- reports -----------------------------------------------------------------------


def test_support_report_sections_and_order() -> None:
    now = berlin(11, 45)
    fine = build_view(  # acknowledged, estimate next week: nothing to report
        acked(opened(berlin(11, 0), **MINOR_FACTS), estimate=berlin(12, day=30), now=berlin(11, 10))
    )
    overdue = incident(berlin(9, 30), **CRITICAL_FACTS)  # reaction overdue since 10:30
    older = incident(berlin(9, 0, day=19))  # major, reaction overdue for days, stale
    report = support_report(
        "sla-audit-daily-x",
        now,
        date(2026, 11, 24),
        POLICY,
        [fine, overdue, older],
        [UnreadableTicket(ticket_id="INC-Z", error="timeout")],
    )
    assert report.kind is AuditKind.DAILY
    assert report.open_tickets == 3
    ids = [t.ticket_id for t in report.tickets]
    assert len(ids) == 3
    # Flagged first, by the earliest deadline that flagged them; the fine one last.
    assert [t.received_at for t in report.tickets] == [
        older.received_at,
        overdue.received_at,
        fine.received_at,
    ]
    assert not report.tickets[-1].flagged
    assert [t.received_at for t in report.overdue] == [older.received_at, overdue.received_at]
    assert [t.received_at for t in report.unacknowledged] == [
        older.received_at,
        overdue.received_at,
    ]
    assert [t.received_at for t in report.stale] == [older.received_at]
    assert report.unreadable[0].ticket_id == "INC-Z"
    assert report.needs_attention
    assert report.thresholds.near_deadline_minutes == 120
    assert report.thresholds.stale_after_business_days == 2
    assert report.thresholds.business_day_minutes == 600


def test_report_round_trips_through_json() -> None:
    report = support_report(
        "a", berlin(12), date(2026, 11, 24), POLICY, [incident(berlin(9, 30), **CRITICAL_FACTS)]
    )
    assert type(report).model_validate_json(report.model_dump_json()) == report


def test_skipped_report_records_the_holiday() -> None:
    christmas = berlin(8, 15, day=25, month=12)
    report = skipped_report("a", AuditKind.DAILY, christmas, date(2026, 12, 25), POLICY)
    assert report.skipped is SkipReason.HOLIDAY
    assert report.tickets == () and report.open_tickets == 0
    assert not report.needs_attention


def test_audit_message_goes_to_the_support_lead_with_a_deterministic_id() -> None:
    report = skipped_report(
        "sla-audit-daily-2026-11-24T07:15:00Z",
        AuditKind.DAILY,
        berlin(8, 15),
        date(2026, 11, 24),
        POLICY,
    )
    message = audit_message(report, POLICY)
    assert message.to == (POLICY.contacts.support_lead,)
    assert message.template == message.kind == "audit_daily"
    assert message.message_id == "<sla-audit-daily-2026-11-24T07-15-00Z@sla.myconvento.com>"
    assert message == audit_message(report, POLICY)
    assert message.context["report"] == report.model_dump(mode="json")


def test_audit_timings() -> None:
    assert AUDIT_TIMINGS[AuditKind.DAILY].weekdays == ("mon", "tue", "wed", "thu", "fri")
    assert AUDIT_TIMINGS[AuditKind.DAILY].at == "08:15"
    assert AUDIT_TIMINGS[AuditKind.WEEKLY].weekdays == ("mon",)
    assert AUDIT_TIMINGS[AuditKind.WEEKLY].at == "08:30"


# -- development tickets -----------------------------------------------------------


def dev_ticket(opened_at: datetime, progress: datetime | None = None) -> DevTicketSummary:
    return DevTicketSummary(
        key=f"CR-{opened_at:%d%H%M}",
        dev_ticket="DEV-1",
        company="Beispiel Versand GmbH",
        lifecycle_state="discussed",
        opened_at=opened_at,
        last_progress_at=progress or opened_at,
    )


def test_dev_ticket_stalls_after_more_than_five_business_days() -> None:
    assert DEV_TICKET_STALLED_AFTER_BUSINESS_DAYS == 5
    monday = berlin(8, 0, day=23)
    ticket = dev_ticket(monday)
    exactly = audit_dev_ticket(ticket, berlin(8, 0, day=30), POLICY)  # 50 h: not more
    later = audit_dev_ticket(ticket, berlin(8, 1, day=30), POLICY)
    assert (exactly.idle_business_minutes, exactly.stalled) == (50 * 60, False)
    assert (later.idle_business_minutes, later.stalled) == (50 * 60 + 1, True)


def test_the_stalled_threshold_is_policy_data() -> None:
    strict = POLICY.model_copy(
        update={"audit": POLICY.audit.model_copy(update={"dev_stalled_after_business_days": 1})}
    )
    monday = berlin(8, 0, day=23)
    audited = audit_dev_ticket(dev_ticket(monday), berlin(8, 1, day=24), strict)
    assert audited.stalled  # 10 h 1 min without progress: more than one business day
    assert not audit_dev_ticket(dev_ticket(monday), berlin(8, 1, day=24), POLICY).stalled
    assert thresholds(strict).dev_stalled_after_business_days == 1


def test_dev_ticket_progress_resets_the_clock_and_never_precedes_the_opening() -> None:
    opened_at = berlin(9, 0, day=2)
    recent = audit_dev_ticket(
        dev_ticket(opened_at, berlin(9, 0, day=27)), berlin(9, 0, day=30), POLICY
    )
    assert not recent.stalled
    assert recent.idle_business_minutes == 10 * 60
    skewed = audit_dev_ticket(
        dev_ticket(opened_at, opened_at - timedelta(days=3)), berlin(9, 0, day=3), POLICY
    )
    assert skewed.last_progress_at == opened_at
    assert skewed.idle_business_minutes == 10 * 60


def test_development_report_lists_stalled_first_oldest_first() -> None:
    now = berlin(8, 30, day=30)
    fresh = dev_ticket(berlin(9, 0, day=27))
    old = dev_ticket(berlin(9, 0, day=2))
    older = dev_ticket(berlin(9, 0, day=2, month=10))
    report = development_report("w", now, date(2026, 11, 30), POLICY, [fresh, old, older])
    assert report.kind is AuditKind.WEEKLY
    assert [t.key for t in report.dev_tickets] == [older.key, old.key, fresh.key]
    assert [t.key for t in report.stalled] == [older.key, old.key]
    assert report.needs_attention
    assert report.tickets == ()


# -- properties --------------------------------------------------------------------

START = datetime(2026, 1, 1, tzinfo=BERLIN)
instants = st.integers(min_value=0, max_value=365 * 24 * 60).map(
    lambda minutes: START + timedelta(minutes=minutes)
)
severity_facts = st.sampled_from([CRITICAL_FACTS, MINOR_FACTS, {}])


@settings(max_examples=150, deadline=None)
@given(
    received=instants,
    later=st.integers(min_value=0, max_value=30 * 24 * 60),
    facts=severity_facts,
    acknowledge=st.booleans(),
)
def test_findings_are_consistent(
    received: datetime, later: int, facts: dict[str, object], acknowledge: bool
) -> None:
    state = opened(received, None, **facts)
    if acknowledge:
        state = acked(state, estimate=received + timedelta(days=2), now=received)
    v = build_view(state)
    now = received + timedelta(minutes=later)
    ticket = audit_incident(v, now, POLICY)
    calendar = POLICY.calendar

    assert ticket.unacknowledged is (v.status is IncidentStatus.NEW)
    for check in ticket.overdue:
        assert check.due <= now
        assert check.business_minutes_left <= 0
    for check in ticket.near_deadline:
        assert check.due > now
        assert 0 <= check.business_minutes_left <= 120
    kinds = [c.kind for c in (*ticket.overdue, *ticket.near_deadline)]
    assert len(kinds) == len(set(kinds))  # a deadline is overdue or near, not both
    if not ticket.unacknowledged:
        assert AuditDeadline.REACTION not in kinds
    idle = calendar.between(last_update(v), now)
    assert ticket.stale is (idle >= timedelta(hours=20))
    assert ticket.idle_business_minutes == idle // timedelta(minutes=1)
    assert ticket.severity in Severity


@settings(max_examples=100, deadline=None)
@given(opened_at=instants, first=st.integers(0, 20 * 24 * 60), extra=st.integers(0, 20 * 24 * 60))
def test_dev_ticket_idle_time_grows_with_time(opened_at: datetime, first: int, extra: int) -> None:
    ticket = dev_ticket(opened_at)
    earlier = audit_dev_ticket(ticket, opened_at + timedelta(minutes=first), POLICY)
    later = audit_dev_ticket(ticket, opened_at + timedelta(minutes=first + extra), POLICY)
    assert earlier.idle_business_minutes <= later.idle_business_minutes
    assert not earlier.stalled or later.stalled
