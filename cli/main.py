"""The ``sla`` command line (DESIGN §4).

Every command accepts ``--json``; a refusal prints one line on stderr and exits
non-zero. Times are ISO 8601; naive ones mean wall-clock time in the policy's
zone (Europe/Berlin).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from temporalio.client import Client

import worker as worker_module
from cli.api import api
from cli.archive import export as export_command
from cli.archive import search as search_command
from cli.change_request import (
    LinkDescriptionOption,
    LinkDevOption,
    LinkTitleOption,
    link_incident_bug,
)
from cli.codec_server import CodecServerConfigError, serve
from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    build_command,
    client,
    fail,
    instant_or_fail,
    language_or_fail,
    policy_or_fail,
    print_json,
    read_text_or_fail,
    run,
    warn_unreadable,
)
from cli.completion import TicketArgument
from cli.dev import DevConfig, run_dev
from cli.doctor import doctor
from cli.duplicates import link_duplicate_command
from cli.erase import erase as erase_command
from cli.groups import GROUPS
from cli.mail_intake import mail_intake
from cli.render import incidents_table, show_incident, table_width, word
from cli.reopen import reopen as reopen_command
from cli.repair import repair
from cli.sla_report import sla_report
from cli.watch import watch
from domain.board import most_urgent_first
from domain.errors import DomainError
from domain.incident import (
    Acknowledge,
    AmendReport,
    ClassifyAsChangeRequest,
    DecideResources,
    Escalate,
    EscalatedBy,
    ExtendEstimate,
    IncidentStatus,
    PostStatusUpdate,
    Reclassify,
    RecordDiscussion,
    Resolve,
    decide,
    fold,
)
from domain.read_model import IncidentSummary, IncidentView
from domain.report import Channel, ReportChanges, Scope
from domain.sla import PolicyError, Severity
from domain.timeline_words import long_time
from service.codec import CodecConfigError, codec_from_env
from service.incident_source import (
    IncidentSource,
    LocatedSummary,
    LocatedView,
    find_incident,
    list_incidents_anywhere,
)
from service.incident_updates import Handle, UpdateNotTaken, send_update
from service.incidents import OpenedIncident, open_incident, opened_json
from service.intake import check_channel, parse_report
from service.queries import Unreadable, incident_view
from telemetry import configure_logging
from workflows.incident import IncidentWorkflow

app = typer.Typer(
    name="sla",
    help="Operate the myconvento support SLA: incidents, deadlines, escalations, status page.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


# -- the stack -------------------------------------------------------------------


@app.command()
def dev(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Outbox, status site, SQLite database [default: $SLA_DATA_DIR or .sla]"),
    ] = None,
    policy: PolicyOption = None,
    port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    status_port: Annotated[int, typer.Option(help="Status page HTTP port.")] = 8080,
    api_port: Annotated[int, typer.Option(help="HTTP intake API port.")] = 8090,
) -> None:
    """Run the embedded stack (Temporal dev server, worker, status page, HTTP API) until Ctrl-C."""
    if policy is not None:
        policy_or_fail(policy)  # refuse a broken policy before starting anything
    try:
        code = run_dev(
            DevConfig(
                data_dir=data_dir or Path(os.environ.get("SLA_DATA_DIR", ".sla")),
                policy=policy.resolve() if policy else None,
                port=port,
                ui_port=ui_port,
                status_port=status_port,
                api_port=api_port,
            )
        )
    except CliError as error:
        fail(str(error))
    raise typer.Exit(code)


@app.command()
def worker(policy: PolicyOption = None) -> None:
    """Run the worker (connection from the SDK env config, data dir from $SLA_DATA_DIR).

    The policy (``--policy``, else ``$SLA_POLICY``, else the shipped one) is the
    one the worker's own starts use: the daily and weekly audit schedules are
    applied with it at boot.
    """
    try:
        # SLA_LOG_FORMAT=json: one JSON object per line (telemetry.py).
        configure_logging()
        settings = worker_module.WorkerSettings.from_env()
    except (ValueError, PolicyError) as error:
        fail(str(error))
    if policy is not None:
        settings = dataclasses.replace(settings, policy=policy_or_fail(policy))
    run(lambda: worker_module.run(settings))


# -- intake -----------------------------------------------------------------------


@app.command()
def report(
    file: Annotated[Path | None, typer.Option("--file", help="Report JSON (DESIGN §4).")] = None,
    company: Annotated[str | None, typer.Option()] = None,
    customer_number: Annotated[
        str | None,
        typer.Option(help="Kundennummer; with the e-mail domain it proves the premium plan."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Full name of the reporter.")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    first_noticed: Annotated[str | None, typer.Option(help="ISO date-time.")] = None,
    scope: Annotated[Scope | None, typer.Option()] = None,
    reproducible: Annotated[bool | None, typer.Option("--reproducible/--not-reproducible")] = None,
    channel: Annotated[Channel, typer.Option()] = Channel.CHAT,
    request_id: Annotated[str | None, typer.Option()] = None,
    attachment: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    login_impossible: Annotated[bool, typer.Option()] = False,
    shipping_module_affected: Annotated[bool, typer.Option()] = False,
    workaround_available: Annotated[bool, typer.Option()] = False,
    not_critical: Annotated[bool, typer.Option(help="The customer says: not critical.")] = False,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report a disturbance; prints the ticket ID."""
    sla_policy = policy_or_fail(policy)
    if file is not None:
        data: Any = read_text_or_fail(file)
    else:
        zone = sla_policy.calendar_spec.timezone
        first = instant_or_fail(first_noticed, zone, "--first-noticed") if first_noticed else None
        data = {
            "company": company,
            "customer_number": customer_number,
            "full_name": name,
            "phone": phone,
            "email": email,
            "description": description,
            "first_noticed_at": first.isoformat() if first else None,
            "scope": scope.value if scope else None,
            "reproducible": reproducible,
            "channel": channel.value,
            "request_id": request_id,
            "attachments": attachment or [],
            "login_impossible": login_impossible,
            "shipping_module_affected": shipping_module_affected,
            "workaround_available": workaround_available,
            "customer_says_not_critical": not_critical,
        }
        data = {k: v for k, v in data.items() if v is not None}

    async def body() -> OpenedIncident:
        # Refuse a bad report before touching the network: the operator learns
        # about malformed fields even while Temporal is down.
        parsed = parse_report(data)
        check_channel(parsed, sla_policy)
        return await open_incident(await client(), parsed, policy=sla_policy, source="cli")

    opened = run(body)
    if as_json:
        print_json(opened_json(opened))
        return
    print(opened.ticket_id)
    if opened.missing:
        # stderr: scripts read the ticket ID alone from stdout.
        print(
            f"note: the reporter is asked for what is missing: {', '.join(opened.missing)} "
            f"(fill in with `sla amend {opened.ticket_id} --…`)",
            file=sys.stderr,
        )


