"""``sla doctor``'s local checks: the SMTP server answers, the archive is migrated.

SMTP against a real server (aiosmtpd on a loopback port), a closed port and a
port that accepts but never greets; the archive as a temporary SQLite file,
migrated or not. ``tests/cli/test_cli.py`` runs the whole ``sla doctor``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from archive.store import ArchiveStore
from service.doctor import archive_migrated, smtp_reachable

pytestmark = pytest.mark.timeout(60)


class _Accepting:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


@pytest.fixture
async def smtp_port() -> AsyncIterator[int]:
    """A real SMTP server (aiosmtpd, no TLS) on a loopback port, in the test's loop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(_Accepting(), hostname="smtp.test"), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound a moment ago, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {"SLA_SMTP_HOST": "127.0.0.1", "SLA_SMTP_PORT": str(port), **extra}


# -- SMTP -----------------------------------------------------------------------------------


async def test_a_reachable_smtp_server_passes(smtp_port: int) -> None:
    check = await asyncio.to_thread(smtp_reachable, smtp_env(smtp_port))
    assert check.ok, check
    assert check.detail == f"127.0.0.1:{smtp_port} answers EHLO"


def test_an_unreachable_smtp_server_fails_and_says_what_to_check(closed_port: int) -> None:
    check = smtp_reachable(smtp_env(closed_port), timeout=2)
    assert not check.ok
    assert check.detail.startswith(f"cannot reach 127.0.0.1:{closed_port} (")
    assert "check SLA_SMTP_HOST and SLA_SMTP_PORT" in check.detail


def test_a_server_that_never_greets_fails_within_the_timeout(mute_port: int) -> None:
    check = smtp_reachable(smtp_env(mute_port), timeout=1)
    assert not check.ok
    assert f"cannot reach 127.0.0.1:{mute_port}" in check.detail


async def test_starttls_required_but_not_offered_fails(smtp_port: int) -> None:
    env = smtp_env(smtp_port, SLA_SMTP_STARTTLS="true")
    check = await asyncio.to_thread(smtp_reachable, env)
    assert not check.ok
    assert "does not offer STARTTLS" in check.detail


def test_without_smtp_host_mails_go_to_the_outbox(tmp_path: Path) -> None:
    check = smtp_reachable({"SLA_DATA_DIR": str(tmp_path)})
    assert check.ok
    assert check.detail == f"not configured (SLA_SMTP_HOST unset): mails go to {tmp_path}/outbox"


def test_malformed_smtp_settings_fail_and_say_which() -> None:
    check = smtp_reachable({"SLA_SMTP_HOST": "mail.example", "SLA_SMTP_PORT": "smtp"})
    assert not check.ok
    assert "SLA_SMTP_PORT must be a port number" in check.detail
    assert check.detail.endswith("fix the SLA_SMTP_* settings")


# -- archive --------------------------------------------------------------------------------


def test_a_migrated_archive_passes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    store = ArchiveStore.from_url(url)
    revision = store.migrate()
    store.close()
    check = archive_migrated({"SLA_ARCHIVE_URL": url})
    assert check.ok, check
    assert revision in check.detail


def test_a_missing_archive_says_to_run_sla_archive_migrate(tmp_path: Path) -> None:
    check = archive_migrated({"SLA_DATA_DIR": str(tmp_path)})
    assert not check.ok
    assert "run `sla archive migrate`" in check.detail
    assert not (tmp_path / "archive.sqlite3").exists()  # checking created nothing


def test_an_unmigrated_archive_says_to_run_sla_archive_migrate(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    path.touch()  # a database without our schema
    check = archive_migrated({"SLA_ARCHIVE_URL": f"sqlite:///{path}"})
    assert not check.ok
    assert "not migrated: run `sla archive migrate`" in check.detail


def test_a_bad_archive_url_says_to_fix_it() -> None:
    check = archive_migrated({"SLA_ARCHIVE_URL": "mysql://db/archive"})
    assert not check.ok
    assert check.detail.endswith("fix SLA_ARCHIVE_URL")
