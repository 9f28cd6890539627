"""Rich output for operators: the incident board (``sla list``) and detail (``sla show``).

Every customer- or operator-supplied string goes through :func:`cli.terminal.safe`
before rich sees it: it is printed as text, never as markup or terminal control.

The words come from :mod:`domain.timeline_words` in the language ``SLA_LANG``
chooses (:func:`cli.common.language_or_fail`); times are wall-clock times in
the policy's zone (Europe/Berlin).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from cli.terminal import neutralise, safe
from domain.board import Standing, Urgency, standing
from domain.calendar import BusinessCalendar
from domain.incident import EscalationStage, IncidentStatus
from domain.read_model import IncidentSummary, IncidentView
from domain.report import ReportItem
from domain.sla import SlaPolicy
from domain.timeline_words import (
    Language,
    channel_word,
    describe,
    item_word,
    long_time,
    scope_word,
    severity_word,
    short_time,
    stage_word,
    status_word,
    yes_no,
)

# -- the words of the two screens ------------------------------------------------------

_WORDS: dict[Language, dict[str, str]] = {
    Language.EN: {
        "ticket": "ticket",
        "left": "left",
        "severity": "severity",
        "next": "next",
        "stage": "stage",
        "missing": "missing",
        "company": "company",
        "status": "status",
        "overdue": "overdue",
        "reaction": "reaction",
        "estimate": "estimate",
        "resolution": "resolution",
        "resolved": "resolved",
        "no incidents": "no incidents",
        "from the archive": "from the archive (Temporal no longer holds it; final, no commands)",
        "personal data erased": "the reporter's personal data was erased on",
        "suggested": "suggested",
        "escalation stage": "escalation stage",
        "received": "received",
        "reaction due": "reaction due",
        "resolution due": "resolution due",
        "breached": "BREACHED",
        "business time left": "business time left",
        "resolution promise": "resolution promise",
        "kept": "kept",
        "broken": "BROKEN",
        "resolved within target": "resolved within target",
        "all users": "all users",
        "on the status page": "yes (status page)",
        "management": "management",
        "change request": "change request",
        "dev tickets": "dev tickets",
        "report": "report",
        "description": "description",
        "reporter": "reporter",
        "e-mail": "e-mail",
        "phone": "phone",
        "scope": "scope",
        "reproducible": "reproducible",
        "first noticed": "first noticed",
        "attachments": "attachments",
        "not given": "missing",
        "customer number": "customer number",
        "intake": "intake",
        "timeline": "timeline",
        # sla watch
        "open": "open",
        "breached (count)": "breached",
        "due soon": "due soon",
        "unreadable": "unreadable",
        "read at": "read",
        "closed until": "outside business hours, clocks stopped until",
        "board keys": "↑/↓ select · Enter open · q quit",
        "detail keys": "↑/↓ scroll · Esc/q back",
        "read failed": "reading failed, retrying",
        "loading": "loading …",
    },
    Language.DE: {
        "ticket": "Ticket",
        "left": "Rest",
        "severity": "Schwere",
        "next": "Nächste Frist",
        "stage": "Stufe",
        "missing": "Fehlt",
        "company": "Firma",
        "status": "Status",
        "overdue": "überfällig",
        "reaction": "Reaktion",
        "estimate": "Schätzung",
        "resolution": "Behebung",
        "resolved": "behoben",
        "no incidents": "keine Störungen",
        "from the archive": "aus dem Archiv (nicht mehr in Temporal; abgeschlossen, keine Befehle)",
        "personal data erased": "personenbezogene Daten der meldenden Person gelöscht am",
        "suggested": "Vorschlag",
        "escalation stage": "Eskalationsstufe",
        "received": "Eingegangen",
        "reaction due": "Reaktion bis",
        "resolution due": "Behebung bis",
        "breached": "ÜBERSCHRITTEN",
        "business time left": "Bereitschaftszeit übrig",
        "resolution promise": "Zusage zur Behebung",
        "kept": "eingehalten",
        "broken": "GEBROCHEN",
        "resolved within target": "in der Frist behoben",
        "all users": "Alle Benutzer",
        "on the status page": "ja (Störungsseite)",
        "management": "Geschäftsführung",
        "change request": "Änderungswunsch",
        "dev tickets": "Entwicklungs-Tickets",
        "report": "Meldung",
        "description": "Beschreibung",
        "reporter": "Gemeldet von",
        "e-mail": "E-Mail",
        "phone": "Telefon",
        "scope": "Umfang",
        "reproducible": "Reproduzierbar",
        "first noticed": "Erstmals bemerkt",
        "attachments": "Anhänge",
        "not given": "fehlt",
        "customer number": "Kundennummer",
        "intake": "Eingang",
        "timeline": "Verlauf",
        # sla watch
        "open": "offen",
        "breached (count)": "überschritten",
        "due soon": "bald fällig",
        "unreadable": "nicht lesbar",
        "read at": "gelesen",
        "closed until": "außerhalb der Bereitschaftszeit, Fristen ruhen bis",
        "board keys": "↑/↓ wählen · Enter öffnen · q beenden",
        "detail keys": "↑/↓ blättern · Esc/q zurück",
        "read failed": "Lesen fehlgeschlagen, neuer Versuch",
        "loading": "wird geladen …",
    },
}


def word(key: str, lang: Language) -> str:
    """A word of the ``sla list``/``sla show`` screens in ``lang``."""
    return _WORDS[lang][key]


def local(value: datetime | None, calendar: BusinessCalendar) -> str:
    """``Tue 24.11.2026 10:30`` in the calendar's zone; ``–`` for ``None``."""
    if value is None:
        return "–"
    return long_time(value, Language.EN, calendar.zone)


