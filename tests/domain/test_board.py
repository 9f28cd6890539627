"""Tests for ``domain.board``: business time left, urgency and the board's order.

Incidents come from the real decider (``tests/domain/test_incident.py``
helpers): critical, received Tuesday 2026-11-24 09:30, reaction due 10:30,
resolution due 13:30.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.board import Urgency, business_time_left, most_urgent_first, standing
from domain.incident import Resolve
from domain.read_model import IncidentSummary, summarize
from tests.domain.test_incident import CRITICAL_FACTS, MINOR_FACTS, POLICY, acked, apply, at, opened

CALENDAR = POLICY.calendar
NEAR = POLICY.audit.near_deadline  # 2 business hours in the shipped policy


def critical(received_hour: int = 9, minute: int = 30, ticket: str = "INC-A") -> IncidentSummary:
    state = opened(received_at=at(received_hour, minute), **CRITICAL_FACTS)
    return summarize(state).model_copy(update={"ticket_id": ticket})


def test_business_time_left_skips_the_night_and_the_weekend() -> None:
    friday_late = at(17, 0, day=27)
    monday_nine = at(9, 0, day=30)
    assert business_time_left(monday_nine, friday_late, CALENDAR) == timedelta(hours=2)
    assert business_time_left(friday_late, monday_nine, CALENDAR) == -timedelta(hours=2)


def test_the_next_deadline_of_a_new_incident_is_the_reaction() -> None:
    s = critical()
    st_ = standing(s, at(10), CALENDAR, due_soon=NEAR)
    assert (st_.deadline, st_.due, st_.left) == ("reaction", at(10, 30), timedelta(minutes=30))
    assert not st_.overdue


def test_urgency_by_business_time_left() -> None:
    # Reaction 24 business hours: 8.5 h on Tuesday, 10 h on Wednesday, due Thursday 13:30.
    minor = summarize(opened(**MINOR_FACTS))
    assert minor.reaction_due == at(13, 30, day=26)

    def urgency(now: datetime) -> Urgency:
        return standing(minor, now, CALENDAR, due_soon=NEAR).urgency

    assert urgency(at(10)) is Urgency.ON_TRACK
    assert urgency(at(11, 29, day=26)) is Urgency.ON_TRACK
    assert urgency(at(11, 30, day=26)) is Urgency.DUE_SOON  # two business hours left
    assert urgency(at(13, 29, day=26)) is Urgency.DUE_SOON
    assert urgency(at(13, 30, day=26)) is Urgency.BREACHED


def test_a_deadline_at_closing_time_is_overdue_in_the_evening_with_no_business_time_between() -> (
    None
):
    s = critical(received_hour=17, minute=0)  # reaction due 18:00, closing time
    evening = standing(s, at(19), CALENDAR, due_soon=NEAR)
    assert evening.left == timedelta(0)
    assert evening.overdue and evening.urgency is Urgency.BREACHED


def test_a_recorded_breach_keeps_the_row_breached_while_the_next_deadline_is_ahead() -> None:
    state = opened(**CRITICAL_FACTS)
    state = acked(state, estimate=at(13), now=at(11))  # reaction due 10:30: acknowledged late
    s = summarize(state)
    assert s.reaction_breached
    now_ = at(11)
    st_ = standing(s, now_, CALENDAR, due_soon=timedelta(minutes=30))
    assert st_.deadline == "estimate" and not st_.overdue
    assert st_.urgency is Urgency.BREACHED


def test_a_resolved_incident_has_no_deadline() -> None:
    state = apply(acked(opened(**CRITICAL_FACTS)), Resolve(summary="ok"), at(10))
    st_ = standing(summarize(state), at(11), CALENDAR, due_soon=NEAR)
    assert (st_.deadline, st_.due, st_.left, st_.urgency) == ("", None, None, Urgency.CLOSED)


def test_most_urgent_first_orders_by_business_time_left_and_puts_resolved_last() -> None:
    early = critical(9, 0, "INC-EARLY")  # reaction 10:00
    late = critical(9, 30, "INC-LATE")  # reaction 10:30
    overdue = critical(8, 0, "INC-OVERDUE")  # reaction 09:00, passed at 09:45
    resolved = summarize(
        apply(acked(opened(**CRITICAL_FACTS)), Resolve(summary="ok"), at(10))
    ).model_copy(update={"ticket_id": "INC-DONE"})
    ordered = most_urgent_first([resolved, late, early, overdue], at(9, 45), CALENDAR)
    assert [s.ticket_id for s in ordered] == ["INC-OVERDUE", "INC-EARLY", "INC-LATE", "INC-DONE"]


def test_equal_business_time_left_is_ordered_by_instant_then_ticket() -> None:
    # Both deadlines fall in the closed night: zero business time left for each.
    closing = critical(17, 0, "INC-B")  # reaction 18:00
    same = critical(17, 0, "INC-A")
    ordered = most_urgent_first([closing, same], at(20), CALENDAR)
    assert [s.ticket_id for s in ordered] == ["INC-A", "INC-B"]


@given(
    st.lists(
        st.tuples(st.integers(8, 17), st.sampled_from([0, 15, 30, 45])), min_size=1, max_size=8
    ),
    st.integers(8, 20),
)
def test_the_order_never_has_more_business_time_left_before_less(
    receipts: list[tuple[int, int]], hour: int
) -> None:
    summaries = [critical(h, m, f"INC-{i}") for i, (h, m) in enumerate(receipts)]
    now_ = at(hour)
    lefts = [
        standing(s, now_, CALENDAR, due_soon=NEAR).left
        for s in most_urgent_first(summaries, now_, CALENDAR)
    ]
    assert lefts == sorted(lefts)  # type: ignore[type-var]
