"""``RecomputeDeadlines`` → ``DeadlinesRecomputed``: on-call windows move an incident's clock.

Every expected deadline comes from the policy with the windows added
(``with_oncall_windows``), never from arithmetic in this file. The incidents
are received on Friday 2026-12-04; the booked window is Saturday 2026-12-05
10:00–14:00 (Berlin).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.errors import WrongStatus
from domain.incident import (
    Acknowledge,
    BreachReaction,
    DeadlinesRecomputed,
    IncidentState,
    OpenIncident,
    ReactionBreached,
    Reclassify,
    RecomputeDeadlines,
    Resolve,
    WarnDeadline,
    decide,
    execute,
    pending_timers,
)
from domain.oncall import OnCallWindow, with_oncall_windows
from domain.report import Channel, IncidentReport, Scope
from domain.sla import Severity, SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
H = timedelta(hours=1)


def berlin(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 12, d, hh, mm, tzinfo=BERLIN)


SATURDAY = OnCallWindow(booking_id="ONC-20261205-AAAA", start=berlin(5, 10), end=berlin(5, 14))
WINDOWED = with_oncall_windows(POLICY, [SATURDAY])


def opened(received_at: datetime, **facts: bool) -> IncidentState:
    report = IncidentReport.model_validate(
        {
            "company": "Beispiel Versand GmbH",
            "full_name": "Erika Mustermann",
            "phone": "+49 2131 123456",
            "email": "erika.mustermann@beispiel-versand.de",
            "description": "Versandmodul hängt.",
            "first_noticed_at": received_at - timedelta(minutes=5),
            "scope": Scope.ALL_WORKSTATIONS,
            "reproducible": True,
            "channel": Channel.CHAT,
            **facts,
        }
    )
    command = OpenIncident(
        ticket_id="INC-1",
        report=report,
        received_at=received_at,
        deadlines=POLICY.all_deadlines(received_at),
    )
    return execute(None, command, received_at)[0]


def recompute(received_at: datetime, policy: SlaPolicy = WINDOWED) -> RecomputeDeadlines:
    return RecomputeDeadlines(deadlines=policy.all_deadlines(received_at), windows=(SATURDAY,))


def test_a_window_moves_the_deadlines_and_the_timers_follow() -> None:
    received = berlin(4, 17, 30)  # Friday: critical clock runs into the weekend
    state = opened(received, login_impossible=True)
    assert state.reaction_due == POLICY.reaction_due(Severity.CRITICAL, received)

    state, events = execute(state, recompute(received), berlin(4, 17, 40))

    (recomputed,) = events
    assert isinstance(recomputed, DeadlinesRecomputed)
    expected = WINDOWED.deadlines(Severity.CRITICAL, received)
    calendar = POLICY.calendar.with_windows([SATURDAY.pair()])
    assert expected.reaction_due == calendar.add(received, H) == berlin(5, 10, 30)
    assert recomputed.reaction_due == expected.reaction_due
    assert recomputed.resolution_due == expected.resolution_due == berlin(5, 13, 30)
    assert recomputed.windows == (SATURDAY,)
    assert state.reaction_due == expected.reaction_due
    assert state.deadlines == WINDOWED.all_deadlines(received)
    breach = [t for t in pending_timers(state) if isinstance(t.command, BreachReaction)]
    assert [t.at for t in breach] == [expected.reaction_due]
    warning = [t for t in pending_timers(state) if isinstance(t.command, WarnDeadline)]
    assert expected.reaction_warning in [t.at for t in warning]


def test_unchanged_deadlines_record_nothing() -> None:
    received = berlin(4, 10)
    state = opened(received, workaround_available=True)
    same = RecomputeDeadlines(deadlines=state.deadlines)
    assert decide(state, same, berlin(4, 10, 5)) == []


def test_every_severity_is_required() -> None:
    received = berlin(4, 10)
    state = opened(received)
    partial = {Severity.CRITICAL: WINDOWED.deadlines(Severity.CRITICAL, received)}
    with pytest.raises(ValueError, match="major, minor"):
        decide(state, RecomputeDeadlines(deadlines=partial), berlin(4, 10, 5))


def test_a_resolved_incident_keeps_its_deadlines() -> None:
    received = berlin(4, 10)
    state = opened(received)
    state = execute(state, Resolve(summary="erledigt"), berlin(4, 10, 30))[0]
    with pytest.raises(WrongStatus):
        decide(state, recompute(received), berlin(4, 11))


def test_a_recorded_breach_stays_recorded() -> None:
    received = berlin(4, 17, 30)
    state = opened(received, login_impossible=True)
    old_due = state.reaction_due  # Monday 08:30
    state = execute(state, BreachReaction(), old_due)[0]
    assert state.reaction_breached

    state, events = execute(state, recompute(received), old_due + H)

    assert [e.type for e in events] == ["deadlines_recomputed"]
    assert state.reaction_breached
    breaches = [e for e in state.events if isinstance(e, ReactionBreached)]
    assert [b.due for b in breaches] == [old_due]  # history does not change
    assert not any(isinstance(t.command, BreachReaction) for t in pending_timers(state))


def test_a_deadline_that_passed_under_the_old_calendar_is_caught_up_first() -> None:
    received = berlin(4, 17, 30)
    state = opened(received, login_impossible=True)
    state = execute(state, recompute(received), berlin(4, 17, 40))[0]
    windowed_due = state.reaction_due  # Saturday 10:30, timer not fired yet

    # The window is dropped again (an operator fix); the breach happened already.
    back = RecomputeDeadlines(deadlines=POLICY.all_deadlines(received))
    state, events = execute(state, back, windowed_due + timedelta(minutes=10))

    assert [e.type for e in events] == ["reaction_breached", "deadlines_recomputed"]
    first = events[0]
    assert isinstance(first, ReactionBreached) and first.due == windowed_due
    assert state.reaction_due == POLICY.reaction_due(Severity.CRITICAL, received)
    assert state.reaction_breached


def test_acknowledged_incident_keeps_its_estimate_and_reclassification_uses_the_new_deadlines() -> (
    None
):
    received = berlin(4, 17, 30)
    state = opened(received, workaround_available=True)  # minor
    state = execute(
        state,
        Acknowledge(severity=Severity.MAJOR, estimate=berlin(10, 12)),
        berlin(4, 17, 45),
    )[0]
    state = execute(state, recompute(received), berlin(4, 17, 50))[0]
    assert state.estimate == berlin(10, 12)
    assert state.resolution_due == WINDOWED.resolution_due(Severity.MAJOR, received)

    state = execute(
        state, Reclassify(severity=Severity.MINOR, reason="Workaround"), berlin(4, 17, 55)
    )[0]
    assert state.resolution_due == WINDOWED.resolution_due(Severity.MINOR, received)
    assert state.resolution_due < POLICY.resolution_due(Severity.MINOR, received)
