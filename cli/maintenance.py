"""``sla maintenance …``: plan, reschedule, extend, end, cancel, list and show maintenance.

Refusals print one ``error:`` line on stderr and exit 1. An accepted plan or
change prints ``warning:`` lines on stderr and, with ``--json``, a ``warnings``
list when the window lies outside the usual slot (Friday 18:00–22:00), when it
reaches business hours (an incident is opened if it still runs then), or when
directory customers cannot be told (no contact, or nobody at all). Naive times
mean wall-clock time in the policy's zone (Europe/Berlin).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    build_command,
    client,
    fail,
    instant_or_fail,
    policy_or_fail,
    print_json,
    run,
)
from cli.terminal import safe
from domain.errors import DomainError, describe_validation_error
from domain.maintenance import (
    CancelMaintenance,
    EndMaintenance,
    ExtendMaintenance,
    MaintenancePlan,
    MaintenancePlanned,
    MaintenanceState,
    MaintenanceStatus,
    RescheduleMaintenance,
    business_hours_warnings,
    check_plan,
    parse_services,
    recipient_warnings,
    window_warnings,
)
from domain.sla import SlaPolicy
from service.maintenance import start_maintenance
from service.queries import query_settled
from service.visibility import Query, executions
from workflows import names
from workflows.maintenance import (
    MESSAGE_MEMO,
    SERVICES_MEMO,
    WINDOW_END_MEMO,
    MaintenanceWorkflow,
)

app = typer.Typer(
    name="maintenance",
    help=(
        "Planned maintenance: announce to all customers, reschedule, extend, end early, "
        "cancel, list, show."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IdArgument = Annotated[str, typer.Argument(help="Maintenance ID, e.g. MNT-20261127-1800-K3QF.")]

Handle = WorkflowHandle[MaintenanceWorkflow, MaintenanceState]


class MaintenanceSummary(BaseModel):
    """One row of ``sla maintenance list`` (from visibility: search attributes and memo)."""

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    state: MaintenanceStatus
    start: datetime
    end: datetime | None
    services: tuple[str, ...]
    message: str | None


def _instant(text: str, policy: SlaPolicy, what: str) -> datetime:
    return instant_or_fail(text, policy.calendar_spec.timezone, what)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _local(value: datetime | None, zone: str) -> str:
    if value is None:
        return "–"
    return value.astimezone(ZoneInfo(zone)).strftime("%a %d.%m.%Y %H:%M")


# -- plan ---------------------------------------------------------------------------


@app.command()
def plan(
    start: Annotated[str, typer.Option(help="Start of the window (ISO 8601).")],
    end: Annotated[str, typer.Option(help="End of the window (ISO 8601).")],
    services: Annotated[
        str, typer.Option(help='Affected services, comma-separated: "Versand,Statistik".')
    ],
    message: Annotated[str, typer.Option(help="Public text (German) for e-mails and status page.")],
    shipments_possible: Annotated[
        bool,
        typer.Option(
            "--shipments-possible",
            help="Shipments entered ahead are processed during the window.",
        ),
    ] = False,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan a maintenance window and announce it to every customer at once; prints its ID."""
    sla_policy = policy_or_fail(policy)
    try:
        maintenance = MaintenancePlan(
            start=_instant(start, sla_policy, "--start"),
            end=_instant(end, sla_policy, "--end"),
            services=parse_services(services),
            shipments_possible=shipments_possible,
            message=message,
        )
    except ValidationError as error:
        fail(describe_validation_error(error))
    now = datetime.now(UTC)
    try:
        # Refused before touching the network: the operator learns about a
        # bad window even while Temporal is down.
        check_plan(maintenance, now, sla_policy.maintenance)
    except DomainError as error:
        fail(error.message)
    warnings = [
        *window_warnings(maintenance.start, maintenance.end, sla_policy),
        *business_hours_warnings(maintenance.start, maintenance.end, sla_policy),
        *recipient_warnings(sla_policy),
    ]

    async def body() -> str:
        return await start_maintenance(await client(), maintenance, policy=sla_policy, now=now)

    maintenance_id = run(body)
    _warn(warnings)
    if as_json:
        print_json({"maintenance_id": maintenance_id, "warnings": warnings})
    else:
        print(maintenance_id)


# -- updates --------------------------------------------------------------------------


async def _closed_state(handle: Handle) -> str | None:
    """The lifecycle state of a workflow that exists; ``None`` if there is none."""
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.typed_search_attributes.get(names.LIFECYCLE_STATE) or "closed"


