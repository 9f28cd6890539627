"""``sla sla-report``: the monthly SLA compliance report a support lead sends upward.

Writes ``sla-report-YYYY-MM.html`` (German, self-contained: the charts are
embedded) and its PNG charts into ``--out`` (default ``$SLA_DATA_DIR/reports``);
``--json`` prints the same figures as JSON. Figures: :mod:`domain.sla_report`;
where the data comes from: :mod:`reporting.gather`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from cli.common import (
    JsonOption,
    PolicyOption,
    client,
    fail,
    policy_or_fail,
    print_json,
    run,
    warn_unreadable,
)
from domain.oncall import OnCallBooking
from domain.read_model import IncidentView
from domain.sla import SlaPolicy
from domain.sla_report import ReportMonth, ReportMonthError, SlaReport, build_report
from reporting.gather import incident_views, oncall_bookings
from service.archive import open_archive_if_any
from service.queries import Unreadable

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month",
        help="Report month YYYY-MM, by receipt in the policy's time zone "
        "(default: the previous month).",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Output directory (default: $SLA_DATA_DIR/reports).", file_okay=False
    ),
]


def previous_month(now: datetime, timezone: str) -> ReportMonth:
    """The month before the one ``now`` falls into in ``timezone`` (the last complete one)."""
    local = now.astimezone(ZoneInfo(timezone))
    if local.month == 1:
        return ReportMonth(year=local.year - 1, month=12)
    return ReportMonth(year=local.year, month=local.month - 1)


def sla_report(
    month: MonthOption = None,
    out: OutOption = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Monthly SLA compliance report per severity: HTML with charts, or --json figures."""
    try:
        chosen = ReportMonth.parse(month) if month is not None else None
    except ReportMonthError as error:
        fail(f"--month: {error}")
    sla_policy: SlaPolicy = policy_or_fail(policy)
    now = datetime.now(UTC)
    report_month = chosen or previous_month(now, sla_policy.calendar_spec.timezone)
    directory = out or Path(os.environ.get("SLA_DATA_DIR", ".sla")) / "reports"

    async def body() -> tuple[list[IncidentView], list[OnCallBooking], list[Unreadable]]:
        c = await client()
        views, unread_incidents = await incident_views(
            c, sla_policy, report_month, archive=open_archive_if_any
        )
        bookings, unread_bookings = await oncall_bookings(c, sla_policy, report_month)
        return views, bookings, [*unread_incidents, *unread_bookings]

    views, bookings, skipped = run(body)
    # The figures leave them out: say so, by name.
    warn_unreadable(skipped)
    report = build_report(views, sla_policy, report_month, now, bookings)
    html = _write(report, directory)
    if as_json:
        print_json(report)
        return
    total = report.total
    print(
        f"{html}: {total.incidents} incidents in {report.month}, "
        f"reaction met {_pct(total.reaction.met_pct)}, "
        f"resolution met {_pct(total.resolution.met_pct)}, "
        f"{total.breaches.incidents} with a breach, "
        f"{report.oncall.hours} h extended on-call billed"
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _write(report: SlaReport, directory: Path) -> Path:
    # Imported here: matplotlib takes a moment to load, and only this command needs it.
    from reporting.html import write_report

    try:
        return write_report(report, directory).html
    except OSError as error:
        fail(f"cannot write the report to {directory}: {error.strerror or error}")
