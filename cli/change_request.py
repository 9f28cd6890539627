"""``sla change-request …``: change requests (Änderungswünsche) and bug links to dev tickets.

``sla change-request --file request.json`` (DESIGN §2) is short for
``sla change-request submit --file request.json``. Every command accepts
``--json``; a refusal prints one line on stderr and exits 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.dev_tickets import DevTicket, IncidentLink
from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    client,
    fail,
    policy_or_fail,
    print_json,
    read_text_or_fail,
    run,
    warn_unreadable,
)
from cli.common import build_command as _command
from cli.completion import TicketArgument
from cli.render import local
from cli.terminal import neutralise
from domain.calendar import BusinessCalendar
from domain.change_request import (
    ChangeRequestStatus,
    ChangeRequestSummary,
    ChangeRequestView,
    Decline,
    Discuss,
    PlanRelease,
)
from domain.errors import DomainErrorKind, IntakeError
from domain.incident import LinkDevTicket
from domain.report import ChangeRequest
from service.change_requests import parse_change_request, submit_change_request
from service.dev_tickets import incident_contact, root_message
from service.queries import Unreadable, describe_kind, gather_readable, query_settled
from service.visibility import Query, listed_ids
from workflows import names
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow
from workflows.incident import IncidentWorkflow

app = typer.Typer(
    help="Change requests (Änderungswünsche): no SLA clock; a development ticket; "
    "discussed, then planned for a feature release or declined. "
    "`sla change-request --file request.json` is short for `sla change-request submit --file …`.",
    add_completion=False,
    pretty_exceptions_enable=False,
)

FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="Change request JSON (company, full_name, email, title, …)."),
]
IdArgument = Annotated[str, typer.Argument(help="Change request ID, e.g. CR-20261124-7QK2AB.")]

_OPEN = (ChangeRequestStatus.SUBMITTED, ChangeRequestStatus.UNDER_DISCUSSION)


def _console() -> Console:
    # Customer text may contain "[...]": print it literally, never as Rich markup.
    return Console(highlight=False, soft_wrap=False, markup=False)


# -- submit ---------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def change_request(
    ctx: typer.Context,
    file: FileOption = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change requests (Änderungswünsche).

    ``sla change-request --file request.json`` submits one (same as ``submit``).
    """
    if ctx.invoked_subcommand is not None:
        if file is not None:
            fail(f"--file goes with submitting, not with `{ctx.invoked_subcommand}`")
        return
    if file is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    _submit(file, policy, as_json)


@app.command()
def submit(
    file: Annotated[Path, typer.Option("--file", help="Change request JSON.")],
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a change request; prints its ID (the dev ticket follows by e-mail and in `show`)."""
    _submit(file, policy, as_json)


def _submit(file: Path, policy: Path | None, as_json: bool) -> None:
    sla_policy = policy_or_fail(policy)
    text = read_text_or_fail(file)
    # Refuse a bad request before touching the network: the operator learns
    # about missing fields even while Temporal is down.
    try:
        request: ChangeRequest = parse_change_request(text)
    except IntakeError as error:
        fail(str(error))

    async def body() -> Any:
        return await submit_change_request(await client(), request, policy=sla_policy)

    receipt = run(body)
    if as_json:
        print_json(receipt)
    else:
        print(receipt.change_request_id)


# -- reading --------------------------------------------------------------------


async def _handle(c: Client, change_request_id: str) -> WorkflowHandle[Any, Any]:
    """The workflow of ``change_request_id``, refusing unknown IDs and incident tickets."""
    await describe_kind(
        c,
        change_request_id,
        ChangeRequestWorkflow,
        unknown=f"unknown change request {change_request_id}",
        other=f"{change_request_id} is not a change request",
    )
    return c.get_workflow_handle(change_request_id)


async def _view(c: Client, change_request_id: str) -> ChangeRequestView:
    handle = await _handle(c, change_request_id)
    return await query_settled(lambda: handle.query(ChangeRequestWorkflow.view))


@app.command("list")
def list_change_requests(
    state: Annotated[
        ChangeRequestStatus | None, typer.Option(help="Only this lifecycle state.")
    ] = None,
    company: Annotated[str | None, typer.Option()] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include planned and declined.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List change requests (open ones unless --state or --all), oldest first."""
    calendar = policy_or_fail(policy).calendar
    query = Query.workflows(ChangeRequestWorkflow)
    if state is not None:
        query = query.where(names.LIFECYCLE_STATE, state)
    elif not all_:
        query = query.where_in(names.LIFECYCLE_STATE, _OPEN)
    if company is not None:
        query = query.where(names.COMPANY, company)

    async def body() -> tuple[list[ChangeRequestSummary], list[Unreadable]]:
        c = await client()

        async def summary(change_request_id: str) -> ChangeRequestSummary:
            handle = c.get_workflow_handle(change_request_id)
            full = await query_settled(lambda: handle.query(ChangeRequestWorkflow.view))
            return ChangeRequestSummary.model_validate(
                full.model_dump(exclude={"request", "notes", "events"})
            )

        return await gather_readable(await listed_ids(c, query, limit), summary)

    summaries, skipped = run(body)
    warn_unreadable(skipped)
    summaries.sort(key=lambda s: (s.received_at, s.change_request_id))
    if as_json:
        print_json(summaries)
        return
    if not summaries:
        print("no change requests")
        return
    _console().print(_table(summaries, calendar))


def _outcome(summary: ChangeRequestSummary) -> str:
    if summary.status is ChangeRequestStatus.PLANNED:
        return f"release {neutralise(summary.release or '')}"
    if summary.status is ChangeRequestStatus.DECLINED:
        return neutralise(summary.decline_reason or "")
    return ""


def _table(summaries: list[ChangeRequestSummary], calendar: BusinessCalendar) -> Table:
    table = Table(show_lines=False)
    columns = ("Change request", "State", "Dev ticket", "Company", "Title", "Received", "Outcome")
    for column in columns:
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s.change_request_id,
            s.status.value,
            s.dev_ticket_id or "…",
            neutralise(s.company),
            neutralise(s.title),
            local(s.received_at, calendar),
            _outcome(s),
        )
    return table


