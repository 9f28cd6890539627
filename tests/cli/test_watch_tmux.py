"""``sla watch`` as an operator runs it: in a real terminal (tmux), and without one.

Two incidents are reported through ``sla report`` against the dev server (a
worker on the CLI's task queue runs in this process, ``tests/cli/conftest.py``)
with a 24/7 policy, so that business time runs whenever the test does and the
countdowns tick. ``sla watch`` then runs inside ``tmux new-session -d -x 100 -y 30``;
the test reads the screen with ``tmux capture-pane -p`` and types with
``tmux send-keys``. Everything is polled with generous deadlines, never judged
after a fixed sleep: a loaded 2-core machine may take seconds to start ``sla``.

tmux comes from Debian (``make pytest`` installs it, ``tests/realservers/ensure_debian.sh``);
when it cannot be installed the tmux tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.cli.conftest import TICKET, CliStack
from tests.conftest import report
from tests.e2e.policies import write_round_the_clock_policy

SLA = Path(sys.executable).parent / "sla"
REPO = Path(__file__).resolve().parents[2]
TMUX_UNAVAILABLE = REPO / "test-artifacts" / "tmux-unavailable.txt"

CRITICAL_DESCRIPTION = "Anmeldung nicht möglich, Fehlermeldung 503 (watch)."
MINOR_DESCRIPTION = "Etikettendruck dauert zwei Minuten statt zehn Sekunden."

COUNTDOWN = re.compile(r"^(INC-\d{8}-[A-Z2-7]{6})\s+(-?(?:\d+h )?(?:\d+m )?\d+s)\b", re.MULTILINE)
"""A board row: the ticket ID, then business time left to the second (``1h 59m 58s``)."""

T = TypeVar("T")

pytestmark = pytest.mark.timeout(300)


def tmux_or_skip() -> str:
    """The ``tmux`` binary, or skip saying why it is missing."""
    found = shutil.which("tmux")
    if found is not None:
        return found
    try:
        reason = TMUX_UNAVAILABLE.read_text("utf-8").strip()
    except OSError:
        reason = ""
    pytest.skip(f"tmux unavailable: {reason or 'not installed (make pytest installs it)'}")


def seconds_of(countdown: str) -> int:
    """``1h 59m 58s`` → 7198 (negative when overdue)."""
    sign = -1 if countdown.startswith("-") else 1
    units = {"h": 3600, "m": 60, "s": 1}
    return sign * sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", countdown))


async def until(what: str, check: Callable[[], Awaitable[T | None]], seconds: float = 60) -> T:
    """Poll ``check`` until it returns something (not ``None``/``False``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    last: Any = None
    while True:
        last = await check()
        if last:
            return last  # type: ignore[no-any-return]
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not reached in {seconds}s")
        await asyncio.sleep(0.25)


@dataclass(frozen=True)
class Watched:
    """The incidents on the board and the environment of every ``sla`` run."""

    env: dict[str, str]
    company: str
    critical: str
    minor: str


def environment(stack: CliStack, policy: Path) -> dict[str, str]:
    """This process's environment with the stack's server and the 24/7 policy."""
    env = dict(os.environ)
    for key, value in stack.cli_env(SLA_POLICY=str(policy)).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    # The terminal's own size must count, not the 200 columns the other CLI tests use.
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def sla(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``sla ARGS`` without a terminal (stdout and stderr are pipes)."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(SLA), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
async def watched(
    dev_cli: CliStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Watched]:
    """A critical and a minor incident of a company of their own (``--company`` shows just them)."""
    folder = tmp_path_factory.mktemp("sla-watch")
    # Reaction in 1 h (critical) and 30 h (minor): far enough never to be breached
    # during the test, and the critical one always first on the board.
    policy = write_round_the_clock_policy(
        folder / "policy.toml", critical=("PT1H", "PT4H"), minor=("PT30H", "PT900H")
    )
    env = environment(dev_cli, policy)
    company = f"Watch GmbH {uuid.uuid4().hex[:8]}"
    tickets = []
    for name, data in (
        ("critical", report(company=company, description=CRITICAL_DESCRIPTION)),
        (
            "minor",
            report(
                company=company,
                description=MINOR_DESCRIPTION,
                login_impossible=False,
                customer_says_not_critical=True,
            ),
        ),
    ):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data), "utf-8")
        run = await sla(env, "report", "--file", str(path))
        assert run.returncode == 0, run
        ticket = run.stdout.strip()
        assert TICKET.match(ticket), ticket
        dev_cli.tickets.append(ticket)
        tickets.append(ticket)

    async def listed() -> bool:
        # Visibility is eventually consistent: wait until `sla list` sees both.
        run = await sla(env, "list", "--company", company, "--json")
        return run.returncode == 0 and {r["ticket_id"] for r in json.loads(run.stdout)} == set(
            tickets
        )

    await until("both incidents listed", listed)
    yield Watched(env, company, *tickets)


