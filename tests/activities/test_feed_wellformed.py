"""Control characters in operator texts never make the status feed ill-formed XML (issue 14).

XML 1.0 forbids C0 controls other than TAB, LF and CR, U+FFFE, U+FFFF and lone
surrogates, escaped or not; a feed reader rejects a feed with one of them
whole. The site strips exactly those from every text and keeps the rest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.dom import minidom
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.status_page import (
    StatusSiteActivities,
    StatusSnapshot,
    status_document,
    xml_safe,
    xml_text,
)
from domain.maintenance import MaintenanceStatus
from domain.sla import Severity
from domain.status import MaintenanceEntry, StatusBoard, StatusPost, StatusPostKind

ATOM = "{http://www.w3.org/2005/Atom}"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

CONTROLS = "a\x00b\x0bc\x1bd\x7fe\x85f\ufffeg\uffffh\ud800i\x0c\x01j"
"""Forbidden (stripped): NUL, VT, ESC, FF, SOH, U+FFFE, U+FFFF, a lone surrogate.
Allowed by XML 1.0 (kept): DEL and NEL."""
CLEANED = "abcd\x7fe\x85fghij"
MARKUP = '<b>fett</b> & "Zitat" \t\r\n Ende'


def board(message: str) -> StatusBoard:
    b = StatusBoard().apply(
        StatusPost(
            ticket_id="INC-20261125-000001",
            kind=StatusPostKind.PUBLISHED,
            at=START,
            severity=Severity.CRITICAL,
            message=message,
            expected_resolution=START + timedelta(hours=2),
        )
    )
    b = b.apply(
        StatusPost(
            ticket_id="INC-20261125-000001",
            kind=StatusPostKind.UPDATED,
            at=START + timedelta(minutes=30),
            severity=Severity.CRITICAL,
            message=f"Update {message}",
            expected_resolution=None,
        )
    )
    maintenance = MaintenanceEntry(
        maintenance_id="MNT-1",
        services=(f"Versand{message}",),
        start=START + timedelta(days=3),
        end=START + timedelta(days=3, hours=4),
        state=MaintenanceStatus.CANCELLED,
        message=f"Wartung {message}",
        shipments_possible=True,
        updated_at=START + timedelta(hours=1),
        reason=f"Grund {message}",
    )
    return b.model_copy(update={"maintenance": (maintenance,)})


def feed_texts(feed: bytes) -> list[str]:
    root = ElementTree.fromstring(feed)
    return [e.text or "" for e in root.iter(f"{ATOM}content")]


async def test_feed_with_control_characters_parses_and_keeps_the_rest(tmp_path: Path) -> None:
    site = StatusSiteActivities(tmp_path)
    snapshot = StatusSnapshot(board=board(CONTROLS + MARKUP), generated_at=START)
    await site.render_status_site(snapshot)

    feed = (tmp_path / "feed.atom").read_bytes()
    minidom.parseString(feed)  # well-formed for a second parser too
    texts = feed_texts(feed)
    # Entries: the published post, its update, and the cancelled maintenance.
    assert len(texts) == 3
    # CR in the text is normalised to LF by any XML parser (it is not escaped).
    expected = (CLEANED + MARKUP).replace("\r\n", "\n").replace("\r", "\n")
    assert texts[0].startswith(expected)
    assert texts[1].startswith("Update " + expected)
    assert texts[2].startswith("Wartung " + expected)
    assert "Grund " + expected in texts[2]
    titles = [e.text or "" for e in ElementTree.fromstring(feed).iter(f"{ATOM}title")]
    assert any("Versand" + expected in t for t in titles)

    page = (tmp_path / "index.html").read_text("utf-8")
    assert "&lt;b&gt;fett&lt;/b&gt;" in page
    assert not any(c in page for c in "\x00\x0b\x1b\ufffe\uffff")

    document = json.loads((tmp_path / "status.json").read_text("utf-8"))
    update = document["active"][0]["updates"][0]
    assert update["message"] == CLEANED + MARKUP
    assert document["maintenance"][0]["reason"] == "Grund " + CLEANED + MARKUP


def test_status_document_strips_the_same_characters() -> None:
    snapshot = StatusSnapshot(board=board(CONTROLS), generated_at=START)
    document = status_document(snapshot)
    assert document["active"][0]["updates"][1]["message"] == "Update " + CLEANED
    assert document["maintenance"][0]["services"] == ["Versand" + CLEANED]


def test_clean_snapshots_pass_unchanged() -> None:
    snapshot = StatusSnapshot(board=board("Anmeldung gestört – ä ö ü ß € 😀"), generated_at=START)
    assert xml_safe(snapshot) == snapshot
    assert xml_safe(snapshot).board.active == snapshot.board.active


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("\x00\x01\x08\x0b\x0c\x0e\x1f", ""),
        ("\t\n\r", "\t\n\r"),
        ("\x7f\x80\x85\x9f", "\x7f\x80\x85\x9f"),
        ("\ud800\udfff\ufffe\uffff", ""),
        ("\ufffd\U0001f600", "\ufffd\U0001f600"),
    ],
)
def test_xml_text(text: str, clean: str) -> None:
    assert xml_text(text) == clean


@given(st.text())
def test_any_message_gives_a_well_formed_feed(message: str) -> None:
    site = StatusSiteActivities(Path("/nonexistent"))  # render() writes nothing
    files = site.render(StatusSnapshot(board=board(message), generated_at=START))
    ElementTree.fromstring(files["feed.atom"])
    json.loads(files["status.json"])


def test_the_policy_s_public_address_is_the_site_s_canonical_url() -> None:
    site = StatusSiteActivities(Path("/nonexistent"), "http://stoerung.convento.de")
    files = site.render(StatusSnapshot(board=board("Wartung"), generated_at=START))
    assert b'<link rel="canonical" href="http://stoerung.convento.de/">' in files["index.html"]
    feed = ElementTree.fromstring(files["feed.atom"])
    links = {
        link.get("rel"): link.get("href")
        for link in feed.findall("{http://www.w3.org/2005/Atom}link")
    }
    assert links == {
        "alternate": "http://stoerung.convento.de/",
        "self": "http://stoerung.convento.de/feed.atom",
    }
    unknown = StatusSiteActivities(Path("/nonexistent")).render(
        StatusSnapshot(board=board("Wartung"), generated_at=START)
    )
    assert b"canonical" not in unknown["index.html"]