@app.command()
def amend(
    ticket_id: TicketArgument,
    company: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option("--name", help="Full name of the reporter.")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    first_noticed: Annotated[str | None, typer.Option(help="ISO date-time.")] = None,
    scope: Annotated[Scope | None, typer.Option()] = None,
    reproducible: Annotated[bool | None, typer.Option("--reproducible/--not-reproducible")] = None,
    attachment: Annotated[list[str] | None, typer.Option(help="Added; repeatable.")] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fill in report details that were missing (or correct them); recorded on the timeline."""
    zone = policy_or_fail(policy).calendar_spec.timezone
    first = instant_or_fail(first_noticed, zone, "--first-noticed") if first_noticed else None
    command = build_command(
        lambda: AmendReport(
            changes=ReportChanges(
                company=company,
                full_name=name,
                phone=phone,
                email=email,
                first_noticed_at=first,
                scope=scope,
                reproducible=reproducible,
                attachments=tuple(attachment or ()),
            ),
            source="cli",
        )
    )
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.amend_report, command),
        as_json,
        "report amended",
    )


# -- reading ----------------------------------------------------------------------


async def _view(c: Client, ticket_id: str) -> IncidentView:
    return await incident_view(c, ticket_id)


@app.command("list")
def list_incidents(
    status: Annotated[IncidentStatus | None, typer.Option(help="Only this status.")] = None,
    severity: Annotated[Severity | None, typer.Option()] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only SLA breaches.")] = False,
    company: Annotated[str | None, typer.Option()] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved incidents.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, nothing folded (wider than the terminal).")
    ] = False,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List incidents (open ones unless --status or --all), least business time left first.

    Red: an SLA breach, or the next deadline passed; yellow: due within the
    policy's [audit] near_deadline (2 business hours). Narrow terminals drop
    columns (status, company, missing items, stage …) before a ticket ID is cut.
    """
    sla_policy = policy_or_fail(policy)
    lang = language_or_fail()

    async def body() -> tuple[list[LocatedSummary], list[Unreadable], str | None]:
        return await list_incidents_anywhere(
            await client(),
            status=status,
            severity=severity,
            company=company,
            breached=breached,
            include_resolved=all_,
            limit=limit,
        )

    found, skipped, archive_error = run(body)
    warn_unreadable(skipped)
    if archive_error is not None:
        print(
            f"warning: archive not read, closed incidents may be missing ({archive_error})",
            file=sys.stderr,
        )
    now = datetime.now(UTC)
    summaries = most_urgent_first(found, now, sla_policy.calendar)
    if as_json:
        print_json(summaries)
        return
    if not summaries:
        print(word("no incidents", lang))
        return
    console = _console()
    table = incidents_table(
        summaries, now, sla_policy, lang=lang, width=console.width, wide=wide, console=console
    )
    if wide:
        console.width = max(console.width, table_width(table, console))
    console.print(table)
    archived = [s.ticket_id for s in summaries if _source(s) is IncidentSource.ARCHIVE]
    if archived:
        console.print(f"{', '.join(archived)}: {word('from the archive', lang)}")


def _source(summary: IncidentSummary) -> IncidentSource:
    return summary.source if isinstance(summary, LocatedSummary) else IncidentSource.TEMPORAL


@app.command()
def show(
    ticket_id: TicketArgument,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """State, deadlines with business time left, the whole report, the timeline in words.

    Times are wall-clock times in the policy's zone; $SLA_LANG (de|en) picks the
    language. The raw domain events are in --json.
    """
    sla_policy = policy_or_fail(policy)
    lang = language_or_fail()

    async def body() -> LocatedView:
        return await find_incident(await client(), ticket_id)

    view = run(body, ticket_id=ticket_id)
    if as_json:
        print_json(view)
        return
    console = _console()
    show_incident(view, datetime.now(UTC), sla_policy, console, lang=lang)
    if view.source is IncidentSource.ARCHIVE:
        console.print(f"{view.ticket_id}: {word('from the archive', lang)}")
    if view.erased_at is not None:
        erased = long_time(view.erased_at, lang, sla_policy.calendar.zone)
        console.print(f"{view.ticket_id}: {word('personal data erased', lang)} {erased}")


# -- operator commands ------------------------------------------------------------


async def _send_update(
    handle: Handle, call: Callable[[Handle], Awaitable[IncidentSummary]]
) -> IncidentSummary:
    """:func:`service.incident_updates.send_update`, refusals as one CLI line."""
    try:
        return await send_update(handle, call)
    except UpdateNotTaken as error:
        raise CliError(str(error)) from None


def _update(
    ticket_id: str,
    call: Callable[[Handle], Awaitable[IncidentSummary]],
    as_json: bool,
    done: str,
) -> None:
    """Send an update and print the incident as it is afterwards (its summary)."""

    async def body() -> IncidentSummary:
        c = await client()
        return await _send_update(c.get_workflow_handle_for(IncidentWorkflow.run, ticket_id), call)

    view = run(body, ticket_id=ticket_id)
    if as_json:
        print_json(view)
    else:
        print(f"{ticket_id}: {done} (status {view.status.value}, stage {view.escalation_stage})")


def _instant(text: str, policy: Path | None, what: str) -> datetime:
    return instant_or_fail(text, policy_or_fail(policy).calendar_spec.timezone, what)


@app.command()
def ack(
    ticket_id: TicketArgument,
    severity: Annotated[Severity, typer.Option(help="Classification.")],
    estimate: Annotated[str, typer.Option(help="Estimated resolution time (ISO 8601).")],
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Publish on the status page.")
    ] = False,
    message: Annotated[str | None, typer.Option(help="Public status page text.")] = None,
    estimate_reason: Annotated[
        str | None,
        typer.Option(help="Why the estimate lies after the SLA deadline (sent to the customer)."),
    ] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge with classification and estimate; the customer is told both."""
    estimate_at = _instant(estimate, policy, "--estimate")
    command = build_command(
        lambda: Acknowledge(
            severity=severity,
            estimate=estimate_at,
            all_users=all_users,
            status_message=message,
            estimate_reason=estimate_reason,
        )
    )
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.acknowledge, command),
        as_json,
        "acknowledged",
    )


CHANGE_REQUEST_WAIT = 10.0
"""Seconds ``classify-change-request`` waits for the change request ID before it returns."""


@app.command("classify-change-request")
def classify_change_request(
    ticket_id: TicketArgument,
    title: Annotated[str, typer.Option(help="Title of the change request.")],
    reason: Annotated[str, typer.Option(help="Why this is no disturbance (sent to the customer).")],
    as_json: JsonOption = False,
) -> None:
    """The report is a change request, not a disturbance (before or after `ack`).

    The incident closes (no resolution deadline applies any more); a change
    request is started from the report and gets a development ticket; the
    reporter is told the change request ID by e-mail.
    """
    command = build_command(lambda: ClassifyAsChangeRequest(title=title, reason=reason))

    async def body() -> IncidentSummary:
        c = await client()
        handle = c.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
        view = await _send_update(
            handle, lambda h: h.execute_update(IncidentWorkflow.classify_as_change_request, command)
        )
        # The change request is started right after the update (an activity):
        # wait a moment for its ID, but never for long.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHANGE_REQUEST_WAIT
        while view.change_request_id is None and loop.time() < deadline:
            await asyncio.sleep(0.2)
            view = (await incident_view(c, ticket_id)).summary()
        return view

    view = run(body, ticket_id=ticket_id)
    if as_json:
        print_json(view)
    elif view.change_request_id is not None:
        print(
            f"{ticket_id}: classified as change request {view.change_request_id} "
            f"(status {view.status.value}; the development ticket follows)"
        )
    else:
        print(
            f"{ticket_id}: classified as a change request (status {view.status.value}); "
            f"the change request is being started, see `sla show {ticket_id}`"
        )


@app.command("link-bug")
def link_bug(
    ticket_id: TicketArgument,
    title: LinkTitleOption = None,
    dev: LinkDevOption = None,
    description: LinkDescriptionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Link an incident to a development ticket of kind "bug" (created unless --dev names one).

    While the incident is open the link is recorded on it (`sla show`); a
    resolved incident is linked in the tracker only. Linking the same incident
    again without --dev reuses the bug ticket created the first time.
    """
    link_incident_bug(ticket_id, title=title, dev=dev, description=description, as_json=as_json)


@app.command()
def reclassify(
    ticket_id: TicketArgument,
    severity: Annotated[Severity, typer.Option()],
    reason: Annotated[str, typer.Option()],
    estimate: Annotated[
        str | None,
        typer.Option(help="New estimate (ISO 8601); required when the new deadline is earlier."),
    ] = None,
    estimate_reason: Annotated[
        str | None,
        typer.Option(help="Why the new estimate lies after the SLA deadline (to the customer)."),
    ] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the severity; deadlines are recomputed from receipt."""
    estimate_at = _instant(estimate, policy, "--estimate") if estimate is not None else None
    command = build_command(
        lambda: Reclassify(
            severity=severity,
            reason=reason,
            estimate=estimate_at,
            estimate_reason=estimate_reason,
        )
    )
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.reclassify, command),
        as_json,
        "reclassified",
    )


@app.command()
def extend(
    ticket_id: TicketArgument,
    until: Annotated[str, typer.Option(help="New estimated resolution time (ISO 8601).")],
    reason: Annotated[str, typer.Option(help="Why (sent to the customer).")],
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Communicate a new estimate with a reason (escalation stage 1/2 as the SLA says)."""
    until_at = _instant(until, policy, "--until")
    command = build_command(lambda: ExtendEstimate(estimate=until_at, reason=reason))
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.extend, command),
        as_json,
        "estimate extended",
    )


@app.command()
def resolve(
    ticket_id: TicketArgument,
    summary: Annotated[str, typer.Option(help="What was done (sent to the customer).")],
    public: Annotated[
        str | None,
        typer.Option("--public", help="Resolution text for the public status page."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve; the customer gets the confirmation and the status page is updated."""
    command = build_command(lambda: Resolve(summary=summary, public_message=public))
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.resolve, command),
        as_json,
        "resolved",
    )


@app.command("status-update")
def status_update(
    ticket_id: TicketArgument,
    message: Annotated[str, typer.Option(help="Public text for the status page.")],
    all_users: Annotated[bool, typer.Option("--all-users", help="Publish if not yet.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Post an update on the status page."""
    command = build_command(lambda: PostStatusUpdate(message=message, all_users=all_users))
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.post_status_update, command),
        as_json,
        "status page updated",
    )


def _signal(ticket_id: str, command: Escalate | DecideResources, as_json: bool, done: str) -> None:
    """Check a signal against the current state first: a signal cannot answer a refusal."""

    async def body() -> None:
        c = await client()
        view = await _view(c, ticket_id)
        try:
            decide(fold(None, view.events), command, datetime.now(UTC))
        except DomainError as error:
            raise CliError(error.message) from None
        handle = c.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
        if isinstance(command, Escalate):
            await handle.signal(IncidentWorkflow.escalate, command)
        else:
            await handle.signal(IncidentWorkflow.decide_resources, command)

    run(body, ticket_id=ticket_id)
    if as_json:
        print_json({"ticket_id": ticket_id, "signalled": command.kind})
    else:
        print(f"{ticket_id}: {done}")


@app.command()
def escalate(
    ticket_id: TicketArgument,
    stage: Annotated[str, typer.Option(help="3 (management) or 'extended'.")],
    reason: Annotated[str, typer.Option()],
    by: Annotated[EscalatedBy, typer.Option(help="Who triggers it.")] = EscalatedBy.COMPANY,
    as_json: JsonOption = False,
) -> None:
    """Escalate to stage 3 (management decides on resources) or the extended process."""
    if stage not in {"3", "extended"}:
        fail(f"--stage must be 3 or extended, got {stage!r} (stages 1 and 2 are automatic)")
    command = build_command(
        lambda: Escalate(stage=3 if stage == "3" else "extended", reason=reason, by=by)
    )
    _signal(ticket_id, command, as_json, f"escalated to stage {stage}")


@app.command("decide")
def decide_resources(
    ticket_id: TicketArgument,
    decision: Annotated[str, typer.Option(help="Management's decision on resources.")],
    as_json: JsonOption = False,
) -> None:
    """Record management's decision on a stage-3 escalation."""
    command = build_command(lambda: DecideResources(decision=decision))
    _signal(ticket_id, command, as_json, "decision recorded")


@app.command("record-discussion")
def record_discussion(
    ticket_id: TicketArgument,
    note: Annotated[str, typer.Option(help="What was agreed with the customer.")],
    experts: Annotated[
        list[str] | None, typer.Option("--experts", help="Specialists drawn in; repeatable.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Stage 2: record the discussion of the further procedure with the customer."""
    command = build_command(lambda: RecordDiscussion(note=note, experts=tuple(experts or ())))
    _update(
        ticket_id,
        lambda h: h.execute_update(IncidentWorkflow.record_discussion, command),
        as_json,
        "discussion recorded",
    )


@app.command("codec-server")
def codec_server(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    ui_origin: Annotated[
        list[str] | None,
        typer.Option(help="Temporal UI origin allowed by CORS (repeatable)."),
    ] = None,
) -> None:
    """Serve /decode and /encode so an authorized Temporal UI can show encrypted payloads.

    Needs ``SLA_CODEC_TOKEN`` (a bearer token) unless bound to loopback.
    ``SLA_CODEC_MAX_BODY`` (bytes, default 4 MiB) limits a request body;
    ``SLA_CODEC_ALLOWED_HOSTS`` adds Host names besides loopback and ``--host``.
    """
    try:
        codec = codec_from_env()
    except CodecConfigError as error:
        fail(str(error))
    if codec is None:
        fail("SLA_CODEC_KEYS is not set: there is nothing to decode")
    origins = ui_origin or ["http://localhost:8233", "http://127.0.0.1:8233"]
    try:
        server = serve(
            codec, host=host, port=port, origins=origins, token=os.environ.get("SLA_CODEC_TOKEN")
        )
    except CodecServerConfigError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")
    print(f"codec server on http://{host}:{port} (CORS: {', '.join(origins)})", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)
app.command("sla-report")(sla_report)
app.command("link-duplicate")(link_duplicate_command)
app.command("repair")(repair)
app.command("doctor")(doctor)
app.command("watch")(watch)
app.command("api")(api)
app.command("mail-intake")(mail_intake)
app.command("search")(search_command)
app.command("export")(export_command)
app.command("erase")(erase_command)
app.command("reopen")(reopen_command)


def main() -> None:
    """Console-script entry point.

    Exits through ``os._exit`` after flushing: the SDK's Rust runtime can abort
    at interpreter shutdown (sdk-python issue 300), which would turn a clean
    command into noise and a wrong exit code.
    """
    try:
        app()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
