"""``sla change-request …`` in process through typer's ``CliRunner``.

Commands run in a thread (the CLI calls ``asyncio.run`` itself) against the dev
server: change requests have no timers to skip, and ``list`` needs visibility.
A worker for the CLI's task queue runs in this process (``tests/cli/conftest.py``);
its teardown terminates whatever these tests leave running.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from cli.main import app
from tests.cli.conftest import TICKET, CliStack, eventually
from tests.cli.test_exit_codes import clean, one_error_line
from tests.cli.test_exit_codes import sla as installed_sla
from tests.conftest import report

runner = CliRunner()
CR_ID = re.compile(r"^CR-\d{8}-[A-Z2-7]{6}$")
DEV_ID = re.compile(r"^DEV-\d{4,}$")


def request(**changes: Any) -> dict[str, Any]:
    data = {
        "company": "Beispiel Versand GmbH",
        "full_name": "Erika Mustermann",
        "email": "erika.mustermann@beispiel-versand.de",
        "title": "CSV-Export der Sendungsliste",
        "description": "Wir möchten die Sendungsliste als CSV-Datei exportieren.",
        "request_id": f"cli-cr-{uuid.uuid4().hex[:12]}",
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


async def sla(stack: CliStack, *args: str) -> Result:
    """Run ``sla ARGS`` in a thread; remembers started workflows for the teardown."""
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=stack.cli_env())
    if result.exit_code == 0 and args[:1] == ("report",):
        stack.tickets.append(result.stdout.strip())
    elif result.exit_code == 0 and ("submit" in args or "--file" in args):
        text = result.stdout.strip()
        stack.tickets.append(json.loads(text)["change_request_id"] if "--json" in args else text)
    return result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return result


def refused(result: Result, *fragments: str) -> str:
    """A refusal: exit 1, nothing on stdout, one ``error:`` line on stderr naming ``fragments``."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def loads(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def write(tmp_path: Path, data: dict[str, Any] | str) -> str:
    path = tmp_path / f"request-{uuid.uuid4().hex[:8]}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), "utf-8")
    return str(path)


async def submitted(stack: CliStack, tmp_path: Path, **changes: Any) -> str:
    """A submitted change request whose development ticket exists."""
    cr: str = loads(
        await sla(
            stack,
            "change-request",
            "submit",
            "--file",
            write(tmp_path, request(**changes)),
            "--json",
        )
    )["change_request_id"]
    await with_dev_ticket(stack, cr)
    return cr


async def show(stack: CliStack, cr: str) -> dict[str, Any]:
    view: dict[str, Any] = loads(await sla(stack, "change-request", "show", cr, "--json"))
    return view


async def with_dev_ticket(stack: CliStack, cr: str) -> str:
    found: list[str] = []

    async def check() -> bool:
        dev = (await show(stack, cr))["dev_ticket_id"]
        found[:] = [dev] if dev else []
        return bool(dev)

    await eventually(check)
    return found[0]


async def finished(stack: CliStack, cr: str) -> None:
    """Wait until the workflow has sent its last message and completed."""
    await stack.client.get_workflow_handle(cr).result()


def outbox_kinds(stack: CliStack, cr: str) -> list[str]:
    messages = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((stack.data_dir / "outbox").glob(f"{cr}.*.eml"))
    ]
    return [str(m["X-SLA-Kind"]) for m in messages]


# -- submit ---------------------------------------------------------------------------------


async def test_submit_prints_the_id_and_is_idempotent(dev_cli: CliStack, tmp_path: Path) -> None:
    path = write(tmp_path, request())

    result = ok(await sla(dev_cli, "change-request", "submit", "--file", path))

    cr = result.stdout.strip()
    assert result.stdout == f"{cr}\n"
    assert CR_ID.match(cr), cr
    dev = await with_dev_ticket(dev_cli, cr)
    assert DEV_ID.match(dev), dev
    view = await show(dev_cli, cr)
    assert view["status"] == "submitted"
    assert view["title"] == "CSV-Export der Sendungsliste"
    # The same request again is the same change request.
    again = loads(await sla(dev_cli, "change-request", "submit", "--file", path, "--json"))
    assert again == {"change_request_id": cr, "created": False}


