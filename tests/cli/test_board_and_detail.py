"""``sla list`` and ``sla show`` as an operator sees them (issue 18), rendered without a server.

The read models come from the real decider (``tests/domain/test_incident.py``
helpers) with fixed ticket IDs and a fixed clock (Tuesday 2026-11-24 12:50,
Berlin), and are rendered by ``cli/render.py`` into rich consoles of a given
width. Snapshots live in ``tests/cli/snapshots/``; after an intended change
of the output, rewrite them with ``SLA_UPDATE_SNAPSHOTS=1`` and review the diff.
The real CLI is exercised in ``tests/cli/test_cli.py``.
"""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from cli.common import language_or_fail
from cli.render import incidents_table, show_incident, table_width
from domain.board import most_urgent_first
from domain.events import IncidentStatus
from domain.incident import (
    AmendReport,
    DecideResources,
    Escalate,
    ExtendEstimate,
    IncidentState,
    Resolve,
)
from domain.read_model import IncidentSummary, IncidentView, build_view
from domain.report import Channel, ReportChanges, ReportItem, Scope
from domain.sla import Severity
from domain.timeline_words import Language
from tests.domain.test_incident import CRITICAL_FACTS, MINOR_FACTS, POLICY, acked, apply, at, opened

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = at(12, 50)
EN, DE = Language.EN, Language.DE


# -- fixed data ------------------------------------------------------------------------


def _ticket(state: IncidentState, ticket_id: str) -> IncidentState:
    return state.model_copy(update={"ticket_id": ticket_id})


def escalated_critical() -> IncidentView:
    """Critical, acknowledged 09:45, extended to 13:00, stage 3 with a decision: due soon."""
    state = _ticket(opened(**CRITICAL_FACTS), "INC-20261124-7QK2AB")
    state = acked(state, estimate=at(12), now=at(9, 45), all_users=True)
    state = apply(
        state, ExtendEstimate(estimate=at(13), reason="Datenbank-Failover dauert länger"), at(10)
    )
    state = apply(state, Escalate(stage=3, reason="Hersteller-Support nötig"), at(10, 30))
    state = apply(state, DecideResources(decision="Zwei Entwickler zusätzlich"), at(11))
    return build_view(state)


def incomplete_major() -> IncidentView:
    """Received 11:00 by e-mail with company, name and phone missing: reaction overdue."""
    state = opened(
        received_at=at(11),
        company=None,
        full_name=None,
        phone=None,
        channel=Channel.EMAIL,
        description="Druck der Versandetiketten bricht ab.",
        attachments=("https://files.example/log-1.txt",),
    )
    return build_view(_ticket(state, "INC-20261124-ZZ3XQ4"))


def minor_on_track() -> IncidentView:
    """Minor, received 09:30, some workstations, not reproducible, amended by the operator."""
    state = opened(
        **MINOR_FACTS,
        scope=Scope.SOME_WORKSTATIONS,
        reproducible=None,
        company="Spedition Müller & Söhne Kommanditgesellschaft",
    )
    state = apply(
        _ticket(state, "INC-20261124-MNRQ4Z"),
        AmendReport(changes=ReportChanges(reproducible=False), source="cli"),
        at(9, 40),
    )
    return build_view(state)


def resolved_critical() -> IncidentView:
    state = _ticket(opened(received_at=at(8, 15), **CRITICAL_FACTS), "INC-20261124-RESLV7")
    state = acked(state, estimate=at(11), now=at(8, 40))
    return build_view(apply(state, Resolve(summary="Index neu aufgebaut"), at(10, 5)))


def board() -> list[IncidentSummary]:
    views = [minor_on_track(), resolved_critical(), escalated_critical(), incomplete_major()]
    return most_urgent_first([v.summary() for v in views], NOW, POLICY.calendar)


# -- rendering helpers -----------------------------------------------------------------


def console(width: int) -> Console:
    return Console(width=width, file=io.StringIO(), record=True, color_system=None, highlight=False)


def text_of(c: Console) -> str:
    # Rich pads every line to the width: snapshots keep no trailing blanks.
    return "\n".join(line.rstrip() for line in c.export_text().splitlines()) + "\n"


def list_output(width: int, lang: Language = EN, *, wide: bool = False) -> str:
    c = console(width)
    table = incidents_table(board(), NOW, POLICY, lang=lang, width=width, wide=wide, console=c)
    if wide:
        c.width = max(width, table_width(table, c))
    c.print(table)
    return text_of(c)


def show_output(view: IncidentView, width: int, lang: Language = EN) -> str:
    c = console(width)
    show_incident(view, NOW, POLICY, c, lang=lang)
    return text_of(c)


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SLA_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with SLA_UPDATE_SNAPSHOTS=1 and review"
    assert text == path.read_text("utf-8"), (
        f"{path.name} differs; if intended, rerun with SLA_UPDATE_SNAPSHOTS=1 and review the diff"
    )


