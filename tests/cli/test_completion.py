"""Shell completion: typer's scripts for bash, zsh and fish, and ticket IDs of open incidents.

The callback (``cli/completion.py``) is tested against the dev server (prefix
filtering) and against servers that refuse or never answer (no candidates, no
traceback, within the timeout); one completion runs end to end the way a shell
runs it: ``sla`` with ``_SLA_COMPLETE=complete_bash``, ``COMP_WORDS`` and
``COMP_CWORD`` (typer's bash script uses ``complete_bash``, not click's
``bash_complete``), and once through the generated script in a real bash.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cli import completion
from cli.completion import (
    COMPLETION_TIMEOUT,
    closed_ticket_candidates,
    complete_closed_ticket,
    complete_open_ticket,
    ticket_candidates,
)
from service.incident_list import OpenTicket
from tests.cli.conftest import TICKET, CliStack, eventually
from tests.conftest import report

SLA = Path(sys.executable).parent / "sla"

pytestmark = pytest.mark.timeout(180)


def environment(stack: CliStack | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SLA_", "_"))}
    if stack is not None:
        for key, value in stack.cli_env().items():
            if value is not None:
                env[key] = value
    env.update(extra)
    return env


def sla(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLA), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def complete_bash(words: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What bash's completion function runs on Tab after ``words`` (the last one incomplete)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return sla(
        env={**env, "_SLA_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    )


# -- the scripts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _sla_completion sla"),
        ("zsh", "compdef _sla_completion sla"),
        ("fish", "complete --command sla"),
    ],
)
def test_show_completion_prints_the_script_of_each_shell(shell: str, marker: str) -> None:
    # Typer detects the running shell; its test switch lets the shell be named instead.
    run = sla(
        "--show-completion",
        shell,
        env=environment(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"),
    )
    assert run.returncode == 0, run
    assert marker in run.stdout
    assert f"_SLA_COMPLETE=complete_{shell}" in run.stdout


def test_install_completion_detects_bash_and_installs_into_home(tmp_path: Path) -> None:
    # Run from bash, as an operator would: typer finds the shell among the parents.
    run = subprocess.run(
        ["bash", "-c", f"{SLA} --install-completion"],
        env=environment(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run
    script = tmp_path / ".bash_completions" / "sla.sh"
    assert "_SLA_COMPLETE=complete_bash" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize(
    ("shell", "installed"),
    [("zsh", ".zfunc/_sla"), ("fish", ".config/fish/completions/sla.fish")],
)
def test_install_completion_for_zsh_and_fish(tmp_path: Path, shell: str, installed: str) -> None:
    run = sla(
        "--install-completion",
        shell,
        env=environment(HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"),
    )
    assert run.returncode == 0, run
    assert f"_SLA_COMPLETE=complete_{shell}" in (tmp_path / installed).read_text()


# -- the callback without a server --------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An address that accepts connections and never answers (a hung server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def test_no_server_completes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    started = time.monotonic()
    assert ticket_candidates("INC-") == []
    assert time.monotonic() - started < COMPLETION_TIMEOUT + 5


def test_a_server_that_never_answers_completes_nothing_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch, silent_server: str
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", silent_server)
    started = time.monotonic()
    assert ticket_candidates("INC-", timeout=1.0) == []
    assert time.monotonic() - started < 1.0 + 5  # the timeout, plus a loaded machine's slack


def test_a_broken_configuration_completes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLA_CODEC_KEYS", "not a key")
    assert ticket_candidates("INC-") == []


def test_candidates_carry_severity_status_and_company_as_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [OpenTicket("INC-20261124-7QK2AB", "critical", "new", "Beispiel Versand GmbH")]
    monkeypatch.setattr(completion, "ticket_candidates", lambda incomplete: found)
    assert complete_open_ticket("INC-") == [
        ("INC-20261124-7QK2AB", "critical, new, Beispiel Versand GmbH")
    ]


def test_reopen_completes_resolved_tickets_and_nothing_without_a_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [OpenTicket("INC-20261124-7QK2AB", "major", "resolved", "Beispiel Versand GmbH")]
    monkeypatch.setattr(completion, "closed_ticket_candidates", lambda incomplete: found)
    assert complete_closed_ticket("INC-") == [
        ("INC-20261124-7QK2AB", "major, resolved, Beispiel Versand GmbH")
    ]
    monkeypatch.undo()
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert closed_ticket_candidates("INC-", timeout=1.0) == []


def test_no_server_completes_nothing_in_the_shell_and_prints_no_traceback() -> None:
    run = complete_bash("sla show INC-", environment(TEMPORAL_ADDRESS="127.0.0.1:1"))
    assert run.returncode == 0, run
    assert run.stdout.strip() == ""
    assert "Traceback" not in run.stderr


# -- against the dev server ---------------------------------------------------------------


@pytest.fixture(scope="module")
async def open_tickets(
    dev_cli: CliStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[str]]:
    """Two open incidents and one resolved one, all listed by visibility."""
    folder = tmp_path_factory.mktemp("completion")
    env = environment(dev_cli)
    tickets = []
    for index in range(3):
        path = folder / f"report-{index}.json"
        path.write_text(json.dumps(report()), "utf-8")
        run = await asyncio.to_thread(sla, "report", "--file", str(path), env=env)
        assert run.returncode == 0, run
        assert TICKET.match(run.stdout.strip())
        tickets.append(run.stdout.strip())
        dev_cli.tickets.append(tickets[-1])
    resolved = await asyncio.to_thread(sla, "resolve", tickets[2], "--summary", "erledigt", env=env)
    assert resolved.returncode == 0, resolved

    async def listed() -> bool:
        # One listing, as completion does it: the resolved one gone, the open ones there.
        ids = {t.ticket_id for t in await asyncio.to_thread(_candidates, dev_cli, "INC-")}
        return set(tickets[:2]) <= ids and tickets[2] not in ids

    await eventually(listed, seconds=30)
    yield tickets


def _candidates(stack: CliStack, prefix: str) -> list[OpenTicket]:
    saved = os.environ.get("TEMPORAL_ADDRESS")
    os.environ["TEMPORAL_ADDRESS"] = stack.address
    try:
        return ticket_candidates(prefix, timeout=10)
    finally:
        if saved is None:
            del os.environ["TEMPORAL_ADDRESS"]
        else:
            os.environ["TEMPORAL_ADDRESS"] = saved


async def test_candidates_are_open_incidents_starting_with_the_prefix(
    dev_cli: CliStack, open_tickets: list[str]
) -> None:
    first, second, resolved = open_tickets
    everything = {t.ticket_id for t in await asyncio.to_thread(_candidates, dev_cli, "INC-")}
    assert {first, second} <= everything
    assert resolved not in everything
    only = await asyncio.to_thread(_candidates, dev_cli, first)
    assert [t.ticket_id for t in only] == [first]
    assert only[0].severity == "critical" and only[0].status == "new"
    assert await asyncio.to_thread(_candidates, dev_cli, "CR-") == []
    assert await asyncio.to_thread(_candidates, dev_cli, resolved) == []


async def test_tab_completes_a_ticket_id_as_the_shell_asks(
    dev_cli: CliStack, open_tickets: list[str]
) -> None:
    first, second, resolved = open_tickets
    env = environment(dev_cli)
    run = await asyncio.to_thread(complete_bash, f"sla ack {first[:-2]}", env)
    assert run.returncode == 0, run
    assert run.stdout.split() == [first]
    assert run.stderr == ""

    run = await asyncio.to_thread(complete_bash, "sla link-duplicate INC-", env)
    lines = run.stdout.split()
    assert {first, second} <= set(lines) and resolved not in lines
    run = await asyncio.to_thread(complete_bash, f"sla link-duplicate {first} --to {second}", env)
    assert run.stdout.split() == [second]


async def test_tab_completes_through_the_generated_bash_script(
    dev_cli: CliStack, open_tickets: list[str]
) -> None:
    first = open_tickets[0]
    env = environment(dev_cli, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    script = (
        f'eval "$({SLA} --show-completion bash)"\n'
        f"COMP_WORDS=(sla show {first[:-3]}); COMP_CWORD=2\n"
        f"_sla_completion {SLA}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    run = await asyncio.to_thread(
        subprocess.run,
        ["bash", "--norc", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run
    assert run.stdout.split() == [first]
