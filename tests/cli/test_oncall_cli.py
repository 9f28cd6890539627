"""``sla oncall …`` in process through typer's ``CliRunner``, against the dev server.

``sla oncall book`` judges the lead time on the wall clock, and ``list`` needs
visibility, so these tests use the dev server (real clock) with a worker for
the CLI's task queue (``tests/cli/conftest.py``). Every booking is for a
company of its own test, far enough ahead that no timer fires meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner, Result

from cli.main import app
from domain.oncall import earliest_start_day
from domain.sla import SlaPolicy
from tests.cli.conftest import CliStack, eventually

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
BOOKING = re.compile(r"^ONC-\d{8}-[A-Z2-7]{4}$")

runner = CliRunner()


async def sla(stack: CliStack, *args: str) -> Result:
    """Run ``sla oncall ARGS`` in a thread; remembers bookings for the teardown."""
    result = await asyncio.to_thread(runner.invoke, app, ["oncall", *args], env=stack.cli_env())
    if args and args[0] == "book" and result.exit_code == 0:
        text = result.stdout.strip()
        stack.tickets.append(json.loads(text)["booking_id"] if "--json" in args else text)
    return result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def loads(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def refused(result: Result, *fragments: str) -> str:
    """Exit 1, nothing on stdout, one ``error:`` line on stderr naming ``fragments``."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def window(days_after_earliest: int = 0) -> tuple[str, str]:
    """A Saturday evening window (naive: Berlin wall time) the lead-time rule accepts."""
    day = earliest_start_day(POLICY.calendar, datetime.now(BERLIN).date(), 3)
    day += timedelta(days=days_after_earliest)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return f"{day.isoformat()}T18:00", f"{day.isoformat()}T22:30"


def book_args(company: str, start: str, end: str, *extra: str) -> list[str]:
    return ["book", "--company", company, "--start", start, "--end", end, *extra]


def policy_with_customer(tmp_path: Path, company: str) -> Path:
    """The shipped policy with ``company`` added to the customer directory."""
    shipped = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")
    extra = f'\n[[customers]]\ncompany = "{company}"\ncontacts = ["it@kunde.example"]\n'
    path = tmp_path / "policy.toml"
    path.write_text(shipped + extra, "utf-8")
    return path


async def test_book_show_list_and_cancel(dev_cli: CliStack, tmp_path: Path) -> None:
    # A company of this test only: the booking tells that company's open incidents.
    company = f"Kunde {uuid.uuid4().hex[:8]} GmbH"
    policy = str(policy_with_customer(tmp_path, company))
    start, end = window()
    printed = loads(
        await sla(
            dev_cli,
            # The directory's spelling wins: incidents and bookings meet under one name.
            *book_args(company.lower(), start, end, "--reason", "Migration"),
            "--operator",
            "Max Muster",
            "--policy",
            policy,
            "--json",
        )
    )
    booking_id = printed["booking_id"]
    assert BOOKING.match(booking_id), booking_id
    assert printed["created"] is True

    shown = loads(await sla(dev_cli, "show", booking_id, "--json"))
    assert shown["status"] == "booked"
    assert shown["company"] == company
    assert shown["operator"] == "Max Muster"
    assert datetime.fromisoformat(shown["start"]) == datetime.fromisoformat(start).replace(
        tzinfo=BERLIN
    )
    text = ok(await sla(dev_cli, "show", booking_id)).stdout
    assert "booked" in text and "Max Muster" in text

    async def listed() -> bool:
        rows = loads(await sla(dev_cli, "list", "--company", company, "--json"))
        return any(r["booking_id"] == booking_id and r["status"] == "booked" for r in rows)

    await eventually(listed)
    assert booking_id in ok(await sla(dev_cli, "list")).stdout

    out = ok(await sla(dev_cli, "cancel", booking_id, "--reason", "verschoben")).stdout
    assert out == f"{booking_id}: cancelled; nothing billed\n"
    refused(await sla(dev_cli, "cancel", booking_id), booking_id, "cancelled")

    async def gone_from_open_list() -> bool:
        rows = loads(await sla(dev_cli, "list", "--company", company, "--json"))
        every = loads(await sla(dev_cli, "list", "--company", company, "--all", "--json"))
        return booking_id not in {r["booking_id"] for r in rows} and any(
            r["booking_id"] == booking_id and r["status"] == "cancelled" for r in every
        )

    await eventually(gone_from_open_list)