# -- snapshots -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("lang", [EN, DE])
def test_list_snapshot(width: int, lang: Language) -> None:
    assert_snapshot(f"list-{lang}-{width}", list_output(width, lang))


def test_list_wide_snapshot() -> None:
    assert_snapshot("list-en-wide", list_output(80, wide=True))


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("lang", [EN, DE])
def test_show_snapshot(width: int, lang: Language) -> None:
    assert_snapshot(f"show-{lang}-{width}", show_output(escalated_critical(), width, lang))


def test_show_incomplete_report_snapshot() -> None:
    assert_snapshot("show-en-80-incomplete", show_output(incomplete_major(), 80))


# -- sla list ---------------------------------------------------------------------------


def test_the_board_lists_least_business_time_left_first_and_resolved_last() -> None:
    table = incidents_table(board(), NOW, POLICY, width=200)
    tickets = list(table.columns[0].cells)
    assert tickets == [
        "INC-20261124-ZZ3XQ4",  # reaction 12:00: 50 min overdue
        "INC-20261124-7QK2AB",  # estimate 13:00: 10 min left
        "INC-20261124-MNRQ4Z",  # reaction Thursday 13:30
        "INC-20261124-RESLV7",  # resolved
    ]


def test_rows_are_styled_by_urgency() -> None:
    table = incidents_table(board(), NOW, POLICY, width=200)
    tickets = list(table.columns[0].cells)
    styles = {tickets[i]: row.style for i, row in enumerate(table.rows)}
    assert styles == {
        "INC-20261124-ZZ3XQ4": "red",
        "INC-20261124-7QK2AB": "yellow",
        "INC-20261124-MNRQ4Z": "",
        "INC-20261124-RESLV7": "dim",
    }


def test_a_recorded_breach_is_red_and_marked_without_colour() -> None:
    late = acked(
        _ticket(opened(**CRITICAL_FACTS), "INC-20261124-LATE22"), now=at(11), estimate=at(15)
    )
    summary = build_view(late).summary()
    assert summary.reaction_breached
    table = incidents_table([summary], NOW, POLICY, width=120)
    assert table.rows[0].style == "red"
    assert list(table.columns[1].cells) == ["⚠ 40m"]  # to the resolution deadline 13:30


def test_the_board_shows_missing_items_and_the_stage() -> None:
    out = list_output(120)
    row = next(line for line in out.splitlines() if "ZZ3XQ4" in line)
    assert "company, name, phone" in row
    table = incidents_table(board(), NOW, POLICY, width=120)
    stages = dict(zip(table.columns[0].cells, table.columns[4].cells, strict=True))
    assert str(table.columns[4].header) == "stage"
    assert stages["INC-20261124-7QK2AB"] == "3"
    assert stages["INC-20261124-MNRQ4Z"] == "–"


def test_narrow_terminals_drop_the_least_important_columns_first() -> None:
    headers = {
        width: [str(c.header) for c in incidents_table(board(), NOW, POLICY, width=width).columns]
        for width in (60, 80, 120, 200)
    }
    order = ["ticket", "left", "severity", "next", "stage", "missing", "company", "status"]
    for columns in headers.values():
        assert columns == order[: len(columns)]
    assert len(headers[60]) >= 3
    assert headers[80] == order[:6]  # the essentials, folded where needed
    assert headers[200] == order


def test_wide_shows_every_column_and_never_folds() -> None:
    out = list_output(80, wide=True)
    header = out.splitlines()[0].split()
    assert header == ["ticket", "left", "severity", "next", "stage", "missing", "company", "status"]
    assert "Spedition Müller & Söhne Kommanditgesellschaft" in out
    assert "estimate Wed 25.11. 13:00" not in out  # (the estimate is Tue 13:00)
    assert "estimate Tue 24.11. 13:00" in out
    assert len(out.splitlines()) == 2 + 4  # header, rule, one line per incident


_TICKETS = st.one_of(
    st.from_regex(r"INC-2026(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])-[A-Z2-7]{6}", fullmatch=True),
    st.from_regex(r"[A-Z][A-Z0-9-]{2,29}", fullmatch=True),  # other or older schemes
)