def format_duration(value: timedelta, *, seconds: bool = False) -> str:
    """``3h 05m`` / ``45m`` / ``12s``; with ``seconds``: ``3h 05m 09s`` / ``45m 00s`` / ``12s``.

    Args:
        value: A duration (not negative; callers put the sign in front).
        seconds: Show the seconds too (a countdown that ticks, ``sla watch``).
    """
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if seconds:
        if hours:
            return f"{hours}h {minutes:02d}m {secs:02d}s"
        if minutes:
            return f"{minutes}m {secs:02d}s"
        return f"{secs}s"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


# -- sla list: the board ----------------------------------------------------------------

URGENCY_STYLE = {
    Urgency.BREACHED: "red",
    Urgency.DUE_SOON: "yellow",
    Urgency.ON_TRACK: "",
    Urgency.CLOSED: "dim",
}
"""The row style of each urgency (``sla list``)."""


@dataclass(frozen=True)
class _Column:
    key: str
    cell: Callable[[IncidentSummary, Standing], str]
    # A column that may fold over lines gets at least this many cells before
    # columns after it are dropped (narrower, it would fold a word per line);
    # 0: never folded, shown whole or not at all.
    fold_to: int = 0


ESSENTIAL_COLUMNS = 6
"""Ticket, business time left, severity, next deadline, stage, missing items: folded
over two lines rather than dropped (they fit so at 80 columns)."""

_STAGE_SHORT: dict[Language, dict[EscalationStage, str]] = {
    Language.EN: {0: "–", 1: "1", 2: "2", 3: "3", "extended": "ext."},
    Language.DE: {0: "–", 1: "1", 2: "2", 3: "3", "extended": "erw."},
}
"""The stage in a board cell (``sla show`` names it in full)."""


def _left_cell(seconds: bool) -> Callable[[IncidentSummary, Standing], str]:
    def cell(s: IncidentSummary, st: Standing) -> str:
        if st.left is None:
            return "–"
        # Overdue as a negative countdown: short enough for 80 columns in both
        # languages, and the row is red besides.
        left = format_duration(abs(st.left), seconds=seconds)
        text = f"-{left}" if st.overdue else left
        # Readable without colour (NO_COLOR, a pipe): a recorded SLA breach is marked.
        breach = s.reaction_breached or s.resolution_breached
        return f"⚠ {text}" if breach else text

    return cell


def _next_cell(
    lang: Language, calendar: BusinessCalendar
) -> Callable[[IncidentSummary, Standing], str]:
    def cell(s: IncidentSummary, st: Standing) -> str:
        if st.due is None:
            when = f" {short_time(s.resolved_at, lang, calendar.zone)}" if s.resolved_at else ""
            return f"{status_word(s.status, lang)}{when}"
        return f"{word(st.deadline, lang)} {short_time(st.due, lang, calendar.zone)}"

    return cell