async def test_booking_the_same_window_twice_returns_the_same_booking(dev_cli: CliStack) -> None:
    company = f"Doppelt {uuid.uuid4().hex[:8]} GmbH"
    start, end = window(7)
    args = book_args(company, start, end, "--reason", "Inventur")
    first = ok(await sla(dev_cli, *args)).stdout.strip()
    again = loads(await sla(dev_cli, *args, "--json"))
    assert again == {"booking_id": first, "created": False}


async def test_unknown_company_is_booked_with_a_warning(dev_cli: CliStack) -> None:
    company = f"Neukunde {uuid.uuid4().hex[:8]} AG"
    start, end = window(14)
    result = ok(await sla(dev_cli, *book_args(company, start, end, "--reason", "Umzug")))
    assert BOOKING.match(result.stdout.strip())
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: ") and "not in the customer directory" in line


async def test_refusals_are_one_line_and_start_nothing(dev_cli: CliStack) -> None:
    company = f"Abgelehnt {uuid.uuid4().hex[:8]} GmbH"
    tomorrow = (datetime.now(BERLIN) + timedelta(days=1)).date().isoformat()
    earliest = earliest_start_day(POLICY.calendar, datetime.now(BERLIN).date(), 3)
    start, end = window()

    refused(
        await sla(
            dev_cli,
            *book_args(company, f"{tomorrow}T18:00", f"{tomorrow}T20:00", "--reason", "x"),
        ),
        "at least 3 business days ahead",
        f"the earliest start day is {earliest.isoformat()}",
    )
    refused(
        await sla(dev_cli, *book_args(company, end, start, "--reason", "x")),
        "must be after the start",
    )
    refused(
        await sla(dev_cli, *book_args(company, start, end, "--reason", "  ")),
        "a reason is required",
    )
    refused(
        await sla(dev_cli, *book_args(company, "morgen", end, "--reason", "x")),
        "--start 'morgen' is not an ISO 8601 date-time",
    )
    assert loads(await sla(dev_cli, "list", "--company", company, "--all", "--json")) == []


async def test_assign_names_and_replaces_the_operator(dev_cli: CliStack, tmp_path: Path) -> None:
    company = f"Operator {uuid.uuid4().hex[:8]} GmbH"
    policy = str(policy_with_customer(tmp_path, company))
    start, end = window(21)
    booking_id = ok(
        await sla(dev_cli, *book_args(company, start, end, "--reason", "Umzug"), "--policy", policy)
    ).stdout.strip()
    assert loads(await sla(dev_cli, "show", booking_id, "--json"))["operator"] is None

    out = ok(await sla(dev_cli, "assign", booking_id, "--operator", "Erika Muster")).stdout
    assert out == f"{booking_id}: operator Erika Muster\n"
    replaced = loads(
        await sla(dev_cli, "assign", booking_id, "--operator", " Max Muster ", "--json")
    )
    assert replaced["operator"] == "Max Muster"
    assert [(a["operator"], a["previous"]) for a in replaced["assignments"]] == [
        ("Erika Muster", None),
        ("Max Muster", "Erika Muster"),
    ]
    refused(
        await sla(dev_cli, "assign", booking_id, "--operator", "Max Muster"),
        f"Max Muster is already the operator of {booking_id}",
    )
    refused(await sla(dev_cli, "assign", booking_id, "--operator", "  "), "operator")

    shown = ok(await sla(dev_cli, "show", booking_id, "--policy", policy)).stdout
    assert "Max Muster (replaced Erika Muster)" in shown
    assert "95.00 EUR per started hour" in shown
    assert "business time not billed" in shown
    assert "free until the start" in shown

    async def listed_with_the_new_operator() -> bool:
        rows = loads(await sla(dev_cli, "list", "--company", company, "--json"))
        return [r["operator"] for r in rows] == ["Max Muster"]

    await eventually(listed_with_the_new_operator)

    ok(await sla(dev_cli, "cancel", booking_id))
    refused(
        await sla(dev_cli, "assign", booking_id, "--operator", "Erika Muster"),
        booking_id,
        "cancelled",
        "its operator can no longer change",
    )


async def test_unknown_bookings_are_named(dev_cli: CliStack) -> None:
    assert refused(await sla(dev_cli, "show", "ONC-NOPE")) == "error: unknown booking ONC-NOPE"
    refused(await sla(dev_cli, "cancel", "ONC-NOPE"), "unknown booking ONC-NOPE")
    refused(await sla(dev_cli, "assign", "ONC-NOPE", "--operator", "X"), "unknown booking ONC-NOPE")
