"""Operator text on the public status page is escaped, never rendered as markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

from activities.rendering import template_environment
from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.sla import Severity
from domain.status import StatusBoard, StatusPost, StatusPostKind

HOSTILE = '<script>alert("x")</script> & <b>fett</b>'


async def test_operator_text_is_escaped_in_page_and_feed(tmp_path: Path) -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    board = StatusBoard().apply(
        StatusPost(
            ticket_id="INC-20261125-000001",
            kind=StatusPostKind.PUBLISHED,
            at=start,
            severity=Severity.CRITICAL,
            message=HOSTILE,
            expected_resolution=start + timedelta(hours=2),
        )
    )
    site = StatusSiteActivities(tmp_path)
    await site.render_status_site(StatusSnapshot(board=board, generated_at=start))

    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    assert "<b>fett</b>" not in page

    feed = (tmp_path / "feed.atom").read_bytes()
    assert b"<script>" not in feed
    # Still well-formed XML, with the operator's text intact as text.
    root = ElementTree.fromstring(feed)
    texts = "".join(root.itertext())
    assert '<script>alert("x")</script>' in texts


def test_markup_templates_escape_and_plain_text_mails_do_not() -> None:
    decide = template_environment().autoescape
    assert callable(decide)
    assert decide("status/index.html.j2") is True
    assert decide("status/feed.atom.j2") is True
    # German e-mails are plain text: "&" and "<" must reach the customer unchanged.
    assert decide("email/acknowledgement.txt.j2") is False
