"""Tests for ``domain.effects.split_by_audience``: the team's lane and the customers'."""

from __future__ import annotations

from datetime import timedelta

from domain.effects import EventEffects, effects_of, split_by_audience
from domain.incident import Acknowledge, IncidentState, PageOnDuty, PageReason, execute
from domain.notifications import MessageKind
from domain.sla import Severity
from tests.domain.test_incident import POLICY, TUE, opened

TEAM = {
    POLICY.contacts.support_lead,
    POLICY.contacts.on_duty,
    POLICY.contacts.experts,
    POLICY.contacts.management,
}


def critical_reported() -> tuple[IncidentState, list[EventEffects]]:
    state, _ = execute(opened(login_impossible=True), PageOnDuty(reason=PageReason.RECEIVED), TUE)
    return state, effects_of(state, 0, POLICY)


def kinds(lane: list[EventEffects]) -> list[MessageKind]:
    return [n.kind for item in lane for n in item.notifications]


def test_every_message_lands_in_exactly_one_lane_and_the_posts_stay_with_the_team() -> None:
    _, effects = critical_reported()
    team, customers = split_by_audience(effects, POLICY)
    everything = sorted(n.message_id for item in effects for n in item.notifications)
    split = sorted(
        n.message_id for lane in (team, customers) for i in lane for n in i.notifications
    )
    assert split == everything
    assert [i.status_post for i in effects if i.status_post] == [
        i.status_post for i in team if i.status_post
    ]
    assert all(i.status_post is None and i.change_request is None for i in customers)


def test_the_team_lane_holds_only_team_addresses_and_the_page() -> None:
    _, effects = critical_reported()
    team, customers = split_by_audience(effects, POLICY)
    assert MessageKind.ON_DUTY_PAGE in kinds(team)
    assert MessageKind.RECEIPT in kinds(customers)
    assert all(set(n.to) <= TEAM for item in team for n in item.notifications)
    assert all(not set(n.to) <= TEAM for item in customers for n in item.notifications)


def test_each_lane_keeps_event_order_and_leaves_out_events_with_nothing_for_it() -> None:
    state, _ = critical_reported()
    state, _ = execute(
        state,
        Acknowledge(
            severity=Severity.CRITICAL,
            estimate=TUE + timedelta(hours=2),
            all_users=True,
            status_message="Wir arbeiten daran.",
        ),
        TUE + timedelta(minutes=20),
    )
    effects = effects_of(state, 0, POLICY)
    team, customers = split_by_audience(effects, POLICY)
    for lane in (team, customers):
        sequences = [i.sequence for i in lane]
        assert sequences == sorted(sequences)
        assert all(i.notifications or i.status_post or i.change_request for i in lane)


def test_addresses_are_compared_without_case() -> None:
    _, effects = critical_reported()
    shouted = [
        item.model_copy(
            update={
                "notifications": tuple(
                    n.model_copy(update={"to": tuple(a.upper() for a in n.to)})
                    for n in item.notifications
                )
            }
        )
        for item in effects
    ]
    assert kinds(split_by_audience(shouted, POLICY)[0]) == kinds(
        split_by_audience(effects, POLICY)[0]
    )
