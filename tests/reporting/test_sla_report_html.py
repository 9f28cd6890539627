"""The monthly report's HTML file and charts (``reporting.html``, ``reporting.charts``).

The page must stand alone when mailed: German headings, three PNG charts
embedded as data URIs, and every figure the same as in the JSON form.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from domain.sla_report import SlaReport, build_report
from reporting.html import format_business_time, format_money, format_pct, write_report
from tests.domain.test_sla_report import NOVEMBER, POLICY, berlin, booking, worked_month

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input"}


class Page(HTMLParser):
    """Headings, image sources and ``data-key`` cells of the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self.cells: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, data-key) of open elements
        self._text: dict[int, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag in VOID:
            return
        self._open.append((tag, attributes.get("data-key")))
        self._text[len(self._open)] = []

    def handle_endtag(self, tag: str) -> None:
        depth = len(self._open)
        opened, key = self._open.pop()
        assert opened == tag, (opened, tag)
        text = "".join(self._text.pop(depth)).strip()
        if tag in ("h1", "h2", "h3"):
            self.headings.append(text)
        if key is not None:
            self.cells.setdefault(key, []).append(text)
        if self._open:
            self._text[len(self._open)].append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text[len(self._open)].append(data)


def month_report() -> SlaReport:
    views, as_of = worked_month()
    bookings = [
        booking("ONC-1", "Beispiel Versand GmbH", berlin(7, 18), 4),
        booking("ONC-2", "Müller & <Söhne> KG", berlin(14, 20), 3),
    ]
    return build_report(views, POLICY, NOVEMBER, as_of, bookings)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text("utf-8"))
    page.close()
    return page


def lookup(data: dict[str, Any], key: str) -> Any:
    """``critical.reaction.met`` in the JSON form (rows by severity, ``total``)."""
    first, *rest = key.split(".")
    if first in ("critical", "major", "minor"):
        node: Any = next(row for row in data["severities"] if row["severity"] == first)
    else:
        node = data[first]
    for part in rest:
        node = node[part]
    return node


def expected_text(key: str, value: Any, currency: str) -> str:
    if key.endswith("_pct"):
        return format_pct(value)
    if key.endswith("_seconds"):
        return format_business_time(value)
    if key == "oncall.amount":
        return format_money(Decimal(value), currency)
    return str(value)


def test_the_page_has_german_headings_and_three_embedded_pngs(tmp_path: Path) -> None:
    report = month_report()
    files = write_report(report, tmp_path)

    assert files.html == tmp_path / "sla-report-2026-11.html"
    page = parse(files.html)
    assert page.headings[0] == "SLA-Bericht November 2026"
    for heading in (
        "Einhaltung der Fristen je Schweregrad",
        "Reaktions- und Behebungszeiten",
        "Fristverletzungen und Eskalationen",
        "Störungen mit Fristverletzung",
        "Erweiterte Bereitschaft",
        "Diagramme",
    ):
        assert heading in page.headings
    html = files.html.read_text("utf-8")
    assert '<html lang="de">' in html
    assert 'src="http' not in html and "<link" not in html  # nothing to fetch: mailable

    assert len(page.images) == 3
    written = [p.read_bytes() for p in files.charts]
    assert [p.name for p in files.charts] == [
        "sla-report-2026-11-compliance.png",
        "sla-report-2026-11-resolution.png",
        "sla-report-2026-11-weekly.png",
    ]
    for source, png in zip(page.images, written, strict=True):
        prefix, _, payload = source.partition(",")
        assert prefix == "data:image/png;base64"
        decoded = base64.b64decode(payload, validate=True)
        assert decoded.startswith(PNG_SIGNATURE)
        assert decoded == png  # the same chart as the file beside the page
        width, height = int.from_bytes(decoded[16:20]), int.from_bytes(decoded[20:24])
        assert (width, height) >= (600, 250)


def test_every_figure_on_the_page_is_the_one_in_the_json(tmp_path: Path) -> None:
    report = month_report()
    data = json.loads(report.model_dump_json())
    page = parse(write_report(report, tmp_path).html)

    assert len(page.cells) > 100
    for key, texts in page.cells.items():
        expected = expected_text(key, lookup(data, key), report.oncall.currency)
        assert set(texts) == {expected}, (key, texts, expected)
    # Independently of the formatting helpers: a few figures as a reader sees them.
    assert page.cells["critical.reaction.met_pct"] == ["66,7 %"]
    assert page.cells["critical.time_to_react.median_seconds"] == ["1 h 15 min"]
    assert page.cells["minor.time_to_react.median_seconds"] == ["–"]
    assert page.cells["total.incidents"] == ["7", "7"]
    assert page.cells["oncall.amount"] == ["665,00 EUR"]
    assert data["oncall"]["amount"] == "665.00"


def test_text_from_reports_is_escaped(tmp_path: Path) -> None:
    html = write_report(month_report(), tmp_path).html.read_text("utf-8")
    assert "Müller &amp; &lt;Söhne&gt; KG" in html
    assert "<Söhne>" not in html


def test_the_same_figures_give_the_same_files(tmp_path: Path) -> None:
    report = month_report()
    first = write_report(report, tmp_path / "a")
    second = write_report(report, tmp_path / "b")
    assert first.html.read_bytes() == second.html.read_bytes()
    assert re.search(r"Stand: \w+, 30\.11\.2026, 12:00 Uhr", first.html.read_text("utf-8"))
