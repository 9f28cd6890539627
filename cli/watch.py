"""``sla watch``: the live board of open incidents, ticking, with keys to open a ticket.

On a terminal it is a full-screen board (rich ``Live`` on the alternate
screen): the ``sla list`` board (:func:`cli.render.incidents_table`) with
business time left to the second, redrawn on every whole second from the last
read, and the incidents read again every ``--interval`` seconds through the
service layer (:mod:`service.incident_list`). Keys are read without blocking
(the terminal in cbreak mode, an asyncio reader on stdin); the terminal's
modes are restored on every way out, exceptions included.

Without a terminal (a pipe, a log, ``--plain``) it prints the board every
interval under a separator line, without any escape sequence, until
interrupted; ``--once`` prints one board and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import termios
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.segment import Segment, Segments
from rich.text import Text
from temporalio.client import Client

from cli.common import (
    JsonOption,
    PolicyOption,
    client,
    describe_failure,
    fail,
    language_or_fail,
    policy_or_fail,
    run,
    warn_unreadable,
)
from cli.render import incident_detail, incidents_table, word
from cli.terminal import neutralise
from domain.board import most_urgent_first
from domain.read_model import IncidentSummary, IncidentView
from domain.sla import Severity, SlaPolicy
from domain.timeline_words import Language, long_time, short_time
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
from service import incident_list
from service.queries import Unreadable, incident_view

DEFAULT_INTERVAL = 5.0
"""Seconds between two reads of the incidents (``--interval``)."""

MIN_INTERVAL = 1.0
"""Reading more often would only load the server: the board ticks between reads anyway."""

HEADER_LINES = 3
"""Header, status line and a blank line above the board or detail."""

# -- reading, through the service layer -------------------------------------------------


@dataclass(frozen=True)
class BoardFilter:
    """What ``sla watch`` shows of the open incidents (the ``sla list`` filters)."""

    severity: Severity | None = None
    company: str | None = None
    breached: bool = False
    limit: int = 200


@dataclass(frozen=True)
class Read:
    """One read of the board: the incidents, the unreadable ones, when it started."""

    summaries: list[IncidentSummary]
    skipped: list[Unreadable]
    at: datetime


async def read_board(c: Client, board: BoardFilter) -> Read:
    """The open incidents matching ``board``, as ``sla list`` reads them."""
    at = datetime.now(UTC)
    summaries, skipped = await incident_list.list_incidents(
        c,
        severity=board.severity,
        company=board.company,
        breached=board.breached,
        limit=board.limit,
    )
    return Read(summaries, skipped, at)


# -- keys -------------------------------------------------------------------------------

_ESC = 0x1B

_SEQUENCES: dict[bytes, Key] = {
    b"[A": Key.UP,
    b"OA": Key.UP,
    b"[B": Key.DOWN,
    b"OB": Key.DOWN,
    b"[5~": Key.PAGE_UP,
    b"[6~": Key.PAGE_DOWN,
    b"[H": Key.HOME,
    b"OH": Key.HOME,
    b"[1~": Key.HOME,
    b"[7~": Key.HOME,
    b"[F": Key.END,
    b"OF": Key.END,
    b"[4~": Key.END,
    b"[8~": Key.END,
}
"""Escape sequences (after ESC) of the keys the board knows: both cursor-key modes
(``ESC [ A`` normal, ``ESC O A`` application) and the usual Home/End variants."""

_PLAIN: dict[int, Key] = {
    ord("\r"): Key.ENTER,
    ord("\n"): Key.ENTER,
    ord("q"): Key.QUIT,
    ord("Q"): Key.QUIT,
    ord("k"): Key.UP,
    ord("j"): Key.DOWN,
    ord(" "): Key.PAGE_DOWN,
    ord("g"): Key.HOME,
    ord("G"): Key.END,
}


def decode_keys(data: bytes) -> list[Key]:
    """The keys in ``data``, bytes read from a terminal in cbreak mode.

    A terminal writes an escape sequence (an arrow key: ``ESC [ A``) in one
    piece, so an ESC with nothing after it in the same read is the Esc key.
    Unknown sequences and other bytes are skipped whole, never read as letters
    (``ESC [ 1 ; 5 A``, Ctrl-Up, must not quit through a stray ``q``-like byte).
    """
    keys: list[Key] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte != _ESC:
            if byte in _PLAIN:
                keys.append(_PLAIN[byte])
            i += 1
            continue
        rest = data[i + 1 :]
        if rest[:1] == b"O" and len(rest) >= 2:
            end = 2
        elif rest[:1] == b"[":
            end = 1
            # Parameters and intermediates, then one final byte (0x40–0x7E).
            while end < len(rest) and not 0x40 <= rest[end] <= 0x7E:
                end += 1
            end += 1
        else:
            keys.append(Key.ESCAPE)
            i += 1
            continue
        sequence = rest[:end]
        if sequence in _SEQUENCES:
            keys.append(_SEQUENCES[sequence])
        i += 1 + end
    return keys


class TerminalKeys:
    """Keys from a terminal on stdin, without blocking: cbreak mode and an asyncio reader.

    Used as a context manager: the terminal's previous modes are put back on
    exit, whatever ended the board (a key, a signal, an exception). Without a
    terminal on stdin (``sla watch < /dev/null``) it reads nothing; the board
    still runs and Ctrl-C ends it.

    Args:
        on_key: Called with each key, on the event loop.
        stream: The input (stdin).
    """

    def __init__(self, on_key: Callable[[Key], None], stream: TextIO | None = None) -> None:
        self._on_key = on_key
        self._stream = stream or sys.stdin
        self._fd: int | None = None
        self._saved: list[Any] | None = None

    def __enter__(self) -> TerminalKeys:
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        self._saved = termios.tcgetattr(fd)
        self._fd = fd
        # cbreak, not raw: keys arrive one by one without echo, while Ctrl-C
        # still raises SIGINT (handled by the board) and output keeps its
        # newline translation.
        tty.setcbreak(fd, termios.TCSANOW)
        asyncio.get_running_loop().add_reader(fd, self._readable)
        return self

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # The terminal is gone (hang-up): stop reading, let the board quit.
            self._stop_reading()
            self._on_key(Key.QUIT)
            return
        if not data:
            self._stop_reading()
            return
        for key in decode_keys(data):
            self._on_key(key)

    def _stop_reading(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)

    def __exit__(self, *_: object) -> None:
        self._stop_reading()
        if self._fd is not None and self._saved is not None:
            # TCSAFLUSH: keys typed after the last read must not reach the shell.
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSAFLUSH, self._saved)
        self._fd = None


# -- drawing ----------------------------------------------------------------------------


def zone_name(policy: SlaPolicy) -> str:
    """``Berlin`` for Europe/Berlin: the header says whose clock it shows."""
    return policy.calendar_spec.timezone.rsplit("/", 1)[-1].replace("_", " ")


def header_line(
    counts: BoardCounts, now: datetime, policy: SlaPolicy, lang: Language, *, skipped: int = 0
) -> str:
    """``sla watch · Tue 24.11.2026 12:50:03 Berlin · 3 open · 1 breached · 1 due soon``."""
    calendar = policy.calendar
    local = now.astimezone(calendar.zone)
    parts = [
        f"sla watch · {long_time(now, lang, calendar.zone)}:{local:%S} {zone_name(policy)}",
        f"{counts.open} {word('open', lang)}",
        f"{counts.breached} {word('breached (count)', lang)}",
        f"{counts.due_soon} {word('due soon', lang)}",
    ]
    if skipped:
        parts.append(f"{skipped} {word('unreadable', lang)}")
    return " · ".join(parts)


def closed_note(now: datetime, policy: SlaPolicy, lang: Language) -> str | None:
    """When business time stands still, say until when (else the board seems frozen)."""
    calendar = policy.calendar
    if calendar.is_open(now):
        return None
    opens = calendar.next_open(now)
    return f"{word('closed until', lang)} {short_time(opens, lang, calendar.zone)}"


def board_renderable(
    read: Read,
    now: datetime,
    policy: SlaPolicy,
    lang: Language,
    console: Console,
    *,
    selected: str | None = None,
) -> RenderableType:
    """The board of ``read`` at ``now``: most urgent first, countdowns to the second."""
    summaries = most_urgent_first(read.summaries, now, policy.calendar)
    if not summaries:
        return Text(word("no incidents", lang))
    return incidents_table(
        summaries,
        now,
        policy,
        lang=lang,
        width=console.width,
        console=console,
        countdown=True,
        selected=selected,
    )


def _line_text(line: Sequence[Segment]) -> str:
    return "".join(segment.text for segment in line)


def _lines(console: Console, renderable: RenderableType, width: int) -> list[list[Segment]]:
    options = console.options.update(width=width, height=None)
    return console.render_lines(renderable, options, pad=False)


def _joined(lines: Sequence[Sequence[Segment]]) -> Segments:
    segments: list[Segment] = []
    for index, line in enumerate(lines):
        if index:
            segments.append(Segment.line())
        segments.extend(line)
    return Segments(segments)


BOARD_HEAD_LINES = 2
"""The board's column headers and the rule under them: they stay while rows scroll."""


def board_window(
    lines: list[list[Segment]], height: int, selected: str | None
) -> list[list[Segment]]:
    """The board's lines that fit ``height`` rows with the selected ticket's row among them.

    The column headers stay on top; the rows scroll so that the selected row
    (found by its ticket ID, which is never cut) is the last one shown when it
    lies further down.
    """
    if len(lines) <= height:
        return lines
    head, body = lines[:BOARD_HEAD_LINES], lines[BOARD_HEAD_LINES:]
    room = max(height - len(head), 1)
    focus = next((i for i, line in enumerate(body) if selected and selected in _line_text(line)), 0)
    # One more line: a row folded over two lines shows whole.
    start = max(0, min(focus + 2 - room, len(body) - room))
    return head + body[start : start + room]


@dataclass
class Screen:
    """What the live board knows between two frames."""

    read: Read
    state: WatchState = field(default_factory=WatchState)
    error: str | None = None
    detail: IncidentView | None = None
    detail_error: str | None = None

    def tickets(self, now: datetime, policy: SlaPolicy) -> list[str]:
        """The tickets in board order at ``now``."""
        ordered = most_urgent_first(self.read.summaries, now, policy.calendar)
        return [s.ticket_id for s in ordered]


def frame(
    screen: Screen, now: datetime, policy: SlaPolicy, lang: Language, console: Console
) -> RenderableType:
    """One frame of the live board (also clamps the detail's scroll to its length)."""
    width, height = console.size
    counts = board_counts(
        screen.read.summaries, now, policy.calendar, due_soon=policy.audit.near_deadline
    )
    head = Text(
        header_line(counts, now, policy, lang, skipped=len(screen.read.skipped)), style="bold"
    )
    status = Text(style="dim")
    state = screen.state
    status.append(f"{word('read at', lang)} {screen.read.at.astimezone(policy.calendar.zone):%X}")
    note = closed_note(now, policy, lang)
    if note:
        status.append(f" · {note}", style="yellow")
    keys = word("detail keys" if state.mode is Mode.DETAIL else "board keys", lang)
    status.append(f" · {keys}")
    if screen.error:
        status = Text(f"{word('read failed', lang)}: {neutralise(screen.error)}", style="red")
    room = max(height - HEADER_LINES, 1)
    if state.mode is Mode.DETAIL:
        if screen.detail is not None and screen.detail.ticket_id == state.selected:
            body = _lines(console, incident_detail(screen.detail, now, policy, lang=lang), width)
            screen.state = clamp_scroll(state, len(body), room)
            shown = body[screen.state.scroll : screen.state.scroll + room]
            content: RenderableType = _joined(shown)
        elif screen.detail_error:
            content = Text(neutralise(screen.detail_error), style="red")
        else:
            content = Text(f"{state.selected} · {word('loading', lang)}")
    else:
        board = board_renderable(screen.read, now, policy, lang, console, selected=state.selected)
        content = _joined(board_window(_lines(console, board, width), room, state.selected))
    return Group(head, status, Text(), content)


# -- the live board ---------------------------------------------------------------------

_STOP = object()
"""Put in the inbox by the signal handlers: leave the board."""


@contextlib.contextmanager
def _signals_stop(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C, SIGTERM and a hang-up end the board like q does (terminal restored, exit 0)."""
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def live_board(
    c: Client,
    board: BoardFilter,
    policy: SlaPolicy,
    lang: Language,
    interval: float,
    console: Console,
) -> None:
    """Run the full-screen board until q, Ctrl-C or SIGTERM.

    The first read happens before the screen switches, so a refusal (Temporal
    down) is one line on the normal screen; later failed reads show in the
    status line and are retried every interval.
    """
    loop = asyncio.get_running_loop()
    screen = Screen(await read_board(c, board))
    inbox: asyncio.Queue[object] = asyncio.Queue()
    last_read = loop.time()
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def reread() -> None:
        try:
            inbox.put_nowait(await read_board(c, board))
        except Exception as error:  # shown in the status line; the next interval retries
            inbox.put_nowait(("board error", describe_failure(error)))

    async def read_detail(ticket: str) -> None:
        try:
            inbox.put_nowait(await incident_view(c, ticket))
        except Exception as error:
            inbox.put_nowait(("detail error", describe_failure(error, ticket)))

    with (
        _signals_stop(loop, lambda: inbox.put_nowait(_STOP)),
        Live(
            console=console,
            screen=True,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live,
        TerminalKeys(inbox.put_nowait),
    ):
        try:
            while True:
                now = datetime.now(UTC)
                if read_due(last_read, loop.time(), interval):
                    last_read = loop.time()
                    spawn(reread())
                    if screen.state.mode is Mode.DETAIL and screen.state.selected:
                        spawn(read_detail(screen.state.selected))
                live.update(frame(screen, now, policy, lang, console), refresh=True)
                try:
                    item = await asyncio.wait_for(inbox.get(), seconds_to_next_tick(now))
                except TimeoutError:
                    continue
                if item is _STOP:
                    return
                if isinstance(item, Key):
                    tickets = screen.tickets(now, policy)
                    state = press(screen.state, item, tickets)
                    if state is None:
                        return
                    if state.mode is Mode.DETAIL and screen.state.mode is Mode.BOARD:
                        screen.detail, screen.detail_error = None, None
                        assert state.selected is not None
                        spawn(read_detail(state.selected))
                    screen.state = state
                elif isinstance(item, Read):
                    screen.read, screen.error = item, None
                    if screen.state.mode is Mode.BOARD:
                        screen.state = keep_selection(
                            screen.state, screen.tickets(datetime.now(UTC), policy)
                        )
                elif isinstance(item, IncidentView):
                    screen.detail, screen.detail_error = item, None
                elif isinstance(item, tuple) and item[0] == "board error":
                    screen.error = item[1]
                elif isinstance(item, tuple) and item[0] == "detail error":
                    screen.detail_error = item[1]
        finally:
            for task in list(tasks):
                task.cancel()
            for task in list(tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


# -- plain output -----------------------------------------------------------------------


def plain_frame(
    read: Read, now: datetime, policy: SlaPolicy, lang: Language, console: Console
) -> None:
    """Print one board with its header line (plain output, ``--once``)."""
    counts = board_counts(read.summaries, now, policy.calendar, due_soon=policy.audit.near_deadline)
    console.print(header_line(counts, now, policy, lang, skipped=len(read.skipped)), style="bold")
    note = closed_note(now, policy, lang)
    if note:
        console.print(note)
    console.print(board_renderable(read, now, policy, lang, console))


def json_frame(read: Read, now: datetime, policy: SlaPolicy) -> str:
    """One line of JSON per read: counts and the incidents, most urgent first."""
    counts = board_counts(read.summaries, now, policy.calendar, due_soon=policy.audit.near_deadline)
    summaries = most_urgent_first(read.summaries, now, policy.calendar)
    return json.dumps(
        {
            "read_at": read.at.isoformat(),
            "open": counts.open,
            "breached": counts.breached,
            "due_soon": counts.due_soon,
            "incidents": [s.model_dump(mode="json") for s in summaries],
        },
        ensure_ascii=True,
    )


async def plain_board(
    c: Client,
    board: BoardFilter,
    policy: SlaPolicy,
    lang: Language,
    interval: float,
    console: Console,
    *,
    once: bool,
    as_json: bool,
) -> None:
    """Print the board every ``interval`` seconds (or once) until interrupted."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    first = True
    with _signals_stop(loop, stop.set):
        while not stop.is_set():
            started = loop.time()
            try:
                read = await read_board(c, board)
            except Exception as error:
                if first:
                    raise  # a refusal at the start is the command's one line
                print(f"warning: {describe_failure(error)}; retrying", file=sys.stderr)
            else:
                warn_unreadable(read.skipped)
                now = datetime.now(UTC)
                if as_json:
                    print(json_frame(read, now, policy), flush=True)
                else:
                    if not first:
                        console.print("─" * min(console.width, 100))
                    plain_frame(read, now, policy, lang, console)
                    console.file.flush()
            first = False
            if once:
                return
            wait = max(interval - (loop.time() - started), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


# -- the command ------------------------------------------------------------------------


def watch(
    interval: Annotated[
        float,
        typer.Option(help="Seconds between reads of the incidents (countdowns tick every second)."),
    ] = DEFAULT_INTERVAL,
    once: Annotated[bool, typer.Option("--once", help="Print one board and exit.")] = False,
    plain: Annotated[
        bool,
        typer.Option("--plain", help="Plain refreshed output, no escape sequences (as in a pipe)."),
    ] = False,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    company: Annotated[str | None, typer.Option(help="Only this company.")] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only SLA breaches.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A live board of open incidents: business time left ticking, keys to open a ticket.

    On a terminal: ↑/↓ (or j/k) select, Enter opens the ticket (as `sla show`),
    Esc or q goes back, q quits, Ctrl-C too. The header shows the time in the
    policy's zone and how many incidents are open, breached and due soon.
    Without a terminal (or with --plain) the board is printed every interval
    under a separator line; --once prints it once. --json prints one JSON line
    per read.
    """
    if interval < MIN_INTERVAL:
        fail(f"--interval must be at least {MIN_INTERVAL:g} seconds")
    sla_policy = policy_or_fail(policy)
    lang = language_or_fail()
    board = BoardFilter(severity=severity, company=company, breached=breached, limit=limit)
    live = not (once or plain or as_json) and sys.stdout.isatty()

    async def body() -> None:
        c = await client()
        if live:
            console = Console(highlight=False, soft_wrap=False)
            await live_board(c, board, sla_policy, lang, interval, console)
        else:
            # --plain promises no escape sequences even on a terminal; --once on a
            # terminal prints in colour, as `sla list` does.
            console = (
                Console(highlight=False, soft_wrap=False)
                if once and not plain
                else Console(highlight=False, soft_wrap=False, force_terminal=False, no_color=True)
            )
            await plain_board(
                c, board, sla_policy, lang, interval, console, once=once, as_json=as_json
            )

    run(body)
