"""The monthly SLA report as one self-contained German HTML file (plus its PNG charts).

The HTML embeds every chart as a ``data:image/png;base64,…`` URI, so the single
file still shows everything when it is mailed; the PNGs are also written beside
it for slides. Cells that carry a figure have a ``data-key`` (e.g.
``critical.reaction.met``) naming the same figure in the JSON form, so checks
and scripts can compare both.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from activities.files import write_atomic
from activities.rendering import german_datetime, template_environment
from domain.oncall import format_money_de
from domain.sla_report import SlaReport
from reporting.charts import Chart, report_charts

_MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def format_pct(value: float | None) -> str:
    """``66,7 %``; ``–`` when there is nothing to divide."""
    return "–" if value is None else f"{value:.1f} %".replace(".", ",")


def format_business_time(seconds: float | None) -> str:
    """Business time as ``1 h 15 min``, ``45 min``, ``3 h`` or ``12 s``; ``–`` for ``None``."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes == 0:
        return f"{round(seconds)} s"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def format_money(amount: Decimal, currency: str) -> str:
    """``1.234,50 EUR``."""
    return f"{format_money_de(amount)} {currency}"


def format_day(value: date) -> str:
    """``2.11.``."""
    return f"{value.day}.{value.month}."


def month_de(month: str) -> str:
    """``2026-11`` → ``November 2026``."""
    year, number = month.split("-")
    return f"{_MONTHS_DE[int(number) - 1]} {year}"


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,…`` of ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(report: SlaReport, charts: Sequence[Chart]) -> str:
    """The German HTML page of ``report`` with ``charts`` embedded."""
    env = template_environment("reporting", "templates")
    # The shared environment escapes by extension only, and ``.html.j2`` is not
    # ``.html``: company names and ticket IDs must be escaped here.
    env.autoescape = True
    template = env.get_template("sla_report.html.j2")

    def local(value: datetime | None) -> str:
        return german_datetime(value, report.timezone)

    return template.render(
        report=report,
        rows=[*report.severities, report.total],
        charts=[(chart, data_uri(chart.png)) for chart in charts],
        title=f"SLA-Bericht {month_de(report.month)}",
        local=local,
        pct=format_pct,
        btime=format_business_time,
        money=lambda amount: format_money(amount, report.oncall.currency),
        day=format_day,
    )


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote.

    Attributes:
        html: The self-contained HTML file.
        charts: The PNG charts beside it.
    """

    html: Path
    charts: tuple[Path, ...]


def write_report(report: SlaReport, directory: Path) -> ReportFiles:
    """Write ``sla-report-YYYY-MM.html`` and its PNGs into ``directory`` (created if needed).

    Each file is written atomically: a reader never sees half a report.

    Raises:
        OSError: The directory or a file cannot be written.
    """
    charts = report_charts(report)
    stem = f"sla-report-{report.month}"
    pngs = []
    for chart in charts:
        path = directory / f"{stem}-{chart.name}.png"
        write_atomic(path, chart.png)
        pngs.append(path)
    html = directory / f"{stem}.html"
    write_atomic(html, render_html(report, charts).encode("utf-8"))
    return ReportFiles(html=html, charts=tuple(pngs))
