"""``sla audit …`` and ``sla schedules …``: the ticket monitoring ("Ticketsystem-Überwachung").

``sla schedules apply`` creates (or updates) the Temporal Schedules that run the
daily audit of support tickets and the weekly audit of development tickets, and
the nightly erasure of personal data (``[archive] personal_data_days``);
``sla audit run daily|weekly`` runs one audit now and prints its report.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    client,
    fail,
    parse_instant,
    policy_or_fail,
    print_json,
    run,
)
from cli.render import format_duration
from cli.terminal import safe
from domain.audit import AuditKind, AuditReport, DeadlineCheck, TicketAudit
from domain.sla import SlaPolicy
from service.audit_schedules import (
    DEFAULT_PREFIX,
    AppliedSchedule,
    ScheduleStatus,
    apply_audit_schedules,
    delete_audit_schedules,
    describe_audit_schedules,
)
from service.erasure_schedule import (
    AppliedErasureSchedule,
    ErasureScheduleStatus,
    apply_erasure_schedule,
    delete_erasure_schedule,
    describe_erasure_schedule,
    erasure_schedule_id,
)
from workflows.audit import AuditInput, AuditWorkflow
from workflows.names import TASK_QUEUE

audit_app = typer.Typer(
    help="Ticket monitoring: audit support tickets (daily) and development tickets (weekly).",
    no_args_is_help=True,
)
schedules_app = typer.Typer(
    help=(
        "Temporal Schedules: the ticket audits (daily 08:15 Mon–Fri, weekly Mon 08:30) and "
        "the erasure of personal data (nightly 03:30, [archive] personal_data_days)."
    ),
    no_args_is_help=True,
)

PrefixOption = Annotated[
    str,
    typer.Option(
        help=(
            "Schedule ID prefix (IDs are <prefix>audit-daily, <prefix>audit-weekly and "
            "<prefix>personal-data-erasure)."
        )
    ),
]
ScopeOption = Annotated[
    str | None,
    typer.Option(
        "--only-task-queue",
        help="Audit only workflows on this task queue (default: the whole namespace).",
    ),
]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


# -- sla audit run ------------------------------------------------------------------


@audit_app.command("run")
def run_audit(
    kind: Annotated[AuditKind, typer.Argument(help="daily (support tickets) or weekly (dev).")],
    at: Annotated[
        str | None,
        typer.Option(help="Audit as of this instant (ISO 8601; default: now)."),
    ] = None,
    only_task_queue: ScopeOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 300,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an audit now (the worker writes the report files and e-mails the support lead)."""
    sla_policy = policy_or_fail(policy)
    instant = None
    if at is not None:
        try:
            instant = parse_instant(at, sla_policy.calendar_spec.timezone, what="--at")
        except CliError as error:
            fail(str(error))
    try:
        request = AuditInput(kind=kind, policy=sla_policy, at=instant, task_queue=only_task_queue)
    except ValueError:
        fail(f"--only-task-queue: not a task queue name: {only_task_queue!r}")
    # Short enough that the Message-ID derived from it fits one header line.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workflow_id = f"sla-audit-{kind.value}-manual-{stamp}-{uuid.uuid4().hex[:4]}"

    async def body() -> AuditReport:
        c = await client()
        handle = await c.start_workflow(
            AuditWorkflow.run,
            request,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            execution_timeout=timedelta(hours=1),
        )
        try:
            return await asyncio.wait_for(handle.result(), wait)
        except TimeoutError:
            raise CliError(
                f"audit {workflow_id} did not finish within {wait:g} s; is a worker running?"
            ) from None

    report = run(body)
    if as_json:
        print_json(report)
        return
    show_report(report, sla_policy, _console())


def _check(check: DeadlineCheck) -> str:
    minutes = timedelta(minutes=abs(check.business_minutes_left))
    if check.business_minutes_left <= 0:
        return f"{check.kind.value} overdue {format_duration(minutes)}"
    return f"{check.kind.value} due in {format_duration(minutes)}"


def _findings(ticket: TicketAudit) -> str:
    parts = [_check(c) for c in (*ticket.overdue, *ticket.near_deadline)]
    if ticket.unacknowledged:
        parts.append("unacknowledged")
    if ticket.stale:
        idle = format_duration(timedelta(minutes=ticket.idle_business_minutes))
        parts.append(f"no update for {idle}")
    return "; ".join(parts)