@app.command()
def show(
    change_request_id: IdArgument, policy: PolicyOption = None, as_json: JsonOption = False
) -> None:
    """State, development ticket, discussion notes and timeline of one change request."""
    calendar = policy_or_fail(policy).calendar

    async def body() -> ChangeRequestView:
        return await _view(await client(), change_request_id)

    view = run(body)
    if as_json:
        print_json(view)
        return
    console = _console()
    console.print(f"{view.change_request_id} · {view.status.value}", style="bold")
    # Markup is off on this console: neutralise() keeps the terminal safe.
    console.print(f"Title:       {neutralise(view.title)}")
    console.print(
        f"Requester:   {neutralise(view.full_name)}, {neutralise(view.company)} "
        f"<{neutralise(view.email)}>"
    )
    console.print(f"Received:    {local(view.received_at, calendar)}")
    console.print(f"Dev ticket:  {view.dev_ticket_id or '(being created)'}")
    if view.release:
        console.print(f"Release:     {neutralise(view.release)}")
    if view.decline_reason:
        console.print(f"Declined:    {neutralise(view.decline_reason)}")
    console.print()
    console.print(neutralise(view.request.description, multiline=True))
    console.print()
    for event in view.events:
        detail = {k: v for k, v in event.model_dump(mode="json").items() if k in _DETAIL}
        text = neutralise("; ".join(f"{k}: {v}" for k, v in detail.items()))
        console.print(f"{local(event.at, calendar)}  {event.type}{'  ' + text if text else ''}")


_DETAIL = {"dev_ticket_id", "note", "release", "reason", "template", "to", "error"}


# -- operator steps -------------------------------------------------------------


def _update(
    change_request_id: str,
    call: Callable[[WorkflowHandle[Any, Any]], Awaitable[ChangeRequestView]],
    as_json: bool,
    done: Callable[[ChangeRequestView], str],
) -> None:
    """Send an update; the workflow's validator refuses what the rules refuse."""

    async def body() -> ChangeRequestView:
        c = await client()
        handle = c.get_workflow_handle(change_request_id)
        try:
            return await call(handle)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # A decided request's workflow has completed and takes no updates;
            # the server answers "not found" although the request exists.
            current = await _view(c, change_request_id)
            if current.status is ChangeRequestStatus.PLANNED:
                raise CliError(
                    f"change request {change_request_id} is planned for release "
                    f"{current.release}; nothing can change after the decision"
                ) from None
            raise CliError(
                f"change request {change_request_id} is {current.status.value}; "
                "nothing can change after the decision"
            ) from None

    view = run(body)
    if as_json:
        print_json(view)
    else:
        print(f"{change_request_id}: {done(view)} (dev ticket {view.dev_ticket_id})")


@app.command()
def discuss(
    change_request_id: IdArgument,
    note: Annotated[str, typer.Option(help="Note for the customer (sent by e-mail).")],
    as_json: JsonOption = False,
) -> None:
    """Start or continue the discussion; the customer gets the note."""
    command = _command(lambda: Discuss(note=note))
    _update(
        change_request_id,
        lambda h: h.execute_update(ChangeRequestWorkflow.discuss, command),
        as_json,
        lambda v: "under discussion",
    )