def _columns(
    lang: Language, calendar: BusinessCalendar, *, seconds: bool = False
) -> tuple[_Column, ...]:
    """Every column of the board, most important first: narrow terminals drop from the end.

    The ticket ID is what an operator copies into the next command, so it is
    never shortened; business time left and severity say what to do first;
    the next deadline's kind tells the status (reaction: unacknowledged); the
    rest can be looked up with ``sla show``.
    """
    return (
        _Column("ticket", lambda s, _: s.ticket_id),
        _Column("left", _left_cell(seconds)),
        _Column("severity", lambda s, _: severity_word(s.severity, lang)),
        # Folded to 12: "estimate Tue" over "24.11. 13:00".
        _Column("next", _next_cell(lang, calendar), fold_to=12),
        _Column("stage", lambda s, _: _STAGE_SHORT[lang][s.escalation_stage]),
        _Column(
            "missing", lambda s, _: ", ".join(item_word(i, lang) for i in s.missing), fold_to=12
        ),
        # Past ESSENTIAL_COLUMNS. "–" rather than the read model's German stand-in
        # for an unknown company: the missing column says why.
        _Column("company", lambda s, _: "–" if "company" in s.missing else s.company, fold_to=12),
        _Column("status", lambda s, _: status_word(s.status, lang)),
    )


def _board() -> Table:
    # No outer border and no vertical rules: every cell of width goes to the cells.
    return Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )


def _build_table(
    columns: Sequence[_Column],
    rows: Sequence[tuple[IncidentSummary, Standing]],
    lang: Language,
    *,
    fold_from: int | None,
    selected: str | None = None,
) -> Table:
    """The board with ``columns``; foldable ones from index ``fold_from`` on may fold.

    The row of the ``selected`` ticket (``sla watch``) is shown in reverse video.
    """
    table = _board()
    for index, column in enumerate(columns):
        if column.fold_to and fold_from is not None and index >= fold_from:
            table.add_column(word(column.key, lang), overflow="fold")
        else:
            # Shown whole: the chosen columns leave room for every such cell,
            # so rich never has to cut one (it would, without no_wrap).
            table.add_column(word(column.key, lang), no_wrap=True, overflow="ignore")
    for summary, st in rows:
        style = URGENCY_STYLE[st.urgency]
        if summary.ticket_id == selected:
            style = f"{style} reverse".strip()
        table.add_row(*(safe(c.cell(summary, st)) for c in columns), style=style)
    return table


def _needed_width(
    columns: Sequence[_Column],
    rows: Sequence[tuple[IncidentSummary, Standing]],
    lang: Language,
    console: Console,
    *,
    fold_from: int,
) -> int:
    """The narrowest width that shows ``columns`` with no unfoldable cell cut.

    Foldable columns from index ``fold_from`` on count with their ``fold_to``;
    every other column is as wide as its widest cell. Counted from the plain
    cells rather than with rich's measurement, which takes a cell's longest
    word for its minimum.
    """
    needed = 0
    for index, column in enumerate(columns):
        texts = [word(column.key, lang), *(neutralise(column.cell(s, st)) for s, st in rows)]
        widest = max(cell_len(text) for text in texts)
        folds = column.fold_to and index >= fold_from
        needed += min(widest, column.fold_to) if folds else widest
    return needed + _overhead(len(columns), console)


def _overhead(count: int, console: Console) -> int:
    """Cells of padding and separators of a board with ``count`` columns."""
    probe = _board()
    for _ in range(count):
        probe.add_column(width=1)
    return Measurement.get(console, console.options, probe).maximum - count


def incidents_table(
    summaries: Sequence[IncidentSummary],
    now: datetime,
    policy: SlaPolicy,
    *,
    lang: Language = Language.EN,
    width: int = 80,
    wide: bool = False,
    console: Console | None = None,
    countdown: bool = False,
    selected: str | None = None,
) -> Table:
    """The ``sla list`` board: one row per incident, coloured by urgency.

    Rows are shown in the order given (:func:`domain.board.most_urgent_first`
    sorts them). A breached row (an SLA breach recorded, or the next deadline
    passed) is red, one whose next deadline is at most the policy's ``[audit]
    near_deadline`` of business time away is yellow, resolved ones are dim.

    Args:
        summaries: The incidents.
        now: The instant business time is counted from.
        policy: Supplies the calendar, the zone and the due-soon threshold.
        lang: The language of headers and words.
        width: The terminal's width: columns are dropped from the least important
            until the rest fit, and the ticket ID is never shortened.
        wide: Every column, nothing folded or cut (the caller prints it as wide
            as it needs, :func:`table_width`).
        console: Measures the padding (a plain one by default).
        countdown: Business time left to the second (the live board ticks);
            ``sla list`` shows minutes.
        selected: The ticket whose row is highlighted (the live board's selection).
    """
    calendar = policy.calendar
    rows = [(s, standing(s, now, calendar, due_soon=policy.audit.near_deadline)) for s in summaries]
    columns: Sequence[_Column] = _columns(lang, calendar, seconds=countdown)
    if wide:
        return _build_table(columns, rows, lang, fold_from=None, selected=selected)
    columns, fold_from = _fitting(
        columns, rows, lang, width, console or Console(width=max(width, 1))
    )
    return _build_table(columns, rows, lang, fold_from=fold_from, selected=selected)


