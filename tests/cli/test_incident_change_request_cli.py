"""``sla classify-change-request`` and ``sla link-bug`` in process through typer's ``CliRunner``.

Against the time-skipping server (updates and queries; no visibility needed). A
worker for the CLI's task queue runs in this process (``tests/cli/conftest.py``);
its teardown terminates the incidents and change requests these tests start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.cli.conftest import CliStack, eventually
from tests.cli.test_cli import acknowledged, loads, new_ticket, ok, refused, show, sla

CR_ID = re.compile(r"^CR-\d{8}-[A-Z2-7]{6}$")
DEV_ID = re.compile(r"^DEV-\d{4,}$")
TITLE = "CSV-Export der Sendungsliste"
REASON = "Der Export fehlt bisher; es ist nichts defekt."


def event_types(view: dict[str, Any]) -> list[str]:
    return [e["type"] for e in view["events"]]


async def test_classify_closes_the_incident_and_prints_the_change_request(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await new_ticket(ts_cli, tmp_path, login_impossible=False)

    result = ok(
        await sla(ts_cli, "classify-change-request", ticket, "--title", TITLE, "--reason", REASON)
    )

    match = re.fullmatch(
        rf"{ticket}: classified as change request (CR-\S+) "
        r"\(status resolved; the development ticket follows\)\n",
        result.stdout,
    )
    assert match, result.stdout
    cr = match.group(1)
    assert CR_ID.match(cr)
    ts_cli.tickets.append(cr)

    view = await show(ts_cli, ticket)
    assert view["status"] == "resolved"
    assert view["change_request_id"] == cr
    assert not view["reaction_breached"] and not view["resolution_breached"]
    types = event_types(view)
    assert "classified_as_change_request" in types and "change_request_recorded" in types
    screen = ok(await sla(ts_cli, "show", ticket)).stdout
    assert "Classified as a change request" in screen and cr in screen

    async def with_dev_ticket() -> bool:
        request = loads(await sla(ts_cli, "change-request", "show", cr, "--json"))
        return bool(request["dev_ticket_id"] and DEV_ID.match(request["dev_ticket_id"]))

    await eventually(with_dev_ticket)
    request = loads(await sla(ts_cli, "change-request", "show", cr, "--json"))
    assert request["title"] == TITLE
    assert request["status"] == "submitted"

    refused(
        await sla(ts_cli, "classify-change-request", ticket, "--title", TITLE, "--reason", REASON),
        f"incident {ticket} is resolved",
    )


async def test_classify_json_prints_the_incident_view(ts_cli: CliStack, tmp_path: Path) -> None:
    ticket = await new_ticket(ts_cli, tmp_path, login_impossible=False)

    view = loads(
        await sla(
            ts_cli,
            "classify-change-request",
            ticket,
            "--title",
            TITLE,
            "--reason",
            REASON,
            "--json",
        )
    )

    assert view["ticket_id"] == ticket and view["status"] == "resolved"
    assert CR_ID.match(view["change_request_id"])
    ts_cli.tickets.append(view["change_request_id"])


async def test_classify_is_refused_in_one_line(ts_cli: CliStack, tmp_path: Path) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    assert (await sla(ts_cli, "resolve", ticket, "--summary", "Neu gestartet")).exit_code == 0
    refused(
        await sla(ts_cli, "classify-change-request", ticket, "--title", TITLE, "--reason", REASON),
        "resolved",
    )
    assert (await show(ts_cli, ticket))["change_request_id"] is None

    fresh = await new_ticket(ts_cli, tmp_path)
    refused(
        await sla(ts_cli, "classify-change-request", fresh, "--title", TITLE, "--reason", " "),
        "reason",
    )
    refused(
        await sla(ts_cli, "classify-change-request", fresh, "--title", "x" * 201, "--reason", "r"),
        "title",
    )
    refused(
        await sla(
            ts_cli,
            "classify-change-request",
            "INC-20990101-AAAAAA",
            "--title",
            "t",
            "--reason",
            "r",
        ),
        "unknown ticket INC-20990101-AAAAAA",
    )
    assert (await show(ts_cli, fresh))["status"] == "new"


async def test_link_bug_records_the_dev_ticket_on_the_incident(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    first = await new_ticket(ts_cli, tmp_path)
    second = await acknowledged(ts_cli, tmp_path)

    bug = loads(await sla(ts_cli, "link-bug", first, "--title", "Umlaute im Export", "--json"))
    assert DEV_ID.match(bug["id"]) and bug["kind"] == "bug"
    assert bug["links"] == [first]
    assert bug["recorded_on_incident"] is True
    view = await show(ts_cli, first)
    linked = [e for e in view["events"] if e["type"] == "dev_ticket_linked"]
    assert [(e["dev_ticket_id"], e["title"]) for e in linked] == [(bug["id"], "Umlaute im Export")]
    assert view["dev_tickets"] == [bug["id"]]
    assert bug["id"] in ok(await sla(ts_cli, "show", first)).stdout

    text = ok(await sla(ts_cli, "link-bug", second, "--dev", bug["id"])).stdout
    assert text == f"{bug['id']} (bug, open) linked to {second}\n"
    assert (await show(ts_cli, second))["dev_tickets"] == [bug["id"]]

    # The change-request group's command is the same code: it records on the incident too.
    again = loads(
        await sla(
            ts_cli, "change-request", "link-bug", first, "--title", "Umlaute im Export", "--json"
        )
    )
    assert again["id"] == bug["id"]
    assert event_types(await show(ts_cli, first)).count("dev_ticket_linked") == 1

    refused(
        await sla(ts_cli, "link-bug", second, "--dev", "DEV-9999"),
        "unknown development ticket DEV-9999",
    )
    refused(await sla(ts_cli, "link-bug", second), "title is required")
    refused(
        await sla(ts_cli, "link-bug", "INC-20990101-AAAAAA", "--title", "x"),
        "unknown ticket INC-20990101-AAAAAA",
    )


async def test_link_bug_after_resolution_links_in_the_tracker_only(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    ok(await sla(ts_cli, "resolve", ticket, "--summary", "Behoben"))

    text = ok(await sla(ts_cli, "link-bug", ticket, "--title", "Nachträglich gefunden")).stdout

    match = re.fullmatch(
        rf"(DEV-\d+) \(bug, open\) linked to {ticket} "
        r"\(incident resolved: recorded in the tracker only\)\n",
        text,
    )
    assert match, text
    assert "dev_ticket_linked" not in event_types(await show(ts_cli, ticket))
