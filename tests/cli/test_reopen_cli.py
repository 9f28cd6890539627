"""``sla reopen TICKET --reason …`` in process, against the time-skipping server.

A resolved ticket is reopened (a new run, same ticket ID, new reaction clock),
and every refusal is one ``error:`` line with exit 1: an unknown ticket, one
still open, a policy without reopening, a bad reason. The window's end in a
refusal, erased data and the rules themselves are tested in
``tests/domain/test_reopen.py``; the archive path in
``tests/archive/test_archive_lifecycle.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from tests.cli.conftest import CliStack, eventually
from tests.cli.test_cli import iso, loads, new_ticket, ok, refused, show, sla


async def resolved_ticket(stack: CliStack, tmp_path: Path) -> str:
    ticket = await new_ticket(stack, tmp_path, login_impossible=False)
    estimate = await stack.now() + timedelta(days=2)
    ok(await sla(stack, "ack", ticket, "--severity", "major", "--estimate", iso(estimate)))
    ok(await sla(stack, "resolve", ticket, "--summary", "Index neu aufgebaut"))

    async def closed() -> bool:
        status = (await stack.client.get_workflow_handle(ticket).describe()).status
        return status == WorkflowExecutionStatus.COMPLETED

    await eventually(closed)
    return ticket


async def test_reopen_continues_the_ticket_with_a_new_reaction_clock(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await resolved_ticket(ts_cli, tmp_path)
    answer = loads(
        await sla(ts_cli, "reopen", ticket, "--reason", "Fehler tritt erneut auf", "--json")
    )
    assert answer["ticket_id"] == ticket and answer["period"] == 2
    assert answer["source"] == "temporal" and answer["severity"] == "major"
    reopened_at = answer["reopened_at"]
    assert reopened_at is not None
    view = await show(ts_cli, ticket)
    assert view["status"] == "new"
    assert view["reaction_due"] == answer["reaction_due"]
    reopened = [e for e in view["events"] if e["type"] == "reopened"]
    assert len(reopened) == 1 and reopened[0]["reason"] == "Fehler tritt erneut auf"
    assert reopened[0]["by"]  # the login name (or uid) of whoever ran it
    assert [e["type"] for e in view["events"]].count("resolved") == 1

    # Open again: a second reopen is refused, and it can be resolved as any open incident.
    refused(await sla(ts_cli, "reopen", ticket, "--reason", "nochmal"), ticket, "still")
    ok(await sla(ts_cli, "resolve", ticket, "--summary", "wieder behoben"))


async def test_reopen_prints_one_line_with_the_new_reaction_deadline(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await resolved_ticket(ts_cli, tmp_path)
    result = ok(await sla(ts_cli, "reopen", ticket, "--reason", "Kunde meldet", "--by", "Anna"))
    line = result.stdout.strip()
    assert line.startswith(f"{ticket}: reopened (period 2, from the temporal), reaction due ")
    assert line.endswith("; by Anna")
    ok(await sla(ts_cli, "resolve", ticket, "--summary", "ok"))


async def test_reopen_refusals_are_one_line(ts_cli: CliStack, tmp_path: Path) -> None:
    refused(
        await sla(ts_cli, "reopen", "INC-20261124-ZZZZZZ", "--reason", "x"),
        "unknown ticket INC-20261124-ZZZZZZ",
    )
    open_ticket = await new_ticket(ts_cli, tmp_path, login_impossible=False)
    refused(await sla(ts_cli, "reopen", open_ticket, "--reason", "x"), "still open")
    refused(await sla(ts_cli, "reopen", open_ticket, "--reason", "a\x1b[31mb"), "--reason")
    refused(await sla(ts_cli, "reopen", open_ticket, "--reason", "x" * 501), "at most 500")
    refused(await sla(ts_cli, "reopen", open_ticket, "--reason", "  "), "must not be empty")
    refused(await sla(ts_cli, "reopen", "INC; DROP", "--reason", "x"), "not a ticket ID")


async def test_a_policy_without_reopening_refuses_it(ts_cli: CliStack, tmp_path: Path) -> None:
    ticket = await resolved_ticket(ts_cli, tmp_path)
    text = Path("domain/policies/myconvento.toml").read_text("utf-8")
    off = tmp_path / "no-reopen.toml"
    off.write_text(text.replace("window_business_days = 10", "window_business_days = 0"), "utf-8")
    refused(
        await sla(ts_cli, "reopen", ticket, "--reason", "x", SLA_POLICY=str(off)),
        "reopening is off",
    )
    # The ticket stays closed: no run was started.
    status = (await ts_cli.client.get_workflow_handle(ticket).describe()).status
    assert status == WorkflowExecutionStatus.COMPLETED