def _fitting(
    columns: Sequence[_Column],
    rows: Sequence[tuple[IncidentSummary, Standing]],
    lang: Language,
    width: int,
    console: Console,
) -> tuple[Sequence[_Column], int]:
    """The most important columns that fit ``width``, and from which one on they may fold.

    Folding a cell over two lines is better than losing an essential column
    (:data:`ESSENTIAL_COLUMNS`), so when the essentials do not fit unfolded
    they fold too; otherwise they stay on one line and only the columns after
    them fold. The ticket column is always kept and never folds.
    """

    def prefix(fold_from: int) -> int:
        n = len(columns)
        while (
            n > 1 and _needed_width(columns[:n], rows, lang, console, fold_from=fold_from) > width
        ):
            n -= 1
        return n

    essentials_whole = prefix(ESSENTIAL_COLUMNS)
    if essentials_whole >= ESSENTIAL_COLUMNS:
        return columns[:essentials_whole], ESSENTIAL_COLUMNS
    return columns[: prefix(0)], 0


def table_width(table: Table, console: Console) -> int:
    """The width ``table`` needs to show every cell whole (``sla list --wide``)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


# -- sla show: the detail ------------------------------------------------------------------


def _report_grid(view: IncidentView, policy: SlaPolicy, lang: Language) -> Table:
    """The whole report as the reporter gave it (and amended), missing items named."""
    assert view.report is not None
    report = view.report
    zone = policy.calendar.zone
    missing = set(view.missing)
    grid = Table.grid(padding=(0, 2))
    grid.title = word("report", lang)
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    absent = Text(f"– ({word('not given', lang)})", style="yellow")

    def row(label: str, item: ReportItem | None, value: str | None) -> None:
        if value is None:
            grid.add_row(word(label, lang), absent if item and item.value in missing else "–")
        else:
            grid.add_row(word(label, lang), value)

    grid.add_row(word("description", lang), safe(report.description, multiline=True))
    row("reporter", ReportItem.FULL_NAME, safe(report.full_name) if report.full_name else None)
    row("company", ReportItem.COMPANY, safe(report.company) if report.company else None)
    row("e-mail", ReportItem.EMAIL, safe(report.email) if report.email else None)
    row("phone", ReportItem.PHONE, safe(report.phone) if report.phone else None)
    row("scope", ReportItem.SCOPE, scope_word(report.scope, lang) if report.scope else None)
    reproducible = None if report.reproducible is None else yes_no(report.reproducible, lang)
    row("reproducible", ReportItem.REPRODUCIBLE, reproducible)
    noticed = long_time(report.first_noticed_at, lang, zone) if report.first_noticed_at else None
    row("first noticed", ReportItem.FIRST_NOTICED_AT, noticed)
    grid.add_row(
        word("attachments", lang),
        safe("\n".join(report.attachments), multiline=True) if report.attachments else "–",
    )
    if view.missing:
        grid.add_row(
            Text(word("missing", lang), style="bold yellow"),
            Text(", ".join(item_word(i, lang) for i in view.missing), style="yellow"),
        )
    if report.customer_number:
        grid.add_row(word("customer number", lang), safe(report.customer_number))
    if report.source:
        grid.add_row(word("intake", lang), safe(report.source))
    return grid


def _facts(view: IncidentView, now: datetime, policy: SlaPolicy, lang: Language) -> Table:
    calendar = policy.calendar
    zone = calendar.zone

    def when(value: datetime | None) -> str:
        return "–" if value is None else long_time(value, lang, zone)

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row(word("status", lang), status_word(view.status, lang))
    classified = "" if view.classified else f" ({word('suggested', lang)})"
    facts.add_row(word("severity", lang), f"{severity_word(view.severity, lang)}{classified}")
    facts.add_row(word("escalation stage", lang), stage_word(view.escalation_stage, lang))
    facts.add_row(word("received", lang), when(view.received_at))
    open_ = view.status is not IncidentStatus.RESOLVED
    for label, due, breached in (
        ("reaction due", view.reaction_due, view.reaction_breached),
        ("resolution due", view.resolution_due, view.resolution_breached),
    ):
        line = Text(when(due))
        if breached:
            line.append(f"  {word('breached', lang)}", style="bold red")
        elif open_ and not (label == "reaction due" and view.acknowledged_at):
            left = calendar.between(now, due)
            line.append("  (")
            if due <= now:
                line.append(f"{word('overdue', lang)} {format_duration(abs(left))}", "bold red")
            else:
                line.append(
                    format_duration(left), "yellow" if left <= policy.audit.near_deadline else ""
                )
                line.append(f" {word('business time left', lang)}")
            line.append(")")
        facts.add_row(word(label, lang), line)
    facts.add_row(word("estimate", lang), when(view.estimate))
    if view.resolution_communicated_in_time is not None:
        # The SLA's word (resolved, or a reasoned new time, by the deadline) beside the KPI.
        kept = view.resolution_communicated_in_time
        promise = Text(word("kept", lang) if kept else word("broken", lang))
        if not kept:
            promise.stylize("bold red")
        if view.resolved_within_target is not None:
            target = yes_no(view.resolved_within_target, lang)
            promise.append(f" · {word('resolved within target', lang)}: {target}")
        facts.add_row(word("resolution promise", lang), promise)
    facts.add_row(
        word("all users", lang),
        word("on the status page", lang) if view.on_status_page else yes_no(False, lang),
    )
    if view.management_decision:
        facts.add_row(word("management", lang), safe(view.management_decision, multiline=True))
    if view.resolution_summary:
        facts.add_row(word("resolution", lang), safe(view.resolution_summary, multiline=True))
    if view.change_request_id:
        facts.add_row(word("change request", lang), safe(view.change_request_id))
    if view.dev_tickets:
        facts.add_row(word("dev tickets", lang), safe(", ".join(view.dev_tickets)))
    return facts


def timeline_table(view: IncidentView, policy: SlaPolicy, lang: Language) -> Table:
    """The timeline in words: one entry per event, oldest first, times in the policy's zone."""
    zone = policy.calendar.zone
    timeline = Table.grid(padding=(0, 2))
    timeline.title = word("timeline", lang)
    timeline.title_justify = "left"
    timeline.title_style = "bold"
    timeline.add_column(no_wrap=True)
    timeline.add_column(overflow="fold")
    for event in view.events:
        timeline.add_row(short_time(event.at, lang, zone), safe(describe(event, lang, zone)))
    return timeline