def show_report(report: AuditReport, policy: SlaPolicy, console: Console) -> None:
    """Print ``report`` as a short summary and a table of what needs attention."""
    zone = policy.calendar.zone
    when = report.at.astimezone(zone).strftime("%a %d.%m.%Y %H:%M")
    console.print(f"[bold]{report.kind.value} audit[/bold] {report.audit_id} at {when}")
    files = f"audits/{report.day.isoformat()}-{report.kind.value}.json"
    if report.skipped is not None:
        console.print(
            f"skipped: {report.skipped.value} ({report.day.isoformat()} is no business day); "
            f"nothing sent; recorded in the worker's {files}"
        )
        return
    if report.kind is AuditKind.DAILY:
        console.print(
            f"{report.open_tickets} open tickets: {len(report.overdue)} overdue, "
            f"{len(report.near_deadline)} near a deadline, "
            f"{len(report.unacknowledged)} unacknowledged, {len(report.stale)} stale, "
            f"{len(report.unreadable)} unreadable (durations in business time)"
        )
        flagged = [t for t in report.tickets if t.flagged]
        if flagged:
            table = Table("ticket", "company", "severity", "status", "findings")
            for t in flagged:
                table.add_row(
                    t.ticket_id, safe(t.company), t.severity.value, t.status.value, _findings(t)
                )
            console.print(table)
        for u in report.unreadable:
            console.print(f"[red]unreadable[/red] {safe(u.ticket_id)}: {safe(u.error)}")
    else:
        limit = report.thresholds.dev_stalled_after_business_days
        console.print(
            f"{len(report.dev_tickets)} open development tickets, {len(report.stalled)} "
            f"without progress for more than {limit} business days"
        )
        if report.dev_tickets:
            table = Table("change request", "dev ticket", "company", "state", "last progress")
            for d in report.dev_tickets:
                last = d.last_progress_at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
                style = "bold red" if d.stalled else ""
                table.add_row(
                    safe(d.key),
                    safe(d.dev_ticket or "–"),
                    safe(d.company or "–"),
                    safe(d.lifecycle_state or "–"),
                    f"[{style}]{last}[/{style}]" if style else last,
                )
            console.print(table)
    console.print(f"report: the worker's {files}; e-mail to {policy.contacts.support_lead}")


# -- sla schedules ------------------------------------------------------------------


@schedules_app.command("apply")
def apply_schedules(
    prefix: PrefixOption = DEFAULT_PREFIX,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the schedules, or update them where they differ (safe to repeat).

    The erasure schedule follows the policy's ``[archive] personal_data_days``:
    with 0 it is deleted (no automatic erasure).
    """
    sla_policy = policy_or_fail(policy)

    async def body() -> tuple[list[AppliedSchedule], AppliedErasureSchedule]:
        temporal = await client()
        audits = await apply_audit_schedules(temporal, sla_policy, prefix=prefix)
        return audits, await apply_erasure_schedule(temporal, sla_policy, prefix=prefix)

    audits, erasure = run(body)
    if as_json:
        print_json([*audits, erasure])
        return
    for a in audits:
        print(f"{a.schedule_id}: {a.change.value}")
    # "off"/"deleted" come with 0: the line says why there is no schedule.
    print(
        f"{erasure.schedule_id}: {erasure.change.value} "
        f"(personal_data_days = {erasure.personal_data_days})"
    )


@schedules_app.command("list")
def list_schedules(
    prefix: PrefixOption = DEFAULT_PREFIX,
    runs: Annotated[int, typer.Option(help="Next run times to show.")] = 3,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit and erasure schedules with their next run times."""
    zone = policy_or_fail(policy).calendar.zone

    async def body() -> tuple[list[ScheduleStatus], ErasureScheduleStatus]:
        temporal = await client()
        audits = await describe_audit_schedules(temporal, prefix=prefix)
        return audits, await describe_erasure_schedule(temporal, prefix=prefix)

    statuses, erasure = run(body)
    if as_json:
        print_json([*statuses, erasure])
        return
    table = Table("schedule", "runs", "when", "time zone", "next runs", "last run", "state")
    shown: list[ScheduleStatus | ErasureScheduleStatus] = [*statuses, erasure]
    for s in shown:
        kind = "erasure" if isinstance(s, ErasureScheduleStatus) else s.kind.value
        if not s.exists:
            table.add_row(s.schedule_id, kind, "–", "–", "–", "–", "missing")
            continue
        nxt = "\n".join(
            t.astimezone(zone).strftime("%a %d.%m.%Y %H:%M") for t in s.next_runs[:runs]
        )
        last = s.last_run.astimezone(zone).strftime("%d.%m.%Y %H:%M") if s.last_run else "–"
        table.add_row(
            s.schedule_id,
            kind,
            s.when or "–",
            s.timezone or "UTC",
            nxt or "–",
            last,
            "paused" if s.paused else "active",
        )
    _console().print(table)
    if not any(s.exists for s in statuses):
        print("no audit schedules; create them with `sla schedules apply`")


@schedules_app.command("delete")
def delete_schedules(
    prefix: PrefixOption = DEFAULT_PREFIX,
    as_json: JsonOption = False,
) -> None:
    """Delete the audit and erasure schedules (runs already started finish)."""

    async def body() -> dict[str, bool]:
        temporal = await client()
        deleted = await delete_audit_schedules(temporal, prefix=prefix)
        erasure = await delete_erasure_schedule(temporal, prefix=prefix)
        return {**deleted, erasure_schedule_id(prefix): erasure}

    deleted = run(body)
    if as_json:
        print_json([{"schedule_id": k, "deleted": v} for k, v in deleted.items()])
        return
    for schedule_id, existed in deleted.items():
        print(f"{schedule_id}: {'deleted' if existed else 'not found'}")
