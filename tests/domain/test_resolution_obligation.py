"""The resolution obligation as the SLA states it (issue 16), beside the resolution KPI.

"Innerhalb der zugesicherten Störungsbehebungszeit: Bestätigung über
abgeschlossene Behebung der Störung oder Information über Verlängerung der
Störungsbehebungszeit mit Begründung und Angabe einer neuen
Störungsbehebungszeit." Critical incidents received Tuesday 09:30: resolution
due 13:30.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.incident import (
    BreachResolution,
    ExtendEstimate,
    IncidentState,
    ResolutionBreached,
    Resolve,
    outcome,
    resolution_communicated_in_time,
)
from domain.notifications import MessageKind, notifications_for
from domain.read_model import summarize
from domain.sla import Severity
from tests.domain.test_incident import CRITICAL_FACTS, POLICY, acked, apply, at, opened

DUE = at(13, 30)


def critical_acked() -> IncidentState:
    return acked(opened(**CRITICAL_FACTS), severity=Severity.CRITICAL, estimate=at(12))


def breach_mail(state: IncidentState) -> tuple[str, ...]:
    sequence = next(i for i, e in enumerate(state.events) if isinstance(e, ResolutionBreached))
    (mail,) = notifications_for(state, sequence, POLICY)
    assert mail.kind is MessageKind.RESOLUTION_BREACH
    return mail.to


def test_resolved_in_time_keeps_both_the_word_and_the_target() -> None:
    state = apply(critical_acked(), Resolve(summary="Index neu aufgebaut"), at(11))
    assert resolution_communicated_in_time(state) is True
    result = outcome(state, POLICY.calendar)
    assert result.resolution_communicated_in_time is True and result.resolved_within_target
    view = summarize(state)
    assert view.resolution_communicated_in_time is True and view.resolved_within_target is True


def test_a_reasoned_extension_in_time_keeps_the_word_though_the_target_is_missed() -> None:
    state = apply(
        critical_acked(), ExtendEstimate(estimate=at(16), reason="Ersatzteil kommt 15 Uhr"), at(11)
    )
    assert resolution_communicated_in_time(state) is True  # already decided
    state = apply(state, BreachResolution(), DUE)
    breach = state.events[-1]
    assert isinstance(breach, ResolutionBreached) and breach.customer_informed is True
    assert breach_mail(state) == (POLICY.contacts.support_lead,)  # no "SLA verletzt" upwards
    state = apply(state, Resolve(summary="Teil getauscht"), at(15, 45))
    result = outcome(state, POLICY.calendar)
    assert result.resolution_communicated_in_time is True
    assert result.resolved_within_target is False
    assert summarize(state).resolved_within_target is False


def test_silence_past_the_deadline_breaks_the_word_and_management_is_told() -> None:
    state = apply(critical_acked(), BreachResolution(), DUE)
    breach = state.events[-1]
    assert isinstance(breach, ResolutionBreached) and breach.customer_informed is False
    assert POLICY.contacts.management in breach_mail(state)
    assert resolution_communicated_in_time(state) is False


def test_an_extension_after_the_deadline_comes_too_late() -> None:
    state = apply(critical_acked(), BreachResolution(), DUE)
    state = apply(state, ExtendEstimate(estimate=at(17), reason="Später"), at(14))
    assert resolution_communicated_in_time(state) is False


def test_open_before_the_deadline_is_undecided() -> None:
    assert resolution_communicated_in_time(critical_acked()) is None
    assert summarize(critical_acked()).resolved_within_target is None


@settings(max_examples=60, deadline=None)
@given(
    extend_at=st.integers(min_value=0, max_value=300),
    resolve_at=st.integers(min_value=31, max_value=400),
)
def test_the_target_met_always_keeps_the_word(extend_at: int, resolve_at: int) -> None:
    """Minutes after 09:30: an extension (to 17:00) and the resolution, breaches caught up."""
    start = at(9, 30)
    state = critical_acked()
    moments = sorted(
        [
            (start + timedelta(minutes=extend_at), "extend"),
            (start + timedelta(minutes=resolve_at), "resolve"),
        ]
    )
    for when, what in moments:
        if what == "extend" and state.is_open and when < at(17):
            state = apply(state, ExtendEstimate(estimate=at(17), reason="Dauert"), when)
        elif what == "resolve" and state.is_open:
            state = apply(state, Resolve(summary="Behoben"), when)
    result = outcome(state, POLICY.calendar)
    if result.resolved_within_target:
        assert result.resolution_communicated_in_time is True
    extended_in_time = start + timedelta(minutes=extend_at) <= DUE and extend_at < resolve_at
    resolved_in_time = start + timedelta(minutes=resolve_at) <= DUE
    assert result.resolution_communicated_in_time is (extended_in_time or resolved_in_time)
