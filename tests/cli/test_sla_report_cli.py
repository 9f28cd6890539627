"""``sla sla-report`` against the dev server: incidents and a booking of February 2024.

The month lies in the past, so no other test's incident falls into it. The
incidents run under a 24/7 test policy snapshot: major with one-hour deadlines
(breached at once, as received in 2024), critical and minor with deadlines
beyond 2035 (met when acted on, else "offen"). Business time on a 24/7
calendar is elapsed time, so the expected times come straight from the views.
The on-call window lies in the past as well: its workflow completes and bills
at once (the lead-time rule is the booking client's, not the workflow's).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from cli.main import app
from cli.sla_report import previous_month
from domain.oncall import BookingRequest
from domain.sla import SlaPolicy
from service.oncall import book_oncall
from starter import report_incident
from tests.cli.conftest import CliStack, eventually
from tests.cli.test_cli import iso, loads, ok, refused, sla
from tests.cli.test_exit_codes import clean, one_error_line
from tests.cli.test_exit_codes import sla as sla_process
from tests.conftest import report
from tests.e2e.policies import write_round_the_clock_policy
from workflows.incident import IncidentWorkflow
from workflows.oncall import OnCallBookingWorkflow

BERLIN = ZoneInfo("Europe/Berlin")
FAR = ("PT100000H", "PT100000H")  # about eleven years of 24/7 time


def feb(day: int, hour: int, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=BERLIN)


async def start(stack: CliStack, policy: SlaPolicy, received: datetime, **facts: Any) -> str:
    ticket = await report_incident(
        stack.client, report(**facts), policy=policy, received_at=received
    )
    stack.tickets.append(ticket)
    return ticket


def by_severity(printed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["severity"]: row for row in printed["severities"]}


async def test_report_of_a_month_from_incidents_and_bookings(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    policy_file = write_round_the_clock_policy(
        tmp_path / "policy.toml", critical=FAR, major=("PT1H", "PT1H"), minor=FAR
    )
    policy = SlaPolicy.from_file(policy_file)
    company = f"Bericht GmbH {uuid.uuid4().hex[:6]}"
    resolved = await start(dev_cli, policy, feb(5, 10), company=company)
    escalated = await start(dev_cli, policy, feb(12, 9), company=company)
    late = await start(dev_cli, policy, feb(20, 14), company=company, login_impossible=False)
    leap_day = await start(
        dev_cli,
        policy,
        feb(29, 23, 30),
        company=company,
        login_impossible=False,
        workaround_available=True,
    )
    march = await start(dev_cli, policy, feb(1, 0, 30, month=3), company=company)
    assert len({resolved, escalated, late, leap_day, march}) == 5

    estimate = iso(datetime.now(BERLIN) + timedelta(days=1))
    for ticket in (resolved, escalated):
        ok(
            await sla(
                dev_cli,
                "ack",
                ticket,
                "--severity",
                "critical",
                "--estimate",
                estimate,
                "--estimate-reason",
                "Hersteller liefert nach",
            )
        )
    ok(await sla(dev_cli, "resolve", resolved, "--summary", "Index neu aufgebaut"))
    ok(await sla(dev_cli, "escalate", escalated, "--stage", "3", "--reason", "Hersteller"))

    receipt = await book_oncall(
        dev_cli.client,
        BookingRequest(
            company=f"Nachtschicht {company}",
            start=feb(10, 20),
            end=feb(10, 23, 30),  # 3.5 h: billed as 4 started hours
            reason="Migration",
        ),
        policy=policy,
        booked_at=feb(1, 9),
    )

    async def views() -> dict[str, Any]:
        return {
            t: await dev_cli.client.get_workflow_handle_for(IncidentWorkflow.run, t).query(
                IncidentWorkflow.view
            )
            for t in (resolved, escalated, late, leap_day)
        }

    async def settled() -> bool:
        booking = await dev_cli.client.get_workflow_handle_for(
            OnCallBookingWorkflow.run, receipt.booking_id
        ).query(OnCallBookingWorkflow.view)
        state = await views()
        return (
            booking.billing is not None
            and state[late].reaction_breached
            and state[late].resolution_breached
            and state[escalated].escalation_stage == 3
        )

    await eventually(settled)
    state = await views()
    out = tmp_path / "out"
    args = ["sla-report", "--month", "2024-02", "--policy", str(policy_file), "--out", str(out)]

    async def listed_all() -> bool:
        printed = loads(await sla(dev_cli, *args, "--json"))
        return bool(printed["total"]["incidents"] == 4)

    await eventually(listed_all)  # visibility follows the search-attribute upserts
    printed = loads(await sla(dev_cli, *args, "--json"))

    assert printed["month"] == "2024-02"
    assert printed["policy"] == "myconvento-24x7-test"
    rows = by_severity(printed)
    critical, major, minor = rows["critical"], rows["major"], rows["minor"]
    assert critical["incidents"] == 2
    assert (critical["reaction"]["met"], critical["reaction"]["met_pct"]) == (2, 100.0)
    resolution = critical["resolution"]
    assert (resolution["met"], resolution["breached"], resolution["open"]) == (1, 0, 1)
    assert resolution["open_pct"] == 50.0
    reacted = sorted(
        (state[t].acknowledged_at - state[t].received_at).total_seconds()
        for t in (resolved, escalated)
    )
    assert critical["time_to_react"]["values_seconds"] == reacted
    assert critical["time_to_react"]["median_seconds"] == reacted[0]  # nearest rank of two
    assert critical["time_to_react"]["p90_seconds"] == reacted[1]
    assert critical["time_to_resolve"]["median_seconds"] == (
        (state[resolved].resolved_at - state[resolved].received_at).total_seconds()
    )
    assert critical["escalations"] == {"stage_1": 0, "stage_2": 0, "stage_3": 1, "extended": 0}

    assert major["incidents"] == 1
    assert (major["reaction"]["breached"], major["resolution"]["breached"]) == (1, 1)
    assert major["breaches"] == {
        "reaction": 1,
        "resolution": 1,
        "incidents": 1,
        "reestimates_overdue": 0,
    }
    assert major["time_to_react"]["count"] == 0

    assert minor["incidents"] == 1
    assert (minor["reaction"]["open"], minor["resolution"]["open"]) == (1, 1)

    total = printed["total"]
    assert total["incidents"] == 4
    assert total["reaction"]["met_pct"] == 50.0
    assert [row["ticket_id"] for row in printed["breached_incidents"]] == [late]
    assert [(w["week"], w["total"]) for w in printed["weeks"]] == [
        ("2024-W05", 0),
        ("2024-W06", 1),
        ("2024-W07", 1),
        ("2024-W08", 1),
        ("2024-W09", 1),
    ]
    oncall = printed["oncall"]
    assert (oncall["bookings"], oncall["hours"], oncall["amount"]) == (1, 4, "380.00")

    html = out / "sla-report-2024-02.html"
    text = html.read_text("utf-8")
    assert "SLA-Bericht Februar 2024" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sla-report-2024-02-compliance.png",
        "sla-report-2024-02-resolution.png",
        "sla-report-2024-02-weekly.png",
    ]

    # Without --out: $SLA_DATA_DIR/reports; without --json: one line naming the file.
    data_dir = tmp_path / "data"
    line = ok(
        await sla(
            dev_cli,
            "sla-report",
            "--month",
            "2024-02",
            "--policy",
            str(policy_file),
            SLA_DATA_DIR=str(data_dir),
        )
    ).stdout
    written = data_dir / "reports" / "sla-report-2024-02.html"
    assert line.startswith(f"{written}: 4 incidents in 2024-02"), line
    assert written.exists()

    # The installed binary: exit code 0, the same figures, no runtime noise at exit.
    run = await sla_process(dev_cli, *args, "--json")
    assert run.code == 0, run
    clean(run)
    assert run.stderr == ""
    again = json.loads(run.stdout)
    assert {**again, "as_of": None} == {**printed, "as_of": None}
    one_error_line(await sla_process(dev_cli, "sla-report", "--month", "2024-2"), "YYYY-MM")


runner = CliRunner()


def test_a_bad_month_is_one_line_on_stderr(tmp_path: Path) -> None:
    env = {"TEMPORAL_ADDRESS": "127.0.0.1:1", "SLA_DATA_DIR": str(tmp_path)}
    for month in ("2026-13", "11/2026", "letzten Monat"):
        result = runner.invoke(app, ["sla-report", "--month", month, "--json"], env=env)
        line = refused(result, "--month", "YYYY-MM")
        assert repr(month) in line
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing connected


def test_the_default_month_is_the_previous_one_in_berlin() -> None:
    assert str(previous_month(datetime(2026, 11, 25, 3, tzinfo=UTC), "Europe/Berlin")) == "2026-10"
    assert str(previous_month(datetime(2027, 1, 5, tzinfo=UTC), "Europe/Berlin")) == "2026-12"
    # 23:30 UTC on 30 November is already 1 December in Berlin.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert str(previous_month(late, "Europe/Berlin")) == "2026-11"
