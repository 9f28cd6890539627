"""``sla watch`` without a server: keys, countdowns, frames (the tmux test runs the real one).

The board is the ``sla list`` board of ``tests/cli/test_board_and_detail.py``
(fixed tickets, Tuesday 2026-11-24 12:50 Berlin), drawn by ``cli/watch.py``
into consoles of a fixed size.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from rich.console import Console
from rich.segment import Segment

from cli.render import format_duration
from cli.watch import (
    Read,
    Screen,
    board_window,
    closed_note,
    decode_keys,
    frame,
    header_line,
    plain_frame,
)
from domain.read_model import IncidentView
from domain.timeline_words import Language
from domain.watch import BoardCounts, Key, Mode, WatchState
from tests.cli.test_board_and_detail import NOW, board, minor_on_track
from tests.domain.test_incident import POLICY, at

EN, DE = Language.EN, Language.DE


def console(width: int = 100, height: int = 30) -> Console:
    return Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        highlight=False,
        force_terminal=False,
    )


def drawn(screen: Screen, c: Console, now: datetime = NOW) -> str:
    c.print(frame(screen, now, POLICY, EN, c))
    return c.export_text()


def read() -> Read:
    return Read(board(), [], NOW - timedelta(seconds=2))


# -- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        (b"\x1b[A", [Key.UP]),
        (b"\x1bOB", [Key.DOWN]),  # application cursor mode
        (b"jk", [Key.DOWN, Key.UP]),
        (b"\r", [Key.ENTER]),
        (b"\n", [Key.ENTER]),
        (b"\x1b", [Key.ESCAPE]),
        (b"q", [Key.QUIT]),
        (b"\x1b[B\x1b[B\r", [Key.DOWN, Key.DOWN, Key.ENTER]),
        (b"\x1b[5~\x1b[6~", [Key.PAGE_UP, Key.PAGE_DOWN]),
        (b"\x1b[H\x1b[F\x1b[1~\x1b[4~", [Key.HOME, Key.END, Key.HOME, Key.END]),
        # Unknown sequences are skipped whole: Ctrl-Up, F5, a mouse report.
        (b"\x1b[1;5A", []),
        (b"\x1b[15~q", [Key.QUIT]),
        (b"\x1b[<0;10;5M", []),
        (b"x\x7f\t", []),
        (b"\x1b\x1b[A", [Key.ESCAPE, Key.UP]),
    ],
)
def test_terminal_bytes_are_decoded_into_keys(data: bytes, keys: list[Key]) -> None:
    assert decode_keys(data) == keys


# -- countdowns -------------------------------------------------------------------------


def test_a_countdown_shows_seconds_and_sla_list_does_not() -> None:
    left = timedelta(hours=1, minutes=5, seconds=9)
    assert format_duration(left, seconds=True) == "1h 05m 09s"
    assert format_duration(left) == "1h 05m"
    assert format_duration(timedelta(minutes=3), seconds=True) == "3m 00s"
    assert format_duration(timedelta(seconds=7), seconds=True) == "7s"


def test_the_board_ticks_from_the_last_read_without_reading_again() -> None:
    screen = Screen(read())
    first = drawn(screen, console())
    second = drawn(screen, console(), NOW + timedelta(seconds=1))
    assert first != second
    # The escalated critical one (estimate 13:00) is due in 10 min at 12:50.
    assert "10m 00s" in first and "9m 59s" in second


def test_outside_business_hours_the_header_says_when_the_clocks_resume() -> None:
    assert closed_note(NOW, POLICY, EN) is None
    note = closed_note(at(19), POLICY, EN)
    assert note == "outside business hours, clocks stopped until Wed 25.11. 08:00"
    assert closed_note(at(19), POLICY, DE) == (
        "außerhalb der Bereitschaftszeit, Fristen ruhen bis Mi 25.11. 08:00"
    )


# -- frames -----------------------------------------------------------------------------


def test_the_header_shows_berlin_time_and_the_counts() -> None:
    counts = BoardCounts(open=3, breached=1, due_soon=1)
    assert header_line(counts, NOW, POLICY, EN) == (
        "sla watch · Tue 24.11.2026 12:50:00 Berlin · 3 open · 1 breached · 1 due soon"
    )
    assert header_line(counts, NOW, POLICY, DE, skipped=1) == (
        "sla watch · Di 24.11.2026 12:50:00 Berlin · 3 offen · 1 überschritten · 1 bald fällig"
        " · 1 nicht lesbar"
    )


def test_a_frame_shows_the_header_the_keys_and_every_ticket_in_full() -> None:
    text = drawn(Screen(read()), console())
    lines = text.splitlines()
    assert lines[0].startswith("sla watch · Tue 24.11.2026 12:50:00 Berlin · 3 open")
    assert "↑/↓ select · Enter open · q quit" in lines[1]
    for summary in board():
        if summary.resolved_at is None:
            assert summary.ticket_id in text


def test_the_detail_frame_is_the_sla_show_screen() -> None:
    view: IncidentView = minor_on_track()
    screen = Screen(
        read(), state=WatchState(mode=Mode.DETAIL, selected=view.ticket_id), detail=view
    )
    text = drawn(screen, console(height=60))
    assert "Esc/q back" in text
    assert view.ticket_id in text and "timeline" in text and "description" in text


def test_a_detail_longer_than_the_terminal_scrolls_and_is_clamped() -> None:
    view = minor_on_track()
    state = WatchState(mode=Mode.DETAIL, selected=view.ticket_id, scroll=10_000)
    screen = Screen(read(), state=state, detail=view)
    text = drawn(screen, console(height=12))
    assert len(text.splitlines()) <= 12
    assert screen.state.scroll < 10_000  # clamped to the end of the detail
    assert "timeline" in text or "Report received" in text


def test_a_detail_still_loading_says_so() -> None:
    screen = Screen(read(), state=WatchState(mode=Mode.DETAIL, selected="INC-20261124-MNRQ4Z"))
    assert "INC-20261124-MNRQ4Z · loading" in drawn(screen, console())


def test_a_failed_read_shows_in_the_status_line() -> None:
    screen = Screen(read(), error="Temporal is not reachable")
    lines = drawn(screen, console()).splitlines()
    assert lines[1] == "reading failed, retrying: Temporal is not reachable"


def test_the_selected_row_stays_visible_on_a_board_longer_than_the_terminal() -> None:
    head: list[list[Segment]] = [[Segment("ticket  left")], [Segment("─" * 12)]]
    lines = head + [[Segment(f"INC-ROW-{i:02d}")] for i in range(40)]
    shown = board_window(lines, 10, "INC-ROW-30")
    texts = ["".join(s.text for s in line) for line in shown]
    assert len(shown) == 10
    assert texts[:2] == ["ticket  left", "─" * 12]  # the column headers stay
    assert "INC-ROW-30" in texts
    assert board_window(lines[:8], 10, "INC-ROW-03") == lines[:8]


def test_plain_output_has_no_escape_sequences() -> None:
    c = Console(file=io.StringIO(), width=100, highlight=False, force_terminal=False, no_color=True)
    plain_frame(read(), NOW, POLICY, EN, c)
    text = c.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in text
    assert text.startswith("sla watch · Tue 24.11.2026 12:50:00 Berlin")