async def test_plain_change_request_with_a_file_submits(dev_cli: CliStack, tmp_path: Path) -> None:
    printed = loads(
        await sla(dev_cli, "change-request", "--file", write(tmp_path, request()), "--json")
    )
    assert set(printed) == {"change_request_id", "created"}
    assert CR_ID.match(printed["change_request_id"])
    assert printed["created"] is True
    await with_dev_ticket(dev_cli, printed["change_request_id"])


async def test_a_bad_request_is_refused_before_connecting(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    bad = write(tmp_path, request(email="keine-adresse", title=None))
    line = refused(
        await sla(dev_cli, "change-request", "submit", "--file", bad),
        "email: not an e-mail address",
        "title: required",
    )
    assert "change request refused" in line
    refused(
        await sla(dev_cli, "change-request", "--file", write(tmp_path, "{kaputt")),
        "not valid JSON",
    )
    refused(
        await sla(dev_cli, "change-request", "submit", "--file", str(tmp_path / "fehlt.json")),
        "cannot read",
    )
    refused(
        await sla(dev_cli, "change-request", "--file", bad, "list"),
        "--file goes with submitting",
    )


async def test_without_arguments_it_prints_help(dev_cli: CliStack) -> None:
    result = ok(await sla(dev_cli, "change-request"))
    for command in ("submit", "list", "show", "discuss", "plan", "decline", "link-bug"):
        assert command in result.stdout


# -- lifecycle -------------------------------------------------------------------------------


async def test_discuss_then_plan(dev_cli: CliStack, tmp_path: Path) -> None:
    cr = await submitted(dev_cli, tmp_path, title="[Wunsch] CSV-Export")

    said = ok(await sla(dev_cli, "change-request", "discuss", cr, "--note", "Wir prüfen das."))
    assert said.stdout.startswith(f"{cr}: under discussion (dev ticket DEV-")
    planned = loads(
        await sla(dev_cli, "change-request", "plan", cr, "--release", "2027.1", "--json")
    )
    assert planned["status"] == "planned"
    assert planned["release"] == "2027.1"
    assert [e["type"] for e in planned["events"]] == [
        "submitted",
        "dev_ticket_created",
        "discussed",
        "planned",
    ]
    await finished(dev_cli, cr)

    text = ok(await sla(dev_cli, "change-request", "show", cr)).stdout
    assert f"{cr} · planned" in text
    assert "Title:       [Wunsch] CSV-Export" in text  # customer text is not Rich markup
    assert "Release:     2027.1" in text
    assert "Wir prüfen das." in text
    assert outbox_kinds(dev_cli, cr) == [
        "change_request_received",
        "change_request_discussion",
        "change_request_planned",
    ]
    refused(
        await sla(dev_cli, "change-request", "decline", cr, "--reason", "Doch nicht."),
        "planned for release 2027.1",
    )


async def test_decline_and_refusals(dev_cli: CliStack, tmp_path: Path) -> None:
    cr = await submitted(dev_cli, tmp_path)

    refused(
        await sla(dev_cli, "change-request", "plan", cr, "--release", "2027.1"),
        "not been discussed",
    )
    refused(await sla(dev_cli, "change-request", "discuss", cr, "--note", "  "), "note")
    ok(await sla(dev_cli, "change-request", "discuss", cr, "--note", "Wir prüfen das."))
    refused(await sla(dev_cli, "change-request", "plan", cr, "--release", ""), "release")
    refused(await sla(dev_cli, "change-request", "decline", cr, "--reason", ""), "reason")
    refused(
        await sla(dev_cli, "change-request", "plan", cr, "--release", "x" * 65),
        "release: at most 64 characters",
    )

    declined = ok(
        await sla(dev_cli, "change-request", "decline", cr, "--reason", "Passt nicht.")
    ).stdout
    assert declined.startswith(f"{cr}: declined")
    await finished(dev_cli, cr)
    refused(
        await sla(dev_cli, "change-request", "decline", cr, "--reason", "Nochmals."),
        f"change request {cr} is declined",
    )
    refused(
        await sla(dev_cli, "change-request", "plan", cr, "--release", "2027.1"),
        "is declined",
    )
    assert outbox_kinds(dev_cli, cr)[-1] == "change_request_declined"


async def test_unknown_ids_are_refused(dev_cli: CliStack, tmp_path: Path) -> None:
    refused(
        await sla(dev_cli, "change-request", "show", "CR-20990101-AAAAAA"),
        "unknown change request CR-20990101-AAAAAA",
    )
    refused(
        await sla(dev_cli, "change-request", "discuss", "CR-20990101-AAAAAA", "--note", "x"),
        "unknown change request",
    )
    incident = ok(await sla(dev_cli, "report", "--file", write(tmp_path, report()))).stdout.strip()
    refused(await sla(dev_cli, "change-request", "show", incident), "is not a change request")


# -- list ------------------------------------------------------------------------------------


async def test_list_shows_open_requests_unless_asked_otherwise(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    company = f"Listentest {uuid.uuid4().hex[:6]} GmbH"
    open_cr = await submitted(dev_cli, tmp_path, company=company)
    done_cr = await submitted(dev_cli, tmp_path, company=company, title="Dunkles Design")
    ok(await sla(dev_cli, "change-request", "discuss", done_cr, "--note", "Prüfen."))
    ok(await sla(dev_cli, "change-request", "plan", done_cr, "--release", "2027.2"))
    await finished(dev_cli, done_cr)

    async def ids(*args: str) -> list[str]:
        rows = loads(
            await sla(dev_cli, "change-request", "list", "--company", company, *args, "--json")
        )
        return [r["change_request_id"] for r in rows]

    async def settled() -> bool:
        return await ids("--state", "planned") == [done_cr]

    await eventually(settled)
    assert await ids() == [open_cr]
    assert sorted(await ids("--all")) == sorted([open_cr, done_cr])
    (row,) = loads(await sla(dev_cli, "change-request", "list", "--company", company, "--json"))
    assert "events" not in row and "request" not in row
    assert DEV_ID.match(row["dev_ticket_id"])

    table = ok(await sla(dev_cli, "change-request", "list", "--company", company, "--all")).stdout
    assert open_cr in table and done_cr in table and "release 2027.2" in table
    nobody = ok(
        await sla(dev_cli, "change-request", "list", "--company", f"Niemand {uuid.uuid4()}")
    )
    assert nobody.stdout == "no change requests\n"


# -- bugs found while resolving incidents ------------------------------------------------------


async def test_link_bug_creates_or_reuses_a_bug_ticket(dev_cli: CliStack, tmp_path: Path) -> None:
    first = ok(await sla(dev_cli, "report", "--file", write(tmp_path, report()))).stdout.strip()
    second = ok(await sla(dev_cli, "report", "--file", write(tmp_path, report()))).stdout.strip()
    assert TICKET.match(first) and TICKET.match(second)

    bug = loads(
        await sla(
            dev_cli, "change-request", "link-bug", first, "--title", "Umlaute im Export", "--json"
        )
    )
    assert DEV_ID.match(bug["id"])
    assert bug["kind"] == "bug"
    assert bug["links"] == [first]
    again = loads(
        await sla(
            dev_cli, "change-request", "link-bug", first, "--title", "Umlaute im Export", "--json"
        )
    )
    assert again["id"] == bug["id"]  # the incident's bug ticket is reused

    text = ok(await sla(dev_cli, "change-request", "link-bug", second, "--dev", bug["id"])).stdout
    assert text == f"{bug['id']} (bug, open) linked to {second}\n"

    refused(
        await sla(dev_cli, "change-request", "link-bug", second, "--dev", "DEV-9999"),
        "unknown development ticket DEV-9999",
    )
    refused(await sla(dev_cli, "change-request", "link-bug", second), "title is required")
    refused(
        await sla(dev_cli, "change-request", "link-bug", "INC-20990101-AAAAAA", "--title", "x"),
        "unknown ticket INC-20990101-AAAAAA",
    )
    cr = await submitted(dev_cli, tmp_path)
    refused(
        await sla(dev_cli, "change-request", "link-bug", cr, "--title", "x"),
        "is not an incident",
    )


# -- real runs of the installed binary -------------------------------------------------------


async def test_installed_sla_exits_cleanly(dev_cli: CliStack, tmp_path: Path) -> None:
    path = write(tmp_path, request())
    run = await installed_sla(dev_cli, "change-request", "--file", path, "--json")
    assert run.code == 0, run
    assert run.stderr == ""
    clean(run)
    cr = json.loads(run.stdout)["change_request_id"]
    dev_cli.tickets.append(cr)
    one_error_line(
        await installed_sla(dev_cli, "change-request", "plan", cr, "--release", "2027.1"),
        "not been discussed",
    )
