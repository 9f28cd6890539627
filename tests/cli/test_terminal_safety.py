"""Hostile customer text reaches the operator's terminal as text (issue 14).

``sla list`` and ``sla show`` print company, reporter, reasons, decisions,
summaries and status messages. Rich markup in them (``ACME [/] GmbH``) used to
crash both commands, and terminal control sequences (CSI, OSC 8 hyperlinks,
BEL, 8-bit C1 controls, bidi overrides) reached the terminal. The views are
built with the real decider (``tests/domain/test_incident.py`` helpers) and
rendered by ``cli/render.py`` into a recording rich console.

Markup is valid text and passes intake (the company goes through the decider).
Intake refuses control characters now, but histories recorded before that
still hold them, so the other hostile texts are put into the view afterwards,
past validation: the renderer must be safe whatever the view holds.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from cli.render import incidents_table, show_incident
from cli.terminal import NEWLINE_MARK, REPLACEMENT, neutralise, safe
from domain.incident import DecideResources, Escalate, Event, ExtendEstimate, Resolve
from domain.oncall import OnCallBooking
from domain.read_model import IncidentView, build_view
from tests.domain.test_incident import CRITICAL_FACTS, POLICY, acked, apply, at, opened

COMPANY = "ACME [/] GmbH"
HOSTILE = (
    "[bold red]x[/] [link=http://evil]markup-link[/link] "
    "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \x1b[2J \x9b31m \u202eabc"
)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""What must never reach the terminal from customer text (TAB and LF are layout)."""

_SGR = re.compile(r"\x1b\[[0-9;]*m")
"""Rich's own colour/bold sequences: the only escape sequences allowed on the terminal."""


def poisoned(event: Event) -> Event:
    """``event`` with the hostile text appended to each of its texts (unvalidated)."""
    texts = ("reason", "decision", "summary", "message", "title", "error")
    update = {f: f"{getattr(event, f)} {HOSTILE}" for f in texts if getattr(event, f, None)}
    return event.model_copy(update=update)


def hostile_view() -> IncidentView:
    # Received Tuesday 09:30, critical.
    state = opened(company=COMPANY, **CRITICAL_FACTS)
    state = acked(state, estimate=at(12), now=at(9, 45))
    state = apply(state, ExtendEstimate(estimate=at(13), reason="Grund"), at(10))
    state = apply(state, Escalate(stage=3, reason="Eskalation"), at(10, 30))
    state = apply(state, DecideResources(decision="Zwei"), at(11))
    state = apply(state, Resolve(summary="Behoben"), at(11, 30))
    v = build_view(state)
    assert v.company == COMPANY
    return v.model_copy(
        update={
            "reporter": f"Erika {HOSTILE} Mustermann",
            "management_decision": f"Zwei {HOSTILE}\nzweite Zeile",
            "resolution_summary": f"Behoben {HOSTILE}\r\nDetails",
            "events": tuple(poisoned(e) for e in v.events),
        }
    )


def recording_console(terminal: io.StringIO | None = None) -> Console:
    return Console(
        record=True,
        width=120,
        file=terminal or io.StringIO(),
        force_terminal=terminal is not None,
        color_system="truecolor" if terminal is not None else None,
    )


def assert_safe(exported: str) -> None:
    assert COMPANY in exported
    found = FORBIDDEN.findall(exported)
    assert found == [], f"control characters reached the terminal: {found!r}"


def test_incidents_table_prints_hostile_company_literally() -> None:
    v = hostile_view()
    console = recording_console()
    console.print(incidents_table([v.summary()], at(12), POLICY, width=120))
    exported = console.export_text()
    assert_safe(exported)


def test_incident_detail_view_prints_hostile_texts_literally() -> None:
    v = hostile_view()
    console = recording_console()
    show_incident(v, at(12), POLICY, console)
    exported = console.export_text()
    assert_safe(exported)
    # Markup in customer text is shown, not obeyed.
    assert "[bold red]x[/]" in exported
    assert "[link=http://evil]markup-link[/link]" in exported
    # Controls become visible stand-ins: the operator sees something was there.
    assert "␛]8;;http://evil␇click" in exported
    assert "␛[2J" in exported
    assert f"{REPLACEMENT}31m" in exported
    # Multi-line operator texts keep their lines in the facts grid.
    assert "zweite Zeile" in exported
    assert "Details" in exported
    assert "Grund" in exported and "Eskalation" in exported


@pytest.mark.parametrize("screen", ["list", "show"])
def test_the_terminal_stream_carries_only_riches_own_colour_codes(screen: str) -> None:
    """What a real terminal receives: rich's SGR styling, and no sequence of the customer's."""
    v = hostile_view()
    terminal = io.StringIO()
    console = recording_console(terminal)
    if screen == "list":
        console.print(incidents_table([v.summary()], at(12), POLICY, width=120))
    else:
        show_incident(v, at(12), POLICY, console)
    stream = terminal.getvalue()
    assert "\x1b[" in stream  # styled: rich did write escape sequences of its own
    assert "\x1b]8" not in stream  # no hyperlink, neither the customer's nor one from [link]
    plain = _SGR.sub("", stream)
    assert_safe(plain)
    assert "\x1b" not in plain


