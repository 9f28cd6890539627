"""PNG charts of the monthly SLA report, drawn with matplotlib's Agg backend.

Figures are built with the object API (:class:`matplotlib.figure.Figure` on a
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`), never through
``pyplot``: no global figure state, no GUI backend chosen by the environment,
safe in a thread. PNG metadata without the matplotlib version keeps the bytes
the same for the same figures.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from domain.sla import Severity
from domain.sla_report import SeverityFigures, SlaReport

_COLORS = {Severity.CRITICAL: "#b42318", Severity.MAJOR: "#b54708", Severity.MINOR: "#1570ef"}
_VERDICT_COLORS = ("#1a7f37", "#b42318", "#98a2b3")  # met, breached, open
_DPI = 100


@dataclass(frozen=True)
class Chart:
    """One chart of the report.

    Attributes:
        name: Short file-name part, e.g. ``compliance``.
        title_de: German caption.
        png: The PNG image.
    """

    name: str
    title_de: str
    png: bytes


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _label(row: SeverityFigures) -> str:
    return row.label_de.capitalize()


def compliance_chart(report: SlaReport) -> Chart:
    """100 % stacked bars per severity and deadline: met, breached, open (share of incidents)."""
    rows = report.severities
    bars = [
        (f"{_label(row)} ({row.incidents}) – {kind}", compliance)
        for row in rows
        for kind, compliance in (("Reaktion", row.reaction), ("Behebung", row.resolution))
    ]
    figure = Figure(figsize=(7.0, 3.6), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(bars)))[::-1]  # first severity on top
    left = [0.0] * len(bars)
    for label, field, color in (
        ("eingehalten", "met_pct", _VERDICT_COLORS[0]),
        ("verletzt", "breached_pct", _VERDICT_COLORS[1]),
        ("offen", "open_pct", _VERDICT_COLORS[2]),
    ):
        values = [getattr(c, field) or 0.0 for _, c in bars]
        drawn = axes.barh(positions, values, 0.7, left=left, label=label, color=color)
        axes.bar_label(
            drawn,
            labels=[f"{v:.1f} %".replace(".", ",") if v >= 8 else "" for v in values],
            label_type="center",
            fontsize=7,
            color="white",
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, (_, compliance) in zip(positions, bars, strict=True):
        if compliance.met_pct is None:
            axes.text(1, y, "keine Störungen", va="center", fontsize=7, color="#667085")
    axes.set_yticks(positions, [label for label, _ in bars], fontsize=8)
    axes.set_xlim(0, 100)
    axes.set_xlabel("Anteil der Störungen (%)")
    axes.set_title("Einhaltung der Fristen je Schweregrad", fontsize=10, pad=20)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncols=3, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return Chart("compliance", "Einhaltung der Fristen je Schweregrad", _png(figure))


def resolution_chart(report: SlaReport) -> Chart:
    """Box plots of the business time to resolve, one panel per severity (own scale each)."""
    rows = report.severities
    figure = Figure(figsize=(7.0, 3.2), layout="constrained")
    panels = figure.subplots(1, len(rows), squeeze=False)[0]
    for axes, row in zip(panels, rows, strict=True):
        hours = [v / 3600 for v in row.time_to_resolve.values_seconds]
        color = _COLORS[row.severity] if row.severity is not None else "#667085"
        if hours:
            axes.boxplot(
                [hours],
                widths=0.5,
                whis=(0, 100),
                medianprops={"color": color, "linewidth": 2},
            )
            axes.scatter([1.0] * len(hours), hours, s=12, color=color, alpha=0.6, zorder=3)
        else:
            axes.text(
                0.5,
                0.5,
                "keine behobenen\nStörungen",
                ha="center",
                va="center",
                transform=axes.transAxes,
                fontsize=8,
                color="#667085",
            )
        axes.set_xlim(0.5, 1.5)
        axes.set_xticks([1], [f"{_label(row)} ({len(hours)})"])
        axes.set_ylim(bottom=0)
        axes.spines[["top", "right"]].set_visible(False)
    panels[0].set_ylabel("Stunden Geschäftszeit")
    figure.suptitle("Störungsbehebungszeit je Schweregrad (Geschäftszeit)", fontsize=10)
    return Chart("resolution", "Verteilung der Störungsbehebungszeit", _png(figure))


def weekly_chart(report: SlaReport) -> Chart:
    """Stacked bars: incidents received per ISO week, by severity."""
    figure = Figure(figsize=(7.0, 3.2), layout="constrained")
    axes = figure.add_subplot()
    weeks = report.weeks
    positions = list(range(len(weeks)))
    bottom = [0] * len(weeks)
    for severity in Severity:
        counts = [w.counts.get(severity, 0) for w in weeks]
        axes.bar(
            positions,
            counts,
            0.6,
            bottom=bottom,
            label=severity.label_de.capitalize(),
            color=_COLORS[severity],
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for x, total in zip(positions, bottom, strict=True):
        axes.annotate(
            str(total),
            (x, total),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    axes.set_xticks(positions, [w.label_de for w in weeks])
    axes.set_ylim(0, max([*bottom, 1]) * 1.25)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Störungen")
    axes.set_title("Eingegangene Störungen je Kalenderwoche", fontsize=10)
    axes.legend(fontsize=8, ncols=3, frameon=False, loc="upper left")
    axes.spines[["top", "right"]].set_visible(False)
    return Chart("weekly", "Störungen je Kalenderwoche", _png(figure))


def report_charts(report: SlaReport) -> Sequence[Chart]:
    """The three charts of the report, in the order the HTML shows them."""
    return (compliance_chart(report), resolution_chart(report), weekly_chart(report))
