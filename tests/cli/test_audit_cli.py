"""``sla audit run`` and ``sla schedules apply|list|delete`` against the dev server.

Commands run in a thread through typer's ``CliRunner`` (``tests/cli/test_cli.py``
helpers), with a worker for the CLI's task queue in this process. Audits are
scoped with ``--only-task-queue`` to the CLI's task queue, and schedules get a
unique ``--prefix``, so the shared dev server stays clean.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from cli.audit import show_report
from domain.audit import DevTicketSummary, development_report
from domain.sla import SlaPolicy
from service.audit import incident_query
from tests.cli.conftest import CliStack, eventually
from tests.cli.test_cli import loads, new_ticket, ok, refused, sla
from workflows.names import TASK_QUEUE

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()


def next_weekday_holiday() -> datetime:
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    while day.weekday() >= 5 or POLICY.calendar.is_business_day(day):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 8, 15, tzinfo=BERLIN)


async def audit(stack: CliStack, *args: str) -> Any:
    return loads(await sla(stack, "audit", "run", *args, "--only-task-queue", TASK_QUEUE, "--json"))


async def test_schedules_apply_twice_list_and_delete(dev_cli: CliStack) -> None:
    prefix = f"cli-{uuid.uuid4().hex[:8]}-"
    # The audits, and the erasure of personal data ([archive] personal_data_days = 730).
    ids = [f"{prefix}audit-daily", f"{prefix}audit-weekly", f"{prefix}personal-data-erasure"]
    try:
        first = loads(await sla(dev_cli, "schedules", "apply", "--prefix", prefix, "--json"))
        again = loads(await sla(dev_cli, "schedules", "apply", "--prefix", prefix, "--json"))
        assert [(a["schedule_id"], a["change"]) for a in first] == [(i, "created") for i in ids]
        assert [a["change"] for a in again] == ["unchanged"] * 3
        assert [a["kind"] for a in first] == ["daily", "weekly", "erasure"]
        assert first[2]["personal_data_days"] == 730
        text = ok(await sla(dev_cli, "schedules", "apply", "--prefix", prefix)).stdout
        assert text == (
            "".join(f"{i}: unchanged\n" for i in ids[:2])
            + f"{ids[2]}: unchanged (personal_data_days = 730)\n"
        )

        listed = loads(await sla(dev_cli, "schedules", "list", "--prefix", prefix, "--json"))
        assert [(s["schedule_id"], s["exists"], s["paused"]) for s in listed] == [
            (i, True, False) for i in ids
        ]
        assert [s["when"] for s in listed] == ["Mon–Fri 08:15", "Mon 08:30", "Sun–Sat 03:30"]
        assert {s["timezone"] for s in listed} == {"Europe/Berlin"}
        first_daily = datetime.fromisoformat(listed[0]["next_runs"][0]).astimezone(BERLIN)
        assert (first_daily.hour, first_daily.minute, first_daily.isoweekday() <= 5) == (
            8,
            15,
            True,
        )
        table = ok(await sla(dev_cli, "schedules", "list", "--prefix", prefix)).stdout
        assert "Mon–Fri 08:15" in table and "Mon 08:30" in table and "03:30" in table
        assert "Europe/Berlin" in table and "active" in table
    finally:
        deleted = ok(await sla(dev_cli, "schedules", "delete", "--prefix", prefix)).stdout
    assert deleted == "".join(f"{i}: deleted\n" for i in ids)
    gone = loads(await sla(dev_cli, "schedules", "delete", "--prefix", prefix, "--json"))
    assert gone == [{"schedule_id": i, "deleted": False} for i in ids]
    missing = ok(await sla(dev_cli, "schedules", "list", "--prefix", prefix)).stdout
    assert "missing" in missing and "sla schedules apply" in missing


async def test_audit_run_daily_reports_an_overdue_ticket(dev_cli: CliStack, tmp_path: Path) -> None:
    ticket = await new_ticket(dev_cli, tmp_path, company=f"Audit CLI {tmp_path.name}")

    async def visible() -> bool:
        return ticket in {
            w.id async for w in dev_cli.client.list_workflows(str(incident_query(TASK_QUEUE)))
        }

    await eventually(visible)
    # Two business hours after receipt: the critical reaction (1 h) is overdue.
    at = POLICY.calendar.add(datetime.now(UTC), timedelta(hours=2))
    report = await audit(dev_cli, "daily", "--at", at.isoformat())
    assert report["kind"] == "daily" and report["skipped"] is None
    assert report["audit_id"].startswith("sla-audit-daily-manual-")
    (row,) = [t for t in report["tickets"] if t["ticket_id"] == ticket]
    assert [c["kind"] for c in row["overdue"]] == ["reaction"]
    assert row["unacknowledged"] is True

    day = report["day"]
    stored = json.loads((dev_cli.data_dir / "audits" / f"{day}-daily.json").read_text())
    assert stored["audit_id"] == report["audit_id"]
    mails = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in (dev_cli.data_dir / "outbox").glob("sla-audit-daily-manual-*.eml")
    ]
    assert report["audit_id"] in {str(m["Message-ID"]).strip()[1:].split("@")[0] for m in mails}

    summary = ok(
        await sla(
            dev_cli,
            "audit",
            "run",
            "daily",
            "--at",
            at.isoformat(),
            "--only-task-queue",
            TASK_QUEUE,
        )
    ).stdout
    assert "daily audit" in summary
    assert ticket in summary
    assert "reaction overdue" in summary
    assert f"audits/{day}-daily.json" in summary


async def test_audit_run_on_a_holiday(dev_cli: CliStack) -> None:
    # The daily audit skips a holiday (the next day has its own); the weekly one
    # moves to the next business day (issue 16: Easter Monday skipped a week).
    holiday = next_weekday_holiday()
    report = await audit(dev_cli, "daily", "--at", holiday.isoformat())
    assert report["skipped"] == "holiday"
    assert report["day"] == holiday.date().isoformat()
    text = ok(
        await sla(dev_cli, "audit", "run", "daily", "--at", holiday.strftime("%Y-%m-%dT%H:%M"))
    ).stdout
    assert "skipped: holiday" in text and "nothing sent" in text
    weekly = await audit(dev_cli, "weekly", "--at", holiday.isoformat())
    assert weekly["skipped"] is None
    assert weekly["day"] > holiday.date().isoformat()


async def test_weekly_audit_without_change_requests(dev_cli: CliStack) -> None:
    at = POLICY.calendar.add(datetime.now(UTC), timedelta(hours=1))
    report = loads(
        await sla(
            dev_cli,
            "audit",
            "run",
            "weekly",
            "--at",
            at.isoformat(),
            "--only-task-queue",
            f"none-{uuid.uuid4().hex}",
            "--json",
        )
    )
    assert report["kind"] == "weekly"
    assert report["dev_tickets"] == []


async def test_audit_run_refuses_bad_input(dev_cli: CliStack) -> None:
    refused(await sla(dev_cli, "audit", "run", "daily", "--at", "gestern"), "--at", "gestern")
    refused(
        await sla(dev_cli, "audit", "run", "daily", "--only-task-queue", "x' OR '1'='1"),
        "--only-task-queue",
    )
    unknown = await sla(dev_cli, "audit", "run", "monthly")
    assert unknown.exit_code == 2
    assert "monthly" in unknown.stderr


def test_weekly_summary_lists_change_requests_stalled_ones_first() -> None:
    def on(day: int, hour: int) -> datetime:
        return datetime(2026, 11, day, hour, tzinfo=BERLIN)

    report = development_report(
        "sla-audit-weekly-x",
        on(30, 8),
        on(30, 8).date(),
        POLICY,
        [
            DevTicketSummary(key="CR-new", opened_at=on(27, 9), last_progress_at=on(27, 9)),
            DevTicketSummary(
                key="CR-old",
                dev_ticket="DEV-17",
                company="Wunsch GmbH",
                lifecycle_state="discussed",
                opened_at=on(2, 9),
                last_progress_at=on(10, 9),
            ),
        ],
    )
    console = Console(record=True, width=160)
    show_report(report, POLICY, console)
    text = console.export_text()
    assert "2 open development tickets, 1 without progress for more than 5 business days" in text
    assert text.index("CR-old") < text.index("CR-new")
    assert "DEV-17" in text and "10.11.2026 09:00" in text
