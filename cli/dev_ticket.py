"""``sla dev-ticket …``: development tickets (bugs and change requests) in the tracker.

Bug tickets move ``open → in_progress → fixed → released`` by an operator
(``transition``); ``released`` tells every linked incident's reporter by
e-mail. Feature tickets move with their change request (``sla change-request
…``). The tracker lives with the worker: these commands run short workflows on
its task queue (``service.dev_tickets``). Every command accepts ``--json``; a
refusal prints one line on stderr and exits 1.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from activities.dev_tickets import DevTicket
from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    client,
    fail,
    policy_or_fail,
    print_json,
    run,
)
from cli.render import local
from cli.terminal import neutralise
from domain.calendar import BusinessCalendar
from domain.dev_ticket import DevTicketKind, DevTicketStatus
from service.dev_tickets import DevTicketRefused, read_dev_tickets, transition_dev_ticket
from workflows.dev_ticket import DevTicketMoved

app = typer.Typer(
    help="Development tickets (DEV-…): bugs move open → in_progress → fixed → released "
    "(the release is told to every linked incident's reporter); feature tickets move with "
    "their change request.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

IdArgument = Annotated[str, typer.Argument(help="Development ticket ID, e.g. DEV-0007.")]


class Target(StrEnum):
    """Where an operator may move a bug ticket."""

    IN_PROGRESS = DevTicketStatus.IN_PROGRESS.value
    FIXED = DevTicketStatus.FIXED.value
    RELEASED = DevTicketStatus.RELEASED.value


def _console() -> Console:
    # Titles and notes are operator text: print them literally, never as Rich markup.
    return Console(highlight=False, soft_wrap=False, markup=False)


@app.command("list")
def list_dev_tickets(
    status: Annotated[
        list[DevTicketStatus] | None,
        typer.Option("--status", help="Only these states (repeatable)."),
    ] = None,
    kind: Annotated[DevTicketKind | None, typer.Option(help="Only bugs or features.")] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List development tickets, oldest first (all of them unless --status or --kind)."""
    calendar = policy_or_fail(policy).calendar

    async def body() -> list[DevTicket]:
        try:
            return await read_dev_tickets(await client(), status=tuple(status or ()), kind=kind)
        except DevTicketRefused as error:
            raise CliError(str(error)) from None

    tickets = run(body)
    if as_json:
        print_json(tickets)
        return
    if not tickets:
        print("no development tickets")
        return
    _console().print(_table(tickets, calendar))


def _table(tickets: list[DevTicket], calendar: BusinessCalendar) -> Table:
    table = Table(show_lines=False)
    for column in ("Dev ticket", "Kind", "Status", "Title", "Company", "Links", "Changed"):
        table.add_column(column)
    for t in tickets:
        status = t.status.value + (f" ({neutralise(t.release)})" if t.release else "")
        table.add_row(
            t.id,
            t.kind.value,
            status,
            neutralise(t.title),
            neutralise(t.company or ""),
            ", ".join(t.links),
            local(t.last_change_at, calendar),
        )
    return table


@app.command()
def show(
    dev_ticket_id: IdArgument, policy: PolicyOption = None, as_json: JsonOption = False
) -> None:
    """One development ticket: status history, linked incidents, release."""
    calendar = policy_or_fail(policy).calendar

    async def body() -> DevTicket:
        try:
            (ticket,) = await read_dev_tickets(await client(), dev_ticket_id=dev_ticket_id)
        except DevTicketRefused as error:
            raise CliError(str(error)) from None
        return ticket

    ticket = run(body)
    if as_json:
        print_json(ticket)
        return
    console = _console()
    console.print(f"{ticket.id} · {ticket.kind.value} · {ticket.status.value}", style="bold")
    console.print(f"Title:       {neutralise(ticket.title)}")
    if ticket.company:
        console.print(f"Company:     {neutralise(ticket.company)}")
    if ticket.reference:
        console.print(f"Reference:   {neutralise(ticket.reference)}")
    console.print(f"Created:     {local(ticket.created_at, calendar)}")
    if ticket.release:
        console.print(f"Release:     {neutralise(ticket.release)}")
    if ticket.description:
        console.print()
        console.print(neutralise(ticket.description, multiline=True))
    console.print()
    console.print("History:")
    console.print(f"  {local(ticket.created_at, calendar)}  open")
    for change in ticket.history:
        extra = "; ".join(
            part
            for part in (
                f"release {change.release}" if change.release else "",
                change.note or "",
            )
            if part
        )
        line = f"  {local(change.at, calendar)}  {change.previous.value} → {change.status.value}"
        console.print(line + (f"  {neutralise(extra)}" if extra else ""))
    console.print()
    console.print("Linked incidents:" if ticket.links else "Linked incidents: none")
    contacts = {link.ticket_id: link for link in ticket.linked}
    for ticket_id in ticket.links:
        link = contacts.get(ticket_id)
        who = ""
        if link is not None and link.contact.email:
            name = neutralise(link.contact.name or "")
            who = f"  reporter {name} <{neutralise(link.contact.email)}>"
        elif link is not None:
            who = "  (no reporter address: not told of the release)"
        console.print(f"  {ticket_id}{who}")


@app.command()
def transition(
    dev_ticket_id: IdArgument,
    to: Annotated[Target, typer.Option("--to", help="The bug's new status.")],
    note: Annotated[str | None, typer.Option(help="Why (kept in the ticket's history).")] = None,
    release: Annotated[
        str | None, typer.Option(help="The release shipping the fix (required for released).")
    ] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a bug ticket; `--to released` tells every linked incident's reporter by e-mail."""
    sla_policy = policy_or_fail(policy)
    target = DevTicketStatus(to.value)
    if target is DevTicketStatus.RELEASED and not (release or "").strip():
        fail("--release is required with --to released (e.g. --release 2027.1)")

    async def body() -> DevTicketMoved:
        try:
            return await transition_dev_ticket(
                await client(),
                dev_ticket_id,
                target,
                note=note,
                release=release.strip() if release else None,
                policy=sla_policy,
            )
        except DevTicketRefused as error:
            raise CliError(str(error)) from None

    moved = run(body)
    if as_json:
        print_json(moved)
        return
    ticket = moved.ticket
    line = f"{ticket.id}: {ticket.status.value}"
    if ticket.release and ticket.status is DevTicketStatus.RELEASED:
        line += f" in release {neutralise(ticket.release)}"
    if moved.notifying:
        line += f"; telling the reporters of {', '.join(moved.notifying)}"
    print(line)
    for ticket_id in moved.not_notified:
        print(f"{ticket_id}: no reporter address stored with the link, nobody told")
