"""Debian's real PostgreSQL, started by the tests in a temporary directory on a loopback port.

``tests/realservers/ensure_debian.sh postgresql postgresql /usr/lib/postgresql/15/bin/postgres``
installs it (CI); when it cannot, it writes the reason to
``test-artifacts/postgresql-unavailable.txt`` and :func:`postgres_or_skip`
skips with that reason.

Usage::

    bindir = postgres_or_skip()
    with running_postgres(bindir) as server:
        url = server.create_database()          # a fresh, empty database
        ...                                     # postgresql+psycopg://postgres@127.0.0.1:PORT/NAME

``initdb`` and ``postgres`` refuse to run as root. Run as root (CI), both run
as Debian's ``postgres`` system user (the package creates it) through
``runuser``/``setpriv``, with the data directory owned by it; run as another
user, they run as that user. Authentication is ``trust`` on loopback only,
and durability is off (``fsync``): a test server needs neither.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNAVAILABLE = REPO / "test-artifacts" / "postgresql-unavailable.txt"
START_TIMEOUT = 60.0
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """``$SLA_POSTGRES_BINDIR`` if it holds ``postgres``, else Debian's newest server's bin dir."""
    configured = os.environ.get("SLA_POSTGRES_BINDIR")
    candidates = [configured] if configured else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if candidate and os.access(Path(candidate) / "postgres", os.X_OK):
            return Path(candidate)
    return None


def postgres_or_skip() -> Path:
    """PostgreSQL's bin directory, or a pytest skip with the reason the setup step recorded."""
    bindir = find_bindir()
    if bindir is None:
        why = (
            UNAVAILABLE.read_text(encoding="utf-8").strip()
            if UNAVAILABLE.exists()
            else "/usr/lib/postgresql/*/bin/postgres is missing; run `bash "
            "tests/realservers/ensure_debian.sh postgresql postgresql "
            "/usr/lib/postgresql/15/bin/postgres`"
        )
        pytest.skip(f"no PostgreSQL for the archive tests: {why}")
    if os.geteuid() == 0 and _system_user() is None:
        pytest.skip(f"running as root and there is no {SYSTEM_USER!r} user to run PostgreSQL as")
    return bindir


def _system_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: Sequence[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return list(command)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SYSTEM_USER, "--", *command]
    user = _system_user()
    assert user is not None
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--",
        *command,
    ]


@dataclass
class Postgres:
    """A running PostgreSQL server.

    Attributes:
        bindir: Where ``psql``, ``pg_dump`` and ``pg_restore`` are.
        host: ``127.0.0.1``.
        port: Its TCP port.
        workdir: Data directory, socket directory and log.
    """

    bindir: Path
    host: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.workdir / "postgres.log"

    def log(self) -> str:
        """The server's log so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3, superuser, no password: trust)."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def libpq_env(self) -> dict[str, str]:
        """Environment for ``psql``/``pg_dump``/``pg_restore`` to reach this server."""
        return {
            **os.environ,
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": SUPERUSER,
        }

    def run_tool(self, tool: str, *args: str, timeout: float = 120) -> str:
        """Run ``bindir/tool args`` against this server; returns stdout (raises on failure)."""
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            env=self.libpq_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        name = name or f"sla_{secrets.token_hex(6)}"
        self.run_tool(
            "psql", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` (closing its sessions)."""
        self.run_tool(
            "psql", "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )

    def stop(self) -> None:
        """Fast shutdown (SIGINT); SIGKILL to the group after 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextlib.contextmanager
def running_postgres(bindir: Path, *, print_log: bool = True) -> Iterator[Postgres]:
    """``initdb`` a cluster in a temporary directory and run ``postgres`` on it; remove it after.

    Args:
        bindir: From :func:`postgres_or_skip` or :func:`find_bindir`.
        print_log: Print the server log at teardown (pytest shows it for a
            failed test); the benchmark turns it off to keep ``--json`` clean.
            A failed start prints it to stderr either way.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sla-postgres-"))
    server: Postgres | None = None
    try:
        server = _start(bindir, workdir)
        yield server
    finally:
        if server is not None:
            server.stop()
            if print_log:
                print(f"--- postgres log ---\n{server.log()[-20_000:]}", file=sys.stdout)
        shutil.rmtree(workdir, ignore_errors=True)


def _start(bindir: Path, workdir: Path) -> Postgres:
    data = workdir / "data"
    sockets = workdir / "run"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        user = _system_user()
        assert user is not None
        os.chmod(workdir, 0o711)
        for path in (workdir, data, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    done = subprocess.run(
        _as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        log = workdir / "postgres.log"
        if os.geteuid() == 0:
            log.touch()
            user = _system_user()
            assert user is not None
            os.chown(log, user.pw_uid, user.pw_gid)
        with open(log, "ab") as stderr:
            process = subprocess.Popen(
                _as_server_user(
                    [
                        str(bindir / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        "-k",
                        str(sockets),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=60",
                    ]
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        server = Postgres(bindir, "127.0.0.1", port, workdir, process)
        try:
            _wait_ready(server)
            return server
        except RuntimeError as exc:
            server.stop()
            last_error = f"{exc}\n--- postgres log ---\n{server.log()}"
            if "in use" not in last_error:
                break  # only a port taken meanwhile is worth another try
    print(last_error, file=sys.stderr)
    raise RuntimeError(f"postgres did not start: {last_error.splitlines()[0]}")


def _wait_ready(server: Postgres) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode}")
        done = subprocess.run(
            [
                str(server.bindir / "pg_isready"),
                *("-h", server.host, "-p", str(server.port), "-U", SUPERUSER),
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0:
            return
        last = done.stdout.strip()
        time.sleep(0.1)
    raise RuntimeError(
        f"postgres not ready on port {server.port} within {START_TIMEOUT} s ({last})"
    )