def test_safe_neutralises_controls_and_escapes_markup() -> None:
    assert safe("ACME [/] GmbH") == r"ACME \[/] GmbH"
    assert safe("[bold]x[/bold]") == r"\[bold]x\[/bold]"
    assert safe("a\x1b[2Jb") == "a␛[2Jb"
    assert safe("bell\x07") == "bell␇"
    assert safe("del\x7f") == "del␡"
    assert safe("csi\x9b31m nel\x85x") == f"csi{REPLACEMENT}31m nel{NEWLINE_MARK}x"
    assert safe("rlo\u202eabc\u2066") == f"rlo{REPLACEMENT}abc{REPLACEMENT}"
    assert safe("tab\there") == "tab here"
    assert safe(None) == ""
    assert safe(3) == "3"
    # A trailing backslash must not escape the closing tag of the caller's markup.
    console = recording_console()
    console.print(f"[bold]{safe('C:' + chr(92))}[/bold]")
    assert console.export_text() == "C:\\\n"


def test_line_breaks_in_single_line_and_multi_line_output() -> None:
    assert neutralise("a\nb\r\nc\rd\u2028e") == "a↵b↵c↵d↵e"
    assert neutralise("a\nb\r\nc\rd", multiline=True) == "a\nb\nc\nd"
    # CR alone would move the cursor back and let a later part overwrite the line.
    assert "\r" not in neutralise("paid\rUNPAID", multiline=True)


def test_plain_text_is_unchanged() -> None:
    text = "Beispiel Versand GmbH – Anmeldung gestört (Fehler 503), 100 % ✓ 😀 ä ß"
    assert neutralise(text) == text
    assert safe(text) == text


# -- the other commands' renderers (oncall, maintenance, change requests, audits) -------


def _booking() -> OnCallBooking:
    from datetime import timedelta

    from domain.oncall import BookingStatus, OperatorAssignment

    start = at(10)
    return OnCallBooking.model_construct(
        booking_id="ONC-20261205-AAAA",
        company=COMPANY,
        start=start,
        end=start + timedelta(hours=4),
        reason=f"Migration {HOSTILE}",
        operator=f"M. Muster {HOSTILE}",
        booked_at=at(9),
        status=BookingStatus.CANCELLED,
        reminder_at=None,
        reminded_at=None,
        activated_at=None,
        completed_at=None,
        cancelled_at=at(11),
        cancel_reason=f"abgesagt {HOSTILE}",
        billing=None,
        notes=(f"Notiz {HOSTILE}",),
        assignments=(
            OperatorAssignment(
                operator=f"Ersatz {HOSTILE}", previous=f"M. Muster {HOSTILE}", at=at(9)
            ),
        ),
    )


def test_oncall_booking_view_and_table_print_hostile_texts_literally() -> None:
    from cli.oncall import _print, _table
    from domain.oncall import BookingStatus, BookingSummary

    booking = _booking()
    summary = BookingSummary(
        booking_id="ONC-20261205-AAAA",
        company=COMPANY,
        start=at(10),
        end=at(12),
        status=BookingStatus.BOOKED,
        operator="[bold]x[/]",
    )
    terminal = io.StringIO()
    console = recording_console(terminal)
    console.print(_table([summary], POLICY.calendar))
    table = console.export_text()
    import cli.oncall as oncall_cli

    original = oncall_cli._console
    oncall_cli._console = lambda: console
    try:
        _print(booking, POLICY)
    finally:
        oncall_cli._console = original
    exported = console.export_text()
    assert COMPANY in table and "[bold]x[/]" in table
    assert COMPANY in exported and "Migration [bold red]x[/]" in exported
    assert_safe(table + exported)


def test_maintenance_view_prints_hostile_texts_literally() -> None:
    from datetime import timedelta

    from cli.maintenance import _show
    from domain.maintenance import MaintenancePlan, PlanMaintenance, decide, fold

    plan = MaintenancePlan(
        start=at(18),
        end=at(22),
        services=("Versand [/]", "Statistik"),
        shipments_possible=False,
        message="Datenbank [link=http://evil]Update[/link]",
    )
    planned_at = at(8) - timedelta(days=7)  # well ahead of the notice period
    command = PlanMaintenance(maintenance_id="MNT-1", plan=plan)
    state = fold(None, decide(None, command, planned_at, POLICY.maintenance))
    state = state.model_copy(update={"message": f"{state.message} {HOSTILE}"})
    console = recording_console()
    _show(state, "Europe/Berlin", console)
    exported = console.export_text()
    assert "Versand [/]" in exported and "[link=http://evil]Update[/link]" in exported
    assert not FORBIDDEN.search(exported), exported


def test_change_request_table_prints_hostile_texts_literally() -> None:
    from datetime import UTC, datetime

    from cli.change_request import _table
    from domain.change_request import ChangeRequestStatus, ChangeRequestSummary

    summary = ChangeRequestSummary.model_construct(
        change_request_id="CR-20261202-AAAAAA",
        status=ChangeRequestStatus.DECLINED,
        dev_ticket_id="DEV-0001",
        company=COMPANY,
        full_name="Erika Mustermann",
        email="erika@example.de",
        closed_at=None,
        title=f"Export {HOSTILE}",
        received_at=datetime(2026, 12, 2, 9, tzinfo=UTC),
        release=None,
        decline_reason=f"nein {HOSTILE}",
    )
    console = Console(record=True, width=200, markup=False, highlight=False)
    console.print(_table([summary], POLICY.calendar))
    exported = console.export_text()
    assert COMPANY in exported
    assert_safe(exported)
