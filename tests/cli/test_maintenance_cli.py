"""``sla maintenance …`` in process through typer's ``CliRunner``.

Commands run in a thread (the CLI calls ``asyncio.run`` itself). Plan, show,
reschedule, extend, end and cancel run against the time-skipping server (no
time is skipped here: the CLI checks the notice period against the wall clock;
a running window is started directly, planned "earlier", instead); ``list`` needs
visibility and runs against the dev server. The worker for the CLI's task queue
comes from ``tests/cli/conftest.py``, whose teardown terminates what is left.
Each test waits until the status page shows its last change, so nothing is in
flight when that happens.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from domain.maintenance import MaintenancePlan, MaintenanceState, MaintenanceStatus
from domain.sla import SlaPolicy
from service.maintenance import start_maintenance
from tests.cli.conftest import CliStack, eventually
from tests.maintenance_support import (
    BERLIN,
    EXPECTED_RECIPIENTS,
    next_weekday_at,
    write_directory_policy,
    write_policy_without_contacts,
)
from workflows.maintenance import MaintenanceWorkflow

runner = CliRunner()
MAINTENANCE_ID = re.compile(r"^MNT-\d{8}-\d{4}-[A-Z2-7]{4}$")
FRIDAY, SATURDAY = 4, 5


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped policy with three customers to write to (and none without contact)."""
    path = tmp_path_factory.mktemp("policy") / "directory.toml"
    return str(write_directory_policy(path, unreachable=False))


@pytest.fixture(scope="module")
def unreachable_policy_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """:func:`policy_file` plus a directory customer without any contact."""
    return str(write_directory_policy(tmp_path_factory.mktemp("policy") / "unreachable.toml"))


async def sla(stack: CliStack, *args: str) -> Result:
    """Run ``sla maintenance ARGS`` in a thread; remembers planned IDs for the teardown."""
    result = await asyncio.to_thread(
        runner.invoke, app, ["maintenance", *args], env=stack.cli_env()
    )
    if args[:1] == ("plan",) and result.exit_code == 0:
        text = result.stdout.strip()
        stack.tickets.append(json.loads(text)["maintenance_id"] if "--json" in args else text)
    return result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return result