def _update(
    maintenance_id: str,
    call: Callable[[Handle], Awaitable[MaintenanceState]],
) -> MaintenanceState:
    """Send an update; the workflow's validator refuses what the rules refuse."""

    async def body() -> MaintenanceState:
        c = await client()
        handle = c.get_workflow_handle_for(MaintenanceWorkflow.run, maintenance_id)
        try:
            return await call(handle)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # A completed or cancelled maintenance's workflow has closed and
            # takes no updates; the server then answers "not found" as well.
            state = await _closed_state(handle)
            if state is None:
                raise CliError(f"unknown maintenance {maintenance_id}") from None
            raise CliError(
                f"maintenance {maintenance_id} is {state}; it can no longer be changed"
            ) from None

    return run(body)


def _print_state(
    state: MaintenanceState, as_json: bool, done: str, warnings: list[str] | None = None
) -> None:
    if warnings is not None:
        _warn(warnings)
    if as_json:
        extra = {} if warnings is None else {"warnings": warnings}
        print_json({**state.model_dump(mode="json"), **extra})
    else:
        print(f"{state.maintenance_id}: {done} (state {state.status.value})")


@app.command()
def reschedule(
    maintenance_id: IdArgument,
    start: Annotated[str, typer.Option(help="New start (ISO 8601).")],
    end: Annotated[str, typer.Option(help="New end (ISO 8601).")],
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a planned window (the 48 h notice applies again); customers are told."""
    sla_policy = policy_or_fail(policy)
    start_at, end_at = _instant(start, sla_policy, "--start"), _instant(end, sla_policy, "--end")
    command = build_command(lambda: RescheduleMaintenance(start=start_at, end=end_at))
    state = _update(
        maintenance_id, lambda h: h.execute_update(MaintenanceWorkflow.reschedule, command)
    )
    warnings = [
        *window_warnings(state.start, state.end, sla_policy),
        *business_hours_warnings(state.start, state.end, sla_policy),
    ]
    _print_state(state, as_json, "rescheduled", warnings)


@app.command()
def extend(
    maintenance_id: IdArgument,
    until: Annotated[str, typer.Option(help="New end (ISO 8601), later than the current one.")],
    reason: Annotated[str, typer.Option(help="Why (German; sent to the customers).")],
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the end of a planned or running window later; customers are told the new end and why.

    A window that then reaches business hours opens an incident if it still runs
    when they begin (warned here).
    """
    sla_policy = policy_or_fail(policy)
    until_at = _instant(until, sla_policy, "--until")
    command = build_command(lambda: ExtendMaintenance(end=until_at, reason=reason))
    state = _update(maintenance_id, lambda h: h.execute_update(MaintenanceWorkflow.extend, command))
    zone = sla_policy.calendar_spec.timezone
    _print_state(
        state,
        as_json,
        f"extended until {_local(state.end, zone)}",
        business_hours_warnings(state.start, state.end, sla_policy),
    )


@app.command("end")
def end_early(
    maintenance_id: IdArgument,
    note: Annotated[
        str | None, typer.Option(help="Optional note for the customers (German).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """End a running window now, before its planned end; customers and the status page are told."""
    command = build_command(lambda: EndMaintenance(note=note))
    state = _update(maintenance_id, lambda h: h.execute_update(MaintenanceWorkflow.end, command))
    _print_state(state, as_json, "ended early")


@app.command()
def cancel(
    maintenance_id: IdArgument,
    reason: Annotated[str, typer.Option(help="Why (sent to the customers).")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a planned maintenance; customers are told and the status page shows it."""
    command = build_command(lambda: CancelMaintenance(reason=reason))
    state = _update(maintenance_id, lambda h: h.execute_update(MaintenanceWorkflow.cancel, command))
    _print_state(state, as_json, "cancelled")


# -- reading ------------------------------------------------------------------------------


@app.command()
def show(
    maintenance_id: IdArgument,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """State, window, services and events of one maintenance."""
    sla_policy = policy_or_fail(policy)

    async def body() -> MaintenanceState:
        c = await client()
        handle = c.get_workflow_handle_for(MaintenanceWorkflow.run, maintenance_id)
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise CliError(f"unknown maintenance {maintenance_id}") from None
            raise
        if description.status is WorkflowExecutionStatus.COMPLETED:
            # The result is the final state and needs no worker to replay.
            return await handle.result()
        return await query_settled(lambda: handle.query(MaintenanceWorkflow.view))

    state = run(body)
    if as_json:
        print_json(state)
        return
    _show(state, sla_policy.calendar_spec.timezone, _console())


def _show(state: MaintenanceState, zone: str, console: Console) -> None:
    console.print(f"[bold]{state.maintenance_id}[/bold]  {state.status.value}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("window", f"{_local(state.start, zone)} – {_local(state.end, zone)} ({zone})")
    facts.add_row("services", safe(", ".join(state.services)))
    facts.add_row("shipments", "can be scheduled" if state.shipments_possible else "not possible")
    facts.add_row("message", safe(state.message, multiline=True))
    facts.add_row("planned", _local(state.planned_at, zone))
    opened = state.events[0] if state.events else None
    if isinstance(opened, MaintenancePlanned) and opened.recipients is not None:
        told = f"{opened.recipients} customer(s)"
        if opened.unreached:
            told += f"; no contact: {safe(', '.join(opened.unreached))}"
        facts.add_row("told", told)
    facts.add_row("announcements", str(state.revision + 1))
    if state.started_at:
        facts.add_row("started", _local(state.started_at, zone))
    if state.business_opens_at and state.status is MaintenanceStatus.IN_PROGRESS:
        facts.add_row("business hours", f"begin {_local(state.business_opens_at, zone)}")
    if state.overran_at:
        facts.add_row(
            "overrun",
            f"{_local(state.overran_at, zone)}: incident {state.incident_ticket_id or '(opening)'}",
        )
    if state.completed_at:
        facts.add_row("completed", _local(state.completed_at, zone))
    if state.cancelled_at:
        facts.add_row(
            "cancelled", f"{_local(state.cancelled_at, zone)}: {safe(state.cancel_reason)}"
        )
    console.print(facts)
    timeline = Table(title="events", header_style="bold", title_justify="left")
    timeline.add_column("when")
    timeline.add_column("event")
    timeline.add_column("details", overflow="fold")
    for event in state.events:
        details = event.model_dump(mode="json", exclude={"at", "type", "plan", "maintenance_id"})
        text = ", ".join(f"{k}={v}" for k, v in details.items() if v not in (None, "", []))
        timeline.add_row(_local(event.at, zone), event.type, safe(text))
    console.print(timeline)


@app.command("list")
def list_maintenance(
    state: Annotated[MaintenanceStatus | None, typer.Option(help="Only this state.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include completed and cancelled maintenance.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List maintenance windows (planned and in progress unless --state or --all), by start."""
    sla_policy = policy_or_fail(policy)
    query = Query.workflows(MaintenanceWorkflow)
    if state is not None:
        query = query.where(names.LIFECYCLE_STATE, state)
    elif not all_:
        query = query.where_in(
            names.LIFECYCLE_STATE, (MaintenanceStatus.PLANNED, MaintenanceStatus.IN_PROGRESS)
        )

    async def body() -> list[MaintenanceSummary]:
        return await _summaries(await client(), query, limit)

    rows = run(body)
    rows.sort(key=lambda r: (r.start, r.maintenance_id))
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("no maintenance")
        return
    zone = sla_policy.calendar_spec.timezone
    table = Table(header_style="bold")
    for column in ("maintenance", "state", "start", "end", "services"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.maintenance_id,
            row.state.value,
            _local(row.start, zone),
            _local(row.end, zone),
            safe(", ".join(row.services)),
        )
    _console().print(table)


async def _summaries(c: Client, query: Query, limit: int) -> list[MaintenanceSummary]:
    rows: dict[str, MaintenanceSummary] = {}
    async for execution in executions(c, query, limit):
        # Terminated or failed runs keep a stale lifecycle state: leave them out.
        if execution.status not in (
            WorkflowExecutionStatus.RUNNING,
            WorkflowExecutionStatus.COMPLETED,
        ):
            continue
        attributes = execution.typed_search_attributes
        start = attributes.get(names.WINDOW_START)
        lifecycle = attributes.get(names.LIFECYCLE_STATE)
        if start is None or lifecycle is None or execution.id in rows:
            continue  # newest run first: an older run of a reused ID is shadowed
        memo: dict[str, Any] = dict(await execution.memo())
        end = memo.get(WINDOW_END_MEMO)
        rows[execution.id] = MaintenanceSummary(
            maintenance_id=execution.id,
            state=MaintenanceStatus(lifecycle),
            start=start,
            end=datetime.fromisoformat(end) if isinstance(end, str) else None,
            services=tuple(memo.get(SERVICES_MEMO) or ()),
            message=memo.get(MESSAGE_MEMO),
        )
    return list(rows.values())
