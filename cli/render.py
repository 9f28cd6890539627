"""Rich output for operators: incident tables and timelines.

Every customer- or operator-supplied string goes through :func:`cli.terminal.safe`
before rich sees it: it is printed as text, never as markup or terminal control.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.terminal import safe
from domain.calendar import BusinessCalendar
from domain.incident import Event, IncidentStatus
from domain.read_model import IncidentSummary, IncidentView, next_deadline


def local(value: datetime | None, calendar: BusinessCalendar) -> str:
    """``Tue 24.11. 10:30`` in the calendar's zone; ``–`` for ``None``."""
    if value is None:
        return "–"
    return value.astimezone(calendar.zone).strftime("%a %d.%m.%Y %H:%M")


def business_left(due: datetime | None, now: datetime, calendar: BusinessCalendar) -> Text:
    """Remaining business time to ``due``, red when overdue."""
    if due is None:
        return Text("–")
    left = calendar.between(now, due)
    text = format_duration(abs(left))
    if left < timedelta(0):
        return Text(f"overdue {text}", style="bold red")
    return Text(text, style="yellow" if left < timedelta(hours=1) else "")


def format_duration(value: timedelta) -> str:
    """``3h 05m`` / ``45m`` / ``12s``."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


_SEVERITY_STYLE = {"critical": "bold red", "major": "yellow", "minor": "cyan"}


def incidents_table(
    summaries: list[IncidentSummary], now: datetime, calendar: BusinessCalendar
) -> Table:
    """The ``sla list`` table."""
    table = Table(show_lines=False, header_style="bold")
    for column in ("ticket", "company", "severity", "status", "stage", "next deadline", "left"):
        table.add_column(column)
    for s in summaries:
        name, due = next_deadline(s)
        stage = str(s.escalation_stage)
        breached = " ⚠" if s.reaction_breached or s.resolution_breached else ""
        table.add_row(
            safe(s.ticket_id),
            safe(s.company),
            Text(s.severity.value, style=_SEVERITY_STYLE[s.severity.value]),
            s.status.value + breached,
            stage if stage != "0" else "–",
            f"{name} {local(due, calendar)}" if due else "–",
            business_left(due, now, calendar) if due else Text("–"),
        )
    return table


def _event_detail(event: Event) -> str:
    """``key=value, …`` of the event's facts, as safe markup (one line per event)."""
    fields = event.model_dump(mode="json", exclude={"at", "type", "report", "deadlines"})
    parts = [f"{k}={v}" for k, v in fields.items() if v not in (None, "", [], {})]
    return safe(", ".join(parts))


def _report_grid(view: IncidentView, calendar: BusinessCalendar) -> Table:
    """The whole report as the reporter gave it (and amended), missing items named."""
    assert view.report is not None
    report = view.report
    grid = Table.grid(padding=(0, 2))
    grid.title = "report"
    grid.title_justify = "left"
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")

    def given(value: object) -> str:
        return "—" if value is None else safe(str(value))

    grid.add_row("description", safe(report.description, multiline=True))
    grid.add_row("e-mail", given(report.email))
    grid.add_row("phone", given(report.phone))
    grid.add_row("scope", given(report.scope.value if report.scope else None))
    reproducible = None if report.reproducible is None else ("yes" if report.reproducible else "no")
    grid.add_row("reproducible", given(reproducible))
    noticed = local(report.first_noticed_at, calendar) if report.first_noticed_at else None
    grid.add_row("first noticed", given(noticed))
    if report.attachments:
        grid.add_row("attachments", safe("\n".join(report.attachments), multiline=True))
    if view.missing:
        grid.add_row(Text("missing", style="bold yellow"), safe(", ".join(view.missing)))
    if report.customer_number:
        grid.add_row("customer number", safe(report.customer_number))
    if report.source:
        grid.add_row("intake", safe(report.source))
    return grid


def show_incident(
    view: IncidentView, now: datetime, calendar: BusinessCalendar, console: Console
) -> None:
    """The ``sla show`` screen: facts, deadlines with remaining business time, timeline."""
    console.print(
        f"[bold]{safe(view.ticket_id)}[/bold]  {safe(view.company)} · {safe(view.reporter)}"
        f" · {safe(view.channel.value)}"
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("status", view.status.value)
    classified = "" if view.classified else " (suggested)"
    facts.add_row("severity", f"{view.severity.value}{classified}")
    facts.add_row("escalation stage", str(view.escalation_stage))
    facts.add_row("received", local(view.received_at, calendar))
    open_ = view.status is not IncidentStatus.RESOLVED
    for label, due, breached in (
        ("reaction due", view.reaction_due, view.reaction_breached),
        ("resolution due", view.resolution_due, view.resolution_breached),
    ):
        line = Text(local(due, calendar))
        if breached:
            line.append("  BREACHED", style="bold red")
        elif open_ and not (label == "reaction due" and view.acknowledged_at):
            line.append("  (")
            line.append(business_left(due, now, calendar))
            line.append(" business time left)")
        facts.add_row(label, line)
    facts.add_row("estimate", local(view.estimate, calendar))
    if view.resolution_communicated_in_time is not None:
        # The SLA's word (resolved, or a reasoned new time, by the deadline) beside the KPI.
        promise = Text("kept" if view.resolution_communicated_in_time else "BROKEN")
        if not view.resolution_communicated_in_time:
            promise.stylize("bold red")
        promise.append(
            ""
            if view.resolved_within_target is None
            else f" · resolved within target: {'yes' if view.resolved_within_target else 'no'}"
        )
        facts.add_row("resolution promise", promise)
    facts.add_row("all users", "yes (status page)" if view.on_status_page else "no")
    if view.management_decision:
        facts.add_row("management", safe(view.management_decision, multiline=True))
    if view.resolution_summary:
        facts.add_row("resolution", safe(view.resolution_summary, multiline=True))
    if view.change_request_id:
        facts.add_row("change request", safe(view.change_request_id))
    if view.dev_tickets:
        facts.add_row("dev tickets", safe(", ".join(view.dev_tickets)))
    console.print(facts)
    if view.report is not None:
        console.print(_report_grid(view, calendar))
    timeline = Table(title="timeline", header_style="bold", title_justify="left")
    timeline.add_column("when")
    timeline.add_column("event")
    timeline.add_column("details", overflow="fold")
    for event in view.events:
        timeline.add_row(local(event.at, calendar), safe(event.type), _event_detail(event))
    console.print(timeline)