def loads(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def refused(result: Result, *fragments: str) -> str:
    """Exit 1, nothing on stdout, exactly one ``error:`` line on stderr naming ``fragments``."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def local(instant: datetime) -> str:
    """Naive ISO text: wall-clock time in Berlin, as an operator types it."""
    return instant.replace(tzinfo=None).isoformat(timespec="minutes")


def friday_evening(weeks: int = 0) -> datetime:
    """A usual window start (Friday 18:00 Berlin) safely more than 48 h ahead."""
    first = next_weekday_at(datetime.now(UTC), FRIDAY, time(18, 0), lead=timedelta(days=3))
    return first + timedelta(weeks=weeks)


def plan_args(start: datetime, hours: int = 4, *extra: str) -> list[str]:
    return [
        "plan",
        "--start",
        local(start),
        "--end",
        local(start + timedelta(hours=hours)),
        "--services",
        "Versand, Statistik",
        "--message",
        f"Datenbank-Update {uuid.uuid4().hex[:8]}",
        *extra,
    ]


async def plan(stack: CliStack, policy_file: str, start: datetime, *extra: str) -> str:
    result = ok(await sla(stack, *plan_args(start, 4, "--policy", policy_file, *extra)))
    maintenance = result.stdout.strip()
    assert result.stdout == f"{maintenance}\n"
    assert MAINTENANCE_ID.match(maintenance), maintenance
    return maintenance


async def show(stack: CliStack, maintenance: str) -> dict[str, Any]:
    view: dict[str, Any] = loads(await sla(stack, "show", maintenance, "--json"))
    return view


def outbox(stack: CliStack, template: str, maintenance: str) -> list[Path]:
    folder = stack.data_dir / "outbox"
    return sorted(folder.glob(f"{maintenance}.*.{template}.*.eml")) if folder.exists() else []


async def mailed(stack: CliStack, template: str, maintenance: str, count: int) -> None:
    async def check() -> bool:
        return len(outbox(stack, template, maintenance)) == count

    await eventually(check)


async def page_shows(
    stack: CliStack, maintenance: str, state: str, *, start: datetime | None = None
) -> None:
    """Wait until the status site shows ``state`` (its render activity has finished)."""

    async def check() -> bool:
        path = stack.data_dir / "status" / "status.json"
        if not path.exists():
            return False
        entries = json.loads(path.read_text("utf-8"))["maintenance"]
        return any(
            m["id"] == maintenance
            and m["state"] == state
            and (start is None or datetime.fromisoformat(m["start"]) == start)
            for m in entries
        )

    await eventually(check)


# -- plan and show ------------------------------------------------------------------------


async def test_plan_prints_the_id_and_announces_to_every_customer(
    ts_cli: CliStack, policy_file: str
) -> None:
    start = friday_evening()
    maintenance = await plan(ts_cli, policy_file, start, "--shipments-possible")
    assert maintenance.startswith(f"MNT-{start:%Y%m%d}-1800-")

    view = await show(ts_cli, maintenance)
    assert view["maintenance_id"] == maintenance
    assert view["status"] == "planned"
    assert view["services"] == ["Versand", "Statistik"]
    assert view["shipments_possible"] is True
    assert datetime.fromisoformat(view["start"]) == start
    assert [e["type"] for e in view["events"]] == ["planned"]

    await mailed(ts_cli, "maintenance_announcement", maintenance, len(EXPECTED_RECIPIENTS))
    await page_shows(ts_cli, maintenance, "planned")

    screen = ok(await sla(ts_cli, "show", maintenance)).stdout
    assert maintenance in screen
    assert "planned" in screen
    assert "Versand, Statistik" in screen
    assert "can be scheduled" in screen


async def test_an_unusual_window_is_accepted_with_a_warning(
    ts_cli: CliStack, policy_file: str
) -> None:
    saturday = next_weekday_at(datetime.now(UTC), SATURDAY, time(10, 0), lead=timedelta(days=3))

    result = await sla(ts_cli, *plan_args(saturday, 2, "--policy", policy_file, "--json"))

    assert result.exit_code == 0, (result.stdout, result.stderr)
    printed = json.loads(result.stdout)
    assert MAINTENANCE_ID.match(printed["maintenance_id"])
    (warning,) = printed["warnings"]
    assert "outside the usual maintenance window" in warning
    lines = result.stderr.splitlines()
    assert lines == [f"warning: {warning}"]
    await page_shows(ts_cli, printed["maintenance_id"], "planned")


async def test_the_usual_window_has_no_warnings_in_json(ts_cli: CliStack, policy_file: str) -> None:
    result = await sla(ts_cli, *plan_args(friday_evening(1), 4, "--policy", policy_file, "--json"))
    printed = loads(result)
    assert printed["warnings"] == []
    await page_shows(ts_cli, printed["maintenance_id"], "planned")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"start": timedelta(hours=47)}, ("at least 48 hours ahead",)),
        ({"start": -timedelta(days=1)}, ("at least 48 hours ahead",)),
        ({"end": -timedelta(hours=5)}, ("end after it starts",)),
        ({"end": -timedelta(hours=4)}, ("end after it starts",)),
        ({"services": " , "}, ("service",)),
        ({"message": "  "}, ("message",)),
        ({"start_text": "Freitag 18 Uhr"}, ("--start", "ISO 8601")),
    ],
    ids=[
        "47h-ahead",
        "in-the-past",
        "end-before-start",
        "end-equals-start",
        "no-services",
        "no-message",
        "not-iso",
    ],
)
async def test_plan_refusals_are_one_line_and_exit_1(
    ts_cli: CliStack, change: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    start = friday_evening()
    if "start" in change:
        start = datetime.now(UTC).astimezone(BERLIN) + change["start"]
    end = start + timedelta(hours=4) + change.get("end", timedelta(0))
    args = [
        "plan",
        "--start",
        change.get("start_text", local(start)),
        "--end",
        local(end),
        "--services",
        change.get("services", "Versand"),
        "--message",
        change.get("message", "Update"),
    ]
    refused(await sla(ts_cli, *args), *fragments)
    refused(await sla(ts_cli, *args, "--json"), *fragments)


async def test_show_of_an_unknown_maintenance_is_refused(ts_cli: CliStack) -> None:
    refused(await sla(ts_cli, "show", "MNT-20991231-1800-ZZZZ"), "unknown maintenance")
    refused(await sla(ts_cli, "show", "MNT-20991231-1800-ZZZZ", "--json"), "unknown maintenance")


# -- reschedule and cancel ------------------------------------------------------------------


async def test_reschedule_re_announces_and_keeps_the_notice_rule(
    ts_cli: CliStack, policy_file: str
) -> None:
    start = friday_evening(2)
    maintenance = await plan(ts_cli, policy_file, start)
    await mailed(ts_cli, "maintenance_announcement", maintenance, len(EXPECTED_RECIPIENTS))

    new_start = start + timedelta(weeks=1)
    printed = loads(
        await sla(
            ts_cli,
            "reschedule",
            maintenance,
            "--start",
            local(new_start),
            "--end",
            local(new_start + timedelta(hours=3)),
            "--json",
        )
    )
    assert printed["status"] == "planned"
    assert printed["revision"] == 1
    assert datetime.fromisoformat(printed["start"]) == new_start
    assert printed["warnings"] == []
    await mailed(ts_cli, "maintenance_rescheduled", maintenance, len(EXPECTED_RECIPIENTS))

    soon = datetime.now(UTC).astimezone(BERLIN) + timedelta(hours=30)
    refused(
        await sla(
            ts_cli,
            "reschedule",
            maintenance,
            "--start",
            local(soon),
            "--end",
            local(soon + timedelta(hours=2)),
        ),
        "at least 48 hours ahead",
    )
    saturday = new_start + timedelta(days=1)
    result = await sla(
        ts_cli,
        "reschedule",
        maintenance,
        "--start",
        local(saturday),
        "--end",
        local(saturday + timedelta(hours=2)),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{maintenance}: rescheduled (state planned)\n"
    assert result.stderr.startswith("warning: the window")
    assert len(result.stderr.splitlines()) == 1
    await mailed(ts_cli, "maintenance_rescheduled", maintenance, 2 * len(EXPECTED_RECIPIENTS))
    assert (await show(ts_cli, maintenance))["revision"] == 2
    await page_shows(ts_cli, maintenance, "planned", start=saturday)


async def test_reschedule_or_cancel_of_an_unknown_maintenance_is_refused(ts_cli: CliStack) -> None:
    start = friday_evening()
    refused(
        await sla(
            ts_cli,
            "reschedule",
            "MNT-20991231-1800-ZZZZ",
            "--start",
            local(start),
            "--end",
            local(start + timedelta(hours=1)),
        ),
        "unknown maintenance",
    )
    refused(
        await sla(ts_cli, "cancel", "MNT-20991231-1800-ZZZZ", "--reason", "x"),
        "unknown maintenance",
    )


async def test_cancel_tells_the_customers_and_cannot_be_repeated(
    ts_cli: CliStack, policy_file: str
) -> None:
    maintenance = await plan(ts_cli, policy_file, friday_evening(3))
    await mailed(ts_cli, "maintenance_announcement", maintenance, len(EXPECTED_RECIPIENTS))

    refused(await sla(ts_cli, "cancel", maintenance, "--reason", "  "), "reason")
    result = ok(await sla(ts_cli, "cancel", maintenance, "--reason", "Update verschoben"))
    assert result.stdout == f"{maintenance}: cancelled (state cancelled)\n"
    await mailed(ts_cli, "maintenance_cancelled", maintenance, len(EXPECTED_RECIPIENTS))
    await page_shows(ts_cli, maintenance, "cancelled")

    # Still draining or already closed: refused either way, in one line.
    line = refused(await sla(ts_cli, "cancel", maintenance, "--reason", "nochmal", "--json"))
    assert maintenance in line
    view = await show(ts_cli, maintenance)
    assert view["status"] == "cancelled"
    assert view["cancel_reason"] == "Update verschoben"
    assert [e["type"] for e in view["events"]] == ["planned", "cancelled"]


# -- list (visibility: dev server) ------------------------------------------------------------


async def listed(stack: CliStack, *args: str) -> dict[str, dict[str, Any]]:
    rows = loads(await sla(stack, "list", "--json", *args))
    return {row["maintenance_id"]: row for row in rows}


async def test_list_shows_windows_from_visibility(dev_cli: CliStack, policy_file: str) -> None:
    first = await plan(dev_cli, policy_file, friday_evening())
    second = await plan(dev_cli, policy_file, friday_evening(1))
    ok(await sla(dev_cli, "cancel", second, "--reason", "entfällt"))
    mine = {first, second}

    async def states(*args: str) -> dict[str, str]:
        rows = await listed(dev_cli, *args)
        return {i: row["state"] for i, row in rows.items() if i in mine}

    expectations: list[tuple[tuple[str, ...], dict[str, str]]] = [
        ((), {first: "planned"}),
        (("--all",), {first: "planned", second: "cancelled"}),
        (("--state", "cancelled"), {second: "cancelled"}),
        (("--state", "planned"), {first: "planned"}),
    ]

    async def all_match() -> bool:
        return all([await states(*args) == expected for args, expected in expectations])

    await eventually(all_match, seconds=20)
    row = (await listed(dev_cli))[first]
    assert row["services"] == ["Versand", "Statistik"]
    assert datetime.fromisoformat(row["start"]) == friday_evening()
    assert datetime.fromisoformat(row["end"]) == datetime.fromisoformat(row["start"]) + timedelta(
        hours=4
    )
    assert row["message"].startswith("Datenbank-Update")

    table = ok(await sla(dev_cli, "list")).stdout
    assert first in table and second not in table
    assert "planned" in table
    await page_shows(dev_cli, first, "planned")
    await page_shows(dev_cli, second, "cancelled")


# -- who is told, extend, end early (issue 16) ---------------------------------------------


async def test_plan_warns_about_customers_without_a_contact(
    ts_cli: CliStack, unreachable_policy_file: str
) -> None:
    args = plan_args(friday_evening(4), 4, "--policy", unreachable_policy_file)
    result = await sla(ts_cli, *args, "--json")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    (warning,) = printed["warnings"]
    assert "without a contact will not be told: Ohne Kontakt GmbH" in warning
    assert result.stderr.splitlines() == [f"warning: {warning}"]
    maintenance = printed["maintenance_id"]
    await mailed(ts_cli, "maintenance_announcement", maintenance, len(EXPECTED_RECIPIENTS))
    opened = (await show(ts_cli, maintenance))["events"][0]
    assert opened["recipients"] == len(EXPECTED_RECIPIENTS)
    assert opened["unreached"] == ["Ohne Kontakt GmbH"]
    await page_shows(ts_cli, maintenance, "planned")


async def test_plan_with_nobody_to_tell_warns_clearly(
    ts_cli: CliStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = write_policy_without_contacts(tmp_path_factory.mktemp("policy") / "nobody.toml")
    result = await sla(ts_cli, *plan_args(friday_evening(5), 4, "--policy", str(path)))
    assert result.exit_code == 0, result.stderr
    maintenance = result.stdout.strip()
    assert MAINTENANCE_ID.match(maintenance)
    assert "warning: no customer in the directory" in result.stderr
    assert "nobody will be told about this maintenance by e-mail" in result.stderr
    assert "Beispiel Versand GmbH" in result.stderr
    await page_shows(ts_cli, maintenance, "planned")
    assert outbox(ts_cli, "maintenance_announcement", maintenance) == []


async def test_plan_warns_when_the_window_reaches_business_hours(
    ts_cli: CliStack, policy_file: str
) -> None:
    start = friday_evening(6)
    args = plan_args(start, 64, "--policy", policy_file, "--json")  # Fri 18:00 → Mon 10:00
    result = await sla(ts_cli, *args)
    assert result.exit_code == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert any("outside the usual maintenance window" in w for w in warnings)
    (reaching,) = [w for w in warnings if "reaches business hours" in w]
    assert "a critical incident is opened for all users" in reaching
    await page_shows(ts_cli, json.loads(result.stdout)["maintenance_id"], "planned")


async def test_extend_a_planned_window_re_announces_and_warns_about_business_hours(
    ts_cli: CliStack, policy_file: str
) -> None:
    start = friday_evening(7)
    maintenance = await plan(ts_cli, policy_file, start)
    await mailed(ts_cli, "maintenance_announcement", maintenance, len(EXPECTED_RECIPIENTS))

    later = start + timedelta(hours=5)
    result = ok(
        await sla(ts_cli, "extend", maintenance, "--until", local(later), "--reason", "Mehr Daten.")
    )
    assert result.stdout == (
        f"{maintenance}: extended until {later:%a %d.%m.%Y} 23:00 (state planned)\n"
    )
    await mailed(ts_cli, "maintenance_extended", maintenance, len(EXPECTED_RECIPIENTS))

    monday = start + timedelta(days=2, hours=16)  # Monday 10:00
    result = await sla(
        ts_cli,
        "extend",
        maintenance,
        "--until",
        local(monday),
        "--reason",
        "Migration dauert an.",
        "--policy",
        policy_file,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["revision"] == 2
    assert datetime.fromisoformat(printed["end"]) == monday
    (warning,) = printed["warnings"]
    assert "reaches business hours" in warning
    assert result.stderr.splitlines() == [f"warning: {warning}"]
    await mailed(ts_cli, "maintenance_extended", maintenance, 2 * len(EXPECTED_RECIPIENTS))

    refused(
        await sla(ts_cli, "extend", maintenance, "--until", local(later), "--reason", "x"),
        "must end after the current end",
    )
    refused(
        await sla(
            ts_cli,
            "extend",
            maintenance,
            "--until",
            local(monday + timedelta(hours=1)),
            "--reason",
            " ",
        ),
        "reason",
    )
    refused(await sla(ts_cli, "end", maintenance), "has not started yet")
    refused(
        await sla(
            ts_cli, "extend", "MNT-20991231-1800-ZZZZ", "--until", local(monday), "--reason", "x"
        ),
        "unknown maintenance",
    )
    refused(await sla(ts_cli, "end", "MNT-20991231-1800-ZZZZ"), "unknown maintenance")
    await page_shows(ts_cli, maintenance, "planned")


async def test_extend_and_end_a_running_window(
    ts_cli: CliStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Running at once: planned "two days ago" so that it has started already; the
    # calendar is closed these days, so the window reaches no business hours.
    now = await ts_cli.now()
    today = now.astimezone(BERLIN).date()
    closed = tuple(today + timedelta(days=d) for d in range(-1, 4))
    policy_path = write_directory_policy(
        tmp_path_factory.mktemp("policy") / "closed.toml", unreachable=False, closed_dates=closed
    )
    policy = SlaPolicy.from_file(policy_path)
    plan = MaintenancePlan(
        start=now - timedelta(minutes=5),
        end=now + timedelta(hours=2),
        services=("Versand",),
        message=f"Serverumzug {uuid.uuid4().hex[:8]}",
    )
    maintenance = await start_maintenance(
        ts_cli.client, plan, policy=policy, now=now - timedelta(hours=49)
    )
    ts_cli.tickets.append(maintenance)
    handle = ts_cli.client.get_workflow_handle_for(MaintenanceWorkflow.run, maintenance)

    async def running() -> bool:
        state: MaintenanceState = await handle.query(MaintenanceWorkflow.view)
        return state.status is MaintenanceStatus.IN_PROGRESS

    await eventually(running)

    until = now + timedelta(hours=3)
    printed = loads(
        await sla(
            ts_cli,
            "extend",
            maintenance,
            "--until",
            until.isoformat(),
            "--reason",
            "Umzug dauert länger.",
            "--policy",
            str(policy_path),
            "--json",
        )
    )
    assert printed["status"] == "in_progress"
    assert printed["warnings"] == []
    await mailed(ts_cli, "maintenance_extended", maintenance, len(EXPECTED_RECIPIENTS))

    result = ok(await sla(ts_cli, "end", maintenance, "--note", "Umzug abgeschlossen."))
    assert result.stdout == f"{maintenance}: ended early (state completed)\n"
    await mailed(ts_cli, "maintenance_ended", maintenance, len(EXPECTED_RECIPIENTS))
    await page_shows(ts_cli, maintenance, "completed")

    refused(await sla(ts_cli, "end", maintenance, "--json"), maintenance)
    view = await show(ts_cli, maintenance)
    assert view["status"] == "completed"
    assert [e["type"] for e in view["events"]] == ["planned", "started", "extended", "ended_early"]
    assert view["events"][-1]["note"] == "Umzug abgeschlossen."
    screen = ok(await sla(ts_cli, "show", maintenance)).stdout
    assert "ended_early" in screen