def incident_detail(
    view: IncidentView,
    now: datetime,
    policy: SlaPolicy,
    *,
    lang: Language = Language.EN,
) -> Group:
    """The ``sla show`` screen as one renderable (``sla watch`` shows it in its own frame).

    Args:
        view: The incident.
        now: The instant business time left is counted from.
        policy: Supplies the calendar, the zone and the due-soon threshold.
        lang: The language of labels and timeline.
    """
    # The read model's stand-ins for unknown company and name are German (mails
    # use them): say "missing" in the screen's language instead.
    company = view.company if "company" not in view.missing else f"({word('not given', lang)})"
    reporter = view.reporter if "full_name" not in view.missing else f"({word('not given', lang)})"
    parts: list[RenderableType] = [
        Text.from_markup(
            f"[bold]{safe(view.ticket_id)}[/bold]  {safe(company)} · {safe(reporter)}"
            f" · {channel_word(view.channel, lang)}"
        ),
        _facts(view, now, policy, lang),
    ]
    if view.report is not None:
        parts += [Text(), _report_grid(view, policy, lang)]
    parts += [Text(), timeline_table(view, policy, lang)]
    return Group(*parts)


def show_incident(
    view: IncidentView,
    now: datetime,
    policy: SlaPolicy,
    console: Console,
    *,
    lang: Language = Language.EN,
) -> None:
    """Print the ``sla show`` screen: facts and deadlines, the whole report, the timeline.

    Args:
        view: The incident.
        now: The instant business time left is counted from.
        policy: Supplies the calendar, the zone and the due-soon threshold.
        console: Where to print.
        lang: The language of labels and timeline.
    """
    console.print(incident_detail(view, now, policy, lang=lang))
