"""Files with personal data are private; only the public status site is world-readable.

Outbox e-mails, the billing ledger, audit reports and SLA reports are written
``0600`` by ``activities.files.write_atomic``; the status site, which a web
server running as another user reads, asks for ``0644``. A stricter process
umask always wins (issue 14).
"""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import ActivityEnvironment

from activities.files import PRIVATE, PUBLIC, current_umask, write_atomic
from activities.mail import OutboxMailer
from activities.oncall import OnCallActivities
from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.oncall import BillingRecord
from domain.sla import Severity
from domain.status import StatusBoard, StatusPost, StatusPostKind
from tests.activities.test_oncall_activities import FakeLookups

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask a test changes (``os.umask`` is process-wide)."""
    saved = os.umask(0o022)
    os.umask(saved)
    try:
        yield
    finally:
        os.umask(saved)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing(umask: None) -> None:
    for mask in (0o022, 0o027, 0o077, 0o002):
        os.umask(mask)
        assert current_umask() == mask
        assert current_umask() == mask


@pytest.mark.parametrize(
    ("mask", "mode", "expected"),
    [
        (0o022, None, 0o600),
        (0o002, None, 0o600),
        (0o000, None, 0o600),
        (0o022, PUBLIC, 0o644),
        (0o027, PUBLIC, 0o640),  # a stricter umask wins
        (0o077, PUBLIC, 0o600),
        (0o077, PRIVATE, 0o600),
        (0o022, 0o640, 0o640),
        (0o000, 0o4777, 0o777),  # only permission bits, never set-id bits
    ],
)
def test_write_atomic_mode_and_umask(
    tmp_path: Path, umask: None, mask: int, mode: int | None, expected: int
) -> None:
    os.umask(mask)
    path = tmp_path / "sub" / "file.txt"
    if mode is None:
        write_atomic(path, b"data")
    else:
        write_atomic(path, b"data", mode=mode)
    assert path.read_bytes() == b"data"
    assert mode_of(path) == expected
    assert list(path.parent.glob(".*.tmp")) == []


def test_replacing_a_world_readable_file_makes_it_private(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    path = tmp_path / "oncall.csv"
    path.write_bytes(b"old")
    path.chmod(0o644)  # as the engine wrote it before
    write_atomic(path, b"new")
    assert mode_of(path) == 0o600


async def test_outbox_mail_and_billing_ledger_are_private(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    message = EmailMessage()
    message["Message-ID"] = "<INC-1.1.receipt@sla.test>"
    message["To"] = "erika.mustermann@beispiel-versand.de"
    message.set_content("Sehr geehrte Frau Mustermann")
    report = await OutboxMailer(tmp_path / "outbox").send(message)
    assert mode_of(Path(report.where)) == 0o600

    ledger = tmp_path / "billing" / "oncall.csv"
    start = datetime(2026, 12, 5, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    record = BillingRecord(
        booking_id="ONC-20261205-AAAA",
        company="Beispiel Versand GmbH",
        start=start,
        end=start + timedelta(hours=2),
        hours=2,
        rate=Decimal("95.00"),
        amount=Decimal("190.00"),
        currency="EUR",
    )
    await ActivityEnvironment().run(
        OnCallActivities(ledger, FakeLookups()).record_oncall_billing, record
    )
    assert mode_of(ledger) == 0o600


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640)])
async def test_status_site_is_world_readable_unless_the_umask_says_otherwise(
    tmp_path: Path, umask: None, mask: int, expected: int
) -> None:
    os.umask(mask)
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    board = StatusBoard().apply(
        StatusPost(
            ticket_id="INC-20261125-000001",
            kind=StatusPostKind.PUBLISHED,
            at=start,
            severity=Severity.CRITICAL,
            message="Anmeldung gestört",
            expected_resolution=None,
        )
    )
    paths = await StatusSiteActivities(tmp_path).render_status_site(
        StatusSnapshot(board=board, generated_at=start)
    )
    assert sorted(Path(p).name for p in paths) == ["feed.atom", "index.html", "status.json"]
    for path in paths:
        assert mode_of(Path(path)) == expected, path


def write_atomic_calls() -> Iterator[tuple[str, ast.Call]]:
    for package in ("activities", "reporting", "service", "cli", "workflows", "domain"):
        for file in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(file.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name == "write_atomic":
                        yield str(file.relative_to(ROOT)), node


def test_only_the_status_site_asks_for_a_wider_mode() -> None:
    calls = list(write_atomic_calls())
    assert calls, "no write_atomic call found: the scan is broken"
    widened = {
        where
        for where, call in calls
        if len(call.args) > 2 or any(k.arg == "mode" for k in call.keywords)
    }
    assert widened == {"activities/status_page.py"}