# -- in a terminal ------------------------------------------------------------------------


class Tmux:
    """A tmux server of our own (its own socket): nothing else's sessions are touched.

    The socket lives in a short temporary directory of its own (a socket path
    must stay under ~100 bytes, which pytest's ``tmp_path`` may exceed) and is
    removed with it: tmux leaves its socket file behind after ``kill-server``.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.folder = tempfile.mkdtemp(prefix="sla-tmux-")
        self.socket = os.path.join(self.folder, "socket")

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.binary, "-S", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    async def capture(self) -> str:
        return await asyncio.to_thread(self.run, "capture-pane", "-p", "-t", "watch")

    async def keys(self, *keys: str) -> None:
        await asyncio.to_thread(self.run, "send-keys", "-t", "watch", *keys)

    def kill(self) -> None:
        subprocess.run(
            [self.binary, "-S", self.socket, "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def watch_script(folder: Path, env: dict[str, str], *args: str) -> Path:
    """A shell script that runs ``sla watch ARGS``, then prints its exit code and ``stty -a``.

    ``trap : INT``: Ctrl-C must reach ``sla watch`` alone (a caught signal is
    reset to the default in the child); the shell stays to report. ``sleep``
    keeps the pane open for the last capture.
    """
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    command = " ".join(shlex.quote(a) for a in (str(SLA), "watch", *args))
    script = folder / "watch.sh"
    script.write_text(
        "#!/bin/sh\n"
        "trap : INT\n"
        f"{exports}\n"
        "unset COLUMNS LINES\n"
        f"{command}\n"
        'echo "sla-watch-exit=$?"\n'
        "stty -a\n"
        "exec sleep 600\n",
        "utf-8",
    )
    script.chmod(0o755)
    return script


def countdowns(screen: str) -> dict[str, int]:
    return {ticket: seconds_of(left) for ticket, left in COUNTDOWN.findall(screen)}


def restored(stty: str) -> bool:
    """``stty -a`` shows canonical mode and echo on (not ``-icanon``/``-echo``)."""
    return bool(re.search(r"(?<![-\w])icanon\b", stty) and re.search(r"(?<![-\w])echo\b", stty))


async def test_watch_in_a_terminal_ticks_opens_a_ticket_and_restores_the_terminal(
    watched: Watched, tmp_path: Path
) -> None:
    tmux = Tmux(tmux_or_skip())
    script = watch_script(tmp_path, watched.env, "--company", watched.company, "--interval", "2")
    try:
        tmux.run("new-session", "-d", "-s", "watch", "-x", "100", "-y", "30", str(script))

        # Both tickets in full on the board, the critical one (less time left) first.
        async def board() -> dict[str, int] | None:
            found = countdowns(await tmux.capture())
            return found if {watched.critical, watched.minor} <= found.keys() else None

        first = await until("the board with both tickets", board)
        screen = await tmux.capture()
        assert screen.index(watched.critical) < screen.index(watched.minor)
        assert "2 open" in screen and "Berlin" in screen

        # The countdown ticks (recomputed every second from the last read).
        async def ticked() -> dict[str, int] | None:
            now = await board()
            return now if now and now[watched.critical] < first[watched.critical] else None

        later = await until("the countdown ticks", ticked, seconds=30)
        assert 0 < first[watched.critical] - later[watched.critical] < 60

        # Down selects the second row, Enter opens its detail (as `sla show` shows it).
        await tmux.keys("Down")
        await tmux.keys("Enter")

        async def detail() -> str | None:
            screen = await tmux.capture()
            return screen if MINOR_DESCRIPTION[:40] in screen else None

        screen = await until("the minor incident's detail", detail, seconds=30)
        assert watched.minor in screen
        assert CRITICAL_DESCRIPTION not in screen

        # q in the detail goes back to the board; q on the board quits.
        await tmux.keys("q")

        async def back() -> str | None:
            screen = await tmux.capture()
            return screen if watched.critical in screen and "Enter" in screen else None

        await until("back on the board", back, seconds=30)
        await tmux.keys("q")

        async def exited() -> str | None:
            screen = await tmux.capture()
            return screen if "sla-watch-exit=" in screen and "speed" in screen else None

        screen = await until("sla watch exits", exited, seconds=30)
        assert "sla-watch-exit=0" in screen, screen
        assert restored(screen), screen
    finally:
        tmux.kill()


async def test_ctrl_c_leaves_the_board_cleanly(watched: Watched, tmp_path: Path) -> None:
    tmux = Tmux(tmux_or_skip())
    script = watch_script(tmp_path, watched.env, "--company", watched.company)
    try:
        tmux.run("new-session", "-d", "-s", "watch", "-x", "100", "-y", "30", str(script))

        async def board() -> bool:
            return watched.critical in await tmux.capture()

        await until("the board", board)
        await tmux.keys("C-c")

        async def exited() -> str | None:
            screen = await tmux.capture()
            return screen if "sla-watch-exit=" in screen and "speed" in screen else None

        screen = await until("sla watch exits", exited, seconds=30)
        assert "sla-watch-exit=0" in screen, screen
        assert "Traceback" not in screen
        assert restored(screen), screen
    finally:
        tmux.kill()


# -- without a terminal -------------------------------------------------------------------


async def test_once_prints_one_plain_board_and_exits(watched: Watched) -> None:
    run = await sla(watched.env, "watch", "--once", "--company", watched.company)
    assert run.returncode == 0, run
    assert run.stderr == ""
    assert "\x1b" not in run.stdout
    lines = run.stdout.splitlines()
    assert lines[0].startswith("sla watch · ") and "2 open" in lines[0]
    assert run.stdout.index(watched.critical) < run.stdout.index(watched.minor)
    assert seconds_of(dict(COUNTDOWN.findall(run.stdout))[watched.critical]) > 0


async def test_once_as_json_is_one_line_with_the_counts(watched: Watched) -> None:
    run = await sla(watched.env, "watch", "--once", "--json", "--company", watched.company)
    assert run.returncode == 0, run
    (line,) = run.stdout.splitlines()
    board = json.loads(line)
    assert board["open"] == 2
    assert [i["ticket_id"] for i in board["incidents"]] == [watched.critical, watched.minor]


async def test_without_a_terminal_the_board_is_reprinted_every_interval_until_interrupted(
    watched: Watched,
) -> None:
    process = await asyncio.create_subprocess_exec(
        str(SLA),
        "watch",
        "--company",
        watched.company,
        "--interval",
        "1",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=watched.env,
    )
    assert process.stdout is not None and process.stderr is not None
    output = b""
    try:

        async def two_boards() -> bool:
            nonlocal output
            assert process.stdout is not None
            with contextlib.suppress(TimeoutError):
                output += await asyncio.wait_for(process.stdout.read(4096), 1)
            return output.decode().count(watched.minor) >= 2

        await until("two boards printed", two_boards)
        process.send_signal(signal.SIGINT)
        rest, errors = await asyncio.wait_for(process.communicate(), 30)
        output += rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, (text, errors)
    assert "\x1b" not in text
    assert "─" * 40 in text  # the separator between two boards
    assert text.count("sla watch · ") >= 2
    assert "Traceback" not in errors.decode()
