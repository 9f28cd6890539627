"""The live board's logic (``sla watch``): counts, ticks, re-reads, selection, keys.

Pure, like :mod:`domain.board` which it builds on: the clock is a parameter.
Between two reads of the incidents the board ticks by recomputing business
time left from the last read's summaries (the deadlines do not move unless an
operator or a timer acts, and the next read brings that); only the re-read
talks to Temporal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from domain.board import Urgency, standing
from domain.calendar import BusinessCalendar
from domain.read_model import IncidentSummary

__all__ = [
    "BoardCounts",
    "Key",
    "Mode",
    "WatchState",
    "board_counts",
    "clamp_scroll",
    "keep_selection",
    "press",
    "read_due",
    "seconds_to_next_tick",
]


@dataclass(frozen=True)
class BoardCounts:
    """What the header of the live board counts.

    Attributes:
        open: Incidents on the board (not resolved).
        breached: Of those, with a recorded SLA breach or the next deadline passed.
        due_soon: Of those, with the next deadline at most the due-soon
            threshold of business time away (and not breached).
    """

    open: int
    breached: int
    due_soon: int


def board_counts(
    summaries: Iterable[IncidentSummary],
    now: datetime,
    calendar: BusinessCalendar,
    *,
    due_soon: timedelta,
) -> BoardCounts:
    """Count the open, breached and due-soon incidents at ``now``.

    Uses :func:`domain.board.standing`, so the counts always agree with the
    colours of the rows beneath them.

    Args:
        summaries: The incidents of the last read.
        now: The instant (aware).
        calendar: The policy's business calendar.
        due_soon: The policy's ``[audit] near_deadline``.
    """
    urgencies = [standing(s, now, calendar, due_soon=due_soon).urgency for s in summaries]
    return BoardCounts(
        open=sum(u is not Urgency.CLOSED for u in urgencies),
        breached=sum(u is Urgency.BREACHED for u in urgencies),
        due_soon=sum(u is Urgency.DUE_SOON for u in urgencies),
    )


def seconds_to_next_tick(now: datetime) -> float:
    """Seconds from ``now`` to the next whole second of the wall clock.

    The board redraws on whole seconds, so every countdown and the header's
    clock change together and none skips a second (a fixed one-second sleep
    drifts by the drawing time and sometimes shows the same second twice).
    Never less than a millisecond: a tick exactly on the second waits for the next.
    """
    fraction = now.microsecond / 1_000_000
    return max(1.0 - fraction, 0.001)


def read_due(last_read: float | None, now: float, interval: float) -> bool:
    """Whether the incidents are to be read again (monotonic seconds).

    Args:
        last_read: When the last read started; ``None``: never read.
        now: The monotonic clock now.
        interval: Seconds between reads (``--interval``).
    """
    return last_read is None or now - last_read >= interval


class Mode(StrEnum):
    """What the live board shows."""

    BOARD = "board"
    DETAIL = "detail"


class Key(StrEnum):
    """The keys the live board understands (decoded from the terminal's bytes by the CLI)."""

    UP = "up"
    DOWN = "down"
    PAGE_UP = "page_up"
    PAGE_DOWN = "page_down"
    HOME = "home"
    END = "end"
    ENTER = "enter"
    ESCAPE = "escape"
    QUIT = "quit"  # q


@dataclass(frozen=True)
class WatchState:
    """Where the operator is on the live board.

    Attributes:
        mode: The board or one ticket's detail.
        selected: The selected ticket (kept across re-reads, which may reorder rows).
        index: Its row, so that when it leaves the board (resolved) the row that
            took its place is selected, not the first one.
        scroll: The first line of the detail shown (the detail can be longer than
            the terminal); the renderer clamps it.
        page: Lines one page-up/page-down key moves the detail by.
    """

    mode: Mode = Mode.BOARD
    selected: str | None = None
    index: int = 0
    scroll: int = 0
    page: int = 10


def keep_selection(state: WatchState, tickets: Sequence[str]) -> WatchState:
    """``state`` after a read that brought ``tickets`` (in board order).

    The selected ticket stays selected wherever it moved; when it is gone, the
    ticket now at its row (or the last one) is; with no ticket, nothing is.
    An open detail stays open: the ticket may be resolved, not gone.
    """
    if not tickets:
        return replace(state, selected=None, index=0)
    if state.selected in tickets:
        return replace(state, index=tickets.index(state.selected))
    index = min(state.index, len(tickets) - 1)
    return replace(state, selected=tickets[index], index=index)


def press(state: WatchState, key: Key, tickets: Sequence[str]) -> WatchState | None:
    """``state`` after ``key``; ``None``: quit.

    On the board: up/down (and page, home, end) move the selection, Enter opens
    the selected ticket's detail, q or Esc quits. In a detail: Esc or q goes
    back to the board (q twice quits), up/down scroll.

    Args:
        state: Where the operator is.
        key: The key pressed.
        tickets: The tickets on the board, in board order.
    """
    state = keep_selection(state, tickets) if state.mode is Mode.BOARD else state
    if state.mode is Mode.DETAIL:
        return _press_in_detail(state, key)
    if key in (Key.QUIT, Key.ESCAPE):
        return None
    if key is Key.ENTER:
        if state.selected is None:
            return state
        return replace(state, mode=Mode.DETAIL, scroll=0)
    if not tickets:
        return state
    moves = {
        Key.UP: -1,
        Key.DOWN: 1,
        Key.PAGE_UP: -state.page,
        Key.PAGE_DOWN: state.page,
        Key.HOME: -len(tickets),
        Key.END: len(tickets),
    }
    index = min(max(state.index + moves[key], 0), len(tickets) - 1)
    return replace(state, selected=tickets[index], index=index)


def _press_in_detail(state: WatchState, key: Key) -> WatchState:
    if key in (Key.QUIT, Key.ESCAPE):
        return replace(state, mode=Mode.BOARD, scroll=0)
    moves = {
        Key.UP: -1,
        Key.DOWN: 1,
        Key.PAGE_UP: -state.page,
        Key.PAGE_DOWN: state.page,
        # "End" is further than any detail is long: :func:`clamp_scroll` stops it.
        Key.HOME: -state.scroll,
        Key.END: _FAR,
    }
    move = moves.get(key)
    if move is None:  # Enter: already open
        return state
    return replace(state, scroll=max(state.scroll + move, 0))


_FAR = 1_000_000


def clamp_scroll(state: WatchState, lines: int, height: int) -> WatchState:
    """``state`` with the detail's scroll inside what ``lines`` lines on ``height`` rows allow.

    The renderer calls it with the detail's length, so that scrolling past
    the end and back answers the first key back at once.
    """
    scroll = min(state.scroll, max(lines - height, 0))
    return state if scroll == state.scroll else replace(state, scroll=scroll)