@st.composite
def summaries(draw: st.DrawFn) -> IncidentSummary:
    received = at(9, 30) - timedelta(minutes=draw(st.integers(0, 60 * 24 * 14)))
    status = draw(st.sampled_from(list(IncidentStatus)))
    words = st.text(st.characters(categories=("L", "N", "Zs", "P")), min_size=0, max_size=40)
    return IncidentSummary(
        ticket_id=draw(_TICKETS),
        status=status,
        severity=draw(st.sampled_from(list(Severity))),
        classified=draw(st.booleans()),
        company=draw(words) or "(unbekannt)",
        reporter="Erika Mustermann",
        channel=draw(st.sampled_from(list(Channel))),
        received_at=received,
        reaction_due=received + timedelta(hours=draw(st.integers(1, 24))),
        resolution_due=received + timedelta(hours=draw(st.integers(4, 900))),
        estimate=received + timedelta(hours=draw(st.integers(1, 400)))
        if status is not IncidentStatus.NEW
        else None,
        escalation_stage=draw(st.sampled_from([0, 1, 2, 3, "extended"])),
        reaction_breached=draw(st.booleans()),
        resolution_breached=draw(st.booleans()),
        all_users=False,
        on_status_page=False,
        acknowledged_at=None,
        resolved_at=NOW if status is IncidentStatus.RESOLVED else None,
        resolution_summary=None,
        management_decision=None,
        missing=tuple(draw(st.sets(st.sampled_from([i.value for i in ReportItem])))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(60, 200), st.lists(summaries(), min_size=1, max_size=6), st.sampled_from([EN, DE])
)
def test_a_ticket_id_is_never_cut_at_60_columns_or_more(
    width: int, rows: list[IncidentSummary], lang: Language
) -> None:
    c = console(width)
    c.print(incidents_table(rows, NOW, POLICY, lang=lang, width=width, console=c))
    lines = c.export_text().splitlines()
    assert all(cell_len(line) <= width for line in lines)
    for summary in rows:
        assert any(summary.ticket_id in line for line in lines), (summary.ticket_id, lines)


# -- sla show --------------------------------------------------------------------------


def test_show_prints_the_whole_report() -> None:
    view = minor_on_track()
    report = view.report
    assert report is not None and report.first_noticed_at is not None
    out = show_output(view, 120)
    for expected in (
        report.description,
        "Erika Mustermann",
        "Spedition Müller & Söhne Kommanditgesellschaft",
        "erika.mustermann@beispiel-versand.de",
        "+49 2131 123456",
        "some workstations",
        "reproducible   no",
        "first noticed  Tue 24.11.2026 09:12",
        "attachments    –",
    ):
        assert expected in out, expected


def test_show_names_what_the_report_is_missing() -> None:
    out = show_output(incomplete_major(), 120)
    assert "company        – (missing)" in out
    assert "reporter       – (missing)" in out
    assert "phone          – (missing)" in out
    assert "missing        company, name, phone" in out
    assert "https://files.example/log-1.txt" in out
    assert "Druck der Versandetiketten bricht ab." in out


def test_show_prints_the_timeline_in_words_and_never_the_raw_event() -> None:
    # Histories hold UTC instants: the screen shows Berlin wall-clock time.
    view = escalated_critical()
    utc = view.model_copy(
        update={
            "events": tuple(e.model_copy(update={"at": e.at.astimezone(UTC)}) for e in view.events)
        }
    )
    english = show_output(utc, 120, EN)
    german = show_output(utc, 120, DE)
    assert "Tue 24.11. 09:45  Acknowledged as critical, estimate Tue 24.11. 12:00" in english
    assert "Di 24.11. 09:45  Bestätigt als kritisch, Schätzung Di 24.11. 12:00" in german
    assert (
        "Di 24.11. 11:00  Entscheidung der Geschäftsführung: Zwei Entwickler zusätzlich" in german
    )
    for out in (english, german):
        assert "=" not in out  # no key=value pairs
        assert not re.search(r"\d{4}-\d\d-\d\dT|\+00:00|UTC", out)  # no ISO stamps
        assert "estimate_extended" not in out


def test_show_is_one_language_throughout() -> None:
    german = show_output(escalated_critical(), 120, DE)
    for english_word in ("status", "severity", "reaction due", "timeline", "report", "critical"):
        assert english_word not in german
    assert "Verlauf" in german and "Meldung" in german and "Eskalationsstufe" in german


# -- SLA_LANG -----------------------------------------------------------------------------


def test_sla_lang_chooses_the_language_and_defaults_to_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLA_LANG", raising=False)
    assert language_or_fail() is EN
    monkeypatch.setenv("SLA_LANG", "DE ")
    assert language_or_fail() is DE
    monkeypatch.setenv("SLA_LANG", "")
    assert language_or_fail() is EN


def test_an_unknown_sla_lang_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLA_LANG", "fr")
    with pytest.raises(SystemExit) as exit_:
        language_or_fail()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "error: SLA_LANG must be de or en, got 'fr'\n"
