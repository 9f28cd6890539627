"""Real runs of the installed ``sla`` binary: exit codes and clean output (DESIGN §3).

The SDK's Rust runtime can abort at interpreter exit (``PyGILState_Release``,
sdk-python issue 300); a short-lived command must still exit with the right code
and print nothing but its answer. Against the dev server, with a worker for the
CLI's task queue in this process (``tests/cli/conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.conftest import TICKET, CliStack
from tests.conftest import report

SLA = Path(sys.executable).parent / "sla"

NOISE = ("Traceback", "PyGILState", "panicked", "Fatal Python error", "Aborted", "thread '")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


async def sla(stack: CliStack, *args: str, timeout: float = 30, **env: str) -> Run:
    """Run the installed ``sla`` with ``args`` against ``stack``'s server."""
    environment = {
        key: value
        for key, value in {**os.environ, **stack.cli_env(**env)}.items()
        if value is not None
    }
    process = await asyncio.create_subprocess_exec(
        str(SLA),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"sla {' '.join(args)} did not finish in {timeout}s") from None
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def clean(run: Run) -> None:
    for noise in NOISE:
        assert noise not in run.stderr, run.stderr
        assert noise not in run.stdout, run.stdout


def one_error_line(run: Run, fragment: str) -> None:
    assert run.code == 1, run
    clean(run)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert fragment in lines[0], lines[0]


async def reported(stack: CliStack, tmp_path: Path) -> str:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report()), "utf-8")
    run = await sla(stack, "report", "--file", str(path))
    assert run.code == 0, run
    assert run.stderr == ""
    clean(run)
    ticket = run.stdout.strip()
    assert run.stdout == f"{ticket}\n"
    assert TICKET.match(ticket), run.stdout
    stack.tickets.append(ticket)
    return ticket


async def test_report_exits_0_printing_only_the_ticket(dev_cli: CliStack, tmp_path: Path) -> None:
    ticket = await reported(dev_cli, tmp_path)

    run = await sla(dev_cli, "show", ticket, "--json")
    assert run.code == 0, run
    assert run.stderr == ""
    assert json.loads(run.stdout)["ticket_id"] == ticket


async def test_refused_ack_exits_1_with_one_line_and_no_noise(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await reported(dev_cli, tmp_path)
    estimate = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    args = (
        "ack",
        ticket,
        "--severity",
        "critical",
        "--estimate",
        estimate,
        "--estimate-reason",
        "x",
    )

    first = await sla(dev_cli, *args)
    assert first.code == 0, first
    assert first.stderr == ""
    assert first.stdout.startswith(f"{ticket}: acknowledged")

    # The abort at exit is intermittent: refuse a few times.
    refusals = await asyncio.gather(*(sla(dev_cli, *args) for _ in range(3)))
    for run in refusals:
        one_error_line(run, "already acknowledged")

    one_error_line(
        await sla(dev_cli, "ack", ticket, "--severity", "major", "--estimate", "tomorrow"),
        "not an ISO 8601 date-time",
    )


async def test_show_unknown_ticket_exits_1(dev_cli: CliStack) -> None:
    run = await sla(dev_cli, "show", "NOPE")

    one_error_line(run, "unknown ticket NOPE")
    assert run.stderr == "error: unknown ticket NOPE\n"


async def test_reopen_of_an_unknown_ticket_exits_1_with_one_line(dev_cli: CliStack) -> None:
    run = await sla(dev_cli, "reopen", "INC-20261124-ZZZZZZ", "--reason", "wieder kaputt")

    one_error_line(run, "unknown ticket INC-20261124-ZZZZZZ")


async def test_unreachable_server_exits_1_without_noise(dev_cli: CliStack) -> None:
    run = await sla(dev_cli, "list", TEMPORAL_ADDRESS="127.0.0.1:1")

    one_error_line(run, "cannot connect to Temporal at 127.0.0.1:1")


async def test_help_exits_0(dev_cli: CliStack) -> None:
    run = await sla(dev_cli, "--help")

    assert run.code == 0, run
    assert run.stderr == ""
    clean(run)
    for command in ("dev", "report", "list", "show", "ack", "extend", "escalate", "resolve"):
        assert command in run.stdout
