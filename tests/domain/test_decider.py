"""``fold_with``: the shared fold of every decider."""

from __future__ import annotations

import pytest

from domain.decider import fold_with


def append(state: tuple[int, ...] | None, event: int) -> tuple[int, ...]:
    return (*(state or ()), event)


def test_events_are_applied_in_order_from_nothing_or_from_a_state() -> None:
    start: tuple[int, ...] = (0,)
    no_events: list[int] = []
    assert fold_with(append, None, [1, 2, 3]) == (1, 2, 3)
    assert fold_with(append, start, [1]) == (0, 1)
    assert fold_with(append, start, no_events) == (0,)


def test_no_state_and_no_events_is_refused_with_the_given_message() -> None:
    with pytest.raises(ValueError, match="no events to fold"):
        fold_with(append, None, list[int]())
    with pytest.raises(ValueError, match="no maintenance events"):
        fold_with(append, None, list[int](), empty="no maintenance events")