@app.command()
def plan(
    change_request_id: IdArgument,
    release: Annotated[str, typer.Option(help="Feature release, e.g. 2027.1.")],
    as_json: JsonOption = False,
) -> None:
    """Plan for a feature release; the customer is told which."""
    command = _command(lambda: PlanRelease(release=release))
    _update(
        change_request_id,
        lambda h: h.execute_update(ChangeRequestWorkflow.plan, command),
        as_json,
        lambda v: f"planned for release {v.release}",
    )


@app.command()
def decline(
    change_request_id: IdArgument,
    reason: Annotated[str, typer.Option(help="Why (sent to the customer).")],
    as_json: JsonOption = False,
) -> None:
    """Decline; the customer gets the reason."""
    command = _command(lambda: Decline(reason=reason))
    _update(
        change_request_id,
        lambda h: h.execute_update(ChangeRequestWorkflow.decline, command),
        as_json,
        lambda v: "declined",
    )


# -- bugs found while resolving incidents ---------------------------------------


LinkTitleOption = Annotated[
    str | None, typer.Option(help="Title of the bug ticket (required without --dev).")
]
LinkDevOption = Annotated[
    str | None, typer.Option("--dev", help="Link to this dev ticket instead, e.g. DEV-0007.")
]
LinkDescriptionOption = Annotated[str | None, typer.Option(help="Text of a new bug ticket.")]


@app.command("link-bug")
def link_bug(
    ticket_id: TicketArgument,
    title: LinkTitleOption = None,
    dev: LinkDevOption = None,
    description: LinkDescriptionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Link an incident to a development ticket of kind "bug" (same as `sla link-bug`).

    Linking the same incident again without --dev reuses the bug ticket created the first time.
    """
    link_incident_bug(ticket_id, title=title, dev=dev, description=description, as_json=as_json)


def link_incident_bug(
    ticket_id: str,
    *,
    title: str | None,
    dev: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """``sla link-bug`` and ``sla change-request link-bug``: link, then print the dev ticket.

    An open incident links through its workflow (``link_dev_ticket`` update),
    which records a ``dev_ticket_linked`` event (``sla show``). A resolved
    incident's workflow has completed and takes no updates: the link is then
    recorded in the tracker only (``LinkBugWorkflow``), and the output says so.
    """
    link = _command(
        lambda: IncidentLink(
            ticket_id=ticket_id, dev_ticket_id=dev, title=title, description=description or ""
        )
    )

    async def body() -> tuple[DevTicket, bool]:
        c = await client()
        found = await describe_kind(
            c,
            link.ticket_id,
            IncidentWorkflow,
            unknown=f"unknown ticket {link.ticket_id}",
            other=f"{link.ticket_id} is not an incident ticket",
        )
        if found.status is WorkflowExecutionStatus.RUNNING:
            ticket = await _link_through_incident(c, link)
            if ticket is not None:
                return ticket, True
        # Resolved: the tracker stores whom to tell, and the reporter is told
        # the DEV ID by mail (an open incident does both itself).
        contact = await incident_contact(c, link.ticket_id)
        return await _link_in_tracker(c, link.model_copy(update={"contact": contact})), False

    ticket, recorded = run(body)
    if as_json:
        print_json({**ticket.model_dump(mode="json"), "recorded_on_incident": recorded})
        return
    note = "" if recorded else " (incident resolved: recorded in the tracker only)"
    print(f"{ticket.id} ({ticket.kind.value}, {ticket.status.value}) linked to {ticket_id}{note}")


async def _link_through_incident(c: Client, link: IncidentLink) -> DevTicket | None:
    """Link via the incident's update; ``None`` when it was resolved meanwhile."""
    handle = c.get_workflow_handle_for(IncidentWorkflow.run, link.ticket_id)
    command = LinkDevTicket(
        title=link.title, dev_ticket_id=link.dev_ticket_id, description=link.description
    )
    try:
        return await handle.execute_update(IncidentWorkflow.link_dev_ticket, command)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None  # completed after describe()
        raise
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == DomainErrorKind.WRONG_STATUS:
            return None  # resolved, still finishing its last e-mails
        raise


async def _link_in_tracker(c: Client, link: IncidentLink) -> DevTicket:
    try:
        return await c.execute_workflow(
            LinkBugWorkflow.run,
            link,
            id=f"link-bug.{link.ticket_id}.{link.dev_ticket_id or 'new'}",
            task_queue=names.TASK_QUEUE,
            # Linking is idempotent: a repeated command may run again, and
            # a concurrent identical one joins the running link.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowFailureError as error:
        raise CliError(root_message(error)) from None
