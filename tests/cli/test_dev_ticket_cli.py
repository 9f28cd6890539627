"""``sla dev-ticket list|show|transition`` in process, against the dev server and a worker.

The tracker lives in the worker's data dir; the commands reach it through
short workflows on the CLI's task queue. A bug linked to an incident goes
open → in_progress → fixed → released, and the reporter hears of both the
DEV ID and the release.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from tests.cli.conftest import CliStack, eventually
from tests.cli.test_change_request_cli import loads, ok, refused, sla, submitted, write
from tests.conftest import report

REPORTER = "erika.mustermann@beispiel-versand.de"


def outbox(stack: CliStack, kind: str) -> list[EmailMessage]:
    messages = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((stack.data_dir / "outbox").glob("*.eml"))
    ]
    return [m for m in messages if m["X-SLA-Kind"] == kind]


async def test_a_bug_goes_from_open_to_released_and_the_reporter_is_told_twice(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    incident = ok(await sla(dev_cli, "report", "--file", write(tmp_path, report()))).stdout.strip()
    bug = loads(await sla(dev_cli, "link-bug", incident, "--title", "Umlaute im Export", "--json"))
    dev = bug["id"]
    assert bug["recorded_on_incident"] is True
    assert bug["linked"][0]["contact"]["email"] == REPORTER

    async def told_the_id() -> bool:
        return any(dev in str(m["Subject"]) for m in outbox(dev_cli, "bug_linked"))

    await eventually(told_the_id)

    shown = loads(await sla(dev_cli, "dev-ticket", "show", dev, "--json"))
    assert (shown["kind"], shown["status"], shown["links"]) == ("bug", "open", [incident])
    listed = loads(await sla(dev_cli, "dev-ticket", "list", "--kind", "bug", "--json"))
    assert dev in [t["id"] for t in listed]
    opened = loads(
        await sla(dev_cli, "dev-ticket", "list", "--status", "open", "--status", "fixed", "--json")
    )
    assert all(t["status"] in ("open", "fixed") for t in opened)

    moved = ok(await sla(dev_cli, "dev-ticket", "transition", dev, "--to", "in_progress"))
    assert moved.stdout == f"{dev}: in_progress\n"
    ok(await sla(dev_cli, "dev-ticket", "transition", dev, "--to", "fixed", "--note", "ß ok"))
    refused(
        await sla(dev_cli, "dev-ticket", "transition", dev, "--to", "released"),
        "--release is required",
    )
    released = ok(
        await sla(
            dev_cli, "dev-ticket", "transition", dev, "--to", "released", "--release", "2027.1"
        )
    )
    assert released.stdout == (
        f"{dev}: released in release 2027.1; telling the reporters of {incident}\n"
    )

    async def told_the_release() -> bool:
        return any(dev in str(m["Subject"]) for m in outbox(dev_cli, "bug_fix_released"))

    await eventually(told_the_release)
    (mail,) = [m for m in outbox(dev_cli, "bug_fix_released") if dev in str(m["Subject"])]
    assert mail["To"] == REPORTER

    refused(
        await sla(dev_cli, "dev-ticket", "transition", dev, "--to", "in_progress"),
        f"{dev} is released; a released bug ticket is final",
    )
    text = ok(await sla(dev_cli, "dev-ticket", "show", dev)).stdout
    assert f"{dev} · bug · released" in text
    assert "in_progress → fixed  ß ok" in text
    assert "fixed → released  release 2027.1" in text
    assert f"{incident}  reporter Erika Mustermann <{REPORTER}>" in text


async def test_unknown_tickets_and_feature_tickets_are_refused(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    for args in (("show", "DEV-9999"), ("transition", "DEV-9999", "--to", "fixed")):
        refused(await sla(dev_cli, "dev-ticket", *args), "unknown development ticket DEV-9999")
    cr = await submitted(dev_cli, tmp_path)
    view = loads(await sla(dev_cli, "change-request", "show", cr, "--json"))
    refused(
        await sla(dev_cli, "dev-ticket", "transition", view["dev_ticket_id"], "--to", "fixed"),
        "is a feature ticket",
        "sla change-request",
    )
    bad = await sla(dev_cli, "dev-ticket", "transition", "DEV-0001", "--to", "planned")
    assert bad.exit_code == 2  # typer's usage error: not a bug state an operator sets


async def test_a_resolved_incidents_reporter_is_told_the_dev_id_too(
    dev_cli: CliStack, tmp_path: Path
) -> None:
    incident = ok(await sla(dev_cli, "report", "--file", write(tmp_path, report()))).stdout.strip()
    ok(await sla(dev_cli, "resolve", incident, "--summary", "Neustart des Dienstes"))
    await dev_cli.client.get_workflow_handle(incident).result()

    bug = loads(await sla(dev_cli, "link-bug", incident, "--title", "Dienst hängt", "--json"))
    assert bug["recorded_on_incident"] is False
    assert bug["linked"][0]["contact"]["email"] == REPORTER

    async def told() -> bool:
        return any(incident in str(m["Subject"]) for m in outbox(dev_cli, "bug_linked"))

    await eventually(told)
    (mail,) = [m for m in outbox(dev_cli, "bug_linked") if incident in str(m["Subject"])]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Ihre Störungsmeldung ist bereits abgeschlossen" in str(body.get_content())
