"""The live board's logic (``domain/watch.py``): counts, ticks, re-reads, selection and keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.board import standing
from domain.incident import Resolve
from domain.read_model import IncidentSummary, build_view
from domain.watch import (
    BoardCounts,
    Key,
    Mode,
    WatchState,
    board_counts,
    clamp_scroll,
    keep_selection,
    press,
    read_due,
    seconds_to_next_tick,
)
from tests.domain.test_incident import CRITICAL_FACTS, MINOR_FACTS, POLICY, acked, apply, at, opened

NEAR = POLICY.audit.near_deadline
TICKETS = ["INC-A", "INC-B", "INC-C"]


def summaries() -> list[IncidentSummary]:
    """Critical received 09:30 (reaction 10:30), minor received 09:30, one resolved."""
    critical = opened(**CRITICAL_FACTS).model_copy(update={"ticket_id": "INC-CRIT"})
    minor = opened(**MINOR_FACTS).model_copy(update={"ticket_id": "INC-MINOR"})
    done = acked(opened(**CRITICAL_FACTS), estimate=at(11), now=at(9, 40))
    done = apply(done, Resolve(summary="ok"), at(9, 50))
    done = done.model_copy(update={"ticket_id": "INC-DONE"})
    return [build_view(s).summary() for s in (critical, minor, done)]


# -- counts -----------------------------------------------------------------------------


def test_counts_open_breached_and_due_soon_as_the_rows_are_coloured() -> None:
    board = summaries()
    # 09:45: the critical reaction (10:30) is 45 min away: due soon; the minor one is on track.
    assert board_counts(board, at(9, 45), POLICY.calendar, due_soon=NEAR) == BoardCounts(2, 0, 1)
    # 10:31: the critical reaction passed: breached.
    assert board_counts(board, at(10, 31), POLICY.calendar, due_soon=NEAR) == BoardCounts(2, 1, 0)


def test_the_countdown_ticks_between_reads_from_the_same_summaries() -> None:
    (critical, *_) = summaries()
    now = at(9, 45)
    first = standing(critical, now, POLICY.calendar, due_soon=NEAR)
    later = standing(critical, now + timedelta(seconds=1), POLICY.calendar, due_soon=NEAR)
    assert first.left is not None and later.left is not None
    assert first.left - later.left == timedelta(seconds=1)


def test_the_countdown_stands_still_outside_business_hours() -> None:
    (critical, *_) = summaries()
    evening = at(19)
    a = standing(critical, evening, POLICY.calendar, due_soon=NEAR)
    b = standing(critical, evening + timedelta(minutes=5), POLICY.calendar, due_soon=NEAR)
    assert a.left == b.left


# -- ticks and reads --------------------------------------------------------------------


def test_the_next_tick_is_the_next_whole_second() -> None:
    now = datetime(2026, 11, 24, 9, 0, 0, 250_000, tzinfo=UTC)
    assert seconds_to_next_tick(now) == 0.75
    assert seconds_to_next_tick(now.replace(microsecond=0)) == 1.0


@given(st.integers(min_value=0, max_value=999_999))
def test_a_tick_never_waits_longer_than_a_second_nor_not_at_all(microsecond: int) -> None:
    now = datetime(2026, 11, 24, 9, 0, 0, microsecond, tzinfo=UTC)
    assert 0 < seconds_to_next_tick(now) <= 1.0


def test_the_incidents_are_read_at_once_and_then_every_interval() -> None:
    assert read_due(None, 100.0, 5.0)
    assert not read_due(100.0, 104.9, 5.0)
    assert read_due(100.0, 105.0, 5.0)


# -- selection and keys -----------------------------------------------------------------


def pressed(state: WatchState, key: Key, tickets: list[str] = TICKETS) -> WatchState:
    after = press(state, key, tickets)
    assert after is not None, f"{key} quit"
    return after


def test_arrows_move_the_selection_within_the_board() -> None:
    state = keep_selection(WatchState(), TICKETS)
    assert state.selected == "INC-A"
    state = pressed(state, Key.DOWN)
    assert state.selected == "INC-B"
    state = pressed(pressed(state, Key.DOWN), Key.DOWN)
    assert state.selected == "INC-C"  # stops at the last row
    assert pressed(state, Key.HOME).selected == "INC-A"
    assert pressed(pressed(state, Key.HOME), Key.UP).selected == "INC-A"  # and at the first
    assert pressed(state, Key.PAGE_UP).selected == "INC-A"


def test_the_selection_follows_its_ticket_when_a_read_reorders_the_board() -> None:
    state = WatchState(selected="INC-B", index=1)
    assert keep_selection(state, ["INC-B", "INC-A"]) == WatchState(selected="INC-B", index=0)


def test_when_the_selected_ticket_leaves_the_board_its_row_stays_selected() -> None:
    state = WatchState(selected="INC-B", index=1)
    assert keep_selection(state, ["INC-A", "INC-C"]).selected == "INC-C"
    assert keep_selection(WatchState(selected="INC-C", index=2), ["INC-A"]).selected == "INC-A"
    assert keep_selection(state, []).selected is None


def test_enter_opens_the_detail_and_escape_or_q_go_back_then_q_quits() -> None:
    state = pressed(WatchState(selected="INC-B", index=1), Key.ENTER)
    assert state.mode is Mode.DETAIL and state.selected == "INC-B"
    back = pressed(state, Key.ESCAPE)
    assert back.mode is Mode.BOARD and back.selected == "INC-B"
    back = pressed(state, Key.QUIT)
    assert back.mode is Mode.BOARD
    assert press(back, Key.QUIT, TICKETS) is None
    assert press(back, Key.ESCAPE, TICKETS) is None


def test_enter_on_an_empty_board_opens_nothing() -> None:
    assert pressed(WatchState(), Key.ENTER, []) == WatchState()
    assert pressed(WatchState(), Key.DOWN, []) == WatchState()


def test_arrows_scroll_a_detail_and_the_renderer_clamps_the_scroll() -> None:
    state = pressed(WatchState(mode=Mode.DETAIL, selected="INC-A"), Key.DOWN)
    assert state.scroll == 1
    state = clamp_scroll(pressed(state, Key.END), lines=40, height=27)
    assert state.scroll == 13
    # The first key back moves at once: the scroll was clamped, not left far beyond.
    state = pressed(state, Key.UP)
    assert state.scroll == 12
    state = pressed(state, Key.HOME)
    assert state.scroll == 0
    assert pressed(state, Key.UP) == state
    assert pressed(state, Key.ENTER) == state  # already open


def test_a_short_detail_does_not_scroll() -> None:
    assert clamp_scroll(WatchState(mode=Mode.DETAIL, scroll=5), lines=10, height=27).scroll == 0
